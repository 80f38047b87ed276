/* Linear layers on weights packed once, at load, into the B panels of the AVX-512 f32 GEMM tile (gemm_avx512.c):
 * a weight w [n, k] (the nn.Linear layout, B = wᵀ) is stored as panels of 32 weight rows, each holding all of k —
 *   panel q (weight rows 32q … 32q+31) at element q·32·k; in it, element (p, j) at p·32 + j; rows past n zero —
 * so the slice of a panel that one KC block of the GEMM reads (k from p0) is the contiguous run at q·32·k + p0·32,
 * laid out as gemm.c's packer would pack it on every call. The layout does not depend on KC, and the panels of
 * matrices stacked by rows (q/k/v, gate/up) are the concatenation of each one's when their rows are multiples of 32.
 * with f32 elements (ZY_PW_F32, from f32, f16 or bf16 weights), or f16 / bf16 bits (ZY_PW_F16 / ZY_PW_BF16, half
 * the memory, widened in registers by the tile). A product then packs only the activations (once, shared by the
 * threads) and runs the same tile, the same KC blocks and the same k order as zy_sgemm_st on x and the (widened)
 * weight: its bits are those of the unpacked path for more than 8 rows (zy_sgemm answers 1..8 rows with its
 * matrix-vector kernels, whose order differs: callers keep the unpacked path there).
 * The activations are rounded (f16 / bf16 weights) and packed by row panels over the pool (zy_pw_prepare_a); the
 * next block's weights are prefetched by the tile while a block is multiplied (more rows than one tile holds);
 * zy_pw_gemm_rows_each reports each finished column pass so the caller's epilogue reads it from cache. None of these changes a sum.
 * zy_pw_calls counts the row-range products (tests check that the packed path ran).
 * Leaves out: CPUs without AVX-512 (zy_pw_available; callers keep the unpacked path), transposed activations,
 * alpha/beta, packing layouts for other tiles (the AVX2 12 × 16 tile would need its own). */
#include "gemm.h"
#include "gemm_impl.h"
#include "zy_cpu.h"
#include "zy_pool.h"
#include "zy_scratch.h"
#include <immintrin.h>
#include <stdatomic.h>

/* Weight columns of C per pass: 256 × KC (384) × 4 bytes = 384 KiB of f32 panels stay in L2 while every activation
 * panel passes over them. Many rows (a batch of sentences) take 768 columns, as gemm.c's NC: every activation panel
 * is read once per pass, and with 4096 rows the 256-column passes read them 3× as often (measured ~5 % slower in
 * CPU time than the unpacked path; at 128 rows 256 is the faster). Neither changes a sum's order. */
#define NB_COLS 256
#define NB_COLS_MANY_ROWS 768
#define MANY_ROWS 512

static const zy_gemm_kernel *kernel(void) { return &zy_gemm_kernel_avx512_f32; }
static int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }
static size_t elem_bytes(int elem) { return elem == ZY_PW_F32 ? 4 : 2; }

static _Atomic uint64_t calls;
uint64_t zy_pw_calls(void) { return atomic_load_explicit(&calls, memory_order_relaxed); }

int zy_pw_available(void) { return zy_cpu()->avx512; }
int64_t zy_pw_kc(void) { return kernel()->kc; }
int64_t zy_pw_prepare_panel_rows(void) { return kernel()->mr; }

size_t zy_pw_bytes(int elem, int64_t n, int64_t k) { return (size_t)(round_up(n, ZY_PW_NR) * k) * elem_bytes(elem); }

static float widen(const void *w, int src, int64_t at) {
  if (src == ZY_PW_F32) return ((const float *)w)[at];
  const uint16_t h = ((const uint16_t *)w)[at];
  return src == ZY_PW_F16 ? zy_f16_to_f32(h) : zy_bf16_to_f32(h);
}

int zy_pw_pack(const void *w, int src, int64_t n, int64_t k, int elem, void *dst) {
  if (src < ZY_PW_F32 || src > ZY_PW_BF16 || (elem != ZY_PW_F32 && elem != src)) return -1;
  const int64_t npad = round_up(n, ZY_PW_NR);
  for (int64_t q = 0; q < npad; q += ZY_PW_NR) /* q: the panel's first row; the panel starts at element q·k */
    for (int64_t j = 0; j < ZY_PW_NR; j++) {
      const int64_t row = q + j;
      for (int64_t p = 0; p < k; p++) {
        const int64_t at = q * k + p * ZY_PW_NR + j;
        if (elem == ZY_PW_F32) ((float *)dst)[at] = row < n ? widen(w, src, row * k + p) : 0.0f;
        else ((uint16_t *)dst)[at] = row < n ? ((const uint16_t *)w)[row * k + p] : 0;
      }
    }
  return 0;
}

