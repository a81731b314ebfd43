/**
 * f32 fast paths of the nn family: Conv (GEMM over im2col-packed or directly packed input,
 * depthwise direct kernel, dot products for 1×1 spatial), MatMul and Gemm on the packed SGEMM
 * engine of nn-sgemm.ts.
 */
import type { EmitNode, KernelArg, KernelSpec, Lowered } from "../kernel.ts";
import { type Geo3, batchTables, convDims, gemmCOffset, matmulShape } from "./nn-generic.ts";
import { winogradConv } from "./nn-winograd.ts";
import { type Epi, SG_KC, SG_MR, SG_NR, ceilDiv, epiDecl, epiHelpers, epiInRegs, epiPost, epiStore, packedSize, sgemmBody, tiles } from "./nn-sgemm.ts";

const prod = (a: readonly number[]): number => a.reduce((x, y) => x * y, 1);
const inArg = (name: string, index: number): KernelArg => ({ name, ref: { kind: "in", index } });
const outArg = (name: string, index: number): KernelArg => ({ name, ref: { kind: "out", index } });
const scratchArg = (name: string, index: number): KernelArg => ({ name, ref: { kind: "scratch", index } });
const table = (name: string, v: readonly number[]): string => `static const int64_t ${name}[${Math.max(1, v.length)}] = {${v.join(", ") || "0"}};`;

export interface ConvShape {
  N: number;
  C: number;
  M: number;
  group: number;
}

/** Depthwise (one input channel per group) 2-D conv: direct, vectorizable interior + scalar borders. Tasks: planes. */
function depthwise(n: EmitNode, g3: Geo3, s: ConvShape, epi?: Epi): KernelSpec {
  const [, IH, IW] = g3.inp as [number, number, number];
  const [, OH, OW] = g3.out as [number, number, number];
  const [, KH, KW] = g3.k as [number, number, number];
  const [, SH, SW] = g3.s as [number, number, number];
  const [, DH, DW] = g3.d as [number, number, number];
  const [, PH, PW] = g3.p as [number, number, number];
  const Mg = s.M / s.group;
  // interior columns: every tap in range
  let lo = 0;
  while (lo < OW && lo * SW - PW < 0) lo++;
  let hi = OW;
  while (hi > lo && (hi - 1) * SW - PW + (KW - 1) * DW >= IW) hi--;
  const taps: string[] = [];
  const wdecl: string[] = [];
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      wdecl.push(`const float w${kh}_${kw} = wp[${kh * KW + kw}];`);
      const off = kw * DW - PW;
      const idx = SW === 1 ? `ow${off >= 0 ? ` + ${off}` : ` - ${-off}`}` : `ow * ${SW}${off >= 0 ? ` + ${off}` : ` - ${-off}`}`;
      taps.push(`w${kh}_${kw} * r${kh}[${idx}]`);
    }
  }
  const rows = Array.from({ length: KH }, (_, kh) => `const int64_t ih${kh} = oh * ${SH} + ${kh * DH - PH}; const float* r${kh} = ih${kh} >= 0 && ih${kh} < ${IH} ? xp + ih${kh} * ${IW} : zrow;`);
  const edge = `{
        float v = bv;
${Array.from({ length: KH }, (_, kh) => Array.from({ length: KW }, (_, kw) => `        { const int64_t iw = ow * ${SW} + ${kw * DW - PW}; if (iw >= 0 && iw < ${IW}) v += w${kh}_${kw} * r${kh}[iw]; }`).join("\n")).join("\n")}
        yr[ow] = v;
      }`;
  const hasBias = n.inputs[2] !== undefined;
  const body = `for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t b = t / ${s.M}, m = t % ${s.M};
  const float* restrict xp = x0 + (b * ${s.C} + m / ${Mg}) * ${IH * IW};
  const float* restrict wp = x1 + m * ${KH * KW};
  float* restrict yp = y0 + t * ${OH * OW};${epi?.res ? `
  const float* restrict rp = x3 + t * ${OH * OW};` : ""}
  const float bv = ${hasBias ? "x2[m]" : "0.0f"};
  float zrow[${IW}];
  for (int64_t i = 0; i < ${IW}; i++) zrow[i] = 0.0f;
  ${wdecl.join(" ")}
  for (int64_t oh = 0; oh < ${OH}; oh++) {
    ${rows.join("\n    ")}
    float* restrict yr = yp + oh * ${OW};
    for (int64_t ow = 0; ow < ${lo}; ow++) ${edge}
    for (int64_t ow = ${lo}; ow < ${hi}; ow++) yr[ow] = bv + ${taps.join(" + ")};
    for (int64_t ow = ${Math.max(hi, lo)}; ow < ${OW}; ow++) ${edge}${epi ? `
    /* fused epilogue on the row while it is in L1 (a separate loop vectorizes; inside the tap loop it did not) */
    {${epi.res ? ` const float* restrict ${epi.res} = rp + oh * ${OW};` : ""}
      for (int64_t ow = 0; ow < ${OW}; ow++) ${epiStore(epi, "yr[ow]", "yr[ow]", "ow")}
    }` : ""}
  }
}`;
  return { label: "depthwise", tasks: s.N * s.M, body, ...(epi ? { helpers: epiHelpers(epi), args: [inArg("x0", 0), inArg("x1", 1), ...(hasBias ? [inArg("x2", 2)] : []), ...(epi.res ? [inArg("x3", 3)] : []), outArg("y0", 0)] } : {}) };
}

