/* Dense matrix multiply (GEMM) for f32 and bf16 operands, f32 output and accumulation.
 *
 *   C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C        (for each of `batch` matrices)
 *
 * Row-major and contiguous: A is stored [m,k] (or [k,m] when transA), B is stored [k,n] (or [n,k] when transB,
 * the nn.Linear weight layout), C is [m,n]. strideA/B/C are the elements between consecutive batch matrices;
 * 0 broadcasts one matrix over the batch; strideC 0 with batch > 1 applies the items in order to the same C
 * (so beta 1 sums the products, as a gradient of a broadcast weight needs). beta == 0 overwrites C without
 * reading it (NaN in C does not leak). bf16 operands are raw bits (uint16_t), widened exactly to f32.
 * Semantics are those of MatmulParams in src/backend/backend.ts; zy_sgemm_naive is the C specification.
 *
 * Leaves out: column-major layouts, leading dimensions other than the row length, f16 operands, integer GEMM
 * (quantized matmuls live in their own kernels). */
#ifndef ZY_GEMM_H
#define ZY_GEMM_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Multi-threaded (zy_parallel_for over the pool); must not be called from inside a pool task. */
void zy_sgemm(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const float *A, int64_t strideA,
              const float *B, int64_t strideB, float *C, int64_t strideC, float alpha, float beta);
void zy_bgemm(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const uint16_t *A,
              int64_t strideA, const uint16_t *B, int64_t strideB, float *C, int64_t strideC, float alpha, float beta);

/* f32 operands, each element rounded to bf16 (nearest even, NaN → quiet NaN as src/core/dtype.ts f32ToBf16)
 * before the product: bit for bit zy_bgemm of the rounded operands on CPUs without AVX512_BF16 (there zy_bgemm
 * widens to the same f32 kernels), and as fast as zy_sgemm (the rounding happens on the packed blocks). With
 * AVX512_BF16 the rounding packs vdpbf16ps pairs and the product runs zy_bgemm's pair tile (its summation order). */
void zy_sgemm_round_bf16(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const float *A,
                         int64_t strideA, const float *B, int64_t strideB, float *C, int64_t strideC, float alpha,
                         float beta);

/* Single-threaded: same result on the calling thread only, safe inside a zy_parallel_for/run task (fused
 * kernels that are already parallel). Packing buffers are per thread, so concurrent calls do not collide. */
void zy_sgemm_st(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const float *A,
                 int64_t strideA, const float *B, int64_t strideB, float *C, int64_t strideC, float alpha, float beta);

/* Rows j0 .. j1 of a linear layer on the calling thread: y[i, j] = Σ_p x[i, p]·w[j, p] for j in [j0, j1), x [m, k]
 * contiguous, w [n, k] (the nn.Linear layout), y rows ldy apart. Each element is the same sum, in the same order,
 * as zy_sgemm(1, m, n, k, 0, 1, x, 0, w, 0, y, 0, 1, 0) gives it, so a fused kernel can split a product over its
 * own pool tasks and keep the tensor path's bits. */
void zy_sgemm_linear_rows_st(int64_t m, int64_t k, const float *x, const float *w, int64_t j0, int64_t j1, float *y,
                             int64_t ldy);

/* Linear layers with f16 (bf16 1: bf16) weights w [rows, k] against m activation rows (gemm_f16w.c, AVX-512 only:
 * zy_gemm_f16w_available). The caller packs x [m, k] once (zy_gemm_f16w_pack_a into zy_gemm_f16w_packed_a_bytes);
 * zy_gemm_f16w then writes c[i·ldc + j] = Σ_p x[i, p]·w[j, p] for j in [j0, j1) on the calling thread (safe in pool
 * tasks), in the order zy_sgemm_st(1, m, n, k, 0, 1, x, 0, widened w, …) sums. -1 when out of memory. */
int zy_gemm_f16w_available(void);
size_t zy_gemm_f16w_packed_a_bytes(int64_t m, int64_t k);
void zy_gemm_f16w_pack_a(const float *x, int64_t m, int64_t k, float *packed);
int zy_gemm_f16w(const float *packed_a, int64_t m, int64_t k, const uint16_t *w, int bf16, int64_t j0, int64_t j1,
                 float *c, int64_t ldc);

/* The specification: a plain triple loop, f32 accumulation in k order. Slow; for tests and as documentation. */
void zy_sgemm_naive(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const float *A,
                    int64_t strideA, const float *B, int64_t strideB, float *C, int64_t strideC, float alpha,
                    float beta);

/* Which micro-kernel family the current ISA level selects for `bf16` operands (0 = f32):
 * "avx512-bf16" (vdpbf16ps), "avx512", "avx2", "portable". For benchmarks and tests. */
const char *zy_gemm_impl_name(int bf16);

#ifdef __cplusplus
}
#endif
#endif
