/* One post-LayerNorm encoder layer (the "encoder-layer-forward" fused op of src/backend/backend.ts: BERT, RoBERTa,
 * bge/e5/MiniLM) over n packed tokens, in a single native call:
 *   q, k, v = x·Wᵀ + b → per sequence bidirectional attention → h = LN((att·Woᵀ + bo) + x)
 *   → u = act(h·Wupᵀ + bup) → x = LN((u·Wdownᵀ + bdown) + h)
 * the tensor path of src/models/bert/model.ts (its specification), with the same kernels on the same values:
 * zy_sgemm's sums (zy_sgemm_linear_rows_st gives each element the same sum in the same order), the backend's
 * attention and LayerNorm, the same unary functions, the bias and residual added in the same order — so results are
 * bit-identical to it. What it saves: f32 products are split by output columns over the pool with the bias,
 * residual and activation applied by the same task while its block is in cache (zy_sgemm keeps a 768-column
 * product of 128 rows mostly on one thread of two), q/k/v in one dispatch, and the JavaScript between ~20 kernel
 * calls per layer (tensor objects, allocations, element-wise passes). Encoded matrices (f16, q8_0, ...) go through
 * zy_quant_matmul as the tensor path does, with the same epilogue. Matrices that come with panels packed once
 * (zy_pw_pack: f32, f16, bf16) run on them where the path they replace runs the blocked GEMM (f32: more than 8 rows;
 * f16 / bf16: 16 rows or more) — the activations packed once for all threads, no per-call weight packing, the same
 * bits (gemm_packed.c); there each column pass (256 columns) gets its bias / residual / activation as soon as it is
 * final, and the bias and residual adds are AVX-512 (the same two roundings per element as the scalar loop).
 * Leaves out: gradients (training runs the tensor path), pre-LayerNorm layers, attention masks other than "each
 * sequence attends to its own rows". */
#include "encoder_layer.h"
#include "gemm.h"
#include "ops_common.h"
#include "ops_kernels.h"
#include "quant.h"
#include "zy_pool.h"
#include "zy_scratch.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>
#pragma GCC optimize("fp-contract=off")

/* One product y = x·Wᵀ (+ bias, + residual, then act) of a group of up to three products reading the same x. */
typedef struct {
  const zy_decode_matrix *w;
  const float *bias, *res; /* res: [m, rows] added after the bias, or NULL */
  float *y;                /* [m, rows] */
  const void *panels;      /* w packed once (zy_pw_pack), or NULL */
  int panel_elem;
} lin_out;

typedef struct {
  const lin_out *outs;
  int n_outs, act, isa;   /* act: a zy_unary_op, or -1 for none */
  int64_t m, k, total;    /* total: the group's output columns, back to back */
  const float *x;         /* [m, k] */
  const float *apack;     /* packed-panel products: x (rounded as the weight type reads it) packed by zy_pw_pack_a */
} lin_ctx;

static float act_one(int act, float x) {
  if (act == ZY_RELU) return x > 0 ? x : 0.0f;
  if (act == ZY_GELU_ERF) return (float)(0.5 * x * erfc(-x * 0.70710678118654752)); /* as ops_elementwise.c */
  float y;
  zy_unary_vec(0, act, &x, &y, 1); /* gelu_tanh: the portable twin */
  return y;
}

/* y[j] = (y[j] + bias[j]) (+ r[j]) for j in [0, n): two roundings per element, as two separate adds make them. */
static void add_bias_res(float *y, const float *bias, const float *r, int64_t n) {
  for (int64_t j = 0; j < n; j++) {
    float t = y[j] + bias[j];
    y[j] = r ? t + r[j] : t;
  }
}
ZY_AVX512 static void add_bias_res_avx512(float *y, const float *bias, const float *r, int64_t n) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 lanes = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
    __m512 t = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, y + j), _mm512_maskz_loadu_ps(lanes, bias + j));
    if (r) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(lanes, r + j));
    _mm512_mask_storeu_ps(y + j, lanes, t);
  }
}

/* Columns [j0, j1) of every row of one output: + bias, + residual, then the activation — what the tensor path's
 * add(y, bias), add(·, res) and unary ops compute on these elements. */
static void epilogue(const lin_out *o, int act, int isa, int64_t m, int64_t rows, int64_t j0, int64_t j1) {
  for (int64_t i = 0; i < m; i++) {
    float *y = o->y + i * rows;
    const float *r = o->res ? o->res + i * rows + j0 : NULL;
    if (isa >= 2) add_bias_res_avx512(y + j0, o->bias + j0, r, j1 - j0);
    else add_bias_res(y + j0, o->bias + j0, r, j1 - j0);
    if (act < 0) continue;
    if (act == ZY_RELU || !zy_unary_vec(isa, act, y + j0, y + j0, j1 - j0))
      for (int64_t j = j0; j < j1; j++) y[j] = act_one(act, y[j]);
  }
}