/** Tiles of the implicit conv: every M-tile repacks its B blocks, so use as few M-tiles as give 2+ tasks. */
function implicitTiles(s: ConvShape, Mg: number, P: number): ReturnType<typeof tiles> {
  const t = tiles(Mg, P);
  const total = s.N * s.group * t.nt;
  const mt = Math.max(1, Math.min(t.mt, Math.ceil(2 / total)));
  const mc = ceilDiv(ceilDiv(Mg, mt), SG_MR) * SG_MR;
  return { ...t, mt: ceilDiv(Mg, mc), mc };
}

function implicitScratch(s: ConvShape, Mg: number, P: number, Kc: number): number {
  const t = implicitTiles(s, Mg, P);
  return s.N * s.group * t.mt * t.nt * Math.min(SG_KC, Kc) * t.nc;
}

/**
 * General conv as GEMM with the im2col done per task and K-block into a packed block that stays in
 * cache (the block lives in scratch at slot task_begin, reused by every task of the range).
 */
function implicitConv(n: EmitNode, g3: Geo3, s: ConvShape, epi?: Epi): KernelSpec {
  const { C, M, group } = s;
  const { Cg, Mg, ID, IH, IW, OD, OH, OW, KD, KH, KW, SD, SH, SW, DD, DH, DW, PD, PH, PW, KK, P, plane } = convDims(g3, s);
  const Kc = Cg * KK;
  const t = implicitTiles(s, Mg, P);
  const KC = Math.min(SG_KC, Kc);
  const BLK = KC * t.nc;
  const hasBias = n.inputs[2] !== undefined;
  const los: number[] = [];
  const his: number[] = [];
  for (let kw = 0; kw < KW; kw++) {
    const off = kw * DW - PW;
    let lo = 0;
    while (lo < OW && lo * SW + off < 0) lo++;
    let hi = OW;
    while (hi > lo && (hi - 1) * SW + off >= IW) hi--;
    los.push(lo);
    his.push(hi);
  }
  const body = `${table("owlo", los)}
${table("owhi", his)}
float* restrict blk = s0 + task_begin * ${BLK};
for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t mb = t % ${t.mt}, nb = (t / ${t.mt}) % ${t.nt}, bt = t / ${t.mt * t.nt};
  const int64_t b = bt / ${group}, g = bt % ${group};
  const int64_t i0 = mb * ${t.mc}, i1 = i0 + ${t.mc} < ${Mg} ? i0 + ${t.mc} : ${Mg};
  const int64_t j0 = nb * ${t.nc}, j1 = j0 + ${t.nc} < ${P} ? j0 + ${t.nc} : ${P};
  const int64_t ncols = j1 - j0, npad = (ncols + INFC_NR - 1) / INFC_NR * INFC_NR;
  float tmp[${t.nc}];
  for (int64_t q = ncols; q < npad; q++) tmp[q] = 0.0f;${epi ? `
  ${epiInRegs(epi) ? epiDecl(epi, `x3 + (b * ${M} + g * ${Mg}) * ${P} + j0`) : ""}` : ""}
  for (int64_t kb = 0; kb < ${Kc}; kb += ${KC}) {
    const int64_t kc = ${Kc} - kb < ${KC} ? ${Kc} - kb : ${KC};
    for (int64_t kk = 0; kk < kc; kk++) {
      const int64_t k = kb + kk, c = k / ${KK}, kidx = k % ${KK};
      const int64_t kd = kidx / ${KH * KW}, kh = (kidx / ${KW}) % ${KH}, kw = kidx % ${KW};
      const float* restrict xc = x0 + (b * ${C} + g * ${Cg} + c) * ${plane};
      const int64_t lo = owlo[kw], hi = owhi[kw], off = kw * ${DW} - ${PW};
      int64_t j = j0;
      while (j < j1) {
        const int64_t od = j / ${OH * OW}, oh = (j / ${OW}) % ${OH}, ow0 = j % ${OW};
        const int64_t seg = ${OW} - ow0 < j1 - j ? ${OW} - ow0 : j1 - j;
        const int64_t id = od * ${SD} + kd * ${DD} - ${PD}, ih = oh * ${SH} + kh * ${DH} - ${PH};
        float* restrict tp = tmp + (j - j0) - ow0;
        const int64_t e = ow0 + seg;
        if (id < 0 || id >= ${ID} || ih < 0 || ih >= ${IH}) {
          for (int64_t ow = ow0; ow < e; ow++) tp[ow] = 0.0f;
        } else {
          const float* restrict xr = xc + (id * ${IH} + ih) * ${IW} + off;
          const int64_t a = lo > ow0 ? lo : ow0, z = hi < e ? hi : e;
          int64_t ow = ow0;
          for (; ow < a; ow++) tp[ow] = 0.0f;
          for (; ow < z; ow++) tp[ow] = xr[ow * ${SW}];
          for (; ow < e; ow++) tp[ow] = 0.0f;
        }
        j += seg;
      }
      float* restrict d = blk + kk * INFC_NR;
      for (int64_t p = 0; p < npad; p += INFC_NR) memcpy(d + p * kc, tmp + p, INFC_NR * 4);
    }
    infc_sgemm_block(i0, i1, 0, ncols, kc, x1 + (g * ${Mg}) * ${Kc} + kb, ${Kc}, blk, kc * INFC_NR, y0 + (b * ${M} + g * ${Mg}) * ${P} + j0, ${P}, ${hasBias ? 1 : 0}, ${hasBias ? `x2 + g * ${Mg}` : "(const float*)0"}, kb > 0, 1.0f, ${epiInRegs(epi) ? `kb + kc >= ${Kc} ? &e : (const infc_epi*)0` : "(const infc_epi*)0"});
  }${epiPost(epi, `y0 + (b * ${M} + g * ${Mg}) * ${P}`, String(P), "j1")}
}`;
  return {
    label: "im2col+sgemm", tasks: s.N * group * t.mt * t.nt, body, helpers: ["nn_sgemm", ...epiHelpers(epi)],
    args: [inArg("x0", 0), inArg("x1", 1), ...(hasBias ? [inArg("x2", 2)] : []), ...(epi?.res ? [inArg("x3", 3)] : []), scratchArg("s0", 0), outArg("y0", 0)],
  };
}

