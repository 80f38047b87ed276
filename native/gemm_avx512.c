/* AVX-512 GEMM micro-kernels (driven by gemm.c): a 12 × 32 f32 tile (24 zmm accumulators, two B vectors and
 * broadcast FMAs from the packed A panel) used for f32 and for bf16 operands widened while packing, and a
 * 12 × 32 bf16 tile on vdpbf16ps (AVX512_BF16, only selected when the CPU has it) with f32 accumulation.
 * Partial tiles at the right edge store through lane masks (packed B is zero-padded to 32 columns).
 * Also the packers that round f32 operands into bf16 pairs for the vdpbf16ps tile (zy_gemm_kernel_avx512bf16_round).
 * Leaves out: prefetch tuning per CPU model, AMX. */
#include "gemm_impl.h"
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define AVX512BF16 __attribute__((target("avx512bf16,avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define MR 12
#define NR 32
/* cache blocks: KC·NR·4 B panel rows stream from L2, MR·KC·4 A panel in L1, KC·NC·4 B block in L2 */
#ifndef ZY_GEMM_KC
#define ZY_GEMM_KC 384
#endif
#ifndef ZY_GEMM_MC
#define ZY_GEMM_MC 1200
#endif
#ifndef ZY_GEMM_NC
#define ZY_GEMM_NC 768
#endif

static inline AVX512 __mmask16 lane_mask(int count) {
  return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

/* Writes acc rows [0, R) to C: alpha·acc (+ beta·C). */
#define STORE_ROWS(R)                                                                               \
  do {                                                                                              \
    __m512 va = _mm512_set1_ps(alpha);                                                              \
    if (beta == 0.0f) {                                                                             \
      for (int i = 0; i < R; i++) {                                                                 \
        _mm512_mask_storeu_ps(c + i * ldc, m0, _mm512_mul_ps(va, acc0[i]));                         \
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, _mm512_mul_ps(va, acc1[i]));                    \
      }                                                                                             \
    } else {                                                                                        \
      __m512 vb = _mm512_set1_ps(beta);                                                             \
      for (int i = 0; i < R; i++) {                                                                 \
        __m512 c0 = _mm512_maskz_loadu_ps(m0, c + i * ldc), c1 = _mm512_maskz_loadu_ps(m1, c + i * ldc + 16); \
        _mm512_mask_storeu_ps(c + i * ldc, m0, _mm512_fmadd_ps(va, acc0[i], _mm512_mul_ps(vb, c0)));          \
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, _mm512_fmadd_ps(va, acc1[i], _mm512_mul_ps(vb, c1)));     \
      }                                                                                             \
    }                                                                                               \
  } while (0)

/* One k-step of the tile: acc{0,1}[i] += A[i] · (b0, b1) for the R rows, then both panels advance. */
#define FMA_ROWS(R)                                                                                 \
  do {                                                                                              \
    _Pragma("GCC unroll 12") for (int i = 0; i < (R); i++) {                                         \
      __m512 ai = _mm512_set1_ps(pa[i]);                                                            \
      acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);                                                   \
      acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);                                                   \
    }                                                                                               \
    pa += MR;                                                                                       \
    pb += ldb;                                                                                      \
  } while (0)

/* R rows × nr (≤ 32) columns of C from a packed A panel (stride MR per k) and a packed B panel (stride ldb). */
static inline __attribute__((always_inline)) AVX512 void tile_rows(const int R, int64_t kb, const float *pa,
                                                                   const float *pb, int64_t ldb, float *c,
                                                                   int64_t ldc, int nr, float alpha, float beta) {
  __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr - 16);
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
  for (int i = 0; i < R; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int i = 0; i < R; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
  /* Two loops (full panels; edge panels with masked loads) because GCC then keeps all 24 accumulators and
   * both B vectors in registers: a single loop made GCC 14 spill a B vector to the stack (check the asm). */
  if (nr == NR) {
#pragma GCC unroll 2
    for (int64_t p = 0; p < kb; p++) {
      _mm_prefetch((const char *)(pb + 16 * ldb), _MM_HINT_T0); /* B rows from L2, 16 k-steps ahead */
      _mm_prefetch((const char *)(pb + 16 * ldb + 16), _MM_HINT_T0);
      __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
      FMA_ROWS(R);
    }
  } else {
    for (int64_t p = 0; p < kb; p++) {
      __m512 b0 = _mm512_maskz_loadu_ps(m0, pb), b1 = _mm512_maskz_loadu_ps(m1, pb + 16);
      FMA_ROWS(R);
    }
  }
  STORE_ROWS(R);
}

#define TILE_FN(R)                                                                                              \
  static AVX512 void tile_##R(int64_t kb, const float *pa, const float *pb, int64_t ldb, float *c, int64_t ldc, \
                              int nr, float alpha, float beta) {                                                \
    tile_rows(R, kb, pa, pb, ldb, c, ldc, nr, alpha, beta);                                                     \
  }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5) TILE_FN(6)