/* Thread t of T: its share of the group's columns (multiples of 16 but the last), each output's part of it
 * multiplied on this thread and finished by the epilogue. */
static void lin_f32_task(void *p, int64_t t, int64_t t1, int ti) {
  (void)t1; (void)ti;
  const lin_ctx *c = p;
  const int64_t T = zy_threads(), blocks = (c->total + 15) / 16;
  int64_t c0 = (blocks * t / T) * 16, c1 = (blocks * (t + 1) / T) * 16;
  if (c1 > c->total) c1 = c->total;
  int64_t off = 0;
  for (int i = 0; i < c->n_outs; off += c->outs[i].w->rows, i++) {
    const lin_out *o = &c->outs[i];
    const int64_t rows = o->w->rows;
    const int64_t j0 = c0 > off ? c0 - off : 0, j1 = c1 - off < rows ? c1 - off : rows;
    if (j1 <= j0) continue;
    zy_sgemm_linear_rows_st(c->m, c->k, c->x, (const float *)(const void *)o->w->data, j0, j1, o->y, rows);
    epilogue(o, c->act, c->isa, c->m, rows, j0, j1);
  }
}

/* Rows [i0, i1) of every output after an encoded product. */
static void lin_rows_task(void *p, int64_t i0, int64_t i1, int ti) {
  (void)ti;
  const lin_ctx *c = p;
  for (int i = 0; i < c->n_outs; i++) {
    const lin_out *o = &c->outs[i];
    const int64_t rows = o->w->rows;
    lin_out part = {o->w, o->bias, o->res ? o->res + i0 * rows : NULL, o->y + i0 * rows, NULL, 0};
    epilogue(&part, c->act, c->isa, i1 - i0, rows, 0, rows);
  }
}

typedef struct {
  const lin_out *o;
  const lin_ctx *c;
} pass_epilogue;

static void finish_pass(void *p, int64_t j0, int64_t j1) {
  const pass_epilogue *e = p;
  epilogue(e->o, e->c->act, e->c->isa, e->c->m, e->o->w->rows, j0, j1);
}

/* Thread t of T: its share of the group's weight panels (32 output columns each), each output's part multiplied
 * from its packed panels on this thread, each column pass finished by the epilogue while it is in cache. */
static void lin_packed_task(void *p, int64_t t, int64_t t1, int ti) {
  (void)t1; (void)ti;
  const lin_ctx *c = p;
  int64_t panels = 0;
  for (int i = 0; i < c->n_outs; i++) panels += (c->outs[i].w->rows + ZY_PW_NR - 1) / ZY_PW_NR;
  const int64_t T = zy_threads(), q0 = panels * t / T, q1 = panels * (t + 1) / T;
  int64_t off = 0; /* the group's panels before output i */
  for (int i = 0; i < c->n_outs; i++) {
    const lin_out *o = &c->outs[i];
    const int64_t rows = o->w->rows, own = (rows + ZY_PW_NR - 1) / ZY_PW_NR;
    const int64_t a = q0 > off ? q0 - off : 0, b = q1 - off < own ? q1 - off : own;
    off += own;
    if (b <= a) continue;
    const int64_t j0 = a * ZY_PW_NR, j1 = b * ZY_PW_NR < rows ? b * ZY_PW_NR : rows;
    pass_epilogue e = {o, c};
    zy_pw_gemm_rows_each(c->apack, c->m, c->k, o->panels, o->panel_elem, rows, j0, j1, o->y, rows, finish_pass, &e);
  }
}

static _Thread_local void *apack_buf;
static _Thread_local size_t apack_bytes;

/* Whether the group runs on its packed panels: every output has them, from one weight type, and m is where the
 * unpacked path it replaces runs the blocked GEMM (zy_sgemm: more than 8 rows; zy_quant_matmul on f16 / bf16
 * weights: its panel GEMM from 16 rows) — so the bits are the same. */
static int packed_group(const lin_out *outs, int n_outs, int64_t m) {
  if (!zy_pw_available()) return 0;
  for (int i = 0; i < n_outs; i++)
    if (!outs[i].panels || outs[i].w->type != outs[0].w->type) return 0;
  const int type = outs[0].w->type;
  if (type == ZY_QT_F32) return m > 8;
  return (type == ZY_QT_F16 || type == ZY_QT_BF16) && m >= 16;
}

