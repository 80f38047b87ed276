/* Element-wise kernels: unary ops and their derivatives, broadcasting binary ops, scale, axpy, SwiGLU, dtype
 * casts and strided copies. Exp-based ops use the vectorised math of ops_vecmath.c; the rest are plain loops
 * the compiler vectorises. Large arrays are split over the thread pool.
 * Leaves out: bounds checks (the TS layer does them), in-place aliasing other than out == x. */
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"
#include "zy_half.h"

/* ---- unary ---- */

static float unary_one(int op, float x) {
  switch (op) {
    case ZY_NEG: return -x;
    case ZY_LOG: return logf(x);
    case ZY_SQRT: return sqrtf(x);
    case ZY_RSQRT: return 1.0f / sqrtf(x);
    case ZY_RECIP: return 1.0f / x;
    case ZY_ABS: return fabsf(x);
    case ZY_RELU: return x > 0 ? x : 0.0f;
    case ZY_SQUARE: return x * x;
    default: return (float)(0.5 * x * erfc(-x * 0.70710678118654752)); /* ZY_GELU_ERF */
  }
}

static float unary_grad_one(int op, float x) {
  switch (op) {
    case ZY_NEG: return -1.0f;
    case ZY_LOG: return 1.0f / x;
    case ZY_SQRT: return 0.5f / sqrtf(x);
    case ZY_RSQRT: return -0.5f / (x * sqrtf(x));
    case ZY_RECIP: return -1.0f / (x * x);
    case ZY_ABS: return x > 0 ? 1.0f : x < 0 ? -1.0f : 0.0f;
    case ZY_RELU: return x > 0 ? 1.0f : 0.0f;
    case ZY_SQUARE: return 2.0f * x;
    default: { /* ZY_GELU_ERF: Φ(x) + x·φ(x) */
      double xd = x;
      return (float)(0.5 * erfc(-xd * 0.70710678118654752) + xd * 0.39894228040143268 * exp(-0.5 * xd * xd));
    }
  }
}

typedef struct {
  int op, isa, accumulate;
  const float *x, *dy, *g, *u;
  float *y, *dx, *dg, *du;
} unary_ctx;

static void unary_task(void *p, int64_t b, int64_t e, int t) {
  (void)t;
  unary_ctx *c = p;
  if (zy_unary_vec(c->isa, c->op, c->x + b, c->y + b, e - b)) return;
  for (int64_t i = b; i < e; i++) c->y[i] = unary_one(c->op, c->x[i]);
}

void zy_op_unary(int op, const float *x, float *y, int64_t n) {
  unary_ctx c = {.op = op, .isa = zy_isa_level(), .x = x, .y = y};
  zy_ops_for(n, 4096, n, unary_task, &c);
}

static void unary_bw_task(void *p, int64_t b, int64_t e, int t) {
  (void)t;
  unary_ctx *c = p;
  if (zy_unary_bw_vec(c->isa, c->op, c->x + b, c->dy + b, c->dx + b, e - b, c->accumulate)) return;
  for (int64_t i = b; i < e; i++) {
    float g = c->dy[i] * unary_grad_one(c->op, c->x[i]);
    c->dx[i] = c->accumulate ? c->dx[i] + g : g;
  }
}

void zy_op_unary_bw(int op, const float *x, const float *dy, float *dx, int64_t n, int accumulate) {
  unary_ctx c = {.op = op, .isa = zy_isa_level(), .accumulate = accumulate, .x = x, .dy = dy, .dx = dx};
  zy_ops_for(n, 4096, n, unary_bw_task, &c);
}

static void swiglu_task(void *p, int64_t b, int64_t e, int t) {
  (void)t;
  unary_ctx *c = p;
  if (c->dg) zy_swiglu_bw_vec(c->isa, c->g + b, c->u + b, c->dy + b, c->dg + b, c->du + b, e - b);
  else zy_swiglu_vec(c->isa, c->g + b, c->u + b, c->y + b, e - b);
}

