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
 * Debugging aid: ZHIYU_DECODE_PROFILE=N prints where the rows path's threads spend a step (products, barriers, …)
 * every N steps (prof_* below). The rows path's knobs (zy_decode_options) are read from the environment once and set
 * through zy_decode_options_set; its scratch and step-aside counters live in the caller's zy_decode_state.
 * Leaves out: prefill (several tokens per sequence), dense f32 weights (only encoded weights: GGUF block types,
 * f16, bf16), GPT-2, gradients. */
#include "decode_layer.h"
#include "gemm.h"
#include "ops_common.h"
#include "ops_kernels.h"
#include "quant.h"
#include "zy_pool.h"
#include "zy_spin_barrier.h"
#include "zy_half.h"
#include "zy_scratch.h"
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>
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
  float *q, *k, *head_rstd; /* head_rstd: [m, n_head + n_kv] scratch for the per-head norms */
  int failed;
} prepare_ctx;

/* Sequences [i0, i1): part 0 = q (bias, head norm, RoPE), part 1 = k and v (bias, head norm, RoPE, the cache
 * writes), part −1 = both. The parts touch disjoint data (k's head norms write their rstd after q's), so two threads
 * may run them at once. */
static void prepare_part(prepare_ctx *c, int64_t i0, int64_t i1, int part);

static void prepare_task(void *p, int64_t i0, int64_t i1, int t) {
  (void)t;
  prepare_part(p, i0, i1, -1);
}