/** Conv on f32: depthwise direct, 1×1-on-1×1 dot products, or pack (im2col) + SGEMM. */
export function convF32(n: EmitNode, g3: Geo3, s: ConvShape, epi?: Epi): Lowered {
  const { N, C, M, group } = s;
  const { Cg, Mg, ID, IH, IW, OD, OH, OW, KD, KH, KW, SD, SH, SW, DD, DH, DW, PD, PH, PW, KK, P, plane } = convDims(g3, s);
  const Kc = Cg * KK;
  const hasBias = n.inputs[2] !== undefined;
  if (P === 0 || M === 0) return { kernels: [] };
  if (Cg === 1 && group > 1 && ID === 1 && KD === 1 && OD === 1) return { kernels: [depthwise(n, g3, s, epi)] };
  const wino = winogradConv(n, g3, s, epi);
  if (wino) return wino;
  const direct = KK === 1 && P === plane && SD === 1 && SH === 1 && SW === 1 && PD === 0 && PH === 0 && PW === 0;
  if (direct && P === 1) {
    // 1×1 conv on a 1×1 image: y[b][m] = w[m] · x[b][g]
    const body = `for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t b = t / ${M}, m = t % ${M};
  ${epiStore(epi, "y0[t]", `infc_sdot(x1 + m * ${Kc}, x0 + b * ${C} + (m / ${Mg}) * ${Cg}, ${Kc})${hasBias ? " + x2[m]" : ""}`, "t")}
}`;
    return { kernels: [{ label: "dot", tasks: N * M, body, helpers: ["nn_sdot", ...epiHelpers(epi)] }] };
  }
  const NPad = ceilDiv(P, SG_NR) * SG_NR;
  const pk = packedSize(Kc, P);
  const BG = N * group;
  let packBody: string;
  if (direct) {
    packBody = `for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t bg = t / ${Kc}, k = t % ${Kc};
  infc_spack_row(x0 + (bg * ${Cg} + k) * ${P}, ${P}, 0, ${Kc}, s0 + bg * ${pk} + k * INFC_NR);
}`;
  } else {
    return { kernels: [implicitConv(n, g3, s, epi)], scratch: [{ dtype: "f32", count: implicitScratch(s, Mg, P, Kc) }] };
  }
  const pack: KernelSpec = {
    label: "pack", tasks: BG * Kc, body: packBody, helpers: ["nn_spack"],
    args: [inArg("x0", 0), scratchArg("s0", 0)],
  };
  const gemm = sgemmBody({
    count: BG, M: Mg, N: P, K: Kc, lda: Kc, ldc: P,
    aOff: `(bt % ${group}) * ${Mg * Kc}`, bOff: `bt * ${pk}`, cOff: `bt * ${Mg * P}`,
    a: "x1", bp: "s0", c: "y0",
    ...(hasBias ? { bias: { mode: 1 as const, ptr: `x2 + (bt % ${group}) * ${Mg}` } } : {}),
    ...(epi ? { epi } : {}),
  });
  const gk: KernelSpec = {
    label: "sgemm", tasks: gemm.tasks, body: gemm.body, helpers: ["nn_sgemm", ...epiHelpers(epi)],
    args: [inArg("x1", 1), scratchArg("s0", 0), ...(hasBias ? [inArg("x2", 2)] : []), ...(epi?.res ? [inArg("x3", 3)] : []), outArg("y0", 0)],
  };
  return { kernels: [pack, gk], scratch: [{ dtype: "f32", count: BG * pk }] };
}