TILE_FN(7) TILE_FN(8) TILE_FN(9) TILE_FN(10) TILE_FN(11) TILE_FN(12)

typedef void (*tile_fn)(int64_t, const float *, const float *, int64_t, float *, int64_t, int, float, float);
static const tile_fn tiles[MR + 1] = {0, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6,
                                      tile_7, tile_8, tile_9, tile_10, tile_11, tile_12};

/* The full-width (32-column) tile with one more job: it prefetches npf cache lines from pf, one every 2 k steps, into
 * L2 (gemm_packed.c hands it the next block's 16-bit weights, so that block's widening finds them in cache; issued
 * all at once between tiles they stalled on the miss buffers). The FMAs are tile_rows' in the same order: the same
 * bits. */
static inline __attribute__((always_inline)) AVX512 void tile_rows_pf(const int R, int64_t kb, const float *pa,
                                                                      const float *pb, float *c, int64_t ldc,
                                                                      float beta, const char *pf, int64_t npf) {
  const int64_t ldb = NR;
  const float alpha = 1.0f;
  const __mmask16 m0 = 0xFFFF, m1 = 0xFFFF;
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
  for (int i = 0; i < R; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int i = 0; i < R; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
  const int64_t pf_steps = npf * 2 < kb ? npf * 2 : kb;
  int64_t p = 0;
#pragma GCC unroll 1
  for (; p + 2 <= pf_steps; p += 2) { /* the unroll-2 loop below with one prefetch per iteration */
    _mm_prefetch(pf, _MM_HINT_T1);
    pf += 64;
    {
      _mm_prefetch((const char *)(pb + 16 * ldb), _MM_HINT_T0);
      _mm_prefetch((const char *)(pb + 16 * ldb + 16), _MM_HINT_T0);
      __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
      FMA_ROWS(R);
    }
    {
      _mm_prefetch((const char *)(pb + 16 * ldb), _MM_HINT_T0);
      _mm_prefetch((const char *)(pb + 16 * ldb + 16), _MM_HINT_T0);
      __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
      FMA_ROWS(R);
    }
  }
#pragma GCC unroll 2
  for (; p < kb; p++) {
    _mm_prefetch((const char *)(pb + 16 * ldb), _MM_HINT_T0);
    _mm_prefetch((const char *)(pb + 16 * ldb + 16), _MM_HINT_T0);
    __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
    FMA_ROWS(R);
  }
  STORE_ROWS(R);
}
#define TILE_PF_FN(R)                                                                                           \
  static AVX512 void tile_pf_##R(int64_t kb, const float *pa, const float *pb, float *c, int64_t ldc, float beta, \
                                 const char *pf, int64_t npf) {                                                 \
    tile_rows_pf(R, kb, pa, pb, c, ldc, beta, pf, npf);                                                         \
  }
TILE_PF_FN(1) TILE_PF_FN(2) TILE_PF_FN(3) TILE_PF_FN(4) TILE_PF_FN(5) TILE_PF_FN(6)
TILE_PF_FN(7) TILE_PF_FN(8) TILE_PF_FN(9) TILE_PF_FN(10) TILE_PF_FN(11) TILE_PF_FN(12)
typedef void (*tile_pf_fn)(int64_t, const float *, const float *, float *, int64_t, float, const char *, int64_t);
static const tile_pf_fn tiles_pf[MR + 1] = {0, tile_pf_1, tile_pf_2, tile_pf_3, tile_pf_4, tile_pf_5, tile_pf_6,
                                            tile_pf_7, tile_pf_8, tile_pf_9, tile_pf_10, tile_pf_11, tile_pf_12};
AVX512 void zy_gemm_avx512_tile_pf(int64_t kb, const float *pa, const float *pb, float *c, int64_t ldc, int mr,
                                   float beta, const void *pf, int64_t npf) {
  tiles_pf[mr](kb, pa, pb, c, ldc, beta, (const char *)pf, npf);
}

static AVX512 void tile_f32(int64_t kbp, const void *pa, const void *pb, int64_t ldb, float *c, int64_t ldc, int mr,
                            int nr, float alpha, float beta) {
  tiles[mr](kbp, (const float *)pa, (const float *)pb, ldb, c, ldc, nr, alpha, beta);
}

/* The same tile over a packed B panel of 16-bit elements (weights packed once at load, gemm_packed.c): each k step
 * loads 32 f16 (half 0) or bf16 (half 1) values and widens them in registers (exact), then the same FMAs in the
 * same order as tile_rows on the widened panel — so the same bits. The panel is zero-padded to 32 columns, so the
 * loads are never masked; only the stores are. */
