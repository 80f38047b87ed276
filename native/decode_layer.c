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
#include "ops_common.h"
#include "ops_kernels.h"
#include "quant.h"
#include "zy_pool.h"
#include "zy_half.h"
#include "zy_scratch.h"
#include <immintrin.h>
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
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

/* ---- the step's products split by rows inside one pool task per attention ----
 * Between two attention calls (zy_op_attention_decode: its own entry, its own threading) everything runs as one
 * zy_parallel_run: layer l−1's o product, residual, norm, gate/up, SwiGLU, down, residual, then layer l's norm and
 * q/k/v (or, after the last layer, the output norm and head). Each thread computes a fixed row range of every
 * product (whole 16-row groups) and the elementwise work on those rows, normalises and quantizes every activation
 * row into its own buffer (no barrier for that), and waits at a spin barrier only where the data force it: after
 * q/k/v (thread 0 then runs RoPE and the cache writes), after o and its residual, after SwiGLU, after down and its
 * residual. Each output element is the same kernel over the same inputs as in zy_decoder_layer_decode, so the same
 * bits. Leaves out: MoE layers, m ≥ 16 (f16 panel GEMMs), ffn not a multiple of 16, one thread (the loop above). */

typedef struct {
  _Atomic int count, phase;
  int n;
} spin_barrier;

/* Spins (pause, then yield: an oversubscribed machine must still let the late thread run) until all n arrived;
 * returns 1 when it had to yield (another thread was late: descheduled). */
static int barrier_wait(spin_barrier *b) {
  const int phase = atomic_load_explicit(&b->phase, memory_order_relaxed);
  if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == b->n - 1) {
    atomic_store_explicit(&b->count, 0, memory_order_relaxed);
    atomic_store_explicit(&b->phase, phase + 1, memory_order_release);
    return 0;
  }
  int spins = 0;
  while (atomic_load_explicit(&b->phase, memory_order_acquire) == phase)
    if (++spins < 2000) _mm_pause();
    else sched_yield();
  return spins >= 2000;
}

enum { P_Q, P_K, P_V, P_O, P_G, P_U, P_DOWN, PLANS_PER_LAYER }; /* P_Q: fused qkv or q; P_G: fused gate_up or gate */

typedef struct {
  const zy_decode_layer *layers;
  const zy_decode_head *head;
  int64_t n_layers, seg, m, D;
  float *x;
  int T, isa, failed, late; /* late: barriers at which thread 0 had to yield */
  spin_barrier bar;
  uint8_t *plans; /* (n_layers · PLANS_PER_LAYER + 1) × plan_bytes; the last is the head's */
  size_t plan_bytes;
  float *qkv, *q, *k, *att, *o, *gu, *act, *head_rstd; /* shared */
  uint8_t *mine;       /* per thread, thread_bytes apart: h [m, D], rstd [m], then three activation slots */
  size_t thread_bytes, h_bytes, slot_bytes;
} rows_ctx;

static const void *plan_of(const rows_ctx *c, int64_t l, int which) {
  return c->plans + (size_t)(l * PLANS_PER_LAYER + which) * c->plan_bytes;
}

/* Thread t's rows of a product with `rows` rows: whole 16-row groups (the SwiGLU vector kernel and the r16 kernels
 * see the same groups as over the whole range). */
static void rows_of(int64_t rows, int t, int T, int64_t *r0, int64_t *r1) {
  const int64_t units = (rows + 15) / 16, a = units * t / T * 16, b = units * (t + 1) / T * 16;
  *r0 = a < rows ? a : rows;
  *r1 = b < rows ? b : rows;
}

static void add_rows(float *x, const float *o, int64_t m, int64_t D, int64_t r0, int64_t r1) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t r = r0; r < r1; r++) x[i * D + r] = x[i * D + r] + o[i * D + r];
}

static void wait_all(rows_ctx *c, int t) {
  if (barrier_wait(&c->bar) && t == 0) c->late++;
}