void zy_op_swiglu(const float *g, const float *u, float *out, int64_t n) {
  unary_ctx c = {.isa = zy_isa_level(), .g = g, .u = u, .y = out};
  zy_ops_for(n, 4096, n, swiglu_task, &c);
}

void zy_op_swiglu_bw(const float *g, const float *u, const float *dout, float *dg, float *du, int64_t n) {
  unary_ctx c = {.isa = zy_isa_level(), .g = g, .u = u, .dy = dout, .dg = dg, .du = du};
  zy_ops_for(n, 4096, n, swiglu_task, &c);
}

/* ---- scale, axpy ---- */

typedef struct { const float *x; float *y; float alpha, beta; int axpy; } scale_ctx;

static void scale_task(void *p, int64_t b, int64_t e, int t) {
  (void)t;
  scale_ctx *c = p;
  const float *x = c->x;
  float *y = c->y, alpha = c->alpha, beta = c->beta;
  if (c->axpy) for (int64_t i = b; i < e; i++) y[i] += alpha * x[i];
  else for (int64_t i = b; i < e; i++) y[i] = alpha * x[i] + beta;
}

void zy_op_scale(const float *x, float *y, int64_t n, float alpha, float beta) {
  scale_ctx c = {x, y, alpha, beta, 0};
  zy_ops_for(n, 4096, n, scale_task, &c);
}

void zy_op_axpy(float alpha, const float *x, float *y, int64_t n) {
  scale_ctx c = {x, y, alpha, 0.0f, 1};
  zy_ops_for(n, 4096, n, scale_task, &c);
}

/* ---- binary with broadcasting strides ---- */

#define ZY_MAX_RANK 16

static inline float binary_one(int op, float a, float b) {
  switch (op) {
    case ZY_ADD: return a + b;
    case ZY_SUB: return a - b;
    case ZY_MUL: return a * b;
    case ZY_DIV: return a / b;
    case ZY_MAX: return (a > b || a != a) ? a : b;
    case ZY_MIN: return (a < b || a != a) ? a : b;
    default: return powf(a, b);
  }
}

/* One row of the innermost dim; the common stride patterns get their own loops so they vectorise. */
static void binary_row(int op, const float *a, int64_t sa, const float *b, int64_t sb, float *out, int64_t n) {
#define ZY_BIN_LOOPS(EXPR)                                                              \
  if (sa == 1 && sb == 1) for (int64_t i = 0; i < n; i++) { float x = a[i], y = b[i]; out[i] = (EXPR); } \
  else if (sa == 1 && sb == 0) { float y = b[0]; for (int64_t i = 0; i < n; i++) { float x = a[i]; out[i] = (EXPR); } } \
  else if (sa == 0 && sb == 1) { float x = a[0]; for (int64_t i = 0; i < n; i++) { float y = b[i]; out[i] = (EXPR); } } \
  else for (int64_t i = 0; i < n; i++) { float x = a[i * sa], y = b[i * sb]; out[i] = (EXPR); }
  switch (op) {
    case ZY_ADD: ZY_BIN_LOOPS(x + y) break;
    case ZY_SUB: ZY_BIN_LOOPS(x - y) break;
    case ZY_MUL: ZY_BIN_LOOPS(x * y) break;
    case ZY_DIV: ZY_BIN_LOOPS(x / y) break;
    default: ZY_BIN_LOOPS(binary_one(op, x, y)) break;
  }
#undef ZY_BIN_LOOPS
}

typedef struct {
  int op, rank;
  const float *a, *b;
  float *out;
  int64_t shape[ZY_MAX_RANK], as[ZY_MAX_RANK], bs[ZY_MAX_RANK];
} binary_ctx;

