/* Quantized GGUF weights, portable part: type table, f16/bf16 conversions, dequantization, ggml's reference
 * quantizers, ggml-cpu's activation quantizers, the portable dot kernels, and the matmul driver (activation
 * quantization into a reused scratch buffer, kernel choice by ISA, threading over chunks of weight rows taken from a
 * shared counter (serial while the machine is too busy for the workers), tiling weight rows for L2 and walking
 * activation rows in groups of 4 (8 for the AVX-512 32-block kernels) that stay in L1).
 * The portable code follows src/backend/ref/quant.ts operation for operation (products of an f32 and an integer
 * are formed in double and rounded once, as the TS twin does), so it gives the same bits.
 * Leaves out: SIMD kernels (quant_avx512.c), k-quant quantization, the iq* types. */
#include "quant_impl.h"
#include "zy_cpu.h"
#include "zy_pool.h"
#include "zy_scratch.h"
#include "gemm.h"
#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

static const char *const NAMES[ZY_QT_COUNT] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k", "q8_0_r16", "q4_0_r16", "q4_k_r16", "q6_k_r16"};
static const int BLOCK_ELEMS[ZY_QT_COUNT] = {1, 1, 1, 32, 32, 32, 32, 32, 256, 256, 256, 32, 32, 256, 256};
static const int BLOCK_BYTES[ZY_QT_COUNT] = {4, 2, 2, 34, 18, 20, 22, 24, 144, 176, 210, 34, 18, 144, 210};

int zy_qtype_from_name(const char *name) {
  for (int t = 0; t < ZY_QT_COUNT; t++)
    if (strcmp(name, NAMES[t]) == 0) return t;
  return -1;
}
const char *zy_qtype_name(int type) { return type >= 0 && type < ZY_QT_COUNT ? NAMES[type] : "?"; }
int zy_qtype_block_elems(int type) { return BLOCK_ELEMS[type]; }
int zy_qtype_block_bytes(int type) { return BLOCK_BYTES[type]; }

/* ---- scalar conversions ---- */

float zy_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, u;
  if (exp == 0) {
    float f = (float)mant * (1.0f / 16777216.0f); /* subnormal: mant · 2^-24, exact */
    memcpy(&u, &f, 4);
    u |= sign;
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &u, 4);
  return f;
}

uint16_t zy_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, mant = x & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(mant ? sign | 0x7e00 | (mant >> 13) : sign | 0x7c00);
  int e = (int)exp - 127 + 15;
  if (e >= 31) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    uint32_t m = mant | 0x800000u;
    int shift = 14 - e;
    uint32_t r = m >> shift, rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (r & 1))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t r = ((uint32_t)e << 10) | (mant >> 13), rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (r & 1))) r++; /* may carry into the exponent, up to inf: correct */
  return (uint16_t)(sign | r);
}

uint16_t zy_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)(((x >> 16) & 0x8000) | 0x7fc0);
  return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

static inline float f16_round(float x) { return zy_f16_to_f32(zy_f32_to_f16(x)); }
/* f32 · integer rounded once to f32 (the double product is exact: 24 + 29 bits). */
static inline float mul_fi(float a, int64_t i) { return (float)((double)a * (double)i); }

/* ---- dequantization ---- */

void zy_dequantize(const uint8_t *w, int type, float *out, int64_t n) {
  switch (type) {
    case ZY_QT_F32:
      memcpy(out, w, (size_t)n * 4);
      return;
    case ZY_QT_F16:
      for (int64_t i = 0; i < n; i++) out[i] = zy_f16_at(w + 2 * i);
      return;
    case ZY_QT_BF16:
      for (int64_t i = 0; i < n; i++) out[i] = zy_bf16_to_f32((uint16_t)(w[2 * i] | (w[2 * i + 1] << 8)));
      return;
    case ZY_QT_Q8_0:
      for (int64_t b = 0; b < n / 32; b++, w += 34, out += 32) {
        float d = zy_f16_at(w);
        for (int j = 0; j < 32; j++) out[j] = (float)(int8_t)w[2 + j] * d;
      }
      return;
    case ZY_QT_Q4_0:
    case ZY_QT_Q4_1: {
      int one = type == ZY_QT_Q4_1;
      for (int64_t b = 0; b < n / 32; b++, w += one ? 20 : 18, out += 32) {
        float d = zy_f16_at(w), m = one ? zy_f16_at(w + 2) : 0.0f;
        const uint8_t *qs = w + (one ? 4 : 2);
        for (int j = 0; j < 16; j++) {
          if (one) {
            out[j] = (float)(qs[j] & 0xF) * d + m;
            out[j + 16] = (float)(qs[j] >> 4) * d + m;
          } else {
            out[j] = (float)((qs[j] & 0xF) - 8) * d;
            out[j + 16] = (float)((qs[j] >> 4) - 8) * d;
          }
        }
      }
      return;
    }
    case ZY_QT_Q5_0:
    case ZY_QT_Q5_1: {
      int one = type == ZY_QT_Q5_1;
      for (int64_t b = 0; b < n / 32; b++, w += one ? 24 : 22, out += 32) {
        float d = zy_f16_at(w), m = one ? zy_f16_at(w + 2) : 0.0f;
        const uint8_t *h = w + (one ? 4 : 2), *qs = h + 4;
        uint32_t qh = (uint32_t)h[0] | ((uint32_t)h[1] << 8) | ((uint32_t)h[2] << 16) | ((uint32_t)h[3] << 24);
        for (int j = 0; j < 16; j++) {
          int x0 = (qs[j] & 0xF) | (((qh >> j) << 4) & 0x10), x1 = (qs[j] >> 4) | ((qh >> (j + 12)) & 0x10);
          if (one) {
            out[j] = (float)x0 * d + m;
            out[j + 16] = (float)x1 * d + m;
          } else {
            out[j] = (float)(x0 - 16) * d;
            out[j + 16] = (float)(x1 - 16) * d;
          }
        }
      }
      return;
    }
    case ZY_QT_Q4_K:
    case ZY_QT_Q5_K: {
      int five = type == ZY_QT_Q5_K;
      for (int64_t b = 0; b < n / 256; b++, w += five ? 176 : 144) {
        float d = zy_f16_at(w), dmin = zy_f16_at(w + 2);
        const uint8_t *qh = w + 16, *q = w + (five ? 48 : 16);
        int u1 = 1, u2 = 2;
        for (int j = 0; j < 4; j++, q += 32, u1 <<= 2, u2 <<= 2) {
          int sc, mn;
          zy_scale_min_k4(2 * j, w + 4, &sc, &mn);
          float d1 = d * (float)sc, m1 = dmin * (float)mn;
          zy_scale_min_k4(2 * j + 1, w + 4, &sc, &mn);
          float d2 = d * (float)sc, m2 = dmin * (float)mn;
          for (int l = 0; l < 32; l++) *out++ = d1 * (float)((q[l] & 0xF) + (five && (qh[l] & u1) ? 16 : 0)) - m1;
          for (int l = 0; l < 32; l++) *out++ = d2 * (float)((q[l] >> 4) + (five && (qh[l] & u2) ? 16 : 0)) - m2;
        }
      }
      return;
    }
    case ZY_QT_Q6_K:
      for (int64_t b = 0; b < n / 256; b++, w += 210) {
        float d = zy_f16_at(w + 208);
        for (int half = 0; half < 2; half++, out += 128) {
          const uint8_t *ql = w + half * 64, *qh = w + 128 + half * 32;
          const int8_t *sc = (const int8_t *)(w + 192 + half * 8);
          for (int l = 0; l < 32; l++) {
            int is = l >> 4;
            int q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
            int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            out[l] = (d * (float)sc[is]) * (float)q1;
            out[l + 32] = (d * (float)sc[is + 2]) * (float)q2;
            out[l + 64] = (d * (float)sc[is + 4]) * (float)q3;
            out[l + 96] = (d * (float)sc[is + 6]) * (float)q4;
          }
        }
      }
      return;
  }
}