static void rows_task(void *p, int64_t b, int64_t e, int t) {
  (void)b, (void)e;
  rows_ctx *c = p;
  const int T = c->T;
  const int64_t s = c->seg, m = c->m, D = c->D;
  uint8_t *mine = c->mine + (size_t)t * c->thread_bytes;
  float *h = (float *)(void *)mine, *rstd = h + m * D, *x = c->x;
  uint8_t *slot[3] = {mine + c->h_bytes, mine + c->h_bytes + c->slot_bytes, mine + c->h_bytes + 2 * c->slot_bytes};
  int64_t r0, r1;
  if (s > 0) { /* layer s−1 after its attention */
    const zy_decode_layer *L = &c->layers[s - 1];
    const int64_t F = L->ffn;
    zy_quant_act_fill(L->o.type, L->o.cols, c->att, m, slot[0]);
    rows_of(D, t, T, &r0, &r1);
    zy_quant_rows(plan_of(c, s - 1, P_O), slot[0], r0, r1);
    add_rows(x, c->o, m, D, r0, r1);
    wait_all(c, t);
    zy_op_rmsnorm_serial(x, L->ffn_norm, h, rstd, m, D, L->eps);
    int64_t f0, f1, gs;
    rows_of(F, t, T, &f0, &f1);
    const float *g = c->gu, *u;
    if (L->gate_up.data) {
      zy_quant_act_fill(L->gate_up.type, D, h, m, slot[0]);
      zy_quant_rows(plan_of(c, s - 1, P_G), slot[0], f0, f1);
      zy_quant_rows(plan_of(c, s - 1, P_G), slot[0], F + f0, F + f1);
      u = c->gu + F, gs = 2 * F;
    } else {
      zy_quant_act_fill(L->gate.type, D, h, m, slot[0]);
      if (L->up.type != L->gate.type) zy_quant_act_fill(L->up.type, D, h, m, slot[1]);
      zy_quant_rows(plan_of(c, s - 1, P_G), slot[0], f0, f1);
      zy_quant_rows(plan_of(c, s - 1, P_U), slot[L->up.type != L->gate.type], f0, f1);
      u = c->gu + m * F, gs = F;
    }
    for (int64_t i = 0; i < m && f1 > f0; i++) zy_swiglu_vec(c->isa, g + i * gs + f0, u + i * gs + f0, c->act + i * F + f0, f1 - f0);
    wait_all(c, t);
    zy_quant_act_fill(L->down.type, F, c->act, m, slot[0]);
    zy_quant_rows(plan_of(c, s - 1, P_DOWN), slot[0], r0, r1);
    add_rows(x, c->o, m, D, r0, r1);
    if (s == c->n_layers && !c->head) return;
    wait_all(c, t);
  }
  if (s == c->n_layers) { /* the output norm and head */
    const zy_decode_head *H = c->head;
    zy_op_rmsnorm_serial(x, H->norm, h, rstd, m, D, H->eps);
    zy_quant_act_fill(H->w.type, D, h, m, slot[0]);
    rows_of(H->w.rows, t, T, &r0, &r1);
    zy_quant_rows(plan_of(c, c->n_layers, 0), slot[0], r0, r1);
    return;
  }
  const zy_decode_layer *L = &c->layers[s];
  const int64_t hd = L->head_dim, qd = L->n_head * hd, kd = L->n_kv * hd;
  zy_op_rmsnorm_serial(x, L->attn_norm, h, rstd, m, D, L->eps);
  prepare_ctx pc = {L, c->qkv, c->qkv + qd, c->qkv + qd + kd, qd + 2 * kd, qd + 2 * kd, c->q, c->k, c->head_rstd, 0};
  if (L->qkv.data) {
    zy_quant_act_fill(L->qkv.type, D, h, m, slot[0]);
    rows_of(qd + 2 * kd, t, T, &r0, &r1);
    zy_quant_rows(plan_of(c, s, P_Q), slot[0], r0, r1);
  } else {
    const int types[3] = {L->q.type, L->k.type, L->v.type};
    const int64_t rows[3] = {qd, kd, kd};
    int in[3];
    for (int j = 0; j < 3; j++) {
      in[j] = j;
      for (int i = 0; i < j; i++)
        if (types[i] == types[j]) { in[j] = in[i]; break; }
      if (in[j] == j) zy_quant_act_fill(types[j], D, h, m, slot[j]);
      rows_of(rows[j], t, T, &r0, &r1);
      zy_quant_rows(plan_of(c, s, P_Q + j), slot[in[j]], r0, r1);
    }
    pc.qs = c->qkv, pc.ks = c->qkv + m * qd, pc.vs = c->qkv + m * (qd + kd), pc.q_stride = qd, pc.kv_stride = kd;
  }
  wait_all(c, t);
  if (t == 0) {
    prepare_task(&pc, 0, m, 0);
    if (pc.failed) c->failed = 1;
  }
}

