/* Rotary position embedding in place on x [b, t, heads, headDim]: pair i (< rotDim/2) of position pos0 + ti is
 * rotated by θ = pos·freqs[i]; the cos/sin table is computed once per call in double precision (so long
 * positions keep their accuracy; zy_rope_table, which a prompt's caller can also compute once for every layer),
 * then applied to every batch entry and head (zy_rope_rows). "neox" pairs (i, i + rotDim/2),
 * "interleaved" pairs (2i, 2i+1); inverse rotates by −θ (the backward).
 * Leaves out: bounds checks (the TS layer does them), frequency scaling (baked into freqs by the caller). */
#include <math.h>
#include <stdlib.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"

typedef struct { float *x; const float *cs; int64_t t, heads, head_dim, half; int interleaved; } rope_ctx;

/* Not inlined: zy_op_rope and the prompt layer (prefill_layer.c) run this same code, so the same bits. */
__attribute__((noinline)) void zy_rope_rows(float *x, int64_t rows, int64_t heads, int64_t head_dim, int64_t half,
                                            const float *cs, int64_t cs_stride, int interleaved) {
  for (int64_t r = 0; r < rows; r++) {
    const float *cos_ = cs + r * cs_stride, *sin_ = cos_ + half;
    for (int64_t h = 0; h < heads; h++) {
      float *xh = x + (r * heads + h) * head_dim;
      if (interleaved) {
        for (int64_t i = 0; i < half; i++) {
          float x0 = xh[2 * i], x1 = xh[2 * i + 1];
          xh[2 * i] = x0 * cos_[i] - x1 * sin_[i];
          xh[2 * i + 1] = x0 * sin_[i] + x1 * cos_[i];
        }
      } else {
        for (int64_t i = 0; i < half; i++) {
          float x0 = xh[i], x1 = xh[i + half];
          xh[i] = x0 * cos_[i] - x1 * sin_[i];
          xh[i + half] = x0 * sin_[i] + x1 * cos_[i];
        }
      }
    }
  }
}

__attribute__((noinline)) void zy_rope_table(const float *freqs, int64_t half, int64_t pos0, int64_t t, int inverse,
                                             float *cs) {
  for (int64_t ti = 0; ti < t; ti++) {
    for (int64_t i = 0; i < half; i++) {
      double theta = (double)(pos0 + ti) * (double)freqs[i];
      cs[ti * 2 * half + i] = (float)cos(theta);
      cs[ti * 2 * half + half + i] = (float)(inverse ? -sin(theta) : sin(theta));
    }
  }
}

static void rope_task(void *p, int64_t r0, int64_t r1, int th) {
  (void)th;
  rope_ctx *c = p;
  for (int64_t r = r0; r < r1; r++) /* r indexes (batch, position) */
    zy_rope_rows(c->x + r * c->heads * c->head_dim, 1, c->heads, c->head_dim, c->half, c->cs + (r % c->t) * 2 * c->half,
                 0, c->interleaved);
}

int zy_op_rope(float *x, int64_t b, int64_t t, int64_t heads, int64_t head_dim, int64_t rot_dim, int64_t pos0,
                const float *freqs, int interleaved, int inverse) {
  int64_t half = rot_dim / 2;
  if (half == 0 || b * t * heads == 0) return 0;
  float *cs = malloc((size_t)(t * 2 * half) * sizeof(float));
  if (!cs) return -1;
  zy_rope_table(freqs, half, pos0, t, inverse, cs);
  rope_ctx c = {x, cs, t, heads, head_dim, half, interleaved};
  zy_ops_for(b * t, 1, b * t * heads * head_dim, rope_task, &c);
  free(cs);
  return 0;
}