/* The products of one group (all f32, or all encoded: the caller's grouping) and their epilogues. */
static int linear_group(const lin_out *outs, int n_outs, const float *x, int64_t m, int act) {
  lin_ctx c = {outs, n_outs, act, zy_isa_level(), m, outs[0].w->cols, 0, x, NULL};
  for (int i = 0; i < n_outs; i++) c.total += outs[i].w->rows;
  if (packed_group(outs, n_outs, m)) {
    /* x rounded as the weight type's products read it (f16 / bf16), then packed once for every thread */
    const size_t rounded = outs[0].w->type == ZY_QT_F32 ? 0 : (size_t)(m * c.k) * 4;
    float *buf = zy_grow(&apack_buf, &apack_bytes, rounded + zy_pw_packed_a_bytes(m, c.k));
    if (!buf) return -1;
    float *a = buf + (rounded / 4);
    zy_pw_prepare_a(outs[0].w->type, x, m, c.k, buf, a);
    c.apack = a;
    zy_parallel_run(lin_packed_task, &c);
    return 0;
  }
  int all_f32 = 1;
  for (int i = 0; i < n_outs; i++) all_f32 &= outs[i].w->type == ZY_QT_F32;
  if (all_f32) {
    zy_parallel_run(lin_f32_task, &c);
    return 0;
  }
  for (int i = 0; i < n_outs; i++) {
    const zy_decode_matrix *w = outs[i].w;
    if (zy_quant_matmul(w->data, w->type, w->rows, w->cols, x, outs[i].y, m) != 0) return -1;
  }
  zy_ops_for(m, 1, m * c.total, lin_rows_task, &c);
  return 0;
}

static _Thread_local void *scratch;
static _Thread_local size_t scratch_bytes;

int zy_encoder_layer_forward(const zy_encoder_layer *L, float *x) {
  const int64_t n = L->n, D = L->hidden, F = L->ffn, H = L->n_head, Dh = L->head_dim;
  if (n == 0) return 0;
  /* q, k, v, att, h, t [n, D]; u [n, F]; mean, rstd [n]; lse [n, H] */
  float *buf = zy_grow(&scratch, &scratch_bytes, (size_t)(6 * n * D + n * F + 2 * n + n * H) * sizeof(float));
  if (!buf) return -1;
  float *q = buf, *k = q + n * D, *v = k + n * D, *att = v + n * D, *h = att + n * D, *t = h + n * D;
  float *u = t + n * D, *mean = u + n * F, *rstd = mean + n, *lse = rstd + n;

  /* q/k/v: one group when their matrices share a kind (a GGUF may mix types only across groups). */
  const lin_out qkv[3] = {{&L->q, L->bq, NULL, q, L->panels[0], L->panel_elem[0]},
                          {&L->k, L->bk, NULL, k, L->panels[1], L->panel_elem[1]},
                          {&L->v, L->bv, NULL, v, L->panels[2], L->panel_elem[2]}};
  const int same = (L->q.type == ZY_QT_F32) == (L->k.type == ZY_QT_F32) && (L->q.type == ZY_QT_F32) == (L->v.type == ZY_QT_F32);
  if (same) { if (linear_group(qkv, 3, x, n, -1) != 0) return -1; }
  else for (int i = 0; i < 3; i++) if (linear_group(&qkv[i], 1, x, n, -1) != 0) return -1;

  /* Attention of each sequence over its own rows ([len, H, Dh] blocks of q/k/v); sequences of one length back to
   * back in one batched call, as the tensor path makes it. */
  int uniform = L->n_seq > 1;
  for (int64_t s = 0; s < L->n_seq && uniform; s++) uniform = L->seq_len[s] == L->seq_len[0] && L->seq_start[s] == s * L->seq_len[0];
  if (uniform) {
    const int64_t len = L->seq_len[0];
    zy_op_attention(q, k, v, 0, att, lse, L->n_seq, len, len, H, H, Dh, L->attn_scale, 0, len);
  } else {
    for (int64_t s = 0; s < L->n_seq; s++) {
      const int64_t at = L->seq_start[s] * D, len = L->seq_len[s];
      zy_op_attention(q + at, k + at, v + at, 0, att + at, lse, 1, len, len, H, H, Dh, L->attn_scale, 0, len);
    }
  }

  const lin_out o = {&L->o, L->bo, x, t, L->panels[3], L->panel_elem[3]};
  if (linear_group(&o, 1, att, n, -1) != 0) return -1;
  zy_op_layernorm(t, L->ln1_w, L->ln1_b, h, mean, rstd, n, D, L->eps);
  const lin_out up = {&L->up, L->bup, NULL, u, L->panels[4], L->panel_elem[4]};
  if (linear_group(&up, 1, h, n, L->act) != 0) return -1;
  const lin_out down = {&L->down, L->bdown, h, t, L->panels[5], L->panel_elem[5]};
  if (linear_group(&down, 1, u, n, -1) != 0) return -1;
  zy_op_layernorm(t, L->ln2_w, L->ln2_b, x, mean, rstd, n, D, L->eps);
  return 0;
}
