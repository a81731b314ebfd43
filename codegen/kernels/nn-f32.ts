/**
 * f32 fast paths of the nn family, on the SGEMM engine of nn-sgemm.ts:
 * - Conv: depthwise convs by a blocked direct kernel (depthwise); 1×1 convs on images of 128+
 *   pixels as a GEMM reading the activation in place (pointwise), smaller ones packed then GEMM;
 *   1×1 convs on 1×1 images as dot products; every other conv as im2col per task into a cached
 *   block + GEMM (implicitConv), unless nn-winograd.ts takes it or, where the tasks would repeat
 *   the im2col (small images, many output channels), it is packed once (nn-im2col.ts) + GEMM.
 * - MatMul and Gemm: packed B + tiled GEMM; a MatMul of at most 4 rows (a classifier) as a GEMV
 *   streaming B in place; Gemm with transposed B and few rows as dot products.
 * Tasks are GEMM tiles (tiles(): enough of them for 2 to 4 threads, balanced), depthwise row
 * blocks of planes, or GEMV column runs; the pool hands them out dynamically.
 */
import type { EmitNode, KernelArg, KernelSpec, Lowered } from "../kernel.ts";
import { type Geo3, batchTables, convDims, gemmCOffset, matmulShape } from "./nn-generic.ts";
import { winogradConv } from "./nn-winograd.ts";
import { im2colPack, packOnce } from "./nn-im2col.ts";
import { f32Lit } from "./elementwise-math.ts";
import { type Epi, type Tiles, SG_KC, SG_NR, ceilDiv, epiDecl, epiHelpers, epiInRegs, epiPost, epiStore, packedSize, sgemmBody, tileBounds, tiles } from "./nn-sgemm.ts";

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

