/**
 * The f32 GEMM engine of the nn family: a register-blocked micro-kernel (MR×NR = 12×32 with
 * AVX-512, 6×16 with AVX2; GCC/Clang vector extensions with explicit FMAs, since the artifact's
 * -std=c99 build does not contract a·b + c, and a scalar fallback), A read in place (row-major, the
 * layout conv weights already have), B either packed into NR-wide column panels (a separate,
 * parallel pack kernel, or im2col per task) or read in place with its own row stride (1×1 convs:
 * the activation's rows are B's rows), and a tiled driver whose tasks are (problem × M-tile ×
 * N-tile) blocks writing disjoint parts of C. A panel's last few columns past whole vectors run as
 * dot products (a 7×7 image, 49 = 48 + 1, would otherwise cost a whole vector per row).
 *
 * Also here: the M ≤ 4 GEMV that streams B in place, the depthwise conv's vector helpers, and the
 * fused epilogues (bias, residual, activation applied to the register rows as they are stored;
 * Sigmoid, SiLU and HardSwish have vector forms, the rest run after each tile).
 *
 * Packed layout: panel jp holds columns [NR·jp, NR·jp + NR) as K rows of NR floats (zero beyond N),
 * so panel jp starts at jp·K·NR and row k of it at jp·K·NR + k·NR.
 */
import type { Helper, KernelSpec } from "../kernel.ts";
import { activationExpr, f32Lit } from "./elementwise-math.ts";

/** Largest MR / NR of any build (tiles are multiples of these; packed B is padded to NR_MAX). */
export const SG_MR = 12;
export const SG_NR = 32;
/** K-block of the per-task packed blocks (INFC_SGEMM_KC_MAX). */
export const SG_KC = 256;

const VEC = `
#if defined(__GNUC__) && !defined(INFC_NO_VECTOR)
#define INFC_VEC 1
typedef float infc_v8f __attribute__((vector_size(32)));
static inline infc_v8f infc_ld8(const float* p) { infc_v8f v; memcpy(&v, p, 32); return v; }
#if defined(__FMA__) && defined(__AVX__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define INFC_FMA8(a, b, c) ((infc_v8f)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#else
#define INFC_FMA8(a, b, c) ((a) * (b) + (c))
#endif
/* the GEMM vector: 16 floats with AVX-512, else 8 */
#if defined(__AVX512F__) && (defined(__x86_64__) || defined(__i386__))
#define INFC_VL 16
#define INFC_MR 12
typedef float infc_vf __attribute__((vector_size(64)));
#define INFC_FMAV(a, b, c) ((infc_vf)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#else
#define INFC_VL 8
#define INFC_MR 6
typedef float infc_vf __attribute__((vector_size(32)));
#define INFC_FMAV(a, b, c) INFC_FMA8(a, b, c)
#endif
static inline infc_vf infc_ldv(const float* p) { infc_vf v; memcpy(&v, p, sizeof v); return v; }
/* x in every lane: x - 0 is x exactly (also for -0), so compilers fold it to a broadcast, which an
   FMA takes from memory ({0} + x is not x for x = -0, and stays an add) */
#define INFC_SPLAT(x) ((float)(x) - (infc_vf){0})
static inline void infc_stv(float* p, infc_vf v) { memcpy(p, &v, sizeof v); }
#define INFC_NR (2 * INFC_VL)
#else
#define INFC_MR 6
#define INFC_NR 16
#endif`;

