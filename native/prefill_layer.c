/* A decoder prompt's whole pre-norm layer in one native call on weights packed once into GEMM panels (or quantized,
 * repacked r16 matrices):
 *   h = RMSNorm(x)·w → q|k|v = h·Wqkvᵀ → (Qwen3: per-head RMSNorm of q and k) → RoPE on q, k → k, v into the cache
 *   → causal attention over the cache → x += att·Woᵀ → the SwiGLU MLP sublayer (prefill_mlp.c)
 * in three steps: (A) each thread takes a contiguous share of the rows through the norm, the stacked q/k/v product,
 * the head norms, RoPE and the cache writes; (B) the attention kernel as it is (zy_op_attention, its own split of
 * (head, query block) items over the pool — rows of a causal prompt do unequal work, and a later row reads keys
 * another thread wrote); (C) each thread takes the same rows through the output product, the residual add and the
 * whole MLP sublayer (zy_prefill_mlp_chunk). So a layer is three pool dispatches where the tensor path makes about
 * fifteen, with no JavaScript tensors, copies (narrow, RoPE's private q/k) or per-layer cos/sin tables in between
 * (the caller computes the table once per prompt: zy_rope_table). zy_prefill_stack runs a model's layers in one call:
 * step C of a layer and step A of the next share a dispatch (each thread's rows go straight on), 2n + 1 in all.
 * Panel layers of a prompt of at most 160 rows split each product by weight columns instead (cols_stage: each thread
 * packs its rows' activations into a shared block, then multiplies every row by its share of the panels, two spin
 * barriers a product): each f16 weight block is widened once a pass, not once per thread (9 % of a 1B pass when both
 * threads widened every block), and the row tiles cover the whole prompt; paused while threads keep arriving late
 * (COLS_LATE_CALLS). ZHIYU_PREFILL_SPLIT=rows / cols forces one split (dev A/B, tests); the bits are the same.
 * The kernels and their order are the tensor path's (src/models/llama/model.ts and src/models/decoder/model.ts
 * block(): rmsNorm, linear on the stacked panels, narrow, rmsNorm per head, attendCached = rope + cache write +
 * attention, linear, add, then prefillSwigluMlp): zy_op_rmsnorm_serial, zy_pw_prepare_a_panels + zy_pw_gemm_rows
 * (per-element sums independent of the split), zy_rope_rows on zy_rope_table's values, zy_op_cast for an f16
 * cache, zy_op_attention, x + y — so the bits are the tensor path's.
 * Quantized layers (src ZY_PREFILL_QUANT: the four matrices in r16 layouts, native/quant_r16.c) take the same steps
 * with each product run as the tensor path's quantLinear runs it — the thread's rows quantized (zy_quant_act_fill),
 * then the same kernels over every weight row (zy_quant_rows_into; per-row results independent of the row split) —
 * and the MLP sublayer here (norm, gate|up, SwiGLU on whole rows, down, add): the tensor path's bits. This is what
 * llama.cpp's graph does for a prompt and the tensor path did not: each thread quantizes only its own activations (the
 * tensor path quantized all rows on the calling thread between dispatches) and the threads meet twice a layer
 * instead of about fifteen times (each meeting a spin, then sched_yield, on a shared machine).
 * Leaves out (returns 1, the caller keeps the tensor path): what prefill_mlp.c leaves out (1 thread, fewer than 48
 * rows per thread, F % 16 != 0, products the tensor path would not run on panels, no AVX-512), q/k/v biases,
 * q8_0 caches, attention other than causal over one sequence's cache. */
#include "prefill_layer.h"
#include "gemm.h"
#include "ops_common.h"
#include "ops_kernels.h"
#include "prefill_mlp.h"
#include "quant.h"
#include "zy_pool.h"
#include "zy_scratch.h"
#include "zy_spin_barrier.h"
#include <immintrin.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MIN_ROWS_PER_THREAD 48
/* A thread's rows go through in chunks of at most this many (bounded scratch for long prompts, as prefill_mlp.c). */
#define CHUNK_ROWS 512
/* Panel layers of at most this many rows take the column split (cols_stage); more rows amortise each thread's
 * widening of a weight block over enough row tiles, and the shared activations crowd L2 (measured 0.8-0.94x at
 * 256-512 rows, BENCHMARKS.md "helper f16n"). */