size_t zy_pw_packed_a_bytes(int64_t m, int64_t k) { return zy_gemm_f16w_packed_a_bytes(m, k); }
void zy_pw_pack_a(const float *x, int64_t m, int64_t k, float *packed) { zy_gemm_f16w_pack_a(x, m, k, packed); }

/* 16-bit panels against more activation rows than one tile holds are widened block by block into this per-thread
 * f32 block (a straight conversion, no transpose) that every row tile then reads: converting in registers on every
 * k step instead was measured ~25 % slower at 128 rows (the conversions compete with the FMAs for their ports). */
static _Thread_local void *wide_buf;
static _Thread_local size_t wide_bytes;

/* The panel slices of the block after this one, prefetched a few cache lines per tile while this block is
 * multiplied, by the tile itself (zy_gemm_avx512_tile_pf: one line per 2 k steps; issued in bursts between tiles they
 * stalled on the miss buffers): a pass reads each weight once (BERT-base f16: 170 MB, far past L3), so without this
 * the widening of every block waited on DRAM (6–13 % of the tile's time in a 128-row pass in perf); f32 panels,
 * which the tiles read directly, made the first row tile of every block wait (BERT-base f32: 340 MB; prefetched,
 * the f32 products of 128 rows took 4–8 % less CPU time, BENCHMARKS.md "Session 10"). Lines are
 * counted through the block's panels (lines_per_panel each, ZY_PW_NR·k elements apart). */
typedef struct {
  const char *panel;                 /* the panel slice being prefetched */
  int64_t panel_stride, line, lines_per_panel, left, step; /* line: next line of it; left: lines of the block */
} next_block;

static next_block plan_prefetch(const void *pw, int64_t eb, int64_t k, int64_t jb, int64_t nb, int64_t p0, int64_t kb,
                                int64_t tiles) {
  next_block f = {(const char *)pw + (jb * k + p0 * ZY_PW_NR) * eb, ZY_PW_NR * k * eb, 0,
                  (kb * ZY_PW_NR * eb + 63) / 64, 0, 0};
  f.left = (nb + ZY_PW_NR - 1) / ZY_PW_NR * f.lines_per_panel;
  f.step = tiles > 0 ? (f.left + tiles - 1) / tiles : f.left;
  return f;
}

/* The next at most `most` lines of the block, contiguous (never past the end of a panel slice): *lines of them. */
static inline const char *take_lines(next_block *f, int64_t most, int64_t *lines) {
  int64_t n = f->step < f->left ? f->step : f->left;
  if (n > most) n = most;
  if (n > f->lines_per_panel - f->line) n = f->lines_per_panel - f->line;
  const char *at = f->panel + f->line * 64;
  f->left -= n;
  if ((f->line += n) == f->lines_per_panel) {
    f->line = 0;
    f->panel += f->panel_stride;
  }
  *lines = n;
  return at;
}