const SGEMM = `
#ifndef INFC_SGEMM_KC
#define INFC_SGEMM_KC 256
#endif
#define INFC_SGEMM_KC_MAX 256 /* block scratch is sized for this KC (nn-sgemm.ts SG_KC) */
/* One mr×(nv vectors) block of C: acc = A[0:mr, 0:kc] · Bpanel[0:kc, :]; then C = alpha*acc + bias
   (bmode 1: per row, 2: per column, 0: none) or, when acc_c, C += alpha*acc. Only columns < nr are
   stored. */
#if defined(INFC_VEC)
static inline __attribute__((always_inline)) void infc_sg_row(float* restrict c, infc_vf v0, infc_vf v1, const int nv, int nr, int acc_c, int bmode, const float* restrict bias, int r, const infc_epi* restrict e, const float* restrict res) {
  if (!acc_c) {
    if (bmode == 1) { v0 += bias[r]; v1 += bias[r]; }
    else if (bmode == 2) {
      if (nr == INFC_NR) { v0 += infc_ldv(bias); v1 += infc_ldv(bias + INFC_VL); }
      else { float t[INFC_NR] = {0}; memcpy(t, bias, (size_t)nr * 4); v0 += infc_ldv(t); v1 += infc_ldv(t + INFC_VL); }
    }
  }
  if (nr == nv * INFC_VL) {
    if (acc_c) { v0 += infc_ldv(c); if (nv > 1) v1 += infc_ldv(c + INFC_VL); }
    if (e) {
      if (res) { v0 += infc_ldv(res); if (nv > 1) v1 += infc_ldv(res + INFC_VL); }
      v0 = infc_act_v(v0, e->act, e->p0, e->p1); if (nv > 1) v1 = infc_act_v(v1, e->act, e->p0, e->p1);
    }
    infc_stv(c, v0); if (nv > 1) infc_stv(c + INFC_VL, v1);
  } else {
    float t[INFC_NR]; infc_stv(t, v0); if (nv > 1) infc_stv(t + INFC_VL, v1);
    if (e) {
      for (int j = 0; j < nr; j++) { float x = t[j]; if (acc_c) x += c[j]; if (res) x += res[j]; c[j] = infc_act1(x, e->act, e->p0, e->p1); }
    }
    else if (acc_c) for (int j = 0; j < nr; j++) c[j] += t[j];
    else for (int j = 0; j < nr; j++) c[j] = t[j];
  }
}
#define INFC_SG_DECL(r) infc_vf c##r##0 = z, c##r##1 = z; const float* a##r = mr > r ? a + r * lda : a; (void)a##r;
#define INFC_SG_STEP(r) if (mr > r) { t = INFC_SPLAT(a##r[k]); c##r##0 = INFC_FMAV(t, b0, c##r##0); if (nv > 1) c##r##1 = INFC_FMAV(t, b1, c##r##1); }
#define INFC_SG_STORE(r) if (mr > r) { if (alpha != 1.0f) { c##r##0 *= alpha; c##r##1 *= alpha; } infc_sg_row(c + r * ldc, c##r##0, c##r##1, nv, nr, acc_c, bmode, bias, r, e, res ? res + r * ldc : res); }
static inline __attribute__((always_inline)) void infc_sg_ukr(const int mr, const int nv, int64_t kc, const float* restrict a, int64_t lda, const float* restrict b, int64_t ldb, float* restrict c, int64_t ldc, int nr, int acc_c, int bmode, const float* restrict bias, float alpha, const infc_epi* restrict e, const float* restrict res) {
  const infc_vf z = {0};
  INFC_SG_DECL(0) INFC_SG_DECL(1) INFC_SG_DECL(2) INFC_SG_DECL(3) INFC_SG_DECL(4) INFC_SG_DECL(5)
#if INFC_MR > 6
  INFC_SG_DECL(6) INFC_SG_DECL(7) INFC_SG_DECL(8) INFC_SG_DECL(9) INFC_SG_DECL(10) INFC_SG_DECL(11)
#endif
  for (int64_t k = 0; k < kc; k++) {
    const infc_vf b0 = infc_ldv(b), b1 = nv > 1 ? infc_ldv(b + INFC_VL) : z;
    b += ldb;
    infc_vf t;
    INFC_SG_STEP(0) INFC_SG_STEP(1) INFC_SG_STEP(2) INFC_SG_STEP(3) INFC_SG_STEP(4) INFC_SG_STEP(5)
#if INFC_MR > 6
    INFC_SG_STEP(6) INFC_SG_STEP(7) INFC_SG_STEP(8) INFC_SG_STEP(9) INFC_SG_STEP(10) INFC_SG_STEP(11)
#endif
  }
  INFC_SG_STORE(0) INFC_SG_STORE(1) INFC_SG_STORE(2) INFC_SG_STORE(3) INFC_SG_STORE(4) INFC_SG_STORE(5)
#if INFC_MR > 6
  INFC_SG_STORE(6) INFC_SG_STORE(7) INFC_SG_STORE(8) INFC_SG_STORE(9) INFC_SG_STORE(10) INFC_SG_STORE(11)
#endif
}
#else
static void infc_sg_ukr(const int mr, const int nv, int64_t kc, const float* restrict a, int64_t lda, const float* restrict b, int64_t ldb, float* restrict c, int64_t ldc, int nr, int acc_c, int bmode, const float* restrict bias, float alpha, const infc_epi* restrict e, const float* restrict res) {
  float acc[INFC_MR][INFC_NR];
  (void)nv;
  for (int r = 0; r < mr; r++) for (int j = 0; j < INFC_NR; j++) acc[r][j] = 0.0f;
  for (int64_t k = 0; k < kc; k++) {
    for (int r = 0; r < mr; r++) {
      const float av = a[r * lda + k];
      for (int j = 0; j < nr; j++) acc[r][j] += av * b[k * ldb + j];
    }
  }
  for (int r = 0; r < mr; r++) {
    for (int j = 0; j < nr; j++) {
      float v = alpha * acc[r][j];
      if (acc_c) v += c[r * ldc + j];
      else if (bmode == 1) v += bias[r];
      else if (bmode == 2) v += bias[j];
      if (e) { if (res) v += res[r * ldc + j]; v = infc_act1(v, e->act, e->p0, e->p1); }
      c[r * ldc + j] = v;
    }
  }
}
#endif
typedef void (*infc_sg_ukr_fn)(int64_t, const float* restrict, int64_t, const float* restrict, int64_t, float* restrict, int64_t, int, int, int, const float* restrict, float, const infc_epi* restrict, const float* restrict);
#define INFC_SG_UKR(m, v) static void infc_sg_ukr_##m##_##v(int64_t kc, const float* restrict a, int64_t lda, const float* restrict b, int64_t ldb, float* restrict c, int64_t ldc, int nr, int acc_c, int bmode, const float* restrict bias, float alpha, const infc_epi* restrict e, const float* restrict res) { infc_sg_ukr(m, v, kc, a, lda, b, ldb, c, ldc, nr, acc_c, bmode, bias, alpha, e, res); }
#define INFC_SG_UKR2(m) INFC_SG_UKR(m, 1) INFC_SG_UKR(m, 2)
INFC_SG_UKR2(1) INFC_SG_UKR2(2) INFC_SG_UKR2(3) INFC_SG_UKR2(4) INFC_SG_UKR2(5) INFC_SG_UKR2(6)
#if INFC_MR > 6
INFC_SG_UKR2(7) INFC_SG_UKR2(8) INFC_SG_UKR2(9) INFC_SG_UKR2(10) INFC_SG_UKR2(11) INFC_SG_UKR2(12)
static const infc_sg_ukr_fn infc_sg_ukrs[12][2] = {
  {infc_sg_ukr_1_1, infc_sg_ukr_1_2}, {infc_sg_ukr_2_1, infc_sg_ukr_2_2}, {infc_sg_ukr_3_1, infc_sg_ukr_3_2}, {infc_sg_ukr_4_1, infc_sg_ukr_4_2},
  {infc_sg_ukr_5_1, infc_sg_ukr_5_2}, {infc_sg_ukr_6_1, infc_sg_ukr_6_2}, {infc_sg_ukr_7_1, infc_sg_ukr_7_2}, {infc_sg_ukr_8_1, infc_sg_ukr_8_2},
  {infc_sg_ukr_9_1, infc_sg_ukr_9_2}, {infc_sg_ukr_10_1, infc_sg_ukr_10_2}, {infc_sg_ukr_11_1, infc_sg_ukr_11_2}, {infc_sg_ukr_12_1, infc_sg_ukr_12_2}};
#else
static const infc_sg_ukr_fn infc_sg_ukrs[6][2] = {
  {infc_sg_ukr_1_1, infc_sg_ukr_1_2}, {infc_sg_ukr_2_1, infc_sg_ukr_2_2}, {infc_sg_ukr_3_1, infc_sg_ukr_3_2},
  {infc_sg_ukr_4_1, infc_sg_ukr_4_2}, {infc_sg_ukr_5_1, infc_sg_ukr_5_2}, {infc_sg_ukr_6_1, infc_sg_ukr_6_2}};
#endif
/* C[i0:i1, j0:j1] (+)= alpha * A[i0:i1, 0:kc] · B for one block of B: the panel of column j (a
   multiple of INFC_NR) starts at Bp + (j / INFC_NR) * pst and its rows are ldb floats apart (packed
   panels: ldb = INFC_NR; B read in place: pst = INFC_NR, ldb = its row length; every panel read so
   must have INFC_NR readable columns). bias: per row (bmode 1, indexed by row),
   per column (bmode 2, indexed by column) or none. e (the last K-block only, else null): the
   epilogue, C = act(C + residual), its residual (if any) laid out like C from the same base. */
#if defined(INFC_VEC)
#define INFC_SG_THIN 4 /* a panel's last columns past whole vectors, up to this many, run as dot products */
#define INFC_SG_TVL INFC_VL
#else
#define INFC_SG_THIN 0
#define INFC_SG_TVL INFC_NR
#endif
/* The nt columns gathered in bt (kc floats each) as dot products with mr rows of A, stored like
   infc_sg_row stores (alpha, bias or accumulate, then the epilogue). */
static void infc_sg_thin(int mr, int nt, int64_t kc, const float* restrict a, int64_t lda, const float* restrict bt, float* restrict c, int64_t ldc,
    int acc_c, int bmode, const float* restrict bias, float alpha, const infc_epi* restrict e, const float* restrict res) {
  for (int r = 0; r < mr; r++) {
    for (int q = 0; q < nt; q++) {
      float v = alpha * infc_sdot(a + r * lda, bt + q * kc, kc);
      float* restrict cp = c + r * ldc + q;
      if (acc_c) v += *cp;
      else if (bmode == 1) v += bias[r];
      else if (bmode == 2) v += bias[q];
      if (e) { if (res) v += res[r * ldc + q]; v = infc_act1(v, e->act, e->p0, e->p1); }
      *cp = v;
    }
  }
}
static void infc_sgemm_block(int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t kc,
    const float* restrict A, int64_t lda, const float* restrict Bp, int64_t pst, int64_t ldb, float* restrict C, int64_t ldc,
    int bmode, const float* restrict bias, int acc, float alpha, const infc_epi* restrict e) {
  /* the last panel [jl, j1): a few columns past whole vectors cost a whole vector each in the
     micro-kernel (a 7×7 image: 49 = 48 + 1), so they are gathered and run as dot products */
  const int64_t jl = j1 > j0 ? j0 + (j1 - j0 - 1) / INFC_NR * INFC_NR : j0;
  const int rem = (int)((j1 - jl) % INFC_SG_TVL);
  const int thin = rem > 0 && rem <= INFC_SG_THIN && kc <= INFC_SGEMM_KC_MAX ? rem : 0;
  float bt[INFC_SG_THIN > 0 ? INFC_SG_THIN * INFC_SGEMM_KC_MAX : 1];
  if (thin) {
    const float* restrict b = Bp + (jl / INFC_NR) * pst + (j1 - jl - thin);
    for (int q = 0; q < thin; q++) for (int64_t k = 0; k < kc; k++) bt[q * kc + k] = b[k * ldb + q];
  }
  for (int64_t i = i0; i < i1; i += INFC_MR) {
    const int mr = i1 - i < INFC_MR ? (int)(i1 - i) : INFC_MR;
    const float* ai = A + i * lda;
    const float* bi = bmode == 1 ? bias + i : bias;
    for (int64_t j = j0; j < j1; j += INFC_NR) {
      const int nr = (j1 - j < INFC_NR ? (int)(j1 - j) : INFC_NR) - (j == jl ? thin : 0);
      const int nv = nr > INFC_NR / 2 ? 2 : 1;
      if (nr > 0) infc_sg_ukrs[mr - 1][nv - 1](kc, ai, lda, Bp + (j / INFC_NR) * pst, ldb, C + i * ldc + j, ldc, nr, acc, bmode, bmode == 2 ? bias + j : bi, alpha, e, e && e->res ? e->res + i * ldc + j : (const float*)0);
      if (j == jl && thin) infc_sg_thin(mr, thin, kc, ai, lda, bt, C + i * ldc + j + nr, ldc, acc, bmode, bmode == 2 ? bias + j + nr : bi, alpha, e, e && e->res ? e->res + i * ldc + j + nr : (const float*)0);
    }
  }
}
/* C[i0:i1, j0:min(j1, N)] (+)= alpha * A[i0:i1, 0:K] · B, B fully packed in INFC_NR-wide panels of K
   rows (j0 a multiple of INFC_NR). */
static void infc_sgemm_tile(int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t N, int64_t K,
    const float* restrict A, int64_t lda, const float* restrict Bp, float* restrict C, int64_t ldc,
    int bmode, const float* restrict bias, int acc_c, float alpha, const infc_epi* restrict e) {
  if (j1 > N) j1 = N;
  for (int64_t kb = 0; kb < K; kb += INFC_SGEMM_KC) {
    const int64_t kc = K - kb < INFC_SGEMM_KC ? K - kb : INFC_SGEMM_KC;
    infc_sgemm_block(i0, i1, j0, j1, kc, A + kb, lda, Bp + kb * INFC_NR, K * INFC_NR, INFC_NR, C, ldc, bmode, bias, acc_c || kb > 0, alpha, kb + kc >= K ? e : (const infc_epi*)0);
  }
}`;