/* ---- ggml's reference quantizers (what llama-quantize runs without an importance matrix) ---- */

static void put_f16(uint8_t *p, float v) {
  uint16_t h = zy_f32_to_f16(v);
  p[0] = (uint8_t)(h & 0xff);
  p[1] = (uint8_t)(h >> 8);
}

int zy_quantize(const float *x, int type, uint8_t *out, int64_t n) {
  switch (type) {
    case ZY_QT_F16:
      for (int64_t i = 0; i < n; i++) put_f16(out + 2 * i, x[i]);
      return 0;
    case ZY_QT_BF16:
      for (int64_t i = 0; i < n; i++) {
        uint16_t h = zy_f32_to_bf16(x[i]);
        out[2 * i] = (uint8_t)(h & 0xff);
        out[2 * i + 1] = (uint8_t)(h >> 8);
      }
      return 0;
    case ZY_QT_Q8_0:
      for (int64_t b = 0; b < n / 32; b++, x += 32, out += 34) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(out, d);
        for (int j = 0; j < 32; j++) out[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
      }
      return 0;
    case ZY_QT_Q4_0:
    case ZY_QT_Q5_0: {
      const int five = type == ZY_QT_Q5_0, nmax = five ? 16 : 8, top = 2 * nmax - 1;
      for (int64_t b = 0; b < n / 32; b++, x += 32, out += five ? 22 : 18) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; j++)
          if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
        const float d = max / (float)-nmax, id = d != 0.0f ? 1.0f / d : 0.0f;
        const float half = (float)nmax + 0.5f;
        put_f16(out, d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
          int q0 = (int8_t)(x[j] * id + half), q1 = (int8_t)(x[16 + j] * id + half);
          if (q0 > top) q0 = top;
          if (q1 > top) q1 = top;
          if (five) {
            out[6 + j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= ((uint32_t)(q0 & 0x10) >> 4) << j;
            qh |= ((uint32_t)(q1 & 0x10) >> 4) << (j + 16);
          } else {
            out[2 + j] = (uint8_t)(q0 | (q1 << 4));
          }
        }
        if (five) memcpy(out + 2, &qh, 4);
      }
      return 0;
    }
    case ZY_QT_Q4_1:
    case ZY_QT_Q5_1: {
      const int five = type == ZY_QT_Q5_1;
      for (int64_t b = 0; b < n / 32; b++, x += 32, out += five ? 24 : 20) {
        float min = INFINITY, max = -INFINITY;
        for (int j = 0; j < 32; j++) {
          if (x[j] < min) min = x[j];
          if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / (float)(five ? 31 : 15), id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(out, d);
        put_f16(out + 2, min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
          int q0 = (int8_t)((x[j] - min) * id + 0.5f), q1 = (int8_t)((x[16 + j] - min) * id + 0.5f);
          if (five) {
            out[8 + j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= ((uint32_t)(q0 & 0x10) >> 4) << j;
            qh |= ((uint32_t)(q1 & 0x10) >> 4) << (j + 16);
          } else {
            if (q0 > 15) q0 = 15;
            if (q1 > 15) q1 = 15;
            out[4 + j] = (uint8_t)(q0 | (q1 << 4));
          }
        }
        if (five) memcpy(out + 4, &qh, 4);
      }
      return 0;
    }
    default:
      return -1;
  }
}

/* ---- ggml-cpu's activation quantizers ---- */

void zy_quantize_row_q8(const float *x, int64_t n, int with_sum, int8_t *q, float *d, float *s, int32_t *bsum) {
  for (int64_t b = 0; b < n / 32; b++, x += 32, q += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float dd = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
      q[j] = (int8_t)nearbyintf(x[j] * id); /* default rounding mode: half to even, like _mm256_round_ps */
      sum += q[j];
    }
    d[b] = f16_round(dd);
    if (with_sum) s[b] = f16_round(dd * (float)sum);
    bsum[b] = sum;
  }
}

