/**
 * C kernels of the reduce family: normalizations (LayerNormalization, RMSNormalization,
 * BatchNormalization, InstanceNormalization, GroupNormalization, LpNormalization,
 * MeanVarianceNormalization, LRN) and losses (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss).
 * Statistics accumulate in double (f32 LayerNormalization / RMSNormalization: in vectors of float
 * lanes folded into double, see layerNormF32); the per-element affine step runs in the compute type.
 */
import type { Emitter, EmitNode, KernelArg, KernelSpec, Lowered, TensorInfo } from "../kernel.ts";
import type { OpKind } from "../../ir/ops.ts";
import {
  bcastStrides, coalesce, convHelpers, dbl, indent, laneReduce, nestedLoops, normAxis, offsetOf, prod, rowLoop, splitAt,
} from "./reduce-util.ts";

const inArg = (name: string, index: number): KernelArg => ({ name, ref: { kind: "in", index } });
const outArg = (name: string, index: number): KernelArg => ({ name, ref: { kind: "out", index } });
const scratchArg = (name: string, index: number): KernelArg => ({ name, ref: { kind: "scratch", index } });

/**
 * The offset into a parameter `p` (broadcast right-aligned to `shape`) of the element at offset
 * `k` within a row covering dims [axis, rank), or over the whole tensor from `j` when `p` varies
 * along the leading dims too.
 */
function paramOffset(p: readonly number[], shape: readonly number[], axis: number, k: string, j: string): string {
  let first = 0;
  while (first < p.length && p[first] === 1) first++;
  const trimmed = p.slice(first);
  const tail = shape.slice(axis);
  if (trimmed.length <= tail.length) return offsetOf(k, tail, bcastStrides(trimmed, tail));
  return offsetOf(j, shape, bcastStrides(p, shape));
}

// ---------------------------------------------------------------------------------------------
// LayerNormalization / RMSNormalization
//
// One task per row (the normalized dims [axis, rank) flattened); the runtime hands each worker a
// contiguous group of rows. f32 rows take the fast path below; other dtypes the generic one.

/** The C vector type of the f32 fast path: 16 floats (two AVX2 registers, one AVX-512 register). */
const LN_VW = 16;
/** Independent accumulators per reduction (4 × 16 lanes), so the adds pipeline. */
const LN_NA = 4;
/** Vector lane sums are folded into the double total after at most this many terms per lane. */
const LN_LANE_TERMS = 64;
const LN_VEC_IF = "#if defined(__GNUC__) && !defined(INFC_NO_VECTOR)";

/**
 * One sum over a row: `vterm(acc, v)` is the statement adding the term of vector v to the vector
 * accumulator acc, `sterm(e)` the float term of the element expression e.
 */
interface RowSum {
  readonly name: string;
  readonly vterm: (acc: string, v: string) => string;
  readonly sterm: (e: string) => string;
}

/**
 * The statements computing the double sums `sums` (declared here) over the row `xr[0, len)` in one
 * pass: under GCC/Clang through LN_NA vector accumulators of LN_VW floats (shared among the sums),
 * folded into double per chunk of LN_LANE_TERMS terms per lane; otherwise (or for rows shorter
 * than one vector) through laneReduce's 8 float lanes.
 */
