/* AVX-512 + VNNI dot kernels for quantized weights (selected when the CPU has AVX512_VNNI). Each kernel unpacks
 * a weight block once into unsigned bytes and runs vpdpbusd against up to 4 activation rows:
 * - 32-blocks (q8_0, q4_0, q4_1, q5_0, q5_1): two blocks per zmm; a weight offset (q8_0: +128, q4_0: +8, q5_0: +16)
 *   makes the values unsigned and the accumulator starts at −offset·Σa (Σa per block comes with the activations);
 *   then one f32 multiply-add per block pair: lanes · (d_w·d_a).
 * - k-quants: four zmm per super-block, int32 lanes scaled by the 6-bit/8-bit sub-block scales (vpmaddwd), mins
 *   (q4_k, q5_k) and the q6_k offset from the activations' per-16 sums; the sums of 4 activation rows are reduced
 *   together and their f32 steps run in 4 lanes, rounding exactly as the reference does.
 * - f32/f16/bf16: f32 FMAs on the (rounded) activations.
 * Integer parts are exact; the f32 sums run in 16 lanes, so results differ from the reference's left-to-right
 * order by rounding only. Leaves out: an AVX-512 path without VNNI (uses the portable kernels). */
#include "quant_impl.h"
#include <immintrin.h>
#include <math.h>

#define QV __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,fma,f16c")))

static inline QV float f16s(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

/* [x0 ×8, x1 ×8] */
static inline QV __m512 pair_ps(float x0, float x1) {
  return _mm512_insertf32x8(_mm512_set1_ps(x0), _mm256_set1_ps(x1), 1);
}

/* The 16 bytes at p0 and at p1 as nibbles: [lo(p0), hi(p0), lo(p1), hi(p1)], each byte 0..15. */
static inline QV __m512i nibbles2(const uint8_t *p0, const uint8_t *p1) {
  const __m128i a = _mm_loadu_si128((const __m128i *)p0), b = _mm_loadu_si128((const __m128i *)p1);
  __m512i v = _mm512_castsi128_si512(a);
  v = _mm512_inserti32x4(v, a, 1);
  v = _mm512_inserti32x4(v, b, 2);
  v = _mm512_inserti32x4(v, b, 3);
  v = _mm512_srlv_epi64(v, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0));
  return _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
}

/* The 32 bytes at p as nibbles: [lo(p[0..32]), hi(p[0..32])]. */
static inline QV __m512i nibbles32(const uint8_t *p) {
  const __m256i a = _mm256_loadu_si256((const __m256i *)p);
  __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(a), a, 1);
  v = _mm512_srlv_epi64(v, _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0));
  return _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
}

static inline QV uint32_t load_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* ---- 32-element blocks ---- */

/* Unsigned bytes of blocks b (p0) and b+1 (p1) of a row of `type`, their scales and mins. */
static inline QV __m512i unpack_pair(int type, const uint8_t *p0, const uint8_t *p1, float *d0, float *d1, float *m0,
                                     float *m1) {
  *d0 = f16s(p0);
  *d1 = f16s(p1);
  switch (type) {
    case ZY_QT_Q8_0: {
      __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(p0 + 2))),
                                     _mm256_loadu_si256((const __m256i *)(p1 + 2)), 1);
      return _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80));
    }
    case ZY_QT_Q4_0:
      return nibbles2(p0 + 2, p1 + 2);
    case ZY_QT_Q4_1:
      *m0 = f16s(p0 + 2);
      *m1 = f16s(p1 + 2);
      return nibbles2(p0 + 4, p1 + 4);
    case ZY_QT_Q5_0: {
      const __mmask64 hb = (__mmask64)load_u32(p0 + 2) | ((__mmask64)load_u32(p1 + 2) << 32);
      return _mm512_or_si512(nibbles2(p0 + 6, p1 + 6), _mm512_maskz_mov_epi8(hb, _mm512_set1_epi8(0x10)));
    }
    default: { /* q5_1 */
      *m0 = f16s(p0 + 2);
      *m1 = f16s(p1 + 2);
      const __mmask64 hb = (__mmask64)load_u32(p0 + 4) | ((__mmask64)load_u32(p1 + 4) << 32);
      return _mm512_or_si512(nibbles2(p0 + 8, p1 + 8), _mm512_maskz_mov_epi8(hb, _mm512_set1_epi8(0x10)));
    }
  }
}