static inline __attribute__((always_inline)) AVX512 __m512 widen_half(__m256i h, int half) {
  if (half == 0) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
static inline __attribute__((always_inline)) AVX512 void tile_rows_half(const int R, const int half, int64_t kb,
                                                                        const float *pa, const uint16_t *pb,
                                                                        int64_t ldb, float *c, int64_t ldc, int nr,
                                                                        float alpha, float beta) {
  __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr - 16);
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
  for (int i = 0; i < R; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int i = 0; i < R; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 2
  for (int64_t p = 0; p < kb; p++) {
    _mm_prefetch((const char *)(pb + 16 * ldb), _MM_HINT_T0);
    __m512 b0 = widen_half(_mm256_loadu_si256((const __m256i *)pb), half);
    __m512 b1 = widen_half(_mm256_loadu_si256((const __m256i *)(pb + 16)), half);
    FMA_ROWS(R);
  }
  STORE_ROWS(R);
}
#define TILE_HALF_FN(R)                                                                                         \
  static AVX512 void tile_f16_##R(int64_t kb, const float *pa, const uint16_t *pb, int64_t ldb, float *c,       \
                                  int64_t ldc, int nr, float alpha, float beta) {                               \
    tile_rows_half(R, 0, kb, pa, pb, ldb, c, ldc, nr, alpha, beta);                                             \
  }                                                                                                             \
  static AVX512 void tile_bf16_##R(int64_t kb, const float *pa, const uint16_t *pb, int64_t ldb, float *c,      \
                                   int64_t ldc, int nr, float alpha, float beta) {                              \
    tile_rows_half(R, 1, kb, pa, pb, ldb, c, ldc, nr, alpha, beta);                                             \
  }
TILE_HALF_FN(1) TILE_HALF_FN(2) TILE_HALF_FN(3) TILE_HALF_FN(4) TILE_HALF_FN(5) TILE_HALF_FN(6)
TILE_HALF_FN(7) TILE_HALF_FN(8) TILE_HALF_FN(9) TILE_HALF_FN(10) TILE_HALF_FN(11) TILE_HALF_FN(12)

typedef void (*tile_half_fn)(int64_t, const float *, const uint16_t *, int64_t, float *, int64_t, int, float, float);
static const tile_half_fn tiles_f16[MR + 1] = {0, tile_f16_1, tile_f16_2, tile_f16_3, tile_f16_4, tile_f16_5,
                                               tile_f16_6, tile_f16_7, tile_f16_8, tile_f16_9, tile_f16_10,
                                               tile_f16_11, tile_f16_12};
static const tile_half_fn tiles_bf16[MR + 1] = {0, tile_bf16_1, tile_bf16_2, tile_bf16_3, tile_bf16_4, tile_bf16_5,
                                                tile_bf16_6, tile_bf16_7, tile_bf16_8, tile_bf16_9, tile_bf16_10,
                                                tile_bf16_11, tile_bf16_12};
AVX512 void zy_gemm_avx512_widen_half(int bf16, const uint16_t *src, float *dst, int64_t count) {
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    if ((i & 31) == 0) _mm_prefetch((const char *)(src + i + 1024), _MM_HINT_T0); /* 2 KiB ahead, a line per 32 */
    _mm512_storeu_ps(dst + i, widen_half(_mm256_loadu_si256((const __m256i *)(src + i)), bf16));
  }
  for (; i < count; i++) dst[i] = bf16 ? zy_bf16_to_f32(src[i]) : zy_f16_to_f32(src[i]);
}
AVX512 void zy_gemm_avx512_tile_half(int bf16, int64_t kb, const float *pa, const uint16_t *pb, float *c, int64_t ldc,
                                     int mr, int nr, float alpha, float beta) {
  (bf16 ? tiles_bf16 : tiles_f16)[mr](kb, pa, pb, NR, c, ldc, nr, alpha, beta);
}

/* ---- packing (f32, or bf16 widened with a 16-bit shift) ---- */

/* 16 values of one source row starting at element `at`: f32, or bf16 bits widened (bf16 1), or f32 rounded to
 * the nearest-even bf16 value (bf16 2, ROUND_BF16: NaN → quiet NaN, sign kept), or f16 bits widened (bf16 3,
 * F16_BITS: vcvtph2ps, exact); lanes past `count` zero. */
#define ROUND_BF16 2
#define F16_BITS 3
static inline __attribute__((always_inline)) AVX512 __m512 load16(const void *base, int bf16, int64_t at, int count) {
  __mmask16 m = lane_mask(count);
  if (!bf16) return _mm512_maskz_loadu_ps(m, (const float *)base + at);
  if (bf16 == ROUND_BF16) {
    __m512i x = _mm512_maskz_loadu_epi32(m, (const float *)base + at);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), lsb);
    r = _mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    __m512i q = _mm512_or_si512(_mm512_and_si512(x, _mm512_set1_epi32((int)0x80000000u)),
                                _mm512_set1_epi32(0x7fc00000));
    return _mm512_castsi512_ps(_mm512_mask_blend_epi32(nan, r, q));
  }
  __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)base + at);
  if (bf16 == F16_BITS) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Transposing copy: `rows` (≤ 16) source rows, `ld` apart and contiguous along k, become kb destination rows of
 * 16 lanes, dst_stride apart; lanes past `rows` are zero and only the lanes in `store` are written. */