const SGEMV = `
/* Y[r][j0:j1) = X[r] · B[:, j0:j1) (+ bias[j], then the epilogue e) for r < rows <= 4, B row-major
   [K][ldb] read in place (a GEMV streams B once, so packing it would only add a pass): every run of
   2 vectors of a row of B feeds all rows of X; one row of X keeps 4 partial sums per vector so the
   FMA latency is hidden. */
static void infc_sgemv(int rows, int64_t K, const float* restrict X, int64_t ldx, const float* restrict B, int64_t ldb,
    int64_t j0, int64_t j1, float* restrict Y, int64_t ldy, const float* restrict bias, const infc_epi* restrict e) {
#if defined(INFC_VEC)
  for (int64_t j = j0; j < j1; j += INFC_NR) {
    const int nr = j1 - j < INFC_NR ? (int)(j1 - j) : INFC_NR;
    const float* restrict bj = B + j;
    infc_vf acc[4][2];
    for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = (infc_vf){0};
    if (rows == 1 && nr == INFC_NR) {
      infc_vf s0 = (infc_vf){0}, s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
      int64_t k = 0;
      for (; k + 4 <= K; k += 4) {
        const float* restrict b = bj + k * ldb;
        s0 = INFC_FMAV(INFC_SPLAT(X[k]), infc_ldv(b), s0); s1 = INFC_FMAV(INFC_SPLAT(X[k]), infc_ldv(b + INFC_VL), s1);
        s2 = INFC_FMAV(INFC_SPLAT(X[k + 1]), infc_ldv(b + ldb), s2); s3 = INFC_FMAV(INFC_SPLAT(X[k + 1]), infc_ldv(b + ldb + INFC_VL), s3);
        s4 = INFC_FMAV(INFC_SPLAT(X[k + 2]), infc_ldv(b + 2 * ldb), s4); s5 = INFC_FMAV(INFC_SPLAT(X[k + 2]), infc_ldv(b + 2 * ldb + INFC_VL), s5);
        s6 = INFC_FMAV(INFC_SPLAT(X[k + 3]), infc_ldv(b + 3 * ldb), s6); s7 = INFC_FMAV(INFC_SPLAT(X[k + 3]), infc_ldv(b + 3 * ldb + INFC_VL), s7);
      }
      for (; k < K; k++) { s0 = INFC_FMAV(INFC_SPLAT(X[k]), infc_ldv(bj + k * ldb), s0); s1 = INFC_FMAV(INFC_SPLAT(X[k]), infc_ldv(bj + k * ldb + INFC_VL), s1); }
      acc[0][0] = (s0 + s2) + (s4 + s6);
      acc[0][1] = (s1 + s3) + (s5 + s7);
    } else {
      for (int64_t k = 0; k < K; k++) {
        infc_vf b0, b1;
        if (nr == INFC_NR) { b0 = infc_ldv(bj + k * ldb); b1 = infc_ldv(bj + k * ldb + INFC_VL); }
        else { float t[INFC_NR] = {0}; memcpy(t, bj + k * ldb, (size_t)nr * 4); b0 = infc_ldv(t); b1 = infc_ldv(t + INFC_VL); }
        for (int r = 0; r < rows; r++) { const infc_vf xv = INFC_SPLAT(X[r * ldx + k]); acc[r][0] = INFC_FMAV(xv, b0, acc[r][0]); acc[r][1] = INFC_FMAV(xv, b1, acc[r][1]); }
      }
    }
    for (int r = 0; r < rows; r++)
      infc_sg_row(Y + r * ldy + j, acc[r][0], acc[r][1], 2, nr, 0, bias ? 2 : 0, bias ? bias + j : bias, 0, e, e && e->res ? e->res + r * ldy + j : (const float*)0);
  }
#else
  for (int r = 0; r < rows; r++) {
    for (int64_t j = j0; j < j1; j++) {
      float v = 0.0f;
      for (int64_t k = 0; k < K; k++) v += X[r * ldx + k] * B[k * ldb + j];
      if (bias) v += bias[j];
      if (e) { if (e->res) v += e->res[r * ldy + j]; v = infc_act1(v, e->act, e->p0, e->p1); }
      Y[r * ldy + j] = v;
    }
  }
#endif
}`;