#define COLS_MAX_ROWS 160
/* The column split's threads meet at 8 barriers a layer where the row split's meet at 2 joins, so while other
 * processes hold the cores (a thread descheduled for a time slice) it loses (measured 0.82× CPU at 110M pp128
 * with two other busy processes on 2 cores). As decode_layer.c does for its rows path: a call at which thread 0
 * yielded at more than a quarter of its barriers is a strike; after COLS_LATE_CALLS strikes in a row the next
 * COLS_PAUSE calls take the row split, then the column split is tried again. */
#define COLS_LATE_CALLS 2
#define COLS_PAUSE 8
static _Atomic int cols_strikes, cols_paused;

/* The column split's buffers, every row of the prompt (the calling thread's, for the whole call): h [m, d],
 * rstd [m · max(1, nh)], rounded / packed activations of up to the widest product input, y [m, d] (o and down
 * products), wide [m, max(q|k|v width, 2f)] (q|k|v and gate|up products), s [m, f] (SwiGLU). */
typedef struct { float *h, *rstd, *rounded, *packed, *y, *wide, *s; int64_t rstd_per_row; } shared_rows;

typedef struct {
  const zy_prefill_layer_args *L;     /* the layer of step A (qkv_rows) */
  const zy_prefill_layer_args *prev;  /* the layer of step C (out_rows) */
  float *x, *q, *att; /* x [m, d]; q, att [m, nh·dh] */
  int64_t m;
  const uint8_t *plans_L, *plans_prev; /* ZY_PREFILL_QUANT: the four products' plans (qkv, o, gu, down) of L / prev */
  _Atomic int failed;
  int cols; /* panel layers of a short prompt: the products split by weight columns (shared, below) */
  shared_rows sh;
  spin_barrier bar;
  int barriers, late; /* thread 0's barriers in this call, and those at which it had to yield */
} layer_ctx;

/* Per thread: h, rstd, rounded, packed, qkv (step A) / y (step C). */
static _Thread_local void *rows_buf;
static _Thread_local size_t rows_bytes;
/* The calling thread's q, att and lse for the whole call. */
static _Thread_local void *call_buf;
static _Thread_local size_t call_bytes;

static size_t floats_bytes(int64_t n) { return (size_t)((n + 15) / 16 * 16) * 4; }

/* rounded/packed: the panels' activations; qact: quantized activations (ZY_PREFILL_QUANT); s: SwiGLU's [mt, f]
 * (ZY_PREFILL_QUANT: its MLP runs here, not in prefill_mlp.c). */
typedef struct { float *h, *rstd, *rounded, *packed, *out, *s; void *qact; } rows_scratch;

static size_t bytes64(size_t n) { return (n + 63) / 64 * 64; }

/* Activation bytes of the layer's widest quantized product input for mt rows. */
static size_t qact_bytes(const zy_prefill_layer_args *L, int64_t mt) {
  const int64_t qd = L->nh * L->dh;
  const size_t b[4] = {zy_quant_act_bytes(L->qkv_elem, L->d, mt), zy_quant_act_bytes(L->o_elem, qd, mt),
                       zy_quant_act_bytes(L->gu_elem, L->d, mt), zy_quant_act_bytes(L->down_elem, L->f, mt)};
  size_t most = 0;
  for (int i = 0; i < 4; i++) most = b[i] > most ? b[i] : most;
  return bytes64(most);
}

/* Scratch for mt rows: h [mt, d], rstd [mt · max(1, nh)], out [mt, max(q|k|v width, d)]; panels: rounded/packed for
 * inputs of up to max(d, nh·dh) columns; quantized: out also [mt, 2f], s [mt, f] and the quantized activations. */