/* Unsigned bytes of the block pair at p0/p1 with their scales as [d0 ×8, d1 ×8] in *dw (and mins). */
static inline QV __m512i weight_pair(const int type, const int tail, const uint8_t *p0, const uint8_t *p1, __m512 *dw,
                                     float *m0, float *m1) {
  if (type == ZY_QT_Q4_0 && !tail) {
    /* Both blocks (36 bytes) in one masked load; their 16-bit words give the nibble bytes and the two f16 scales
     * through vpermw, with no inserts or scalar conversions. */
    const __m512i v = _mm512_maskz_loadu_epi8(0xFFFFFFFFFull, p0);
    const __m512i q = _mm512_permutexvar_epi16(
        _mm512_set_epi16(17, 16, 15, 14, 13, 12, 11, 10, 17, 16, 15, 14, 13, 12, 11, 10, 8, 7, 6, 5, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1), v);
    const __m512i dd = _mm512_permutexvar_epi16(
        _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0), v);
    *dw = _mm512_cvtph_ps(_mm512_castsi512_si256(dd));
    return _mm512_and_si512(_mm512_srlv_epi64(q, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0)), _mm512_set1_epi8(0x0F));
  }
  float d0, d1;
  const __m512i u = unpack_pair(type, p0, p1, &d0, &d1, m0, m1);
  *dw = pair_ps(d0, d1);
  return u;
}

static inline QV void dot_q32(const uint8_t *w, int64_t cols, const zy_qact *act, int64_t a0, const int na,
                              float *out, int64_t os, const int type) {
  const int bytes = type == ZY_QT_Q8_0 ? 34 : type == ZY_QT_Q4_0 ? 18 : type == ZY_QT_Q4_1 ? 20 : type == ZY_QT_Q5_0 ? 22 : 24;
  const int off = type == ZY_QT_Q8_0 ? 128 : type == ZY_QT_Q4_0 ? 8 : type == ZY_QT_Q5_0 ? 16 : 0;
  const int with_min = type == ZY_QT_Q4_1 || type == ZY_QT_Q5_1;
  const int64_t nb = cols / 32, nbs = act->nb;
  __m512 acc[8];
  float accm[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int j = 0; j < 8; j++) acc[j] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b += 2) {
    const int tail = b + 1 == nb; /* odd block count: the upper half reads block b again and is masked out */
    const uint8_t *p0 = w + b * bytes, *p1 = tail ? p0 : p0 + bytes;
    _mm_prefetch((const char *)(p0 + 8 * nb * bytes), _MM_HINT_T0); /* the same block 8 rows ahead */
    float m0 = 0, m1 = 0;
    __m512 dw; /* the tail's upper half is zeroed through dav */
    const __m512i u = weight_pair(type, tail, p0, p1, &dw, &m0, &m1);
    const int64_t pv = b * 8;            /* this pair's 16 lanes in dav / corrv */
    for (int j = 0; j < na; j++) {
      const int64_t row = a0 + j, rv = row * ((nbs + 1) / 2) * 16 + pv;
      const int8_t *aq = act->q + row * cols + b * 32;
      const __m512i av = tail ? _mm512_maskz_loadu_epi8(0xFFFFFFFFull, aq) : _mm512_loadu_si512((const void *)aq);
      const __m512i init = off ? _mm512_loadu_si512((const void *)(act->corrv + rv)) : _mm512_setzero_si512();
      const __m512i dp = _mm512_dpbusd_epi32(init, u, av);
      const __m512 scale = _mm512_mul_ps(dw, _mm512_loadu_ps(act->dav + rv));
      acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), scale, acc[j]);
      if (with_min) {
        const float *s = act->s + row * nbs + b;
        accm[j] += m0 * s[0] + (tail ? 0.0f : m1 * s[1]);
      }
    }
  }
  for (int j = 0; j < na; j++) out[j * os] = _mm512_reduce_add_ps(acc[j]) + accm[j];
}

