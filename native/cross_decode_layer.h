/* C API of native/cross_decode_layer.c: one pre-norm RMS decoder layer of an encoder-decoder (self-attention with
 * an additive per-head relative-position bias and no score scaling, cross-attention over the source's K/V, a plain
 * or gated feed-forward) for m single-token decode steps. The semantics are those of the tensor path in
 * src/models/t5/model.ts (decodeStep), which is its specification.
 * Leaves out: argument validation (native/cross_decode_napi.cc does it). */
#ifndef ZY_CROSS_DECODE_LAYER_H
#define ZY_CROSS_DECODE_LAYER_H
#include <stdint.h>
#include "decode_layer.h" /* zy_decode_matrix */
#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int64_t m, hidden, n_head, head_dim, ffn;
  float eps;
  int act;   /* zy_unary_op code of the feed-forward activation (relu, gelu_tanh, gelu_erf, silu) */
  int gated; /* 1: wo·(act(wi0·h) ⊙ wi1·h); 0: wo·act(wi0·h) */
  const float *self_norm, *cross_norm, *ffn_norm; /* [hidden] */
  /* Matrices in the nn.Linear layout [out, in]: f32 or any encoded type (zy_qtype). inner = n_head·head_dim.
   * q, k, v, cross_q [inner, hidden]; o, cross_o [hidden, inner]; wi0, wi1 [ffn, hidden] (wi1 unused unless gated);
   * wo [hidden, ffn]. */
  zy_decode_matrix q, k, v, o, cross_q, cross_o, wi0, wi1, wo;
  /* rel_bias[d·n_head + h]: head h's bias for a key d positions before its query, d < n_dist. */
  const float *rel_bias;
  int64_t n_dist;
  float *const *k_cache, *const *v_cache;           /* per sequence: [capacity, n_head, head_dim] f32 */
  const int64_t *pos;                               /* per sequence: the position of its new token */
  const float *const *cross_k, *const *cross_v;     /* per sequence: [source_len, n_head, head_dim] */
  const int64_t *source_len;
  /* Optional (logits NULL: none), for the last layer: logits [m, head.rows] = head · (out_scale · RMSNorm(x, out_norm)). */
  const float *out_norm;
  float out_scale;
  zy_decode_matrix head;
  float *logits;
} zy_cross_decode_layer;

/* x [m, hidden] in place (and the logits when asked). Returns 0, or -1 when out of memory. */
int zy_cross_decoder_layer_decode(const zy_cross_decode_layer *layer, float *x);

#ifdef __cplusplus
}
#endif
#endif
