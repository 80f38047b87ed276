/* A decoder prompt's whole pre-norm layer in one native call on weights packed once into GEMM panels:
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
 * The kernels and their order are the tensor path's (src/models/llama/model.ts and src/models/decoder/model.ts
 * block(): rmsNorm, linear on the stacked panels, narrow, rmsNorm per head, attendCached = rope + cache write +
 * attention, linear, add, then prefillSwigluMlp): zy_op_rmsnorm_serial, zy_pw_prepare_a_panels + zy_pw_gemm_rows
 * (per-element sums independent of the split), zy_rope_rows on zy_rope_table's values, zy_op_cast for an f16
 * cache, zy_op_attention, x + y — so the bits are the tensor path's.
 * Leaves out (returns 1, the caller keeps the tensor path): what prefill_mlp.c leaves out (1 thread, fewer than 48
 * rows per thread, F % 16 != 0, products the tensor path would not run on panels, no AVX-512), q/k/v biases,
 * q8_0 caches, attention other than causal over one sequence's cache. */
#include "prefill_layer.h"
#include "gemm.h"
#include "ops_common.h"
#include "ops_kernels.h"
#include "prefill_mlp.h"
#include "zy_pool.h"
#include "zy_scratch.h"
#include <stdatomic.h>
#include <string.h>

#define MIN_ROWS_PER_THREAD 48
/* A thread's rows go through in chunks of at most this many (bounded scratch for long prompts, as prefill_mlp.c). */
#define CHUNK_ROWS 512

typedef struct {
  const zy_prefill_layer_args *L;     /* the layer of step A (qkv_rows) */
  const zy_prefill_layer_args *prev;  /* the layer of step C (out_rows) */
  float *x, *q, *att; /* x [m, d]; q, att [m, nh·dh] */
  int64_t m;
  _Atomic int failed;
} layer_ctx;

/* Per thread: h, rstd, rounded, packed, qkv (step A) / y (step C). */
static _Thread_local void *rows_buf;
static _Thread_local size_t rows_bytes;
/* The calling thread's q, att and lse for the whole call. */
static _Thread_local void *call_buf;
static _Thread_local size_t call_bytes;

static size_t floats_bytes(int64_t n) { return (size_t)((n + 15) / 16 * 16) * 4; }

typedef struct { float *h, *rstd, *rounded, *packed, *out; } rows_scratch;

/* Scratch for mt rows: h [mt, d], rstd [mt · max(1, nh)], rounded/packed for inputs of up to max(d, nh·dh)
 * columns, out [mt, max(q|k|v width, d)]. */
static int scratch(const zy_prefill_layer_args *L, int64_t mt, rows_scratch *s) {
  const int64_t qd = L->nh * L->dh, nqkv = qd + 2 * L->nkv * L->dh, widest = L->d > qd ? L->d : qd;
  const int64_t outw = nqkv > L->d ? nqkv : L->d, nr = mt * (L->nh > 1 ? L->nh : 1);
  const size_t b_h = floats_bytes(mt * L->d), b_rstd = floats_bytes(nr), b_round = floats_bytes(mt * widest),
               b_pack = (zy_pw_packed_a_bytes(mt, widest) + 63) / 64 * 64;
  char *buf = (char *)zy_grow(&rows_buf, &rows_bytes, b_h + b_rstd + b_round + b_pack + floats_bytes(mt * outw));
  if (!buf) return -1;
  s->h = (float *)buf, s->rstd = (float *)(buf + b_h), s->rounded = (float *)(buf + b_h + b_rstd);
  s->packed = (float *)(buf + b_h + b_rstd + b_round), s->out = (float *)(buf + b_h + b_rstd + b_round + b_pack);
  return 0;
}

