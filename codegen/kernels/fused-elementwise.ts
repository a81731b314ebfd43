/** C-style kernel for FusedElementwise: not written yet. */
import type { OpKind } from "../../ir/ops.ts";
import type { Emitter, Helper } from "../kernel.ts";

export const FUSED_ELEMENTWISE_KERNELS: Partial<Record<OpKind, Emitter>> = {};
export const FUSED_ELEMENTWISE_HELPERS: Readonly<Record<string, Helper>> = {};
