/**
 * Winograd convolution F(4×4, 3×3) for f32 3×3, stride-1, dilation-1 2-D convs (any padding,
 * groups, batch, weights constant or computed), on the packed SGEMM engine of nn-sgemm.ts.
 *
 * The output is cut into 4×4 tiles (TY×TX per image, T over the whole batch); tile (ty, tx) reads
 * the 6×6 input patch at rows 4ty−PH.., columns 4tx−PW.. (zero outside the image). Per channel
 * pair, Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, so the conv becomes 36 independent GEMMs (one per point ξ
 * of the 6×6 transform domain) of M×C by C×T: 2.25× fewer multiplies than the direct conv (4× in
 * the limit; less where tiles overhang the image) plus the transforms. Kernels, in order:
 *
 *   input    V[ξ][g] = Bᵀ d B, written as the SGEMM's packed B panels       tasks: (image, channel)
 *            (per tile row: vertical combinations over the whole padded row, then horizontal per
 *            tile; the lanes of the last panel past T are zeroed, so the micro-kernel never reads
 *            uninitialized floats)
 *   weights  U[ξ][m][c] = (G g[m][c] Gᵀ)[ξ]                                 tasks: output channels
 *            (a prepare kernel: for constant weights it runs once per loaded model and U is kept)
 *   gemm     Z[ξ][m][t] = U[ξ] · V[ξ]                                        tasks: (ξ, group, M-tile, N-tile)
 *            — or, for computed weights and at most FUSE_MAX_T tiles, one "weights+gemm" kernel
 *            whose tasks transform the weights of 12 output channels into their thread's slot and
 *            run their 36 GEMMs (`fuseWeights`)
 *   output   y = act(Aᵀ Z A + bias + residual)                               tasks: (image, channel)
 *            (runs of whole tile rows: Z's tile index is flat, and so is the row-major output of
 *            4·TX columns per tile row, so both passes run over whole vectors)
 *
 * The three scratch arrays keep their 36 planes an odd number of cache lines apart (`planeStride`).
 * U is 4× the weights (the model keeps it in memory when the weights are constant, and transforms
 * them on every call otherwise), so Winograd is taken only where that is small against the conv
 * (`worthIt`): that declines ResNet's 7×7 × 512 stage, where U (37 MB) would not even fit in L3.
 *
 * Numerics: the transforms' factored forms below follow Lavin & Gray (points 0, ±1, ±2, ∞). The
 * f32 error grows with the fan-in: test/winograd.test.ts measures max|err| / max|y| ≈ 1.2e-5 at
 * 512 channels (the C target's bound is 1e-4). Unlike the direct conv, a NaN or ±Inf input spreads
 * over whole tiles (a 6×6 patch feeds 16 outputs through sums), and intermediate values are up to
 * ~100× the inputs, so inputs near FLT_MAX overflow sooner.
 *
 * Measured (scripts/bench-winograd.ts: conv + bias + Relu, AVX-512, 1 thread, im2col → Winograd):
 * 64×56×56 1.27 → 0.42 ms, 128×28×28 1.29 → 0.45 ms, 256×14×14 1.63 → 0.94 ms, SqueezeNet's
 * 16→64×55×55 0.31 → 0.19 ms and 64→256×13×13 0.33 → 0.19 ms; 512×7×7 (declined) 3.0 → 4.6 ms.
 *
 * INFC_WINOGRAD in the environment of the compiler: "0" turns the path off (im2col + SGEMM runs),
 * "force" takes it for every conv it can compute regardless of size (tests, benchmarks).
 */
import type { EmitNode, KernelArg, KernelSpec, Lowered } from "../kernel.ts";
import { type Geo3, convDims } from "./nn-generic.ts";
import { type Epi, epiHelpers, epiStore, packedSize, sgemmBody } from "./nn-sgemm.ts";
import type { ConvShape } from "./nn-f32.ts";

const inArg = (name: string, index: number): KernelArg => ({ name, ref: { kind: "in", index } });
const outArg = (name: string, index: number): KernelArg => ({ name, ref: { kind: "out", index } });
const scratchArg = (name: string, index: number): KernelArg => ({ name, ref: { kind: "scratch", index } });

/** Tiles per pass of the output transform (a flat run of whole tile rows, at least one, kept on the stack). */
const OUT_RUN = 64;

/** Most floats a transform task keeps on the stack (wider images run im2col + SGEMM). */
const MAX_STACK = 16384;