function rowSums(len: number, sums: readonly RowSum[]): string {
  const scalar = sums.map((q) => laneReduce("double", q.name, "0.0", "float", "0.0f", len, (a, k) => `${a} += ${q.sterm(`xr[${k}]`)};`, (a, v) => `${a} += ${v};`));
  if (len < LN_VW) return scalar.join("\n");
  const na = Math.max(1, LN_NA / sums.length);
  const step = LN_VW * na;
  const chunk = step * LN_LANE_TERMS;
  const chunked = len > chunk;
  const [c0, c1] = chunked ? ["c0", "c1"] : ["0", String(len)];
  const acc = (q: number, i: number): string => `a${q}_${i}`;
  const all = (f: (q: RowSum, qi: number) => string): string => sums.map(f).join(" ");
  const tree = (q: number): string => {
    const xs = Array.from({ length: na }, (_, i) => acc(q, i));
    while (xs.length > 1) xs.splice(0, xs.length, ...Array.from({ length: xs.length / 2 }, (_, i) => `(${xs[2 * i]} + ${xs[2 * i + 1]})`));
    return xs[0]!;
  };
  const inner = [
    `infc_ln_vf ${sums.flatMap((_, q) => Array.from({ length: na }, (_, i) => `${acc(q, i)} = {0}`)).join(", ")};`,
    `int64_t k = ${c0};`,
    `for (; k + ${step} <= ${c1}; k += ${step}) {`,
    ...Array.from({ length: na }, (_, i) => `  { infc_ln_vf v; memcpy(&v, xr + k${i ? ` + ${i * LN_VW}` : ""}, sizeof v); ${all((q, qi) => q.vterm(acc(qi, i), "v"))} }`),
    `}`,
    ...(chunked || len % step >= LN_VW
      ? [`for (; k + ${LN_VW} <= ${c1}; k += ${LN_VW}) { infc_ln_vf v; memcpy(&v, xr + k, sizeof v); ${all((q, qi) => q.vterm(acc(qi, 0), "v"))} }`]
      : []),
    ...sums.flatMap((q, qi) => [
      `{`,
      `  const infc_ln_vf tv = ${tree(qi)};`,
      `  float h[${LN_VW}];`,
      `  memcpy(h, &tv, sizeof h);`,
      `  for (int j = 0; j < 8; j++) h[j] += h[j + 8];`,
      `  ${q.name} += (((double)h[0] + h[1]) + ((double)h[2] + h[3])) + (((double)h[4] + h[5]) + ((double)h[6] + h[7]));`,
      `}`,
    ]),
    ...(chunked || len % LN_VW ? [`for (; k < ${c1}; k++) { ${all((q) => `${q.name} += ${q.sterm("xr[k]")};`)} }`] : []),
  ];
  const vec = chunked
    ? [`for (int64_t c0 = 0; c0 < ${len}; c0 += ${chunk}) {`, `  const int64_t c1 = c0 + ${chunk} < ${len} ? c0 + ${chunk} : ${len};`, indent(inner.join("\n")), `}`]
    : [`{`, indent(inner.join("\n")), `}`];
  return [LN_VEC_IF, `double ${sums.map((q) => `${q.name} = 0.0`).join(", ")};`, ...vec, `#else`, ...scalar, `#endif`].join("\n");
}

/** How a scale/bias is read along a row: contiguous (`k`), one value (`0`), or another offset. */
function paramRead(name: string, t: TensorInfo | undefined, x: TensorInfo, axis: number): { s: string; v?: string } | undefined {
  if (!t) return undefined;
  const off = paramOffset(t.shape, x.shape, axis, "k", "(base + k)");
  if (off === "k") return { s: `${name}[k]`, v: `memcpy(&${name}v, ${name} + k, sizeof ${name}v);` };
  if (off === "0") return { s: `${name}[0]`, v: "" };
  return { s: `${name}[${off}]` };
}

/**
 * The f32 fast path, per row (the passes after the first read it from L1), each pass vectorized
 * with several accumulators:
 * 1. (LayerNorm) mf = Σx / n rounded to f32 — only a pivot, so its error does not matter;
 * 2. Σd and Σd² of d = x − mf (RMSNorm: Σx²): d is small and exact when x is near mf, so these
 *    stay accurate for rows with a large offset, where Σx alone would not; then dm = Σd / n,
 *    mean = mf + dm and var = Σd² / n − dm²;
 * 3. y = ((x − mf) − dm) · invstd · scale + bias.
 */