/** Depthwise 2-D conv, plain form (rows too wide for the blocked kernel): vectorizable interior + scalar borders. Tasks: planes. */
function depthwisePlain(n: EmitNode, g3: Geo3, s: ConvShape, epi?: Epi): KernelSpec {
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

/** Lanes the depthwise blocks are laid out for (the widest build, AVX-512); narrower builds run the same code. */
const DW_VL = 16;
/** Vectors per register block of the depthwise kernel on narrow planes (independent FMA chains). */
const DW_R = 4;
/** Floats of input (phase rows) per depthwise block (8 KiB: with the block's output, well inside L1). */
const DW_BUDGET = 2048;
/** Most floats of stack the blocked depthwise kernel may use; beyond, depthwisePlain runs. */
const DW_STACK = 32768;
const roundUp = (a: number, b: number): number => ceilDiv(a, b) * b;
/** A MatMul with at most this many rows (all batches together) runs as a GEMV. */
const GEMV_ROWS = 4;
/** Columns per GEMV task (4 panels: 8 tasks for a 1000-class classifier). */
const GEMV_COLS = 4 * SG_NR;
const withoutRes = (e: Epi): Epi => {
  const { res: _res, ...rest } = e;
  return rest;
};

/**
 * Depthwise (one input channel per group) 2-D conv, blocked. A task is one block of output rows of
 * one plane. The block's input rows are first copied, zero-padded, into "phase" rows: for stride
 * (SH, SW), phase (rp, cp) holds padded rows rp, rp + SH, ... and columns cp, cp + SW, ... (stride 2
 * columns are split with vector shuffles), so every tap reads a contiguous run at a constant offset:
 * output (oh, ow) of tap (kh, kw) is phase ((kh·DH) % SH, (kw·DW) % SW) at row oh + ⌊kh·DH/SH⌋,
 * column ow + ⌊kw·DW/SW⌋, rows WH = OW + ⌊(KW-1)·DW/SW⌋ floats apart.
 *
 * Wide planes (OW ≥ 16) compute DW_R output rows × one vector of columns at a time (the last vector
 * of a row ends at OW, overlapping the previous one), each loaded input vector feeding every row it
 * serves, and store straight into the output with bias, residual and register activations applied.
 * Narrow planes compute the block's phase-row space flat (vectors run across row ends; lanes past
 * OW are junk) into a stage, then copy rows out through the epilogue. FMAs are explicit: the
 * artifact's -std=c99 build does not contract a·b + c.
 */
function depthwise(n: EmitNode, g3: Geo3, s: ConvShape, epi?: Epi): KernelSpec {
  const [, IH, IW] = g3.inp as [number, number, number];
  const [, OH, OW] = g3.out as [number, number, number];
  const [, KH, KW] = g3.k as [number, number, number];
  const [, SH, SW] = g3.s as [number, number, number];
  const [, DH, DW] = g3.d as [number, number, number];
  const [, PH, PW] = g3.p as [number, number, number];
  const Mg = s.M / s.group;
  const hasBias = n.inputs[2] !== undefined;
  const halo = Math.floor(((KH - 1) * DH) / SH);
  const WH = OW + Math.floor(((KW - 1) * DW) / SW);
  const NPH = SH * SW;
  const taps: { k: number; ph: number; off: number }[] = [];
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      taps.push({ k: kh * KW + kw, ph: ((kh * DH) % SH) * SW + ((kw * DW) % SW), off: Math.floor((kh * DH) / SH) * WH + Math.floor((kw * DW) / SW) });
    }
  }
  const maxOff = Math.max(...taps.map((t) => t.off));
  const wide = OW >= DW_VL;
  // output rows per register block of wide planes: each loaded input vector feeds up to R rows;
  // 4 for long rows or 5×5 taps, 2 otherwise (measured: 4 rows of 3×3 taps on 28..56 columns ran
  // 25-35% slower than 2)
  const R = wide ? (OW >= 64 || KH >= 5 ? 4 : 2) : DW_R;
  let BR: number;
  let QEND = 0;
  let RB: number;
  if (wide) {
    BR = Math.min(roundUp(OH, R), Math.max(R, Math.floor(DW_BUDGET / (NPH * WH) / R) * R));
    RB = BR + halo;
  } else {
    BR = Math.min(OH, Math.max(1, Math.floor(DW_BUDGET / (NPH * WH))));
    QEND = roundUp(BR * WH, R * DW_VL);
    RB = ceilDiv(QEND + maxOff, WH);
  }
  const PHS = RB * WH;
  if (NPH * PHS + QEND > DW_STACK) return depthwisePlain(n, g3, s, epi);
  const NB = ceilDiv(OH, BR);
  const plane = OH * OW;
  // one padded input row into the phase rows of row phase rp (d: its row in phase (rp, 0))
  let fill: string;
  if (SW === 1) {
    const lo = Math.min(PW, WH);
    const hi = Math.max(lo, Math.min(WH, PW + IW));
    fill = [lo > 0 ? `memset(d, 0, ${lo * 4});` : "", hi > lo ? `memcpy(d + ${lo}, src + ${lo - PW}, ${(hi - lo) * 4});` : "", hi < WH ? `memset(d + ${hi}, 0, ${(WH - hi) * 4});` : ""].filter(Boolean).join(" ");
  } else if (SW === 2) {
    // padded column u = iw + PW is phase u % 2, column u / 2: split pairs straight from the source
    // row (a copy first would make the shuffle's loads wait on the copy's stores), then the ends
    const iw0 = PW % 2;
    const c0 = (PW + iw0) / 2;
    const pairs = Math.max(0, Math.min(Math.floor((IW - iw0) / 2), WH - c0));
    const parts: string[] = [];
    if (pairs > 0) parts.push(`infc_dw_deint2(src + ${iw0}, d + ${c0}, d + ${PHS + c0}, ${pairs});`);
    for (let cp = 0; cp < 2; cp++) {
      const lo = Math.min(WH, Math.max(0, Math.ceil((PW - cp) / 2)));
      const hi = Math.max(lo, Math.min(WH, Math.ceil((PW + IW - cp) / 2)));
      const dc = `d${cp ? ` + ${PHS}` : ""}`;
      if (lo > 0) parts.push(`memset(${dc}, 0, ${lo * 4});`);
      if (hi < WH) parts.push(`memset(${dc} + ${hi}, 0, ${(WH - hi) * 4});`);
      // valid columns the pairs did not cover
      const a = pairs > 0 ? Math.max(lo, Math.min(hi, c0)) : hi;
      const b = pairs > 0 ? Math.min(hi, Math.max(lo, c0 + pairs)) : hi;
      const loose = [...Array.from({ length: a - lo }, (_, i) => lo + i), ...Array.from({ length: hi - b }, (_, i) => b + i)];
      for (const c of loose) parts.push(`d[${cp * PHS + c}] = src[${2 * c + cp - PW}];`);
    }
    fill = parts.join(" ");
  } else {
    fill = `for (int64_t cp = 0; cp < ${SW}; cp++) for (int64_t c = 0; c < ${WH}; c++) { const int64_t iw = c * ${SW} + cp - ${PW}; d[cp * ${PHS} + c] = iw >= 0 && iw < ${IW} ? src[iw] : 0.0f; }`;
  }
  const acc = Array.from({ length: R }, (_, j) => `a${j}`);
  const fma: string[] = [];
  if (wide) {
    // group the taps of all R rows by the input vector they read (rows share input rows)
    const byOff = new Map<number, string[]>();
    for (let j = 0; j < R; j++) {
      for (const t of taps) {
        const o = t.ph * PHS + t.off + j * WH;
        if (!byOff.has(o)) byOff.set(o, []);
        byOff.get(o)!.push(`a${j} = INFC_DW_FMA(w${t.k}, l, a${j});`);
      }
    }
    for (const [o, f] of [...byOff].sort((a, b) => a[0] - b[0])) fma.push(`{ const infc_dwv l = INFC_DW_LD(p + ${o}); ${f.join(" ")} }`);
  } else {
    for (const t of taps) for (let j = 0; j < R; j++) fma.push(`a${j} = INFC_DW_FMA(w${t.k}, INFC_DW_LD(p + (${t.ph * PHS + t.off} + ${j} * INFC_DW_VL)), a${j});`);
  }
  const regAct = epi && epi.act !== 0 ? `v = INFC_DW_ACT(v, ${epi.act}, ${f32Lit(epi.p0)}, ${f32Lit(epi.p1)}); ` : "";
  const rowEpi = epi ? { ...epi, ...(epi.res ? { res: "rr" } : {}) } : undefined;
  // flat blocks: a register activation runs on the vectors when there is no residual to add first
  const flatRegs = epi !== undefined && epi.act !== 0 && !epi.res;
  const flatAct = (a: string): string => (flatRegs ? `INFC_DW_ACT(${a}, ${epi!.act}, ${f32Lit(epi!.p0)}, ${f32Lit(epi!.p1)})` : a);
  const copyOut = !epi || (!epi.res && !epi.post) ? `memcpy(yr, sr, ${OW * 4});` : `for (int64_t ow = 0; ow < ${OW}; ow++) ${epiStore(rowEpi, "yr[ow]", "sr[ow]", "ow")}`;
  let compute: string;
  if (wide) {
    const stores = acc.map((a, j) => {
      const st = `{ infc_dwv v = ${a}; ${epi?.res ? `v += INFC_DW_LD(rs + ${j * OW}); ` : ""}${regAct}INFC_DW_ST(yr + ${j * OW}, v); }`;
      return j === 0 ? `      ${st}` : `      if (oh0 + r + ${j} < ${OH}) ${st}`;
    });
    const post = epi?.post ? `
    for (int64_t j = 0; j < ${R} && oh0 + r + j < ${OH}; j++) {
      float* restrict yr = yp + (oh0 + r + j) * ${OW};
      for (int64_t ow = 0; ow < ${OW}; ow++) ${epiStore(withoutRes(epi), "yr[ow]", "yr[ow]", "ow")}
    }` : "";
    compute = `  for (int64_t r = 0; r < ${BR} && oh0 + r < ${OH}; r += ${R}) {
    for (int64_t cc = 0; cc < ${OW}; cc += INFC_DW_VL) {
      const int64_t c = cc + INFC_DW_VL > ${OW} ? ${OW} - INFC_DW_VL : cc;
      const float* restrict p = ph + r * ${WH} + c;
      infc_dwv ${acc.map((a) => `${a} = bv`).join(", ")};
      ${fma.join("\n      ")}
      float* restrict yr = yp + (oh0 + r) * ${OW} + c;${epi?.res ? `
      const float* restrict rs = rq + (oh0 + r) * ${OW} + c;` : ""}
${stores.join("\n")}
    }${post}
  }`;
  } else {
    compute = `  for (int64_t q = 0; q < ${QEND}; q += ${R} * INFC_DW_VL) {
    const float* restrict p = ph + q;
    infc_dwv ${acc.map((a) => `${a} = bv`).join(", ")};
    ${fma.join("\n    ")}
    ${acc.map((a, j) => `INFC_DW_ST(st + q + ${j} * INFC_DW_VL, ${flatAct(a)});`).join(" ")}
  }
  for (int64_t r = 0; r < ${BR} && oh0 + r < ${OH}; r++) {
    float* restrict yr = yp + (oh0 + r) * ${OW};
    const float* restrict sr = st + r * ${WH};${epi?.res ? `
    const float* restrict rr = rq + (oh0 + r) * ${OW};` : ""}
    ${copyOut}
  }`;
  }
  const body = `float ph[${NPH * PHS}];${QEND ? `
