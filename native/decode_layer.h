/* C API of native/decode_layer.c: one pre-norm RMS / rotary GQA / SwiGLU decoder layer for m single-token decode
 * steps. The semantics are those of the tensor path in src/models/llama/model.ts, which is its specification.
 * Leaves out: argument validation (native/decode_napi.cc does it). */
#ifndef ZY_DECODE_LAYER_H
#define ZY_DECODE_LAYER_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* An encoded weight matrix [rows, cols] (a zy_qtype: GGUF block type, f16 or bf16). */
typedef struct {
  const uint8_t *data;
  int type;
  int64_t rows, cols;
} zy_decode_matrix;

/* A sparse mixture-of-experts MLP in place of gate/up/down (src/models/moe.ts, grouped by expert): the router
 * [n_experts, hidden] scores each token, route() picks its top_k experts and their weights (the caller's routing,
 * so softmax and top-k are exactly its own), and each routed expert runs once over its tokens, in ascending expert
 * order: out[t] += weight · down(silu(gate·h) ⊙ up·h). */
typedef struct {
  int64_t n_experts, top_k, ffn; /* ffn: each expert's intermediate size */
  zy_decode_matrix router;
  const zy_decode_matrix *gate, *up, *down; /* n_experts each: [ffn, hidden], [ffn, hidden], [hidden, ffn] */
  /* logits [m, n_experts] → experts [m, top_k] (distinct, < n_experts) and weights [m, top_k]; 0, or -1 (failed). */
  int (*route)(void *ctx, const float *logits, int64_t m, int32_t *experts, float *weights);
  void *route_ctx;
  /* Qwen2-MoE's shared expert, which every token runs after the routed ones (shared_ffn 0: none):
   * out[t] += sigmoid(gate_inp · h) · down(silu(gate·h) ⊙ up·h), gate and up [shared_ffn, hidden], down
   * [hidden, shared_ffn]; the gate row is the encoded [1, hidden] matrix shared_gate_inp, or (its data NULL) the f32
   * row shared_gate_inp_f32 (a GGUF stores it as a 1-D f32 tensor), multiplied as the f32 GEMM does. */
  int64_t shared_ffn;
  zy_decode_matrix shared_gate, shared_up, shared_down, shared_gate_inp;
  const float *shared_gate_inp_f32;
} zy_decode_moe;

typedef struct {
  int64_t m, hidden, n_head, n_kv, head_dim, ffn, rot_dim;
  float eps, attn_scale;
  int rope_interleaved;
  const float *freqs;                       /* rot_dim / 2 frequencies (rot_dim 0: no RoPE) */
  const float *attn_norm, *ffn_norm;        /* [hidden] */
  const float *bq, *bk, *bv;                /* Qwen2 biases or NULL */
  const float *q_norm, *k_norm;             /* [head_dim]: RMSNorm of each q / k head after the biases (Qwen3), or NULL */
  const zy_decode_moe *moe;                 /* non-NULL: the MLP is this MoE (gate_up, gate, up, down unused) */
  /* Either qkv [qd + 2·kd, hidden] (fused; q, k, v data NULL) or q [qd, hidden], k and v [kd, hidden] (qkv data NULL);
   * likewise gate_up [2·ffn, hidden] or gate and up [ffn, hidden]. o [hidden, qd], down [hidden, ffn]. */
  zy_decode_matrix qkv, q, k, v, o, gate_up, gate, up, down;
  void *const *k_cache, *const *v_cache;    /* per sequence: [capacity, n_kv, head_dim] of kv_type (zy_kv_type) */
  int kv_type;                              /* f32, f16 or q8_0 (each position's row as q8_0 blocks) */
  const int64_t *cache_capacity, *pos;      /* per sequence: capacity, and the position of its new token */
} zy_decode_layer;

/* The MoE MLP alone over h [m, hidden] (any m: a prompt's tokens too) into out [m, hidden], each routed expert's
 * matrices multiplied once over all its rows. Returns 0, -1 when out of memory, or -2 when route() failed. */
int zy_moe_mlp(const zy_decode_moe *moe, int64_t m, int64_t hidden, const float *h, float *out);

/* x [m, hidden] in place. Returns 0, -1 when out of memory, or -2 when route() failed. */
int zy_decoder_layer_decode(const zy_decode_layer *layer, float *x);

/* The output norm and head a stack step may end with: logits [m, w.rows] = w · rmsNorm(x; norm, eps). */
typedef struct {
  const float *norm; /* [hidden] */
  float eps;
  zy_decode_matrix w; /* [vocab, hidden] */
} zy_decode_head;

/* What one model's stack steps keep from step to step: the rows path's scratch (plans, shared products' outputs,
 * each thread's activations), the loop path's head scratch, and the rows path's step-aside counters (how many steps
 * in a row its threads arrived late, how many steps it still stands aside). The caller makes one per model (its
 * layer list: decode_napi.cc's decoderStackState) and frees it with the model, so two models never share buffers or
 * counters. One step at a time per state; the pool (zy_pool.c) is one per process, so steps of different states
 * still run one at a time. */
typedef struct zy_decode_state zy_decode_state;
zy_decode_state *zy_decode_state_new(void); /* NULL when out of memory */
void zy_decode_state_free(zy_decode_state *state);

/* Layers 0 … n_layers-1 of one decode step in order on x [m, hidden] in place (each as zy_decoder_layer_decode; every
 * layer's m and hidden equal), then (head non-NULL) the head's logits [m, vocab]. Returns 0, or the first failing
 * layer's code (-1, -2) with *failed_layer set (n_layers: the head ran out of memory). With use_rows, a step the
 * rows path takes (≥ 2 threads, dense layers of one shape, m < 16, ffn % 16 = 0) runs its products split by fixed
 * row ranges inside one pool task between attention calls, with the same bits; *ran_rows (if given) says whether
 * it did. use_rows 1: except for a while after steps whose threads kept arriving late at its barriers (a loaded
 * machine); 2: always. state: the model's (zy_decode_state_new). */
int zy_decoder_stack_decode(zy_decode_state *state, const zy_decode_layer *layers, int64_t n_layers, float *x,
                            const zy_decode_head *head, float *logits, int64_t *failed_layer, int use_rows, int *ran_rows);

/* The rows path's development knobs, process-wide: read from the environment once (at the first step, or the first
 * zy_decode_options_get / _set) and changeable at run time through zy_decode_options_set (decode_napi.cc's
 * decoderOptions, for in-process A/B in dev/perf/). None changes a result bit. */
typedef struct {
  /* ZHIYU_DECODE_PREFETCH_KB: KiB of each thread's next product range prefetched while it computes its last 16
   * rows (0: off, the default). */
  int64_t prefetch_kb;
  /* Attention runs inside the rows task (each thread its kv heads) while a single sequence has at most this many
   * keys (several sequences: at most 31 each, or this if lower), else between the task's dispatches
   * (zy_op_attention_decode, which splits long caches by key ranges and several sequences by sequence ranges).
   * ZHIYU_DECODE_ATTN_APART=1 sets it to 0 (always between); ZHIYU_DECODE_ATTN_IN_TASK_KEYS=N to N. */
  int64_t attn_in_task_keys;
  /* ZHIYU_DECODE_PROFILE=N: print where the rows path's threads spend a step every N steps (0: off). */
  int64_t profile_every;
} zy_decode_options;
void zy_decode_options_get(zy_decode_options *options);
/* Sets every field (negative values are taken as 0). */
void zy_decode_options_set(const zy_decode_options *options);

#ifdef __cplusplus
}
#endif
#endif