const PACK = `
/* Packs n values of row k (row[0:n] = columns [j0, j0 + n), j0 a multiple of INFC_NR) into the
   panels of a K-row packed B; dst_k points at row k of panel 0. A final partial panel is zero-filled. */
static void infc_spack_row(const float* restrict row, int64_t n, int64_t j0, int64_t K, float* restrict dst_k) {
  float* d = dst_k + j0 * K;
  int64_t j = 0;
  for (; j + INFC_NR <= n; j += INFC_NR, d += K * INFC_NR) memcpy(d, row + j, INFC_NR * 4);
  if (j < n) {
    int64_t q = 0;
    for (; j + q < n; q++) d[q] = row[j + q];
    for (; q < INFC_NR; q++) d[q] = 0.0f;
  }
}
/* Packs panel jp of B given transposed (column j of B is row j of bt, ld ldb). */
static void infc_spack_trans_panel(const float* restrict bt, int64_t ldb, int64_t N, int64_t K, int64_t jp, float* restrict dst) {
  float* d = dst + jp * K * INFC_NR;
  for (int q = 0; q < INFC_NR; q++) {
    const int64_t j = jp * INFC_NR + q;
    if (j < N) { const float* s = bt + j * ldb; for (int64_t k = 0; k < K; k++) d[k * INFC_NR + q] = s[k]; }
    else for (int64_t k = 0; k < K; k++) d[k * INFC_NR + q] = 0.0f;
  }
}`;