function layerNormF32(n: EmitNode, rms: boolean, axis: number, outer: number, len: number): Lowered {
  const { r } = n;
  const x = n.inputs[0]!;
  const scale = n.inputs[1]!;
  const bias = rms ? undefined : n.inputs[2];
  const mean = n.outputs[1];
  const inv = n.outputs[2];
  const eps = n.attrs.float("epsilon");
  const g = paramRead("x1", scale, x, axis)!;
  const b = paramRead("x2", bias, x, axis);
  const lines = [
    LN_VEC_IF,
    `typedef float infc_ln_vf __attribute__((vector_size(${LN_VW * 4})));`,
    `#endif`,
    `for (int64_t t = task_begin; t < task_end; t++) {`,
  ];
  const row = [
    `const int64_t base = t * ${len};`,
    `const float* restrict xr = x0 + base;`,
    `float* restrict yr = y0 + base;`,
  ];
  if (rms) {
    row.push(
      rowSums(len, [{ name: "q", vterm: (a, v) => `${a} += ${v} * ${v};`, sterm: (e) => `${e} * ${e}` }]),
      `const double var = q / ${dbl(len)};`,
    );
  } else {
    row.push(
      rowSums(len, [{ name: "s", vterm: (a, v) => `${a} += ${v};`, sterm: (e) => e }]),
      `const float mf = (float)(s / ${dbl(len)});`,
      rowSums(len, [
        { name: "sd", vterm: (a, v) => `${a} += ${v} - mf;`, sterm: (e) => `(${e} - mf)` },
        { name: "q", vterm: (a, v) => `{ const infc_ln_vf d = ${v} - mf; ${a} += d * d; }`, sterm: (e) => `(${e} - mf) * (${e} - mf)` },
      ]),
      `const double dm = sd / ${dbl(len)}, mean = (double)mf + dm;`,
      `double var = q / ${dbl(len)} - dm * dm;`,
      `if (var < 0.0) var = 0.0;`,
    );
  }
  row.push(`const double inv = 1.0 / sqrt(var + ${dbl(eps)});`, `const float is = (float)inv;`);
  if (!rms) row.push(`const float dl = (float)dm;`);
  const centered = (v: string): string => (rms ? v : `((${v} - mf) - dl)`);
  const affine = (v: string, gs: string, bs: string | undefined): string => `${centered(v)} * is * ${gs}${bs ? ` + ${bs}` : ""}`;
  const tail = `for (; k < ${len}; k++) yr[k] = ${affine("xr[k]", g.s, b?.s)};`;
  if (g.v !== undefined && (!b || b.v !== undefined) && len >= LN_VW) {
    const vg = g.v ? "x1v" : "x1[0]";
    const vb = b ? (b.v ? "x2v" : "x2[0]") : undefined;
    row.push(
      LN_VEC_IF,
      `{`,
      `  int64_t k = 0;`,
      `  for (; k + ${LN_VW} <= ${len}; k += ${LN_VW}) {`,
      `    infc_ln_vf v${g.v ? ", x1v" : ""}${b?.v ? ", x2v" : ""};`,
      `    memcpy(&v, xr + k, sizeof v);`,
      ...(g.v ? [`    ${g.v}`] : []),
      ...(b?.v ? [`    ${b.v}`] : []),
      `    v = ${affine("v", vg, vb)};`,
      `    memcpy(yr + k, &v, sizeof v);`,
      `  }`,
      `  ${tail}`,
      `}`,
      `#else`,
      `{ int64_t k = 0; ${tail} }`,
      `#endif`,
    );
  } else {
    row.push(`{ int64_t k = 0; ${tail} }`);
  }
  if (mean) row.push(`y1[t] = ${r.store(mean.dtype, `(${r.computeType(mean.dtype)})mean`)};`);
  if (inv) row.push(`y2[t] = ${r.store(inv.dtype, `(${r.computeType(inv.dtype)})inv`)};`);
  if (!rms && !mean) row.push(`(void)mean;`);
  lines.push(indent(row.join("\n")), `}`);
  return {
    kernels: [{
      tasks: outer,
      body: lines.join("\n"),
      helpers: convHelpers(r, "f32", scale.dtype, bias?.dtype, mean?.dtype, inv?.dtype),
    }],
  };
}

