/* One pre-norm decoder layer (RMSNorm, rotary grouped-query attention, SwiGLU MLP: the "decoder-layer-decode"
 * fused op of src/backend/backend.ts) for m sequences that each decode one token, in a single native call: the
 * same kernels, in the same order and on the same values, as the tensor path of the model that asks for it
 * (src/models/llama/model.ts: RMSNorm → fused q/k/v product (+ optional biases) → per sequence RoPE, cache
 * write and causal attention → o projection + residual → RMSNorm → fused gate/up product → SwiGLU → down projection + residual), so results are bit-identical
 * to it. What it saves is the JavaScript between ~15 kernel calls per layer (tensor objects, allocations, views),
 * which is a third of a 110M model's decode step.
 * The cache is f32 or f16 (written rounded to nearest even, read back exactly).
 * Also: per-head q/k RMSNorm (Qwen3) and a sparse MoE MLP (zy_decode_moe; the routing is the caller's; with
 * Qwen2-MoE's sigmoid-gated shared expert), which also runs alone over a prompt's rows (zy_moe_mlp).
 * Leaves out: prefill (several tokens per sequence), dense f32 weights (only encoded weights: GGUF block types,
 * f16, bf16), GPT-2, gradients. */
#include "decode_layer.h"
#include "gemm.h"
#include "ops_kernels.h"
#include "quant.h"
#include "zy_pool.h"
#include "zy_half.h"
#include "zy_scratch.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#pragma GCC optimize("fp-contract=off")

static int matvecs(const zy_decode_matrix *w, const float *x, float *out, int64_t m) {
  return zy_quant_matmul(w->data, w->type, w->rows, w->cols, x, out, m);
}

static zy_qmm_job job(const zy_decode_matrix *w, const float *x, float *out, int64_t m) {
  return (zy_qmm_job){w->data, w->type, w->rows, w->cols, x, out, m};
}

/* Per sequence: biases, RoPE at its position and the cache write (what attendCached does in the tensor layer
 * before its attention call). Runs inside pool tasks, so it calls only single-threaded kernels. */
typedef struct {
  const zy_decode_layer *L;
  const float *qs, *ks, *vs;
  int64_t q_stride, kv_stride;
  float *q, *k, *head_rstd; /* head_rstd: [m, n_head] scratch for the per-head norms */
  int failed;
} prepare_ctx;

static void prepare_task(void *p, int64_t i0, int64_t i1, int t) {
  (void)t;
  prepare_ctx *c = p;
  const zy_decode_layer *L = c->L;
  const int64_t hd = L->head_dim, qd = L->n_head * hd, kd = L->n_kv * hd;
  for (int64_t i = i0; i < i1; i++) {
    const float *qrow = c->qs + i * c->q_stride, *krow = c->ks + i * c->kv_stride, *vi = c->vs + i * c->kv_stride;
    float *qi = c->q + i * qd, *ki = c->k + i * kd;
    /* The TS path adds the biases to the q/k/v slices before RoPE (q + b, elementwise). */
    for (int64_t j = 0; j < qd; j++) qi[j] = L->bq ? qrow[j] + L->bq[j] : qrow[j];
    for (int64_t j = 0; j < kd; j++) ki[j] = L->bk ? krow[j] + L->bk[j] : krow[j];
    /* Qwen3: each head's q and k RMS-normalised (the tensor path's headNorm: rows of head_dim values) before RoPE. */
    float *rs = c->head_rstd + i * L->n_head;
    if (L->q_norm) zy_op_rmsnorm_serial(qi, L->q_norm, qi, rs, L->n_head, hd, L->eps);
    if (L->k_norm) zy_op_rmsnorm_serial(ki, L->k_norm, ki, rs, L->n_kv, hd, L->eps);
    const int64_t pos = L->pos[i];
    if (L->rot_dim > 0 &&
        (zy_op_rope(qi, 1, 1, L->n_head, hd, L->rot_dim, pos, L->freqs, L->rope_interleaved, 0) != 0 ||
         zy_op_rope(ki, 1, 1, L->n_kv, hd, L->rot_dim, pos, L->freqs, L->rope_interleaved, 0) != 0)) {
      c->failed = 1;
      return;
    }
    if (L->kv_type == ZY_KV_Q8_0) { /* quantized as the backend's quantize op writes a q8_0 cache (ggml's _ref) */
      const size_t rb = (size_t)(kd / 32 * 34);
      float vb[L->bv ? kd : 1]; /* v + bias (Qwen2), staged */
      if (L->bv)
        for (int64_t j = 0; j < kd; j++) vb[j] = vi[j] + L->bv[j];
      zy_quantize(ki, ZY_QT_Q8_0, (uint8_t *)L->k_cache[i] + pos * rb, kd);
      zy_quantize(L->bv ? vb : vi, ZY_QT_Q8_0, (uint8_t *)L->v_cache[i] + pos * rb, kd);
    } else if (L->kv_type == ZY_KV_F16) { /* rounded to nearest even, as the backend's cast op writes an f16 cache */
      uint16_t *kc = (uint16_t *)L->k_cache[i] + pos * kd, *vc = (uint16_t *)L->v_cache[i] + pos * kd;
      for (int64_t j = 0; j < kd; j++) kc[j] = zy_f32_to_f16(ki[j]);
      for (int64_t j = 0; j < kd; j++) vc[j] = zy_f32_to_f16(L->bv ? vi[j] + L->bv[j] : vi[j]);
    } else {
      memcpy((float *)L->k_cache[i] + pos * kd, ki, (size_t)kd * sizeof(float));
      float *vc = (float *)L->v_cache[i] + pos * kd;
      for (int64_t j = 0; j < kd; j++) vc[j] = L->bv ? vi[j] + L->bv[j] : vi[j];
    }
  }
}