/* Up to 8 activation rows per unpacked weight block (the driver asks for 8 when ZY_QDOT_WIDE8 says so). */
#define Q32_KERNEL(NAME, TYPE)                                                                                    \
  static QV void NAME(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { \
    switch (na) {                                                                                                 \
      case 1: dot_q32(w, c, a, a0, 1, o, os, TYPE); break;                                                        \
      case 2: dot_q32(w, c, a, a0, 2, o, os, TYPE); break;                                                        \
      case 3: dot_q32(w, c, a, a0, 3, o, os, TYPE); break;                                                        \
      case 4: dot_q32(w, c, a, a0, 4, o, os, TYPE); break;                                                        \
      case 5: dot_q32(w, c, a, a0, 5, o, os, TYPE); break;                                                        \
      case 6: dot_q32(w, c, a, a0, 6, o, os, TYPE); break;                                                        \
      case 7: dot_q32(w, c, a, a0, 7, o, os, TYPE); break;                                                        \
      default: dot_q32(w, c, a, a0, 8, o, os, TYPE); break;                                                       \
    }                                                                                                             \
  }
Q32_KERNEL(dot_q8_0, ZY_QT_Q8_0)
Q32_KERNEL(dot_q4_0, ZY_QT_Q4_0)
Q32_KERNEL(dot_q4_1, ZY_QT_Q4_1)
Q32_KERNEL(dot_q5_0, ZY_QT_Q5_0)
Q32_KERNEL(dot_q5_1, ZY_QT_Q5_1)

/* weight_pair of block pair b of the row at `row`, prefetching the same pair 8 rows ahead (far enough to hide
 * DRAM latency; rows are row_bytes apart). */
static inline QV __m512i row_pair(const int type, const int tail, const uint8_t *row, int64_t row_bytes, int64_t b,
                                  const int bytes, __m512 *dw, float *m0, float *m1) {
  const uint8_t *p0 = row + b * bytes, *p1 = tail ? p0 : p0 + bytes;
  _mm_prefetch((const char *)(p0 + 8 * row_bytes), _MM_HINT_T0);
  return weight_pair(type, tail, p0, p1, dw, m0, m1);
}

/* Four weight rows (row_bytes apart) against na ≤ 4 activation rows, out[j·os + r]: a 4 × na register tile. Each
 * activation row's vectors are loaded once per block pair for all four weight rows and each weight pair is
 * unpacked once for all na activation rows; the 4·na accumulators are independent chains. Per (row, activation
 * row) the arithmetic is exactly dot_q32's, so results are bit-identical to it. */
static inline QV void dot_q32_tile(const uint8_t *w, int64_t row_bytes, int64_t cols, const zy_qact *act, int64_t a0,
                                   const int na, float *out, int64_t os, const int type) {
  const int bytes = type == ZY_QT_Q8_0 ? 34 : type == ZY_QT_Q4_0 ? 18 : type == ZY_QT_Q4_1 ? 20 : type == ZY_QT_Q5_0 ? 22 : 24;
  const int off = type == ZY_QT_Q8_0 ? 128 : type == ZY_QT_Q4_0 ? 8 : type == ZY_QT_Q5_0 ? 16 : 0;
  const int with_min = type == ZY_QT_Q4_1 || type == ZY_QT_Q5_1;
  const int64_t nb = cols / 32, nbs = act->nb, pairs = (nbs + 1) / 2;
  __m512 acc[4][4];
  float accm[4][4];
  for (int r = 0; r < 4; r++)
    for (int j = 0; j < na; j++) acc[r][j] = _mm512_setzero_ps(), accm[r][j] = 0.0f;
  for (int64_t b = 0; b < nb; b += 2) {
    const int tail = b + 1 == nb;
    __m512i av[4], init[4];
    __m512 da[4];
    for (int j = 0; j < na; j++) {
      const int8_t *aq = act->q + (a0 + j) * cols + b * 32;
      const int64_t rv = (a0 + j) * pairs * 16 + b * 8;
      av[j] = tail ? _mm512_maskz_loadu_epi8(0xFFFFFFFFull, aq) : _mm512_loadu_si512((const void *)aq);
      init[j] = off ? _mm512_loadu_si512((const void *)(act->corrv + rv)) : _mm512_setzero_si512();
      da[j] = _mm512_loadu_ps(act->dav + rv);
    }
    for (int r = 0; r < 4; r++) {
      float m0 = 0, m1 = 0;
      __m512 dw;
      const __m512i u = row_pair(type, tail, w + r * row_bytes, row_bytes, b, bytes, &dw, &m0, &m1);
      for (int j = 0; j < na; j++) {
        const __m512i dp = _mm512_dpbusd_epi32(init[j], u, av[j]);
        acc[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), _mm512_mul_ps(dw, da[j]), acc[r][j]);
        if (with_min) {
          const float *s = act->s + (a0 + j) * nbs + b;
          accm[r][j] += m0 * s[0] + (tail ? 0.0f : m1 * s[1]);
        }
      }
    }
  }
  for (int r = 0; r < 4; r++)
    for (int j = 0; j < na; j++) out[j * os + r] = _mm512_reduce_add_ps(acc[r][j]) + accm[r][j];
}

/* Decode (one activation row): four weight rows at once, row_bytes apart — dot_q32_tile with na = 1, written out
 * because the general tile compiles to a ~35% slower loop for one row (measured 0.19 vs 0.14 ms, 4096 × 768
 * q8_0). Each row's arithmetic is exactly dot_q32's with na = 1, so results are bit-identical to it. */
static inline QV void dot_q32_rows4(const uint8_t *w, int64_t row_bytes, int64_t cols, const zy_qact *act, int64_t arow,
                                    float *out, const int type) {
  const int bytes = type == ZY_QT_Q8_0 ? 34 : type == ZY_QT_Q4_0 ? 18 : type == ZY_QT_Q4_1 ? 20 : type == ZY_QT_Q5_0 ? 22 : 24;
  const int off = type == ZY_QT_Q8_0 ? 128 : type == ZY_QT_Q4_0 ? 8 : type == ZY_QT_Q5_0 ? 16 : 0;
  const int with_min = type == ZY_QT_Q4_1 || type == ZY_QT_Q5_1;
  const int64_t nb = cols / 32, nbs = act->nb;
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  float accm[4] = {0, 0, 0, 0};
  const int8_t *aq_row = act->q + arow * cols;
  const int64_t rv_row = arow * ((nbs + 1) / 2) * 16;
  for (int64_t b = 0; b < nb; b += 2) {
    const int tail = b + 1 == nb;
    const int8_t *aq = aq_row + b * 32;
    const __m512i av = tail ? _mm512_maskz_loadu_epi8(0xFFFFFFFFull, aq) : _mm512_loadu_si512((const void *)aq);
    const __m512i init = off ? _mm512_loadu_si512((const void *)(act->corrv + rv_row + b * 8)) : _mm512_setzero_si512();
    const __m512 da = _mm512_loadu_ps(act->dav + rv_row + b * 8);
    const float *s = with_min ? act->s + arow * nbs + b : NULL;
    for (int r = 0; r < 4; r++) {
      float m0 = 0, m1 = 0;
      __m512 dw;
      const __m512i u = row_pair(type, tail, w + r * row_bytes, row_bytes, b, bytes, &dw, &m0, &m1);
      const __m512i dp = _mm512_dpbusd_epi32(init, u, av);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), _mm512_mul_ps(dw, da), acc[r]);
      if (with_min) accm[r] += m0 * s[0] + (tail ? 0.0f : m1 * s[1]);
    }
  }
  for (int r = 0; r < 4; r++) out[r] = _mm512_reduce_add_ps(acc[r]) + accm[r];
}