/* Step A for rows [i0, i0 + mt): norm, q/k/v, head norms, RoPE; q into c->q, k and v into the caches. */
static int qkv_rows(const layer_ctx *c, int64_t i0, int64_t mt) {
  const zy_prefill_layer_args *L = c->L;
  const int64_t d = L->d, dh = L->dh, qd = L->nh * dh, kd = L->nkv * dh, nqkv = qd + 2 * kd;
  rows_scratch s;
  if (scratch(L, mt, &s) != 0) return -1;
  const int64_t mr = zy_pw_prepare_panel_rows(), panels = (mt + mr - 1) / mr;
  zy_op_rmsnorm_serial(c->x + i0 * d, L->attn_norm, s.h, s.rstd, mt, d, L->eps);
  zy_pw_prepare_a_panels(L->src, s.h, mt, d, s.rounded, s.packed, 0, panels);
  float *qkv = s.out;
  zy_pw_gemm_rows(s.packed, mt, d, L->qkv, L->qkv_elem, nqkv, 0, nqkv, qkv, nqkv);
  for (int64_t r = 0; r < mt; r++) {
    float *row = qkv + r * nqkv, *q = c->q + (i0 + r) * qd, *k = row + qd, *v = row + qd + kd;
    memcpy(q, row, (size_t)qd * sizeof(float));
    if (L->q_norm) {
      zy_op_rmsnorm_serial(q, L->q_norm, q, s.rstd, L->nh, dh, L->eps);
      zy_op_rmsnorm_serial(k, L->k_norm, k, s.rstd, L->nkv, dh, L->eps);
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
  return 0;
}

/* Step C for rows [i0, i0 + mt) of layer c->prev: x += att·Woᵀ, then the MLP sublayer. */
static int out_rows(const layer_ctx *c, int64_t i0, int64_t mt) {
  const zy_prefill_layer_args *L = c->prev;
  const int64_t d = L->d, qd = L->nh * L->dh;
  rows_scratch s;
  if (scratch(L, mt, &s) != 0) return -1;
  const int64_t mr = zy_pw_prepare_panel_rows(), panels = (mt + mr - 1) / mr;
  zy_pw_prepare_a_panels(L->src, c->att + i0 * qd, mt, qd, s.rounded, s.packed, 0, panels);
  float *y = s.out, *x = c->x + i0 * d;
  zy_pw_gemm_rows(s.packed, mt, qd, L->o, L->o_elem, d, 0, d, y, d);
  for (int64_t i = 0; i < mt * d; i++) x[i] = x[i] + y[i];
  return zy_prefill_mlp_chunk(x, mt, d, L->f, L->ffn_norm, L->eps, L->src, L->gu, L->gu_elem, L->down, L->down_elem);
}

/* Step C of layer c->prev (if any), then step A of layer c->L (if any), on the same rows. */
static int stage_rows(const layer_ctx *c, int64_t i0, int64_t mt) {
  if (c->prev && out_rows(c, i0, mt) != 0) return -1;
  return c->L ? qkv_rows(c, i0, mt) : 0;
}

/* Thread t of T: its contiguous share of the rows, CHUNK_ROWS at a time, through stage_rows. */
static void stage_task(void *p, int64_t t, int64_t t1, int ti) {
  (void)t1; (void)ti;
  layer_ctx *c = p;
  const int64_t T = zy_threads(), i0 = c->m * t / T, i1 = c->m * (t + 1) / T;
  for (int64_t r = i0; r < i1; r += CHUNK_ROWS)
    if (stage_rows(c, r, (r + CHUNK_ROWS < i1 ? r + CHUNK_ROWS : i1) - r) != 0) {
      atomic_store(&c->failed, 1);
      return;
    }
}

int zy_prefill_layer_applies(const zy_prefill_layer_args *L, int64_t m) {
  const int64_t qd = L->nh * L->dh, kd = L->nkv * L->dh;
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
  const size_t b_q = floats_bytes(m * qd);
  char *buf = (char *)zy_grow(&call_buf, &call_bytes, 2 * b_q + floats_bytes(most_heads * m));
  if (!buf) return -1;
  layer_ctx c = {NULL, NULL, x, (float *)buf, (float *)(buf + b_q), m, 0};
  float *lse = (float *)(buf + 2 * b_q);
  for (int64_t l = 0; l <= n; l++) {
    c.prev = l > 0 ? &layers[l - 1] : NULL;
    c.L = l < n ? &layers[l] : NULL;
    zy_parallel_run(stage_task, &c); /* C of layer l − 1 and A of layer l, row by row: one dispatch */
    if (atomic_load(&c.failed)) return -1;
    if (l == n) break;
    const zy_prefill_layer_args *L = &layers[l];
    zy_op_attention(c.q, L->k_cache, L->v_cache, L->kv_type, c.att, lse, 1, m, L->pos0 + m, L->nh, L->nkv, L->dh,
                    L->scale, 1, L->cap);
  }
  return 0;
}

int zy_prefill_layer(const zy_prefill_layer_args *L, float *x, int64_t m) { return zy_prefill_stack(L, 1, x, m); }
