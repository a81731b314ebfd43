/**
 * The f32 fast path of Attention (attention.ts keeps the general emitter): f32 Q/K/V/Y, 3-D
 * [B, S, H·D] or 4-D [B, H, S, D] inputs, grouped heads (q_num_heads a multiple of kv_num_heads),
 * no mask, an f32 additive or a bool mask whose last dim is the key length, is_causal; no past
 * key/value, nonpad_kv_seqlen, softcap, windows, extra outputs, or softmax_precision other than f32.
 * Anything else returns undefined and the general emitter handles it.
 *
 * Two kernels:
 * 1. pack (tasks: batch × kv head): Kᵀ of each head into scratch as D rows of Sp floats (Sp = S
 *    rounded up to 16, zero padded), so the scores are a plain row-major GEMM; V as well (rows of
 *    Dv rounded up to 16) when Dv is not a multiple of 16 — otherwise V rows are read in place.
 * 2. attention (tasks: batch × head × block of QB query rows): scores = Q_blk · Kᵀ (GEMM micro-
 *    kernel, 4 rows × up to 4 vectors of accumulators, FMA), then per row: ·scale, + mask, causal
 *    -inf, max, exp (the branch-free infc_ew_expf, vectorized by the compiler), sum, ·1/sum; then
 *    Y_blk = P · V with the same micro-kernel, stored straight into Y's rows. The score block lives
 *    on the stack (QB·Sp ≤ 8192 floats), or in per-task scratch for long key sequences.
 *
 * Numerics: the scores are rounded once (f32 accumulation in a different order than the
 * reference's exact sum) and scaled after the dot product (the reference scales Q and K by √scale
 * each); exp is ≤ 1.01 ulp; P is normalized by multiplying with 1/sum. A row whose scores are all
 * -inf (fully masked) gives zeros, as in the reference.
 *
 * The micro-kernel uses the nn family's vector types (nn_vec: GCC/Clang vector extensions, 16 lanes
 * with AVX-512, else 8) and has a scalar fallback for other compilers.
 */
import type { EmitNode, Helper, KernelArg, KernelSpec, Lowered, ScratchSpec } from "../kernel.ts";
import { stridesOf } from "./common.ts";
import { f32Lit } from "./elementwise-math.ts";

/** Floats of the score block that may live on the stack (32 KiB). */
const STACK_FLOATS = 8192;
/** Score rows longer than this (padded) are not handled here. */
const MAX_SP = 1 << 16;

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