/* Grow-only scratch of the MoE MLP and of the layer (a prompt's MoE scratch is megabytes: a malloc per layer would
 * map and fault in fresh pages every call). One call at a time, like the kernels' own scratch. */
static void *moe_scratch = NULL, *layer_scratch = NULL, *shared_scratch = NULL;
static size_t moe_scratch_size = 0, layer_scratch_size = 0, shared_scratch_size = 0;

/* o [m, D] += sigmoid(gate_inp · h) · down(silu(gate·h) ⊙ up·h): the shared expert, as src/models/moe.ts's
 * addSharedExpert computes it (the same products; the sigmoid in double, rounded to f32; f32 product, then sum). */
static int shared_expert(const zy_decode_moe *M, int64_t m, int64_t D, const float *h, float *o) {
  const int64_t F = M->shared_ffn;
  float *buf = zy_grow(&shared_scratch, &shared_scratch_size, (size_t)(3 * m * F + m * D + m) * sizeof(float));
  if (!buf) return -1;
  float *g = buf, *u = g + m * F, *act = u + m * F, *y = act + m * F, *z = y + m * D;
  const zy_qmm_job gu[2] = {job(&M->shared_gate, h, g, m), job(&M->shared_up, h, u, m)};
  int rc = zy_quant_matmul_multi(gu, 2);
  if (rc != 0) return rc;
  zy_op_swiglu(g, u, act, m * F);
  if ((rc = matvecs(&M->shared_down, act, y, m)) != 0) return rc;
  if (M->shared_gate_inp.data) {
    if ((rc = matvecs(&M->shared_gate_inp, h, z, m)) != 0) return rc;
  } else {
    zy_sgemm_linear_rows_st(m, D, h, M->shared_gate_inp_f32, 0, 1, z, 1);
  }
  for (int64_t r = 0; r < m; r++) {
    const float gate = (float)(1.0 / (1.0 + exp(-(double)z[r])));
    float *out = o + r * D;
    const float *yr = y + r * D;
    for (int64_t j = 0; j < D; j++) {
      const float p = gate * yr[j];
      out[j] = out[j] + p;
    }
  }
  return 0;
}

