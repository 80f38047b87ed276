/* C API of native/encoder_layer.c: one post-LayerNorm encoder layer (BERT / RoBERTa: bidirectional multi-head
 * attention with biases, GELU or ReLU MLP) over n packed tokens of several sequences, forward only. The semantics
 * are those of the tensor path in src/models/bert/model.ts (block()), which is its specification.
 * Leaves out: argument validation (native/encoder_napi.cc does it), gradients, attention masks other than
 * "each sequence sees its own rows". */
#ifndef ZY_ENCODER_LAYER_H
#define ZY_ENCODER_LAYER_H
#include <stdint.h>
#include "decode_layer.h" /* zy_decode_matrix: an f32 or encoded weight matrix */
#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int64_t n, hidden, n_head, head_dim, ffn;
  float eps, attn_scale;
  int act;                                   /* ZY_GELU_ERF, ZY_GELU_TANH or ZY_RELU (ops_common.h) */
  int64_t n_seq;
  const int64_t *seq_start, *seq_len;        /* the packed rows [start, start + len) of each sequence */
  zy_decode_matrix q, k, v, o, up, down;     /* [D, D] × 4, up [F, D], down [D, F] (nn.Linear layout) */
  const float *bq, *bk, *bv, *bo, *bup, *bdown; /* biases, [D] or [F] */
  const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;   /* attention.output.LayerNorm, output.LayerNorm: [D] */
  /* Optional copies of q, k, v, o, up, down packed once into GEMM panels (zy_pw_pack of gemm.h; NULL: none) and
   * their element types (ZY_PW_*): used for products of enough rows, with the bits of the unpacked path. */
  const void *panels[6];
  int panel_elem[6];
} zy_encoder_layer;

/* x [n, hidden] in place. Returns 0, or -1 when out of memory. Not from inside a pool task. */
int zy_encoder_layer_forward(const zy_encoder_layer *layer, float *x);

#ifdef __cplusplus
}
#endif
#endif
