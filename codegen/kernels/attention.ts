/**
 * C kernels: attention family (Attention, RotaryEmbedding, LinearAttention, CausalConvWithState).
 * Attention takes the f32 fast path of attention-f32.ts when it applies; this general emitter
 * follows the reference interpreter step by step (f64 arithmetic rounded like the reference).
 */
import type { Emitter, Helper, KernelSpec, ScratchSpec } from "../kernel.ts";
import type { OpKind } from "../../ir/ops.ts";
import type { DType } from "../../ir/dtype.ts";
import { stridesOf } from "./common.ts";
import { convs, dlit, ilit, indent, ld, offset, rnd, st } from "./quant-common.ts";
import { CAUSAL_CONV, LINEAR_ATTENTION, ROTARY } from "./attention-more.ts";
import { ATTENTION_F32_HELPERS, attentionF32 } from "./attention-f32.ts";

/** Rows of scores at most this long live on the stack; longer ones use a scratch buffer. */
const STACK_ROW = 1024;

const attention: Emitter = (n) => {
  const fast = attentionF32(n);
  if (fast) return fast;
  const { attrs, inputs, outputs, r, fail } = n;
  const Q = inputs[0]!;
  const K = inputs[1]!;
  const V = inputs[2]!;
  const mask = inputs[3];
  const pastK = inputs[4];
  const pastV = inputs[5];
  const nonpad = inputs[6];
  if ((pastK === undefined) !== (pastV === undefined)) fail("past_key and past_value must be given together");
  if (nonpad && pastK) fail("nonpad_kv_seqlen cannot be combined with past_key/past_value");
  const rank = Q.shape.length;
  if ((rank !== 3 && rank !== 4) || K.shape.length !== rank || V.shape.length !== rank) fail("Q, K and V must all be rank 3 or all rank 4");
  const T = Q.dtype;
  const B = Q.shape[0]!;
  let qH: number, kvH: number, Lq: number, Lk: number, Dq: number, Dk: number, Dv: number;
  // element offsets of (b, h, l, d) in Q, K, V
  let qOff: (b: string, h: string, l: string, d: string) => string;
  let kOff: (b: string, h: string, l: string, d: string) => string;
  let vOff: (b: string, h: string, l: string, d: string) => string;
  if (rank === 3) {
    if (!attrs.has("q_num_heads") || !attrs.has("kv_num_heads")) fail("3-D inputs need the q_num_heads and kv_num_heads attributes");
    qH = attrs.int("q_num_heads");
    kvH = attrs.int("kv_num_heads");
    Lq = Q.shape[1]!;
    Lk = K.shape[1]!;
    if (qH <= 0 || kvH <= 0 || Q.shape[2]! % qH || K.shape[2]! % kvH || V.shape[2]! % kvH) fail("hidden sizes must divide by the head counts");
    Dq = Q.shape[2]! / qH;
    Dk = K.shape[2]! / kvH;
    Dv = V.shape[2]! / kvH;
    const [lq, lk, hq, hk, dq, dk, dv] = [Lq, Lk, qH, kvH, Dq, Dk, Dv];
    qOff = (b, h, l, d) => offset([B, lq, hq, dq], [b, l, h, d]);
    kOff = (b, h, l, d) => offset([B, lk, hk, dk], [b, l, h, d]);
    vOff = (b, h, l, d) => offset([B, lk, hk, dv], [b, l, h, d]);
  } else {
    [qH, Lq, Dq] = [Q.shape[1]!, Q.shape[2]!, Q.shape[3]!];
    [kvH, Lk, Dk] = [K.shape[1]!, K.shape[2]!, K.shape[3]!];
    Dv = V.shape[3]!;
    if (V.shape[1] !== kvH || V.shape[2] !== Lk) fail("V shape does not match K shape");
    const [qs, ks, vs] = [Q.shape, K.shape, V.shape];
    qOff = (b, h, l, d) => offset(qs, [b, h, l, d]);
    kOff = (b, h, l, d) => offset(ks, [b, h, l, d]);
    vOff = (b, h, l, d) => offset(vs, [b, h, l, d]);
  }
  if (Dq !== Dk) fail(`Q head size ${Dq} does not match K head size ${Dk}`);
  if (qH % kvH !== 0) fail(`q_num_heads ${qH} must be a multiple of kv_num_heads ${kvH}`);
  const reps = qH / kvH;
  const P = pastK ? pastK.shape[2]! : 0;
  const S = P + Lk;
  if (pastK && (pastK.shape.length !== 4 || pastK.shape[3] !== Dk)) fail("past_key shape mismatch");
  if (pastV && (pastV.shape.length !== 4 || pastV.shape[3] !== Dv || pastV.shape[2] !== P)) fail("past_value shape mismatch");
  // element (b, kh, j, d) of the concatenated K / V, as a double
  const kvAt = (which: "k" | "v", b: string, h: string, j: string, d: string): string => {
    const cur = which === "k" ? "x1" : "x2";
    const curT = which === "k" ? K.dtype : V.dtype;
    const D = which === "k" ? Dk : Dv;
    const curOff = which === "k" ? kOff : vOff;
    if (!P) return ld(r, curT, `${cur}[${curOff(b, h, j, d)}]`);
    const past = which === "k" ? "x4" : "x5";
    const pT = which === "k" ? pastK!.dtype : pastV!.dtype;
    return `(${j} < ${P} ? ${ld(r, pT, `${past}[${offset([B, kvH, P, D], [b, h, j, d])}]`)} : ${ld(r, curT, `${cur}[${curOff(b, h, `${j} - ${P}`, d)}]`)})`;
  };

  const scale = attrs.has("scale") ? attrs.float("scale") : 1 / Math.sqrt(Dq);
  const sq = Math.sqrt(scale);
  const causal = attrs.int("is_causal") !== 0;
  const left = attrs.int("left_window_size");
  const right = attrs.int("right_window_size");
  const softcap = attrs.float("softcap");
  const mode = attrs.int("qk_matmul_output_mode");
  let sp: DType = T;
  if (attrs.has("softmax_precision")) {
    const d = attrs.dtype("softmax_precision");
    if (d !== "f32" && d !== "f16" && d !== "f64" && d !== "bf16") fail(`softmax_precision must be float, float16, double or bfloat16, found ${d}`);
    sp = d;
  }
  const R = (e: string): string => rnd(r, T, e);
  const RS = (e: string): string => rnd(r, sp, e);

  // mask offset of (b, h, i)
  let maskExpr = "";
  if (mask) {
    const ms = mask.shape;
    if (ms.length < 1 || ms.length > 4) fail(`attn_mask must have rank 1 to 4, found ${ms.length}`);
    const mLast = ms[ms.length - 1]!;
    if (mLast > S) fail(`attn_mask last dim ${mLast} exceeds the total sequence length ${S}`);
    const full = [B, qH, Lq];
    const mst = stridesOf(ms);
    const lead = ms.length - 1;
    const coords = ["b", "h", "i"];
    const terms: string[] = [];
    for (let d = 0; d < lead; d++) {
      const fd = full[3 - lead + d]!;
      if (ms[d] !== 1 && ms[d] !== fd) fail(`attn_mask shape [${ms.join(",")}] does not broadcast`);
      if (ms[d] !== 1) terms.push(`${coords[3 - lead + d]} * ${mst[d]}`);
    }
    const mo = terms.length ? terms.join(" + ") : "0";
    const mv = `x3[${mo} + j]`;
    const val = mask.dtype === "bool" ? `(${mv} ? 0.0 : -(double)INFINITY)` : ld(r, mask.dtype, mv);
    maskExpr = mLast >= S ? `x = ${val};` : `x = j < ${mLast} ? ${val} : -(double)INFINITY;`;
  }
  const npAt = (b: string): string => {
    if (!nonpad) return "";
    if (nonpad.size !== B) fail(`nonpad_kv_seqlen must have ${B} elements`);
    if (nonpad.const) {
      const vals = Array.from(nonpad.const.data, (v) => ilit(Number(v)));
      return B === 1 ? vals[0]! : `((const int64_t[]){${vals.join(", ")}})[${b}]`;
    }
    return `(int64_t)x6[${b}]`;
  };
  const offB = nonpad ? `${npAt("b")} - ${Lq}` : String(P);
  const biasLines: string[] = ["double x = 0.0;"];
  if (maskExpr) biasLines.push(maskExpr);
  const needDiff = causal || left >= 0 || right >= 0;
  if (needDiff) biasLines.push(`const int64_t diff = i + (${offB}) - j;`);
  if (causal) biasLines.push("if (diff < 0) x += -(double)INFINITY;");
  if (left >= 0) biasLines.push(`if (diff > ${left}) x += -(double)INFINITY;`);
  if (right >= 0) biasLines.push(`if (-diff > ${right}) x += -(double)INFINITY;`);
  if (nonpad) biasLines.push(`if (j >= ${npAt("b")}) x += -(double)INFINITY;`);
  biasLines.push(`const double bias = ${R("x")};`);

  const nOut = outputs.length;
  const onStack = S <= STACK_ROW;
  const scratch: ScratchSpec[] = onStack ? [] : [{ dtype: "f64", count: B * qH * Lq * S }];
  const qkOut = nOut > 3 ? outputs[3]! : undefined;
  const yOff = rank === 3 ? offset([B, Lq, qH, Dv], ["b", "i", "h", "d"]) : offset([B, qH, Lq, Dv], ["b", "h", "i", "d"]);
  const qkIdx = `t * ${S} + j`;

  const lines: string[] = [
    `for (int64_t t = task_begin; t < task_end; t++) {`,
    `  const int64_t b = t / ${qH * Lq}, h = (t / ${Lq}) % ${qH}, i = t % ${Lq}, kh = h / ${reps};`,
    `  (void)b; (void)h; (void)i; (void)kh;`,
    onStack ? `  double row[${S}];` : `  double* row = s0 + t * ${S};`,
    `  double qv[${Dq}];`,
    `  for (int64_t d = 0; d < ${Dq}; d++) qv[d] = ${R(`${ld(r, T, `x0[${qOff("b", "h", "i", "d")}]`)} * ${dlit(sq)}`)};`,
    `  int all_masked = 1;`,
    `  for (int64_t j = 0; j < ${S}; j++) {`,
    `    double acc = 0.0;`,
    `    for (int64_t d = 0; d < ${Dq}; d++) acc += qv[d] * ${R(`${kvAt("k", "b", "kh", "j", "d")} * ${dlit(sq)}`)};`,
    `    double s = ${R("acc")};`,
    ...(softcap > 0 ? [`    s = ${R(`${R(`tanh(${R(`s / ${dlit(softcap)}`)})`)} * ${dlit(softcap)}`)};`] : []),
    ...biasLines.map((l) => `    ${l}`),
    `    const double wb = ${R("s + bias")};`,
    ...(qkOut && mode !== 3 ? [`    y3[${qkIdx}] = ${st(r, T, mode === 2 ? "wb" : "s")};`] : []),
    `    row[j] = ${RS("wb")};`,
    `    if (bias != -(double)INFINITY) all_masked = 0;`,
    `  }`,
    `  double mx = -(double)INFINITY;`,
    `  for (int64_t j = 0; j < ${S}; j++) if (row[j] > mx || row[j] != row[j]) mx = row[j];`,
    `  const double safe = mx == -(double)INFINITY ? 0.0 : mx;`,
    `  double sum = 0.0;`,
    `  for (int64_t j = 0; j < ${S}; j++) { const double e = ${RS(`exp(${RS("row[j] - safe")})`)}; row[j] = e; sum += e; }`,
    `  sum = ${RS("sum")};`,
    `  if (sum == 0.0) sum = 1.0;`,
    `  for (int64_t j = 0; j < ${S}; j++) row[j] = all_masked ? 0.0 : ${RS("row[j] / sum")};`,
    ...(qkOut && mode === 3 ? [`  for (int64_t j = 0; j < ${S}; j++) y3[${qkIdx}] = ${st(r, T, "row[j]")};`] : []),
    `  for (int64_t d = 0; d < ${Dv}; d++) {`,
    `    double acc = 0.0;`,
    `    for (int64_t j = 0; j < ${S}; j++) acc += row[j] * ${kvAt("v", "b", "kh", "j", "d")};`,
    `    y0[${yOff}] = ${st(r, T, "acc")};`,
    `  }`,
    `}`,
  ];
  const helpers = convs(r, T, K.dtype, V.dtype, mask?.dtype === "bool" ? undefined : mask?.dtype, pastK?.dtype, pastV?.dtype, sp);
  const kernels: KernelSpec[] = [];
  // present key / value: [B, kvH, S, D]
  const present = (which: "k" | "v", o: number): void => {
    const out = outputs[o]!;
    const D = which === "k" ? Dk : Dv;
    const src = which === "k" ? K : V;
    const past = which === "k" ? pastK : pastV;
    const curOff = which === "k" ? kOff : vOff;
    const conv = (dt: DType, e: string): string => (dt === out.dtype ? e : st(r, out.dtype, ld(r, dt, e)));
    const body = [
      `for (int64_t t = task_begin; t < task_end; t++) {`,
      `  const int64_t b = t / ${kvH * S}, h = (t / ${S}) % ${kvH}, j = t % ${S};`,
      `  (void)b; (void)h;`,
      `  for (int64_t d = 0; d < ${D}; d++) {`,
      P
        ? `    y${o}[t * ${D} + d] = j < ${P} ? ${conv(past!.dtype, `x${which === "k" ? 4 : 5}[${offset([B, kvH, P, D], ["b", "h", "j", "d"])}]`)} : ${conv(src.dtype, `x${which === "k" ? 1 : 2}[${curOff("b", "h", `j - ${P}`, "d")}]`)};`
        : `    y${o}[t * ${D} + d] = ${conv(src.dtype, `x${which === "k" ? 1 : 2}[${curOff("b", "h", "j", "d")}]`)};`,
      `  }`,
      `}`,
    ].join("\n");
    kernels.push({ label: which === "k" ? "present_key" : "present_value", tasks: B * kvH * S, body, helpers: convs(r, out.dtype, src.dtype, past?.dtype) });
  };
  if (nOut > 1) present("k", 1);
  if (nOut > 2) present("v", 2);
  const args = [
    ...inputs.flatMap((x, i) => (x ? [{ name: `x${i}`, ref: { kind: "in" as const, index: i } }] : [])),
    { name: "y0", ref: { kind: "out" as const, index: 0 } },
    ...(qkOut ? [{ name: "y3", ref: { kind: "out" as const, index: 3 } }] : []),
    ...(onStack ? [] : [{ name: "s0", ref: { kind: "scratch" as const, index: 0 } }]),
  ];
  kernels.push({ label: "attention", args, tasks: B * qH * Lq, body: lines.join("\n"), helpers });
  void indent;
  return { kernels, scratch };
};

export const ATTENTION_KERNELS: Partial<Record<OpKind, Emitter>> = {
  Attention: attention,
  RotaryEmbedding: ROTARY,
  LinearAttention: LINEAR_ATTENTION,
  CausalConvWithState: CAUSAL_CONV,
};

export const ATTENTION_HELPERS: Record<string, Helper> = { ...ATTENTION_F32_HELPERS };