float st[${QEND}];` : ""}
for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t pl = t / ${NB}, oh0 = (t % ${NB}) * ${BR};
  const int64_t b = pl / ${s.M}, m = pl % ${s.M};
  const float* restrict xp = x0 + (b * ${s.C} + m / ${Mg}) * ${IH * IW};
  const float* restrict wp = x1 + m * ${KH * KW};
  float* restrict yp = y0 + pl * ${plane};${epi?.res ? `
  const float* restrict rq = x3 + pl * ${plane};` : ""}
  const infc_dwv bv = INFC_DW_SPLAT(${hasBias ? "x2[m]" : "0.0f"});
  ${taps.map((t) => `const infc_dwv w${t.k} = INFC_DW_SPLAT(wp[${t.k}]);`).join(" ")}
  for (int64_t r = 0; r < ${RB}; r++) {
    for (int64_t rp = 0; rp < ${SH}; rp++) {
      const int64_t ih = (oh0 + r) * ${SH} + rp - ${PH};
      float* restrict d = ph + rp * ${SW * PHS} + r * ${WH};
      if (ih < 0 || ih >= ${IH}) { for (int64_t cp = 0; cp < ${SW}; cp++) memset(d + cp * ${PHS}, 0, ${WH * 4}); continue; }
      const float* restrict src = xp + ih * ${IW};
      ${fill}
    }
  }
${compute}
}`;
  return {
    label: wide ? "depthwise rows" : "depthwise flat", tasks: s.N * s.M * NB, body, helpers: ["nn_dw", ...epiHelpers(epi)],
    args: [inArg("x0", 0), inArg("x1", 1), ...(hasBias ? [inArg("x2", 2)] : []), ...(epi?.res ? [inArg("x3", 3)] : []), outArg("y0", 0)],
  };
}