static void prepare_part(prepare_ctx *c, int64_t i0, int64_t i1, int part) {
  const zy_decode_layer *L = c->L;
  const int64_t hd = L->head_dim, qd = L->n_head * hd, kd = L->n_kv * hd;
  for (int64_t i = i0; i < i1; i++) {
    const float *qrow = c->qs + i * c->q_stride, *krow = c->ks + i * c->kv_stride, *vi = c->vs + i * c->kv_stride;
    float *qi = c->q + i * qd, *ki = c->k + i * kd;
    /* Qwen3: each head's q and k RMS-normalised (the tensor path's headNorm: rows of head_dim values) before RoPE;
     * the rstd outputs (unused) of q at head_rstd + i·(n_head + n_kv), of k after them. */
    float *rs = c->head_rstd + i * (L->n_head + L->n_kv);
    const int64_t pos = L->pos[i];
    if (part != 1) {
      /* The TS path adds the biases to the q/k/v slices before RoPE (q + b, elementwise). */
      for (int64_t j = 0; j < qd; j++) qi[j] = L->bq ? qrow[j] + L->bq[j] : qrow[j];
      if (L->q_norm) zy_op_rmsnorm_serial(qi, L->q_norm, qi, rs, L->n_head, hd, L->eps);
      if (L->rot_dim > 0 && zy_op_rope(qi, 1, 1, L->n_head, hd, L->rot_dim, pos, L->freqs, L->rope_interleaved, 0) != 0) {
        c->failed = 1;
        return;
      }
    }
    if (part == 0) continue;
    for (int64_t j = 0; j < kd; j++) ki[j] = L->bk ? krow[j] + L->bk[j] : krow[j];
    if (L->k_norm) zy_op_rmsnorm_serial(ki, L->k_norm, ki, rs + L->n_head, L->n_kv, hd, L->eps);
    if (L->rot_dim > 0 && zy_op_rope(ki, 1, 1, L->n_kv, hd, L->rot_dim, pos, L->freqs, L->rope_interleaved, 0) != 0) {
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
   * gu [m, 2F], g [m, F], u [m, F], act [m, F], rstd [m], head_rstd [m, n_head + n_kv]; then n_keys [m] (int64) */
  const size_t floats = (size_t)(m * D + m * qkv_w + m * qd + m * kd + m * qd + m * L->n_head + m * D + m * 2 * F + 3 * m * F + m +
                                 m * (L->n_head + L->n_kv));
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

/* ---- the step's products split by rows inside one pool task per attention ----
 * One zy_parallel_run per layer: layer l−1's o product, residual, norm, gate/up, SwiGLU, down, residual, then layer
 * l's norm, q/k/v, RoPE and cache writes, and its attention split by kv heads (zy_op_attention_decode_heads; or,
 * after the last layer, the output norm and head). Each thread computes a fixed row range of every
 * product (whole 16-row groups) and the elementwise work on those rows, normalises and quantizes every activation
 * row into its own buffer (no barrier for that), and waits at a spin barrier only where the data force it: after
 * q/k/v (then RoPE and the cache writes), after them (then attention), after o and its residual, after SwiGLU, after down and its
 * residual. Each output element is the same kernel over the same inputs as in zy_decoder_layer_decode, so the same
 * bits. Leaves out: MoE layers, m ≥ 16 (f16 panel GEMMs), ffn not a multiple of 16, one thread (the loop above). */

/* The rows path's knobs (decode_layer.h): from the environment at first use, then whatever zy_decode_options_set
 * says. Default attn_in_task_keys = ZY_KEY_CHUNK's 512 (ops_attention.c): while a sequence's keys fit one chunk,
 * zy_op_attention_decode splits its (chunk, kv head) units into one run of kv heads per thread (at 2 threads exactly
 * the task's split), or runs serially on thread 0 below ZY_PAR_MIN's work (under ~43 keys at 110M) — so taking it
 * out of the task there only adds a dispatch and a join per layer (f5cb661 did from 32 keys: 110M decode tg128 ran
 * apart from its 28th token on). From two chunks on it splits by key ranges, which the quiet rerun of session 12
 * measured 1.2–1.3× the head split at 2,048 keys (f5cb661). */
#define DECODE_ATTN_IN_TASK_KEYS 512
static zy_decode_options options;
static pthread_once_t options_once = PTHREAD_ONCE_INIT;

static int64_t env_count(const char *name, int64_t fallback) {
  const char *e = getenv(name);
  if (!e || !*e) return fallback;
  const long long v = atoll(e);
  return v > 0 ? (int64_t)v : 0;
}

static void options_from_env(void) {
  options.prefetch_kb = env_count("ZHIYU_DECODE_PREFETCH_KB", 0);
  options.attn_in_task_keys = env_count("ZHIYU_DECODE_ATTN_IN_TASK_KEYS", DECODE_ATTN_IN_TASK_KEYS);
  if (env_count("ZHIYU_DECODE_ATTN_APART", 0) == 1) options.attn_in_task_keys = 0;
  options.profile_every = env_count("ZHIYU_DECODE_PROFILE", 0);
}

static const zy_decode_options *options_now(void) {
  pthread_once(&options_once, options_from_env);
  return &options;
}

void zy_decode_options_get(zy_decode_options *o) { *o = *options_now(); }

static void prof_reset(void);

void zy_decode_options_set(const zy_decode_options *o) {
  options_now();
  options.prefetch_kb = o->prefetch_kb > 0 ? o->prefetch_kb : 0;
  options.attn_in_task_keys = o->attn_in_task_keys > 0 ? o->attn_in_task_keys : 0;
  if ((o->profile_every > 0 ? o->profile_every : 0) != options.profile_every) prof_reset(); /* a new report window */
  options.profile_every = o->profile_every > 0 ? o->profile_every : 0;
}

/* What a model's steps keep between calls (decode_layer.h). */
struct zy_decode_state {
  void *rows;      /* the rows path's plans, shared buffers, per-thread activation slots */
  size_t rows_size;
  void *head;      /* the loop path's head scratch: the normalised rows and their rstd */
  size_t head_size;
  int strikes;     /* rows steps in a row at which thread 0 was late at more than a quarter of its barriers */
  int paused;      /* steps the rows path still stands aside */
};

zy_decode_state *zy_decode_state_new(void) { return calloc(1, sizeof(zy_decode_state)); }

void zy_decode_state_free(zy_decode_state *st) {
  if (!st) return;
  free(st->rows);
  free(st->head);
  free(st);
}

/* ZHIYU_DECODE_PROFILE=N (a debugging aid, off by default; zy_decode_options.profile_every): the rows path counts TSC
 * ticks per thread — in the products (and the bytes they read), quantizing activations, barrier waits, the rest of a
 * task, the wait between the dispatch and a task's start — and on thread 0 the dispatches, attention and the whole
 * step, and prints a summary to stderr every N steps. Costs two rdtsc per counted span when on. Process-wide, like
 * stderr it prints to. */
#define PROF_THREADS 8
enum { PR_MAT, PR_FILL, PR_WAIT, PR_HEAD, PR_START, PR_TASK, PR_PREP, PR_ATTN, PR_N }; /* PR_N ≤ 8 */
typedef struct { /* all uint64_t: summed as an array */
  uint64_t t[PROF_THREADS][8], bytes[PROF_THREADS][8], run, attn, step, outside, steps;
} decode_profile;
static uint64_t prof_min_outside; /* the shortest time between two steps in the report's window */
/* Per product call site (segment · 16 + which) and thread, the shortest call over the report's steps, and per segment
 * the shortest dispatch and attention: their sums estimate a step on an idle machine (a call of 20–70 µs is rarely
 * descheduled, a whole step of 3–4 ms often is). */
#define PROF_SEGS 256
static uint64_t prof_site[PROF_THREADS][8]; /* per thread: the rows_run calls so far in this segment */
static uint64_t prof_min_call[PROF_SEGS * 16][PROF_THREADS], prof_min_seg[PROF_SEGS][2];
static void prof_min(uint64_t *slot, uint64_t v) {
  if (!*slot || v < *slot) *slot = v;
}
static decode_profile prof, prof_sum, prof_best; /* this step's, the sum over the report's steps, its fastest step */
static uint64_t prof_dispatch, prof_last_end; /* rdtsc at the current dispatch, at the end of the last step */


static double tsc_ghz(void) {
  static double ghz = 0;
  if (ghz == 0) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    const uint64_t t0 = __rdtsc();
    do clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec) < 2e7);
    ghz = (double)(__rdtsc() - t0) / ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec));
  }
  return ghz;
}