static int scratch(const zy_prefill_layer_args *L, int64_t mt, rows_scratch *s) {
  const int quant = L->src == ZY_PREFILL_QUANT;
  const int64_t qd = L->nh * L->dh, nqkv = qd + 2 * L->nkv * L->dh, widest = L->d > qd ? L->d : qd;
  int64_t outw = nqkv > L->d ? nqkv : L->d;
  if (quant && 2 * L->f > outw) outw = 2 * L->f;
  const int64_t nr = mt * (L->nh > 1 ? L->nh : 1);
  const size_t b_h = floats_bytes(mt * L->d), b_rstd = floats_bytes(nr), b_round = quant ? 0 : floats_bytes(mt * widest),
               b_pack = quant ? 0 : bytes64(zy_pw_packed_a_bytes(mt, widest)), b_out = floats_bytes(mt * outw),
               b_s = quant ? floats_bytes(mt * L->f) : 0, b_q = quant ? qact_bytes(L, mt) : 0;
  char *buf = (char *)zy_grow(&rows_buf, &rows_bytes, b_h + b_rstd + b_round + b_pack + b_out + b_s + b_q);
  if (!buf) return -1;
  s->h = (float *)buf, s->rstd = (float *)(buf + b_h), s->rounded = (float *)(buf + b_h + b_rstd);
  s->packed = (float *)(buf + b_h + b_rstd + b_round), s->out = (float *)(buf + b_h + b_rstd + b_round + b_pack);
  s->s = (float *)(buf + b_h + b_rstd + b_round + b_pack + b_out);
  s->qact = buf + b_h + b_rstd + b_round + b_pack + b_out + b_s;
  return 0;
}

/* out [mt, n] = in [mt, k] · Wᵀ for one of the layer's matrices (w, elem): on packed panels (the activations rounded
 * and packed into s), or quantized (the activations quantized into s->qact, then plan's kernels). */
static void product(const zy_prefill_layer_args *L, const rows_scratch *s, const void *w, int elem, const uint8_t *plan,
                    const float *in, int64_t mt, int64_t k, int64_t n, float *out) {
  if (L->src == ZY_PREFILL_QUANT) {
    zy_quant_act_fill(elem, k, in, mt, s->qact);
    zy_quant_rows_into(plan, s->qact, mt, out, 0, n);
    return;
  }
  const int64_t mr = zy_pw_prepare_panel_rows(), panels = (mt + mr - 1) / mr;
  zy_pw_prepare_a_panels(L->src, in, mt, k, s->rounded, s->packed, 0, panels);
  zy_pw_gemm_rows(s->packed, mt, k, w, elem, n, 0, n, out, n);
}

/* Plan i of a layer's four (qkv, o, gu, down) in a plans block. */
static const uint8_t *plan_of(const uint8_t *plans, int i) { return plans ? plans + (size_t)i * zy_quant_rows_plan_bytes() : NULL; }

static void qkv_finish(const layer_ctx *c, float *qkv, float *rstd, int64_t i0, int64_t mt);

/* Step A for rows [i0, i0 + mt): norm, q/k/v, head norms, RoPE; q into c->q, k and v into the caches. */
static int qkv_rows(const layer_ctx *c, int64_t i0, int64_t mt) {
  const zy_prefill_layer_args *L = c->L;
  const int64_t d = L->d, nqkv = L->nh * L->dh + 2 * L->nkv * L->dh;
  rows_scratch s;
  if (scratch(L, mt, &s) != 0) return -1;
  zy_op_rmsnorm_serial(c->x + i0 * d, L->attn_norm, s.h, s.rstd, mt, d, L->eps);
  float *qkv = s.out;
  product(L, &s, L->qkv, L->qkv_elem, plan_of(c->plans_L, 0), s.h, mt, d, nqkv, qkv);
  qkv_finish(c, qkv, s.rstd, i0, mt);
  return 0;
}

/* Rows [i0, i0 + mt) of step A after the product (qkv [mt, q|k|v width]): head norms, RoPE; q into c->q, k and v
 * into the caches. */
