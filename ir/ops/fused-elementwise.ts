/** Canonical op FusedElementwise (built by passes/fuse-elementwise.ts): not written yet. */
import type { OpInfo } from "../op-types.ts";

export const FUSED_ELEMENTWISE_OPS = {} satisfies Record<string, OpInfo>;