static void prof_print(const char *what, const decode_profile *p, int T) {
  const double g = tsc_ghz(), n = (double)p->steps, ms = 1e6 * g * n; /* ticks → ms per step */
  fprintf(stderr, "decode profile, %s (%d steps), ms per step: step %.3f = dispatches %.3f + attention %.3f + rest %.3f; before the step (JS) %.3f\n",
          what, (int)p->steps, p->step / ms, p->run / ms, p->attn / ms, ((double)p->step - p->run - p->attn) / ms, p->outside / ms);
  for (int t = 0; t < T && t < PROF_THREADS; t++) {
    const uint64_t *c = p->t[t];
    const double rest = (double)c[PR_TASK] - (double)c[PR_MAT] - (double)c[PR_FILL] - (double)c[PR_WAIT];
    fprintf(stderr, "  thread %d: tasks %.3f = products %.3f (%.2f MB, %.1f GB/s; head %.3f ms, %.1f GB/s) + act fill %.3f + barriers %.3f + rest %.3f (RoPE/cache %.3f, attention %.3f); start lag %.3f\n",
            t, c[PR_TASK] / ms, c[PR_MAT] / ms, p->bytes[t][0] / n / 1e6, c[PR_MAT] ? p->bytes[t][0] * g / (double)c[PR_MAT] : 0.0,
            c[PR_HEAD] / ms, c[PR_HEAD] ? p->bytes[t][1] * g / (double)c[PR_HEAD] : 0.0, c[PR_FILL] / ms, c[PR_WAIT] / ms, rest / ms,
            c[PR_PREP] / ms, c[PR_ATTN] / ms, c[PR_START] / ms);
  }
}