static void qkv_finish(const layer_ctx *c, float *qkv, float *rstd, int64_t i0, int64_t mt) {
  const zy_prefill_layer_args *L = c->L;
  const int64_t dh = L->dh, qd = L->nh * dh, kd = L->nkv * dh, nqkv = qd + 2 * kd;
  for (int64_t r = 0; r < mt; r++) {
    float *row = qkv + r * nqkv, *q = c->q + (i0 + r) * qd, *k = row + qd, *v = row + qd + kd;
    memcpy(q, row, (size_t)qd * sizeof(float));
    if (L->q_norm) {
      zy_op_rmsnorm_serial(q, L->q_norm, q, rstd, L->nh, dh, L->eps);
      zy_op_rmsnorm_serial(k, L->k_norm, k, rstd, L->nkv, dh, L->eps);
    }
    const float *cs = L->rope + (i0 + r) * 2 * L->half;
    zy_rope_rows(q, 1, L->nh, dh, L->half, cs, 0, L->interleaved);
    zy_rope_rows(k, 1, L->nkv, dh, L->half, cs, 0, L->interleaved);
    const int64_t at = (L->pos0 + i0 + r) * kd;
    if (L->kv_type == ZY_KV_F16) {
      zy_op_cast(k, ZY_F32, (uint16_t *)L->k_cache + at, ZY_F16, kd); /* the tensor path's cast (serial) */
      zy_op_cast(v, ZY_F32, (uint16_t *)L->v_cache + at, ZY_F16, kd);
    } else {
      memcpy((float *)L->k_cache + at, k, (size_t)kd * sizeof(float));
      memcpy((float *)L->v_cache + at, v, (size_t)kd * sizeof(float));
    }
  }
}

/* Step C for rows [i0, i0 + mt) of layer c->prev: x += att·Woᵀ, then the MLP sublayer. */
static int out_rows(const layer_ctx *c, int64_t i0, int64_t mt) {
  const zy_prefill_layer_args *L = c->prev;
  const int64_t d = L->d, qd = L->nh * L->dh;
  rows_scratch s;
  if (scratch(L, mt, &s) != 0) return -1;
  float *y = s.out, *x = c->x + i0 * d;
  product(L, &s, L->o, L->o_elem, plan_of(c->plans_prev, 1), c->att + i0 * qd, mt, qd, d, y);
  for (int64_t i = 0; i < mt * d; i++) x[i] = x[i] + y[i];
  if (L->src != ZY_PREFILL_QUANT)
    return zy_prefill_mlp_chunk(x, mt, d, L->f, L->ffn_norm, L->eps, L->src, L->gu, L->gu_elem, L->down, L->down_elem);
  /* prefill_mlp.c's steps on quantized products (the tensor path: rmsNorm, quantLinear, narrow + swiglu,
   * quantLinear, add) */
  const int64_t f = L->f;
  zy_op_rmsnorm_serial(x, L->ffn_norm, s.h, s.rstd, mt, d, L->eps);
  float *gu = s.out;
  product(L, &s, L->gu, L->gu_elem, plan_of(c->plans_prev, 2), s.h, mt, d, 2 * f, gu);
  const int isa = zy_isa_level();
  for (int64_t r = 0; r < mt; r++) zy_swiglu_vec(isa, gu + r * 2 * f, gu + r * 2 * f + f, s.s + r * f, f);
  y = s.h; /* h is no longer read */
  product(L, &s, L->down, L->down_elem, plan_of(c->plans_prev, 3), s.s, mt, f, d, y);
  for (int64_t i = 0; i < mt * d; i++) x[i] = x[i] + y[i];
  return 0;
}

/* Step C of layer c->prev (if any), then step A of layer c->L (if any), on the same rows. */
static int stage_rows(const layer_ctx *c, int64_t i0, int64_t mt) {
  if (c->prev && out_rows(c, i0, mt) != 0) return -1;
  return c->L ? qkv_rows(c, i0, mt) : 0;
}

/* The column split (panel layers, a prompt of at most COLS_MAX_ROWS rows): thread t of T packs its whole row panels
 * [q0, q1) of the activations into the shared block, then, after every thread has, multiplies every row by its
 * share of the weight panels (out [m, n]), so each weight block is widened once a pass instead of once per thread,
 * and the row tiles cover the whole prompt (128 rows: ten 12-row tiles and one of 8, not five and one of 4 a
 * thread). Rows are the threads' again for everything between products. Each element's sum is the one the row split
 * computes (zy_pw_gemm_rows: independent of which rows or columns a call covers). Two barriers a product. */