function layerNorm(rms: boolean): Emitter {
  return (n): Lowered => {
    const { r } = n;
    const x = n.inputs[0]!;
    const scale = n.inputs[1]!;
    const bias = rms ? undefined : n.inputs[2];
    const y = n.outputs[0]!;
    const rank = x.shape.length;
    const axis = normAxis(n, n.attrs.int("axis"), rank);
    const outer = prod(x.shape.slice(0, axis));
    const len = prod(x.shape.slice(axis));
    const eps = n.attrs.float("epsilon");
    const dt = x.dtype;
    const ct = r.computeType(dt);
    if (outer === 0) return { kernels: [] };
    if (dt === "f32" && len > 0 && scale.dtype === "f32" && (!bias || bias.dtype === "f32")) return layerNormF32(n, rms, axis, outer, len);
    const mean = n.outputs[1];
    const inv = n.outputs[2];
    const ld = (name: string, t: TensorInfo, off: string): string => r.load(t.dtype, `${name}[${off}]`);
    const sOff = paramOffset(scale.shape, x.shape, axis, "k", "(base + k)");
    const bOff = bias ? paramOffset(bias.shape, x.shape, axis, "k", "(base + k)") : "";
    const xk = ld("x0", x, "base + k");
    const xAt = (k: string): string => ld("x0", x, `base + ${k}`);
    const affine = `(${xk} - m) * is * ${ld("x1", scale, sOff)}${bias ? ` + ${ld("x2", bias, bOff)}` : ""}`;
    const fold = (a: string, v: string): string => `${a} += ${v};`;
    const lines = [
      `const int64_t base = t * ${len};`,
      ...(rms ? [`const double mean = 0.0;`] : [
        laneReduce("double", "mean", "0.0", ct, "0", len, (a, k) => `${a} += ${xAt(k)};`, fold),
        `mean /= ${dbl(len)};`,
      ]),
      `const ${ct} mf = (${ct})mean;`,
      laneReduce("double", "var", "0.0", ct, "0", len, (a, k) => `{ const ${ct} d = ${xAt(k)} - mf; ${a} += d * d; }`, fold),
      `var /= ${dbl(len)};`,
      `const double inv = 1.0 / sqrt(var + ${dbl(eps)});`,
      `const ${ct} m = mf, is = (${ct})inv;`,
      `for (int64_t k = 0; k < ${len}; k++) y0[base + k] = ${r.store(dt, affine)};`,
    ];
    if (mean) lines.push(`y1[t] = ${r.store(mean.dtype, `(${r.computeType(mean.dtype)})mean`)};`);
    if (inv) lines.push(`y2[t] = ${r.store(inv.dtype, `(${r.computeType(inv.dtype)})inv`)};`);
    const body = `for (int64_t t = task_begin; t < task_end; t++) {\n${indent(lines.join("\n"))}\n}`;
    return {
      kernels: [{
        tasks: outer,
        body,
        helpers: convHelpers(r, dt, scale.dtype, bias?.dtype, mean?.dtype, inv?.dtype, y.dtype),
      }],
    };
  };
}

// ---------------------------------------------------------------------------------------------
// BatchNormalization

