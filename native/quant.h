/* Quantized GGUF weights: dequantization, ggml's reference quantizers, and matmul with activations rounded the
 * way ggml-cpu rounds them (Q8_0/Q8_1 blocks for q8_0/q4_0/q4_1/q5_0/q5_1, Q8_K for k-quants, f16/bf16 for
 * f16/bf16 weights, exact for f32). src/backend/ref/quant.ts is the specification; the portable path here follows
 * it operation for operation, the SIMD paths sum in a different order (within ~1e-6 relative).
 * Not reentrant (shares a scratch buffer for quantized activations and the thread pool). */
#ifndef ZY_QUANT_H
#define ZY_QUANT_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  ZY_QT_F32, ZY_QT_F16, ZY_QT_BF16, ZY_QT_Q8_0, ZY_QT_Q4_0, ZY_QT_Q4_1, ZY_QT_Q5_0, ZY_QT_Q5_1,
  ZY_QT_Q4_K, ZY_QT_Q5_K, ZY_QT_Q6_K,
  /* Repacked forms of q8_0, q4_0, q4_k, q6_k (native/quant_r16.c), made in memory by zy_repack_r16; never in a file. */
  ZY_QT_Q8_0_R16, ZY_QT_Q4_0_R16, ZY_QT_Q4_K_R16, ZY_QT_Q6_K_R16, ZY_QT_COUNT
} zy_qtype;

/* The type named "q4_k" etc. (lowercase GGUF names), or -1. */
int zy_qtype_from_name(const char *name);
const char *zy_qtype_name(int type);
int zy_qtype_block_elems(int type);
int zy_qtype_block_bytes(int type);

/* Rewrites a q8_0, q4_0, q4_k or q6_k matrix [rows, cols] in place into its r16 layout (rows a multiple of 16)
 * and returns the r16 type; -1 for another type or shape (w untouched), -2 when out of memory. */
int zy_repack_r16(uint8_t *w, int type, int64_t rows, int64_t cols);
int zy_qtype_is_r16(int type);

/* n elements (a multiple of the block size) of raw blocks → f32 (not the r16 types, whose rows are interleaved). */
void zy_dequantize(const uint8_t *w, int type, float *out, int64_t n);
/* f32 → blocks with ggml's quantize_row_*_ref (q8_0, q4_0, q4_1, q5_0, q5_1) or round-to-nearest-even (f16,
 * bf16). Returns 0, or -1 for a type it cannot produce. */
int zy_quantize(const float *x, int type, uint8_t *out, int64_t n);
/* out[i*rows + r] = dot(W row r, x row i), W [rows, cols] raw blocks, x [m, cols], out [m, rows]. Returns 0, or
 * -1 when the scratch buffer for the quantized activations cannot be allocated (-3: an r16 type with rows not a
 * multiple of 16). */
int zy_quant_matmul(const uint8_t *w, int type, int64_t rows, int64_t cols, const float *x, float *out, int64_t m);
/* One product of zy_quant_matmul_multi: out [m, rows] = x [m, cols] · Wᵀ. */
typedef struct {
  const uint8_t *w;
  int type;
  int64_t rows, cols;
  const float *x;
  float *out;
  int64_t m;
} zy_qmm_job;
/* Several products in one pool dispatch (their row chunks share the threads), each with the results
 * zy_quant_matmul gives it; products reading the same x in the same activation form quantize it once. Returns as
 * zy_quant_matmul. */
int zy_quant_matmul_multi(const zy_qmm_job *jobs, int n);
/* One product's rows on the calling thread, for a kernel that splits the rows over its own pool task (the pool is not
 * reentrant): zy_quant_rows_plan (outside the task: it reads the tuning table) writes the kernel choice
 * zy_quant_matmul_multi would make into plan (zy_quant_rows_plan_bytes), zy_quant_act_fill puts x [m, cols] into
 * the caller's 64-byte-aligned buf (zy_quant_act_bytes) in the form the product reads, and zy_quant_rows computes
 * out rows [r0, r1) of every activation row: the same kernels on the same values as zy_quant_matmul, so the same
 * bits when r0 and r1 are multiples of 16. Plan returns 0, -3 (an r16 type with rows not a multiple of 16) or -4
 * (f16/bf16 with m ≥ 16: the panel GEMM, not split here). */
size_t zy_quant_rows_plan_bytes(void);
int zy_quant_rows_plan(const zy_qmm_job *job, void *plan);
size_t zy_quant_act_bytes(int type, int64_t cols, int64_t m);
void zy_quant_act_fill(int type, int64_t cols, const float *x, int64_t m, void *buf);
void zy_quant_rows(const void *plan, const void *act, int64_t r0, int64_t r1);
/* zy_quant_rows for m activation rows into out [m, rows] (the plan's own m and out ignored): a caller whose threads
 * each take their own activation rows (native/prefill_layer.c) plans a product once and runs it on every thread's
 * rows. The same kernels on the same values as zy_quant_matmul with m rows: the same bits. */
void zy_quant_rows_into(const void *plan, const void *act, int64_t m, float *out, int64_t r0, int64_t r1);
/* Which kernel family the current ISA level selects: "avx512-vnni", "avx2" or "portable". */
const char *zy_quant_impl(void);

#ifdef __cplusplus
}
#endif
#endif
