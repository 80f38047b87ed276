/* C API of the backend's non-GEMM kernels (native/ops_*.c). Semantics are those of the Backend interface in
 * src/backend/backend.ts; the TypeScript reference backend (src/backend/ref/) is the specification and the
 * cpu backend validates every size before calling these, so they do no bounds checks of their own.
 * All f32; shapes row-major; multithreaded through zy_pool.h when the work is large.
 * Leaves out: GEMM (gemm.h), quantized kernels (quant*.h). */
#ifndef ZY_OPS_KERNELS_H
#define ZY_OPS_KERNELS_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* layout (ops_elementwise.c) */
void zy_op_copy_strided(const void *src, int64_t src_off, const int64_t *src_strides, void *dst, int64_t dst_off,
                        const int64_t *dst_strides, const int64_t *shape, int rank, int elem_bytes);
/* dst view += src view (f32), the strided twin of an axpy: a gradient added into one slice of a bigger one. */
void zy_op_add_strided(const float *src, int64_t src_off, const int64_t *src_strides, float *dst, int64_t dst_off,
                       const int64_t *dst_strides, const int64_t *shape, int rank);
void zy_op_cast(const void *src, int src_type, void *dst, int dst_type, int64_t n);
/* elementwise (ops_elementwise.c) */
void zy_op_unary(int op, const float *x, float *y, int64_t n);
void zy_op_unary_bw(int op, const float *x, const float *dy, float *dx, int64_t n, int accumulate);
void zy_op_binary(int op, const float *a, const int64_t *a_strides, const float *b, const int64_t *b_strides,
                  float *out, const int64_t *shape, int rank);
void zy_op_scale(const float *x, float *y, int64_t n, float alpha, float beta);
void zy_op_axpy(float alpha, const float *x, float *y, int64_t n);
void zy_op_swiglu(const float *g, const float *u, float *out, int64_t n);
void zy_op_swiglu_bw(const float *g, const float *u, const float *dout, float *dg, float *du, int64_t n);
/* reduce (ops_reduce.c) */
void zy_op_reduce_sum(const float *x, float *out, int64_t outer, int64_t size, int64_t inner, int accumulate);
void zy_op_reduce_max(const float *x, float *out, int64_t outer, int64_t size, int64_t inner);
/* read-bandwidth probe (ops_read.c): Σ x[i] mod 2^32, one contiguous share per pool thread */
enum zy_read_variant { ZY_READ_PLAIN = 0, ZY_READ_PREFETCH, ZY_READ_NONTEMPORAL };
uint32_t zy_op_read_checksum(const int32_t *x, int64_t n, int variant);
/* softmax (ops_softmax.c) */
void zy_op_softmax(const float *x, float *y, int64_t rows, int64_t cols, int log);
void zy_op_softmax_bw(const float *y, const float *dy, float *dx, int64_t rows, int64_t cols, int log);
/* norms (ops_norm.c); w, b, dw, db may be NULL; backward returns -1 when out of memory */
void zy_op_layernorm(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                     int64_t rows, int64_t cols, float eps);
int zy_op_layernorm_bw(const float *x, const float *w, const float *mean, const float *rstd, const float *dy,
                        float *dx, float *dw, float *db, int64_t rows, int64_t cols);
void zy_op_rmsnorm(const float *x, const float *w, float *y, float *rstd, int64_t rows, int64_t cols, float eps);
/* zy_op_rmsnorm on the calling thread only (inside pool tasks); same results. */
void zy_op_layernorm_serial(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                            int64_t rows, int64_t cols, float eps);
void zy_op_rmsnorm_serial(const float *x, const float *w, float *y, float *rstd, int64_t rows, int64_t cols, float eps);
int zy_op_rmsnorm_bw(const float *x, const float *w, const float *rstd, const float *dy, float *dx, float *dw,
                      int64_t rows, int64_t cols);
/* rope (ops_rope.c); returns -1 when out of memory */
int zy_op_rope(float *x, int64_t b, int64_t t, int64_t heads, int64_t head_dim, int64_t rot_dim, int64_t pos0,
                const float *freqs, int interleaved, int inverse);
/* cs [t, 2·half]: row ti holds cos then sin of (pos0 + ti)·freqs[i] (−sin with inverse), computed in double. */
void zy_rope_table(const float *freqs, int64_t half, int64_t pos0, int64_t t, int inverse, float *cs);
/* rows × heads vectors of head_dim, in place, on the calling thread; row r rotated by cs + r·cs_stride. */
void zy_rope_rows(float *x, int64_t rows, int64_t heads, int64_t head_dim, int64_t half, const float *cs,
                  int64_t cs_stride, int interleaved);