static void cols_product(layer_ctx *c, int64_t t, int64_t q0, int64_t q1, const void *w, int elem, const float *in,
                         int64_t k, int64_t n, float *out) {
  const int64_t T = zy_threads(), P = (n + ZY_PW_NR - 1) / ZY_PW_NR;
  zy_pw_prepare_a_panels(c->L ? c->L->src : c->prev->src, in, c->m, k, c->sh.rounded, c->sh.packed, q0, q1);
  int late = barrier_wait(&c->bar);
  zy_pw_gemm_rows(c->sh.packed, c->m, k, w, elem, n, P * t / T * ZY_PW_NR, P * (t + 1) / T * ZY_PW_NR, out, n);
  late += barrier_wait(&c->bar);
  if (t == 0) c->barriers += 2, c->late += late;
}

static void cols_stage(layer_ctx *c, int64_t t) {
  const int64_t T = zy_threads(), mr = zy_pw_prepare_panel_rows(), panels = (c->m + mr - 1) / mr;
  const int64_t q0 = panels * t / T, q1 = panels * (t + 1) / T, i0 = q0 * mr, i1 = q1 * mr < c->m ? q1 * mr : c->m;
  const int64_t mt = i1 > i0 ? i1 - i0 : 0;
  const shared_rows *sh = &c->sh;
  float *rstd = sh->rstd + i0 * sh->rstd_per_row;
  if (c->prev) { /* step C: x += att·Woᵀ, then the MLP sublayer (prefill_mlp.c's steps) */
    const zy_prefill_layer_args *L = c->prev;
    const int64_t d = L->d, f = L->f, qd = L->nh * L->dh;
    float *x = c->x + i0 * d, *y = sh->y + i0 * d;
    cols_product(c, t, q0, q1, L->o, L->o_elem, c->att, qd, d, sh->y);
    for (int64_t i = 0; i < mt * d; i++) x[i] = x[i] + y[i];
    zy_op_rmsnorm_serial(x, L->ffn_norm, sh->h + i0 * d, rstd, mt, d, L->eps);
    cols_product(c, t, q0, q1, L->gu, L->gu_elem, sh->h, d, 2 * f, sh->wide);
    const int isa = zy_isa_level();
    for (int64_t r = i0; r < i1; r++) zy_swiglu_vec(isa, sh->wide + r * 2 * f, sh->wide + r * 2 * f + f, sh->s + r * f, f);
    cols_product(c, t, q0, q1, L->down, L->down_elem, sh->s, f, d, sh->y);
    for (int64_t i = 0; i < mt * d; i++) x[i] = x[i] + y[i];
  }
  if (c->L) { /* step A */
    const zy_prefill_layer_args *L = c->L;
    const int64_t d = L->d, nqkv = L->nh * L->dh + 2 * L->nkv * L->dh;
    zy_op_rmsnorm_serial(c->x + i0 * d, L->attn_norm, sh->h + i0 * d, rstd, mt, d, L->eps);
    cols_product(c, t, q0, q1, L->qkv, L->qkv_elem, sh->h, d, nqkv, sh->wide);
    qkv_finish(c, sh->wide + i0 * nqkv, rstd, i0, mt);
  }
}

/* Thread t of T: its contiguous share of the rows, CHUNK_ROWS at a time, through stage_rows (or cols_stage). */
static void stage_task(void *p, int64_t t, int64_t t1, int ti) {
  (void)t1; (void)ti;
  layer_ctx *c = p;
  if (c->cols) {
    cols_stage(c, t);
    return;
  }
  const int64_t T = zy_threads(), i0 = c->m * t / T, i1 = c->m * (t + 1) / T;
  for (int64_t r = i0; r < i1; r += CHUNK_ROWS)
    if (stage_rows(c, r, (r + CHUNK_ROWS < i1 ? r + CHUNK_ROWS : i1) - r) != 0) {
      atomic_store(&c->failed, 1);
      return;
    }
}

/* A quantized layer's products: r16 matrices (whose rows are multiples of 16 by construction), a 2+ thread pool
 * and at least MIN_ROWS_PER_THREAD rows a thread, F % 16 == 0 (SwiGLU on whole rows without a scalar tail). */