const DOT = `
static inline float infc_sdot(const float* restrict a, const float* restrict b, int64_t K) {
  int64_t k = 0;
  float r = 0.0f;
#if defined(INFC_VEC)
  const infc_v8f z = {0};
  infc_v8f s0 = z, s1 = z, s2 = z, s3 = z;
  for (; k + 32 <= K; k += 32) {
    s0 = INFC_FMA8(infc_ld8(a + k), infc_ld8(b + k), s0);
    s1 = INFC_FMA8(infc_ld8(a + k + 8), infc_ld8(b + k + 8), s1);
    s2 = INFC_FMA8(infc_ld8(a + k + 16), infc_ld8(b + k + 16), s2);
    s3 = INFC_FMA8(infc_ld8(a + k + 24), infc_ld8(b + k + 24), s3);
  }
  for (; k + 8 <= K; k += 8) s0 = INFC_FMA8(infc_ld8(a + k), infc_ld8(b + k), s0);
  s0 = (s0 + s1) + (s2 + s3);
  r = ((s0[0] + s0[1]) + (s0[2] + s0[3])) + ((s0[4] + s0[5]) + (s0[6] + s0[7]));
#endif
  for (; k < K; k++) r += a[k] * b[k];
  return r;
}`;

const EPI = `
/* Fused epilogues (ir/ops/fused.ts): act codes 0 none, 1 Relu, 2 Clip(p0, p1), 3 Sigmoid,
   4 HardSwish, 5 SiLU, 6 Gelu, 7 Tanh, 8 LeakyRelu(p0). res: the residual, laid out like the
   output from the base the GEMM driver receives (null: none). */
typedef struct { int act; float p0, p1; const float* res; } infc_epi;
static inline __attribute__((always_inline)) float infc_act1(float v, int act, float p0, float p1) {
  switch (act) {
  case 1: return v < 0.0f ? 0.0f : v;
  case 2: v = v < p0 ? p0 : v; return v > p1 ? p1 : v;
  case 3: return 1.0f / (1.0f + expf(-v));
  case 4: { float t = v / 6.0f + 0.5f; t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t; return v * t; }
  case 5: return v * (1.0f / (1.0f + expf(-v)));
  case 6: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
  case 7: return tanhf(v);
  case 8: return v < 0.0f ? p0 * v : v;
  default: return v;
  }
}
#if defined(INFC_VEC)
typedef int32_t infc_vi __attribute__((vector_size(sizeof(infc_vf))));
/* exp(t) for t <= 0 in every lane, as in infc_ew_expf: k = round(t / ln2) by the 1.5·2^23 trick,
   r = t - k·ln2 in two parts, a degree-6 polynomial, times 2^k built in the exponent bits; t is
   clamped at -87 so 2^k stays normal (exp(-87) ≈ 1.6e-38 stands in for anything smaller). */
static inline __attribute__((always_inline)) infc_vf infc_expneg_v(infc_vf t) {
  const infc_vf z = {0}, lo = z - 87.0f;
  const infc_vi m = (infc_vi)(t < lo);
  t = (infc_vf)(((infc_vi)t & ~m) | ((infc_vi)lo & m));
  const infc_vf f = INFC_FMAV(t, z + 1.44269504088896341f, z + 12582912.0f);
  const infc_vf k = f - 12582912.0f;
  infc_vf r = INFC_FMAV(k, z - 0.693359375f, t);
  r = INFC_FMAV(k, z + 2.12194440e-4f, r);
  infc_vf p = z + 1.9875691500e-4f;
  p = INFC_FMAV(p, r, z + 1.3981999507e-3f);
  p = INFC_FMAV(p, r, z + 8.3334519073e-3f);
  p = INFC_FMAV(p, r, z + 4.1665795894e-2f);
  p = INFC_FMAV(p, r, z + 1.6666665459e-1f);
  p = INFC_FMAV(p, r, z + 5.0000001201e-1f);
  p = INFC_FMAV(p, r * r, r) + 1.0f;
  const infc_vi e = (((infc_vi)f - 0x4B400000) + 127) << 23;
  return p * (infc_vf)e;
}
/* 1 / (1 + exp(-x)), from e = exp(-|x|): 1/(1+e) for x >= 0, e/(1+e) below (NaN stays NaN). */
static inline __attribute__((always_inline)) infc_vf infc_sigmoid_v(infc_vf x) {
  const infc_vf z = {0};
  const infc_vf e = infc_expneg_v((infc_vf)((infc_vi)x | ((infc_vi){0} + (-2147483647 - 1))));
  const infc_vf r = 1.0f / (1.0f + e);
  const infc_vi m = (infc_vi)(x >= z);
  return (infc_vf)(((infc_vi)r & m) | ((infc_vi)(e * r) & ~m));
}
static inline __attribute__((always_inline)) infc_vf infc_act_v(infc_vf v, int act, float p0, float p1) {
  const infc_vf z = {0};
  if (act == 0) return v;
  if (act == 1) return (infc_vf)((infc_vi)v & ~(infc_vi)(v < z));
  if (act == 2) {
    const infc_vf lo = z + p0, hi = z + p1;
    infc_vi m = (infc_vi)(v < lo);
    v = (infc_vf)(((infc_vi)v & ~m) | ((infc_vi)lo & m));
    m = (infc_vi)(v > hi);
    return (infc_vf)(((infc_vi)v & ~m) | ((infc_vi)hi & m));
  }
  if (act == 8) { const infc_vi m = (infc_vi)(v < z); const infc_vf s = v * p0; return (infc_vf)(((infc_vi)v & ~m) | ((infc_vi)s & m)); }
  if (act == 3) return infc_sigmoid_v(v);
  if (act == 5) return v * infc_sigmoid_v(v);
  if (act == 4) {
    infc_vf t = v / 6.0f + 0.5f;
    infc_vi m = (infc_vi)(t < z);
    t = (infc_vf)((infc_vi)t & ~m);
    m = (infc_vi)(t > z + 1.0f);
    t = (infc_vf)(((infc_vi)t & ~m) | ((infc_vi)(z + 1.0f) & m));
    return v * t;
  }
  float t[INFC_VL]; memcpy(t, &v, sizeof v);
  for (int l = 0; l < INFC_VL; l++) t[l] = infc_act1(t[l], act, p0, p1);
  memcpy(&v, t, sizeof v);
  return v;
}
#endif`;

