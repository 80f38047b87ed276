/* One pre-norm decoder layer of an encoder-decoder (the "cross-decoder-layer-decode" fused op of
 * src/backend/backend.ts: T5's decoder block) for m sequences that each decode one token, in a single native call:
 * RMSNorm → q/k/v products → per sequence cache write and attention with an additive relative-position bias (no
 * 1/√d scaling) → o product + residual → RMSNorm → cross q product → attention over the sequence's source K/V →
 * cross o product + residual → RMSNorm → wi0 (and wi1) products → activation (⊙ wi1·h) → wo product + residual;
 * after the last layer, when asked, the output RMSNorm (× a scale) and the LM head.
 * The values of the tensor path of src/models/t5/model.ts (its specification) up to the order of sums: f32
 * matrices go through a few-rows kernel of its own (AVX-512; else zy_sgemm's) split by rows over the pool (a decode
 * step's products are memory-bound: both cores stream weights even where zy_sgemm would keep a 512×512 product
 * on one thread); encoded matrices through zy_quant_matmul, as the tensor path. Attention rows use the row
 * primitives that the backend's softmax uses. What it saves is the JavaScript between ~40 kernel calls per layer.
 * Leaves out: prefill (several tokens per sequence), padded sources (the K/V of one unpadded source each), f16
 * caches, gradients. */
#include "cross_decode_layer.h"
#include "gemm.h"
#include "ops_common.h"
#include "ops_kernels.h"
#include "quant.h"
#include "zy_pool.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows j0 … j1 of y [M, ldy] = x [M, k] · wᵀ for M ≤ 4 rows of x: four rows of w per pass, each read once and
 * dotted with every row of x (one accumulator per pair, reduced at the end). A decode step's products are
 * memory-bound: this reads each weight once for all M sequences and measured 1.7× (M 1) to 3.5× (M 4) faster
 * than zy_sgemm's matrix-vector paths on one core for a 32128 × 512 head. */
#define ROWS_KERNEL(M)                                                                                              \
  static ZY_AVX512 void rows_avx512_##M(int64_t j0, int64_t j1, int64_t k, const float *x, const float *w, float *y, \
                                        int64_t ldy) {                                                              \
    const __mmask16 tail = (__mmask16)((1u << (k % 16)) - 1u);                                                      \
    for (int64_t j = j0; j < j1; j += 4) {                                                                          \
      const int g = j1 - j < 4 ? (int)(j1 - j) : 4;                                                                 \
      const float *r0 = w + j * k, *r1 = g > 1 ? r0 + k : r0, *r2 = g > 2 ? r0 + 2 * k : r0;                        \
      const float *r3 = g > 3 ? r0 + 3 * k : r0;                                                                    \
      __m512 acc[M][4];                                                                                             \
      for (int i = 0; i < M; i++)                                                                                   \
        for (int t = 0; t < 4; t++) acc[i][t] = _mm512_setzero_ps();                                                \
      int64_t p = 0;                                                                                                \
      for (; p + 16 <= k; p += 16) {                                                                                \
        const __m512 b0 = _mm512_loadu_ps(r0 + p), b1 = _mm512_loadu_ps(r1 + p), b2 = _mm512_loadu_ps(r2 + p);     \
        const __m512 b3 = _mm512_loadu_ps(r3 + p);                                                                  \
        for (int i = 0; i < M; i++) {                                                                               \
          const __m512 xi = _mm512_loadu_ps(x + i * k + p);                                                         \
          acc[i][0] = _mm512_fmadd_ps(xi, b0, acc[i][0]);                                                           \
          acc[i][1] = _mm512_fmadd_ps(xi, b1, acc[i][1]);                                                           \
          acc[i][2] = _mm512_fmadd_ps(xi, b2, acc[i][2]);                                                           \
          acc[i][3] = _mm512_fmadd_ps(xi, b3, acc[i][3]);                                                           \
        }                                                                                                           \
      }                                                                                                             \
      if (p < k) {                                                                                                  \
        const __m512 b0 = _mm512_maskz_loadu_ps(tail, r0 + p), b1 = _mm512_maskz_loadu_ps(tail, r1 + p);            \
        const __m512 b2 = _mm512_maskz_loadu_ps(tail, r2 + p), b3 = _mm512_maskz_loadu_ps(tail, r3 + p);            \
        for (int i = 0; i < M; i++) {                                                                               \
          const __m512 xi = _mm512_maskz_loadu_ps(tail, x + i * k + p);                                             \
          acc[i][0] = _mm512_fmadd_ps(xi, b0, acc[i][0]);                                                           \
          acc[i][1] = _mm512_fmadd_ps(xi, b1, acc[i][1]);                                                           \
          acc[i][2] = _mm512_fmadd_ps(xi, b2, acc[i][2]);                                                           \
          acc[i][3] = _mm512_fmadd_ps(xi, b3, acc[i][3]);                                                           \
        }                                                                                                           \
      }                                                                                                             \
      for (int i = 0; i < M; i++)                                                                                   \
        for (int t = 0; t < g; t++) y[i * ldy + j + t] = _mm512_reduce_add_ps(acc[i][t]);                           \
    }                                                                                                               \
  }