/** The mode asked for by INFC_WINOGRAD: on (decide by size), off, or forced. */
function mode(): "auto" | "off" | "force" {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.INFC_WINOGRAD;
  return v === "0" || v === "off" ? "off" : v === "force" ? "force" : "auto";
}

/** Bᵀ d for d = (d0..d5) as six C expressions (rows of the input transform). */
function bt(d: readonly string[]): string[] {
  const [d0, d1, d2, d3, d4, d5] = d as [string, string, string, string, string, string];
  return [
    `4.0f * ${d0} - 5.0f * ${d2} + ${d4}`,
    `(${d3} + ${d4}) - 4.0f * (${d1} + ${d2})`,
    `(${d4} - ${d3}) + 4.0f * (${d1} - ${d2})`,
    `(${d4} - ${d2}) + 2.0f * (${d3} - ${d1})`,
    `(${d4} - ${d2}) - 2.0f * (${d3} - ${d1})`,
    `4.0f * ${d1} - 5.0f * ${d3} + ${d5}`,
  ];
}

/** Aᵀ m for m = (m0..m5) as four C expressions, given the shared sums (see `atShared`). */
function at(p: string): string[] {
  return [`${p}0 + ${p}s12 + ${p}s34`, `${p}d12 + 2.0f * ${p}d34`, `${p}s12 + 4.0f * ${p}s34`, `${p}d12 + 8.0f * ${p}d34 + ${p}5`];
}

/** Declarations of the shared sums of Aᵀ m for values `${p}0..${p}5`. */
function atShared(p: string): string {
  return `const float ${p}s12 = ${p}1 + ${p}2, ${p}d12 = ${p}1 - ${p}2, ${p}s34 = ${p}3 + ${p}4, ${p}d34 = ${p}3 - ${p}4;`;
}