const DW = `
/* Depthwise conv vectors (nn-f32.ts depthwise): INFC_DW_VL lanes, a plain float without vector
   extensions, so the generated kernels have one form. */
#if defined(INFC_VEC)
#define INFC_DW_VL INFC_VL
typedef infc_vf infc_dwv;
#define INFC_DW_SPLAT(x) INFC_SPLAT(x)
#define INFC_DW_LD(p) infc_ldv(p)
#define INFC_DW_ST(p, v) infc_stv(p, v)
#define INFC_DW_FMA(a, b, c) INFC_FMAV(a, b, c)
#define INFC_DW_ACT(v, act, p0, p1) infc_act_v(v, act, p0, p1)
#else
#define INFC_DW_VL 1
typedef float infc_dwv;
#define INFC_DW_SPLAT(x) ((float)(x))
#define INFC_DW_LD(p) (*(p))
#define INFC_DW_ST(p, v) (*(p) = (v))
#define INFC_DW_FMA(a, b, c) ((a) * (b) + (c))
#define INFC_DW_ACT(v, act, p0, p1) infc_act1(v, act, p0, p1)
#endif
#if defined(INFC_VEC) && INFC_VL == 16
#if defined(__clang__)
#define INFC_DW_EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define INFC_DW_ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#else
#define INFC_DW_EVEN(a, b) __builtin_shuffle(a, b, (infc_vi){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30})
#define INFC_DW_ODD(a, b) __builtin_shuffle(a, b, (infc_vi){1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31})
#endif
#elif defined(INFC_VEC) && INFC_VL == 8
#if defined(__clang__)
#define INFC_DW_EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14)
#define INFC_DW_ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15)
#else
#define INFC_DW_EVEN(a, b) __builtin_shuffle(a, b, (infc_vi){0, 2, 4, 6, 8, 10, 12, 14})
#define INFC_DW_ODD(a, b) __builtin_shuffle(a, b, (infc_vi){1, 3, 5, 7, 9, 11, 13, 15})
#endif
#endif
/* Splits a row into its even and odd columns: e[c] = s[2c], o[c] = s[2c + 1] for c < n. */
static inline void infc_dw_deint2(const float* restrict s, float* restrict e, float* restrict o, int64_t n) {
  int64_t c = 0;
#if defined(INFC_DW_EVEN)
  for (; c + INFC_VL <= n; c += INFC_VL) {
    const infc_vf a = infc_ldv(s + 2 * c), b = infc_ldv(s + 2 * c + INFC_VL);
    infc_stv(e + c, INFC_DW_EVEN(a, b));
    infc_stv(o + c, INFC_DW_ODD(a, b));
  }
#endif
  for (; c < n; c++) { e[c] = s[2 * c]; o[c] = s[2 * c + 1]; }
}`;

