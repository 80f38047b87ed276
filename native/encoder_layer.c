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
 * With two threads or more and every product on panels, a layer of fewer than 512 rows (48 or more per thread: a
 * batch-1 pass of 96+ tokens) is split by rows, each thread taking its rows through the whole layer (layer_rows); more rows run
 * in three pool dispatches (plus the attention's) instead of eleven, items claimed by whichever thread is free
 * (layer_fused) — the same bits again.
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
#include <sched.h>
#include <stdatomic.h>
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

/* The group's weight panels [q0, q1) (32 output columns each, counted through the outputs back to back), each
 * output's part multiplied from its packed panels on this thread, each column pass finished by the epilogue while
 * it is in cache. */
static void group_panels(const lin_ctx *c, int64_t q0, int64_t q1) {
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

static int64_t group_panel_count(const lin_ctx *c) {
  int64_t panels = 0;
  for (int i = 0; i < c->n_outs; i++) panels += (c->outs[i].w->rows + ZY_PW_NR - 1) / ZY_PW_NR;
  return panels;
}

/* Thread t of T: its share of the group's weight panels. */
static void lin_packed_task(void *p, int64_t t, int64_t t1, int ti) {
  (void)t1; (void)ti;
  const lin_ctx *c = p;
  const int64_t panels = group_panel_count(c), T = zy_threads();
  group_panels(c, panels * t / T, panels * (t + 1) / T);
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

/* Attention of each sequence over its own rows ([len, H, Dh] blocks of q/k/v); sequences of one length back to
 * back in one batched call, as the tensor path makes it. */
static void attention(const zy_encoder_layer *L, const float *q, const float *k, const float *v, float *att, float *lse) {
  const int64_t D = L->hidden, H = L->n_head, Dh = L->head_dim;
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
}

/* Two threads or more, every product on packed panels: a layer is three pool dispatches and the attention's, not
 * eleven. A region runs steps in turn — pack the activations of a group (row panels of 12 rows, each LayerNormed
 * first where the group reads a LayerNorm's output), multiply the group (chunks of a few weight panels), LayerNorm
 * rows — and every step's items are claimed one at a time by whichever thread is free, then waited for by counting
 * finished ones: no thread waits for one that has not arrived yet (on a loaded machine the other thread is often
 * descheduled; the caller then runs its share), and the products split evenly wherever each thread finds itself.
 * Each element gets the same operations as on the path above (the sums do not depend on which panels a call
 * covers, the LayerNorm and the epilogue work row / element by element), so the bits are the same. */
enum { STEP_PACK, STEP_GEMM, STEP_NORM };

typedef struct {
  int kind;
  const float *ln_x, *ln_w, *ln_b; /* PACK (when ln_x) and NORM: ln_y = LayerNorm(ln_x) on the item's rows */
  float *ln_y;
  const lin_ctx *g; /* PACK: g->x rounded and packed into g->apack; GEMM: the group's products */
  int64_t items, per_item; /* GEMM: weight panels per item */
  _Atomic int64_t next, done;
} region_step;

typedef struct {
  region_step steps[4];
  int n_steps;
  int64_t m, width; /* width: the LayerNorms' row length */
  float eps, *rounded, *mean, *rstd;
} region;

static void step_item(const region *r, const region_step *s, int64_t it) {
  if (s->kind == STEP_GEMM) {
    const int64_t panels = group_panel_count(s->g), q0 = it * s->per_item;
    group_panels(s->g, q0, q0 + s->per_item < panels ? q0 + s->per_item : panels);
    return;
  }
  const int64_t mr = zy_pw_prepare_panel_rows(), i0 = it * mr, i1 = i0 + mr < r->m ? i0 + mr : r->m;
  if (s->ln_x)
    zy_op_layernorm_serial(s->ln_x + i0 * r->width, s->ln_w, s->ln_b, s->ln_y + i0 * r->width, r->mean + i0,
                           r->rstd + i0, i1 - i0, r->width, r->eps);
  if (s->kind == STEP_PACK)
    zy_pw_prepare_a_panels(s->g->outs[0].w->type, s->g->x, r->m, s->g->k, r->rounded, (float *)s->g->apack, it, it + 1);
}

static void region_task(void *p, int64_t t, int64_t t1, int ti) {
  (void)t; (void)t1; (void)ti;
  region *r = p;
  for (int i = 0; i < r->n_steps; i++) {
    region_step *s = &r->steps[i];
    for (int64_t it; (it = atomic_fetch_add_explicit(&s->next, 1, memory_order_relaxed)) < s->items;) {
      step_item(r, s, it);
      atomic_fetch_add_explicit(&s->done, 1, memory_order_release);
    }
    /* the next step reads what this one wrote: wait for the items other threads still hold (pause, then yield) */
    for (int spins = 0; atomic_load_explicit(&s->done, memory_order_acquire) < s->items; spins++)
      if (spins < 2000) _mm_pause();
      else sched_yield();
  }
}

static void add_pack(region *r, const lin_ctx *g, const float *ln_x, const float *ln_w, const float *ln_b, float *ln_y) {
  region_step *s = &r->steps[r->n_steps++];
  *s = (region_step){STEP_PACK, ln_x, ln_w, ln_b, ln_y, g, (r->m + zy_pw_prepare_panel_rows() - 1) / zy_pw_prepare_panel_rows(), 0, 0, 0};
}

/* Items of ~1/4 of a thread's share (at most 8 panels: one 256-column pass): small enough to even out, large enough
 * that the tile's prefetch of the next block runs within an item most of the time. */
static void add_gemm(region *r, const lin_ctx *g) {
  region_step *s = &r->steps[r->n_steps++];
  const int64_t panels = group_panel_count(g);
  int64_t per = panels / (4 * zy_threads());
  per = per < 1 ? 1 : per > 8 ? 8 : per;
  *s = (region_step){STEP_GEMM, NULL, NULL, NULL, NULL, g, (panels + per - 1) / per, per, 0, 0};
}

static void add_norm(region *r, const float *x, const float *w, const float *b, float *y) {
  region_step *s = &r->steps[r->n_steps++];
  *s = (region_step){STEP_NORM, x, w, b, y, NULL, (r->m + zy_pw_prepare_panel_rows() - 1) / zy_pw_prepare_panel_rows(), 0, 0, 0};
}

/* Whether every group of the layer runs on its packed panels (q/k/v of one type, as packed_group needs them). */
static int all_packed(const zy_encoder_layer *L) {
  lin_out all[6];
  const zy_decode_matrix *w[6] = {&L->q, &L->k, &L->v, &L->o, &L->up, &L->down};
  for (int i = 0; i < 6; i++) all[i] = (lin_out){w[i], NULL, NULL, NULL, L->panels[i], L->panel_elem[i]};
  return packed_group(all, 3, L->n) && packed_group(all + 3, 1, L->n) && packed_group(all + 4, 1, L->n) &&
         packed_group(all + 5, 1, L->n);
}

static _Thread_local void *region_buf;
static _Thread_local size_t region_bytes;

/* The layer on fused regions (the caller checked that every group runs on packed panels and threads > 1). */
static int layer_fused(const zy_encoder_layer *L, float *x, float *q, float *k, float *v, float *att, float *h,
                       float *t, float *u, float *mean, float *rstd, float *lse) {
  const int64_t n = L->n, D = L->hidden, F = L->ffn;
  const int isa = zy_isa_level();
  /* every group's rounded activations (f16 / bf16 weights) and packed panels reuse one buffer: a region packs a
   * group only after the previous group's products are all done */
  const int64_t widest = D > F ? D : F;
  const size_t rounded = (size_t)(n * widest) * 4;
  float *buf = zy_grow(&region_buf, &region_bytes, rounded + zy_pw_packed_a_bytes(n, widest));
  if (!buf) return -1;
  float *apack = buf + rounded / 4;

  const lin_out qkv[3] = {{&L->q, L->bq, NULL, q, L->panels[0], L->panel_elem[0]},
                          {&L->k, L->bk, NULL, k, L->panels[1], L->panel_elem[1]},
                          {&L->v, L->bv, NULL, v, L->panels[2], L->panel_elem[2]}};
  const lin_ctx gqkv = {qkv, 3, -1, isa, n, D, L->q.rows + L->k.rows + L->v.rows, x, apack};
  region r1 = {.m = n, .width = D, .eps = L->eps, .rounded = buf, .mean = mean, .rstd = rstd};
  add_pack(&r1, &gqkv, NULL, NULL, NULL, NULL);
  add_gemm(&r1, &gqkv);
  zy_parallel_run(region_task, &r1);

  attention(L, q, k, v, att, lse);

  const lin_out o = {&L->o, L->bo, x, t, L->panels[3], L->panel_elem[3]};
  const lin_out up = {&L->up, L->bup, NULL, u, L->panels[4], L->panel_elem[4]};
  const lin_ctx go = {&o, 1, -1, isa, n, D, D, att, apack}, gup = {&up, 1, L->act, isa, n, D, F, h, apack};
  region r2 = {.m = n, .width = D, .eps = L->eps, .rounded = buf, .mean = mean, .rstd = rstd};
  add_pack(&r2, &go, NULL, NULL, NULL, NULL);
  add_gemm(&r2, &go);
  add_pack(&r2, &gup, t, L->ln1_w, L->ln1_b, h);
  add_gemm(&r2, &gup);
  zy_parallel_run(region_task, &r2);

  const lin_out down = {&L->down, L->bdown, h, t, L->panels[5], L->panel_elem[5]};
  const lin_ctx gdown = {&down, 1, -1, isa, n, F, D, u, apack};
  region r3 = {.m = n, .width = D, .eps = L->eps, .rounded = buf, .mean = mean, .rstd = rstd};
  add_pack(&r3, &gdown, NULL, NULL, NULL, NULL);
  add_gemm(&r3, &gdown);
  add_norm(&r3, t, L->ln2_w, L->ln2_b, x);
  zy_parallel_run(region_task, &r3);
  return 0;
}

/* Two threads or more, every product on packed panels, a few hundred rows: each thread takes a contiguous share of the
 * rows through the whole layer — packs its own activations, multiplies them by every weight panel, LayerNorms its
 * rows — so what a core reads is what it wrote; only the attention (one dispatch over the heads) reads the other
 * core's q/k/v. Two joins per layer instead of the regions' barriers. The sums are those of the column split
 * (an element's sum does not depend on which rows or columns a call covers; LayerNorm works row by row). */
/* Where the row split runs (2 threads, f16 BERT-base, one sequence of T tokens, wall vs the regions; BENCHMARKS.md):
 * T 32 0.86×, 64 1.0×, 96 0.98×, 128 1.06–1.09×, 256 1.07×, 384 1.0× — each thread widens every weight block for its
 * rows alone, which few rows amortise poorly. */
#define ROWS_SPLIT_MIN 48  /* rows per thread */
#define ROWS_SPLIT_MAX 512 /* rows in all: batches keep the regions */

typedef struct {
  const zy_encoder_layer *L;
  float *x, *q, *k, *v, *att, *h, *t, *u, *mean, *rstd;
  int phase, isa;
  _Atomic int failed;
} rows_ctx;

static _Thread_local void *rows_buf;
static _Thread_local size_t rows_bytes;

/* Rows [i0, i1) of one group's outputs from x (rows of length k), on the calling thread. */
static int rows_group(const lin_out *outs, int n_outs, const float *x, int64_t k, int64_t i0, int64_t i1, int act, int isa) {
  const int64_t m = i1 - i0;
  lin_out part[3];
  int64_t total = 0;
  for (int i = 0; i < n_outs; i++) {
    const int64_t rows = outs[i].w->rows;
    part[i] = (lin_out){outs[i].w, outs[i].bias, outs[i].res ? outs[i].res + i0 * rows : NULL, outs[i].y + i0 * rows,
                        outs[i].panels, outs[i].panel_elem};
    total += rows;
  }
  const size_t rounded = (size_t)(m * k) * 4;
  float *buf = zy_grow(&rows_buf, &rows_bytes, rounded + zy_pw_packed_a_bytes(m, k));
  if (!buf) return -1;
  float *apack = buf + rounded / 4;
  const int64_t mr = zy_pw_prepare_panel_rows();
  zy_pw_prepare_a_panels(outs[0].w->type, x + i0 * k, m, k, buf, apack, 0, (m + mr - 1) / mr);
  const lin_ctx c = {part, n_outs, act, isa, m, k, total, x + i0 * k, apack};
  group_panels(&c, 0, group_panel_count(&c));
  return 0;
}

static void rows_task(void *p, int64_t t, int64_t t1, int ti) {
  (void)t1; (void)ti;
  rows_ctx *c = p;
  const zy_encoder_layer *L = c->L;
  const int64_t n = L->n, D = L->hidden, F = L->ffn, T = zy_threads(), i0 = n * t / T, i1 = n * (t + 1) / T;
  if (i1 <= i0) return;
  int rc = 0;
  if (c->phase == 0) {
    const lin_out qkv[3] = {{&L->q, L->bq, NULL, c->q, L->panels[0], L->panel_elem[0]},
                            {&L->k, L->bk, NULL, c->k, L->panels[1], L->panel_elem[1]},
                            {&L->v, L->bv, NULL, c->v, L->panels[2], L->panel_elem[2]}};
    rc = rows_group(qkv, 3, c->x, D, i0, i1, -1, c->isa);
  } else {
    const lin_out o = {&L->o, L->bo, c->x, c->t, L->panels[3], L->panel_elem[3]};
    const lin_out up = {&L->up, L->bup, NULL, c->u, L->panels[4], L->panel_elem[4]};
    const lin_out down = {&L->down, L->bdown, c->h, c->t, L->panels[5], L->panel_elem[5]};
    rc = rows_group(&o, 1, c->att, D, i0, i1, -1, c->isa);
    if (!rc) {
      zy_op_layernorm_serial(c->t + i0 * D, L->ln1_w, L->ln1_b, c->h + i0 * D, c->mean + i0, c->rstd + i0, i1 - i0, D, L->eps);
      rc = rows_group(&up, 1, c->h, D, i0, i1, L->act, c->isa);
    }
    if (!rc) rc = rows_group(&down, 1, c->u, F, i0, i1, -1, c->isa);
    if (!rc)
      zy_op_layernorm_serial(c->t + i0 * D, L->ln2_w, L->ln2_b, c->x + i0 * D, c->mean + i0, c->rstd + i0, i1 - i0, D, L->eps);
  }
  if (rc) atomic_store(&c->failed, 1);
}

static int layer_rows(const zy_encoder_layer *L, float *x, float *q, float *k, float *v, float *att, float *h,
                      float *t, float *u, float *mean, float *rstd, float *lse) {
  rows_ctx c = {L, x, q, k, v, att, h, t, u, mean, rstd, 0, zy_isa_level(), 0};
  zy_parallel_run(rows_task, &c);
  if (atomic_load(&c.failed)) return -1;
  attention(L, q, k, v, att, lse);
  c.phase = 1;
  zy_parallel_run(rows_task, &c);
  return atomic_load(&c.failed) ? -1 : 0;
}

static _Thread_local void *scratch;
static _Thread_local size_t scratch_bytes;

int zy_encoder_layer_forward(const zy_encoder_layer *L, float *x) {
  const int64_t n = L->n, D = L->hidden, F = L->ffn, H = L->n_head;
  if (n == 0) return 0;
  /* q, k, v, att, h, t [n, D]; u [n, F]; mean, rstd [n]; lse [n, H] */
  float *buf = zy_grow(&scratch, &scratch_bytes, (size_t)(6 * n * D + n * F + 2 * n + n * H) * sizeof(float));
  if (!buf) return -1;
  float *q = buf, *k = q + n * D, *v = k + n * D, *att = v + n * D, *h = att + n * D, *t = h + n * D;
  float *u = t + n * D, *mean = u + n * F, *rstd = mean + n, *lse = rstd + n;

  if (zy_threads() > 1 && all_packed(L)) /* the row split where it was measured to win (ROWS_SPLIT_MIN / _MAX) */
    return n / zy_threads() >= ROWS_SPLIT_MIN && n < ROWS_SPLIT_MAX ? layer_rows(L, x, q, k, v, att, h, t, u, mean, rstd, lse)
                                                                   : layer_fused(L, x, q, k, v, att, h, t, u, mean, rstd, lse);

  /* q/k/v: one group when their matrices share a kind (a GGUF may mix types only across groups). */
  const lin_out qkv[3] = {{&L->q, L->bq, NULL, q, L->panels[0], L->panel_elem[0]},
                          {&L->k, L->bk, NULL, k, L->panels[1], L->panel_elem[1]},
                          {&L->v, L->bv, NULL, v, L->panels[2], L->panel_elem[2]}};
  const int same = (L->q.type == ZY_QT_F32) == (L->k.type == ZY_QT_F32) && (L->q.type == ZY_QT_F32) == (L->v.type == ZY_QT_F32);
  if (same) { if (linear_group(qkv, 3, x, n, -1) != 0) return -1; }
  else for (int i = 0; i < 3; i++) if (linear_group(&qkv[i], 1, x, n, -1) != 0) return -1;

  attention(L, q, k, v, att, lse);

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
