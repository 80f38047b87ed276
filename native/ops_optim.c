/* Fused AdamW step over n elements (decoupled weight decay, bias-corrected moments), the llm.c formula:
 * m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p −= lr·((m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps) + wd·p).
 * A plain loop the compiler vectorises; parallel over chunks when large.
 * Leaves out: bounds checks (the TS layer does them), amsgrad, mixed-precision master weights. */
#include <math.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"

typedef struct { float *param, *m, *v; const float *grad; float lr, b1, b2, eps, wd, c1, c2; } adamw_ctx;

static void adamw_task(void *p, int64_t b, int64_t e, int t) {
  (void)t;
  adamw_ctx *c = p;
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

void zy_op_adamw(float *param, const float *grad, float *m, float *v, int64_t n, float lr, float beta1, float beta2,
                 float eps, float weight_decay, int64_t step, int decay) {
  adamw_ctx c = {param, m, v, grad, lr, beta1, beta2, eps, decay ? weight_decay : 0.0f,
                 (float)(1.0 - pow(beta1, (double)step)), (float)(1.0 - pow(beta2, (double)step))};
  zy_ops_for(n, 4096, n, adamw_task, &c);
}