const batchNorm: Emitter = (n): Lowered => {
  const { r } = n;
  const [x, scale, bias, inMean, inVar] = [0, 1, 2, 3, 4].map((i) => n.inputs[i]) as TensorInfo[];
  if (!x || !scale || !bias || !inMean || !inVar) return n.fail("expected 5 inputs");
  if (x.shape.length < 2) n.fail(`expected input of rank >= 2 (N, C, ...), found rank ${x.shape.length}`);
  const N = x.shape[0]!;
  const C = x.shape[1]!;
  const sp = prod(x.shape.slice(2));
  const eps = n.attrs.float("epsilon");
  const training = n.attrs.int("training_mode") !== 0;
  const dt = x.dtype;
  const ct = r.computeType(dt);
  const ld = (name: string, t: TensorInfo, off: string): string => r.load(t.dtype, `${name}[${off}]`);
  const helpers = convHelpers(r, dt, scale.dtype, bias.dtype, inMean.dtype, inVar.dtype, ...n.outputs.map((o) => o.dtype));
  const kernels: KernelSpec[] = [];
  let meanExpr = ld("x3", inMean, "ch");
  let varExpr = ld("x4", inVar, "ch");
  const normArgs: KernelArg[] = [inArg("x0", 0), inArg("x1", 1), inArg("x2", 2), inArg("x3", 3), inArg("x4", 4), outArg("y0", 0)];
  const scratch = [];
  if (training) {
    const mom = n.attrs.float("momentum");
    const rm = n.outputs[1];
    const rv = n.outputs[2];
    const cnt = N * sp;
    const lines = [
      `for (int64_t ch = task_begin; ch < task_end; ch++) {`,
      `  double s = 0.0;`,
      `  for (int64_t b = 0; b < ${N}; b++) for (int64_t k = 0; k < ${sp}; k++) s += ${ld("x0", x, `(b * ${C} + ch) * ${sp} + k`)};`,
      `  const double m = s / ${dbl(cnt)};`,
      `  double q = 0.0;`,
      `  for (int64_t b = 0; b < ${N}; b++) for (int64_t k = 0; k < ${sp}; k++) { const double d = ${ld("x0", x, `(b * ${C} + ch) * ${sp} + k`)} - m; q += d * d; }`,
      `  const double v = q / ${dbl(cnt)};`,
      `  s0[2 * ch] = m;`,
      `  s0[2 * ch + 1] = v;`,
    ];
    const args: KernelArg[] = [inArg("x0", 0), inArg("x3", 3), inArg("x4", 4), scratchArg("s0", 0)];
    if (rm) {
      lines.push(`  y1[ch] = ${r.store(rm.dtype, `(${r.computeType(rm.dtype)})(${ld("x3", inMean, "ch")} * ${dbl(mom)} + m * ${dbl(1 - mom)})`)};`);
      args.push(outArg("y1", 1));
    }
    if (rv) {
      lines.push(`  y2[ch] = ${r.store(rv.dtype, `(${r.computeType(rv.dtype)})(${ld("x4", inVar, "ch")} * ${dbl(mom)} + v * ${dbl(1 - mom)})`)};`);
      args.push(outArg("y2", 2));
    }
    lines.push(`}`);
    kernels.push({ label: "batch statistics", tasks: C, body: lines.join("\n"), helpers, args });
    scratch.push({ dtype: "f64" as const, count: 2 * C });
    meanExpr = "s0[2 * ch]";
    varExpr = "s0[2 * ch + 1]";
    normArgs.push(scratchArg("s0", 0));
  }
  const body = [
    `for (int64_t t = task_begin; t < task_end; t++) {`,
    `  const int64_t ch = t % ${C};`,
    `  const double inv = 1.0 / sqrt((double)${varExpr} + ${dbl(eps)});`,
    `  const ${ct} m = (${ct})${meanExpr}, a = (${ct})(inv * ${ld("x1", scale, "ch")}), c = ${ld("x2", bias, "ch")};`,
    `  const int64_t base = t * ${sp};`,
    `  for (int64_t k = 0; k < ${sp}; k++) y0[base + k] = ${r.store(dt, `(${ld("x0", x, "base + k")} - m) * a + c`)};`,
    `}`,
  ].join("\n");
  if (N * C > 0) kernels.push({ tasks: N * C, body, helpers, args: normArgs });
  return { kernels, scratch };
};

// ---------------------------------------------------------------------------------------------
// InstanceNormalization / GroupNormalization