/* The step just ended: into the sums and, if fastest, the best; a report every profile_every steps. */
static void prof_step_end(int T) {
  uint64_t *a = (uint64_t *)(void *)&prof_sum;
  const uint64_t *b = (const uint64_t *)(const void *)&prof;
  for (size_t i = 0; i < sizeof prof / sizeof(uint64_t); i++) a[i] += b[i];
  prof_sum.steps++;
  if (prof_best.steps == 0 || prof.step < prof_best.step) prof_best = prof, prof_best.steps = 1;
  if (prof.outside && (!prof_min_outside || prof.outside < prof_min_outside)) prof_min_outside = prof.outside;
  memset(&prof, 0, sizeof prof);
  if (prof_sum.steps == (uint64_t)options_now()->profile_every) {
    prof_print("mean", &prof_sum, T);
    prof_print("fastest step", &prof_best, T);
    const double ms = 1e6 * tsc_ghz();
    double seg = 0, attn = 0, calls[PROF_THREADS] = {0};
    for (int i = 0; i < PROF_SEGS; i++) seg += prof_min_seg[i][0] / ms, attn += prof_min_seg[i][1] / ms;
    for (int i = 0; i < PROF_SEGS * 16; i++)
      for (int t = 0; t < T && t < PROF_THREADS; t++) calls[t] += prof_min_call[i][t] / ms;
    fprintf(stderr, "  shortest time between two steps (JS): %.3f ms; sums of the shortest: dispatches %.3f + attention %.3f = %.3f ms; products",
            prof_min_outside / ms, seg, attn, seg + attn);
    for (int t = 0; t < T && t < PROF_THREADS; t++)
      fprintf(stderr, " thread %d %.3f ms (%.1f GB/s)", t, calls[t], prof_sum.bytes[t][0] / (double)prof_sum.steps / (calls[t] * 1e6));
    fprintf(stderr, "\n");
    prof_reset();
  }
}

/* A new report window: the sums, the fastest step and the shortest calls forgotten. */
static void prof_reset(void) {
  prof_min_outside = prof_last_end = 0;
  memset(prof_min_call, 0, sizeof prof_min_call);
  memset(prof_min_seg, 0, sizeof prof_min_seg);
  memset(&prof, 0, sizeof prof);
  memset(&prof_sum, 0, sizeof prof_sum);
  memset(&prof_best, 0, sizeof prof_best);
}

enum { P_Q, P_K, P_V, P_O, P_G, P_U, P_DOWN, PLANS_PER_LAYER }; /* P_Q: fused qkv or q; P_G: fused gate_up or gate */

typedef struct {
  const zy_decode_layer *layers;
  const zy_decode_head *head;
  int64_t n_layers, seg, m, D;
  float *x;
  int T, isa, failed, late, prof; /* late: barriers at which thread 0 had to yield; prof: options.profile_every > 0 */
  int64_t pf_bytes; /* of each thread's next product range, prefetched while it computes its last 16 rows */
  spin_barrier bar;
  uint8_t *plans; /* (n_layers · PLANS_PER_LAYER + 1) × plan_bytes; the last is the head's */
  size_t plan_bytes;
  float *qkv, *q, *k, *att, *o, *gu, *act, *head_rstd; /* shared */
  uint8_t *mine;       /* per thread, thread_bytes apart: h [m, D], rstd [m], then three activation slots */
  size_t thread_bytes, h_bytes, slot_bytes;
  /* attention inside the task, each thread its kv heads (else thread 0's zy_op_attention_decode between dispatches) */
  int attn_in_task;
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
  const uint64_t t0 = c->prof ? __rdtsc() : 0;
  if (barrier_wait(&c->bar) && t == 0) c->late++;
  if (c->prof) prof.t[t][PR_WAIT] += __rdtsc() - t0;
}

/* zy_quant_act_fill and zy_quant_rows, counted when profiling. */
static void fill(rows_ctx *c, int t, int type, int64_t cols, const float *x, void *buf) {
  const uint64_t t0 = c->prof ? __rdtsc() : 0;
  zy_quant_act_fill(type, cols, x, c->m, buf);
  if (c->prof) prof.t[t][PR_FILL] += __rdtsc() - t0;
}