/** Tiles of the implicit conv: every M-tile redoes the im2col of its B blocks, so rows are split last. */
function implicitTiles(s: ConvShape, Mg: number, P: number, Kc: number): Tiles {
  return tiles(Mg, P, Kc, s.N * s.group, Infinity);
}

function implicitScratch(s: ConvShape, Mg: number, P: number, Kc: number): number {
  const t = implicitTiles(s, Mg, P, Kc);
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
  const t = implicitTiles(s, Mg, P, Kc);
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
  ${tileBounds(t, Mg, P)}
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
    infc_sgemm_block(i0, i1, 0, ncols, kc, x1 + (g * ${Mg}) * ${Kc} + kb, ${Kc}, blk, kc * INFC_NR, INFC_NR, y0 + (b * ${M} + g * ${Mg}) * ${P} + j0, ${P}, ${hasBias ? 1 : 0}, ${hasBias ? `x2 + g * ${Mg}` : "(const float*)0"}, kb > 0, 1.0f, ${epiInRegs(epi) ? `kb + kc >= ${Kc} ? &e : (const infc_epi*)0` : "(const infc_epi*)0"});
  }${epiPost(epi, `y0 + (b * ${M} + g * ${Mg}) * ${P}`, String(P), "j1")}
}`;
  return {
    label: "im2col+sgemm", tasks: s.N * group * t.mt * t.nt, body, helpers: ["nn_sgemm", ...epiHelpers(epi)],
    args: [inArg("x0", 0), inArg("x1", 1), ...(hasBias ? [inArg("x2", 2)] : []), ...(epi?.res ? [inArg("x3", 3)] : []), scratchArg("s0", 0), outArg("y0", 0)],
  };
}

/**
 * 1×1 conv (stride 1, no padding) as GEMM reading the activation in place: per (batch, group)
 * C[Mg][P] = W[Mg][Kc] · X[Kc][P], X's rows P floats apart are B's rows, so full NR-wide column
 * panels go to the micro-kernel unpacked (no pack step, no scratch); a task's last partial panel is
 * copied, zero-filled, into a small K-block on the stack. Tasks: (batch·group) × M-tiles × N-tiles.
 */
function pointwise(n: EmitNode, s: ConvShape, P: number, epi?: Epi): KernelSpec {
  const { C, M, group } = s;
  const Cg = C / group;
  const Mg = M / group;
  const hasBias = n.inputs[2] !== undefined;
  const t = tiles(Mg, P, Cg, s.N * group);
  const KC = Math.min(SG_KC, Cg);
  const reg = epiInRegs(epi);
  const body = `float eb[${KC * SG_NR}];