/* The tile kernels of the table: 4 weight rows × 2–4 activation rows. */
#define Q32_TILE(NAME, TYPE)                                                                                      \
  static QV void NAME(const uint8_t *w, int64_t rb, int64_t c, const zy_qact *a, int64_t a0, int na, float *o,  \
                      int64_t os) {                                                                               \
    switch (na) {                                                                                                 \
      case 2: dot_q32_tile(w, rb, c, a, a0, 2, o, os, TYPE); break;                                               \
      case 3: dot_q32_tile(w, rb, c, a, a0, 3, o, os, TYPE); break;                                               \
      default: dot_q32_tile(w, rb, c, a, a0, 4, o, os, TYPE); break;                                              \
    }                                                                                                             \
  }
Q32_TILE(tile_q8_0, ZY_QT_Q8_0)
Q32_TILE(tile_q4_0, ZY_QT_Q4_0)
Q32_TILE(tile_q4_1, ZY_QT_Q4_1)
Q32_TILE(tile_q5_0, ZY_QT_Q5_0)
Q32_TILE(tile_q5_1, ZY_QT_Q5_1)

/* A decode kernel of the table: IMPL (dot_q32_rows4 or dot_k_rows4) for one weight type. */
#define ROWS4(NAME, IMPL, TYPE)                                                                                   \
  static QV void NAME(const uint8_t *w, int64_t rb, int64_t c, const zy_qact *a, int64_t arow, float *o) {     \
    IMPL(w, rb, c, a, arow, o, TYPE);                                                                             \
  }
ROWS4(rows4_q8_0, dot_q32_rows4, ZY_QT_Q8_0)
ROWS4(rows4_q4_0, dot_q32_rows4, ZY_QT_Q4_0)
ROWS4(rows4_q4_1, dot_q32_rows4, ZY_QT_Q4_1)
ROWS4(rows4_q5_0, dot_q32_rows4, ZY_QT_Q5_0)
ROWS4(rows4_q5_1, dot_q32_rows4, ZY_QT_Q5_1)

/* ---- k-quants ---- */

/* [Σ v[0], Σ v[1], Σ v[2], Σ v[3]] of four int32 vectors. */
static inline QV __m128i reduce4_256(const __m256i v[4]) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}
static inline QV __m128i reduce4_512(const __m512i v[4]) {
  __m256i f[4];
  for (int j = 0; j < 4; j++) f[j] = _mm256_add_epi32(_mm512_castsi512_si256(v[j]), _mm512_extracti64x4_epi64(v[j], 1));
  return reduce4_256(f);
}

/* One k-quant super-block of a weight row, unpacked: 256 unsigned weight bytes in u, the per-32 scales spread for
 * vpmaddwd in scv, the q6_k per-16 scales (corr16) or the q4_k/q5_k per-16 mins (mins16), and d, dmin. */
typedef struct {
  __m512i u[4], scv[4];
  __m256i corr16, mins16;
  float d, dmin;
} kblock;