static void rows_run(rows_ctx *c, int t, const void *plan, const zy_decode_matrix *w, const void *act, int64_t r0, int64_t r1) {
  const uint64_t t0 = c->prof ? __rdtsc() : 0;
  zy_quant_rows(plan, act, r0, r1);
  if (c->prof) {
    const uint64_t dt = __rdtsc() - t0;
    if (c->seg < PROF_SEGS && t < PROF_THREADS) prof_min(&prof_min_call[c->seg * 16 + (prof_site[t][0]++ & 15)][t], dt);
    const uint64_t bytes = r1 > r0 ? (uint64_t)((r1 - r0) * (w->cols / zy_qtype_block_elems(w->type)) * zy_qtype_block_bytes(w->type)) : 0;
    prof.t[t][PR_MAT] += dt, prof.bytes[t][0] += bytes;
    if (c->head && w == &c->head->w) prof.t[t][PR_HEAD] += dt, prof.bytes[t][1] += bytes;
  }
}

/* Rows [r0, r1) of w; then this thread reads rows [n0, n1) of nw (its next product, after a barrier or not): the
 * first pf_bytes of those are prefetched while it computes its last 16 rows, so the next stream starts warm instead
 * of at the hardware prefetcher's ramp (a thread's share of a 1B Q4_0 product is 0.3–1.8 MB, 65 streams a step). The
 * rows are contiguous from r0·row_bytes in every layout zy_quant_rows reads (an r16 group holds 16 whole rows). */
static void rows(rows_ctx *c, int t, const void *plan, const zy_decode_matrix *w, const void *act, int64_t r0, int64_t r1,
                 const zy_decode_matrix *nw, int64_t n0, int64_t n1) {
  if (!nw || c->pf_bytes <= 0 || n1 <= n0) {
    rows_run(c, t, plan, w, act, r0, r1);
    return;
  }
  const int64_t split = r1 - r0 > 32 ? r1 - 16 : r0;
  rows_run(c, t, plan, w, act, r0, split);
  const int64_t row_bytes = nw->cols / zy_qtype_block_elems(nw->type) * zy_qtype_block_bytes(nw->type);
  const int64_t n = (n1 - n0) * row_bytes < c->pf_bytes ? (n1 - n0) * row_bytes : c->pf_bytes;
  const char *at = (const char *)nw->data + n0 * row_bytes;
  for (int64_t i = 0; i < n; i += 64) _mm_prefetch(at + i, _MM_HINT_T0);
  rows_run(c, t, plan, w, act, split, r1);
}