/** MatMul on f32. */
export function matmulF32(n: EmitNode): Lowered {
  return matmulF32Epi(n)!;
}

/**
 * MatMul on f32 with an optional fused epilogue (bias input 2 when `bias`, then epi); undefined
 * when this variant cannot apply it (the caller then adds an epilogue kernel).
 */
export function matmulF32Epi(n: EmitNode, epi?: Epi, bias?: boolean): Lowered | undefined {
  const s = matmulShape(n);
  const { M, N, K } = s;
  const nb = prod(s.batch);
  const nbB = prod(s.bb);
  if (M === 0 || N === 0 || nb === 0) return { kernels: [] };
  if (K === 0) return epi || bias ? undefined : { kernels: [{ tasks: 1, body: `memset(y0, 0, ${nb * M * N * 4});` }] };
  const bsh = bias ? n.inputs[2]!.shape : [];
  const bsz = bias ? n.inputs[2]!.size : 0;
  const perCol = bias && bsz === N && bsh[bsh.length - 1] === N;
  if (bias && !perCol && bsz !== 1) return undefined;
  const extra = [...(bias ? [inArg("x2", 2)] : []), ...(epi?.res ? [inArg("x3", 3)] : [])];
  const eh = epiHelpers(epi);
  const { ia, ib } = batchTables(s.ba, s.bb, s.batch);
  if (N === 1) {
    const body = `${table("ia", ia)}
${table("ib", ib)}
for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t bt = t / ${M}, i = t % ${M};
  ${epiStore(epi, "y0[t]", `infc_sdot(x0 + ia[bt] * ${M * K} + i * ${K}, x1 + ib[bt] * ${K}, ${K})${bias ? " + x2[0]" : ""}`, "t")}
}`;
    return { kernels: [{ label: "dot", tasks: nb * M, body, helpers: ["nn_sdot", ...eh] }] };
  }
  if (bias && !perCol) return undefined;
  const fx = { ...(bias ? { bias: { mode: 2 as const, ptr: "x2" } } : {}), ...(epi ? { epi } : {}) };
  const pk = packedSize(K, N);
  const pack: KernelSpec = {
    label: "pack", tasks: nbB * K, helpers: ["nn_spack"], args: [inArg("x1", 1), scratchArg("s0", 0)],
    body: `for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t bb = t / ${K}, k = t % ${K};
  infc_spack_row(x1 + t * ${N}, ${N}, 0, ${K}, s0 + bb * ${pk} + k * INFC_NR);
}`,
  };
  const flat = nbB === 1 && ia.every((v, i) => v === i);
  const g = flat
    ? sgemmBody({ count: 1, M: nb * M, N, K, lda: K, ldc: N, aOff: "0", bOff: "0", cOff: "0", a: "x0", bp: "s0", c: "y0", ...fx })
    : sgemmBody({ count: nb, M, N, K, lda: K, ldc: N, aOff: `ia[bt] * ${M * K}`, bOff: `ib[bt] * ${pk}`, cOff: `bt * ${M * N}`, a: "x0", bp: "s0", c: "y0", ...fx });
  const gemm: KernelSpec = {
    label: "sgemm", tasks: g.tasks, helpers: ["nn_sgemm", ...eh], args: [inArg("x0", 0), scratchArg("s0", 0), ...extra, outArg("y0", 0)],
    body: flat ? g.body : `${table("ia", ia)}\n${table("ib", ib)}\n${g.body}`,
  };
  return { kernels: [pack, gemm], scratch: [{ dtype: "f32", count: nbB * pk }] };
}