static inline __attribute__((always_inline)) AVX512 void transpose_rows(const void *src, int bf16, int64_t ld,
                                                                         int rows, int64_t kb, float *dst,
                                                                         int64_t dst_stride, __mmask16 store) {
  for (int64_t p = 0; p < kb; p += 16) {
    int count = kb - p < 16 ? (int)(kb - p) : 16;
    __m512 r[16], t[16];
    for (int j = 0; j < 16; j++) r[j] = j < rows ? load16(src, bf16, j * ld + p, count) : _mm512_setzero_ps();
    /* 16 × 16 transpose: interleave 32-bit, then 64-bit elements, then 128-bit lanes */
    for (int j = 0; j < 16; j += 2) {
      t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
      t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
    }
    for (int j = 0; j < 16; j += 4) {
      r[j] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[j]), _mm512_castps_pd(t[j + 2])));
      r[j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[j]), _mm512_castps_pd(t[j + 2])));
      r[j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[j + 1]), _mm512_castps_pd(t[j + 3])));
      r[j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[j + 1]), _mm512_castps_pd(t[j + 3])));
    }
    /* r[4g + s], 128-bit lane L, holds column 4L + s of source rows 4g..4g+3 */
    for (int s = 0; s < 4; s++) {
      __m512 ab_lo = _mm512_shuffle_f32x4(r[s], r[4 + s], 0x44), ab_hi = _mm512_shuffle_f32x4(r[s], r[4 + s], 0xEE);
      __m512 cd_lo = _mm512_shuffle_f32x4(r[8 + s], r[12 + s], 0x44), cd_hi = _mm512_shuffle_f32x4(r[8 + s], r[12 + s], 0xEE);
      t[s] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0x88);
      t[s + 4] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0xDD);
      t[s + 8] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0x88);
      t[s + 12] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0xDD);
    }
    for (int q = 0; q < count; q++) _mm512_mask_storeu_ps(dst + (p + q) * dst_stride, store, t[q]);
  }
}

static inline __attribute__((always_inline)) AVX512 void pack_a_any(const zy_gemm_operand *a, int64_t i0, int64_t mb,
                                                                     int64_t p0, int64_t kb, float *dst, int bf16) {
  int eb = bf16 == 1 ? 2 : 4;
  if (a->rs == 1) { /* transA: a k row holds consecutive rows of op(A); read it once, scatter to the panels */
    for (int64_t p = 0; p < kb; p++) {
      const char *row = (const char *)a->base + ((p0 + p) * a->cs + i0) * eb;
      for (int64_t q = 0; q < mb; q += MR) {
        int rows = mb - q < MR ? (int)(mb - q) : MR;
        _mm512_mask_storeu_ps(dst + q * kb + p * MR, lane_mask(MR), load16(row, bf16, q, rows));
      }
    }
  } else { /* rows of op(A) contiguous along k: transpose MR rows at a time */
    for (int64_t q = 0; q < mb; q += MR) {
      int rows = mb - q < MR ? (int)(mb - q) : MR;
      const char *src = (const char *)a->base + ((i0 + q) * a->rs + p0 * a->cs) * eb;
      transpose_rows(src, bf16, a->rs, rows, kb, dst + q * kb, MR, lane_mask(MR));
    }
  }
}

static inline __attribute__((always_inline)) AVX512 void pack_b_any(const zy_gemm_operand *b, int64_t p0, int64_t kb,
                                                                     int64_t j0, int64_t nb, float *dst, int bf16) {
  int eb = bf16 == 1 || bf16 == F16_BITS ? 2 : 4;
  if (b->cs == 1) { /* B [k, n]: read each k row once, 32 columns into each panel (zero past nb) */
    for (int64_t p = 0; p < kb; p++) {
      const char *row = (const char *)b->base + ((p0 + p) * b->rs + j0) * eb;
      for (int64_t q = 0; q < nb; q += NR) {
        int cols = nb - q < NR ? (int)(nb - q) : NR;
        float *d = dst + q * kb + p * NR;
        _mm512_storeu_ps(d, load16(row, bf16, q, cols));
        _mm512_storeu_ps(d + 16, load16(row, bf16, q + 16, cols - 16));
      }
    }
  } else { /* B stored [n, k] (transB): transpose 16 columns at a time, zero columns written as padding */
    for (int64_t q = 0; q < nb; q += 16) {
      int cols = nb - q < 16 ? (int)(nb - q) : 16;
      const char *src = (const char *)b->base + ((j0 + q) * b->cs + p0 * b->rs) * eb;
      float *d = dst + (q / NR) * NR * kb + q % NR;
      transpose_rows(src, bf16, b->cs, cols, kb, d, NR, (__mmask16)0xFFFF);
    }
    if (nb % NR && nb % NR <= 16) /* the panel's upper 16 columns have no source rows */
      for (int64_t p = 0; p < kb; p++) _mm512_storeu_ps(dst + (nb / NR) * NR * kb + p * NR + 16, _mm512_setzero_ps());
  }
}