static inline QV void unpack_k(const uint8_t *p, const int type, kblock *kb) {
  kb->corr16 = _mm256_setzero_si256();
  kb->mins16 = _mm256_setzero_si256();
  kb->dmin = 0.0f;
  if (type == ZY_QT_Q6_K) {
    kb->d = f16s(p + 208);
    const __m512i sc16 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 192)));
    for (int k = 0; k < 4; k++) {
      const __m512i idx = _mm512_set_epi32(4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 2, 4 * k + 2, 4 * k + 2,
                                           4 * k + 2, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k, 4 * k, 4 * k, 4 * k);
      kb->scv[k] = _mm512_and_si512(_mm512_permutexvar_epi32(idx, sc16), _mm512_set1_epi32(0xFFFF));
    }
    kb->corr16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 192)));
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x03);
    for (int h = 0; h < 2; h++) {
      const __m512i ql = _mm512_loadu_si512((const void *)(p + 64 * h));
      const __m256i qh256 = _mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h));
      const __m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(qh256), qh256, 1);
      const __m512i h01 = _mm512_and_si512(_mm512_srlv_epi64(qh, _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0)), m2);
      const __m512i h23 = _mm512_and_si512(_mm512_srlv_epi64(qh, _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4)), m2);
      kb->u[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(h01, 4));
      kb->u[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_slli_epi16(h23, 4));
    }
    return;
  }
  kb->d = f16s(p);
  kb->dmin = f16s(p + 2);
  /* 12 bytes of 6-bit scales and mins → 8 scale bytes (u[0..1]) and 8 min bytes (u[2..3]) */
  uint32_t ut[4];
  memcpy(ut, p + 4, 12);
  ut[3] = ((ut[2] >> 4) & 0x0f0f0f0fu) | (((ut[1] >> 6) & 0x03030303u) << 4);
  const uint32_t mins_lo = ut[1] & 0x3f3f3f3fu;
  ut[1] = (ut[2] & 0x0f0f0f0fu) | (((ut[0] >> 6) & 0x03030303u) << 4);
  ut[2] = mins_lo;
  ut[0] &= 0x3f3f3f3fu;
  /* mins[g] for each of the 16 per-16 sums: bsums 2g and 2g+1 belong to min g */
  const __m128i mn8 = _mm_cvtsi64_si128((long long)((uint64_t)ut[2] | ((uint64_t)ut[3] << 32)));
  kb->mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn8, mn8));
  /* through a register, not memory: a 64-bit load of two 32-bit stores would stall store forwarding */
  const __m512i sc8 = _mm512_cvtepu8_epi32(_mm_cvtsi64_si128((long long)((uint64_t)ut[0] | ((uint64_t)ut[1] << 32))));
  for (int c = 0; c < 4; c++) {
    const __m512i idx = _mm512_inserti32x8(_mm512_set1_epi32(2 * c), _mm256_set1_epi32(2 * c + 1), 1);
    kb->scv[c] = _mm512_permutexvar_epi32(idx, sc8);
  }
  if (type == ZY_QT_Q4_K) {
    for (int c = 0; c < 4; c++) kb->u[c] = nibbles32(p + 16 + 32 * c);
  } else {
    const __m256i qh = _mm256_loadu_si256((const __m256i *)(p + 16));
    for (int c = 0; c < 4; c++) {
      const __mmask32 lo = _mm256_test_epi8_mask(qh, _mm256_set1_epi8((char)(1 << (2 * c))));
      const __mmask32 hi = _mm256_test_epi8_mask(qh, _mm256_set1_epi8((char)(2 << (2 * c))));
      const __mmask64 hb = (__mmask64)lo | ((__mmask64)hi << 32);
      kb->u[c] = _mm512_or_si512(nibbles32(p + 48 + 32 * c), _mm512_maskz_mov_epi8(hb, _mm512_set1_epi8(0x10)));
    }
  }
}

/* Integer sums of one unpacked super-block against one activation row's 256 bytes aq (bs: its 16 per-16 sums):
 * dp·scale via vpmaddwd (dp lanes and scales fit in int16; the scales' upper halves are zero), the q6_k offset
 * folded in as −32·Σ sc·bsums; the q4_k/q5_k min sums go to *msum. */
static inline QV __m512i ksum(const kblock *kb, const int8_t *aq, const __m256i bs, const int type, __m256i *msum) {
  __m512i t = _mm512_setzero_si512();
  for (int k = 0; k < 4; k++) {
    const __m512i dp = _mm512_dpbusd_epi32(_mm512_setzero_si512(), kb->u[k], _mm512_loadu_si512((const void *)(aq + 64 * k)));
    t = _mm512_add_epi32(t, _mm512_madd_epi16(dp, kb->scv[k]));
  }
  if (type == ZY_QT_Q6_K) t = _mm512_sub_epi32(t, _mm512_zextsi256_si512(_mm256_slli_epi32(_mm256_madd_epi16(bs, kb->corr16), 5)));
  else *msum = _mm256_madd_epi16(bs, kb->mins16);
  return t;
}

/* The f32 step of four rows' super-block sums, as the reference rounds it: acc += (float)((double)(d·da) · total),
 * with d·da in lanes (one weight row against 4 activation rows, or 4 weight rows against one). */
static inline QV void k_accumulate(__m128 dda, __m128 dmda, const __m512i isum[4], const __m256i msum[4], const int type,
                                   __m128 *acc4, __m128 *accm4) {
  const __m256d prod = _mm256_mul_pd(_mm256_cvtps_pd(dda), _mm256_cvtepi32_pd(reduce4_512(isum)));
  *acc4 = _mm_add_ps(*acc4, _mm256_cvtpd_ps(prod));
  if (type != ZY_QT_Q6_K) {
    const __m256d pm = _mm256_mul_pd(_mm256_cvtps_pd(dmda), _mm256_cvtepi32_pd(reduce4_256(msum)));
    *accm4 = _mm_add_ps(*accm4, _mm256_cvtpd_ps(pm));
  }
}