ROWS_KERNEL(1)
ROWS_KERNEL(2)
ROWS_KERNEL(3)
ROWS_KERNEL(4)

typedef struct {
  const zy_decode_matrix *w;
  const float *x;
  float *y;
  int64_t m;
  int avx512;
} rows_ctx;

static void rows_task(void *p, int64_t j0, int64_t j1, int t) {
  (void)t;
  const rows_ctx *c = p;
  const int64_t k = c->w->cols, n = c->w->rows;
  const float *w = (const float *)(const void *)c->w->data;
  if (!c->avx512) {
    zy_sgemm_linear_rows_st(c->m, k, c->x, w, j0, j1, c->y, n);
    return;
  }
  for (int64_t i = 0; i < c->m; i += 4) { /* x rows four at a time (beam search: one pass for four beams) */
    const int64_t rows = c->m - i < 4 ? c->m - i : 4;
    const float *xi = c->x + i * k;
    float *yi = c->y + i * n;
    switch (rows) {
      case 1: rows_avx512_1(j0, j1, k, xi, w, yi, n); break;
      case 2: rows_avx512_2(j0, j1, k, xi, w, yi, n); break;
      case 3: rows_avx512_3(j0, j1, k, xi, w, yi, n); break;
      default: rows_avx512_4(j0, j1, k, xi, w, yi, n); break;
    }
  }
}

/* y [m, rows] = x [m, cols] · wᵀ: f32 rows split over the pool (small products on this thread), encoded matrices
 * through zy_quant_matmul. */
static int linear(const zy_decode_matrix *w, const float *x, float *y, int64_t m) {
  if (w->type != ZY_QT_F32) return zy_quant_matmul(w->data, w->type, w->rows, w->cols, x, y, m);
  rows_ctx c = {w, x, y, m, zy_cpu()->avx512};
  if (w->rows * w->cols < 65536) rows_task(&c, 0, w->rows, 0);
  else zy_parallel_for(w->rows, 16, rows_task, &c);
  return 0;
}

/* The attention rows (sequence i, head h) of one step: softmax(q·kᵀ + bias)·v over n keys. */
typedef struct {
  const zy_cross_decode_layer *L;
  const float *q; /* [m, inner] */
  float *out;     /* [m, inner] */
  float *scores;  /* per thread: max_keys floats */
  int64_t max_keys;
  int cross, isa;
} attend_ctx;

static void attend_task(void *p, int64_t r0, int64_t r1, int t) {
  const attend_ctx *c = p;
  const zy_cross_decode_layer *L = c->L;
  const int64_t H = L->n_head, hd = L->head_dim, inner = H * hd;
  float *s = c->scores + (int64_t)t * c->max_keys;
  for (int64_t r = r0; r < r1; r++) {
    const int64_t i = r / H, h = r % H;
    const float *keys = c->cross ? L->cross_k[i] : L->k_cache[i], *values = c->cross ? L->cross_v[i] : L->v_cache[i];
    const int64_t n = c->cross ? L->source_len[i] : L->pos[i] + 1;
    const float *qi = c->q + i * inner + h * hd;
    for (int64_t j = 0; j < n; j++) {
      float d = zy_row_dot(c->isa, qi, keys + (j * H + h) * hd, hd);
      s[j] = c->cross ? d : d + L->rel_bias[(L->pos[i] - j) * H + h];
    }
    /* softmax as zy_op_softmax computes a row */
    const float max = zy_row_max(c->isa, s, n);
    const float sum = zy_row_expsum(c->isa, s, s, n, max);
    zy_row_scale(c->isa, 1.0f / sum, s, n);
    float *o = c->out + i * inner + h * hd;
    memset(o, 0, (size_t)hd * sizeof(float));
    for (int64_t j = 0; j < n; j++) zy_row_axpy(c->isa, s[j], values + (j * H + h) * hd, o, hd);
  }
}