static AVX512 void pack_a_f32(const zy_gemm_operand *a, int64_t i0, int64_t mb, int64_t p0, int64_t kb, void *dst) {
  if (a->rs != 1 && a->cs != 1) { zy_pack_a_generic(a, i0, mb, p0, kb, (float *)dst, MR); return; }
  if (a->bf16) pack_a_any(a, i0, mb, p0, kb, (float *)dst, 1);
  else pack_a_any(a, i0, mb, p0, kb, (float *)dst, 0);
}
static AVX512 void pack_b_f32(const zy_gemm_operand *b, int64_t p0, int64_t kb, int64_t j0, int64_t nb, void *dst) {
  if (b->rs != 1 && b->cs != 1) { zy_pack_b_generic(b, p0, kb, j0, nb, (float *)dst, NR); return; }
  if (b->bf16) pack_b_any(b, p0, kb, j0, nb, (float *)dst, 1);
  else pack_b_any(b, p0, kb, j0, nb, (float *)dst, 0);
}

/* Weight rows [j0, j0 + nb) of an f16 (or bf16) matrix stored [rows, ldw], k range [p0, p0 + kb), as a packed B
 * block of the f32 tile: converted once while transposing (zy_gemm_f16w in gemm_f16w.c). */
AVX512 void zy_gemm_avx512_pack_b_half(const uint16_t *w, int64_t ldw, int bf16, int64_t p0, int64_t kb, int64_t j0,
                                       int64_t nb, float *dst) {
  const zy_gemm_operand b = {w, 1, ldw, 1};
  if (bf16) pack_b_any(&b, p0, kb, j0, nb, dst, 1);
  else pack_b_any(&b, p0, kb, j0, nb, dst, F16_BITS);
}

const zy_gemm_kernel zy_gemm_kernel_avx512_f32 = {"avx512", MR, NR, 1, 4, ZY_GEMM_KC, ZY_GEMM_MC, ZY_GEMM_NC,
                                                  pack_a_f32, pack_b_f32, tile_f32};
/* bf16 operands on a CPU without AVX512_BF16: widened to f32 while packing (a 16-bit shift), same tile. */
const zy_gemm_kernel zy_gemm_kernel_avx512_bf16in = {"avx512", MR, NR, 1, 4, ZY_GEMM_KC, ZY_GEMM_MC, ZY_GEMM_NC,
                                                     pack_a_f32, pack_b_f32, tile_f32};

/* ---- matrix-vector (m = 1): memory-bound, so the point is streaming B once with few instructions ---- */