int zy_moe_mlp(const zy_decode_moe *M, int64_t m, int64_t D, const float *h, float *o) {
  const int64_t E = M->n_experts, K = M->top_k, F = M->ffn;
  /* scratch: logits [m, E], weights [m, K], then per routed row (m·K of them, grouped by expert) xe [D], g/u/act [F]
   * and y [D]; then experts [m, K] and rows [m·K] (int32), first and count [E] (int64) */
  const int64_t R = m * K;
  const size_t floats = (size_t)(m * E + R + R * D + 3 * R * F + R * D + 1) & ~(size_t)1; /* even: int64s follow */
  float *buf = zy_grow(&moe_scratch, &moe_scratch_size, floats * sizeof(float) + (size_t)(2 * R) * sizeof(int32_t) + (size_t)(2 * E) * sizeof(int64_t));
  if (!buf) return -1;
  float *logits = buf, *wts = logits + m * E, *xe = wts + R, *g = xe + R * D, *u = g + R * F, *act = u + R * F;
  float *y = act + R * F;
  int32_t *experts = (int32_t *)(void *)(buf + floats), *rows = experts + R;
  int64_t *first = (int64_t *)(void *)(rows + R), *count = first + E;
  int rc = matvecs(&M->router, h, logits, m);
  if (rc == 0 && M->route(M->route_ctx, logits, m, experts, wts) != 0) rc = -2;
  memset(o, 0, (size_t)(m * D) * sizeof(float));
  if (rc != 0) goto out;
  /* Each routed expert's rows (token t's j-th choice as t·K + j), token order within an expert; then every routed
   * expert's gate and up products in one dispatch, SwiGLU, and every down product in another. */
  int64_t at = 0, n_routed = 0;
  for (int64_t e = 0; e < E; e++) {
    first[e] = at;
    for (int64_t t = 0; t < m; t++)
      for (int64_t j = 0; j < K; j++)
        if (experts[t * K + j] == e) rows[at++] = (int32_t)(t * K + j);
    count[e] = at - first[e];
    if (count[e] > 0) n_routed++;
  }
  for (int64_t i = 0; i < at; i++) memcpy(xe + i * D, h + (rows[i] / K) * D, (size_t)D * sizeof(float));
  zy_qmm_job *jobs = malloc((size_t)(2 * n_routed) * sizeof(zy_qmm_job));
  if (!jobs) { rc = -1; goto out; }
  int nj = 0;
  for (int64_t e = 0; e < E; e++)
    if (count[e] > 0) {
      jobs[nj++] = job(&M->gate[e], xe + first[e] * D, g + first[e] * F, count[e]);
      jobs[nj++] = job(&M->up[e], xe + first[e] * D, u + first[e] * F, count[e]);
    }
  if ((rc = zy_quant_matmul_multi(jobs, nj)) == 0) {
    zy_op_swiglu(g, u, act, at * F);
    nj = 0;
    for (int64_t e = 0; e < E; e++)
      if (count[e] > 0) jobs[nj++] = job(&M->down[e], act + first[e] * F, y + first[e] * D, count[e]);
    rc = zy_quant_matmul_multi(jobs, nj);
  }
  free(jobs);
  /* In ascending expert order: f32 product, then f32 sum (no fused multiply-add: the reference rounds the product
   * first). */
  for (int64_t i = 0; i < at && rc == 0; i++) {
    float *out = o + (rows[i] / K) * D;
    const float wt = wts[rows[i]], *yi = y + i * D;
    for (int64_t j = 0; j < D; j++) {
      const float p = wt * yi[j];
      out[j] = out[j] + p;
    }
  }
  if (rc == 0 && M->shared_ffn > 0) rc = shared_expert(M, m, D, h, o);
out:
  return rc;
}