static void rows_task_body(rows_ctx *c, int t) {
  const int T = c->T;
  const int64_t s = c->seg, m = c->m, D = c->D;
  uint8_t *mine = c->mine + (size_t)t * c->thread_bytes;
  float *h = (float *)(void *)mine, *rstd = h + m * D, *x = c->x;
  uint8_t *slot[3] = {mine + c->h_bytes, mine + c->h_bytes + c->slot_bytes, mine + c->h_bytes + 2 * c->slot_bytes};
  int64_t r0, r1;
  rows_of(D, t, T, &r0, &r1);
  /* This thread's first rows of the step's next product after this segment (the head, or layer s's q/k/v) */
  const zy_decode_layer *N = s < c->n_layers ? &c->layers[s] : NULL;
  const zy_decode_matrix *next = N ? (N->qkv.data ? &N->qkv : &N->q) : c->head ? &c->head->w : NULL;
  int64_t n0 = 0, n1 = 0;
  if (next) rows_of(next->rows, t, T, &n0, &n1);
  if (s > 0) { /* layer s−1 after its attention */
    const zy_decode_layer *L = &c->layers[s - 1];
    const int64_t F = L->ffn;
    int64_t f0, f1, gs;
    rows_of(F, t, T, &f0, &f1);
    const zy_decode_matrix *gate = L->gate_up.data ? &L->gate_up : &L->gate, *up = L->gate_up.data ? &L->gate_up : &L->up;
    const int64_t u0 = L->gate_up.data ? F : 0; /* the up rows' first row in `up` */
    fill(c, t, L->o.type, L->o.cols, c->att, slot[0]);
    rows(c, t, plan_of(c, s - 1, P_O), &L->o, slot[0], r0, r1, gate, f0, f1);
    add_rows(x, c->o, m, D, r0, r1);
    wait_all(c, t);
    zy_op_rmsnorm_serial(x, L->ffn_norm, h, rstd, m, D, L->eps);
    const float *g = c->gu, *u;
    if (L->gate_up.data) {
      fill(c, t, L->gate_up.type, D, h, slot[0]);
      rows(c, t, plan_of(c, s - 1, P_G), &L->gate_up, slot[0], f0, f1, up, u0 + f0, u0 + f1);
      rows(c, t, plan_of(c, s - 1, P_G), &L->gate_up, slot[0], F + f0, F + f1, &L->down, r0, r1);
      u = c->gu + F, gs = 2 * F;
    } else {
      fill(c, t, L->gate.type, D, h, slot[0]);
      if (L->up.type != L->gate.type) fill(c, t, L->up.type, D, h, slot[1]);
      rows(c, t, plan_of(c, s - 1, P_G), &L->gate, slot[0], f0, f1, up, f0, f1);
      rows(c, t, plan_of(c, s - 1, P_U), &L->up, slot[L->up.type != L->gate.type], f0, f1, &L->down, r0, r1);
      u = c->gu + m * F, gs = F;
    }
    for (int64_t i = 0; i < m && f1 > f0; i++) zy_swiglu_vec(c->isa, g + i * gs + f0, u + i * gs + f0, c->act + i * F + f0, f1 - f0);
    wait_all(c, t);
    fill(c, t, L->down.type, F, c->act, slot[0]);
    rows(c, t, plan_of(c, s - 1, P_DOWN), &L->down, slot[0], r0, r1, next, n0, n1);
    add_rows(x, c->o, m, D, r0, r1);
    if (s == c->n_layers && !c->head) return;
    wait_all(c, t);
  }
  if (s == c->n_layers) { /* the output norm and head */
    const zy_decode_head *H = c->head;
    zy_op_rmsnorm_serial(x, H->norm, h, rstd, m, D, H->eps);
    fill(c, t, H->w.type, D, h, slot[0]);
    rows(c, t, plan_of(c, c->n_layers, 0), &H->w, slot[0], n0, n1, NULL, 0, 0);
    return;
  }
  const zy_decode_layer *L = &c->layers[s];
  const int64_t hd = L->head_dim, qd = L->n_head * hd, kd = L->n_kv * hd;
  zy_op_rmsnorm_serial(x, L->attn_norm, h, rstd, m, D, L->eps);
  prepare_ctx pc = {L, c->qkv, c->qkv + qd, c->qkv + qd + kd, qd + 2 * kd, qd + 2 * kd, c->q, c->k, c->head_rstd, 0};
  if (L->qkv.data) {
    fill(c, t, L->qkv.type, D, h, slot[0]);
    rows(c, t, plan_of(c, s, P_Q), &L->qkv, slot[0], n0, n1, &L->o, r0, r1);
  } else {
    const int types[3] = {L->q.type, L->k.type, L->v.type};
    const zy_decode_matrix *w[4] = {&L->q, &L->k, &L->v, &L->o};
    int in[3];
    int64_t a[4], b[4];
    for (int j = 0; j < 4; j++) rows_of(w[j]->rows, t, T, &a[j], &b[j]);
    for (int j = 0; j < 3; j++) {
      in[j] = j;
      for (int i = 0; i < j; i++)
        if (types[i] == types[j]) { in[j] = in[i]; break; }
      if (in[j] == j) fill(c, t, types[j], D, h, slot[j]);
      rows(c, t, plan_of(c, s, P_Q + j), w[j], slot[in[j]], a[j], b[j], w[j + 1], a[j + 1], b[j + 1]);
    }
    pc.qs = c->qkv, pc.ks = c->qkv + m * qd, pc.vs = c->qkv + m * (qd + kd), pc.q_stride = qd, pc.kv_stride = kd;
  }
  wait_all(c, t);
  /* RoPE and the cache writes: q on thread 0, k and v on thread 1. */
  if (t < 2) {
    const uint64_t t0 = c->prof ? __rdtsc() : 0;
    prepare_part(&pc, 0, m, t);
    if (c->prof) prof.t[t][PR_PREP] += __rdtsc() - t0;
    if (pc.failed) c->failed = 1;
  }
  if (!c->attn_in_task) return; /* attention after the task, on thread 0 */
  /* Attention, each thread its kv heads (their query heads' rows; the same bits at any split): one barrier for q
   * and the cache rows, where it used to be the task's join, attention's own dispatch and join, and a dispatch. */
  wait_all(c, t);
  if (c->failed) return;
  const uint64_t a0 = c->prof ? __rdtsc() : 0;
  int64_t n_keys[16]; /* m < 16 on this path */
  for (int64_t i = 0; i < m; i++) n_keys[i] = L->pos[i] + 1;
  const int64_t h0 = L->n_kv * t / T, h1 = L->n_kv * (t + 1) / T;
  if (h1 > h0)
    zy_op_attention_decode_heads(m, c->q, (const void *const *)L->k_cache, (const void *const *)L->v_cache, L->kv_type, n_keys,
                                 c->att, c->o /* lse: o is free until the o product */, L->n_head, L->n_kv, hd, L->attn_scale,
                                 h0, h1);
  if (c->prof) prof.t[t][PR_ATTN] += __rdtsc() - a0;
}

