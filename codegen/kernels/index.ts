/** The C-style kernel table: every family's emitters and helper snippets. */
import type { OpKind } from "../../ir/ops.ts";
import type { Emitter, Helper } from "../kernel.ts";
import { COMMON_HELPERS } from "./common.ts";
import { ELEMENTWISE_HELPERS, ELEMENTWISE_KERNELS } from "./elementwise.ts";
import { SHAPE_HELPERS, SHAPE_KERNELS } from "./shape.ts";
import { INDEX_HELPERS, INDEX_KERNELS } from "./index-ops.ts";
import { REDUCE_HELPERS, REDUCE_KERNELS } from "./reduce.ts";
import { LINALG_HELPERS, LINALG_KERNELS } from "./linalg.ts";
import { NN_HELPERS, NN_KERNELS } from "./nn.ts";
import { ATTENTION_HELPERS, ATTENTION_KERNELS } from "./attention.ts";
import { QUANT_HELPERS, QUANT_KERNELS } from "./quant.ts";
import { RNN_HELPERS, RNN_KERNELS } from "./rnn.ts";
import { SIGNAL_HELPERS, SIGNAL_KERNELS } from "./signal.ts";
import { MISC_HELPERS, MISC_KERNELS } from "./misc.ts";
import { FUSED_KERNELS } from "./fused.ts";
import { FUSED_ELEMENTWISE_HELPERS, FUSED_ELEMENTWISE_KERNELS } from "./fused-elementwise.ts";
import { EXTRA_HELPERS, EXTRA_KERNELS } from "./extra.ts";

export const KERNELS: Partial<Record<OpKind, Emitter>> = {
  ...ELEMENTWISE_KERNELS, ...SHAPE_KERNELS, ...INDEX_KERNELS, ...REDUCE_KERNELS, ...LINALG_KERNELS, ...NN_KERNELS,
  ...ATTENTION_KERNELS, ...QUANT_KERNELS, ...RNN_KERNELS, ...SIGNAL_KERNELS, ...MISC_KERNELS, ...EXTRA_KERNELS, ...FUSED_KERNELS,
  ...FUSED_ELEMENTWISE_KERNELS,
};

export const HELPERS: Readonly<Record<string, Helper>> = {
  ...COMMON_HELPERS, ...ELEMENTWISE_HELPERS, ...SHAPE_HELPERS, ...INDEX_HELPERS, ...REDUCE_HELPERS, ...LINALG_HELPERS,
  ...NN_HELPERS, ...ATTENTION_HELPERS, ...QUANT_HELPERS, ...RNN_HELPERS, ...SIGNAL_HELPERS, ...MISC_HELPERS, ...EXTRA_HELPERS,
  ...FUSED_ELEMENTWISE_HELPERS,
};