static void attend(const zy_cross_decode_layer *L, const float *q, float *out, float *scores, int64_t max_keys, int cross) {
  attend_ctx c = {L, q, out, scores, max_keys, cross, zy_isa_level()};
  const int64_t rows = L->m * L->n_head;
  if (rows * max_keys * L->head_dim < 65536) attend_task(&c, 0, rows, 0);
  else zy_parallel_for(rows, 1, attend_task, &c);
}

static void add_into(float *x, const float *y, int64_t n) {
  for (int64_t j = 0; j < n; j++) x[j] = x[j] + y[j];
}

int zy_cross_decoder_layer_decode(const zy_cross_decode_layer *L, float *x) {
  const int64_t m = L->m, D = L->hidden, H = L->n_head, hd = L->head_dim, inner = H * hd, F = L->ffn;
  int64_t max_keys = 1;
  for (int64_t i = 0; i < m; i++) {
    if (L->pos[i] + 1 > max_keys) max_keys = L->pos[i] + 1;
    if (L->source_len[i] > max_keys) max_keys = L->source_len[i];
  }
  const int threads = zy_threads() > 0 ? zy_threads() : 1;
  /* scratch: h [m, D], q, k, v, att [m, inner] each, o [m, D], g, u [m, F], rstd [m], scores [threads, max_keys] */
  const size_t floats = (size_t)(2 * m * D + 4 * m * inner + 2 * m * F + m + threads * max_keys);
  float *buf = malloc(floats * sizeof(float));
  if (!buf) return -1;
  float *h = buf, *q = h + m * D, *k = q + m * inner, *v = k + m * inner, *att = v + m * inner, *o = att + m * inner;
  float *g = o + m * D, *u = g + m * F, *rstd = u + m * F, *scores = rstd + m;
  int rc = 0;

  /* self-attention: the new token's k, v into its cache, then its query over positions 0 … pos */
  zy_op_rmsnorm(x, L->self_norm, h, rstd, m, D, L->eps);
  if ((rc = linear(&L->q, h, q, m)) || (rc = linear(&L->k, h, k, m)) || (rc = linear(&L->v, h, v, m))) goto done;
  for (int64_t i = 0; i < m; i++) {
    memcpy(L->k_cache[i] + L->pos[i] * inner, k + i * inner, (size_t)inner * sizeof(float));
    memcpy(L->v_cache[i] + L->pos[i] * inner, v + i * inner, (size_t)inner * sizeof(float));
  }
  attend(L, q, att, scores, max_keys, 0);
  if ((rc = linear(&L->o, att, o, m))) goto done;
  add_into(x, o, m * D);

  /* cross-attention over the source */
  zy_op_rmsnorm(x, L->cross_norm, h, rstd, m, D, L->eps);
  if ((rc = linear(&L->cross_q, h, q, m))) goto done;
  attend(L, q, att, scores, max_keys, 1);
  if ((rc = linear(&L->cross_o, att, o, m))) goto done;
  add_into(x, o, m * D);

  /* feed-forward */
  zy_op_rmsnorm(x, L->ffn_norm, h, rstd, m, D, L->eps);
  if ((rc = linear(&L->wi0, h, g, m))) goto done;
  zy_op_unary(L->act, g, g, m * F);
  if (L->gated) {
    if ((rc = linear(&L->wi1, h, u, m))) goto done;
    for (int64_t j = 0; j < m * F; j++) g[j] = g[j] * u[j];
  }
  if ((rc = linear(&L->wo, g, o, m))) goto done;
  add_into(x, o, m * D);

  /* the output norm and the LM head, after the last layer */
  if (L->logits) {
    zy_op_rmsnorm(x, L->out_norm, h, rstd, m, D, L->eps);
    if (L->out_scale != 1.0f)
      for (int64_t j = 0; j < m * D; j++) h[j] = h[j] * L->out_scale;
    rc = linear(&L->head, h, L->logits, m);
  }
done:
  free(buf);
  return rc == 0 ? 0 : -1;
}
