/** Winograd convolution for f32 3×3 stride-1 convs: not written yet (declines every conv). */
import type { EmitNode, Lowered } from "../kernel.ts";
import type { Geo3 } from "./nn-generic.ts";
import type { Epi } from "./nn-sgemm.ts";
import type { ConvShape } from "./nn-f32.ts";

/** The Winograd lowering of a conv, or undefined when it does not apply (then im2col + SGEMM runs). */
export function winogradConv(_n: EmitNode, _g3: Geo3, _s: ConvShape, _epi?: Epi): Lowered | undefined {
  return undefined;
}
