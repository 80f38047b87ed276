/* A decoder prompt's SwiGLU MLP sublayer in one native call, on weights packed once into GEMM panels
 * (gemm_packed.c):  x += down · (silu(gate·h) ⊙ up·h),  h = RMSNorm(x)·w,  gate/up one stacked [2F, D] matrix.
 * Each thread takes a contiguous share of the rows through the whole sublayer — norm, rounding and packing its own
 * activations, both products over every weight panel, SwiGLU, the residual add — so what a core reads is what it
 * wrote (the encoder layer's row split, encoder_layer.c, measured 1.07-1.09x on a 128-row BERT pass at 2 threads),
 * with one pool dispatch where the tensor path makes six, and no [m, 2F] activations copied or allocated in
 * JavaScript. The kernels and their order are the tensor path's (src/models/llama/model.ts block(): rmsNorm, linear
 * on the stacked panels, narrow + swiglu, linear, add): zy_op_rmsnorm_serial, zy_pw_prepare_a_panels +
 * zy_pw_gemm_rows (per-element sums independent of the row split), zy_swiglu_vec on whole rows of F % 16 == 0
 * elements (no scalar tail, as in the tensor path's call over m·F), then x + y — so the bits are the tensor path's.
 * A thread takes its rows 512 at a time (bounded scratch for long prompts).
 * Leaves out (returns 1, the caller keeps the tensor path): 1 thread, fewer than 48 rows per thread (the encoder
 * layer's bound: each thread widens every weight block, which few rows amortise poorly), F % 16 != 0, products the
 * tensor path would not run on panels (zy_pw_replaces_quant), CPUs without AVX-512. */
#include "gemm.h"
#include "ops_common.h"
#include "ops_kernels.h"
#include "prefill_mlp.h"
#include "zy_pool.h"
#include "zy_scratch.h"
#include <stdatomic.h>

#define MIN_ROWS_PER_THREAD 48
/* A thread's rows go through in chunks of at most this many: the scratch stays bounded for long prompts (~33 MB a
 * thread at the 1B shape), and widening each weight block once per 512 rows costs ~1 % of the products. */
#define CHUNK_ROWS 512

typedef struct {
  float *x;
  int64_t m, d, f;
  const float *norm_w;
  float eps;
  int src;
  const void *gu, *down;
  int gu_elem, down_elem;
  _Atomic int failed;
} mlp_ctx;

static _Thread_local void *mlp_buf;
static _Thread_local size_t mlp_bytes;

static size_t floats_bytes(int64_t n) { return (size_t)((n + 15) / 16 * 16) * 4; }

int zy_prefill_mlp_chunk(float *x, int64_t mt, int64_t d, int64_t f, const float *norm_w, float eps, int src,
                         const void *gu_panels, int gu_elem, const void *down_panels, int down_elem) {
  const int64_t widest = d > f ? d : f, mr = zy_pw_prepare_panel_rows(), panels = (mt + mr - 1) / mr;
  /* h [mt, d] (then y [mt, d]), rstd [mt], rounded [mt, widest], packed A, gu [mt, 2f], s [mt, f] */
  const size_t b_h = floats_bytes(mt * d), b_rstd = floats_bytes(mt), b_round = floats_bytes(mt * widest),
               b_pack = (zy_pw_packed_a_bytes(mt, widest) + 63) / 64 * 64, b_gu = floats_bytes(mt * 2 * f);
  char *buf = (char *)zy_grow(&mlp_buf, &mlp_bytes, b_h + b_rstd + b_round + b_pack + b_gu + floats_bytes(mt * f));
  if (!buf) return -1;
  float *h = (float *)buf, *rstd = (float *)(buf + b_h), *rounded = (float *)(buf + b_h + b_rstd),
        *packed = (float *)(buf + b_h + b_rstd + b_round), *gu = (float *)(buf + b_h + b_rstd + b_round + b_pack),
        *s = (float *)(buf + b_h + b_rstd + b_round + b_pack + b_gu);
  zy_op_rmsnorm_serial(x, norm_w, h, rstd, mt, d, eps);
  zy_pw_prepare_a_panels(src, h, mt, d, rounded, packed, 0, panels);
  zy_pw_gemm_rows(packed, mt, d, gu_panels, gu_elem, 2 * f, 0, 2 * f, gu, 2 * f);
  const int isa = zy_isa_level();
  for (int64_t r = 0; r < mt; r++) zy_swiglu_vec(isa, gu + r * 2 * f, gu + r * 2 * f + f, s + r * f, f);
  zy_pw_prepare_a_panels(src, s, mt, f, rounded, packed, 0, panels);
  float *y = h; /* h is no longer read */
  zy_pw_gemm_rows(packed, mt, f, down_panels, down_elem, d, 0, d, y, d);
  for (int64_t i = 0; i < mt * d; i++) x[i] = x[i] + y[i];
  return 0;
}

/* Thread t of T: its contiguous share of the rows, CHUNK_ROWS at a time. */
static void mlp_task(void *p, int64_t t, int64_t t1, int ti) {
  (void)t1; (void)ti;
  mlp_ctx *c = (mlp_ctx *)p;
  const int64_t T = zy_threads(), i0 = c->m * t / T, i1 = c->m * (t + 1) / T;
  for (int64_t r = i0; r < i1; r += CHUNK_ROWS)
    if (zy_prefill_mlp_chunk(c->x + r * c->d, (r + CHUNK_ROWS < i1 ? r + CHUNK_ROWS : i1) - r, c->d, c->f, c->norm_w,
                             c->eps, c->src, c->gu, c->gu_elem, c->down, c->down_elem) != 0) {
      atomic_store(&c->failed, 1);
      return;
    }
}

int zy_prefill_mlp_applies(int src, int64_t m, int64_t d, int64_t f) {
  const int T = zy_threads();
  return zy_pw_available() && T >= 2 && m >= (int64_t)MIN_ROWS_PER_THREAD * T && f % 16 == 0 &&
         zy_pw_replaces_quant(src, m, 2 * f, d) && zy_pw_replaces_quant(src, m, d, f);
}

int zy_prefill_mlp(float *x, int64_t m, int64_t d, int64_t f, const float *norm_w, float eps, int src,
                   const void *gu_panels, int gu_elem, const void *down_panels, int down_elem) {
  if (!zy_prefill_mlp_applies(src, m, d, f)) return 1;
  mlp_ctx c = {x, m, d, f, norm_w, eps, src, gu_panels, down_panels, gu_elem, down_elem, 0};
  zy_parallel_run(mlp_task, &c);
  return atomic_load(&c.failed) ? -1 : 0;
}
