/* A decoder prompt's SwiGLU MLP sublayer on packed panels, rows split over the pool (prefill_mlp.c). */
#ifndef ZY_PREFILL_MLP_H
#define ZY_PREFILL_MLP_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Whether zy_prefill_mlp runs this shape (src: ZY_PW_F16 / ZY_PW_BF16, the weights' type; m rows, d hidden, f ffn). */
int zy_prefill_mlp_applies(int src, int64_t m, int64_t d, int64_t f);
/* x [m, d] += down · (silu(gate·h) ⊙ up·h), h = RMSNorm(x; norm_w, eps); gu_panels: [gate; up] ([2f, d]) and
 * down_panels ([d, f]) packed by zy_pw_pack into elements gu_elem / down_elem. 0: done; 1: not this shape
 * (zy_prefill_mlp_applies; x untouched); -1: out of memory. */
int zy_prefill_mlp(float *x, int64_t m, int64_t d, int64_t f, const float *norm_w, float eps, int src,
                   const void *gu_panels, int gu_elem, const void *down_panels, int down_elem);
/* The sublayer for mt rows of x on the calling thread (inside a pool task; prefill_layer.c runs it after the attention
 * sublayer of the same rows): the same bits as zy_prefill_mlp's rows. 0, or -1: out of memory. */
int zy_prefill_mlp_chunk(float *x, int64_t mt, int64_t d, int64_t f, const float *norm_w, float eps, int src,
                         const void *gu_panels, int gu_elem, const void *down_panels, int down_elem);

#ifdef __cplusplus
}
#endif
#endif
