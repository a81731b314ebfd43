/**
 * The canonical op set: one `OpKind` union and one `OP_INFO` table.
 *
 * The table is assembled from one file per op family under ir/ops/; `OpKind` is derived from it,
 * so a Node whose op lacks an entry is a type error and there is exactly one place an op is
 * declared. The canonical ops follow the newest ONNX semantics of each op (frontends normalize older
 * opset versions into them, e.g. attribute axes become constant inputs).
 */
import type { OpInfo } from "./op-types.ts";
import { ELEMENTWISE_OPS } from "./ops/elementwise.ts";
import { MATH_OPS } from "./ops/math.ts";
import { REDUCE_OPS } from "./ops/reduce.ts";
import { NN_OPS } from "./ops/nn.ts";
import { SHAPE_OPS } from "./ops/shape.ts";
import { INDEX_OPS } from "./ops/index-ops.ts";
import { CONTROL_OPS } from "./ops/control.ts";
import { QUANT_OPS } from "./ops/quant.ts";
import { SEQUENCE_OPS } from "./ops/sequence.ts";
import { RNN_OPS } from "./ops/rnn.ts";
import { SIGNAL_OPS } from "./ops/signal.ts";
import { MISC_OPS } from "./ops/misc.ts";
import { FUSED_OPS } from "./ops/fused.ts";
import { FUSED_ELEMENTWISE_OPS } from "./ops/fused-elementwise.ts";

export const OP_INFO = {
  ...ELEMENTWISE_OPS,
  ...MATH_OPS,
  ...REDUCE_OPS,
  ...NN_OPS,
  ...SHAPE_OPS,
  ...INDEX_OPS,
  ...CONTROL_OPS,
  ...QUANT_OPS,
  ...SEQUENCE_OPS,
  ...RNN_OPS,
  ...SIGNAL_OPS,
  ...MISC_OPS,
  ...FUSED_OPS,
  ...FUSED_ELEMENTWISE_OPS,
} satisfies Record<string, OpInfo>;

export type OpKind = keyof typeof OP_INFO;

export function isOpKind(s: string): s is OpKind {
  return Object.hasOwn(OP_INFO, s);
}

export function opInfo(op: OpKind): OpInfo {
  return OP_INFO[op];
}
