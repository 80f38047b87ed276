/* LayerNorm and RMSNorm over the last dim (rows × cols): forward saving mean/rstd per row, backward
 * accumulating into dx, dw, db. Parallel over rows; the backward's dw/db sums go to per-thread partial rows
 * that are added up at the end (no races). Statistics in float with vectorised sums.
 * Leaves out: bounds checks (the TS layer does them), other norms. */
#include <math.h>
#include <stdlib.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"

typedef struct {
  const float *x, *w, *b, *mean, *rstd_in, *dy;
  float *y, *mean_out, *rstd, *dx, *partial; /* partial: [threads][2·cols] dw then db */
  int64_t rows, cols;
  float eps;
  int isa, rms;
} norm_ctx;

static void norm_task(void *p, int64_t r0, int64_t r1, int t) {
  (void)t;
  norm_ctx *c = p;
  int64_t n = c->cols;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = c->x + r * n;
    float *y = c->y + r * n;
    float mu = 0.0f, var;
    if (c->rms) {
      var = zy_row_dot(c->isa, x, x, n) / (float)n;
    } else {
      mu = zy_row_sum(c->isa, x, n) / (float)n;
      float sq = 0.0f;
      for (int64_t j = 0; j < n; j++) { float d = x[j] - mu; sq += d * d; }
      var = sq / (float)n;
    }
    float rs = 1.0f / sqrtf(var + c->eps);
    const float *w = c->w, *b = c->b;
    if (w && b) for (int64_t j = 0; j < n; j++) y[j] = (x[j] - mu) * rs * w[j] + b[j];
    else if (w) for (int64_t j = 0; j < n; j++) y[j] = (x[j] - mu) * rs * w[j];
    else if (b) for (int64_t j = 0; j < n; j++) y[j] = (x[j] - mu) * rs + b[j];
    else for (int64_t j = 0; j < n; j++) y[j] = (x[j] - mu) * rs;
    if (!c->rms) c->mean_out[r] = mu;
    c->rstd[r] = rs;
  }
}

static void norm_bw_rows(norm_ctx *c, int64_t r0, int64_t r1, float *dw, float *db) {
  int64_t n = c->cols;
  const float *w = c->w;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = c->x + r * n, *dy = c->dy + r * n;
    float *dx = c->dx + r * n;
    float mu = c->rms ? 0.0f : c->mean[r], rs = c->rstd_in[r];
    float g_sum = 0.0f, gx_sum = 0.0f;
    for (int64_t j = 0; j < n; j++) {
      float xhat = (x[j] - mu) * rs, g = dy[j] * (w ? w[j] : 1.0f);
      g_sum += g;
      gx_sum += g * xhat;
    }
    float g_mean = c->rms ? 0.0f : g_sum / (float)n, gx_mean = gx_sum / (float)n;
    for (int64_t j = 0; j < n; j++) {
      float xhat = (x[j] - mu) * rs, g = dy[j] * (w ? w[j] : 1.0f);
      dx[j] += rs * (g - g_mean - xhat * gx_mean);
      if (dw) dw[j] += dy[j] * xhat;
      if (db) db[j] += dy[j];
    }
  }
}

/* One call per thread (zy_parallel_run): thread t takes its share of the rows and its own partial row. */
static void norm_bw_task(void *p, int64_t begin, int64_t end, int t) {
  (void)begin;
  (void)end;
  norm_ctx *c = p;
  int nt = zy_threads();
  int64_t r0 = c->rows * t / nt, r1 = c->rows * (t + 1) / nt;
  float *part = c->partial + (int64_t)t * 2 * c->cols;
  norm_bw_rows(c, r0, r1, part, part + c->cols);
}

static void forward(norm_ctx *c) {
  zy_ops_for(c->rows, 1, c->rows * c->cols, norm_task, c);
}

/* Serial when small; else each thread sums its rows' dw/db into its own partial row, then they are added. */
static int backward(norm_ctx *c, float *dw, float *db) {
  int nt = zy_threads();
  if (c->rows * c->cols < ZY_PAR_MIN || nt == 1 || c->rows < 2) { norm_bw_rows(c, 0, c->rows, dw, db); return 0; }
  c->partial = calloc((size_t)(nt * 2 * c->cols), sizeof(float));
  if (!c->partial) return -1;
  zy_parallel_run(norm_bw_task, c);
  for (int t = 0; t < nt; t++) {
    const float *part = c->partial + t * 2 * c->cols;
    for (int64_t j = 0; j < c->cols; j++) {
      if (dw) dw[j] += part[j];
      if (db) db[j] += part[c->cols + j];
    }
  }
  free(c->partial);
  return 0;
}

void zy_op_layernorm(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                     int64_t rows, int64_t cols, float eps) {
  norm_ctx c = {.x = x, .w = w, .b = b, .y = y, .mean_out = mean, .rstd = rstd, .rows = rows, .cols = cols,
                .eps = eps, .isa = zy_isa_level(), .rms = 0};
  forward(&c);
}

void zy_op_rmsnorm(const float *x, const float *w, float *y, float *rstd, int64_t rows, int64_t cols, float eps) {
  norm_ctx c = {.x = x, .w = w, .y = y, .rstd = rstd, .rows = rows, .cols = cols, .eps = eps,
                .isa = zy_isa_level(), .rms = 1};
  forward(&c);
}

/* The same rows on the calling thread only (for use inside pool tasks): each row's result is the one above. */
void zy_op_layernorm_serial(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                            int64_t rows, int64_t cols, float eps) {
  norm_ctx c = {.x = x, .w = w, .b = b, .y = y, .mean_out = mean, .rstd = rstd, .rows = rows, .cols = cols,
                .eps = eps, .isa = zy_isa_level(), .rms = 0};
  norm_task(&c, 0, rows, 0);
}

void zy_op_rmsnorm_serial(const float *x, const float *w, float *y, float *rstd, int64_t rows, int64_t cols, float eps) {
  norm_ctx c = {.x = x, .w = w, .y = y, .rstd = rstd, .rows = rows, .cols = cols, .eps = eps,
                .isa = zy_isa_level(), .rms = 1};
  norm_task(&c, 0, rows, 0);
}

int zy_op_layernorm_bw(const float *x, const float *w, const float *mean, const float *rstd, const float *dy,
                       float *dx, float *dw, float *db, int64_t rows, int64_t cols) {
  norm_ctx c = {.x = x, .w = w, .mean = mean, .rstd_in = rstd, .dy = dy, .dx = dx, .rows = rows, .cols = cols,
                .isa = zy_isa_level(), .rms = 0};
  return backward(&c, dw, db);
}

int zy_op_rmsnorm_bw(const float *x, const float *w, const float *rstd, const float *dy, float *dx, float *dw,
                     int64_t rows, int64_t cols) {
  norm_ctx c = {.x = x, .w = w, .rstd_in = rstd, .dy = dy, .dx = dx, .rows = rows, .cols = cols,
                .isa = zy_isa_level(), .rms = 1};
  return backward(&c, dw, NULL);
}