#define GEMV_CHUNK 1024
void AVX512 zy_gemv_avx512(int64_t n, int64_t k, const float *x, const zy_gemm_operand *b, float *y, float alpha,
                           float beta) {
  int bf16 = b->bf16, eb = bf16 ? 2 : 4;
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (b->cs == 1) { /* B [k, n]: y chunk (in L1) += x[p]·B[p, chunk], four rows per pass */
    float acc[GEMV_CHUNK] __attribute__((aligned(64)));
    for (int64_t j0 = 0; j0 < n; j0 += GEMV_CHUNK) {
      int64_t w = n - j0 < GEMV_CHUNK ? n - j0 : GEMV_CHUNK;
      for (int64_t j = 0; j < w; j += 16) _mm512_store_ps(acc + j, _mm512_setzero_ps());
      for (int64_t p = 0; p < k; p += 4) {
        int g = k - p < 4 ? (int)(k - p) : 4;
        const char *r0 = (const char *)b->base + ((p * b->rs) + j0) * eb;
        const char *r1 = g > 1 ? r0 + b->rs * eb : r0, *r2 = g > 2 ? r0 + 2 * b->rs * eb : r0;
        const char *r3 = g > 3 ? r0 + 3 * b->rs * eb : r0;
        __m512 x0 = _mm512_set1_ps(x[p]), x1 = _mm512_set1_ps(g > 1 ? x[p + 1] : 0.0f);
        __m512 x2 = _mm512_set1_ps(g > 2 ? x[p + 2] : 0.0f), x3 = _mm512_set1_ps(g > 3 ? x[p + 3] : 0.0f);
        for (int64_t j = 0; j < w; j += 16) {
          int cnt = w - j < 16 ? (int)(w - j) : 16;
          __m512 s0 = _mm512_fmadd_ps(x0, load16(r0, bf16, j, cnt), _mm512_load_ps(acc + j));
          __m512 s1 = _mm512_mul_ps(x1, load16(r1, bf16, j, cnt));
          s0 = _mm512_fmadd_ps(x2, load16(r2, bf16, j, cnt), s0);
          s1 = _mm512_fmadd_ps(x3, load16(r3, bf16, j, cnt), s1);
          _mm512_store_ps(acc + j, _mm512_add_ps(s0, s1));
        }
      }
      for (int64_t j = 0; j < w; j += 16) {
        __mmask16 m = lane_mask((int)(w - j));
        __m512 r = _mm512_mul_ps(va, _mm512_load_ps(acc + j));
        if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, y + j0 + j), r);
        _mm512_mask_storeu_ps(y + j0 + j, m, r);
      }
    }
    return;
  }
  if (b->rs != 1) { zy_gemv_generic(n, k, x, b, y, alpha, beta); return; }
  /* B stored [n, k]: four dot products at a time, each row streamed once, x shared */
  for (int64_t j = 0; j < n; j += 4) {
    int g = n - j < 4 ? (int)(n - j) : 4;
    const char *r[4];
    for (int i = 0; i < 4; i++) r[i] = (const char *)b->base + (j + (i < g ? i : 0)) * b->cs * eb;
    __m512 s[4][2];
    for (int i = 0; i < 4; i++) s[i][0] = s[i][1] = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 32 <= k; p += 32) {
      __m512 xa = _mm512_loadu_ps(x + p), xb = _mm512_loadu_ps(x + p + 16);
      for (int i = 0; i < 4; i++) {
        s[i][0] = _mm512_fmadd_ps(xa, load16(r[i], bf16, p, 16), s[i][0]);
        s[i][1] = _mm512_fmadd_ps(xb, load16(r[i], bf16, p + 16, 16), s[i][1]);
      }
    }
    for (; p < k; p += 16) {
      int cnt = k - p < 16 ? (int)(k - p) : 16;
      __m512 xa = _mm512_maskz_loadu_ps(lane_mask(cnt), x + p);
      for (int i = 0; i < 4; i++) s[i][0] = _mm512_fmadd_ps(xa, load16(r[i], bf16, p, cnt), s[i][0]);
    }
    for (int i = 0; i < g; i++) {
      float d = alpha * _mm512_reduce_add_ps(_mm512_add_ps(s[i][0], s[i][1]));
      y[j + i] = beta == 0.0f ? d : d + beta * y[j + i];
    }
  }
}

/* A few rows (m ≤ 8) times B stored [n, k] (transB, the nn.Linear layout): still memory-bound, so each B row
 * is read once and dotted with all m rows of x (f32, rows ldx apart, in L1/L2). Two B rows per pass. */
void AVX512 zy_gemv_rows_avx512(int m, int64_t n, int64_t k, const float *x, int64_t ldx, const zy_gemm_operand *b,
                                float *y, int64_t ldy, float alpha, float beta) {
  int bf16 = b->bf16, eb = bf16 ? 2 : 4;
  for (int64_t j = 0; j < n; j += 2) {
    int g = n - j < 2 ? 1 : 2;
    const char *r0 = (const char *)b->base + j * b->cs * eb, *r1 = g > 1 ? r0 + b->cs * eb : r0;
    __m512 acc[8][2];
    for (int i = 0; i < 8; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p += 16) {
      int cnt = k - p < 16 ? (int)(k - p) : 16;
      __mmask16 mk = lane_mask(cnt);
      __m512 b0 = load16(r0, bf16, p, cnt), b1 = load16(r1, bf16, p, cnt);
#pragma GCC unroll 8
      for (int i = 0; i < 8; i++)
        if (i < m) {
          __m512 xi = _mm512_maskz_loadu_ps(mk, x + i * ldx + p);
          acc[i][0] = _mm512_fmadd_ps(xi, b0, acc[i][0]);
          acc[i][1] = _mm512_fmadd_ps(xi, b1, acc[i][1]);
        }
    }
    for (int i = 0; i < m; i++)
      for (int t = 0; t < g; t++) {
        float d = alpha * _mm512_reduce_add_ps(acc[i][t]);
        float *yo = y + i * ldy + j + t;
        *yo = beta == 0.0f ? d : d + beta * *yo;
      }
  }
}

/* ---- AVX512_BF16: pairs of k in 32 bits, vdpbf16ps adds a(i,p)·b(p,j) + a(i,p+1)·b(p+1,j) per lane ---- */

static inline uint16_t bf16_at(const zy_gemm_operand *x, int64_t at) { return ((const uint16_t *)x->base)[at]; }

