/* Cross-entropy over rows of logits with an ignore index: loss = logsumexp − logit[target], and the gradient
 * (softmax − onehot)·dLoss (overwriting; zero rows where ignored). Parallel over rows when large.
 * Leaves out: bounds and target-range checks (the TS layer does them), label smoothing, the mean. */
#include <math.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"

typedef struct {
  const float *logits, *dloss;
  const int32_t *targets;
  float *losses, *dlogits;
  int64_t cols;
  int32_t ignore;
  int isa;
} ce_ctx;

static void ce_task(void *p, int64_t r0, int64_t r1, int t) {
  (void)t;
  ce_ctx *c = p;
  int64_t n = c->cols;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = c->logits + r * n;
    int32_t target = c->targets[r];
    if (c->dlogits) {
      float *g = c->dlogits + r * n;
      if (target == c->ignore) { for (int64_t j = 0; j < n; j++) g[j] = 0.0f; continue; }
      float max = zy_row_max(c->isa, x, n);
      float sum = zy_row_expsum(c->isa, x, g, n, max);
      float dl = c->dloss[r];
      zy_row_scale(c->isa, dl / sum, g, n);
      g[target] -= dl;
    } else {
      if (target == c->ignore) { c->losses[r] = 0.0f; continue; }
      float max = zy_row_max(c->isa, x, n);
      c->losses[r] = max + logf(zy_row_expsum(c->isa, x, NULL, n, max)) - x[target];
    }
  }
}

int64_t zy_op_cross_entropy(const float *logits, const int32_t *targets, float *losses, int64_t rows, int64_t cols,
                            int32_t ignore_index) {
  ce_ctx c = {.logits = logits, .targets = targets, .losses = losses, .cols = cols, .ignore = ignore_index,
              .isa = zy_isa_level()};
  zy_ops_for(rows, 1, rows * cols, ce_task, &c);
  int64_t counted = 0;
  for (int64_t r = 0; r < rows; r++) counted += targets[r] != ignore_index;
  return counted;
}

void zy_op_cross_entropy_bw(const float *logits, const int32_t *targets, const float *dloss, float *dlogits,
                            int64_t rows, int64_t cols, int32_t ignore_index) {
  ce_ctx c = {.logits = logits, .targets = targets, .dloss = dloss, .dlogits = dlogits, .cols = cols,
              .ignore = ignore_index, .isa = zy_isa_level()};
  zy_ops_for(rows, 1, rows * cols, ce_task, &c);
}
