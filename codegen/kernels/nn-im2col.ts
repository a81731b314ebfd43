/**
 * The whole im2col of an f32 conv, written once into scratch in the SGEMM engine's packed B layout
 * (nn-sgemm.ts: per (batch, group) problem, NR-wide column panels of Kc rows, zero beyond P), for
 * the pack + sgemmBody lowering of nn-f32.ts convF32.
 *
 * implicitConv (nn-f32.ts) builds the im2col of a K-block per task instead, which keeps it in cache
 * for large images; but its tasks split the output channels once the columns run out, and every
 * M-tile of an N-panel then redoes the same im2col. On small images with many output channels
 * (ResNet's 7×7 × 512 stage: 49 columns, 9 M-tiles per panel) that gather was about half the
 * conv. `packOnce` takes this path where implicitConv would repeat the im2col and the packed matrix
 * is small enough to stay in L2/L3 while the GEMM reads it.
 *
 * B row k = c·KK + (kd·KH + kh)·KW + kw holds x[c][od·SD + kd·DD − PD][oh·SH + kh·DH − PH]
 * [ow·SW + kw·DW − PW] over the output pixels j = (od·OH + oh)·OW + ow (zero outside the image),
 * the layout the conv weights [Mg][Cg·KK] multiply. Tasks: (batch·group) × input channel, each
 * writing its channel's KK rows. A task copies its channel into the interior of a zero-bordered
 * plane on the stack (the border is zeroed once per call and never written), so each output row of
 * a B row is a fixed-length strided copy with no bounds checks; a B row is gathered whole into a
 * stack row (zero past P up to whole panels), then copied to its panels NR floats at a time.
 * Measured on ResNet18's 512×7×7 3×3 conv (AVX-512, 1 thread): the pack 40 µs warm (a gather
 * with per-segment bounds, as implicitConv's, took 142 µs, and implicitConv did it 9 times); the
 * whole conv 3.3 → 1.6 ms, ResNet18 23.2 → 16.2 ms.
 */
import type { KernelArg, KernelSpec } from "../kernel.ts";
import { type Geo3, convDims } from "./nn-generic.ts";
import { SG_NR, ceilDiv, packedSize } from "./nn-sgemm.ts";
import type { ConvShape } from "./nn-f32.ts";

/** Most bytes of packed B per (batch, group) problem for the pack-once path (it should stay in L2/L3). */
const PACK_ONCE_MAX = 2 << 20;
/** Most bytes of packed B over all problems (the scratch). */
const PACK_ONCE_TOTAL = 16 << 20;
/** Most floats of the stack plane and of the stack row. */
const STACK_PLANE = 16384;
const STACK_ROW = 4096;

/** The zero-bordered plane: its extents (the image at offset (PD, PH, PW), every tap read inside). */
function padded(g3: Geo3): [number, number, number] {
  return [0, 1, 2].map((a) => {
    const ext = (g3.out[a]! - 1) * g3.s[a]! + (g3.k[a]! - 1) * g3.d[a]! + 1;
    return Math.max(ext, g3.p[a]! + g3.inp[a]!);
  }) as [number, number, number];
}

/**
 * Whether the conv's im2col is packed once for all tasks: implicitConv's tiling has more than one
 * M-tile per N-panel (`implicitMt`), so it would gather the same columns more than once, the
 * packed matrix is small, and the task's plane and row fit on the stack.
 */
export function packOnce(g3: Geo3, s: ConvShape, implicitMt: number): boolean {
  const { Cg, KK, P } = convDims(g3, s);
  const pk = packedSize(Cg * KK, P);
  if (implicitMt <= 1 || pk * 4 > PACK_ONCE_MAX || s.N * s.group * pk * 4 > PACK_ONCE_TOTAL) return false;
  if (g3.p.some((v) => v < 0) || ceilDiv(P, SG_NR) * SG_NR > STACK_ROW) return false;
  const [DP, HP, WP] = padded(g3);
  return DP * HP * WP <= STACK_PLANE;
}

/** The parallel kernel writing the packed im2col of input x0 into scratch s0 (packedSize(Kc, P) per problem). */
export function im2colPack(g3: Geo3, s: ConvShape): KernelSpec {
  const { C, group } = s;
  const { Cg, ID, IH, IW, OD, OH, OW, KH, KW, SD, SH, SW, DD, DH, DW, PD, PH, PW, KK, P, plane } = convDims(g3, s);
  const Kc = Cg * KK;
  const pk = packedSize(Kc, P);
  const NP = ceilDiv(P, SG_NR) * SG_NR;
  const [DP, HP, WP] = padded(g3);
  // the interior: rows of IW floats, one per (id, ih)
  const dst = ID === 1 ? `(r + ${PD * HP + PH}) * ${WP}` : `((r / ${IH} + ${PD}) * ${HP} + r % ${IH} + ${PH}) * ${WP}`;
  const fill = `for (int64_t r = 0; r < ${ID * IH}; r++) memcpy(pl + ${dst} + ${PW}, xc + r * ${IW}, ${IW * 4});`;
  const srow = OD === 1 ? `r * ${SH * WP}` : `((r / ${OH}) * ${SD * HP} + (r % ${OH}) * ${SH}) * ${WP}`;
  const body = `float pl[${DP * HP * WP}], row[${NP}];
memset(pl, 0, sizeof pl);
memset(row, 0, sizeof row);
for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t bg = t / ${Cg}, c = t % ${Cg}, b = bg / ${group}, g = bg % ${group};
  const float* restrict xc = x0 + (b * ${C} + g * ${Cg} + c) * ${plane};
  float* restrict dc = s0 + bg * ${pk} + c * ${KK} * INFC_NR;
  ${fill}
  for (int64_t kidx = 0; kidx < ${KK}; kidx++) {
    const int64_t kd = kidx / ${KH * KW}, kh = (kidx / ${KW}) % ${KH}, kw = kidx % ${KW};
    const float* restrict src = pl + (kd * ${DD * HP} + kh * ${DH}) * ${WP} + kw * ${DW};
    for (int64_t r = 0; r < ${OD * OH}; r++) {
      const float* restrict sr = src + ${srow};
      float* restrict d = row + r * ${OW};
      for (int64_t ow = 0; ow < ${OW}; ow++) d[ow] = sr[ow * ${SW}];
    }
    float* restrict dk = dc + kidx * INFC_NR;
    for (int64_t p = 0; p < ${P}; p += INFC_NR) memcpy(dk + p * ${Kc}, row + p, INFC_NR * 4);
  }
}`;
  const args: KernelArg[] = [{ name: "x0", ref: { kind: "in", index: 0 } }, { name: "s0", ref: { kind: "scratch", index: 0 } }];
  return { label: "im2col pack", tasks: s.N * group * Cg, body, helpers: ["nn_vec"], args };
}