/* A panel: pair pp of row i at 32-bit element pp·MR + i (low half k = 2pp, high half 2pp+1; zero past kb). */
static void pack_a_bf16pairs(const zy_gemm_operand *a, int64_t i0, int64_t mb, int64_t p0, int64_t kb, void *dst) {
  int64_t pairs = (kb + 1) / 2;
  uint32_t *d = (uint32_t *)dst;
  for (int64_t q = 0; q < mb; q += MR, d += MR * pairs) {
    int rows = mb - q < MR ? (int)(mb - q) : MR;
    for (int64_t pp = 0; pp < pairs; pp++)
      for (int i = 0; i < MR; i++) {
        uint32_t lo = 0, hi = 0;
        if (i < rows) {
          int64_t row = (i0 + q + i) * a->rs, p = p0 + 2 * pp;
          lo = bf16_at(a, row + p * a->cs);
          if (2 * pp + 1 < kb) hi = bf16_at(a, row + (p + 1) * a->cs);
        }
        d[pp * MR + i] = lo | hi << 16;
      }
  }
}
/* B panel: pair pp, column j at 16-bit elements pp·2NR + 2j (k = 2pp) and + 1 (k = 2pp+1); zero padding. */
static void pack_b_bf16pairs(const zy_gemm_operand *b, int64_t p0, int64_t kb, int64_t j0, int64_t nb, void *dst) {
  int64_t pairs = (kb + 1) / 2;
  uint16_t *d = (uint16_t *)dst;
  for (int64_t q = 0; q < nb; q += NR, d += 2 * NR * pairs) {
    int cols = nb - q < NR ? (int)(nb - q) : NR;
    for (int64_t pp = 0; pp < pairs; pp++)
      for (int j = 0; j < NR; j++)
        for (int t = 0; t < 2; t++) {
          int64_t p = 2 * pp + t;
          d[pp * 2 * NR + 2 * j + t] = j < cols && p < kb ? bf16_at(b, (p0 + p) * b->rs + (j0 + q + j) * b->cs) : 0;
        }
  }
}

#ifdef ZY_GEMM_EMULATE_BF16
/* dev/gemm only: vdpbf16ps emulated with AVX-512F (each bf16 widened exactly, two FMAs), so the pair layout of
 * the packers and the tile can be checked on a CPU without AVX512_BF16. */
#undef AVX512BF16
#define AVX512BF16 AVX512
typedef __m512i bf16x32;
static inline AVX512 __m512 dpbf16(__m512 acc, __m512i a, __m512i b) {
  __m512i hi_mask = _mm512_set1_epi32((int)0xFFFF0000u);
  acc = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(a, 16)), _mm512_castsi512_ps(_mm512_slli_epi32(b, 16)), acc);
  return _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(a, hi_mask)),
                         _mm512_castsi512_ps(_mm512_and_si512(b, hi_mask)), acc);
}
#define AS_BF16(x) (x)
#else
typedef __m512bh bf16x32;
#define dpbf16 _mm512_dpbf16_ps
#define AS_BF16(x) ((__m512bh)(x))
#endif

static AVX512BF16 void tile_bf16pairs(int64_t kbp, const void *pav, const void *pbv, int64_t ldb, float *c,
                                      int64_t ldc, int mr, int nr, float alpha, float beta) {
  (void)ldb; /* always packed: pair rows are 2·NR bf16 apart */
  const uint32_t *pa = (const uint32_t *)pav;
  const uint16_t *pb = (const uint16_t *)pbv;
  __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr - 16);
  __m512 acc0[MR], acc1[MR];
  for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();
  for (int64_t pp = 0; pp < kbp / 2; pp++) {
    bf16x32 b0 = AS_BF16(_mm512_loadu_si512(pb)), b1 = AS_BF16(_mm512_loadu_si512(pb + 32));
    for (int i = 0; i < MR; i++) {
      bf16x32 ai = AS_BF16(_mm512_set1_epi32((int)pa[i]));
      acc0[i] = dpbf16(acc0[i], ai, b0);
      acc1[i] = dpbf16(acc1[i], ai, b1);
    }
    pa += MR;
    pb += 2 * NR;
  }
  switch (mr) { /* store only the rows that exist */
    case 12: STORE_ROWS(12); break;
    case 11: STORE_ROWS(11); break;
    case 10: STORE_ROWS(10); break;
    case 9: STORE_ROWS(9); break;
    case 8: STORE_ROWS(8); break;
    case 7: STORE_ROWS(7); break;
    case 6: STORE_ROWS(6); break;
    case 5: STORE_ROWS(5); break;
    case 4: STORE_ROWS(4); break;
    case 3: STORE_ROWS(3); break;
    case 2: STORE_ROWS(2); break;
    default: STORE_ROWS(1); break;
  }
}

const zy_gemm_kernel zy_gemm_kernel_avx512bf16 = {"avx512-bf16", MR, NR, 2, 2, ZY_GEMM_KC, ZY_GEMM_MC, ZY_GEMM_NC,
                                                  pack_a_bf16pairs, pack_b_bf16pairs, tile_bf16pairs};