static void binary_task(void *p, int64_t r0, int64_t r1, int t) {
  (void)t;
  binary_ctx *c = p;
  int outer_rank = c->rank - 1;
  int64_t inner = c->shape[outer_rank];
  int64_t idx[ZY_MAX_RANK];
  int64_t ao = 0, bo = 0, rem = r0;
  for (int d = outer_rank - 1; d >= 0; d--) {
    idx[d] = rem % c->shape[d];
    rem /= c->shape[d];
    ao += idx[d] * c->as[d];
    bo += idx[d] * c->bs[d];
  }
  for (int64_t r = r0; r < r1; r++) {
    binary_row(c->op, c->a + ao, c->as[outer_rank], c->b + bo, c->bs[outer_rank], c->out + r * inner, inner);
    for (int d = outer_rank - 1; d >= 0; d--) {
      idx[d]++;
      ao += c->as[d];
      bo += c->bs[d];
      if (idx[d] < c->shape[d]) break;
      ao -= c->as[d] * c->shape[d];
      bo -= c->bs[d] * c->shape[d];
      idx[d] = 0;
    }
  }
}

void zy_op_binary(int op, const float *a, const int64_t *a_strides, const float *b, const int64_t *b_strides,
                  float *out, const int64_t *shape, int rank) {
  binary_ctx c = {.op = op, .a = a, .b = b, .out = out};
  /* Merge adjacent dims that are contiguous in a, b and out alike, so most calls become one long row. */
  int r = 0;
  int64_t total = 1;
  for (int d = 0; d < rank; d++) {
    total *= shape[d];
    if (shape[d] == 1) continue;
    if (r > 0 && c.as[r - 1] == a_strides[d] * shape[d] && c.bs[r - 1] == b_strides[d] * shape[d]) {
      c.shape[r - 1] *= shape[d];
      c.as[r - 1] = a_strides[d];
      c.bs[r - 1] = b_strides[d];
      continue;
    }
    c.shape[r] = shape[d]; c.as[r] = a_strides[d]; c.bs[r] = b_strides[d];
    r++;
  }
  if (total == 0) return;
  if (r == 0) { c.shape[0] = 1; c.as[0] = 0; c.bs[0] = 0; r = 1; }
  c.rank = r;
  int64_t rows = total / c.shape[r - 1];
  int64_t grain = 4096 / c.shape[r - 1] + 1;
  zy_ops_for(rows, grain, total, binary_task, &c);
}

/* ---- casts and strided copies ---- */

static inline float load_as_f32(const void *src, int type, int64_t i) {
  switch (type) {
    case ZY_F32: return ((const float *)src)[i];
    case ZY_BF16: return zy_bf16_to_f32(((const uint16_t *)src)[i]);
    case ZY_F16: return zy_f16_to_f32(((const uint16_t *)src)[i]);
    default: return (float)((const int32_t *)src)[i];
  }
}

/* f32 → f16 eight at a time with F16C: round to nearest even, the bits of zy_f32_to_f16 (a NaN keeps its sign and top
 * 10 payload bits with the quiet bit set; f32 subnormals round to a signed zero). An f16 KV cache is written this way:
 * the scalar loop was ~6 % of a 2,048-token F16 prefill at 110M. */
static ZY_AVX2 void cast_f32_to_f16_f16c(const float *x, uint16_t *o, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(o + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) o[i] = zy_f32_to_f16(x[i]);
}