function groupNormEmit(n: EmitNode, groups: number): Lowered {
  const { r } = n;
  const x = n.inputs[0]!;
  const scale = n.inputs[1]!;
  const bias = n.inputs[2]!;
  if (x.shape.length < 2) n.fail(`expected input of rank >= 2 (N, C, ...), found rank ${x.shape.length}`);
  const N = x.shape[0]!;
  const C = x.shape[1]!;
  const sp = prod(x.shape.slice(2));
  if (groups <= 0 || C % groups !== 0) n.fail(`channel count ${C} is not divisible by num_groups ${groups}`);
  const cpg = C / groups;
  const len = cpg * sp;
  const eps = n.attrs.float("epsilon");
  const dt = x.dtype;
  const ct = r.computeType(dt);
  const pIdx = (t: TensorInfo, what: string): string => {
    if (t.size === C) return "ch";
    if (t.size === groups) return "g";
    return n.fail(`${what} must have ${C} elements (one per channel), found shape [${t.shape.join(",")}]`);
  };
  const sI = pIdx(scale, "scale");
  const bI = pIdx(bias, "bias");
  if (N * groups === 0 || len === 0) return { kernels: [] };
  const xk = r.load(dt, "x0[base + k]");
  const body = [
    `for (int64_t t = task_begin; t < task_end; t++) {`,
    `  const int64_t g = t % ${groups}, base = t * ${len};`,
    `  double mean = 0.0;`,
    `  for (int64_t k = 0; k < ${len}; k++) mean += ${xk};`,
    `  mean /= ${dbl(len)};`,
    `  double var = 0.0;`,
    `  for (int64_t k = 0; k < ${len}; k++) { const double d = ${xk} - mean; var += d * d; }`,
    `  var /= ${dbl(len)};`,
    `  const double inv = 1.0 / sqrt(var + ${dbl(eps)});`,
    `  for (int64_t c = 0; c < ${cpg}; c++) {`,
    `    const int64_t ch = g * ${cpg} + c; (void)ch;`,
    `    const ${ct} m = (${ct})mean, a = (${ct})(inv * ${r.load(scale.dtype, `x1[${sI}]`)}), b = ${r.load(bias.dtype, `x2[${bI}]`)};`,
    `    for (int64_t s = 0; s < ${sp}; s++) { const int64_t k = c * ${sp} + s; y0[base + k] = ${r.store(dt, `(${xk} - m) * a + b`)}; }`,
    `  }`,
    `}`,
  ].join("\n");
  return { kernels: [{ tasks: N * groups, body, helpers: convHelpers(r, dt, scale.dtype, bias.dtype) }] };
}

// ---------------------------------------------------------------------------------------------
// LpNormalization / MeanVarianceNormalization / LRN

const lpNorm: Emitter = (n): Lowered => {
  const { r } = n;
  const x = n.inputs[0]!;
  const axis = normAxis(n, n.attrs.int("axis"), x.shape.length);
  const p = n.attrs.int("p");
  if (p !== 1 && p !== 2) n.fail(`p must be 1 or 2, found ${p}`);
  const { outer, len, inner } = splitAt(x.shape, axis);
  if (outer * inner * len === 0) return { kernels: [] };
  const dt = x.dtype;
  const ld = r.load(dt, `x0[base + k * ${inner}]`);
  const body = rowLoop(len, inner, [
    `double s = 0.0;`,
    `for (int64_t k = 0; k < ${len}; k++) { const double v = ${ld}; s += ${p === 1 ? "fabs(v)" : "v * v"}; }`,
    `double norm = ${p === 1 ? "s" : "sqrt(s)"};`,
    `if (norm == 0.0) norm = 1.0;`,
    `for (int64_t k = 0; k < ${len}; k++) y0[base + k * ${inner}] = ${r.store(dt, `(${r.computeType(dt)})(${ld} / norm)`)};`,
  ].join("\n"));
  return { kernels: [{ tasks: outer * inner, body, helpers: convHelpers(r, dt) }] };
};

const mvn: Emitter = (n): Lowered => {
  const { r } = n;
  const x = n.inputs[0]!;
  const rank = x.shape.length;
  const axes = [...new Set(n.attrs.ints("axes").map((a) => normAxis(n, a, rank)))];
  const dims = coalesce(x.shape, (d) => axes.includes(d));
  const kept = dims.filter((d) => !d.reduced);
  const red = dims.filter((d) => d.reduced);
  const m = prod(kept.map((d) => d.size));
  if (x.size === 0) return { kernels: [] };
  const cnt = x.size / m;
  const dt = x.dtype;
  const base = offsetOf("o", kept.map((d) => d.size), kept.map((d) => d.stride));
  const body = [
    `for (int64_t o = task_begin; o < task_end; o++) {`,
    `  double s = 0.0, q = 0.0;`,
    indent(nestedLoops(base, red, (off) => `{ const double v = ${r.load(dt, `x0[${off}]`)}; s += v; q += v * v; }`)),
    `  const double mean = s / ${dbl(cnt)};`,
    `  double var = q / ${dbl(cnt)} - mean * mean;`,
    `  const double den = sqrt(var > 0.0 ? var : 0.0) + 1e-9;`,
    indent(nestedLoops(base, red, (off) => `y0[${off}] = ${r.store(dt, `(${r.computeType(dt)})((${r.load(dt, `x0[${off}]`)} - mean) / den)`)};`)),
    `}`,
  ].join("\n");
  return { kernels: [{ tasks: m, body, helpers: convHelpers(r, dt) }] };
};