static int quant_applies(const zy_prefill_layer_args *L, int64_t m) {
  const int T = zy_threads();
  return T >= 2 && m >= (int64_t)MIN_ROWS_PER_THREAD * T && L->f % 16 == 0 && zy_qtype_is_r16(L->qkv_elem) &&
         zy_qtype_is_r16(L->o_elem) && zy_qtype_is_r16(L->gu_elem) && zy_qtype_is_r16(L->down_elem);
}

int zy_prefill_layer_applies(const zy_prefill_layer_args *L, int64_t m) {
  const int64_t qd = L->nh * L->dh, kd = L->nkv * L->dh;
  if (L->src == ZY_PREFILL_QUANT)
    return quant_applies(L, m) && L->nh > 0 && L->nkv > 0 && L->nh % L->nkv == 0 && L->half > 0 && 2 * L->half <= L->dh &&
           (L->kv_type == ZY_KV_F32 || L->kv_type == ZY_KV_F16) && (L->q_norm == NULL) == (L->k_norm == NULL) &&
           L->pos0 >= 0 && L->pos0 + m <= L->cap;
  return zy_prefill_mlp_applies(L->src, m, L->d, L->f) && L->nh > 0 && L->nkv > 0 && L->nh % L->nkv == 0 &&
         L->half > 0 && 2 * L->half <= L->dh && (L->kv_type == ZY_KV_F32 || L->kv_type == ZY_KV_F16) &&
         (L->q_norm == NULL) == (L->k_norm == NULL) && L->pos0 >= 0 && L->pos0 + m <= L->cap &&
         zy_pw_replaces_quant(L->src, m, qd + 2 * kd, L->d) && zy_pw_replaces_quant(L->src, m, L->d, qd);
}