const ATT_CODE = `
/* attention-f32.ts: C[0:m, 0:n) = A[0:m, 0:kc) · B[0:kc, 0:n) in register tiles of up to 4 rows ×
   INFC_AT_NV vectors; each row of B has n rounded up to INFC_AT_VL readable floats */
#if defined(INFC_VEC)
#define INFC_AT_VL INFC_VL
#if INFC_VL >= 16
#define INFC_AT_NV 4
#else
#define INFC_AT_NV 2
#endif
static inline __attribute__((always_inline)) void infc_at_store(float* restrict c, infc_vf v0, infc_vf v1, infc_vf v2, infc_vf v3, const int nv, int nc) {
  float t[4 * INFC_AT_VL];
  float* o = nc == nv * INFC_AT_VL ? c : t;
  infc_stv(o, v0);
  if (nv > 1) infc_stv(o + INFC_AT_VL, v1);
  if (nv > 2) infc_stv(o + 2 * INFC_AT_VL, v2);
  if (nv > 3) infc_stv(o + 3 * INFC_AT_VL, v3);
  if (o == t) memcpy(c, t, (size_t)nc * sizeof(float));
}
#define INFC_AT_DECL(r) infc_vf c##r##0 = z, c##r##1 = z, c##r##2 = z, c##r##3 = z; const float* a##r = a + (mr > r ? r : 0) * lda;
#define INFC_AT_STEP(r) if (mr > r) { \\
    t = INFC_SPLAT(a##r[k]); \\
    c##r##0 = INFC_FMAV(t, b0, c##r##0); \\
    if (nv > 1) c##r##1 = INFC_FMAV(t, b1, c##r##1); \\
    if (nv > 2) c##r##2 = INFC_FMAV(t, b2, c##r##2); \\
    if (nv > 3) c##r##3 = INFC_FMAV(t, b3, c##r##3); \\
  }
#define INFC_AT_STORE(r) if (mr > r) infc_at_store(c + r * ldc, c##r##0, c##r##1, c##r##2, c##r##3, nv, nc);
static inline __attribute__((always_inline)) void infc_at_ukr(const int mr, const int nv, int64_t kc, const float* restrict a, int64_t lda, const float* restrict b, int64_t ldb, float* restrict c, int64_t ldc, int nc) {
  const infc_vf z = {0};
  INFC_AT_DECL(0) INFC_AT_DECL(1) INFC_AT_DECL(2) INFC_AT_DECL(3)
  for (int64_t k = 0; k < kc; k++) {
    const float* bk = b + k * ldb;
    const infc_vf b0 = infc_ldv(bk);
    const infc_vf b1 = nv > 1 ? infc_ldv(bk + INFC_AT_VL) : z;
    const infc_vf b2 = nv > 2 ? infc_ldv(bk + 2 * INFC_AT_VL) : z;
    const infc_vf b3 = nv > 3 ? infc_ldv(bk + 3 * INFC_AT_VL) : z;
    infc_vf t;
    INFC_AT_STEP(0) INFC_AT_STEP(1) INFC_AT_STEP(2) INFC_AT_STEP(3)
  }
  INFC_AT_STORE(0) INFC_AT_STORE(1) INFC_AT_STORE(2) INFC_AT_STORE(3)
}
/* max and sum of a row of n floats */
static inline float infc_at_max(const float* restrict s, int64_t n) {
  typedef int32_t infc_at_vi __attribute__((vector_size(sizeof(infc_vf))));
  const int64_t nf = n - n % INFC_AT_VL;
  infc_vf m = (infc_vf){0} - INFINITY;
  for (int64_t j = 0; j < nf; j += INFC_AT_VL) {
    const infc_vf x = infc_ldv(s + j);
    const infc_at_vi gt = (infc_at_vi)(x > m);
    m = (infc_vf)(((infc_at_vi)x & gt) | ((infc_at_vi)m & ~gt));
  }
  float r = -INFINITY;
  for (int l = 0; l < INFC_AT_VL; l++) r = m[l] > r ? m[l] : r;
  for (int64_t j = nf; j < n; j++) r = s[j] > r ? s[j] : r;
  return r;
}
static inline float infc_at_sum(const float* restrict s, int64_t n) {
  const int64_t nf = n - n % INFC_AT_VL;
  infc_vf a = (infc_vf){0};
  for (int64_t j = 0; j < nf; j += INFC_AT_VL) a += infc_ldv(s + j);
  float r = 0.0f;
  for (int l = 0; l < INFC_AT_VL; l++) r += a[l];
  for (int64_t j = nf; j < n; j++) r += s[j];
  return r;
}
#else
#define INFC_AT_VL 8
#define INFC_AT_NV 2
static inline void infc_at_ukr(const int mr, const int nv, int64_t kc, const float* restrict a, int64_t lda, const float* restrict b, int64_t ldb, float* restrict c, int64_t ldc, int nc) {
  float acc[4][INFC_AT_NV * INFC_AT_VL];
  (void)nv;
  for (int r = 0; r < mr; r++) for (int j = 0; j < nc; j++) acc[r][j] = 0.0f;
  for (int64_t k = 0; k < kc; k++) {
    for (int r = 0; r < mr; r++) {
      const float av = a[r * lda + k];
      for (int j = 0; j < nc; j++) acc[r][j] += av * b[k * ldb + j];
    }
  }
  for (int r = 0; r < mr; r++) memcpy(c + r * ldc, acc[r], (size_t)nc * sizeof(float));
}
static inline float infc_at_max(const float* restrict s, int64_t n) {
  float r = -INFINITY;
  for (int64_t j = 0; j < n; j++) r = s[j] > r ? s[j] : r;
  return r;
}
static inline float infc_at_sum(const float* restrict s, int64_t n) {
  const int64_t nf = n - n % 8;
  float a[8] = {0};
  for (int64_t j = 0; j < nf; j += 8) for (int l = 0; l < 8; l++) a[l] += s[j + l];
  float r = 0.0f;
  for (int l = 0; l < 8; l++) r += a[l];
  for (int64_t j = nf; j < n; j++) r += s[j];
  return r;
}
#endif
#define INFC_AT_NC (INFC_AT_VL * INFC_AT_NV)
typedef void (*infc_at_fn)(int64_t, const float* restrict, int64_t, const float* restrict, int64_t, float* restrict, int64_t, int);
#define INFC_AT_K(m, v) static void infc_at_ukr_##m##_##v(int64_t kc, const float* restrict a, int64_t lda, const float* restrict b, int64_t ldb, float* restrict c, int64_t ldc, int nc) { infc_at_ukr(m, v, kc, a, lda, b, ldb, c, ldc, nc); }
#define INFC_AT_K4(v) INFC_AT_K(1, v) INFC_AT_K(2, v) INFC_AT_K(3, v) INFC_AT_K(4, v)
INFC_AT_K4(1) INFC_AT_K4(2)
#if INFC_AT_NV > 2
INFC_AT_K4(3) INFC_AT_K4(4)
static const infc_at_fn infc_at_ukrs[4][4] = {
  {infc_at_ukr_1_1, infc_at_ukr_1_2, infc_at_ukr_1_3, infc_at_ukr_1_4}, {infc_at_ukr_2_1, infc_at_ukr_2_2, infc_at_ukr_2_3, infc_at_ukr_2_4},
  {infc_at_ukr_3_1, infc_at_ukr_3_2, infc_at_ukr_3_3, infc_at_ukr_3_4}, {infc_at_ukr_4_1, infc_at_ukr_4_2, infc_at_ukr_4_3, infc_at_ukr_4_4}};
#else
static const infc_at_fn infc_at_ukrs[4][2] = {
  {infc_at_ukr_1_1, infc_at_ukr_1_2}, {infc_at_ukr_2_1, infc_at_ukr_2_2}, {infc_at_ukr_3_1, infc_at_ukr_3_2}, {infc_at_ukr_4_1, infc_at_ukr_4_2}};
#endif
static void infc_at_mm(int64_t m, int64_t n, int64_t kc, const float* restrict a, int64_t lda, const float* restrict b, int64_t ldb, float* restrict c, int64_t ldc) {
  for (int64_t j0 = 0; j0 < n; j0 += INFC_AT_NC) {
    const int nc = (int)(n - j0 < INFC_AT_NC ? n - j0 : INFC_AT_NC);
    const int nv = (nc + INFC_AT_VL - 1) / INFC_AT_VL;
    for (int64_t i0 = 0; i0 < m; i0 += 4) {
      const int mr = (int)(m - i0 < 4 ? m - i0 : 4);
      infc_at_ukrs[mr - 1][nv - 1](kc, a + i0 * lda, lda, b + j0, ldb, c + i0 * ldc + j0, ldc, nc);
    }
  }
}`;