/** Gemm on f32 (transA handled by the caller's generic path). */
export function gemmF32(n: EmitNode): Lowered {
  return gemmF32Epi(n)!;
}

/** Gemm on f32 with an optional fused epilogue; undefined when this variant cannot apply it. */
export function gemmF32Epi(n: EmitNode, epi?: Epi): Lowered | undefined {
  const { r, attrs } = n;
  const a = n.inputs[0]!;
  const b = n.inputs[1]!;
  const c = n.inputs[2];
  const tB = attrs.int("transB") !== 0;
  const M = a.shape[0]!;
  const K = a.shape[1]!;
  const N = tB ? b.shape[0]! : b.shape[1]!;
  const alpha = attrs.float("alpha");
  const beta = attrs.float("beta");
  const alphaL = r.literal("f32", alpha);
  const useC = c !== undefined && beta !== 0 && c.size > 0;
  if (M === 0 || N === 0) return { kernels: [] };
  const cTerm = (i: string, j: string): string => (useC ? ` + ${r.literal("f32", beta)} * x2[${gemmCOffset(c, M, N, i, j)}]` : "");
  if (K === 0) {
    if (epi) return undefined;
    return { kernels: [{ tasks: M * N, body: `for (int64_t t = task_begin; t < task_end; t++) { const int64_t i = t / ${N}, j = t % ${N}; (void)i; (void)j; y0[t] = 0.0f${cTerm("i", "j")}; }` }] };
  }
  if (tB && M <= 4) {
    const body = `for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t i = t / ${N}, j = t % ${N};
  ${epiStore(epi, "y0[t]", `${alpha === 1 ? "" : `${alphaL} * `}infc_sdot(x0 + i * ${K}, x1 + j * ${K}, ${K})${cTerm("i", "j")}`, "t")}
}`;
    return { kernels: [{ label: "dot", tasks: M * N, body, helpers: ["nn_sdot", ...epiHelpers(epi)] }] };
  }
  const NP = ceilDiv(N, SG_NR);
  const pk = packedSize(K, N);
  const pack: KernelSpec = tB
    ? { label: "pack", tasks: NP, helpers: ["nn_spack"], args: [inArg("x1", 1), scratchArg("s0", 0)], body: `for (int64_t t = task_begin; t < task_end; t++) for (int64_t jp = t * ${SG_NR} / INFC_NR; jp < (t + 1) * ${SG_NR} / INFC_NR; jp++) infc_spack_trans_panel(x1, ${K}, ${N}, ${K}, jp, s0);` }
    : { label: "pack", tasks: K, helpers: ["nn_spack"], args: [inArg("x1", 1), scratchArg("s0", 0)], body: `for (int64_t t = task_begin; t < task_end; t++) infc_spack_row(x1 + t * ${N}, ${N}, 0, ${K}, s0 + t * INFC_NR);` };
  const kernels: KernelSpec[] = [pack];
  let bias: { mode: 1 | 2; ptr: string } | undefined;
  let accumulate = false;
  if (useC) {
    const sh = c.shape;
    const cm = sh.length >= 2 ? sh[sh.length - 2]! : 1;
    const cn = sh.length >= 1 ? sh[sh.length - 1]! : 1;
    if (beta === 1 && cm === 1 && cn === N && N > 1) bias = { mode: 2, ptr: "x2" };
    else if (beta === 1 && cm === M && cn === 1 && M > 1) bias = { mode: 1, ptr: "x2" };
    else {
      accumulate = true;
      kernels.push({
        label: "init", tasks: M, args: [inArg("x2", 2), outArg("y0", 0)],
        body: `for (int64_t i = task_begin; i < task_end; i++) for (int64_t j = 0; j < ${N}; j++) y0[i * ${N} + j] = ${r.literal("f32", beta)} * x2[${gemmCOffset(c, M, N, "i", "j")}];`,
      });
    }
  }
  const g = sgemmBody({
    count: 1, M, N, K, lda: K, ldc: N, aOff: "0", bOff: "0", cOff: "0", a: "x0", bp: "s0", c: "y0",
    ...(bias ? { bias } : {}), accumulate, alpha: alphaL, ...(epi ? { epi } : {}),
  });
  kernels.push({
    label: "sgemm", tasks: g.tasks, helpers: ["nn_sgemm", ...epiHelpers(epi)], body: g.body,
    args: [inArg("x0", 0), scratchArg("s0", 0), ...(bias ? [inArg("x2", 2)] : []), ...(epi?.res ? [inArg("x3", 3)] : []), outArg("y0", 0)],
  });
  return { kernels, scratch: [{ dtype: "f32", count: pk }] };
}
