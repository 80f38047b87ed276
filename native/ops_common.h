/* Shared pieces of the backend's non-GEMM kernels (native/ops_*.c): op and dtype codes (they match
 * src/backend/cpu/codes.ts), ISA target attributes, the run-time ISA level, and the row primitives (max, sum,
 * dot, exp-and-sum) with their AVX-512 / AVX2 / portable variants generated from native/ops_simd.h.
 * Leaves out: the kernels themselves (one file per op family) and the Node-API glue (ops_napi.cc). */
#ifndef ZY_OPS_COMMON_H
#define ZY_OPS_COMMON_H
#include <stdint.h>
#include <stddef.h>
#include "zy_cpu.h"
#include "zy_pool.h"

enum zy_unary_op {
  ZY_NEG = 0, ZY_EXP, ZY_LOG, ZY_SQRT, ZY_RSQRT, ZY_RECIP, ZY_ABS, ZY_TANH, ZY_SIGMOID, ZY_RELU,
  ZY_GELU_TANH, ZY_GELU_ERF, ZY_SILU, ZY_SQUARE
};
enum zy_binary_op { ZY_ADD = 0, ZY_SUB, ZY_MUL, ZY_DIV, ZY_MAX, ZY_MIN, ZY_POW };
enum zy_dtype { ZY_F32 = 0, ZY_BF16, ZY_F16, ZY_I32 };

#define ZY_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define ZY_AVX2 __attribute__((target("avx2,fma,f16c")))

/* Elements of work below which a kernel stays on the calling thread (waking the pool costs more). */
#define ZY_PAR_MIN 32768

/* fn over [0, n): on the calling thread when `work` (elements touched) is below ZY_PAR_MIN, else on the pool. */
static inline void zy_ops_for(int64_t n, int64_t grain, int64_t work, zy_task_fn fn, void *ctx) {
  if (work < ZY_PAR_MIN) fn(ctx, 0, n, 0);
  else zy_parallel_for(n, grain, fn, ctx);
}

/* 2 = AVX-512, 1 = AVX2+FMA, 0 = portable; follows zy_cpu_limit. */
static inline int zy_isa_level(void) {
  const zy_cpu_features *c = zy_cpu();
  return c->avx512 ? 2 : c->avx2_fma ? 1 : 0;
}

#define ZY_GELU_C 0.044715f
#define ZY_SQRT_2_OVER_PI 0.7978845608028654f

#ifdef __cplusplus
extern "C" {
#endif

/* Row primitives, dispatched on zy_isa_level() by the caller-supplied level (read once per kernel call). */
float zy_row_max(int isa, const float *x, int64_t n);
/* y[i] = exp(x[i] - shift) (y may be NULL: only the sum), returns Σ exp(x[i] - shift). */
float zy_row_expsum(int isa, const float *x, float *y, int64_t n, float shift);
float zy_row_sum(int isa, const float *x, int64_t n);
float zy_row_dot(int isa, const float *a, const float *b, int64_t n);
/* y[i] += a·x[i] */
void zy_row_axpy(int isa, float a, const float *x, float *y, int64_t n);
/* y[i] *= a */
void zy_row_scale(int isa, float a, float *y, int64_t n);
/* Vectorised unary forward/backward for exp, tanh, sigmoid, silu, gelu_tanh; returns 0 for other ops. */
int zy_unary_vec(int isa, int op, const float *x, float *y, int64_t n);
int zy_unary_bw_vec(int isa, int op, const float *x, const float *dy, float *dx, int64_t n, int accumulate);
/* out = silu(g)·u; backward accumulates. */
void zy_swiglu_vec(int isa, const float *g, const float *u, float *out, int64_t n);
void zy_swiglu_bw_vec(int isa, const float *g, const float *u, const float *dout, float *dg, float *du, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