static void rows_task(void *p, int64_t b, int64_t e, int t) {
  (void)b, (void)e;
  rows_ctx *c = p;
  if (!c->prof) {
    rows_task_body(c, t);
    return;
  }
  const uint64_t t0 = __rdtsc();
  prof.t[t][PR_START] += t0 - prof_dispatch;
  if (t < PROF_THREADS) prof_site[t][0] = 0;
  rows_task_body(c, t);
  prof.t[t][PR_TASK] += __rdtsc() - t0;
}

/* Attention inside the rows task (each thread its kv heads): one sequence while it has at most
 * options.attn_in_task_keys keys (see DECODE_ATTN_IN_TASK_KEYS); several while each has at most
 * DECODE_ATTN_BATCH_KEYS (and the option): past it zy_op_attention_decode gives each thread a run of whole sequences
 * (every cache row read whole by one thread), which the task's head split has not been measured against. Else
 * between the dispatches. */
#define DECODE_ATTN_BATCH_KEYS 31
static int attention_in_task(const zy_decode_layer *L0, int64_t m, int64_t max_keys) {
  const int64_t limit = m == 1 || max_keys < DECODE_ATTN_BATCH_KEYS ? max_keys : DECODE_ATTN_BATCH_KEYS;
  for (int64_t i = 0; i < m; i++)
    if (L0->pos[i] + 1 > limit) return 0;
  return 1;
}

/* The step on the rows path; 1 when it cannot take this step (the caller runs the loop instead), -1 when out of
 * memory or RoPE failed, else 2 + the barriers at which thread 0 had to yield. */