/* embedding (ops_embedding.c) */
void zy_op_embedding(const float *table, const int32_t *ids, float *out, int64_t n, int64_t dim);
void zy_op_embedding_bw(const int32_t *ids, const float *dout, float *dtable, int64_t n, int64_t dim);
/* attention (ops_attention.c): q, out [b, tq, nh, d]; k, v [b, cap, nkv, d] of kv_type: f32, f16 bits, or q8_0
 * blocks (d a multiple of 32; a row of d values is d/32 blocks of 34 bytes); lse [b, nh, tq] */
enum zy_kv_type { ZY_KV_F32 = 0, ZY_KV_F16 = 1, ZY_KV_Q8_0 = 2 };
void zy_op_attention(const float *q, const void *k, const void *v, int kv_type, float *out, float *lse, int64_t b,
                     int64_t tq, int64_t tk, int64_t nh, int64_t nkv, int64_t d, float scale, int causal, int64_t cap);
/* Decode: m sequences with one query each, q and out [m, nh, d], lse [m, nh]; sequence i attends keys
 * [0, n_keys[i]) of k_cache[i], v_cache[i] [cap_i, nkv, d] (kv_type). Rows (sequence, head) run in parallel, split
 * by key chunks when there are few of them (not from inside a pool task); each row gives the same bits as
 * zy_op_attention's row for that query, at any thread count. */
void zy_op_attention_decode(int64_t m, const float *q, const void *const *k_cache, const void *const *v_cache,
                            int kv_type, const int64_t *n_keys, float *out, float *lse, int64_t nh, int64_t nkv,
                            int64_t d, float scale);
/* The same for the kv heads [kvh0, kvh1) only (their query heads' rows), on the calling thread: for a pool task that
 * splits the heads over its threads (decode_layer.c). The same bits as zy_op_attention_decode's rows. */
void zy_op_attention_decode_heads(int64_t m, const float *q, const void *const *k_cache, const void *const *v_cache,
                                  int kv_type, const int64_t *n_keys, float *out, float *lse, int64_t nh, int64_t nkv,
                                  int64_t d, float scale, int64_t kvh0, int64_t kvh1);
void zy_op_attention_bw(const float *q, const float *k, const float *v, const float *out, const float *lse,
                        const float *dout, float *dq, float *dk, float *dv, int64_t b, int64_t tq, int64_t tk,
                        int64_t nh, int64_t nkv, int64_t d, float scale, int causal, int64_t cap);
/* ops_attention_bw.c: the backward blocked over 16 keys (AVX-512, d a multiple of 16 up to 128); returns 0 without
 * touching anything when it does not cover the call (zy_op_attention_bw then runs its generic rows). */
int zy_attention_bw_blocked(const float *q, const float *k, const float *v, const float *out, const float *lse,
                            const float *dout, float *dq, float *dk, float *dv, int64_t b, int64_t tq, int64_t tk,
                            int64_t nh, int64_t nkv, int64_t d, float scale, int causal, int64_t cap);
/* kv_memory.c: the 2 MiB-aligned middle of [p, p + n) marked for transparent huge pages (their first touch faults in
 * 2 MiB pages); returns 1 when advised, 0 when the buffer has no aligned 2 MiB page or the system declines. */
int zy_advise_huge_pages(void *p, size_t n);
/* loss (ops_loss.c) */
int64_t zy_op_cross_entropy(const float *logits, const int32_t *targets, float *losses, int64_t rows, int64_t cols,
                            int32_t ignore_index);
void zy_op_cross_entropy_bw(const float *logits, const int32_t *targets, const float *dloss, float *dlogits,
                            int64_t rows, int64_t cols, int32_t ignore_index);
/* optimizer (ops_optim.c) */
void zy_op_adamw(float *param, const float *grad, float *m, float *v, int64_t n, float lr, float beta1, float beta2,
                 float eps, float weight_decay, int64_t step, int decay);
/* The same step on the calling thread only (the data-parallel communication thread: no pool). */
void zy_op_adamw_st(float *param, const float *grad, float *m, float *v, int64_t n, float lr, float beta1, float beta2,
                    float eps, float weight_decay, int64_t step, int decay);

#ifdef __cplusplus
}
#endif
#endif
