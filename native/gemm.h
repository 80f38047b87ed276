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

/* Linear layers on weights packed once into the f32 tile's B panels (gemm_packed.c, AVX-512 only: zy_pw_available).
 * Panel elements ZY_PW_F32 (from f32, f16 or bf16 weights) or the weight's own 16-bit type (widened in registers).
 * zy_pw_pack writes w [n, k] (nn.Linear layout; src a ZY_PW_* type) into zy_pw_bytes(elem, n, k) bytes (-1: an
 * unsupported pair). zy_pw_gemm_rows writes c[i·ldc + j] = Σ_p x[i, p]·w[j, p] for j in [j0, j1) (j0 a multiple of
 * ZY_PW_NR) on the calling thread from x packed by zy_pw_pack_a, with the bits of zy_sgemm_st(1, m, n, k, 0, 1, x,
 * 0, widened w, …) for m > 8; zy_pw_gemm is the whole product over the pool (-1: out of memory). zy_pw_round_act
 * rounds activations as zy_quant_matmul does for f16 / bf16 weights. zy_pw_calls counts zy_pw_gemm_rows calls. */
enum { ZY_PW_F32 = 0, ZY_PW_F16 = 1, ZY_PW_BF16 = 2 };
#define ZY_PW_NR 32
int zy_pw_available(void);
int64_t zy_pw_kc(void);
size_t zy_pw_bytes(int elem, int64_t n, int64_t k);
int zy_pw_pack(const void *w, int src, int64_t n, int64_t k, int elem, void *dst);
size_t zy_pw_packed_a_bytes(int64_t m, int64_t k);
void zy_pw_pack_a(const float *x, int64_t m, int64_t k, float *packed);
void zy_pw_gemm_rows(const float *packed_a, int64_t m, int64_t k, const void *pw, int elem, int64_t n, int64_t j0,
                     int64_t j1, float *c, int64_t ldc);
/* The same, calling done(done_ctx, a, b) as soon as columns [a, b) of every row are final (one call per column pass
 * of up to 256 columns, 768 from 512 rows), so an epilogue can finish them while they are in cache. */
typedef void (*zy_pw_pass_done)(void *done_ctx, int64_t j0, int64_t j1);
void zy_pw_gemm_rows_each(const float *packed_a, int64_t m, int64_t k, const void *pw, int elem, int64_t n, int64_t j0,
                          int64_t j1, float *c, int64_t ldc, zy_pw_pass_done done, void *done_ctx);
/* zy_pw_round_act (src ZY_PW_F16 / BF16; none for ZY_PW_F32) then zy_pw_pack_a, row panels split over the pool;
 * rounded: m·k floats of scratch (unused for f32). Not from inside a pool task. */
void zy_pw_prepare_a(int src, const float *x, int64_t m, int64_t k, float *rounded, float *packed);
/* The same for row panels [q0, q1) only (rows 12·q0 … of the tile, zy_pw_prepare_panel_rows each), on the calling
 * thread: for kernels that split the preparation themselves inside a pool task. */
void zy_pw_prepare_a_panels(int src, const float *x, int64_t m, int64_t k, float *rounded, float *packed, int64_t q0,
                            int64_t q1);
int64_t zy_pw_prepare_panel_rows(void);
int zy_pw_gemm(const float *x, int64_t m, int64_t k, const void *pw, int elem, int64_t n, float *y);
void zy_pw_round_act(int src, const float *x, float *out, int64_t count);
/* zy_quant_matmul's product of a weight of type src (ZY_PW_*) on its packed panels: x rounded as it rounds it, then
 * zy_pw_gemm — its bits wherever zy_pw_replaces_quant says it runs its own panel GEMM. -1: out of memory. */
int zy_pw_replaces_quant(int type, int64_t m, int64_t rows, int64_t cols);
int zy_pw_linear(int src, const float *x, int64_t m, int64_t k, const void *pw, int elem, int64_t n, float *y);
uint64_t zy_pw_calls(void);

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