void zy_pw_gemm_rows_each(const float *packed_a, int64_t m, int64_t k, const void *pw, int elem, int64_t n, int64_t j0,
                          int64_t j1, float *c, int64_t ldc, zy_pw_pass_done done, void *done_ctx) {
  if (j1 > n) j1 = n;
  if (j1 <= j0 || m <= 0) return;
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  const zy_gemm_kernel *K = kernel();
  const int64_t mpad = round_up(m, K->mr);
  const int64_t cols_per_pass = m >= MANY_ROWS ? NB_COLS_MANY_ROWS : NB_COLS;
  float *wide = NULL;
  if (elem != ZY_PW_F32 && m > K->mr) wide = (float *)zy_grow(&wide_buf, &wide_bytes, (size_t)(cols_per_pass * K->kc) * 4);
  /* f32 panels are read by the tiles themselves, the first row tile of a block finding them in DRAM: they get the
   * next block prefetched too (with several row tiles, which the block's weights are reused over) */
  const int prefetch = wide != NULL || (elem == ZY_PW_F32 && m > K->mr);
  for (int64_t jb = j0; jb < j1; jb += cols_per_pass) {
    const int64_t nb = j1 - jb < cols_per_pass ? j1 - jb : cols_per_pass;
    for (int64_t p0 = 0; p0 < k; p0 += K->kc) {
      const int64_t kb = k - p0 < K->kc ? k - p0 : K->kc;
      const float *ablock = packed_a + mpad * p0;
      const float beta = p0 == 0 ? 0.0f : 1.0f;
      next_block pf = {0};
      if (prefetch) { /* the next block of this range: the next k slice, else the first of the next column pass */
        const int64_t np0 = p0 + K->kc < k ? p0 + K->kc : 0, njb = np0 ? jb : jb + cols_per_pass;
        if (njb < j1) {
          const int64_t nnb = j1 - njb < cols_per_pass ? j1 - njb : cols_per_pass, nkb = k - np0 < K->kc ? k - np0 : K->kc;
          pf = plan_prefetch(pw, elem_bytes(elem), k, njb, nnb, np0, nkb, (mpad / K->mr) * ((nb + ZY_PW_NR - 1) / ZY_PW_NR));
        }
      }
      /* the k slice [p0, p0 + kb) of the panel holding column j: kb × 32 contiguous elements */
#define SLICE(j) (((jb) + (j)) * k + p0 * ZY_PW_NR)
      if (wide) /* this block's panel slices (zero-padded to 32 columns) widened once for all row tiles */
        for (int64_t jj = 0; jj < nb; jj += ZY_PW_NR)
          zy_gemm_avx512_widen_half(elem == ZY_PW_BF16, (const uint16_t *)pw + SLICE(jj), wide + jj * kb, ZY_PW_NR * kb);
      for (int64_t i = 0; i < m; i += K->mr) {
        const int rows = m - i < K->mr ? (int)(m - i) : K->mr;
        for (int64_t jj = 0; jj < nb; jj += ZY_PW_NR) {
          const int cols = nb - jj < ZY_PW_NR ? (int)(nb - jj) : ZY_PW_NR;
          float *ct = c + i * ldc + jb + jj;
          if (elem == ZY_PW_F32 && cols == ZY_PW_NR && pf.left > 0) { /* a slice is kb × 32 contiguous: ldb 32 */
            int64_t lines;
            const char *at = take_lines(&pf, kb / 2, &lines);
            zy_gemm_avx512_tile_pf(kb, ablock + i * kb, (const float *)pw + SLICE(jj), ct, ldc, rows, beta, at, lines);
          } else if (elem == ZY_PW_F32)
            K->tile(kb, ablock + i * kb, (const float *)pw + SLICE(jj), ZY_PW_NR, ct, ldc, rows, cols, 1.0f, beta);
          else if (wide && cols == ZY_PW_NR && pf.left > 0) { /* the tile prefetches the next block as it runs */
            int64_t lines;
            const char *at = take_lines(&pf, kb / 2, &lines);
            zy_gemm_avx512_tile_pf(kb, ablock + i * kb, wide + jj * kb, ct, ldc, rows, beta, at, lines);
          } else if (wide)
            K->tile(kb, ablock + i * kb, wide + jj * kb, ZY_PW_NR, ct, ldc, rows, cols, 1.0f, beta);
          else
            zy_gemm_avx512_tile_half(elem == ZY_PW_BF16, kb, ablock + i * kb, (const uint16_t *)pw + SLICE(jj), ct, ldc,
                                     rows, cols, 1.0f, beta);
        }
      }
#undef SLICE
    }
    if (done) done(done_ctx, jb, jb + nb);
  }
}

void zy_pw_gemm_rows(const float *packed_a, int64_t m, int64_t k, const void *pw, int elem, int64_t n, int64_t j0,
                     int64_t j1, float *c, int64_t ldc) {
  zy_pw_gemm_rows_each(packed_a, m, k, pw, elem, n, j0, j1, c, ldc, NULL, NULL);
}

/* x rounded to the activation form the encoded products read (f16 for f16 weights, bf16 for bf16), as f32: the
 * values zy_quant_matmul multiplies, so a packed product of them has its bits. */
__attribute__((target("avx2,fma,f16c"))) static void round_f16(const float *x, float *out, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
  for (; i < count; i++) out[i] = zy_f16_to_f32(zy_f32_to_f16(x[i]));
}
void zy_pw_round_act(int src, const float *x, float *out, int64_t count) {
  if (src == ZY_PW_F16) round_f16(x, out, count);
  else if (src == ZY_PW_BF16)
    for (int64_t i = 0; i < count; i++) out[i] = zy_bf16_to_f32(zy_f32_to_bf16(x[i]));
  else if (out != x)
    for (int64_t i = 0; i < count; i++) out[i] = x[i];
}

typedef struct {
  int src;
  const float *x;
  int64_t m, k;
  float *rounded, *packed;
} prepare_ctx;