/* ---- f32 operands rounded to bf16 pairs for the vdpbf16ps tile (zy_sgemm_round_bf16 on AVX512_BF16) ----
 * A transposed A (a k row holds consecutive rows of op(A)) is folded straight from two source k rows; the other
 * operands are packed as f32 by the f32 packers (every stride) into a per-thread scratch panel that stays in L1,
 * then folded into the pair layout (for B [k, n] this measured faster than folding from the source rows): both
 * values of a pair rounded to nearest even (ROUND_BF16's rounding, NaN → quiet NaN) and joined into one 32-bit
 * word. A missing odd k (kb odd) and rows/columns past the block are zero in both operands, so padding never
 * multiplies an Inf or NaN. */

static __thread float round_pair_scratch[NR * ZY_GEMM_KC] __attribute__((aligned(64)));

/* Two rounded values per lane → one pair word per lane: lo (k even) in the low half, hi (k odd, NULL: zero) in the
 * high; only the `lanes` (a prefix) are read, the others are zero. */
static inline __attribute__((always_inline)) AVX512 __m512i fold_pair(const float *lo, const float *hi,
                                                                       __mmask16 lanes) {
  int count = __builtin_popcount((unsigned)lanes); /* lanes is always a prefix mask */
  __m512i l = _mm512_castps_si512(load16(lo, ROUND_BF16, 0, count)), h = _mm512_setzero_si512();
  if (hi) h = _mm512_castps_si512(load16(hi, ROUND_BF16, 0, count));
  __m512i w = _mm512_or_si512(_mm512_srli_epi32(l, 16), _mm512_and_si512(h, _mm512_set1_epi32((int)0xffff0000u)));
  return _mm512_maskz_mov_epi32(lanes, w);
}

static AVX512 void pack_a_round_pairs(const zy_gemm_operand *a, int64_t i0, int64_t mb, int64_t p0, int64_t kb,
                                      void *dst) {
  int64_t pairs = (kb + 1) / 2;
  uint32_t *d = (uint32_t *)dst;
  if (a->rs == 1) { /* transA: a k row holds consecutive rows of op(A); read two k rows once, fold into the panels */
    for (int64_t pp = 0; pp < pairs; pp++) {
      const float *lo = (const float *)a->base + (p0 + 2 * pp) * a->cs + i0;
      const float *hi = 2 * pp + 1 < kb ? lo + a->cs : NULL;
      for (int64_t q = 0; q < mb; q += MR) {
        int rows = mb - q < MR ? (int)(mb - q) : MR;
        __m512i w = fold_pair(lo + q, hi ? hi + q : NULL, lane_mask(rows));
        _mm512_mask_storeu_epi32(d + q * pairs + pp * MR, lane_mask(MR), w);
      }
    }
    return;
  }
  float *t = round_pair_scratch;
  for (int64_t q = 0; q < mb; q += MR, d += MR * pairs) {
    int rows = mb - q < MR ? (int)(mb - q) : MR;
    pack_a_f32(a, i0 + q, rows, p0, kb, t); /* one panel: element (i, p) at p·MR + i */
    for (int64_t pp = 0; pp < pairs; pp++) {
      const float *hi = 2 * pp + 1 < kb ? t + (2 * pp + 1) * MR : NULL;
      _mm512_mask_storeu_epi32(d + pp * MR, lane_mask(MR), fold_pair(t + 2 * pp * MR, hi, lane_mask(rows)));
    }
  }
}

static AVX512 void pack_b_round_pairs(const zy_gemm_operand *b, int64_t p0, int64_t kb, int64_t j0, int64_t nb,
                                      void *dst) {
  int64_t pairs = (kb + 1) / 2;
  uint32_t *d = (uint32_t *)dst;
  float *t = round_pair_scratch;
  for (int64_t q = 0; q < nb; q += NR, d += NR * pairs) {
    int cols = nb - q < NR ? (int)(nb - q) : NR;
    pack_b_f32(b, p0, kb, j0 + q, cols, t); /* one panel: element (p, j) at p·NR + j */
    __mmask16 m0 = lane_mask(cols), m1 = lane_mask(cols - 16);
    for (int64_t pp = 0; pp < pairs; pp++) {
      const float *lo = t + 2 * pp * NR, *hi = 2 * pp + 1 < kb ? lo + NR : NULL;
      _mm512_storeu_si512(d + pp * NR, fold_pair(lo, hi, m0));
      _mm512_storeu_si512(d + pp * NR + 16, fold_pair(lo + 16, hi ? hi + 16 : NULL, m1));
    }
  }
}

const zy_gemm_kernel zy_gemm_kernel_avx512bf16_round = {"avx512-bf16", MR, NR, 2, 2, ZY_GEMM_KC, ZY_GEMM_MC,
                                                        ZY_GEMM_NC, pack_a_round_pairs, pack_b_round_pairs,
                                                        tile_bf16pairs};