export const ATTENTION_F32_HELPERS: Record<string, Helper> = {
  att_f32: { deps: ["nn_vec"], code: ATT_CODE },
};

/** The f32 fast path for `n`, or undefined when the node needs the general emitter. */
export function attentionF32(n: EmitNode): Lowered | undefined {
  const { attrs, inputs, outputs } = n;
  const [Q, K, V, mask] = inputs;
  if (!Q || !K || !V || outputs.length !== 1 || inputs.slice(4).some((x) => x !== undefined)) return undefined;
  if ([Q, K, V, outputs[0]!].some((t) => t.dtype !== "f32" || t.size === 0)) return undefined;
  if (attrs.float("softcap") !== 0 || attrs.int("left_window_size") !== -1 || attrs.int("right_window_size") !== -1) return undefined;
  if (attrs.has("softmax_precision") && attrs.dtype("softmax_precision") !== "f32") return undefined;
  const rank = Q.shape.length;
  if ((rank !== 3 && rank !== 4) || K.shape.length !== rank || V.shape.length !== rank) return undefined;
  const B = Q.shape[0]!;
  let qH: number, kvH: number, Lq: number, S: number, D: number, Dv: number;
  if (rank === 3) {
    if (!attrs.has("q_num_heads") || !attrs.has("kv_num_heads")) return undefined;
    [qH, kvH, Lq, S] = [attrs.int("q_num_heads"), attrs.int("kv_num_heads"), Q.shape[1]!, K.shape[1]!];
    if (qH <= 0 || kvH <= 0 || Q.shape[2]! % qH || K.shape[2]! % kvH || V.shape[2]! % kvH) return undefined;
    [D, Dv] = [Q.shape[2]! / qH, V.shape[2]! / kvH];
    if (K.shape[2]! / kvH !== D || V.shape[1] !== S) return undefined;
  } else {
    [qH, Lq, D, kvH, S, Dv] = [Q.shape[1]!, Q.shape[2]!, Q.shape[3]!, K.shape[1]!, K.shape[2]!, V.shape[3]!];
    if (K.shape[3] !== D || V.shape[1] !== kvH || V.shape[2] !== S) return undefined;
  }
  if (K.shape[0] !== B || V.shape[0] !== B || qH % kvH !== 0) return undefined;
  const reps = qH / kvH;
  // the mask: its last dim must be the key length; leading dims broadcast over [B, qH, Lq]
  let maskOff = "";
  if (mask) {
    const ms = mask.shape;
    if ((mask.dtype !== "f32" && mask.dtype !== "bool") || ms.length < 1 || ms.length > 4 || ms[ms.length - 1] !== S) return undefined;
    const full = [B, qH, Lq];
    const mst = stridesOf(ms);
    const lead = ms.length - 1;
    const terms: string[] = [];
    for (let d = 0; d < lead; d++) {
      const fd = full[3 - lead + d]!;
      if (ms[d] !== 1 && ms[d] !== fd) return undefined;
      if (ms[d] !== 1) terms.push(`${["b", "h", "i"][3 - lead + d]} * ${mst[d]}`);
    }
    maskOff = terms.length ? terms.join(" + ") : "0";
  }
  const Sp = roundUp(S, 16);
  if (Sp > MAX_SP) return undefined;
  const causal = attrs.int("is_causal") !== 0;
  const scale = Math.fround(attrs.has("scale") ? attrs.float("scale") : 1 / Math.sqrt(D));

  // element offsets: row (b, h, l) of Q/K/V/Y and the distance between consecutive rows of a head
  const rowOf = (H: number, L: number, E: number, b: string, h: string, l: string): string => {
    const [dims, vars] = rank === 3 ? [[B, L, H], [b, l, h]] : [[B, H, L], [b, h, l]];
    const st = stridesOf(dims).map((x) => x * E);
    const terms = vars.flatMap((v, k) => (dims[k] === 1 || v === "0" ? [] : [st[k] === 1 ? v : `${v} * ${st[k]}`]));
    return terms.length ? `(${terms.join(" + ")})` : "0";
  };
  const ld = (H: number, E: number): number => (rank === 3 ? H * E : E);
  const packV = Dv % 16 !== 0;
  const Dvp = roundUp(Dv, 16);

  // rows per task: a multiple of 4 (the micro-kernel's rows) up to 32, smaller while that leaves
  // fewer than 32 tasks; the score block on the stack when it fits
  let QB = Math.min(32, roundUp(Lq, 4));
  while (QB > 8 && B * qH * Math.ceil(Lq / QB) < 32) QB /= 2;
  QB = roundUp(QB, 4);
  let onStack = QB * Sp <= STACK_FLOATS;
  if (!onStack && Sp <= STACK_FLOATS) {
    QB = Math.max(1, Math.floor(STACK_FLOATS / Sp));
    onStack = true;
  }
  const nBlk = Math.ceil(Lq / QB);
  const tasks = B * qH * nBlk;

  const scratch: ScratchSpec[] = [{ dtype: "f32", count: B * kvH * D * Sp }];
  if (packV) scratch.push({ dtype: "f32", count: B * kvH * S * Dvp });
  const scoresScratch = onStack ? -1 : scratch.length;
  if (!onStack) scratch.push({ dtype: "f32", count: tasks * QB * Sp });

  const packBody = [
    `for (int64_t t = task_begin; t < task_end; t++) {`,
    `  const int64_t b = t / ${kvH}, kh = t % ${kvH};`,
    `  (void)b; (void)kh;`,
    `  float* restrict kt = s0 + t * ${D * Sp};`,
    `  for (int64_t j = 0; j < ${S}; j++) {`,
    `    const float* restrict kr = x1 + ${rowOf(kvH, S, D, "b", "kh", "j")};`,
    `    for (int64_t d = 0; d < ${D}; d++) kt[d * ${Sp} + j] = kr[d];`,
    `  }`,
    ...(Sp > S ? [`  for (int64_t d = 0; d < ${D}; d++) for (int64_t j = ${S}; j < ${Sp}; j++) kt[d * ${Sp} + j] = 0.0f;`] : []),
    ...(packV ? [
      `  float* restrict vp = s1 + t * ${S * Dvp};`,
      `  for (int64_t j = 0; j < ${S}; j++) {`,
      `    memcpy(vp + j * ${Dvp}, x2 + ${rowOf(kvH, S, Dv, "b", "kh", "j")}, ${Dv * 4});`,
      `    for (int64_t e = ${Dv}; e < ${Dvp}; e++) vp[j * ${Dvp} + e] = 0.0f;`,
      `  }`,
    ] : []),
    `}`,
  ].join("\n");

  const maskLine = !mask ? `    for (int64_t j = 0; j < ${S}; j++) s[j] *= ${f32Lit(scale)};`
    : mask.dtype === "bool"
      ? `    for (int64_t j = 0; j < ${S}; j++) s[j] = mk[j] ? s[j] * ${f32Lit(scale)} : -INFINITY;`
      : `    for (int64_t j = 0; j < ${S}; j++) s[j] = s[j] * ${f32Lit(scale)} + mk[j];`;
  const body = [
    `for (int64_t t = task_begin; t < task_end; t++) {`,
    `  const int64_t b = t / ${qH * nBlk}, h = (t / ${nBlk}) % ${qH}, i0 = (t % ${nBlk}) * ${QB}, kh = h / ${reps};`,
    `  const int64_t m = ${Lq} - i0 < ${QB} ? ${Lq} - i0 : ${QB};`,
    `  (void)b; (void)kh;`,
    onStack ? `  float sc[${QB * Sp}];` : `  float* restrict sc = s${scoresScratch} + t * ${QB * Sp};`,
    `  infc_at_mm(m, ${Sp}, ${D}, x0 + ${rowOf(qH, Lq, D, "b", "h", "i0")}, ${ld(qH, D)}, s0 + (b * ${kvH} + kh) * ${D * Sp}, ${Sp}, sc, ${Sp});`,
    `  for (int64_t r = 0; r < m; r++) {`,
    `    const int64_t i = i0 + r;`,
    `    float* restrict s = sc + r * ${Sp};`,
    `    (void)i;`,
    ...(mask ? [`    const ${mask.dtype === "bool" ? n.r.storageType("bool") : "float"}* restrict mk = x3 + ${maskOff};`] : []),
    maskLine,
    ...(causal ? [`    for (int64_t j = i + 1; j < ${S}; j++) s[j] = -INFINITY;`] : []),
    `    const float mx = infc_at_max(s, ${S});`,
    `    if (mx == -INFINITY) { memset(s, 0, ${S * 4}); continue; }`,
    `    for (int64_t j = 0; j < ${S}; j++) s[j] = infc_ew_expf(s[j] - mx);`,
    `    const float inv = 1.0f / infc_at_sum(s, ${S});`,
    `    for (int64_t j = 0; j < ${S}; j++) s[j] *= inv;`,
    `  }`,
    packV
      ? `  const float* vb = s1 + (b * ${kvH} + kh) * ${S * Dvp};`
      : `  const float* vb = x2 + ${rowOf(kvH, S, Dv, "b", "kh", "0")};`,
    `  infc_at_mm(m, ${Dv}, ${S}, sc, ${Sp}, vb, ${packV ? Dvp : ld(kvH, Dv)}, y0 + ${rowOf(qH, Lq, Dv, "b", "h", "i0")}, ${ld(qH, Dv)});`,
    `}`,
  ].join("\n");

  const inArgs = (ids: number[]): KernelArg[] => ids.map((i) => ({ name: `x${i}`, ref: { kind: "in", index: i } }));
  const sArgs = scratch.map((_, i): KernelArg => ({ name: `s${i}`, ref: { kind: "scratch", index: i } }));
  const kernels: KernelSpec[] = [
    { label: "pack K/V", args: [...inArgs(packV ? [1, 2] : [1]), ...sArgs.slice(0, packV ? 2 : 1)], tasks: B * kvH, body: packBody },
    {
      label: "attention",
      args: [...inArgs(mask ? [0, 2, 3] : [0, 2]), { name: "y0", ref: { kind: "out", index: 0 } }, ...sArgs],
      tasks,
      body,
      helpers: ["att_f32", "ew_expf"],
    },
  ];
  return { kernels, scratch };
}