export const SGEMM_HELPERS: Record<string, Helper> = {
  nn_vec: { code: VEC },
  nn_epi: { deps: ["nn_vec"], code: EPI },
  nn_sgemm: { deps: ["nn_vec", "nn_epi", "nn_sdot"], code: SGEMM },
  nn_spack: { deps: ["nn_vec"], code: PACK },
  nn_sgemv: { deps: ["nn_sgemm"], code: SGEMV },
  nn_sdot: { deps: ["nn_vec"], code: DOT },
  nn_dw: { deps: ["nn_vec", "nn_epi"], code: DW },
};

export const ceilDiv = (a: number, b: number): number => Math.floor((a + b - 1) / b);

/** Multiply-adds below which a GEMM step is not split further (a few µs on one core). */
const TASK_MACS = 1 << 18;
/** Tasks a GEMM step aims for when it is big enough: several per thread, so that 2 to 4 threads
    stay busy to the end of the step (the pool hands tasks out dynamically). */
const TASK_TARGET = 8;

export interface Tiles {
  /** M-tiles and N-tiles per problem */
  readonly mt: number;
  readonly nt: number;
  /** most rows / columns of a tile (row tiles are whole SG_MR units, column tiles whole SG_NR panels) */
  readonly mc: number;
  readonly nc: number;
}

/**
 * Output tiles for \`count\` problems of M rows × N columns (K deep): tiles of at most maxRows rows and
 * 12 panels (384 columns), then split further — columns first (splitting rows makes every row tile
 * repack or re-read the same B), rows after — until the step has TASK_TARGET tasks or a task would
 * fall under TASK_MACS. Tiles are balanced: their sizes differ by one unit at most (tileBounds).
 */
export function tiles(M: number, N: number, K = 1, count = 1, maxRows = 96): Tiles {
  const MU = Math.max(1, ceilDiv(M, SG_MR));
  const NP = Math.max(1, ceilDiv(N, SG_NR));
  let mt = Math.min(MU, Math.ceil(M / maxRows));
  let nt = Math.min(NP, ceilDiv(NP, 12));
  mt = Math.max(1, mt);
  nt = Math.max(1, nt);
  const want = Math.min(TASK_TARGET, Math.floor((count * M * N * K) / TASK_MACS));
  while (count * mt * nt < want && ceilDiv(NP, nt + 1) >= 2) nt++;
  while (count * mt * nt < want && ceilDiv(MU, mt + 1) >= 2) mt++;
  if (want >= 2 && count * mt * nt < 32) {
    // a step of 11 tasks leaves one thread of two idle for a task: among one or two more tiles per
    // side, take the split whose 2-thread makespan (in micro-tile × panel units) is shortest, if it
    // is shorter by 5% at least (smaller tiles cost a little each). Only the side whose operand is
    // the smaller one is cut further: more column tiles re-read A (M×K), more row tiles B (K×N) —
    // for resnet18's 7×7×512 convs (A: 9.4 MB of weights), 9 row tiles × 2 column tiles ran
    // 15–20% slower than 9 × 1
    const span = (m: number, n: number): number => ceilDiv(count * m * n, 2) * ceilDiv(MU, m) * ceilDiv(NP, n);
    let best = { m: mt, n: nt };
    for (let m = mt; m <= Math.min(MU, M >= N ? mt + 2 : mt); m++) {
      for (let n = nt; n <= Math.min(NP, N >= M ? nt + 2 : nt); n++) if (span(m, n) < 0.95 * span(best.m, best.n)) best = { m, n };
    }
    mt = best.m;
    nt = best.n;
  }
  return { mt, nt, mc: Math.min(M, ceilDiv(MU, mt) * SG_MR), nc: ceilDiv(NP, nt) * SG_NR };
}

/** C statements setting the bounds i0, i1, j0, j1 of tile (mb, nb) (balanced; j1 ≤ N). */
export function tileBounds(t: Tiles, M: number, N: number): string {
  const MU = Math.max(1, ceilDiv(M, SG_MR));
  const NP = Math.max(1, ceilDiv(N, SG_NR));
  const lim = (e: string, n: number): string => `(${e} < ${n} ? ${e} : ${n})`;
  return `const int64_t i0 = ${lim(`mb * ${MU} / ${t.mt} * ${SG_MR}`, M)}, i1 = ${lim(`(mb + 1) * ${MU} / ${t.mt} * ${SG_MR}`, M)};
  const int64_t j0 = nb * ${NP} / ${t.nt} * ${SG_NR}, j1 = ${lim(`(nb + 1) * ${NP} / ${t.nt} * ${SG_NR}`, N)};`;
}

export interface SgemmProblem {
  /** Number of independent GEMMs (batch × group). */
  readonly count: number;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  /** C expressions of \`bt\` (problem index) for element offsets. */
  readonly aOff: string;
  readonly bOff: string;
  readonly cOff: string;
  readonly lda: number;
  readonly ldc: number;
  /** Names of the kernel parameters (A, packed B, C). */
  readonly a: string;
  readonly bp: string;
  readonly c: string;
  /** Bias: per row or per column, with a C expression (of bt) for the base pointer. */
  readonly bias?: { readonly mode: 1 | 2; readonly ptr: string };
  readonly accumulate?: boolean;
  readonly alpha?: string;
  /** Fused epilogue: act(C + residual) on the last K-block; `res` a C expression (of bt) for the residual's base, laid out like C. */
  readonly epi?: Epi;
  readonly resOff?: string;
}