static void *rows_scratch = NULL;
static size_t rows_scratch_size = 0;

/* The step on the rows path; 1 when it cannot take this step (the caller runs the loop instead), -1 when out of
 * memory or RoPE failed, else 2 + the barriers at which thread 0 had to yield. */
static int stack_rows(const zy_decode_layer *layers, int64_t n_layers, float *x, const zy_decode_head *head, float *logits,
                      int64_t *failed_layer) {
  const int T = zy_threads();
  const int64_t m = layers[0].m, D = layers[0].hidden;
  if (T < 2 || m >= 16) return 1;
  size_t slot = 0, shared = 0;
  const size_t plan_bytes = (zy_quant_rows_plan_bytes() + 63) & ~(size_t)63;
  for (int64_t l = 0; l < n_layers; l++) {
    const zy_decode_layer *L = &layers[l];
    if (L->moe || L->ffn % 16 != 0 || L->m != m) return 1;
    const int64_t qd = L->n_head * L->head_dim, kd = L->n_kv * L->head_dim, F = L->ffn;
    const zy_decode_matrix *in_d[5] = {&L->qkv, &L->q, &L->k, &L->v, L->gate_up.data ? &L->gate_up : &L->gate};
    for (int j = 0; j < 5; j++)
      if (in_d[j]->data && zy_quant_act_bytes(in_d[j]->type, D, m) > slot) slot = zy_quant_act_bytes(in_d[j]->type, D, m);
    if (!L->gate_up.data && zy_quant_act_bytes(L->up.type, D, m) > slot) slot = zy_quant_act_bytes(L->up.type, D, m);
    if (zy_quant_act_bytes(L->o.type, qd, m) > slot) slot = zy_quant_act_bytes(L->o.type, qd, m);
    if (zy_quant_act_bytes(L->down.type, F, m) > slot) slot = zy_quant_act_bytes(L->down.type, F, m);
    /* qkv, q, k, att, o, gu, act, head_rstd */
    const size_t need = (size_t)(m * (qd + 2 * kd) + m * qd + m * kd + m * qd + m * D + 2 * m * F + m * F + m * L->n_head);
    if (need > shared) shared = need;
  }
  if (head && zy_quant_act_bytes(head->w.type, D, m) > slot) slot = zy_quant_act_bytes(head->w.type, D, m);
  slot = (slot + 63) & ~(size_t)63;
  const size_t h_bytes = ((size_t)(m * D + m) * sizeof(float) + 63) & ~(size_t)63, thread_bytes = h_bytes + 3 * slot;
  const size_t n_plans = (size_t)(n_layers * PLANS_PER_LAYER + 1);
  const size_t shared_bytes = (shared * sizeof(float) + 63) & ~(size_t)63;
  uint8_t *buf = zy_grow(&rows_scratch, &rows_scratch_size, n_plans * plan_bytes + shared_bytes + (size_t)T * thread_bytes + (size_t)m * sizeof(int64_t));
  if (!buf) return -1;
  rows_ctx c = {layers, head, n_layers, 0, m, D, x, T, zy_isa_level(), 0, 0, {0, 0, T}, buf, plan_bytes, NULL, NULL, NULL, NULL, NULL,
                NULL, NULL, NULL, buf + n_plans * plan_bytes + shared_bytes, thread_bytes, h_bytes, slot};
  int64_t *n_keys = (int64_t *)(void *)(c.mine + (size_t)T * thread_bytes);
  /* The plans (outside the task: they read the tuning table), each product's output in the shared buffers. */
  for (int64_t l = 0; l < n_layers; l++) {
    const zy_decode_layer *L = &layers[l];
    const int64_t qd = L->n_head * L->head_dim, kd = L->n_kv * L->head_dim, F = L->ffn;
    float *qkv = (float *)(void *)(buf + n_plans * plan_bytes), *q = qkv + m * (qd + 2 * kd), *k = q + m * qd, *att = k + m * kd;
    float *o = att + m * qd, *gu = o + m * D, *act = gu + 2 * m * F;
    if (l == 0) c.qkv = qkv, c.q = q, c.k = k, c.att = att, c.o = o, c.gu = gu, c.act = act, c.head_rstd = act + m * F;
    (void)o;
    const zy_qmm_job jobs[PLANS_PER_LAYER] = {
        L->qkv.data ? job(&L->qkv, NULL, qkv, m) : job(&L->q, NULL, qkv, m), job(&L->k, NULL, qkv + m * qd, m),
        job(&L->v, NULL, qkv + m * (qd + kd), m), job(&L->o, NULL, o, m),
        L->gate_up.data ? job(&L->gate_up, NULL, gu, m) : job(&L->gate, NULL, gu, m), job(&L->up, NULL, gu + m * F, m),
        job(&L->down, NULL, o, m)};
    for (int j = 0; j < PLANS_PER_LAYER; j++) {
      if ((j == P_K || j == P_V) && L->qkv.data) continue;
      if (j == P_U && L->gate_up.data) continue;
      if (zy_quant_rows_plan(&jobs[j], buf + (size_t)(l * PLANS_PER_LAYER + j) * plan_bytes) != 0) return 1;
    }
  }
  if (head) {
    const zy_qmm_job hj = job(&head->w, NULL, logits, m);
    if (zy_quant_rows_plan(&hj, buf + (size_t)(n_layers * PLANS_PER_LAYER) * plan_bytes) != 0) return 1;
  }
  /* The buffers' layout depends on the layer's shape: every layer must share layer 0's (checked here). */
  for (int64_t l = 1; l < n_layers; l++)
    if (layers[l].n_head != layers[0].n_head || layers[l].n_kv != layers[0].n_kv || layers[l].head_dim != layers[0].head_dim ||
        layers[l].ffn != layers[0].ffn)
      return 1;
  for (int64_t s = 0; s <= n_layers; s++) {
    c.seg = s;
    zy_parallel_run(rows_task, &c);
    if (c.failed) {
      if (failed_layer) *failed_layer = s;
      return -1;
    }
    if (s == n_layers) break;
    const zy_decode_layer *L = &layers[s];
    for (int64_t i = 0; i < m; i++) n_keys[i] = L->pos[i] + 1;
    zy_op_attention_decode(m, c.q, (const void *const *)L->k_cache, (const void *const *)L->v_cache, L->kv_type, n_keys, c.att,
                           c.o /* lse: o is free until the o product */, L->n_head, L->n_kv, L->head_dim, L->attn_scale);
  }
  return 2 + c.late;
}

