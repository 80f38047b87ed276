/* Internal to native/quant*.c: block sizes, quantized-activation rows and the kernel signatures the ISA files
 * implement. A kernel computes one weight row against na ≤ 4 activation rows. */
#ifndef ZY_QUANT_IMPL_H
#define ZY_QUANT_IMPL_H
#include "quant.h"
#include "zy_tune.h"
#include "zy_half.h"
#include <stdint.h>
#include <string.h>

/* Quantized activations of m rows. Which arrays are filled depends on the weight type:
 * Q8_0/Q8_1 (blocks of 32): q, d, s (Q8_1), bsum (Σq per block);
 * Q8_K (blocks of 256): q, d, bsums (Σq per 16, as int16);
 * f32/f16/bf16 weights: xf (the activations rounded to f16/bf16 values, or exact). */
typedef struct {
  int64_t m, cols, nb; /* nb: blocks per row */
  int8_t *q;           /* [m, cols] */
  float *d;            /* [m, nb] block scales as stored (Q8_0/1: f16-rounded; Q8_K: f32) */
  float *s;            /* [m, nb] Q8_1: f16(d·Σq) */
  int32_t *bsum;       /* [m, nb] Q8_0/1: Σq of the block */
  int16_t *bsums;      /* [m, nb*16] Q8_K */
  float *xf;           /* [m, cols] */
  /* AVX-512 32-block kernels only, per row and block pair: [d_a(b) ×8, d_a(b+1) ×8] and the weight-offset
   * correction [−off·Σa(b), 0 ×7, −off·Σa(b+1), 0 ×7] (0 past the last block). */
  float *dav;          /* [m, npairs·16] */
  int32_t *corrv;      /* [m, npairs·16] */
  /* r16 q8_0/q4_0 decode kernels (AVX-512 VNNI): −128·Σa per row and block, the weight offset folded in once per
   * token (q8_0 stores w + 128; q4_0's high-nibble sums run ×16, so its −8·Σa becomes −128·Σa there too). */
  int32_t *nbsum128;   /* [m, nb] */
  /* r16 q4_k/q6_k decode kernels (AVX-512 VNNI), Q8_K rows: f32(Σa) per 32-element sub-block (the q4_k mins' sums,
   * exact: |Σa| < 2^13) and −32·Σa per 16 (q6_k's offset), formed once per token. */
  float *ksum32;       /* [m, nb·8] */
  int32_t *knsum16;    /* [m, nb·16] */
} zy_qact;

/* Computes out[j*out_stride] = dot(W row at w, activation row a0 + j) for j < na (na in 1..4; in 1..8 for the
 * kernels marked in zy_qdot_avx512vnni_wide8). */
typedef void (*zy_qdot_fn)(const uint8_t *w, int64_t cols, const zy_qact *act, int64_t a0, int na, float *out,
                           int64_t out_stride);

/* Decode kernels: out[r] = dot(W row at w + r·row_bytes, activation row arow) for r < 4, bit-identical to four
 * zy_qdot_fn calls with na = 1 (the AVX-512 32-block types). */
typedef void (*zy_qdot_rows4_fn)(const uint8_t *w, int64_t row_bytes, int64_t cols, const zy_qact *act, int64_t arow,
                                 float *out);

/* Prompt kernels: out[j·out_stride + r] = dot(W row at w + r·row_bytes, activation row a0 + j) for r < 4, j < na
 * (na in 1..4), bit-identical to zy_qdot_fn calls (the AVX-512 32-block types). */
typedef void (*zy_qdot_tile_fn)(const uint8_t *w, int64_t row_bytes, int64_t cols, const zy_qact *act, int64_t a0, int na,
                                float *out, int64_t out_stride);

/* Per-ISA kernel tables, indexed by zy_qtype; a NULL entry falls back to the portable kernel. */
extern const zy_qdot_fn zy_qdot_portable[ZY_QT_COUNT];
extern const zy_qdot_fn zy_qdot_avx512vnni[ZY_QT_COUNT];
extern const zy_qdot_fn zy_qdot_avx2[ZY_QT_COUNT];
/* Which AVX-512 kernels take up to 8 activation rows per call (the 32-element block types). */
extern const unsigned char zy_qdot_avx512vnni_wide8[ZY_QT_COUNT];
/* Four-weight-row decode kernels (NULL where there is none). */
extern const zy_qdot_rows4_fn zy_qdot_rows4_avx512vnni[ZY_QT_COUNT];
/* 4 × (1–4) tile kernels for several activation rows (NULL where there is none). */
extern const zy_qdot_tile_fn zy_qdot_tile_avx512vnni[ZY_QT_COUNT];

/* r16 matmul over weight rows [begin, end) (multiples of 16) of an r16 matrix: out[i·out_rows + r] (quant_r16.c). */
void zy_r16_rows(const uint8_t *w, int type, int64_t cols, const zy_qact *act, int64_t m, float *out, int64_t out_rows,
                 int64_t begin, int64_t end, const zy_knobs *knobs);

/* Decode with f32/f16/bf16 weights (AVX-512): out[r] = dot(W row r, activation row 0) for r in [r0, r1), the rows
 * `rows_per_call` (1 or 4) at a time, prefetching pf_rows rows ahead (0: none). Every row sums exactly as the
 * zy_qdot_avx512vnni kernel with na = 1, so every setting gives the same bits. */
void zy_float_decode_avx512(const uint8_t *w, int type, int64_t cols, const float *x, int64_t r0, int64_t r1,
                            int rows_per_call, int pf_rows, float *out);

/* Activation quantizers (ggml-cpu's), one row; fast variants must give identical bytes. */
void zy_quantize_row_q8(const float *x, int64_t n, int with_sum, int8_t *q, float *d, float *s, int32_t *bsum);
void zy_quantize_row_q8k(const float *x, int64_t n, int8_t *q, float *d, int16_t *bsums);
void zy_quantize_row_q8_avx512(const float *x, int64_t n, int with_sum, int8_t *q, float *d, float *s, int32_t *bsum);
void zy_quantize_row_q8k_avx512(const float *x, int64_t n, int8_t *q, float *d, int16_t *bsums);


static inline float zy_f16_at(const uint8_t *p) { return zy_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

/* 6-bit scale and min j (0..7) of a q4_k/q5_k super-block (ggml's get_scale_min_k4). */
static inline void zy_scale_min_k4(int j, const uint8_t *q, int *d, int *m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

#endif