/* Row panels [q0, q1) of x: rounded, then packed into every KC block (the panels' place in zy_pw_pack_a's layout). */
static void prepare_task(void *p, int64_t q0, int64_t q1, int ti) {
  (void)ti;
  const prepare_ctx *c = (const prepare_ctx *)p;
  const zy_gemm_kernel *K = kernel();
  const int64_t i0 = q0 * K->mr, i1 = q1 * K->mr < c->m ? q1 * K->mr : c->m, k = c->k, mpad = round_up(c->m, K->mr);
  if (i1 <= i0) return;
  const float *xa = c->x + i0 * k;
  if (c->src != ZY_PW_F32) {
    zy_pw_round_act(c->src, xa, c->rounded + i0 * k, (i1 - i0) * k);
    xa = c->rounded + i0 * k;
  }
  const zy_gemm_operand a = {xa, k, 1, 0};
  for (int64_t p0 = 0; p0 < k; p0 += K->kc) {
    const int64_t kb = k - p0 < K->kc ? k - p0 : K->kc;
    K->pack_a(&a, 0, i1 - i0, p0, kb, c->packed + mpad * p0 + i0 * kb);
  }
}

/* Below this many elements one thread rounds and packs alone (a pool dispatch costs more than it saves). */
#define PREPARE_PARALLEL_MIN 16384

void zy_pw_prepare_a_panels(int src, const float *x, int64_t m, int64_t k, float *rounded, float *packed, int64_t q0,
                            int64_t q1) {
  prepare_ctx c = {src, x, m, k, rounded, packed};
  prepare_task(&c, q0, q1, 0);
}

void zy_pw_prepare_a(int src, const float *x, int64_t m, int64_t k, float *rounded, float *packed) {
  prepare_ctx c = {src, x, m, k, rounded, packed};
  const int64_t panels = (m + kernel()->mr - 1) / kernel()->mr;
  if (m * k < PREPARE_PARALLEL_MIN || zy_threads() < 2) prepare_task(&c, 0, panels, 0);
  else zy_parallel_for(panels, 1, prepare_task, &c);
}

typedef struct {
  const float *a;
  int64_t m, k, n;
  const void *pw;
  int elem;
  float *y;
} whole_ctx;

/* Thread t of T: its share of the panels. */
static void whole_task(void *p, int64_t t, int64_t t1, int ti) {
  (void)t1; (void)ti;
  const whole_ctx *c = (const whole_ctx *)p;
  const int64_t T = zy_threads(), panels = (c->n + ZY_PW_NR - 1) / ZY_PW_NR;
  zy_pw_gemm_rows(c->a, c->m, c->k, c->pw, c->elem, c->n, panels * t / T * ZY_PW_NR, panels * (t + 1) / T * ZY_PW_NR,
                  c->y, c->n);
}

static _Thread_local void *a_buf;
static _Thread_local size_t a_bytes;

/* x (of weight type src: rounded first for f16 / bf16) times the panels over the pool. */
static int gemm_from(int src, const float *x, int64_t m, int64_t k, const void *pw, int elem, int64_t n, float *y) {
  if (m <= 0 || n <= 0) return 0;
  if (k <= 0) {
    for (int64_t i = 0; i < m * n; i++) y[i] = 0.0f;
    return 0;
  }
  const size_t rounded = src == ZY_PW_F32 ? 0 : (size_t)(m * k) * 4;
  float *buf = (float *)zy_grow(&a_buf, &a_bytes, rounded + zy_pw_packed_a_bytes(m, k));
  if (!buf) return -1;
  float *a = buf + rounded / 4;
  zy_pw_prepare_a(src, x, m, k, buf, a);
  whole_ctx c = {a, m, k, n, pw, elem, y};
  zy_parallel_run(whole_task, &c);
  return 0;
}

int zy_pw_gemm(const float *x, int64_t m, int64_t k, const void *pw, int elem, int64_t n, float *y) {
  return gemm_from(ZY_PW_F32, x, m, k, pw, elem, n, y);
}

/* The products zy_quant_matmul runs on its panel GEMM (quant.c: f16 / bf16 weights, 16 activation rows or more, not a
 * product small enough for its single-thread dot kernels): those a packed copy stands in for with the same bits. */
int zy_pw_replaces_quant(int type, int64_t m, int64_t rows, int64_t cols) {
  return zy_pw_available() && (type == ZY_PW_F16 || type == ZY_PW_BF16) && m >= 16 && rows >= 8 && rows * cols * m >= 32768;
}

int zy_pw_linear(int src, const float *x, int64_t m, int64_t k, const void *pw, int elem, int64_t n, float *y) {
  return gemm_from(src, x, m, k, pw, elem, n, y);
}
