/* AVX2 dot kernels for quantized weights (CPUs without AVX512_VNNI). Same structure as quant_avx512.c, one
 * 32-byte vector at a time and vpmaddubsw + vpmaddwd instead of vpdpbusd:
 * - 32-blocks: weights as unsigned bytes (nibbles, or |w| with the activation's sign moved over for q8_0, since
 *   255·127·2 would saturate vpmaddubsw), the q4_0/q5_0 offsets corrected with −offset·Σa, one f32 FMA per block;
 * - k-quants: sub-block scales applied by vpmaddwd, exact integer super-block sums, f32 steps as the reference;
 * - f32/f16/bf16: f32 FMAs on the (rounded) activations.
 * Leaves out: tiling tricks beyond reusing each unpacked block for up to 4 activation rows. */
#include "quant_impl.h"
#include <immintrin.h>

#define QA __attribute__((target("avx2,fma,f16c")))

static inline QA float f16s(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

static inline QA int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

static inline QA float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* 16 bytes at p as 32 nibbles: [lo(p), hi(p)]. */
static inline QA __m256i nibbles16(const uint8_t *p) {
  const __m128i a = _mm_loadu_si128((const __m128i *)p);
  const __m256i v = _mm256_set_m128i(_mm_srli_epi16(a, 4), a);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

/* 32 bits → 32 bytes of 0x10 where the bit is set. */
static inline QA __m256i bits_to_0x10(uint32_t bits) {
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL, 0x0101010101010101LL, 0);
  __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
  const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
  v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

static inline QA __m256i dot_u8s8(__m256i u, __m256i a) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1));
}

static inline QA void dot_q32(const uint8_t *w, int64_t cols, const zy_qact *act, int64_t a0, const int na,
                              float *out, int64_t os, const int type) {
  const int bytes = type == ZY_QT_Q8_0 ? 34 : type == ZY_QT_Q4_0 ? 18 : type == ZY_QT_Q4_1 ? 20 : type == ZY_QT_Q5_0 ? 22 : 24;
  const int off = type == ZY_QT_Q4_0 ? 8 : type == ZY_QT_Q5_0 ? 16 : 0;
  const int with_min = type == ZY_QT_Q4_1 || type == ZY_QT_Q5_1;
  const int64_t nb = cols / 32, nbs = act->nb;
  __m256 acc[4];
  float accm[4] = {0, 0, 0, 0};
  for (int j = 0; j < 4; j++) acc[j] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *p = w + b * bytes;
    _mm_prefetch((const char *)(p + 512), _MM_HINT_T0);
    const float dw = f16s(p);
    float mw = 0.0f;
    __m256i u, wsigned = _mm256_setzero_si256();
    uint32_t qh;
    switch (type) {
      case ZY_QT_Q8_0:
        wsigned = _mm256_loadu_si256((const __m256i *)(p + 2));
        u = _mm256_sign_epi8(wsigned, wsigned);
        break;
      case ZY_QT_Q4_0: u = nibbles16(p + 2); break;
      case ZY_QT_Q4_1: mw = f16s(p + 2); u = nibbles16(p + 4); break;
      case ZY_QT_Q5_0: memcpy(&qh, p + 2, 4); u = _mm256_or_si256(nibbles16(p + 6), bits_to_0x10(qh)); break;
      default: mw = f16s(p + 2); memcpy(&qh, p + 4, 4); u = _mm256_or_si256(nibbles16(p + 8), bits_to_0x10(qh)); break;
    }
    for (int j = 0; j < na; j++) {
      const int64_t row = a0 + j;
      __m256i av = _mm256_loadu_si256((const __m256i *)(act->q + row * cols + b * 32));
      if (type == ZY_QT_Q8_0) av = _mm256_sign_epi8(av, wsigned);
      __m256i dp = dot_u8s8(u, av);
      if (off) dp = _mm256_add_epi32(dp, _mm256_setr_epi32(-off * act->bsum[row * nbs + b], 0, 0, 0, 0, 0, 0, 0));
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_set1_ps(dw * act->d[row * nbs + b]), acc[j]);
      if (with_min) accm[j] += mw * act->s[row * nbs + b];
    }
  }
  for (int j = 0; j < na; j++) out[j * os] = hsum_ps(acc[j]) + accm[j];
}