void zy_op_cast(const void *src, int src_type, void *dst, int dst_type, int64_t n) {
  if (src_type == dst_type) { memmove(dst, src, (size_t)n * (src_type == ZY_BF16 || src_type == ZY_F16 ? 2 : 4)); return; }
  if (src_type == ZY_F32 && dst_type == ZY_F16 && zy_isa_level() >= 1) {
    cast_f32_to_f16_f16c((const float *)src, (uint16_t *)dst, n);
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    if (src_type == ZY_I32 && dst_type == ZY_F32) { ((float *)dst)[i] = (float)((const int32_t *)src)[i]; continue; }
    float v = load_as_f32(src, src_type, i);
    switch (dst_type) {
      case ZY_F32: ((float *)dst)[i] = v; break;
      case ZY_BF16: ((uint16_t *)dst)[i] = zy_f32_to_bf16(v); break;
      case ZY_F16: ((uint16_t *)dst)[i] = zy_f32_to_f16(v); break;
      default: { /* truncate toward zero, NaN → 0, saturate */
        int32_t r = v != v ? 0 : v >= 2147483647.0f ? 2147483647 : v <= -2147483648.0f ? INT32_MIN : (int32_t)v;
        ((int32_t *)dst)[i] = r;
      }
    }
  }
}

/* The odometer step of the strided walks below: the next innermost row's source and destination offsets; 0 after
 * the last row. */
static int strided_next_row(int64_t *idx, const int64_t *shape, int rank, const int64_t *src_strides,
                            const int64_t *dst_strides, int64_t *s, int64_t *t) {
  for (int d = rank - 2; d >= 0; d--) {
    idx[d]++;
    *s += src_strides[d];
    *t += dst_strides[d];
    if (idx[d] < shape[d]) return 1;
    *s -= src_strides[d] * shape[d];
    *t -= dst_strides[d] * shape[d];
    idx[d] = 0;
  }
  return 0;
}

/* The odometer walk of zy_op_copy_strided, adding instead of copying (one f32 add per element: the bits of a
 * separate add into a temporary and a copy back, without the temporary's pass). */
void zy_op_add_strided(const float *src, int64_t src_off, const int64_t *src_strides, float *dst, int64_t dst_off,
                       const int64_t *dst_strides, const int64_t *shape, int rank) {
  for (int d = 0; d < rank; d++) if (shape[d] == 0) return;
  if (rank == 0) { dst[dst_off] += src[src_off]; return; }
  int64_t idx[ZY_MAX_RANK] = {0};
  int64_t s = src_off, t = dst_off, inner = shape[rank - 1], si = src_strides[rank - 1], ti = dst_strides[rank - 1];
  for (;;) {
    const float *a = src + s;
    float *o = dst + t;
    if (si == 1 && ti == 1) for (int64_t i = 0; i < inner; i++) o[i] += a[i];
    else for (int64_t i = 0; i < inner; i++) o[i * ti] += a[i * si];
    if (!strided_next_row(idx, shape, rank, src_strides, dst_strides, &s, &t)) return;
  }
}

void zy_op_copy_strided(const void *src, int64_t src_off, const int64_t *src_strides, void *dst, int64_t dst_off,
                        const int64_t *dst_strides, const int64_t *shape, int rank, int elem_bytes) {
  for (int d = 0; d < rank; d++) if (shape[d] == 0) return;
  if (rank == 0) { memcpy((char *)dst + dst_off * elem_bytes, (const char *)src + src_off * elem_bytes, (size_t)elem_bytes); return; }
  int64_t idx[ZY_MAX_RANK] = {0};
  int64_t s = src_off, t = dst_off, inner = shape[rank - 1], si = src_strides[rank - 1], ti = dst_strides[rank - 1];
  for (;;) {
    if (elem_bytes == 4) {
      const uint32_t *a = (const uint32_t *)src + s;
      uint32_t *o = (uint32_t *)dst + t;
      if (si == 1 && ti == 1) memcpy(o, a, (size_t)inner * 4);
      else for (int64_t i = 0; i < inner; i++) o[i * ti] = a[i * si];
    } else {
      const uint16_t *a = (const uint16_t *)src + s;
      uint16_t *o = (uint16_t *)dst + t;
      if (si == 1 && ti == 1) memcpy(o, a, (size_t)inner * 2);
      else for (int64_t i = 0; i < inner; i++) o[i * ti] = a[i * si];
    }
    if (!strided_next_row(idx, shape, rank, src_strides, dst_strides, &s, &t)) return;
  }
}