/* Fixed row ranges wait for every thread at every barrier, so while other processes hold the cores (a worker
 * descheduled for a time slice) a step can take several times as long as the dispatch-per-product path, whose
 * shared chunk counter lets the running thread take the work and which turns serial while workers keep arriving
 * late (quant.c). So: a step in which thread 0 yielded at more than a quarter of its barriers is a strike; after
 * LATE_STEPS strikes in a row the next ROWS_PAUSE steps take the other path, then the rows path is tried again. */
#define LATE_STEPS 2
#define ROWS_PAUSE 64
static int rows_strikes = 0, rows_paused = 0;

int zy_decoder_stack_decode(const zy_decode_layer *layers, int64_t n_layers, float *x, const zy_decode_head *head,
                            float *logits, int64_t *failed_layer, int use_rows, int *ran_rows) {
  if (ran_rows) *ran_rows = 0;
  if (use_rows == 1 && rows_paused > 0) {
    rows_paused--;
    use_rows = 0;
  }
  if (use_rows && n_layers > 0) {
    const int rc = stack_rows(layers, n_layers, x, head, logits, failed_layer);
    if (rc != 1) {
      if (ran_rows) *ran_rows = rc >= 0;
      if (rc < 0) return rc;
      if (rc - 2 > n_layers) { /* late at more than a quarter of its ~4 barriers per layer */
        if (++rows_strikes >= LATE_STEPS) rows_paused = ROWS_PAUSE, rows_strikes = 0;
      } else {
        rows_strikes = 0;
      }
      return 0;
    }
  }
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
