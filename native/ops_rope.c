/* Rotary position embedding in place on x [b, t, heads, headDim]: pair i (< rotDim/2) of position pos0 + ti is
 * rotated by θ = pos·freqs[i]; the cos/sin table is computed once per call in double precision (so long
 * positions keep their accuracy), then applied to every batch entry and head. "neox" pairs (i, i + rotDim/2),
 * "interleaved" pairs (2i, 2i+1); inverse rotates by −θ (the backward).
 * Leaves out: bounds checks (the TS layer does them), frequency scaling (baked into freqs by the caller). */
#include <math.h>
#include <stdlib.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"

typedef struct { float *x; const float *cs; int64_t t, heads, head_dim, half; int interleaved; } rope_ctx;

static void rope_task(void *p, int64_t r0, int64_t r1, int th) {
  (void)th;
  rope_ctx *c = p;
  int64_t half = c->half;
  for (int64_t r = r0; r < r1; r++) { /* r indexes (batch, position) */
    const float *cos_ = c->cs + (r % c->t) * 2 * half, *sin_ = cos_ + half;
    for (int64_t h = 0; h < c->heads; h++) {
      float *x = c->x + (r * c->heads + h) * c->head_dim;
      if (c->interleaved) {
        for (int64_t i = 0; i < half; i++) {
          float x0 = x[2 * i], x1 = x[2 * i + 1];
          x[2 * i] = x0 * cos_[i] - x1 * sin_[i];
          x[2 * i + 1] = x0 * sin_[i] + x1 * cos_[i];
        }
      } else {
        for (int64_t i = 0; i < half; i++) {
          float x0 = x[i], x1 = x[i + half];
          x[i] = x0 * cos_[i] - x1 * sin_[i];
          x[i + half] = x0 * sin_[i] + x1 * cos_[i];
        }
      }
    }
  }
}

int zy_op_rope(float *x, int64_t b, int64_t t, int64_t heads, int64_t head_dim, int64_t rot_dim, int64_t pos0,
                const float *freqs, int interleaved, int inverse) {
  int64_t half = rot_dim / 2;
  if (half == 0 || b * t * heads == 0) return 0;
  float *cs = malloc((size_t)(t * 2 * half) * sizeof(float));
  if (!cs) return -1;
  for (int64_t ti = 0; ti < t; ti++) {
    for (int64_t i = 0; i < half; i++) {
      double theta = (double)(pos0 + ti) * (double)freqs[i];
      cs[ti * 2 * half + i] = (float)cos(theta);
      cs[ti * 2 * half + half + i] = (float)(inverse ? -sin(theta) : sin(theta));
    }
  }
  rope_ctx c = {x, cs, t, heads, head_dim, half, interleaved};
  zy_ops_for(b * t, 1, b * t * heads * head_dim, rope_task, &c);
  free(cs);
  return 0;
}