/** G g for g = (g0, g1, g2) as six C expressions. */
function gm(g: readonly string[]): string[] {
  const [g0, g1, g2] = g as [string, string, string];
  return [
    `0.25f * ${g0}`,
    `(-1.0f / 6.0f) * (${g0} + ${g1} + ${g2})`,
    `(-1.0f / 6.0f) * (${g0} - ${g1} + ${g2})`,
    `(1.0f / 24.0f) * ${g0} + (1.0f / 12.0f) * ${g1} + (1.0f / 6.0f) * ${g2}`,
    `(1.0f / 24.0f) * ${g0} - (1.0f / 12.0f) * ${g1} + (1.0f / 6.0f) * ${g2}`,
    `${g2}`,
  ];
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * The stride (floats) between the 36 transform-point planes of a scratch array holding `base`
 * floats per plane: a multiple of 16 (64-byte lines) with an odd line count, so the 36 streams a
 * transform reads or writes at once fall in 36 different cache sets. (With the plain size, often a
 * multiple of 4 KiB, every stream hit the same L1 and L2 set: 10-50× slower transforms.)
 */
function planeStride(base: number): number {
  const lines = Math.ceil(base / 16);
  return 16 * (lines % 2 === 0 ? lines + 1 : lines);
}

/** Largest transformed weight array U (bytes) worth writing every run: beyond, it spills out of L3. */
const MAX_U_BYTES = 16 << 20;

/**
 * Whether Winograd beats im2col + SGEMM here (measured with scripts/bench-winograd.ts on AVX-512):
 * channels ≥ 16 on both sides (thinner GEMMs gain little), at least 16 tiles in the batch (the 36
 * GEMMs have T columns; ResNet's 7×7 stage has 4), and a transformed weight array U (4× the
 * weights, rewritten every run) that stays in cache.
 */
function worthIt(Cg: number, Mg: number, M: number, T: number): boolean {
  return Cg >= 16 && Mg >= 16 && T >= 16 && 36 * M * Cg * 4 <= MAX_U_BYTES;
}

/** Rows per task of the fused weights+GEMM kernel (a multiple of every build's MR). */
const FUSE_MC = 12;
/** Most tiles for which the weight transform is fused into the GEMM tasks. */
const FUSE_MAX_T = 32;

/**
 * Whether the weight transform runs inside the GEMM tasks, and with what M-tiles (undefined: a
 * separate step writes all of U first). Fused, each task transforms its rows' weights into its
 * thread's slot and runs their 36 GEMMs at once: U never goes through L3, but every task reads all
 * of V. That wins where V is small against U: few tiles (ResNet's 14×14 stage: 1065-1250 → 1020-
 * 1100 us in the model) and loses with many (56×56: V is 2 MB).
 */
function fuseWeights(Mg: number, T: number): { mt: number; mc: number } | undefined {
  if (T > FUSE_MAX_T) return undefined;
  const mc = Math.min(FUSE_MC, Mg);
  return { mt: Math.ceil(Mg / mc), mc };
}

/** The Winograd lowering of a conv, or undefined when it does not apply (then im2col + SGEMM runs). */
export function winogradConv(n: EmitNode, g3: Geo3, s: ConvShape, epi?: Epi): Lowered | undefined {
  const md = mode();
  if (md === "off") return undefined;
  const { N, C, M, group } = s;
  const { Cg, Mg, ID, IH, IW, OD, OH, OW, KD, KH, KW, SD, SH, SW, DD, DH, DW, PD, PH, PW } = convDims(g3, s);
  if (ID !== 1 || OD !== 1 || KD !== 1 || SD !== 1 || DD !== 1 || PD !== 0) return undefined;
  if (KH !== 3 || KW !== 3 || SH !== 1 || SW !== 1 || DH !== 1 || DW !== 1) return undefined;
  if (PH < 0 || PW < 0 || OH < 1 || OW < 1 || N < 1 || Cg < 1 || Mg < 1) return undefined;
  if (n.outputs[0]!.dtype !== "f32" || n.inputs.some((x) => x !== undefined && x.dtype !== "f32")) return undefined;
  const TY = Math.ceil(OH / 4);
  const TX = Math.ceil(OW / 4);
  const WP = 4 * TX + 2; // padded input row: columns −PW .. 4TX+1−PW
  if (PW + IW > WP) return undefined;
  const T1 = TY * TX;
  const T = N * T1;
  // output transform: passes of RB tile rows (about OUT_RUN tiles), padded to whole vectors
  const RB = Math.max(1, Math.min(TY, Math.floor(OUT_RUN / TX)));
  const RBN = Math.ceil(TY / RB);
  const LP = Math.ceil((RB * TX) / 16) * 16;
  if (6 * WP > MAX_STACK || 40 * LP > MAX_STACK) return undefined;
  if (md !== "force" && !worthIt(Cg, Mg, M, T)) return undefined;
  const PK = packedSize(Cg, T); // floats of one packed V[ξ][g] block
  const hasBias = n.inputs[2] !== undefined;
  const US = planeStride(M * Cg); // U stride between transform points
  const XS = planeStride(group * PK); // V stride between transform points
  const ZS = planeStride(M * T); // Z stride between transform points

  // weight transform: U[ξ][m][c], m over all groups (lda Cg); rows [lo, hi) into dst, planes ps apart
  const gv = range(9).map((i) => `w${i}`);
  const cols = range(3).map((k) => gm([gv[k]!, gv[3 + k]!, gv[6 + k]!])); // cols[k][i] = (G g)[i][k]
  // the taps of 16 channels are transposed into wl first: stride-9 loads do not vectorize, the
  // transform over 16 contiguous channels does
  const wRows = (lo: string, hi: string, dst: string, ps: number): string => `for (int64_t m = ${lo}; m < ${hi}; m++) {
  const float* restrict wm = x1 + m * ${Cg * 9};
  float* restrict um = ${dst};
  for (int64_t c0 = 0; c0 < ${Cg}; c0 += 16) {
    const int64_t nc = ${Cg} - c0 < 16 ? ${Cg} - c0 : 16;
    float wl[9][16];
    for (int64_t l = 0; l < nc; l++) for (int i = 0; i < 9; i++) wl[i][l] = wm[(c0 + l) * 9 + i];
    float* restrict uc = um + c0;
    for (int64_t l = 0; l < nc; l++) {
      ${gv.map((v, i) => `const float ${v} = wl[${i}][l];`).join(" ")}
${range(6).map((i) => {
    const row = gm([`h${i}_0`, `h${i}_1`, `h${i}_2`]);
    return `      { ${range(3).map((k) => `const float h${i}_${k} = ${cols[k]![i]};`).join(" ")}\n${range(6).map((j) => `        uc[${(i * 6 + j) * ps} + l] = ${row[j]};`).join("\n")} }`;
  }).join("\n")}
    }
  }
}`;
  const wk: KernelSpec = { label: "winograd weights", tasks: M, body: wRows("task_begin", "task_end", `s0 + m * ${Cg}`, US), args: [inArg("x1", 1), scratchArg("s0", 0)], prepare: true };

  // input transform into packed panels: V[ξ*XS + g*PK + (t/NR)*Cg*NR + cg*NR + t%NR]
  const rows = range(6).map((j) => `const int64_t ih${j} = ty * 4 + ${j - PH}; const float* restrict r${j} = ih${j} >= 0 && ih${j} < ${IH} ? xc + ih${j} * ${IW} : zrow;`);
  const vert = bt(range(6).map((j) => `r${j}[w]`));
  const iBody = `static const float zrow[${IW}] = {0};
for (int64_t bc = task_begin; bc < task_end; bc++) for (int64_t ty = 0; ty < ${TY}; ty++) {
  const int64_t c = bc % ${C}, b = bc / ${C};
  const int64_t g = c / ${Cg}, cg = c % ${Cg};
  const float* restrict xc = x0 + bc * ${IH * IW};
  float tb[6][${WP}];
  ${rows.join("\n  ")}
  for (int i = 0; i < 6; i++) {
    for (int64_t w = 0; w < ${PW}; w++) tb[i][w] = 0.0f;
    for (int64_t w = ${PW + IW}; w < ${WP}; w++) tb[i][w] = 0.0f;
  }
  for (int64_t w = 0; w < ${IW}; w++) {
${vert.map((e, i) => `    tb[${i}][${PW} + w] = ${e};`).join("\n")}
  }
  const int64_t t0 = b * ${T1} + ty * ${TX};
  float* restrict vg = s1 + g * ${PK} + cg * INFC_NR;
  for (int64_t a = 0; a < ${TX};) {
    const int64_t tt = t0 + a, l = tt % INFC_NR;
    const int64_t e = a + (INFC_NR - l) < ${TX} ? a + (INFC_NR - l) : ${TX};
    float* restrict vd = vg + (tt / INFC_NR) * ${Cg} * INFC_NR + l - a;
    for (int i = 0; i < 6; i++) {
      const float* restrict q = tb[i];
      float* restrict v = vd + i * ${6 * XS};
      for (int64_t x = a; x < e; x++) {
        const float d0 = q[4 * x], d1 = q[4 * x + 1], d2 = q[4 * x + 2], d3 = q[4 * x + 3], d4 = q[4 * x + 4], d5 = q[4 * x + 5];
${bt(range(6).map((j) => `d${j}`)).map((e, k) => `        v[${k * XS} + x] = ${e};`).join("\n")}
      }
    }
    a = e;
  }
  if (b == ${N - 1} && ty == ${TY - 1} && ${T} % INFC_NR != 0) {
    /* zero the lanes of the last panel past T */
    float* restrict vl = vg + (${T - 1} / INFC_NR) * ${Cg} * INFC_NR;
    for (int k = 0; k < 36; k++) for (int64_t l = ${T} % INFC_NR; l < INFC_NR; l++) vl[k * ${XS} + l] = 0.0f;
  }
}`;
  const ik: KernelSpec = { label: "winograd input", tasks: N * C, body: iBody, helpers: ["nn_vec"], args: [inArg("x0", 0), scratchArg("s1", 1)] };

  // 36 × group GEMMs: Z[ξ][m][t] = U[ξ][m][:] · V[ξ][g]
  let mid: KernelSpec[];
  // constant weights are transformed once per loaded model (a prepare step); others per run, fused
  // into the GEMM tasks when the tiles are few
  const fz = n.inputs[1]!.const ? undefined : fuseWeights(Mg, T);
  let uCount = 36 * US;
  if (fz) {
    // each task transforms the weights of its rows into its thread's slot (reused by the thread's
    // next task, so it stays in L2), then runs their 36 GEMMs
    const LS = planeStride(fz.mc * Cg);
    uCount = group * fz.mt * 36 * LS;
    const body = `float* restrict ul = s0 + task_begin * ${36 * LS};
for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t g = t / ${fz.mt}, i0 = (t % ${fz.mt}) * ${fz.mc}, i1 = i0 + ${fz.mc} < ${Mg} ? i0 + ${fz.mc} : ${Mg};
  const int64_t m0 = g * ${Mg} + i0;
  ${wRows("m0", `g * ${Mg} + i1`, `ul + (m - m0) * ${Cg}`, LS).split("\n").join("\n  ")}
  for (int64_t k = 0; k < 36; k++)
    infc_sgemm_tile(0, i1 - i0, 0, ${T}, ${T}, ${Cg}, ul + k * ${LS}, ${Cg}, s1 + k * ${XS} + g * ${PK}, s2 + k * ${ZS} + m0 * ${T}, ${T}, 0, (const float*)0, 0, 1.0f, (const infc_epi*)0);
}`;
    mid = [{ label: "winograd weights+gemm", tasks: group * fz.mt, body, helpers: ["nn_sgemm"], args: [inArg("x1", 1), scratchArg("s0", 0), scratchArg("s1", 1), scratchArg("s2", 2)] }];
  } else {
    const gemm = sgemmBody({
      count: 36 * group, M: Mg, N: T, K: Cg, lda: Cg, ldc: T,
      aOff: `(bt / ${group}) * ${US} + (bt % ${group}) * ${Mg * Cg}`, bOff: `(bt / ${group}) * ${XS} + (bt % ${group}) * ${PK}`,
      cOff: `(bt / ${group}) * ${ZS} + (bt % ${group}) * ${Mg * T}`,
      a: "s0", bp: "s1", c: "s2",
    });
    mid = [wk, { label: "winograd gemm", tasks: gemm.tasks, body: gemm.body, helpers: ["nn_sgemm"], args: [scratchArg("s0", 0), scratchArg("s1", 1), scratchArg("s2", 2)] }];
  }

  // output transform + bias + epilogue
  // a task does RB tile rows of one channel as one flat run of tiles (Z's tile index is flat, and
  // so is the row-major output of 4·TX columns per tile row): two passes over whole vectors,
  // columns then rows (lanes past the run read the next tiles' Z, or the pad at its end, and are
  // dropped)
  const oBody = `for (int64_t bm = task_begin; bm < task_end; bm++) for (int64_t rb = 0; rb < ${RBN}; rb++) {
  const int64_t m = bm % ${M}, b = bm / ${M};
  const int64_t ty0 = rb * ${RB}, nty = ${TY} - ty0 < ${RB} ? ${TY} - ty0 : ${RB};
  const float* restrict z = s2 + m * ${T} + b * ${T1} + ty0 * ${TX};
  float ob[4][6][${LP}];
  for (int k = 0; k < 6; k++) {
    const float* restrict zk = z + k * ${ZS};
    for (int64_t x = 0; x < ${LP}; x++) {
      ${range(6).map((i) => `const float u${i} = zk[${i * 6 * ZS} + x];`).join(" ")}
      ${atShared("u")}
      ${at("u").map((e, a) => `ob[${a}][k][x] = ${e};`).join(" ")}
    }
  }
  float yb[4][${4 * LP}];
  for (int a = 0; a < 4; a++) {
    for (int64_t x = 0; x < ${LP}; x++) {
      ${range(6).map((k) => `const float p${k} = ob[a][${k}][x];`).join(" ")}
      ${atShared("p")}
      ${at("p").map((e, c) => `yb[a][4 * x + ${c}] = ${e};`).join(" ")}
    }
  }
  const float bv = ${hasBias ? "x2[m]" : "0.0f"};
  for (int64_t r = 0; r < nty; r++) {
    for (int a = 0; a < 4; a++) {
      const int64_t oh = (ty0 + r) * 4 + a;
      if (oh >= ${OH}) break;
      const int64_t ro = (bm * ${OH} + oh) * ${OW};
      float* restrict yr = y0 + ro;
      const float* restrict src = yb[a] + r * ${4 * TX};
      for (int64_t ow = 0; ow < ${OW}; ow++) ${epiStore(epi, "yr[ow]", "src[ow] + bv", "ro + ow")}
    }
  }
}`;
  const ok: KernelSpec = {
    label: "winograd output", tasks: N * M, body: oBody, helpers: epiHelpers(epi),
    args: [scratchArg("s2", 2), ...(hasBias ? [inArg("x2", 2)] : []), ...(epi?.res ? [inArg("x3", 3)] : []), outArg("y0", 0)],
  };
  return {
    kernels: [ik, ...mid, ok],
    scratch: [{ dtype: "f32", count: uCount }, { dtype: "f32", count: 36 * XS }, { dtype: "f32", count: 36 * ZS + LP }],
  };
}