const lrn: Emitter = (n): Lowered => {
  const { r } = n;
  const x = n.inputs[0]!;
  if (x.shape.length < 2) n.fail(`expected input of rank >= 2 (N, C, ...), found rank ${x.shape.length}`);
  const size = n.attrs.int("size");
  const alpha = n.attrs.float("alpha");
  const beta = n.attrs.float("beta");
  const bias = n.attrs.float("bias");
  const N = x.shape[0]!;
  const C = x.shape[1]!;
  const sp = prod(x.shape.slice(2));
  const lo = Math.floor((size - 1) / 2);
  const hi = Math.ceil((size - 1) / 2);
  if (x.size === 0) return { kernels: [] };
  const dt = x.dtype;
  const body = [
    `for (int64_t t = task_begin; t < task_end; t++) {`,
    `  const int64_t b = t / ${C}, ch = t % ${C};`,
    `  const int64_t q0 = ch - ${lo} < 0 ? 0 : ch - ${lo}, q1 = ch + ${hi} > ${C - 1} ? ${C - 1} : ch + ${hi};`,
    `  for (int64_t k = 0; k < ${sp}; k++) {`,
    `    double s = 0.0;`,
    `    for (int64_t q = q0; q <= q1; q++) { const double v = ${r.load(dt, `x0[(b * ${C} + q) * ${sp} + k]`)}; s += v * v; }`,
    `    const int64_t j = t * ${sp} + k;`,
    `    y0[j] = ${r.store(dt, `(${r.computeType(dt)})(${r.load(dt, "x0[j]")} / pow(${dbl(bias)} + ${dbl(alpha / size)} * s, ${dbl(beta)}))`)};`,
    `  }`,
    `}`,
  ].join("\n");
  return { kernels: [{ tasks: N * C, body, helpers: convHelpers(r, dt) }] };
};

// ---------------------------------------------------------------------------------------------
// Losses

/**
 * The negative log-likelihood kernel: `lp(off)` reads the log-probability at an offset of the
 * (N, C, d...) input; `lpArg` names the args that provide it.
 */
function nllKernel(n: EmitNode, lp: (off: string) => string, lpArgs: readonly KernelArg[], extraHelpers: readonly string[]): KernelSpec | undefined {
  const { r } = n;
  const x = n.inputs[0]!;
  const target = n.inputs[1]!;
  const weight = n.inputs[2];
  const y = n.outputs[0]!;
  if (x.shape.length < 2) n.fail(`expected input of rank >= 2 (N, C, ...), found rank ${x.shape.length}`);
  const N = x.shape[0]!;
  const C = x.shape[1]!;
  const d = prod(x.shape.slice(2));
  const reduction = n.attrs.string("reduction");
  const ignore = n.attrs.has("ignore_index") ? n.attrs.int("ignore_index") : undefined;
  const yct = r.computeType(y.dtype);
  const args: KernelArg[] = [...lpArgs, inArg("x1", 1), ...(weight ? [inArg("x2", 2)] : []), outArg("y0", 0)];
  const helpers = [...new Set([...extraHelpers, ...convHelpers(r, x.dtype, weight?.dtype, y.dtype)])];
  const per = [
    `const int64_t cls = (int64_t)x1[j];`,
    `double loss = 0.0, w = 0.0;`,
    `if (${ignore !== undefined ? `cls != INT64_C(${ignore}) && ` : ""}cls >= 0 && cls < ${C}) {`,
    `  w = ${weight ? r.load(weight.dtype, "x2[cls]") : "1.0"};`,
    `  loss = -(double)${lp(`((j / ${d}) * ${C} + cls) * ${d} + (j % ${d})`)} * w;`,
    `}`,
  ];
  if (reduction === "none") {
    if (N * d === 0) return undefined;
    const body = `for (int64_t j = task_begin; j < task_end; j++) {\n${indent([...per, `(void)w;`, `y0[j] = ${r.store(y.dtype, `(${yct})loss`)};`].join("\n"))}\n}`;
    return { tasks: N * d, body, helpers, args };
  }
  if (reduction !== "sum" && reduction !== "mean") n.fail(`reduction must be none, sum or mean, found '${reduction}'`);
  const fin = reduction === "mean" ? "s / ws" : "s";
  const body = [
    `double s = 0.0, ws = 0.0;`,
    `for (int64_t j = 0; j < ${N * d}; j++) {`,
    indent([...per, `s += loss;`, `ws += w;`].join("\n")),
    `}`,
    `(void)ws;`,
    `y0[0] = ${r.store(y.dtype, `(${yct})(${fin})`)};`,
  ].join("\n");
  return { tasks: 1, body: `if (task_begin == 0) {\n${indent(body)}\n}`, helpers, args };
}