static inline QA void dot_k(const uint8_t *w, int64_t cols, const zy_qact *act, int64_t a0, const int na, float *out,
                            int64_t os, const int type) {
  const int bytes = type == ZY_QT_Q4_K ? 144 : type == ZY_QT_Q5_K ? 176 : 210;
  const int64_t nb = cols / 256, nbs = act->nb;
  float acc[4] = {0, 0, 0, 0}, accm[4] = {0, 0, 0, 0};
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *p = w + b * bytes;
    _mm_prefetch((const char *)(p + 2 * bytes), _MM_HINT_T0);
    __m256i u[8], scv[8];
    float d, dmin = 0.0f;
    int mn[8] = {0}, sc6[16] = {0};
    if (type == ZY_QT_Q6_K) {
      d = f16s(p + 208);
      for (int g = 0; g < 16; g++) sc6[g] = (int8_t)p[192 + g];
      const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
      for (int h = 0; h < 2; h++) {
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h));
        for (int k = 0; k < 4; k++) {
          /* element block k of this half: ql bytes (k & 1)·32.., nibble k >> 1, qh bits 2k */
          const __m256i ql = _mm256_loadu_si256((const __m256i *)(p + 64 * h + 32 * (k & 1)));
          const __m256i lo = (k >> 1) ? _mm256_and_si256(_mm256_srli_epi16(ql, 4), m4) : _mm256_and_si256(ql, m4);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m2);
          u[4 * h + k] = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
          const int g = 8 * h + 2 * k; /* elements 32k..32k+31 of the half: groups g, g+1 */
          scv[4 * h + k] = _mm256_setr_epi16(sc6[g], sc6[g], sc6[g], sc6[g], sc6[g], sc6[g], sc6[g], sc6[g], sc6[g + 1],
                                             sc6[g + 1], sc6[g + 1], sc6[g + 1], sc6[g + 1], sc6[g + 1], sc6[g + 1], sc6[g + 1]);
        }
      }
    } else {
      d = f16s(p);
      dmin = f16s(p + 2);
      int sc[8];
      for (int j = 0; j < 8; j++) zy_scale_min_k4(j, p + 4, &sc[j], &mn[j]);
      const __m256i m4 = _mm256_set1_epi8(0x0F);
      const __m256i qh = type == ZY_QT_Q5_K ? _mm256_loadu_si256((const __m256i *)(p + 16)) : _mm256_setzero_si256();
      const uint8_t *qs = p + (type == ZY_QT_Q5_K ? 48 : 16);
      for (int c = 0; c < 4; c++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
        u[2 * c] = _mm256_and_si256(q, m4);
        u[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (type == ZY_QT_Q5_K) {
          const __m256i b0 = _mm256_set1_epi8((char)(1 << (2 * c))), b1 = _mm256_set1_epi8((char)(2 << (2 * c)));
          u[2 * c] = _mm256_or_si256(u[2 * c], _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b0), b0), _mm256_set1_epi8(0x10)));
          u[2 * c + 1] = _mm256_or_si256(u[2 * c + 1], _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b1), b1), _mm256_set1_epi8(0x10)));
        }
      }
      for (int j = 0; j < 8; j++) scv[j] = _mm256_set1_epi16((short)sc[j]);
    }
    for (int j = 0; j < na; j++) {
      const int64_t row = a0 + j;
      const int8_t *aq = act->q + row * cols + b * 256;
      const int16_t *bs = act->bsums + (row * nbs + b) * 16;
      const float da = act->d[row * nbs + b];
      __m256i isum = _mm256_setzero_si256();
      for (int k = 0; k < 8; k++) {
        const __m256i p16 = _mm256_maddubs_epi16(u[k], _mm256_loadu_si256((const __m256i *)(aq + 32 * k)));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p16, scv[k]));
      }
      int64_t total = hsum_i32(isum);
      if (type == ZY_QT_Q6_K) {
        int64_t corr = 0;
        for (int g = 0; g < 16; g++) corr += (int64_t)sc6[g] * bs[g];
        total -= 32 * corr;
      } else {
        int64_t msum = 0;
        for (int g = 0; g < 16; g++) msum += (int64_t)bs[g] * mn[g >> 1];
        accm[j] = accm[j] + (float)((double)(dmin * da) * (double)msum);
      }
      acc[j] = acc[j] + (float)((double)(d * da) * (double)total);
    }
  }
  for (int j = 0; j < na; j++) out[j * os] = acc[j] - accm[j];
}