void zy_quantize_row_q8k(const float *x, int64_t n, int8_t *q, float *d, int16_t *bsums) {
  for (int64_t b = 0; b < n / 256; b++, x += 256, q += 256, bsums += 16) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 256; j++)
      if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
    if (amax == 0.0f) {
      d[b] = 0.0f;
      memset(q, 0, 256);
      memset(bsums, 0, 32);
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < 256; j++) {
      int v = (int)nearbyintf(iscale * x[j]);
      q[j] = (int8_t)(v > 127 ? 127 : v);
    }
    for (int j = 0; j < 16; j++) {
      int sum = 0;
      for (int k = 0; k < 16; k++) sum += q[j * 16 + k];
      bsums[j] = (int16_t)sum;
    }
    d[b] = 1.0f / iscale;
  }
}

/* ---- portable dot kernels (the TS reference's order of operations) ---- */

static void dot_float_portable(const uint8_t *w, int64_t cols, const zy_qact *act, int64_t a0, int na, float *out,
                               int64_t out_stride, int type) {
  for (int j = 0; j < na; j++) {
    const float *x = act->xf + (a0 + j) * cols;
    double s = 0.0;
    for (int64_t k = 0; k < cols; k++) {
      float wk;
      if (type == ZY_QT_F32) memcpy(&wk, w + 4 * k, 4);
      else if (type == ZY_QT_F16) wk = zy_f16_at(w + 2 * k);
      else wk = zy_bf16_to_f32((uint16_t)(w[2 * k] | (w[2 * k + 1] << 8)));
      s += (double)wk * (double)x[k];
    }
    out[j * out_stride] = (float)s;
  }
}
static void dot_f32_portable(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { dot_float_portable(w, c, a, a0, na, o, os, ZY_QT_F32); }
static void dot_f16_portable(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { dot_float_portable(w, c, a, a0, na, o, os, ZY_QT_F16); }
static void dot_bf16_portable(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { dot_float_portable(w, c, a, a0, na, o, os, ZY_QT_BF16); }

/* Unpacks one 32-element block of a q8_0, q4_0, q4_1, q5_0 or q5_1 row to integers; returns its scale (and min). */
static inline float unpack32(const uint8_t *p, int type, int8_t *q, float *m) {
  switch (type) {
    case ZY_QT_Q8_0:
      memcpy(q, p + 2, 32);
      return zy_f16_at(p);
    case ZY_QT_Q4_0:
    case ZY_QT_Q4_1: {
      int one = type == ZY_QT_Q4_1, off = one ? 0 : 8;
      const uint8_t *qs = p + (one ? 4 : 2);
      for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((qs[j] & 0xF) - off);
        q[j + 16] = (int8_t)((qs[j] >> 4) - off);
      }
      if (one) *m = zy_f16_at(p + 2);
      return zy_f16_at(p);
    }
    default: { /* q5_0, q5_1 */
      int one = type == ZY_QT_Q5_1, off = one ? 0 : 16;
      const uint8_t *h = p + (one ? 4 : 2), *qs = h + 4;
      uint32_t qh = (uint32_t)h[0] | ((uint32_t)h[1] << 8) | ((uint32_t)h[2] << 16) | ((uint32_t)h[3] << 24);
      for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)(((qs[j] & 0xF) | (((qh >> j) << 4) & 0x10)) - off);
        q[j + 16] = (int8_t)(((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - off);
      }
      if (one) *m = zy_f16_at(p + 2);
      return zy_f16_at(p);
    }
  }
}

static void dot_q32_portable(const uint8_t *w, int64_t cols, const zy_qact *act, int64_t a0, int na, float *out,
                             int64_t out_stride, int type) {
  const int64_t nb = cols / 32;
  const int bytes = BLOCK_BYTES[type], with_min = type == ZY_QT_Q4_1 || type == ZY_QT_Q5_1;
  float acc[4] = {0, 0, 0, 0};
  int8_t q[32];
  for (int64_t b = 0; b < nb; b++) {
    float m = 0.0f;
    const float dw = unpack32(w + b * bytes, type, q, &m);
    for (int j = 0; j < na; j++) {
      const int64_t row = a0 + j;
      const int8_t *x = act->q + row * cols + b * 32;
      int sumi = 0;
      for (int k = 0; k < 32; k++) sumi += q[k] * x[k];
      const float dd = dw * act->d[row * act->nb + b];
      acc[j] = acc[j] + mul_fi(dd, sumi);
      if (with_min) acc[j] = acc[j] + m * act->s[row * act->nb + b];
    }
  }
  for (int j = 0; j < na; j++) out[j * out_stride] = acc[j];
}
static void dot_q8_0_portable(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { dot_q32_portable(w, c, a, a0, na, o, os, ZY_QT_Q8_0); }
static void dot_q4_0_portable(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { dot_q32_portable(w, c, a, a0, na, o, os, ZY_QT_Q4_0); }
static void dot_q4_1_portable(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { dot_q32_portable(w, c, a, a0, na, o, os, ZY_QT_Q4_1); }
static void dot_q5_0_portable(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { dot_q32_portable(w, c, a, a0, na, o, os, ZY_QT_Q5_0); }
static void dot_q5_1_portable(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { dot_q32_portable(w, c, a, a0, na, o, os, ZY_QT_Q5_1); }

static void dot_k_portable(const uint8_t *w, int64_t cols, const zy_qact *act, int64_t a0, int na, float *out,
                           int64_t out_stride, int type) {
  const int64_t nb = cols / 256;
  float acc[4] = {0, 0, 0, 0}, accm[4] = {0, 0, 0, 0};
  int8_t q[256];
  int sc[16], mn[8];
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *p = w + b * BLOCK_BYTES[type];
    float d, dmin = 0.0f;
    if (type == ZY_QT_Q6_K) {
      d = zy_f16_at(p + 208);
      for (int g = 0; g < 16; g++) sc[g] = (int8_t)p[192 + g];
      for (int half = 0; half < 2; half++) {
        const uint8_t *ql = p + half * 64, *qh = p + 128 + half * 32;
        int8_t *y = q + half * 128;
        for (int l = 0; l < 32; l++) {
          y[l] = (int8_t)(((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32);
          y[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
          y[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
          y[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
      }
    } else {
      const int five = type == ZY_QT_Q5_K;
      d = zy_f16_at(p);
      dmin = zy_f16_at(p + 2);
      for (int j = 0; j < 8; j++) zy_scale_min_k4(j, p + 4, &sc[j], &mn[j]);
      const uint8_t *qs = p + (five ? 48 : 16), *qh = p + 16;
      for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
          int lo = qs[c * 32 + l] & 0xF, hi = qs[c * 32 + l] >> 4;
          if (five) {
            if (qh[l] & (1 << (2 * c))) lo += 16;
            if (qh[l] & (2 << (2 * c))) hi += 16;
          }
          q[c * 64 + l] = (int8_t)lo;
          q[c * 64 + 32 + l] = (int8_t)hi;
        }
    }
    for (int j = 0; j < na; j++) {
      const int64_t row = a0 + j;
      const int8_t *x = act->q + row * cols + b * 256;
      const float da = act->d[row * act->nb + b];
      int64_t isum = 0;
      if (type == ZY_QT_Q6_K) {
        for (int g = 0; g < 16; g++) {
          int s = 0;
          for (int k = 0; k < 16; k++) s += q[g * 16 + k] * x[g * 16 + k];
          isum += (int64_t)sc[g] * s;
        }
      } else {
        for (int g = 0; g < 8; g++) {
          int s = 0;
          for (int k = 0; k < 32; k++) s += q[g * 32 + k] * x[g * 32 + k];
          isum += (int64_t)sc[g] * s;
        }
        const int16_t *bs = act->bsums + (row * act->nb + b) * 16;
        int64_t msum = 0;
        for (int k = 0; k < 16; k++) msum += (int64_t)bs[k] * mn[k >> 1];
        accm[j] = accm[j] + mul_fi(dmin * da, msum);
      }
      acc[j] = acc[j] + mul_fi(d * da, isum);
    }
  }
  for (int j = 0; j < na; j++) out[j * out_stride] = acc[j] - accm[j];
}
static void dot_q4_k_portable(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { dot_k_portable(w, c, a, a0, na, o, os, ZY_QT_Q4_K); }
static void dot_q5_k_portable(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { dot_k_portable(w, c, a, a0, na, o, os, ZY_QT_Q5_K); }
static void dot_q6_k_portable(const uint8_t *w, int64_t c, const zy_qact *a, int64_t a0, int na, float *o, int64_t os) { dot_k_portable(w, c, a, a0, na, o, os, ZY_QT_Q6_K); }

const zy_qdot_fn zy_qdot_portable[ZY_QT_COUNT] = {
    dot_f32_portable, dot_f16_portable, dot_bf16_portable, dot_q8_0_portable, dot_q4_0_portable, dot_q4_1_portable,
    dot_q5_0_portable, dot_q5_1_portable, dot_q4_k_portable, dot_q5_k_portable, dot_q6_k_portable,
};

/* ---- matmul driver ---- */

/* Grow-only scratch for quantized activations (one matmul at a time: the pool is not reentrant either). */
static void *scratch = NULL;
static size_t scratch_size = 0;

/* bytes at base + *at (64-byte steps): quant.c's scratch, or a buffer the caller owns (zy_quant_act_fill). */
static void *take_at(uint8_t *base, size_t *at, size_t bytes) {
  void *p = base + *at;
  *at += (bytes + 63) & ~(size_t)63;
  return p;
}
static void *scratch_take(size_t *at, size_t bytes) { return take_at((uint8_t *)scratch, at, bytes); }

typedef enum { ACT_EXACT, ACT_F16, ACT_BF16, ACT_Q8_0, ACT_Q8_1, ACT_Q8_K } act_format;

static act_format act_format_of(int type) {
  switch (type) {
    case ZY_QT_F32: return ACT_EXACT;
    case ZY_QT_F16: return ACT_F16;
    case ZY_QT_BF16: return ACT_BF16;
    case ZY_QT_Q4_1: case ZY_QT_Q5_1: return ACT_Q8_1;
    case ZY_QT_Q4_K: case ZY_QT_Q5_K: case ZY_QT_Q6_K: case ZY_QT_Q4_K_R16: case ZY_QT_Q6_K_R16: return ACT_Q8_K;
    default: return ACT_Q8_0;
  }
}

typedef struct {
  const uint8_t *w;
  int64_t rows, cols, row_bytes, m;
  const zy_qact *act;
  float *out;
  zy_qdot_fn dot;
  zy_qdot_rows4_fn rows4; /* one activation row: four weight rows per call (NULL: one at a time) */
  zy_qdot_tile_fn tile;   /* 2..TILE_ACTS activation rows: 4 weight rows × m activation rows per call */
  int type;
  int group; /* activation rows per kernel call: 4, or 8 for the AVX-512 32-block kernels */
  const float *apack; /* f16/bf16 weights, many rows: the activations packed once for zy_gemm_f16w (else NULL) */
  const zy_knobs *knobs; /* the tuned variant of this shape (zy_tune.h; decode only, else variant 0) */
} matmul_ctx;

/* Weight bytes per tile: a tile of weight rows stays in L2 while every group of 4 activation rows passes over it,
 * and the group's quantized rows (with their scales) stay in L1 across the tile's weight rows — walking the
 * activations in the inner loop instead re-read all m rows from L2 for every weight row. */
#define W_TILE_BYTES (192 * 1024)
/* Most activation rows a tile-kernel call takes (4 weight rows × TILE_ACTS accumulators). */
#define TILE_ACTS 4

static void matmul_task(void *p, int64_t begin, int64_t end, int thread_index) {
  (void)thread_index;
  const matmul_ctx *c = (const matmul_ctx *)p;
  if (zy_qtype_is_r16(c->type)) {
    zy_r16_rows(c->w, c->type, c->cols, c->act, c->m, c->out, c->rows, begin, end, c->knobs);
    return;
  }
  if (c->m == 1 && c->act->xf && c->dot == zy_qdot_avx512vnni[c->type] &&
      (c->type == ZY_QT_F32 || c->type == ZY_QT_F16 || c->type == ZY_QT_BF16)) {
    zy_float_decode_avx512(c->w, c->type, c->cols, c->act->xf, begin, end, c->knobs->rows_per_call, c->knobs->pf_rows, c->out);
    return;
  }
  int64_t tile = W_TILE_BYTES / c->row_bytes;
  if (tile < 4) tile = 4;
  for (int64_t r0 = begin; r0 < end; r0 += tile) {
    const int64_t r1 = r0 + tile < end ? r0 + tile : end;
    if (c->m == 1 && c->rows4) {
      int64_t r = r0;
      for (; r + 4 <= r1; r += 4) c->rows4(c->w + r * c->row_bytes, c->row_bytes, c->cols, c->act, 0, c->out + r);
      for (; r < r1; r++) c->dot(c->w + r * c->row_bytes, c->cols, c->act, 0, 1, c->out + r, c->rows);
      continue;
    }
    if (c->tile && c->m <= TILE_ACTS) {
      /* 2–4 activation rows (a few sequences decoding together): 4 × m tiles. With more rows the one-weight-row
       * kernel over 8 activation rows is faster (measured: m = 4 0.35 vs 0.46 ms, m = 8 0.70 vs 0.61 ms on a
       * 4096 × 768 q8_0 matrix), its unpacked weights serving 8 rows. */
      const int na = (int)c->m;
      int64_t r = r0;
      for (; r + 4 <= r1; r += 4) c->tile(c->w + r * c->row_bytes, c->row_bytes, c->cols, c->act, 0, na, c->out + r, c->rows);
      for (; r < r1; r++) c->dot(c->w + r * c->row_bytes, c->cols, c->act, 0, na, c->out + r, c->rows);
      continue;
    }
    for (int64_t i = 0; i < c->m; i += c->group) {
      const int na = c->m - i >= c->group ? c->group : (int)(c->m - i);
      for (int64_t r = r0; r < r1; r++)
        c->dot(c->w + r * c->row_bytes, c->cols, c->act, i, na, c->out + i * c->rows + r, c->rows);
    }
  }
}

/* f16/bf16 weights against many activation rows (prompt processing): each thread decodes a panel of weight rows
 * to f32 once and runs the single-threaded GEMM on it (x rounded as for the dot kernels · panelᵀ), instead of
 * m/4 passes of f32 dot products over the encoded row. Same products, f32 sums in the GEMM's order. */
#define FLOAT_GEMM_MIN_M 16
#define PANEL_ROWS 64
#define PANEL_THREADS 256

typedef struct {
  void *w, *c;
  size_t w_size, c_size; /* bytes */
} panel_buffers;
static panel_buffers panels[PANEL_THREADS];

/* x rounded to the nearest f16 value, as f32 (F16C; same values as f16_round, overflow to ±inf included). */
__attribute__((target("avx2,fma,f16c"))) static void f16_round_row(const float *x, float *out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
  for (; i < n; i++) out[i] = f16_round(x[i]);
}

/* f16 → f32 with F16C (exact, like zy_f16_to_f32). */
__attribute__((target("avx2,fma,f16c"))) static void f16_row_to_f32(const uint8_t *w, float *out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + 2 * i))));
  for (; i < n; i++) out[i] = zy_f16_at(w + 2 * i);
}

static void float_gemm_task(void *p, int64_t begin, int64_t end, int thread_index) {
  const matmul_ctx *c = (const matmul_ctx *)p;
  if (c->apack && zy_gemm_f16w(c->apack, c->m, c->cols, (const uint16_t *)c->w, c->type == ZY_QT_BF16, begin, end,
                               c->out, c->rows) == 0)
    return;
  panel_buffers *pb = &panels[thread_index < PANEL_THREADS ? thread_index : 0];
  float *wf = (float *)zy_grow(&pb->w, &pb->w_size, (size_t)(PANEL_ROWS * c->cols) * 4);
  float *cf = (float *)zy_grow(&pb->c, &pb->c_size, (size_t)(PANEL_ROWS * c->m) * 4);
  if (!wf || !cf) { /* no room for a panel: the dot kernels need none */
    matmul_task(p, begin, end, thread_index);
    return;
  }
  for (int64_t r0 = begin; r0 < end; r0 += PANEL_ROWS) {
    const int64_t n = end - r0 < PANEL_ROWS ? end - r0 : PANEL_ROWS;
    if (c->type == ZY_QT_F16) f16_row_to_f32(c->w + r0 * c->row_bytes, wf, n * c->cols);
    else zy_dequantize(c->w + r0 * c->row_bytes, c->type, wf, n * c->cols);
    zy_sgemm_st(1, c->m, n, c->cols, 0, 1, c->act->xf, 0, wf, 0, cf, 0, 1.0f, 0.0f);
    for (int64_t i = 0; i < c->m; i++) memcpy(c->out + i * c->rows + r0, cf + i * n, (size_t)n * 4);
  }
}

/* Threading that tolerates an oversubscribed machine. Rows go out in small chunks from a shared counter, so
 * whichever thread is running takes the next one: a worker that the OS schedules late finds the work done
 * instead of leaving the caller waiting on a fixed half. The pool still waits for every worker to check in, so
 * when workers keep arriving too late to take any chunk (other processes hold the cores), the following calls
 * run on the caller alone, and every SERIAL_PROBE calls one goes parallel again to see whether that changed. */
/* Two chunks per thread: long contiguous runs of weight rows stream from DRAM faster (decode: 8 per thread measured
 * ~4% slower per token on 110M q4_0); a late worker still finds the chunks the caller has not reached yet. */
#define MAX_CHUNKS_PER_THREAD 4 /* the most any zy_knobs variant asks for; the fallback's is 2 */
#define LATE_STRIKES 3
#define SERIAL_PROBE 64

/* One chunk of weight rows of one product (several products can share a dispatch: zy_quant_matmul_multi). */
typedef struct {
  int job;
  int64_t begin, end;
} row_chunk;

typedef struct {
  const matmul_ctx *c; /* per job */
  const int *panel;    /* per job */
  const row_chunk *chunks;
  int64_t nchunks;
  _Atomic int64_t next;
  _Atomic int64_t by_workers; /* chunks the workers took */
} dynamic_ctx;

static int late_strikes = 0, serial_left = 0;

static void run_chunk(const dynamic_ctx *d, const row_chunk *k, int thread_index) {
  if (d->panel[k->job]) float_gemm_task((void *)&d->c[k->job], k->begin, k->end, thread_index);
  else matmul_task((void *)&d->c[k->job], k->begin, k->end, thread_index);
}

static void dynamic_task(void *p, int64_t begin, int64_t end, int thread_index) {
  (void)begin;
  (void)end;
  dynamic_ctx *d = (dynamic_ctx *)p;
  for (;;) {
    const int64_t k = atomic_fetch_add_explicit(&d->next, 1, memory_order_relaxed);
    if (k >= d->nchunks) break;
    run_chunk(d, &d->chunks[k], thread_index);
    if (thread_index != 0) atomic_fetch_add_explicit(&d->by_workers, 1, memory_order_relaxed);
  }
}

/* Rows of job j in chunks of about rows / (threads · chunks per thread), whole grains (r16 groups, tiles, panels). */
static int64_t chunk_rows(const matmul_ctx *c, int panel, int threads) {
  const int64_t grain = panel ? PANEL_ROWS : zy_qtype_is_r16(c->type) ? 16 : 4, per = c->knobs->chunks_per_thread;
  int64_t chunk = (c->rows + (int64_t)threads * per - 1) / ((int64_t)threads * per);
  return (chunk + grain - 1) / grain * grain;
}

/* The products' chunks over the pool in one dispatch (serial while workers keep arriving too late). */
static void run_threaded(const matmul_ctx *c, const int *panel, int njobs, row_chunk *chunks) {
  const int threads = zy_threads();
  int64_t n = 0;
  for (int j = 0; j < njobs; j++) {
    const int64_t step = threads <= 1 || serial_left > 0 ? c[j].rows : chunk_rows(&c[j], panel[j], threads);
    for (int64_t b = 0; b < c[j].rows; b += step) chunks[n++] = (row_chunk){j, b, b + step < c[j].rows ? b + step : c[j].rows};
  }
  dynamic_ctx d = {c, panel, chunks, n, 0, 0};
  if (threads <= 1 || serial_left > 0) {
    if (serial_left > 0) serial_left--;
    for (int64_t k = 0; k < n; k++) run_chunk(&d, &chunks[k], 0);
    return;
  }
  zy_parallel_run(dynamic_task, &d);
  if (atomic_load(&d.by_workers) == 0 && d.nchunks > 1) {
    if (++late_strikes >= LATE_STRIKES) {
      serial_left = SERIAL_PROBE;
      late_strikes = 0;
    }
  } else {
    late_strikes = 0;
  }
}

static zy_qdot_fn pick_kernel(int type) {
  const zy_cpu_features *cpu = zy_cpu();
  if (cpu->avx512_vnni && zy_qdot_avx512vnni[type]) return zy_qdot_avx512vnni[type];
  if (cpu->avx2_fma && zy_qdot_avx2[type]) return zy_qdot_avx2[type];
  return zy_qdot_portable[type];
}

const char *zy_quant_impl(void) {
  const zy_cpu_features *cpu = zy_cpu();
  if (cpu->avx512_vnni) return "avx512-vnni";
  if (cpu->avx2_fma && zy_qdot_avx2[ZY_QT_Q8_0]) return "avx2";
  return "portable";
}

/* Scratch bytes for the activations of a product with this type, cols and m. */
static size_t act_bytes(int type, int64_t cols, int64_t m) {
  const act_format fmt = act_format_of(type);
  const int64_t bs = fmt == ACT_Q8_K ? 256 : 32, nb = fmt <= ACT_BF16 ? 0 : cols / bs;
  size_t need = 0;
  if (fmt == ACT_F16 || fmt == ACT_BF16) need = (size_t)(m * cols * 4 + 64);
  else if (fmt != ACT_EXACT) need = (size_t)(m * cols + 64) + 3 * (size_t)(m * nb * 4 + 64) + (size_t)(m * nb * 32 + 64);
  const int64_t npairs = (nb + 1) / 2;
  if (zy_cpu()->avx512_vnni && (fmt == ACT_Q8_0 || fmt == ACT_Q8_1) && !zy_qtype_is_r16(type)) need += 2 * (size_t)(m * npairs * 64 + 64);
  if (fmt == ACT_Q8_0 && zy_qtype_is_r16(type)) need += (size_t)(m * nb * 4 + 64);
  if (fmt == ACT_Q8_K && zy_qtype_is_r16(type)) need += (size_t)(m * nb * 32 + 64) + (size_t)(m * nb * 64 + 64);
  return need;
}

/* x [m, cols] in the form a product with this type reads (quantized blocks, rounded floats, or x itself), in the
 * buffer base (quant.c's scratch, or the caller's) from byte *at on. */
static void act_fill(int type, int64_t cols, const float *x, int64_t m, zy_qact *out, uint8_t *base, size_t *at) {
  const act_format fmt = act_format_of(type);
  const int64_t bs = fmt == ACT_Q8_K ? 256 : 32, nb = fmt <= ACT_BF16 ? 0 : cols / bs;
  const int64_t npairs = (nb + 1) / 2;
  const int use512 = zy_cpu()->avx512_vnni;
  const int pairs = use512 && (fmt == ACT_Q8_0 || fmt == ACT_Q8_1) && !zy_qtype_is_r16(type);
  zy_qact act = {m, cols, nb, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  if (fmt == ACT_EXACT) {
    act.xf = (float *)x;
  } else if (fmt == ACT_F16 || fmt == ACT_BF16) {
    act.xf = (float *)take_at(base, at, (size_t)(m * cols * 4));
    if (fmt == ACT_F16 && zy_cpu()->avx2_fma) f16_round_row(x, act.xf, m * cols);
    else
      for (int64_t i = 0; i < m * cols; i++)
        act.xf[i] = fmt == ACT_F16 ? f16_round(x[i]) : zy_bf16_to_f32(zy_f32_to_bf16(x[i]));
  } else {
    act.q = (int8_t *)take_at(base, at, (size_t)(m * cols));
    act.d = (float *)take_at(base, at, (size_t)(m * nb * 4));
    if (fmt == ACT_Q8_K) {
      act.bsums = (int16_t *)take_at(base, at, (size_t)(m * nb * 32));
      for (int64_t i = 0; i < m; i++) {
        if (use512) zy_quantize_row_q8k_avx512(x + i * cols, cols, act.q + i * cols, act.d + i * nb, act.bsums + i * nb * 16);
        else zy_quantize_row_q8k(x + i * cols, cols, act.q + i * cols, act.d + i * nb, act.bsums + i * nb * 16);
      }
      if (zy_qtype_is_r16(type)) {
        act.ksum32 = (float *)take_at(base, at, (size_t)(m * nb * 32));
        act.knsum16 = (int32_t *)take_at(base, at, (size_t)(m * nb * 64));
        for (int64_t i = 0; i < m * nb * 8; i++) act.ksum32[i] = (float)(act.bsums[2 * i] + act.bsums[2 * i + 1]);
        for (int64_t i = 0; i < m * nb * 16; i++) act.knsum16[i] = -32 * act.bsums[i];
      }
    } else {
      act.s = (float *)take_at(base, at, (size_t)(m * nb * 4));
      act.bsum = (int32_t *)take_at(base, at, (size_t)(m * nb * 4));
      for (int64_t i = 0; i < m; i++) {
        if (use512)
          zy_quantize_row_q8_avx512(x + i * cols, cols, fmt == ACT_Q8_1, act.q + i * cols, act.d + i * nb, act.s + i * nb, act.bsum + i * nb);
        else
          zy_quantize_row_q8(x + i * cols, cols, fmt == ACT_Q8_1, act.q + i * cols, act.d + i * nb, act.s + i * nb, act.bsum + i * nb);
      }
      if (fmt == ACT_Q8_0 && zy_qtype_is_r16(type)) {
        act.nbsum128 = (int32_t *)take_at(base, at, (size_t)(m * nb * 4));
        for (int64_t i = 0; i < m * nb; i++) act.nbsum128[i] = -128 * act.bsum[i];
      }
      if (pairs) {
        const int off = type == ZY_QT_Q8_0 ? 128 : type == ZY_QT_Q4_0 ? 8 : type == ZY_QT_Q5_0 ? 16 : 0;
        act.dav = (float *)take_at(base, at, (size_t)(m * npairs * 64));
        act.corrv = (int32_t *)take_at(base, at, (size_t)(m * npairs * 64));
        memset(act.corrv, 0, (size_t)(m * npairs * 64));
        for (int64_t i = 0; i < m; i++)
          for (int64_t b = 0; b < 2 * npairs; b++) {
            const int in = b < nb;
            float *dv = act.dav + i * npairs * 16 + b * 8;
            for (int l = 0; l < 8; l++) dv[l] = in ? act.d[i * nb + b] : 0.0f;
            act.corrv[i * npairs * 16 + b * 8] = in ? -off * act.bsum[i * nb + b] : 0;
          }
      }
    }
  }
  *out = act;
}

/* Whether product b can use the activations filled for product a: the same rows in the same form (q8_0 and q4_0
 * differ in their pair corrections, so only the very same type shares those), and for q8_K everything b reads —
 * an r16 k-quant also reads the per-token sums act_fill makes only for an r16 owner. */
static int same_act(const zy_qmm_job *a, const zy_qmm_job *b) {
  if (a->x != b->x || a->cols != b->cols || a->m != b->m || act_format_of(a->type) != act_format_of(b->type)) return 0;
  const act_format f = act_format_of(a->type);
  if (f == ACT_Q8_K) return zy_qtype_is_r16(a->type) || !zy_qtype_is_r16(b->type);
  return (f != ACT_Q8_0 && f != ACT_Q8_1) || a->type == b->type || (zy_qtype_is_r16(a->type) && zy_qtype_is_r16(b->type));
}

#define MULTI_MAX 64

/* f16/bf16 weights against enough rows for the panel GEMM, on a CPU with zy_gemm_f16w: the activations get packed
 * once (shared by the products that share them). */
static int packs_a(const zy_qmm_job *J) {
  const act_format f = act_format_of(J->type);
  return (f == ACT_F16 || f == ACT_BF16) && J->m >= FLOAT_GEMM_MIN_M && zy_gemm_f16w_available();
}

int zy_quant_matmul_multi(const zy_qmm_job *jobs, int njobs) {
  if (njobs > MULTI_MAX) {
    for (int k = 0; k < njobs; k += MULTI_MAX) {
      const int rc = zy_quant_matmul_multi(jobs + k, njobs - k < MULTI_MAX ? njobs - k : MULTI_MAX);
      if (rc != 0) return rc;
    }
    return 0;
  }
  int owner[MULTI_MAX], panel[MULTI_MAX], nlive = 0;
  zy_qact act[MULTI_MAX];
  float *apack[MULTI_MAX];
  matmul_ctx ctx[MULTI_MAX];
  size_t need = 0;
  for (int j = 0; j < njobs; j++) {
    const zy_qmm_job *J = &jobs[j];
    if (J->rows == 0 || J->m == 0) { owner[j] = -1; continue; }
    if (zy_qtype_is_r16(J->type) && J->rows % 16 != 0) return -3;
    owner[j] = j;
    for (int k = 0; k < j; k++)
      if (owner[k] == k && same_act(&jobs[k], J)) { owner[j] = k; break; }
    if (owner[j] == j) need += act_bytes(J->type, J->cols, J->m) + (packs_a(J) ? zy_gemm_f16w_packed_a_bytes(J->m, J->cols) + 64 : 0);
  }
  if (need > 0 && !zy_grow(&scratch, &scratch_size, need)) return -1;
  size_t at = 0;
  for (int j = 0; j < njobs; j++) {
    if (owner[j] < 0) continue;
    const zy_qmm_job *J = &jobs[j];
    if (owner[j] == j) {
      act_fill(J->type, J->cols, J->x, J->m, &act[j], (uint8_t *)scratch, &at);
      apack[j] = NULL;
      if (packs_a(J)) {
        apack[j] = (float *)scratch_take(&at, zy_gemm_f16w_packed_a_bytes(J->m, J->cols));
        zy_gemm_f16w_pack_a(act[j].xf, J->m, J->cols, apack[j]);
      }
    }
    const zy_qdot_fn dot = pick_kernel(J->type);
    const int wide = dot == zy_qdot_avx512vnni[J->type] && zy_qdot_avx512vnni_wide8[J->type];
    const zy_qdot_rows4_fn rows4 = dot == zy_qdot_avx512vnni[J->type] ? zy_qdot_rows4_avx512vnni[J->type] : NULL;
    const zy_qdot_tile_fn tile = dot == zy_qdot_avx512vnni[J->type] ? zy_qdot_tile_avx512vnni[J->type] : NULL;
    const act_format fmt = act_format_of(J->type);
    const int i = nlive++;
    ctx[i] = (matmul_ctx){J->w, J->rows, J->cols, J->cols / BLOCK_ELEMS[J->type] * BLOCK_BYTES[J->type], J->m, &act[owner[j]],
                          J->out, dot, rows4, tile, J->type, wide ? 8 : 4, apack[owner[j]],
                          J->m == 1 ? zy_tune_knobs(J->type, J->rows, J->cols) : zy_tune_fallback(J->type)};
    panel[i] = (fmt == ACT_F16 || fmt == ACT_BF16) && J->m >= FLOAT_GEMM_MIN_M && zy_cpu()->avx2_fma;
  }
  if (nlive == 0) return 0;
  /* Small products are not worth waking the pool. */
  if (nlive == 1 && (ctx[0].rows * ctx[0].cols * ctx[0].m < 32768 || ctx[0].rows < (zy_qtype_is_r16(ctx[0].type) ? 32 : 8))) {
    matmul_task(&ctx[0], 0, ctx[0].rows, 0);
    return 0;
  }
  row_chunk stack_chunks[256], *chunks = stack_chunks;
  const int64_t most = (int64_t)nlive * zy_threads() * MAX_CHUNKS_PER_THREAD + nlive;
  if (most > 256 && !(chunks = malloc((size_t)most * sizeof(row_chunk)))) return -1;
  run_threaded(ctx, panel, nlive, chunks);
  if (chunks != stack_chunks) free(chunks);
  return 0;
}

int zy_quant_matmul(const uint8_t *w, int type, int64_t rows, int64_t cols, const float *x, float *out, int64_t m) {
  const zy_qmm_job job = {w, type, rows, cols, x, out, m};
  return zy_quant_matmul_multi(&job, 1);
}

/* ---- one product's rows on the calling thread (a caller's own pool task splits the rows) ---- */

/* The plan: the kernel choice zy_quant_matmul_multi makes for the product (the same matmul_ctx, activations
 * pointing nowhere until zy_quant_rows gets them). */
size_t zy_quant_rows_plan_bytes(void) { return sizeof(matmul_ctx); }

int zy_quant_rows_plan(const zy_qmm_job *J, void *plan) {
  if (zy_qtype_is_r16(J->type) && J->rows % 16 != 0) return -3;
  const act_format fmt = act_format_of(J->type);
  if ((fmt == ACT_F16 || fmt == ACT_BF16) && J->m >= FLOAT_GEMM_MIN_M) return -4; /* the panel GEMM's rows: not here */
  const zy_qdot_fn dot = pick_kernel(J->type);
  const int wide = dot == zy_qdot_avx512vnni[J->type] && zy_qdot_avx512vnni_wide8[J->type];
  *(matmul_ctx *)plan = (matmul_ctx){J->w, J->rows, J->cols, J->cols / BLOCK_ELEMS[J->type] * BLOCK_BYTES[J->type], J->m, NULL,
                                     J->out, dot, dot == zy_qdot_avx512vnni[J->type] ? zy_qdot_rows4_avx512vnni[J->type] : NULL,
                                     dot == zy_qdot_avx512vnni[J->type] ? zy_qdot_tile_avx512vnni[J->type] : NULL, J->type, wide ? 8 : 4,
                                     NULL, J->m == 1 ? zy_tune_knobs(J->type, J->rows, J->cols) : zy_tune_fallback(J->type)};
  return 0;
}

size_t zy_quant_act_bytes(int type, int64_t cols, int64_t m) { return ((sizeof(zy_qact) + 63) & ~(size_t)63) + act_bytes(type, cols, m); }

void zy_quant_act_fill(int type, int64_t cols, const float *x, int64_t m, void *buf) {
  size_t at = (sizeof(zy_qact) + 63) & ~(size_t)63;
  act_fill(type, cols, x, m, (zy_qact *)buf, (uint8_t *)buf, &at);
}

void zy_quant_rows(const void *plan, const void *act, int64_t r0, int64_t r1) {
  matmul_ctx c = *(const matmul_ctx *)plan;
  c.act = (const zy_qact *)act;
  if (r0 < r1) matmul_task(&c, r0, r1, 0);
}

void zy_quant_rows_into(const void *plan, const void *act, int64_t m, float *out, int64_t r0, int64_t r1) {
  matmul_ctx c = *(const matmul_ctx *)plan;
  c.act = (const zy_qact *)act;
  c.m = m;
  c.out = out;
  if (r0 < r1 && m > 0) matmul_task(&c, r0, r1, 0);
}