for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t mb = t % ${t.mt}, nb = (t / ${t.mt}) % ${t.nt}, bt = t / ${t.mt * t.nt};
  const int64_t b = bt / ${group}, g = bt % ${group};
  ${tileBounds(t, Mg, P)}
  const int64_t jf = j0 + (j1 - j0) / INFC_NR * INFC_NR;
  const float* restrict xb = x0 + (b * ${C} + g * ${Cg}) * ${P};
  const float* restrict wa = x1 + g * ${Mg * Cg};
  float* restrict yb = y0 + (b * ${M} + g * ${Mg}) * ${P};${reg ? `
  ${epiDecl(epi!, `x3 + (b * ${M} + g * ${Mg}) * ${P}`)}
  infc_epi ee = e; if (ee.res) ee.res += jf;` : ""}
  for (int64_t kb = 0; kb < ${Cg}; kb += ${KC}) {
    const int64_t kc = ${Cg} - kb < ${KC} ? ${Cg} - kb : ${KC};
    const int last = kb + kc >= ${Cg};
    if (jf > j0) infc_sgemm_block(i0, i1, j0, jf, kc, wa + kb, ${Cg}, xb + kb * ${P}, INFC_NR, ${P}, yb, ${P}, ${hasBias ? 1 : 0}, ${hasBias ? `x2 + g * ${Mg}` : "(const float*)0"}, kb > 0, 1.0f, ${reg ? "last ? &e : (const infc_epi*)0" : "(const infc_epi*)0"});
    if (j1 > jf) {
      for (int64_t k = 0; k < kc; k++) {
        float* restrict d = eb + k * INFC_NR;
        const float* restrict x = xb + (kb + k) * ${P} + jf;
        for (int64_t q = 0; q < j1 - jf; q++) d[q] = x[q];
        for (int64_t q = j1 - jf; q < INFC_NR; q++) d[q] = 0.0f;
      }
      infc_sgemm_block(i0, i1, 0, j1 - jf, kc, wa + kb, ${Cg}, eb, 0, INFC_NR, yb + jf, ${P}, ${hasBias ? 1 : 0}, ${hasBias ? `x2 + g * ${Mg}` : "(const float*)0"}, kb > 0, 1.0f, ${reg ? "last ? &ee : (const infc_epi*)0" : "(const infc_epi*)0"});
    }
    (void)last;
  }${epiPost(epi, "yb", String(P), "j1")}
}`;
  return {
    label: "1x1 sgemm", tasks: s.N * group * t.mt * t.nt, body, helpers: ["nn_sgemm", ...epiHelpers(epi)],
    args: [inArg("x0", 0), inArg("x1", 1), ...(hasBias ? [inArg("x2", 2)] : []), ...(epi?.res ? [inArg("x3", 3)] : []), outArg("y0", 0)],
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
  // in place from 4 column panels on; below, the partial panel dominates and one shared pack is cheaper
  if (direct && P >= 4 * SG_NR) return { kernels: [pointwise(n, s, P, epi)] };
  const NPad = ceilDiv(P, SG_NR) * SG_NR;
  const pk = packedSize(Kc, P);
  const BG = N * group;
  let pack: KernelSpec;
  if (direct) {
    const body = `for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t bg = t / ${Kc}, k = t % ${Kc};
  infc_spack_row(x0 + (bg * ${Cg} + k) * ${P}, ${P}, 0, ${Kc}, s0 + bg * ${pk} + k * INFC_NR);
}`;
    pack = { label: "pack", tasks: BG * Kc, body, helpers: ["nn_spack"], args: [inArg("x0", 0), scratchArg("s0", 0)] };
  } else if (packOnce(g3, s, implicitTiles(s, Mg, P, Kc).mt)) {
    // the implicit tiling would redo each column's im2col in several tasks: gather it once
    pack = im2colPack(g3, s);
  } else {
    return { kernels: [implicitConv(n, g3, s, epi)], scratch: [{ dtype: "f32", count: implicitScratch(s, Mg, P, Kc) }] };
  }
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
  const flat = nbB === 1 && ia.every((v, i) => v === i);
  if (flat && nb * M <= GEMV_ROWS) {
    // GEMV: B streamed in place, tasks over runs of columns
    const tasks = ceilDiv(N, GEMV_COLS);
    const body = `for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t i0 = 0, i1 = ${nb * M}, j0 = t * ${GEMV_COLS}, j1 = j0 + ${GEMV_COLS} < ${N} ? j0 + ${GEMV_COLS} : ${N};
  (void)i0; (void)i1;${epiInRegs(epi) ? `
  ${epiDecl(epi!)}` : ""}
  infc_sgemv(${nb * M}, ${K}, x0, ${K}, x1, ${N}, j0, j1, y0, ${N}, ${bias ? "x2" : "(const float*)0"}, ${epiInRegs(epi) ? "&e" : "(const infc_epi*)0"});${epiPost(epi, "y0", String(N), "j1")}
}`;
    return { kernels: [{ label: "sgemv", tasks, helpers: ["nn_sgemv", ...eh], args: [inArg("x0", 0), inArg("x1", 1), ...extra, outArg("y0", 0)], body }] };
  }
  const fx = { ...(bias ? { bias: { mode: 2 as const, ptr: "x2" } } : {}), ...(epi ? { epi } : {}) };
  const pk = packedSize(K, N);
  const pack: KernelSpec = {
    label: "pack", tasks: nbB * K, helpers: ["nn_spack"], args: [inArg("x1", 1), scratchArg("s0", 0)], prepare: true,
    body: `for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t bb = t / ${K}, k = t % ${K};
  infc_spack_row(x1 + t * ${N}, ${N}, 0, ${K}, s0 + bb * ${pk} + k * INFC_NR);
}`,
  };
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
    ? { label: "pack", tasks: NP, helpers: ["nn_spack"], args: [inArg("x1", 1), scratchArg("s0", 0)], prepare: true, body: `for (int64_t t = task_begin; t < task_end; t++) for (int64_t jp = t * ${SG_NR} / INFC_NR; jp < (t + 1) * ${SG_NR} / INFC_NR; jp++) infc_spack_trans_panel(x1, ${K}, ${N}, ${K}, jp, s0);` }
    : { label: "pack", tasks: K, helpers: ["nn_spack"], args: [inArg("x1", 1), scratchArg("s0", 0)], prepare: true, body: `for (int64_t t = task_begin; t < task_end; t++) infc_spack_row(x1 + t * ${N}, ${N}, 0, ${K}, s0 + t * INFC_NR);` };
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