static inline QA __m256 load_w8(const uint8_t *w, int64_t k, int type) {
  switch (type) {
    case ZY_QT_F32: return _mm256_loadu_ps((const float *)(w + 4 * k));
    case ZY_QT_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + 2 * k)));
    default: return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + 2 * k))), 16));
  }
}

static inline QA void dot_float(const uint8_t *w, int64_t cols, const zy_qact *act, int64_t a0, const int na,
                                float *out, int64_t os, const int type) {
  __m256 acc[4][2];
  for (int j = 0; j < 4; j++) acc[j][0] = acc[j][1] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= cols; k += 16) {
    const __m256 w0 = load_w8(w, k, type), w1 = load_w8(w, k + 8, type);
    for (int j = 0; j < na; j++) {
      const float *x = act->xf + (a0 + j) * cols + k;
      acc[j][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x), acc[j][0]);
      acc[j][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + 8), acc[j][1]);
    }
  }
  for (int j = 0; j < na; j++) {
    float s = hsum_ps(_mm256_add_ps(acc[j][0], acc[j][1]));
    const float *x = act->xf + (a0 + j) * cols;
    for (int64_t t = k; t < cols; t++) {
      float wt;
      if (type == ZY_QT_F32) memcpy(&wt, w + 4 * t, 4);
      else if (type == ZY_QT_F16) wt = f16s(w + 2 * t);
      else wt = zy_bf16_to_f32((uint16_t)(w[2 * t] | (w[2 * t + 1] << 8)));
      s += wt * x[t];
    }
    out[j * os] = s;
  }
}

#define KERNEL(NAME, IMPL, TYPE)                                                                                  \
  static QA void NAME(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { \
    switch (na) {                                                                                                 \
      case 1: IMPL(w, c, a, a0, 1, o, os, TYPE); break;                                                           \
      case 2: IMPL(w, c, a, a0, 2, o, os, TYPE); break;                                                           \
      case 3: IMPL(w, c, a, a0, 3, o, os, TYPE); break;                                                           \
      default: IMPL(w, c, a, a0, 4, o, os, TYPE); break;                                                          \
    }                                                                                                             \
  }
KERNEL(dot_f32, dot_float, ZY_QT_F32)
KERNEL(dot_f16, dot_float, ZY_QT_F16)
KERNEL(dot_bf16, dot_float, ZY_QT_BF16)
KERNEL(dot_q8_0, dot_q32, ZY_QT_Q8_0)
KERNEL(dot_q4_0, dot_q32, ZY_QT_Q4_0)
KERNEL(dot_q4_1, dot_q32, ZY_QT_Q4_1)
KERNEL(dot_q5_0, dot_q32, ZY_QT_Q5_0)
KERNEL(dot_q5_1, dot_q32, ZY_QT_Q5_1)
KERNEL(dot_q4_k, dot_k, ZY_QT_Q4_K)
KERNEL(dot_q5_k, dot_k, ZY_QT_Q5_K)
KERNEL(dot_q6_k, dot_k, ZY_QT_Q6_K)

const zy_qdot_fn zy_qdot_avx2[ZY_QT_COUNT] = {
    dot_f32, dot_f16, dot_bf16, dot_q8_0, dot_q4_0, dot_q4_1, dot_q5_0, dot_q5_1, dot_q4_k, dot_q5_k, dot_q6_k,
};
