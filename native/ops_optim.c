/* Fused AdamW step over n elements (decoupled weight decay, bias-corrected moments), the llm.c formula:
 * m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p −= lr·((m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps) + wd·p).
 * AVX-512 / AVX2 loops with a scalar tail (the spec); parallel over chunks when large.
 * Leaves out: bounds checks (the TS layer does them), amsgrad, mixed-precision master weights. */
#include <immintrin.h>
#include <math.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"

typedef struct { float *param, *m, *v; const float *grad; float lr, b1, b2, eps, wd, c1, c2; } adamw_ctx;

/* The vector paths do the scalar loop's operations in the same order with no fused multiply-add (the pragma
 * keeps GCC from contracting them), so every ISA gives bit-identical results; sqrt and division are exact. */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")

static void adamw_scalar(const adamw_ctx *c, int64_t b, int64_t e) {
  float lr = c->lr, b1 = c->b1, b2 = c->b2, eps = c->eps, wd = c->wd, ic1 = 1.0f / c->c1, ic2 = 1.0f / c->c2;
  for (int64_t i = b; i < e; i++) {
    float g = c->grad[i];
    float mi = b1 * c->m[i] + (1.0f - b1) * g;
    float vi = b2 * c->v[i] + (1.0f - b2) * g * g;
    c->m[i] = mi;
    c->v[i] = vi;
    c->param[i] -= lr * ((mi * ic1) / (sqrtf(vi * ic2) + eps) + wd * c->param[i]);
  }
}

#define ADAMW_VECTOR(NAME, TARGET, VT, W, SET1, LOAD, STORE, ADD, SUB, MUL, DIV, SQRT)                        \
  static TARGET int64_t NAME(const adamw_ctx *c, int64_t b, int64_t e) {                                      \
    VT lr = SET1(c->lr), b1 = SET1(c->b1), b2 = SET1(c->b2), eps = SET1(c->eps), wd = SET1(c->wd);            \
    VT ob1 = SET1(1.0f - c->b1), ob2 = SET1(1.0f - c->b2), ic1 = SET1(1.0f / c->c1), ic2 = SET1(1.0f / c->c2); \
    int64_t i = b;                                                                                             \
    for (; i + W <= e; i += W) {                                                                               \
      VT g = LOAD(c->grad + i), p = LOAD(c->param + i);                                                        \
      VT mi = ADD(MUL(b1, LOAD(c->m + i)), MUL(ob1, g));                                                       \
      VT vi = ADD(MUL(b2, LOAD(c->v + i)), MUL(MUL(ob2, g), g));                                               \
      STORE(c->m + i, mi);                                                                                     \
      STORE(c->v + i, vi);                                                                                     \
      VT upd = ADD(DIV(MUL(mi, ic1), ADD(SQRT(MUL(vi, ic2)), eps)), MUL(wd, p));                               \
      STORE(c->param + i, SUB(p, MUL(lr, upd)));                                                               \
    }                                                                                                          \
    return i;                                                                                                  \
  }

ADAMW_VECTOR(adamw_avx512, ZY_AVX512, __m512, 16, _mm512_set1_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps,
             _mm512_sub_ps, _mm512_mul_ps, _mm512_div_ps, _mm512_sqrt_ps)
ADAMW_VECTOR(adamw_avx2, ZY_AVX2, __m256, 8, _mm256_set1_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_add_ps,
             _mm256_sub_ps, _mm256_mul_ps, _mm256_div_ps, _mm256_sqrt_ps)

#pragma GCC pop_options

static void adamw_task(void *p, int64_t b, int64_t e, int t) {
  (void)t;
  const adamw_ctx *c = p;
  int level = zy_isa_level();
  if (level == 2) b = adamw_avx512(c, b, e);
  else if (level == 1) b = adamw_avx2(c, b, e);
  adamw_scalar(c, b, e);
}

void zy_op_adamw(float *param, const float *grad, float *m, float *v, int64_t n, float lr, float beta1, float beta2,
                 float eps, float weight_decay, int64_t step, int decay) {
  adamw_ctx c = {param, m, v, grad, lr, beta1, beta2, eps, decay ? weight_decay : 0.0f,
                 (float)(1.0 - pow(beta1, (double)step)), (float)(1.0 - pow(beta2, (double)step))};
  zy_ops_for(n, 4096, n, adamw_task, &c);
}

void zy_op_adamw_st(float *param, const float *grad, float *m, float *v, int64_t n, float lr, float beta1, float beta2,
                    float eps, float weight_decay, int64_t step, int decay) {
  adamw_ctx c = {param, m, v, grad, lr, beta1, beta2, eps, decay ? weight_decay : 0.0f,
                 (float)(1.0 - pow(beta1, (double)step)), (float)(1.0 - pow(beta2, (double)step))};
  adamw_task(&c, 0, n, 0);
}
