/* Row softmax and log-softmax with their backward passes. A row that is all -inf gives zeros (never NaN).
 * Vectorised through the row primitives (max, exp-and-sum, dot); parallel over rows when large.
 * Leaves out: bounds checks (the TS layer does them), masking (callers write -inf). */
#include <math.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"

typedef struct { const float *x, *dy; float *y, *dx; int64_t cols; int log, isa; } softmax_ctx;

static void softmax_task(void *p, int64_t r0, int64_t r1, int t) {
  (void)t;
  softmax_ctx *c = p;
  int64_t n = c->cols;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = c->x + r * n;
    float *y = c->y + r * n;
    float max = zy_row_max(c->isa, x, n);
    if (max == -INFINITY) { for (int64_t j = 0; j < n; j++) y[j] = 0.0f; continue; }
    if (c->log) {
      float shift = max + logf(zy_row_expsum(c->isa, x, NULL, n, max));
      for (int64_t j = 0; j < n; j++) y[j] = x[j] - shift;
    } else {
      float sum = zy_row_expsum(c->isa, x, y, n, max);
      zy_row_scale(c->isa, 1.0f / sum, y, n);
    }
  }
}

void zy_op_softmax(const float *x, float *y, int64_t rows, int64_t cols, int log) {
  softmax_ctx c = {.x = x, .y = y, .cols = cols, .log = log, .isa = zy_isa_level()};
  zy_ops_for(rows, 1, rows * cols, softmax_task, &c);
}

static void softmax_bw_task(void *p, int64_t r0, int64_t r1, int t) {
  (void)t;
  softmax_ctx *c = p;
  int64_t n = c->cols;
  for (int64_t r = r0; r < r1; r++) {
    const float *y = c->x + r * n, *dy = c->dy + r * n;
    float *dx = c->dx + r * n;
    if (c->log) { /* dx += dy − exp(y)·Σ dy */
      float sum = zy_row_sum(c->isa, dy, n);
      for (int64_t j = 0; j < n; j++) dx[j] += dy[j] - expf(y[j]) * sum;
    } else { /* dx += y ⊙ (dy − Σ dy⊙y) */
      float dot = zy_row_dot(c->isa, dy, y, n);
      for (int64_t j = 0; j < n; j++) dx[j] += y[j] * (dy[j] - dot);
    }
  }
}

void zy_op_softmax_bw(const float *y, const float *dy, float *dx, int64_t rows, int64_t cols, int log) {
  softmax_ctx c = {.x = y, .dy = dy, .dx = dx, .cols = cols, .log = log, .isa = zy_isa_level()};
  zy_ops_for(rows, 1, rows * cols, softmax_bw_task, &c);
}
