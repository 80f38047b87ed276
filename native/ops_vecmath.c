/* Row primitives and vectorised unary math for the op kernels: AVX-512 and AVX2 variants generated from
 * ops_simd.h, portable scalar twins (libm expf/tanhf, 8 partial sums), and dispatch on the ISA level.
 * Leaves out: the kernels that use them (ops_softmax.c, ops_norm.c, ...). */
#include <math.h>
#include "ops_common.h"

#define ZV 16
#include "ops_simd.h"
#undef ZV
#define ZV 8
#include "ops_simd.h"
#undef ZV

static float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

/* sigmoid(z) and 1 − sigmoid(z) without cancellation (see vsig2 in ops_simd.h). */
static void sig2(float z, float *s, float *oms) {
  float e = expf(-fabsf(z)), r = 1.0f / (1.0f + e), pe = e * r;
  *s = z < 0 ? pe : r;
  *oms = z < 0 ? r : pe;
}

static float unary_scalar(int op, float x) {
  switch (op) {
    case ZY_EXP: return expf(x);
    case ZY_TANH: return tanhf(x);
    case ZY_SIGMOID: return sigmoidf_(x);
    case ZY_SILU: return x * sigmoidf_(x);
    default: return x * sigmoidf_(2.0f * ZY_SQRT_2_OVER_PI * (x + ZY_GELU_C * x * x * x));
  }
}

static float unary_grad_scalar(int op, float x) {
  float s, oms;
  switch (op) {
    case ZY_EXP: return expf(x);
    case ZY_TANH: { float e = expf(-2.0f * fabsf(x)), d = 1.0f + e; return 4.0f * e / (d * d); }
    case ZY_SIGMOID: sig2(x, &s, &oms); return s * oms;
    case ZY_SILU: sig2(x, &s, &oms); return s * (1.0f + x * oms);
    default:
      sig2(2.0f * ZY_SQRT_2_OVER_PI * (x + ZY_GELU_C * x * x * x), &s, &oms);
      return s + 2.0f * x * s * oms * ZY_SQRT_2_OVER_PI * (1.0f + 3.0f * ZY_GELU_C * x * x);
  }
}

/* gelu_erf is vectorised for AVX2/AVX-512 only (vphi); the portable path keeps libm's erfc (ops_elementwise.c). */
static int vec_op(int op, int isa) {
  return op == ZY_EXP || op == ZY_TANH || op == ZY_SIGMOID || op == ZY_SILU || op == ZY_GELU_TANH || (op == ZY_GELU_ERF && isa >= 1);
}

int zy_unary_vec(int isa, int op, const float *x, float *y, int64_t n) {
  if (!vec_op(op, isa)) return 0;
  if (isa >= 2) return unary_vec_avx512(op, x, y, n);
  if (isa == 1) return unary_vec_avx2(op, x, y, n);
  for (int64_t i = 0; i < n; i++) y[i] = unary_scalar(op, x[i]);
  return 1;
}

int zy_unary_bw_vec(int isa, int op, const float *x, const float *dy, float *dx, int64_t n, int accumulate) {
  if (!vec_op(op, isa)) return 0;
  if (isa >= 2) return unary_bw_vec_avx512(op, x, dy, dx, n, accumulate);
  if (isa == 1) return unary_bw_vec_avx2(op, x, dy, dx, n, accumulate);
  for (int64_t i = 0; i < n; i++) {
    float g = dy[i] * unary_grad_scalar(op, x[i]);
    dx[i] = accumulate ? dx[i] + g : g;
  }
  return 1;
}

void zy_swiglu_vec(int isa, const float *g, const float *u, float *out, int64_t n) {
  if (isa >= 2) { swiglu_vec_avx512(g, u, out, n); return; }
  if (isa == 1) { swiglu_vec_avx2(g, u, out, n); return; }
  for (int64_t i = 0; i < n; i++) out[i] = g[i] * sigmoidf_(g[i]) * u[i];
}

void zy_swiglu_bw_vec(int isa, const float *g, const float *u, const float *dout, float *dg, float *du, int64_t n) {
  if (isa >= 2) { swiglu_bw_vec_avx512(g, u, dout, dg, du, n); return; }
  if (isa == 1) { swiglu_bw_vec_avx2(g, u, dout, dg, du, n); return; }
  for (int64_t i = 0; i < n; i++) {
    float s, oms;
    sig2(g[i], &s, &oms);
    dg[i] += dout[i] * u[i] * s * (1.0f + g[i] * oms);
    du[i] += dout[i] * g[i] * s;
  }
}

float zy_row_max(int isa, const float *x, int64_t n) {
  if (isa >= 2) return row_max_avx512(x, n);
  if (isa == 1) return row_max_avx2(x, n);
  float m = -INFINITY;
  for (int64_t i = 0; i < n; i++) if (x[i] > m) m = x[i];
  return m;
}

float zy_row_expsum(int isa, const float *x, float *y, int64_t n, float shift) {
  if (isa >= 2) return row_expsum_avx512(x, y, n, shift);
  if (isa == 1) return row_expsum_avx2(x, y, n, shift);
  float acc[8] = {0};
  for (int64_t i = 0; i < n; i++) {
    float e = expf(x[i] - shift);
    acc[i & 7] += e;
    if (y) y[i] = e;
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

float zy_row_sum(int isa, const float *x, int64_t n) {
  if (isa >= 2) return row_sum_avx512(x, n);
  if (isa == 1) return row_sum_avx2(x, n);
  float acc[8] = {0};
  for (int64_t i = 0; i < n; i++) acc[i & 7] += x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

float zy_row_dot(int isa, const float *a, const float *b, int64_t n) {
  if (isa >= 2) return row_dot_avx512(a, b, n);
  if (isa == 1) return row_dot_avx2(a, b, n);
  float acc[8] = {0};
  for (int64_t i = 0; i < n; i++) acc[i & 7] += a[i] * b[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void zy_row_axpy(int isa, float a, const float *x, float *y, int64_t n) {
  if (isa >= 2) { row_axpy_avx512(a, x, y, n); return; }
  if (isa == 1) { row_axpy_avx2(a, x, y, n); return; }
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void zy_row_scale(int isa, float a, float *y, int64_t n) {
  if (isa >= 2) { row_scale_avx512(a, y, n); return; }
  if (isa == 1) { row_scale_avx2(a, y, n); return; }
  for (int64_t i = 0; i < n; i++) y[i] *= a;
}