const nllLoss: Emitter = (n): Lowered => {
  const x = n.inputs[0]!;
  const k = nllKernel(n, (off) => n.r.load(x.dtype, `x0[${off}]`), [inArg("x0", 0)], []);
  return { kernels: k ? [k] : [] };
};

const sceLoss: Emitter = (n): Lowered => {
  const { r } = n;
  const x = n.inputs[0]!;
  if (x.shape.length < 2) n.fail(`expected scores of rank >= 2 (N, C, ...), found rank ${x.shape.length}`);
  const { outer, len, inner } = splitAt(x.shape, 1);
  const logp = n.outputs[1];
  const dt = x.dtype;
  const ld = r.load(dt, `x0[base + k * ${inner}]`);
  const lines = [
    `double mx = -(double)INFINITY;`,
    `for (int64_t k = 0; k < ${len}; k++) { const double v = ${ld}; if (v > mx) mx = v; }`,
    `double s = 0.0;`,
    `for (int64_t k = 0; k < ${len}; k++) s += exp(${ld} - mx);`,
    `const double lse = mx + log(s);`,
    `for (int64_t k = 0; k < ${len}; k++) {`,
    `  const double v = ${ld} - lse;`,
    `  s0[base + k * ${inner}] = v;`,
    ...(logp ? [`  y1[base + k * ${inner}] = ${r.store(logp.dtype, `(${r.computeType(logp.dtype)})v`)};`] : []),
    `}`,
  ];
  const kernels: KernelSpec[] = [];
  if (outer * inner > 0 && len > 0) {
    kernels.push({
      label: "log-softmax",
      tasks: outer * inner,
      body: rowLoop(len, inner, lines.join("\n")),
      helpers: convHelpers(r, dt, logp?.dtype),
      args: [inArg("x0", 0), scratchArg("s0", 0), ...(logp ? [outArg("y1", 1)] : [])],
    });
  }
  const k = nllKernel(n, (off) => `s0[${off}]`, [scratchArg("s0", 0)], []);
  if (k) kernels.push(k);
  return { kernels, scratch: [{ dtype: "f64", count: Math.max(1, x.size) }] };
};

export const REDUCE_NORM_KERNELS: Partial<Record<OpKind, Emitter>> = {
  LayerNormalization: layerNorm(false),
  RMSNormalization: layerNorm(true),
  BatchNormalization: batchNorm,
  InstanceNormalization: (n) => groupNormEmit(n, n.inputs[0]!.shape[1] ?? 0),
  GroupNormalization: (n) => groupNormEmit(n, n.attrs.int("num_groups")),
  LpNormalization: lpNorm,
  MeanVarianceNormalization: mvn,
  LRN: lrn,
  NegativeLogLikelihoodLoss: nllLoss,
  SoftmaxCrossEntropyLoss: sceLoss,
};
