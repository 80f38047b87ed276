/* Reductions over the middle axis of x viewed as [outer, size, inner]: sum (optionally accumulating into out)
 * and max (NaN propagates, size 0 gives -inf). Parallel over outer·inner output rows when large.
 * Leaves out: bounds checks (the TS layer does them), arg-max, float64 accumulation (the reference uses it). */
#include <math.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"

typedef struct { const float *x; float *out; int64_t size, inner; int accumulate, max, isa; } reduce_ctx;

static void reduce_task(void *p, int64_t o0, int64_t o1, int t) {
  (void)t;
  reduce_ctx *c = p;
  int64_t size = c->size, inner = c->inner;
  for (int64_t o = o0; o < o1; o++) {
    const float *x = c->x + o * size * inner;
    float *out = c->out + o * inner;
    if (inner == 1) {
      if (c->max) {
        float best = -INFINITY;
        for (int64_t s = 0; s < size; s++) if (x[s] > best || x[s] != x[s]) { best = x[s]; if (best != best) break; }
        out[0] = best;
      } else {
        float sum = zy_row_sum(c->isa, x, size);
        out[0] = c->accumulate ? out[0] + sum : sum;
      }
      continue;
    }
    if (c->max) {
      for (int64_t i = 0; i < inner; i++) out[i] = -INFINITY;
      for (int64_t s = 0; s < size; s++)
        for (int64_t i = 0; i < inner; i++) { float v = x[s * inner + i]; if (v > out[i] || v != v) out[i] = v; }
      /* a NaN kept in out[i] stays: NaN > v and v > NaN are both false, and v != v only replaces it with NaN */
    } else {
      if (!c->accumulate) for (int64_t i = 0; i < inner; i++) out[i] = 0.0f;
      for (int64_t s = 0; s < size; s++) zy_row_axpy(c->isa, 1.0f, x + s * inner, out, inner);
    }
  }
}

static void reduce(const float *x, float *out, int64_t outer, int64_t size, int64_t inner, int accumulate, int max) {
  reduce_ctx c = {x, out, size, inner, accumulate, max, zy_isa_level()};
  zy_ops_for(outer, 1, outer * size * inner, reduce_task, &c);
}

void zy_op_reduce_sum(const float *x, float *out, int64_t outer, int64_t size, int64_t inner, int accumulate) {
  reduce(x, out, outer, size, inner, accumulate, 0);
}

void zy_op_reduce_max(const float *x, float *out, int64_t outer, int64_t size, int64_t inner) {
  reduce(x, out, outer, size, inner, 0, 1);
}