static inline QV void dot_k(const uint8_t *w, int64_t cols, const zy_qact *act, int64_t a0, const int na, float *out,
                            int64_t os, const int type) {
  const int bytes = type == ZY_QT_Q4_K ? 144 : type == ZY_QT_Q5_K ? 176 : 210;
  const int64_t nb = cols / 256, nbs = act->nb;
  __m128 acc4 = _mm_setzero_ps(), accm4 = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *p = w + b * bytes;
    _mm_prefetch((const char *)(p + 8 * nb * bytes), _MM_HINT_T0); /* the same super-block 8 rows ahead */
    kblock kb;
    unpack_k(p, type, &kb);
    __m512i isum[4];
    __m256i msum[4];
    float dav[4] = {0, 0, 0, 0};
    for (int j = 0; j < 4; j++) {
      isum[j] = _mm512_setzero_si512();
      msum[j] = _mm256_setzero_si256();
    }
    for (int j = 0; j < na; j++) {
      const int64_t row = a0 + j;
      const __m256i bs = _mm256_loadu_si256((const __m256i *)(act->bsums + (row * nbs + b) * 16));
      dav[j] = act->d[row * nbs + b];
      isum[j] = ksum(&kb, act->q + row * cols + b * 256, bs, type, &msum[j]);
    }
    const __m128 da4 = _mm_loadu_ps(dav);
    k_accumulate(_mm_mul_ps(_mm_set1_ps(kb.d), da4), _mm_mul_ps(_mm_set1_ps(kb.dmin), da4), isum, msum, type, &acc4, &accm4);
  }
  float acc[4], accm[4];
  _mm_storeu_ps(acc, acc4);
  _mm_storeu_ps(accm, accm4);
  for (int j = 0; j < na; j++) out[j * os] = acc[j] - accm[j];
}

/* Decode: four weight rows (row_bytes apart) against one activation row; the 4-way reduction then runs over the
 * weight rows. Per row the same arithmetic as dot_k with na = 1 (d·da commutes), so bit-identical to it. */
static inline QV void dot_k_rows4(const uint8_t *w, int64_t row_bytes, int64_t cols, const zy_qact *act, int64_t arow,
                                  float *out, const int type) {
  const int bytes = type == ZY_QT_Q4_K ? 144 : type == ZY_QT_Q5_K ? 176 : 210;
  const int64_t nb = cols / 256, nbs = act->nb;
  __m128 acc4 = _mm_setzero_ps(), accm4 = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const __m256i bs = _mm256_loadu_si256((const __m256i *)(act->bsums + (arow * nbs + b) * 16));
    const int8_t *aq = act->q + arow * cols + b * 256;
    const __m128 da = _mm_set1_ps(act->d[arow * nbs + b]);
    __m512i isum[4];
    __m256i msum[4];
    float d[4], dmin[4];
    for (int r = 0; r < 4; r++) {
      const uint8_t *p = w + r * row_bytes + b * bytes;
      _mm_prefetch((const char *)(p + 8 * row_bytes), _MM_HINT_T0); /* 8 rows ahead (see dot_q32_rows4) */
      kblock kb;
      unpack_k(p, type, &kb);
      msum[r] = _mm256_setzero_si256();
      isum[r] = ksum(&kb, aq, bs, type, &msum[r]);
      d[r] = kb.d;
      dmin[r] = kb.dmin;
    }
    k_accumulate(_mm_mul_ps(_mm_loadu_ps(d), da), _mm_mul_ps(_mm_loadu_ps(dmin), da), isum, msum, type, &acc4, &accm4);
  }
  float acc[4], accm[4];
  _mm_storeu_ps(acc, acc4);
  _mm_storeu_ps(accm, accm4);
  for (int r = 0; r < 4; r++) out[r] = acc[r] - accm[r];
}

ROWS4(rows4_q4_k, dot_k_rows4, ZY_QT_Q4_K)
ROWS4(rows4_q5_k, dot_k_rows4, ZY_QT_Q5_K)
ROWS4(rows4_q6_k, dot_k_rows4, ZY_QT_Q6_K)

/* 1–4 activation rows per call (the k-quant and float kernels). */
#define KERNEL(NAME, IMPL, TYPE)                                                                                  \
  static QV void NAME(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { \
    switch (na) {                                                                                                 \
      case 1: IMPL(w, c, a, a0, 1, o, os, TYPE); break;                                                           \
      case 2: IMPL(w, c, a, a0, 2, o, os, TYPE); break;                                                           \
      case 3: IMPL(w, c, a, a0, 3, o, os, TYPE); break;                                                           \
      default: IMPL(w, c, a, a0, 4, o, os, TYPE); break;                                                          \
    }                                                                                                             \
  }
KERNEL(dot_q4_k, dot_k, ZY_QT_Q4_K)
KERNEL(dot_q5_k, dot_k, ZY_QT_Q5_K)
KERNEL(dot_q6_k, dot_k, ZY_QT_Q6_K)

/* ---- float weights ---- */

static inline QV __m512 load_w16(const uint8_t *w, int64_t k, int type, __mmask16 mask) {
  switch (type) {
    case ZY_QT_F32: return _mm512_maskz_loadu_ps(mask, w + 4 * k);
    case ZY_QT_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, w + 2 * k));
    default: return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, w + 2 * k)), 16));
  }
}