static int stack_rows(zy_decode_state *st, const zy_decode_layer *layers, int64_t n_layers, float *x, const zy_decode_head *head,
                      float *logits, int64_t *failed_layer) {
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
    const size_t need = (size_t)(m * (qd + 2 * kd) + m * qd + m * kd + m * qd + m * D + 2 * m * F + m * F + m * (L->n_head + L->n_kv));
    if (need > shared) shared = need;
  }
  if (head && zy_quant_act_bytes(head->w.type, D, m) > slot) slot = zy_quant_act_bytes(head->w.type, D, m);
  slot = (slot + 63) & ~(size_t)63;
  const size_t h_bytes = ((size_t)(m * D + m) * sizeof(float) + 63) & ~(size_t)63, thread_bytes = h_bytes + 3 * slot;
  const size_t n_plans = (size_t)(n_layers * PLANS_PER_LAYER + 1);
  const size_t shared_bytes = (shared * sizeof(float) + 63) & ~(size_t)63;
  uint8_t *buf = zy_grow(&st->rows, &st->rows_size, n_plans * plan_bytes + shared_bytes + (size_t)T * thread_bytes + (size_t)m * sizeof(int64_t));
  if (!buf) return -1;
  const zy_decode_options *opt = options_now();
  rows_ctx c = {layers, head, n_layers, 0, m, D, x, T, zy_isa_level(), 0, 0, opt->profile_every > 0, opt->prefetch_kb * 1024, {0, 0, T}, buf, plan_bytes, NULL, NULL, NULL, NULL, NULL,
                NULL, NULL, NULL, buf + n_plans * plan_bytes + shared_bytes, thread_bytes, h_bytes, slot};
  int64_t *n_keys = (int64_t *)(void *)(c.mine + (size_t)T * thread_bytes);
  c.attn_in_task = attention_in_task(&layers[0], m, opt->attn_in_task_keys);
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
  const uint64_t step0 = c.prof ? __rdtsc() : 0;
  if (c.prof && prof_last_end) prof.outside = step0 - prof_last_end;
  for (int64_t s = 0; s <= n_layers; s++) {
    c.seg = s;
    if (c.prof) prof_dispatch = __rdtsc();
    zy_parallel_run(rows_task, &c);
    if (c.prof) {
      prof.run += __rdtsc() - prof_dispatch;
      if (s < PROF_SEGS) prof_min(&prof_min_seg[s][0], __rdtsc() - prof_dispatch);
    }
    if (c.failed) {
      if (failed_layer) *failed_layer = s;
      return -1;
    }
    if (s == n_layers) break;
    if (c.attn_in_task) continue;
    const zy_decode_layer *L = &layers[s];
    for (int64_t i = 0; i < m; i++) n_keys[i] = L->pos[i] + 1;
    const uint64_t a0 = c.prof ? __rdtsc() : 0;
    zy_op_attention_decode(m, c.q, (const void *const *)L->k_cache, (const void *const *)L->v_cache, L->kv_type, n_keys, c.att,
                           c.o /* lse: o is free until the o product */, L->n_head, L->n_kv, L->head_dim, L->attn_scale);
    if (c.prof) {
      prof.attn += __rdtsc() - a0;
      if (s < PROF_SEGS) prof_min(&prof_min_seg[s][1], __rdtsc() - a0);
    }
  }
  if (c.prof) {
    prof_last_end = __rdtsc();
    prof.step = prof_last_end - step0;
    prof_step_end(T);
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

int zy_decoder_stack_decode(zy_decode_state *st, const zy_decode_layer *layers, int64_t n_layers, float *x,
                            const zy_decode_head *head, float *logits, int64_t *failed_layer, int use_rows, int *ran_rows) {
  if (ran_rows) *ran_rows = 0;
  if (use_rows == 1 && st->paused > 0) {
    st->paused--;
    use_rows = 0;
  }
  if (use_rows && n_layers > 0) {
    const int rc = stack_rows(st, layers, n_layers, x, head, logits, failed_layer);
    if (rc != 1) {
      if (ran_rows) *ran_rows = rc >= 0;
      if (rc < 0) return rc;
      if (rc - 2 > n_layers) { /* late at more than a quarter of its ~4 barriers per layer */
        if (++st->strikes >= LATE_STEPS) st->paused = ROWS_PAUSE, st->strikes = 0;
      } else {
        st->strikes = 0;
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
  float *h = zy_grow(&st->head, &st->head_size, (size_t)(m * D + m) * sizeof(float));
  int rc = h ? 0 : -1;
  if (rc == 0) {
    zy_op_rmsnorm(x, head->norm, h, h + m * D, m, D, head->eps);
    rc = zy_quant_matmul(head->w.data, head->w.type, head->w.rows, head->w.cols, h, logits, m);
  }
  if (rc != 0 && failed_layer) *failed_layer = n_layers;
  return rc;
}