int zy_prefill_stack(const zy_prefill_layer_args *layers, int64_t n, float *x, int64_t m) {
  if (n <= 0) return 1;
  int64_t qd = 0;
  for (int64_t l = 0; l < n; l++) {
    if (!zy_prefill_layer_applies(&layers[l], m) || layers[l].d != layers[0].d) return 1;
    if (layers[l].nh * layers[l].dh > qd) qd = layers[l].nh * layers[l].dh;
  }
  int64_t most_heads = 0;
  for (int64_t l = 0; l < n; l++) most_heads = layers[l].nh > most_heads ? layers[l].nh : most_heads;
  /* quantized layers: four product plans each, made here (zy_quant_rows_plan reads the tuning table: not inside a
   * pool task) */
  const size_t pb = zy_quant_rows_plan_bytes(), b_q = floats_bytes(m * qd), b_lse = floats_bytes(most_heads * m);
  size_t b_plans = 0;
  for (int64_t l = 0; l < n; l++) b_plans += layers[l].src == ZY_PREFILL_QUANT ? 4 * pb : 0;
  /* the column split: every layer on panels, few enough rows that each thread's share leaves its widened weight
   * blocks poorly amortised, and not paused (cols_paused); ZHIYU_PREFILL_SPLIT=rows / cols forces one (dev A/B) */
  const char *split = getenv("ZHIYU_PREFILL_SPLIT");
  const int forced = split && strcmp(split, "cols") == 0;
  int cols = forced || (m <= COLS_MAX_ROWS && !(split && strcmp(split, "rows") == 0));
  int64_t most_f = 0, most_in = 0, most_wide = 0;
  for (int64_t l = 0; l < n; l++) {
    const zy_prefill_layer_args *L = &layers[l];
    const int64_t lqd = L->nh * L->dh, nqkv = lqd + 2 * L->nkv * L->dh;
    cols = cols && L->src != ZY_PREFILL_QUANT;
    most_f = L->f > most_f ? L->f : most_f;
    most_in = L->d > most_in ? L->d : most_in, most_in = lqd > most_in ? lqd : most_in, most_in = L->f > most_in ? L->f : most_in;
    most_wide = nqkv > most_wide ? nqkv : most_wide, most_wide = 2 * L->f > most_wide ? 2 * L->f : most_wide;
  }
  if (cols && !forced && atomic_load_explicit(&cols_paused, memory_order_relaxed) > 0) {
    atomic_fetch_sub_explicit(&cols_paused, 1, memory_order_relaxed);
    cols = 0;
  }
  const int64_t d = layers[0].d, rstd_per_row = most_heads > 1 ? most_heads : 1;
  const size_t b_h = floats_bytes(m * d), b_rstd = floats_bytes(m * rstd_per_row), b_round = floats_bytes(m * most_in),
               b_pack = bytes64(zy_pw_packed_a_bytes(m, most_in)), b_wide = floats_bytes(m * most_wide),
               b_s = floats_bytes(m * most_f),
               b_shared = cols ? 2 * b_h + b_rstd + b_round + b_pack + b_wide + b_s : 0;
  char *buf = (char *)zy_grow(&call_buf, &call_bytes, 2 * b_q + b_lse + bytes64(b_plans) + b_shared);
  if (!buf) return -1;
  uint8_t *plans = (uint8_t *)(buf + 2 * b_q + b_lse);
  char *shb = buf + 2 * b_q + b_lse + bytes64(b_plans);
  const shared_rows sh = {(float *)shb, (float *)(shb + b_h), (float *)(shb + b_h + b_rstd),
                          (float *)(shb + b_h + b_rstd + b_round), (float *)(shb + b_h + b_rstd + b_round + b_pack),
                          (float *)(shb + 2 * b_h + b_rstd + b_round + b_pack),
                          (float *)(shb + 2 * b_h + b_rstd + b_round + b_pack + b_wide), rstd_per_row};
  const uint8_t *plan_at[n > 0 ? n : 1];
  for (int64_t l = 0, at = 0; l < n; l++) {
    const zy_prefill_layer_args *L = &layers[l];
    plan_at[l] = NULL;
    if (L->src != ZY_PREFILL_QUANT) continue;
    const int64_t lqd = L->nh * L->dh, nqkv = lqd + 2 * L->nkv * L->dh;
    const zy_qmm_job jobs[4] = {{L->qkv, L->qkv_elem, nqkv, L->d, NULL, NULL, m}, {L->o, L->o_elem, L->d, lqd, NULL, NULL, m},
                                {L->gu, L->gu_elem, 2 * L->f, L->d, NULL, NULL, m}, {L->down, L->down_elem, L->d, L->f, NULL, NULL, m}};
    for (int i = 0; i < 4; i++)
      if (zy_quant_rows_plan(&jobs[i], plans + at + (size_t)i * pb) != 0) return 1;
    plan_at[l] = plans + at;
    at += 4 * (int64_t)pb;
  }
  layer_ctx c = {NULL, NULL, x, (float *)buf, (float *)(buf + b_q), m, NULL, NULL, 0, cols, sh, {0, 0, zy_threads()}, 0, 0};
  float *lse = (float *)(buf + 2 * b_q);
  for (int64_t l = 0; l <= n; l++) {
    c.prev = l > 0 ? &layers[l - 1] : NULL;
    c.L = l < n ? &layers[l] : NULL;
    c.plans_prev = l > 0 ? plan_at[l - 1] : NULL;
    c.plans_L = l < n ? plan_at[l] : NULL;
    zy_parallel_run(stage_task, &c); /* C of layer l − 1 and A of layer l, row by row: one dispatch */
    if (atomic_load(&c.failed)) return -1;
    if (l == n) break;
    const zy_prefill_layer_args *L = &layers[l];
    zy_op_attention(c.q, L->k_cache, L->v_cache, L->kv_type, c.att, lse, 1, m, L->pos0 + m, L->nh, L->nkv, L->dh,
                    L->scale, 1, L->cap);
  }
  if (c.cols && !forced) { /* late at more than a quarter of its barriers: a strike */
    if (4 * c.late <= c.barriers) atomic_store_explicit(&cols_strikes, 0, memory_order_relaxed);
    else if (atomic_fetch_add_explicit(&cols_strikes, 1, memory_order_relaxed) + 1 >= COLS_LATE_CALLS) {
      atomic_store_explicit(&cols_strikes, 0, memory_order_relaxed);
      atomic_store_explicit(&cols_paused, COLS_PAUSE, memory_order_relaxed);
    }
  }
  return 0;
}

int zy_prefill_layer(const zy_prefill_layer_args *L, float *x, int64_t m) { return zy_prefill_stack(L, 1, x, m); }