static inline QV void dot_float(const uint8_t *w, int64_t cols, const zy_qact *act, int64_t a0, const int na,
                                float *out, int64_t os, const int type) {
  __m512 acc[4][2];
  for (int j = 0; j < 4; j++) acc[j][0] = acc[j][1] = _mm512_setzero_ps();
  const int wb = type == ZY_QT_F32 ? 4 : 2;
  int64_t k = 0;
  for (; k + 32 <= cols; k += 32) {
    _mm_prefetch((const char *)(w + wb * (k + 8 * cols)), _MM_HINT_T0); /* 8 rows ahead: rows are contiguous */
    const __m512 w0 = load_w16(w, k, type, 0xFFFF), w1 = load_w16(w, k + 16, type, 0xFFFF);
    for (int j = 0; j < na; j++) {
      const float *x = act->xf + (a0 + j) * cols + k;
      acc[j][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x), acc[j][0]);
      acc[j][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + 16), acc[j][1]);
    }
  }
  for (; k < cols; k += 16) {
    const __mmask16 mask = cols - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - k)) - 1);
    const __m512 w0 = load_w16(w, k, type, mask);
    for (int j = 0; j < na; j++)
      acc[j][0] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(mask, act->xf + (a0 + j) * cols + k), acc[j][0]);
  }
  for (int j = 0; j < na; j++) out[j * os] = _mm512_reduce_add_ps(_mm512_add_ps(acc[j][0], acc[j][1]));
}

KERNEL(dot_f32, dot_float, ZY_QT_F32)
KERNEL(dot_f16, dot_float, ZY_QT_F16)
KERNEL(dot_bf16, dot_float, ZY_QT_BF16)

/* Decode with float weights, R rows (1 or 4) per pass over x, prefetching pf rows ahead. Each row keeps its own two
 * accumulators and runs exactly dot_float's steps with na = 1, so R and pf change speed only. Four interleaved row
 * streams are ~1.2× faster on matrices that stay in L3 but can defeat the hardware prefetcher once the matrix comes
 * from DRAM (measured: 31–36 GB/s against 38–46 GB/s one row at a time, 1 thread, 100 MB f16): which one wins
 * depends on the CPU and the model's size, so src/backend/cpu/tuning.ts measures it (zy_tune.h).
 * One row without software prefetch walks two 32-column steps per loop pass (the same FMAs in the same order): on
 * AMD Zen 5 a row streamed from DRAM that way costs ~0.8× the CPU time of the prefetching loop (session 9). */
static inline QV void float_rows(const uint8_t *w, int64_t row_bytes, int64_t cols, const float *x, float *out,
                                 const int type, const int R, int pf) {
  __m512 a0[4], a1[4];
  for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm512_setzero_ps();
  const int wb = type == ZY_QT_F32 ? 4 : 2;
  int64_t k = 0;
  if (R == 1 && !pf)
    for (; k + 64 <= cols; k += 64) {
      a0[0] = _mm512_fmadd_ps(load_w16(w, k, type, 0xFFFF), _mm512_loadu_ps(x + k), a0[0]);
      a1[0] = _mm512_fmadd_ps(load_w16(w, k + 16, type, 0xFFFF), _mm512_loadu_ps(x + k + 16), a1[0]);
      a0[0] = _mm512_fmadd_ps(load_w16(w, k + 32, type, 0xFFFF), _mm512_loadu_ps(x + k + 32), a0[0]);
      a1[0] = _mm512_fmadd_ps(load_w16(w, k + 48, type, 0xFFFF), _mm512_loadu_ps(x + k + 48), a1[0]);
    }
  for (; k + 32 <= cols; k += 32) {
    const __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + 16);
    for (int r = 0; r < R; r++) {
      const uint8_t *wr = w + r * row_bytes;
      if (pf) _mm_prefetch((const char *)(wr + wb * k + pf * row_bytes), _MM_HINT_T0);
      a0[r] = _mm512_fmadd_ps(load_w16(wr, k, type, 0xFFFF), x0, a0[r]);
      a1[r] = _mm512_fmadd_ps(load_w16(wr, k + 16, type, 0xFFFF), x1, a1[r]);
    }
  }
  for (; k < cols; k += 16) {
    const __mmask16 mask = cols - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - k)) - 1);
    const __m512 xk = _mm512_maskz_loadu_ps(mask, x + k);
    for (int r = 0; r < R; r++) a0[r] = _mm512_fmadd_ps(load_w16(w + r * row_bytes, k, type, mask), xk, a0[r]);
  }
  for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[r], a1[r]));
}