int zy_decoder_layer_decode(const zy_decode_layer *L, float *x) {
  const int64_t m = L->m, D = L->hidden, hd = L->head_dim;
  const int64_t qd = L->n_head * hd, kd = L->n_kv * hd, F = L->ffn, qkv_w = qd + 2 * kd;
  /* scratch: h [m, D], qkv [m, qkv_w], q [m, qd], k [m, kd], att [m, qd], lse [m, n_head], o [m, D],
   * gu [m, 2F], g [m, F], u [m, F], act [m, F], rstd [m], head_rstd [m, n_head]; then n_keys [m] (int64) */
  const size_t floats = (size_t)(m * D + m * qkv_w + m * qd + m * kd + m * qd + m * L->n_head + m * D + m * 2 * F + 3 * m * F + m +
                                 m * L->n_head);
  float *buf = zy_grow(&layer_scratch, &layer_scratch_size, floats * sizeof(float) + (size_t)m * sizeof(int64_t));
  if (!buf) return -1;
  float *h = buf, *qkv = h + m * D, *q = qkv + m * qkv_w, *k = q + m * qd, *att = k + m * kd, *lse = att + m * qd;
  int64_t *n_keys = (int64_t *)(void *)(buf + floats);
  float *o = lse + m * L->n_head, *gu = o + m * D, *g = gu + m * 2 * F, *u = g + m * F, *act = u + m * F, *rstd = act + m * F;
  float *head_rstd = rstd + m;
  int rc = 0;

  zy_op_rmsnorm(x, L->attn_norm, h, rstd, m, D, L->eps);
  /* q, k, v rows of sequence i at qs + i·q_stride etc.: slices of one fused product, or three products side by
   * side in the qkv buffer ([m, qd], [m, kd], [m, kd]). Each output element is the same dot product either way. */
  const float *qs, *ks, *vs;
  int64_t q_stride, kv_stride;
  if (L->qkv.data) {
    if ((rc = matvecs(&L->qkv, h, qkv, m)) != 0) goto done;
    qs = qkv, ks = qkv + qd, vs = qkv + qd + kd, q_stride = kv_stride = qkv_w;
  } else {
    float *qb = qkv, *kb = qb + m * qd, *vb = kb + m * kd;
    const zy_qmm_job qkv_jobs[3] = {job(&L->q, h, qb, m), job(&L->k, h, kb, m), job(&L->v, h, vb, m)};
    if ((rc = zy_quant_matmul_multi(qkv_jobs, 3)) != 0) goto done;
    qs = qb, ks = kb, vs = vb, q_stride = qd, kv_stride = kd;
  }
  prepare_ctx pc = {L, qs, ks, vs, q_stride, kv_stride, q, k, head_rstd, 0};
  /* Sequences in parallel when there are several (one alone stays on this thread). */
  if (m > 1) zy_parallel_for(m, 1, prepare_task, &pc);
  else prepare_task(&pc, 0, m, 0);
  if (pc.failed) { rc = -1; goto done; }
  /* Attention rows (sequence, head) over the threads: a single sequence at a long context splits by head. */
  for (int64_t i = 0; i < m; i++) n_keys[i] = L->pos[i] + 1;
  zy_op_attention_decode(m, q, (const void *const *)L->k_cache, (const void *const *)L->v_cache, L->kv_type, n_keys, att,
                         lse, L->n_head, L->n_kv, hd, L->attn_scale);
  if ((rc = matvecs(&L->o, att, o, m)) != 0) goto done;
  for (int64_t j = 0; j < m * D; j++) x[j] = x[j] + o[j];

  zy_op_rmsnorm(x, L->ffn_norm, h, rstd, m, D, L->eps);
  if (L->moe) {
    if ((rc = zy_moe_mlp(L->moe, m, D, h, o)) != 0) goto done;
  } else if (L->gate_up.data) {
    if ((rc = matvecs(&L->gate_up, h, gu, m)) != 0) goto done;
    if (m == 1) { /* one row: gate and up are already the two halves SwiGLU reads */
      g = gu, u = gu + F;
    } else {
      for (int64_t i = 0; i < m; i++) {
        memcpy(g + i * F, gu + i * 2 * F, (size_t)F * sizeof(float));
        memcpy(u + i * F, gu + i * 2 * F + F, (size_t)F * sizeof(float));
      }
    }
  } else {
    const zy_qmm_job gu_jobs[2] = {job(&L->gate, h, g, m), job(&L->up, h, u, m)};
    if ((rc = zy_quant_matmul_multi(gu_jobs, 2)) != 0) goto done;
  }
  if (!L->moe) {
    zy_op_swiglu(g, u, act, m * F);
    if ((rc = matvecs(&L->down, act, o, m)) != 0) goto done;
  }
  for (int64_t j = 0; j < m * D; j++) x[j] = x[j] + o[j];
done:
  return rc;
}

/* Grow-only scratch of the head: the normalised rows and their rstd. */
static void *head_scratch = NULL;
static size_t head_scratch_size = 0;

int zy_decoder_stack_decode(const zy_decode_layer *layers, int64_t n_layers, float *x, const zy_decode_head *head,
                            float *logits, int64_t *failed_layer) {
  for (int64_t l = 0; l < n_layers; l++) {
    const int rc = zy_decoder_layer_decode(&layers[l], x);
    if (rc != 0) {
      if (failed_layer) *failed_layer = l;
      return rc;
    }
  }
  if (!head || n_layers == 0) return 0;
  /* The tensor path's head: the rmsNorm op, then the product with the encoded matrix (zy_quant_matmul). */
  const int64_t m = layers[0].m, D = layers[0].hidden;
  float *h = zy_grow(&head_scratch, &head_scratch_size, (size_t)(m * D + m) * sizeof(float));
  int rc = h ? 0 : -1;
  if (rc == 0) {
    zy_op_rmsnorm(x, head->norm, h, h + m * D, m, D, head->eps);
    rc = zy_quant_matmul(head->w.data, head->w.type, head->w.rows, head->w.cols, h, logits, m);
  }
  if (rc != 0 && failed_layer) *failed_layer = n_layers;
  return rc;
}
