/* A decoder prompt's whole pre-norm layer (attention sublayer + SwiGLU MLP sublayer) on packed panels, rows split
 * over the pool (prefill_layer.c). */
#ifndef ZY_PREFILL_LAYER_H
#define ZY_PREFILL_LAYER_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* zy_prefill_layer_args.src of a layer whose four matrices are quantized (r16 types, native/quant_r16.c): each
 * thread quantizes its own rows' activations (zy_quant_act_fill) and runs the tensor path's kernels on them
 * (zy_quant_rows_into), so the bits are the tensor path's quantLinear. */
#define ZY_PREFILL_QUANT 100

typedef struct {
  int64_t d, f, nh, nkv, dh; /* hidden, ffn, query heads, kv heads, head dim */
  int64_t half;              /* rotated pairs per head (rot_dim / 2 ≤ dh / 2) */
  int interleaved;           /* RoPE pairs (2i, 2i+1) instead of (i, i + half) */
  float eps, scale;          /* RMSNorm epsilon (every norm of the layer); attention scale */
  int src;                   /* ZY_PW_F16 / ZY_PW_BF16: the weights' type (panels); ZY_PREFILL_QUANT: quantized */
  const float *attn_norm, *ffn_norm;  /* [d] */
  const float *q_norm, *k_norm;       /* [dh] per-head RMSNorm of q and k before RoPE (Qwen3), or NULL (both) */
  const void *qkv, *o, *gu, *down;    /* [nh·dh + 2·nkv·dh, d], [d, nh·dh], [2f, d], [d, f]: panels (zy_pw_pack), or
                                       * for ZY_PREFILL_QUANT the r16 blocks of zy_repack_r16 */
  int qkv_elem, o_elem, gu_elem, down_elem; /* the panels' ZY_PW_* type, or the matrix's r16 zy_qtype */
  void *k_cache, *v_cache;            /* [cap, nkv, dh] of kv_type (ZY_KV_F32 or ZY_KV_F16), positions [0, pos0) filled */
  int kv_type;
  int64_t cap, pos0;
  const float *rope;                  /* [m, 2·half]: zy_rope_table(freqs, half, pos0, m, 0, ·) */
} zy_prefill_layer_args;

/* Whether zy_prefill_layer runs m rows of this layer (else the caller keeps the tensor path). */
int zy_prefill_layer_applies(const zy_prefill_layer_args *L, int64_t m);
/* x [m, d] through the layer in place; the new k/v rows written at positions pos0 … pos0 + m − 1 of the caches.
 * 0: done; 1: not this shape (x and caches untouched); -1: out of memory. */
int zy_prefill_layer(const zy_prefill_layer_args *L, float *x, int64_t m);
/* n layers in turn (layers[l]: layer l's fields, every one with the same d), the same bits as n zy_prefill_layer
 * calls, in 2n + 1 pool dispatches instead of 3n: a thread's rows go from one layer's MLP straight into the next
 * layer's norm and q/k/v product. 1: some layer is not a shape it runs (nothing touched). */
int zy_prefill_stack(const zy_prefill_layer_args *layers, int64_t n, float *x, int64_t m);

#ifdef __cplusplus
}
#endif
#endif