static inline QV void float_decode(const uint8_t *w, const int type, int64_t cols, const float *x, int64_t r0, int64_t r1,
                                   int rows_per_call, int pf, float *out) {
  const int64_t row_bytes = cols * (type == ZY_QT_F32 ? 4 : 2);
  int64_t r = r0;
  if (rows_per_call == 4)
    for (; r + 4 <= r1; r += 4) float_rows(w + r * row_bytes, row_bytes, cols, x, out + r, type, 4, pf);
  if (!pf) /* the unrolled no-prefetch loop, inlined for a constant pf */
    for (; r < r1; r++) float_rows(w + r * row_bytes, row_bytes, cols, x, out + r, type, 1, 0);
  for (; r < r1; r++) float_rows(w + r * row_bytes, row_bytes, cols, x, out + r, type, 1, pf);
}

QV void zy_float_decode_avx512(const uint8_t *w, int type, int64_t cols, const float *x, int64_t r0, int64_t r1,
                               int rows_per_call, int pf_rows, float *out) {
  switch (type) {
    case ZY_QT_F32: float_decode(w, ZY_QT_F32, cols, x, r0, r1, rows_per_call, pf_rows, out); break;
    case ZY_QT_F16: float_decode(w, ZY_QT_F16, cols, x, r0, r1, rows_per_call, pf_rows, out); break;
    default: float_decode(w, ZY_QT_BF16, cols, x, r0, r1, rows_per_call, pf_rows, out); break;
  }
}

const unsigned char zy_qdot_avx512vnni_wide8[ZY_QT_COUNT] = {0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0};

const zy_qdot_fn zy_qdot_avx512vnni[ZY_QT_COUNT] = {
    dot_f32, dot_f16, dot_bf16, dot_q8_0, dot_q4_0, dot_q4_1, dot_q5_0, dot_q5_1, dot_q4_k, dot_q5_k, dot_q6_k,
};

const zy_qdot_tile_fn zy_qdot_tile_avx512vnni[ZY_QT_COUNT] = {
    NULL, NULL, NULL, tile_q8_0, tile_q4_0, tile_q4_1, tile_q5_0, tile_q5_1, NULL, NULL, NULL,
};

const zy_qdot_rows4_fn zy_qdot_rows4_avx512vnni[ZY_QT_COUNT] = {
    NULL, NULL, NULL, rows4_q8_0, rows4_q4_0, rows4_q4_1, rows4_q5_0, rows4_q5_1, rows4_q4_k, rows4_q5_k, rows4_q6_k,
};

/* ---- activation quantizer (same bytes as zy_quantize_row_q8) ---- */

QV void zy_quantize_row_q8_avx512(const float *x, int64_t n, int with_sum, int8_t *q, float *d, float *s,
                                  int32_t *bsum) {
  for (int64_t b = 0; b < n / 32; b++, x += 32, q += 32) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float dd = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m512 mul = _mm512_set1_ps(id);
    /* cvtps_epi32 rounds with the default mode (half to even), like _mm256_round_ps(_MM_ROUND_NEAREST) */
    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, mul)), i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, mul));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtsepi32_epi8(i1));
    const int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    d[b] = _cvtsh_ss(_cvtss_sh(dd, _MM_FROUND_TO_NEAREST_INT));
    if (with_sum) s[b] = _cvtsh_ss(_cvtss_sh(dd * (float)sum, _MM_FROUND_TO_NEAREST_INT));
    bsum[b] = sum;
  }
}

/* Q8_K rows (same bytes as zy_quantize_row_q8k): per 256 values, max is the first value of largest magnitude (NaN
 * ignored, as the scalar `>` ignores it), q = min(round_half_even(iscale·x), 127) with iscale = −127/max (a NaN
 * product converts to INT_MIN and truncates to 0 as the scalar cast does), bsums the 16 sums of 16 stored bytes. */
QV void zy_quantize_row_q8k_avx512(const float *x, int64_t n, int8_t *q, float *d, int16_t *bsums) {
  const __m512i top = _mm512_set1_epi32(127);
  for (int64_t b = 0; b < n / 256; b++, x += 256, q += 256, bsums += 16) {
    __m512 amax16 = _mm512_setzero_ps();
    for (int j = 0; j < 16; j++) amax16 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * j)), amax16);
    const float amax = _mm512_reduce_max_ps(amax16);
    if (!(amax > 0.0f)) {
      d[b] = 0.0f;
      memset(q, 0, 256);
      memset(bsums, 0, 32);
      continue;
    }
    float max = 0.0f;
    for (int j = 0; j < 16; j++) {
      const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * j)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (hit) { max = x[16 * j + __builtin_ctz(hit)]; break; }
    }
    const float iscale = -127.0f / max;
    const __m512 mul = _mm512_set1_ps(iscale);
    for (int j = 0; j < 16; j++) {
      const __m128i v8 = _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * j), mul)), top));
      _mm_storeu_si128((__m128i *)(q + 16 * j), v8);
      bsums[j] = (int16_t)_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(v8)); /* the stored bytes' sum */
    }
    d[b] = 1.0f / iscale;
  }
}