/**
 * A fused epilogue. Activations with a vector form in infc_act_v (Relu, Clip, LeakyRelu, Sigmoid,
 * SiLU, HardSwish: `act` ≠ 0) and the residual are applied on the GEMM's register rows; the others
 * (`post`: Gelu, Tanh, ...) after each output tile, through the vectorizable `activationExpr` of the
 * elementwise kernels.
 */
export interface Epi {
  /** register-row activation code (nn_epi helper), 0 when none or `post` */
  readonly act: number;
  readonly p0: number;
  readonly p1: number;
  /** the residual's kernel parameter */
  readonly res?: string;
  /** the activation (fused-op name) and its parameters */
  readonly name: string;
  readonly params: readonly number[];
  /** whether the activation runs after the tile instead of in the register rows */
  readonly post: boolean;
}

const REG_ACTS: Readonly<Record<string, number>> = { "": 0, Relu: 1, Clip: 2, Sigmoid: 3, HardSwish: 4, SiLU: 5, LeakyRelu: 8 };

/** The epilogue of a fused op's activation (name, params) and residual parameter. */
export function makeEpi(name: string, params: readonly number[], res?: string): Epi {
  const reg = REG_ACTS[name];
  return { act: reg ?? 0, p0: params[0] ?? 0, p1: params[1] ?? 0, ...(res ? { res } : {}), name, params, post: reg === undefined };
}

/** Whether the GEMM driver needs an \`infc_epi\` (register-row activation or residual). */
export const epiInRegs = (e: Epi | undefined): boolean => e !== undefined && (e.act !== 0 || e.res !== undefined);

function actOf(e: Epi, v: string): { expr: string; helpers: readonly string[] } {
  const a = activationExpr(e.name, e.params, v);
  if (!a) throw new Error(`no C expression for activation ${e.name}`);
  return a;
}

/** The helper snippets an epilogue needs. */
export function epiHelpers(e: Epi | undefined): string[] {
  return e ? ["nn_epi", ...actOf(e, "v").helpers] : [];
}

/** \`const infc_epi e = {...};\` for a kernel body (res: a C pointer expression, or none). */
export function epiDecl(e: Epi, res?: string): string {
  return `const infc_epi e = {${e.act}, ${f32Lit(e.p0)}, ${f32Lit(e.p1)}, ${e.res ? res ?? e.res : "(const float*)0"}};`;
}

/** \`lhs = act(value + residual[idx]);\` as a C statement (\`lhs = value;\` without an epilogue). */
export function epiStore(e: Epi | undefined, lhs: string, value: string, idx: string): string {
  if (!e) return `${lhs} = ${value};`;
  return `{ const float ev = ${value}${e.res ? ` + ${e.res}[${idx}]` : ""}; ${lhs} = ${actOf(e, "ev").expr}; }`;
}

/** The post-tile activation over rows [i0, i1) × columns [j0, je) of \`base\` (leading dim ld); "" when none. */
export function epiPost(e: Epi | undefined, base: string, ld: string, je: string): string {
  if (!e?.post) return "";
  return `
  { float* restrict cp = ${base};
    for (int64_t i = i0; i < i1; i++) { float* restrict row = cp + i * ${ld}; for (int64_t j = j0; j < ${je}; j++) { const float ev = row[j]; row[j] = ${actOf(e, "ev").expr}; } } }`;
}

/** The tiled GEMM kernel body over packed B (tasks: problem × M-tile × N-tile). */
export function sgemmBody(p: SgemmProblem): { body: string; tasks: number } {
  const t = tiles(p.M, p.N, p.K, p.count);
  const body = `for (int64_t t = task_begin; t < task_end; t++) {
  const int64_t mb = t % ${t.mt}, nb = (t / ${t.mt}) % ${t.nt}, bt = t / ${t.mt * t.nt};
  ${tileBounds(t, p.M, p.N)}
  (void)bt;${epiInRegs(p.epi) ? `\n  ${epiDecl(p.epi!, p.epi!.res ? `${p.epi!.res} + ${p.resOff ?? p.cOff}` : undefined)}` : ""}
  infc_sgemm_tile(i0, i1, j0, j1, ${p.N}, ${p.K}, ${p.a} + ${p.aOff}, ${p.lda}, ${p.bp} + ${p.bOff}, ${p.c} + ${p.cOff}, ${p.ldc}, ${p.bias?.mode ?? 0}, ${p.bias ? p.bias.ptr : "(const float*)0"}, ${p.accumulate ? 1 : 0}, ${p.alpha ?? "1.0f"}, ${epiInRegs(p.epi) ? "&e" : "(const infc_epi*)0"});${epiPost(p.epi, `${p.c} + ${p.cOff}`, String(p.ldc), "j1")}
}`;
  return { body, tasks: p.count * t.mt * t.nt };
}

/** Floats of packed B for one K×N problem (padded for the widest NR). */
export function packedSize(K: number, N: number): number {
  return ceilDiv(N, SG_NR) * SG_NR * K;
}
