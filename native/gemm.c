/* GEMM driver (see gemm.h): the naive specification, a GotoBLAS/BLIS-style blocked loop nest that packs A and
 * B blocks and runs a register-blocked micro-kernel over them, the portable C micro-kernel, the matrix-vector
 * path for m = 1 or n = 1, ISA dispatch, and the work split over the thread pool. The AVX-512 and AVX2
 * micro-kernels and packers live in gemm_avx512.c and gemm_avx2.c.
 *
 * Loop nest per (sub-)problem, with the A micro-panel (mr × kc) resident in L1 and the packed B block
 * (kc × nc) in L2:
 *   for i0 in m step mc:  for p0 in k step kc:  pack A[i0.., p0..]
 *     for j0 in n step nc:  pack B[p0.., j0..]   (or read B in place when it is f32 [k, n] and m is small)
 *       for ii in mb step mr:  for jj in nb step nr:  tile
 * Threads: one large product runs on all threads together (gemm_coop: shared A blocks, B column units taken
 * from a counter); batches of products, thin shapes and matrix-vector products (also 2..8 rows against B
 * stored [n, k], which stream B once) are split statically (each part packs its own blocks, no waiting).
 * Leaves out: column-major inputs, leading dimensions other than the row length, NUMA placement. */
#include "gemm.h"
#include "gemm_impl.h"
#include "zy_cpu.h"
#include "zy_pool.h"
#include <immintrin.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/* ---- the specification ---- */

void zy_sgemm_naive(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const float *A,
                    int64_t strideA, const float *B, int64_t strideB, float *C, int64_t strideC, float alpha,
                    float beta) {
  for (int64_t b = 0; b < batch; b++) {
    const float *a = A + b * strideA, *bb = B + b * strideB;
    float *c = C + b * strideC;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        float s = 0.0f;
        for (int64_t p = 0; p < k; p++)
          s += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? bb[j * k + p] : bb[p * n + j]);
        c[i * n + j] = beta == 0.0f ? alpha * s : alpha * s + beta * c[i * n + j];
      }
  }
}

/* ---- portable micro-kernel (4 × 16, plain C the compiler vectorizes for the baseline ISA) ---- */

#define PORT_MR 4
#define PORT_NR 16

static void port_pack_a(const zy_gemm_operand *a, int64_t i0, int64_t mb, int64_t p0, int64_t kb, void *dst) {
  zy_pack_a_generic(a, i0, mb, p0, kb, (float *)dst, PORT_MR);
}
static void port_pack_b(const zy_gemm_operand *b, int64_t p0, int64_t kb, int64_t j0, int64_t nb, void *dst) {
  zy_pack_b_generic(b, p0, kb, j0, nb, (float *)dst, PORT_NR);
}
static void port_tile(int64_t kb, const void *pav, const void *pbv, int64_t ldb, float *c, int64_t ldc, int mr,
                      int nr, float alpha, float beta) {
  const float *pa = (const float *)pav, *pb = (const float *)pbv;
  float acc[PORT_MR][PORT_NR] = {{0}};
  for (int64_t p = 0; p < kb; p++, pa += PORT_MR, pb += ldb)
    for (int i = 0; i < PORT_MR; i++)
      for (int j = 0; j < PORT_NR; j++) acc[i][j] += pa[i] * pb[j];
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++)
      c[i * ldc + j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c[i * ldc + j];
}
static const zy_gemm_kernel kernel_portable = {
    "portable", PORT_MR, PORT_NR, 1, 4, 256, 128, 1024, port_pack_a, port_pack_b, port_tile};

static void gemv_portable(int64_t n, int64_t k, const float *x, const zy_gemm_operand *b, float *y, float alpha,
                          float beta) {
  zy_gemv_generic(n, k, x, b, y, alpha, beta);
}

/* ---- dispatch ---- */

static const zy_gemm_kernel *pick_kernel(int bf16) {
  const zy_cpu_features *cpu = zy_cpu();
  if (bf16 && cpu->avx512_bf16) return &zy_gemm_kernel_avx512bf16;
#ifdef ZY_GEMM_EMULATE_BF16 /* dev/gemm: run the pair kernel (vdpbf16ps emulated) on any AVX-512 CPU */
  if (bf16 && cpu->avx512) return &zy_gemm_kernel_avx512bf16;
#endif
  if (cpu->avx512) return bf16 ? &zy_gemm_kernel_avx512_bf16in : &zy_gemm_kernel_avx512_f32;
  if (cpu->avx2_fma) return bf16 ? &zy_gemm_kernel_avx2_bf16in : &zy_gemm_kernel_avx2_f32;
  return &kernel_portable;
}
static zy_gemv_fn pick_gemv(void) {
  const zy_cpu_features *cpu = zy_cpu();
  if (cpu->avx512) return zy_gemv_avx512;
  if (cpu->avx2_fma) return zy_gemv_avx2;
  return gemv_portable;
}
const char *zy_gemm_impl_name(int bf16) { return pick_kernel(bf16)->name; }

/* ---- per-thread packing buffers, grown on demand and kept for the next call ---- */

typedef struct {
  void *a, *b, *shared;
  float *x;
  size_t a_bytes, b_bytes, x_bytes, shared_bytes;
} pack_buffers;
static __thread pack_buffers thread_buffers;

static void *grow(void **p, size_t *have, size_t need) {
  if (*have >= need) return *p;
  need = (need + 4095) & ~(size_t)4095;
  void *q = aligned_alloc(64, need);
  if (!q) return NULL;
  free(*p);
  *p = q;
  *have = need;
  return q;
}

/* ---- one (sub-)problem on the calling thread ---- */

static void scale_c(int64_t m, int64_t n, float *c, int64_t ldc, float beta) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

/* m = 1: y = alpha·x·op(B) + beta·y with x = op(A)'s only row (contiguous whatever transA says). */
static int gemv(int64_t n, int64_t k, zy_gemm_operand x, const zy_gemm_operand *b, float *y, float alpha,
                float beta) {
  const float *xf = (const float *)x.base;
  if (x.bf16) {
    pack_buffers *buf = &thread_buffers;
    float *t = (float *)grow((void **)&buf->x, &buf->x_bytes, (size_t)k * 4);
    if (!t) return 0;
    for (int64_t p = 0; p < k; p++) t[p] = zy_bf16_to_f32(((const uint16_t *)x.base)[p * x.cs]);
    xf = t;
  }
  pick_gemv()(n, k, xf, b, y, alpha, beta);
  return 1;
}

/* 2..8 rows of A against B stored [n, k] on AVX-512: one pass over B (see zy_gemv_rows_avx512). */
static int few_rows_fit(int64_t m, const zy_gemm_operand *b) {
  return m >= 2 && m <= ZY_GEMV_ROWS_MAX && b->rs == 1 && zy_cpu()->avx512;
}
static int few_rows(int64_t m, int64_t n, int64_t k, const zy_gemm_operand *a, const zy_gemm_operand *b, float *c,
                    int64_t ldc, float alpha, float beta) {
  pack_buffers *buf = &thread_buffers;
  float *x = (float *)grow((void **)&buf->x, &buf->x_bytes, (size_t)(m * k) * 4);
  if (!x) return 0;
  for (int64_t i = 0; i < m; i++) /* op(A) rows as contiguous f32 */
    for (int64_t p = 0; p < k; p++) x[i * k + p] = zy_gemm_load(a, i * a->rs + p * a->cs);
  zy_gemv_rows_avx512((int)m, n, k, x, k, b, c, ldc, alpha, beta);
  return 1;
}

static void gemm_naive_operands(int64_t m, int64_t n, int64_t k, const zy_gemm_operand *a,
                                const zy_gemm_operand *b, float *c, int64_t ldc, float alpha, float beta) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      float s = 0.0f;
      for (int64_t p = 0; p < k; p++) s += zy_gemm_load(a, i * a->rs + p * a->cs) * zy_gemm_load(b, p * b->rs + j * b->cs);
      c[i * ldc + j] = beta == 0.0f ? alpha * s : alpha * s + beta * c[i * ldc + j];
    }
}

/* C[mb × nb] = alpha·(packed A block)·B[p0 .. p0+kb, j0 .. j0+nb] + beta·C, c at C(i0, j0): packs the B block
 * into pb and runs the micro-kernel over every tile. (Reading an f32 B in place instead was measured 1.5–2×
 * slower even for m = 12..48: its rows are a page apart, so every k step misses the TLB and the prefetchers.) */
static void block_product(const zy_gemm_kernel *K, const char *pa, int64_t mb, const zy_gemm_operand *b, char *pb,
                          int64_t p0, int64_t kb, int64_t j0, int64_t nb, float *c, int64_t ldc, float alpha,
                          float beta) {
  int64_t kbp = (kb + K->kgroup - 1) / K->kgroup * K->kgroup;
  int64_t panel_step = (int64_t)K->nr * kbp * K->elem_bytes;
  K->pack_b(b, p0, kb, j0, nb, pb);
  for (int64_t ii = 0; ii < mb; ii += K->mr) {
    int rows = mb - ii < K->mr ? (int)(mb - ii) : K->mr;
    const char *apanel = pa + ii * kbp * K->elem_bytes;
    for (int64_t jj = 0, q = 0; jj < nb; jj += K->nr, q++) {
      int cols = nb - jj < K->nr ? (int)(nb - jj) : K->nr;
      K->tile(kbp, apanel, pb + q * panel_step, K->nr, c + ii * ldc + jj, ldc, rows, cols, alpha, beta);
    }
  }
}

static void gemm_one(int64_t m, int64_t n, int64_t k, zy_gemm_operand a, zy_gemm_operand b, float *c, int64_t ldc,
                     float alpha, float beta) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) { scale_c(m, n, c, ldc, beta); return; }
  if (m == 1 && gemv(n, k, a, &b, c, alpha, beta)) return;
  if (n == 1) { /* C is a column: Cᵀ[1, m] = op(B)ᵀ · op(A)ᵀ has the same memory layout */
    zy_gemm_operand bt = {b.base, b.cs, b.rs, b.bf16}, at = {a.base, a.cs, a.rs, a.bf16};
    if (gemv(m, k, bt, &at, c, alpha, beta)) return;
  }
  if (few_rows_fit(m, &b) && few_rows(m, n, k, &a, &b, c, ldc, alpha, beta)) return;
  const zy_gemm_kernel *K = pick_kernel(a.bf16);
  int64_t kbp_max = (K->kc + K->kgroup - 1) / K->kgroup * K->kgroup;
  int64_t mc_pad = (K->mc + K->mr - 1) / K->mr * K->mr, nc_pad = (K->nc + K->nr - 1) / K->nr * K->nr;
  pack_buffers *buf = &thread_buffers;
  char *pa = (char *)grow(&buf->a, &buf->a_bytes, (size_t)(mc_pad * kbp_max * K->elem_bytes));
  char *pb = (char *)grow(&buf->b, &buf->b_bytes, (size_t)(nc_pad * kbp_max * K->elem_bytes));
  if (!pa || !pb) { gemm_naive_operands(m, n, k, &a, &b, c, ldc, alpha, beta); return; }

  for (int64_t i0 = 0; i0 < m; i0 += K->mc) {
    int64_t mb = m - i0 < K->mc ? m - i0 : K->mc;
    for (int64_t p0 = 0; p0 < k; p0 += K->kc) {
      int64_t kb = k - p0 < K->kc ? k - p0 : K->kc;
      K->pack_a(&a, i0, mb, p0, kb, pa);
      for (int64_t j0 = 0; j0 < n; j0 += K->nc) {
        int64_t nb = n - j0 < K->nc ? n - j0 : K->nc;
        block_product(K, pa, mb, &b, pb, p0, kb, j0, nb, c + i0 * ldc + j0, ldc, alpha, p0 == 0 ? beta : 1.0f);
      }
    }
  }
}

/* Operand views of batch item `bi`: op(A)(i, p) and op(B)(p, j). */
static zy_gemm_operand view_a(const void *A, int bf16, int64_t bi, int64_t strideA, int64_t m, int64_t k, int transA) {
  zy_gemm_operand v = {(const char *)A + bi * strideA * (bf16 ? 2 : 4), transA ? 1 : k, transA ? m : 1, bf16};
  return v;
}
static zy_gemm_operand view_b(const void *B, int bf16, int64_t bi, int64_t strideB, int64_t n, int64_t k, int transB) {
  zy_gemm_operand v = {(const char *)B + bi * strideB * (bf16 ? 2 : 4), transB ? 1 : n, transB ? k : 1, bf16};
  return v;
}
static zy_gemm_operand offset(zy_gemm_operand v, int64_t i, int64_t j) {
  v.base = (const char *)v.base + (i * v.rs + j * v.cs) * (v.bf16 ? 2 : 4);
  return v;
}

/* ---- one large product on all threads together (BLIS-style) ----
 * Steps walk (A block of mc rows) × (k block of kc); in each, the threads first pack the A block into a shared
 * buffer (groups of panels taken from a counter), then take column units of the B side from a second counter,
 * packing each B block privately. Dynamic counters keep both cores busy when the OS gives one of them less
 * time; A is double-buffered so packing the next block overlaps the other thread's last unit. A unit waits
 * for the same unit of the previous k block (they add into the same C tile). */

#define COOP_GROUP_PANELS 8
typedef struct {
  _Atomic int64_t a_next, a_done, u_next, u_done;
  char pad[32]; /* one cache line per step */
} coop_step;

typedef struct {
  const zy_gemm_kernel *K;
  zy_gemm_operand a, b;
  float *c;
  int64_t m, n, k, mc, nu, ksteps, steps, units;
  float alpha, beta;
  char *abuf[2];
  coop_step *step;
  _Atomic int *unit_done; /* [steps × units] */
} coop_ctx;

static void wait_at_least(_Atomic int64_t *x, int64_t v) {
  for (int spins = 0; atomic_load_explicit(x, memory_order_acquire) < v;)
    if (++spins < 2048) _mm_pause();
    else sched_yield(); /* the other thread is descheduled: give it the core */
}
static void wait_flag(_Atomic int *x) {
  for (int spins = 0; !atomic_load_explicit(x, memory_order_acquire);)
    if (++spins < 2048) _mm_pause();
    else sched_yield();
}

static void coop_task(void *ctxp, int64_t begin, int64_t end, int thread_index) {
  (void)begin; (void)end; (void)thread_index;
  coop_ctx *g = (coop_ctx *)ctxp;
  const zy_gemm_kernel *K = g->K;
  pack_buffers *buf = &thread_buffers;
  int64_t kbp_max = (K->kc + K->kgroup - 1) / K->kgroup * K->kgroup;
  char *pb = (char *)grow(&buf->b, &buf->b_bytes, (size_t)((g->nu + K->nr - 1) / K->nr * K->nr * kbp_max * K->elem_bytes));
  for (int64_t s = 0; s < g->steps; s++) {
    coop_step *st = &g->step[s];
    int64_t i0 = s / g->ksteps * g->mc, p0 = s % g->ksteps * K->kc;
    int64_t mb = g->m - i0 < g->mc ? g->m - i0 : g->mc, kb = g->k - p0 < K->kc ? g->k - p0 : K->kc;
    int64_t kbp = (kb + K->kgroup - 1) / K->kgroup * K->kgroup;
    char *pa = g->abuf[s & 1];
    int64_t group_rows = (int64_t)K->mr * COOP_GROUP_PANELS, groups = (mb + group_rows - 1) / group_rows;
    if (s >= 2) wait_at_least(&g->step[s - 2].u_done, g->units); /* pa is free again */
    for (int64_t q; (q = atomic_fetch_add(&st->a_next, 1)) < groups;) {
      int64_t r0 = q * group_rows, rows = mb - r0 < group_rows ? mb - r0 : group_rows;
      K->pack_a(&g->a, i0 + r0, rows, p0, kb, pa + r0 * kbp * K->elem_bytes);
      atomic_fetch_add_explicit(&st->a_done, 1, memory_order_acq_rel);
    }
    wait_at_least(&st->a_done, groups);
    for (int64_t u; (u = atomic_fetch_add(&st->u_next, 1)) < g->units;) {
      if (p0 > 0) wait_flag(&g->unit_done[(s - 1) * g->units + u]);
      int64_t j0 = u * g->nu, nb = g->n - j0 < g->nu ? g->n - j0 : g->nu;
      if (pb)
        block_product(K, pa, mb, &g->b, pb, p0, kb, j0, nb, g->c + i0 * g->n + j0, g->n, g->alpha,
                      p0 == 0 ? g->beta : 1.0f);
      else { /* no memory for this thread's B block: the slow specification for this unit */
        zy_gemm_operand a = offset(g->a, i0, p0), b = offset(g->b, p0, j0);
        gemm_naive_operands(mb, nb, kb, &a, &b, g->c + i0 * g->n + j0, g->n, g->alpha, p0 == 0 ? g->beta : 1.0f);
      }
      atomic_store_explicit(&g->unit_done[s * g->units + u], 1, memory_order_release);
      atomic_fetch_add_explicit(&st->u_done, 1, memory_order_acq_rel);
    }
  }
}

/* Whether one product of this shape is worth running on all threads together (else: split statically). */
static int coop_fits(const zy_gemm_kernel *K, int threads, int64_t m, int64_t n, int64_t k, const zy_gemm_operand *b) {
  if (few_rows_fit(m, b)) return 0; /* matrix-vector-like: split N statically */
#ifdef ZY_GEMM_NO_COOP /* dev/gemm experiments: the static split only */
  return 0;
#endif
  return threads > 1 && m > 1 && n >= (int64_t)K->nr * 8 * threads && (double)m * n * k >= 16e6;
}

/* Returns 0 (nothing done) when the shared buffers cannot be allocated. */
static int gemm_coop(int threads, int64_t m, int64_t n, int64_t k, zy_gemm_operand a, zy_gemm_operand b, float *c,
                     float alpha, float beta) {
  const zy_gemm_kernel *K = pick_kernel(a.bf16);
  coop_ctx g = {0};
  g.K = K; g.a = a; g.b = b; g.c = c; g.m = m; g.n = n; g.k = k; g.alpha = alpha; g.beta = beta;
  g.mc = 2 * K->mc; /* one shared A block serves every thread: B is packed half as often as with mc */
  g.nu = (n / (8 * threads) + K->nr - 1) / K->nr * K->nr;
  if (g.nu < 4 * K->nr) g.nu = 4 * K->nr;
  if (g.nu > K->nc) g.nu = K->nc;
  g.units = (n + g.nu - 1) / g.nu;
  g.ksteps = (k + K->kc - 1) / K->kc;
  g.steps = (m + g.mc - 1) / g.mc * g.ksteps;
  int64_t kbp_max = (K->kc + K->kgroup - 1) / K->kgroup * K->kgroup;
  size_t ablock = (size_t)((g.mc + K->mr - 1) / K->mr * K->mr * kbp_max * K->elem_bytes);
  size_t ablock_pad = (ablock + 63) & ~(size_t)63;
  size_t sync = (size_t)g.steps * sizeof(coop_step) + (size_t)(g.steps * g.units) * sizeof(_Atomic int);
  pack_buffers *buf = &thread_buffers;
  char *shared = (char *)grow(&buf->shared, &buf->shared_bytes, 2 * ablock_pad + sync);
  if (!shared) return 0;
  g.abuf[0] = shared;
  g.abuf[1] = shared + ablock_pad;
  g.step = (coop_step *)(shared + 2 * ablock_pad);
  g.unit_done = (_Atomic int *)(g.step + g.steps);
  memset(g.step, 0, sync);
  zy_parallel_run(coop_task, &g);
  return 1;
}

/* ---- the split over threads: batch items × parts of M (or of N when M is short) ---- */

typedef struct {
  int64_t m, n, k, parts;
  int split_n;
  int64_t part_grain;
  const void *A, *B;
  int64_t strideA, strideB, strideC;
  float *C;
  int transA, transB, bf16;
  float alpha, beta;
} gemm_plan;

static void run_unit(const gemm_plan *g, int64_t u) {
  int64_t bi = u / g->parts, part = u % g->parts;
  int64_t len = g->split_n ? g->n : g->m;
  int64_t chunks = (len + g->part_grain - 1) / g->part_grain;
  int64_t lo = chunks * part / g->parts * g->part_grain, hi = chunks * (part + 1) / g->parts * g->part_grain;
  if (hi > len) hi = len;
  if (lo >= hi) return;
  zy_gemm_operand a = view_a(g->A, g->bf16, bi, g->strideA, g->m, g->k, g->transA);
  zy_gemm_operand b = view_b(g->B, g->bf16, bi, g->strideB, g->n, g->k, g->transB);
  float *c = g->C + bi * g->strideC;
  if (g->split_n)
    gemm_one(g->m, hi - lo, g->k, a, offset(b, 0, lo), c + lo, g->n, g->alpha, g->beta);
  else
    gemm_one(hi - lo, g->n, g->k, offset(a, lo, 0), b, c + lo * g->n, g->n, g->alpha, g->beta);
}

static void run_units_task(void *ctx, int64_t begin, int64_t end, int thread_index) {
  (void)thread_index;
  for (int64_t u = begin; u < end; u++) run_unit((const gemm_plan *)ctx, u);
}

static int64_t gcd64(int64_t a, int64_t b) {
  while (b) { int64_t t = a % b; a = b; b = t; }
  return a;
}

static void gemm_any(int threaded, int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB,
                     const void *A, int64_t strideA, const void *B, int64_t strideB, float *C, int64_t strideC,
                     float alpha, float beta, int bf16) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  gemm_plan g = {m, n, k, 1, 0, 1, A, B, strideA, strideB, strideC, C, transA, transB, bf16, alpha, beta};
  int threads = threaded ? zy_threads() : 1;
  double flops = 2.0 * (double)batch * (double)m * (double)n * (double)(k > 0 ? k : 1);
  if (strideC == 0 && batch > 1 && threads > 1 && flops >= 4e6) {
    /* every item adds into the same C: items in order, each on all threads */
    size_t eb = bf16 ? 2 : 4;
    for (int64_t bi = 0; bi < batch; bi++)
      gemm_any(threaded, 1, m, n, k, transA, transB, (const char *)A + bi * strideA * eb, 0,
               (const char *)B + bi * strideB * eb, 0, C, 0, alpha, beta, bf16);
    return;
  }
  /* below ~100 µs of one core, or with C shared across a small batch, one thread does it all */
  if (threads <= 1 || flops < 4e6 || (strideC == 0 && batch > 1)) {
    for (int64_t u = 0; u < batch; u++) run_unit(&g, u);
    return;
  }
  const zy_gemm_kernel *K = pick_kernel(bf16);
  zy_gemm_operand b0 = view_b(B, bf16, 0, strideB, n, k, transB);
  if (batch < threads && k > 0 && alpha != 0.0f && coop_fits(K, threads, m, n, k, &b0)) {
    for (int64_t bi = 0; bi < batch; bi++) {
      zy_gemm_operand a = view_a(A, bf16, bi, strideA, m, k, transA), b = view_b(B, bf16, bi, strideB, n, k, transB);
      if (!gemm_coop(threads, m, n, k, a, b, C + bi * strideC, alpha, beta)) /* no memory for the shared blocks */
        gemm_one(m, n, k, a, b, C + bi * strideC, n, alpha, beta);
    }
    return;
  }
  if (batch < 4 * threads) g.parts = threads / gcd64(batch, threads);
  if (g.parts > 1) {
    /* split the longer side (in tiles), preferring rows: each part packs its own copy of the other operand */
    g.split_n = (m == 1) || (n != 1 && m < 2 * K->mr * g.parts && n > m);
    g.part_grain = g.split_n ? K->nr : K->mr;
    if (m == 1 || n == 1) g.part_grain = 64;
  }
  zy_parallel_for(batch * g.parts, 1, run_units_task, &g);
}

void zy_sgemm(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const float *A, int64_t strideA,
              const float *B, int64_t strideB, float *C, int64_t strideC, float alpha, float beta) {
  gemm_any(1, batch, m, n, k, transA, transB, A, strideA, B, strideB, C, strideC, alpha, beta, 0);
}
void zy_sgemm_st(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const float *A,
                 int64_t strideA, const float *B, int64_t strideB, float *C, int64_t strideC, float alpha, float beta) {
  gemm_any(0, batch, m, n, k, transA, transB, A, strideA, B, strideB, C, strideC, alpha, beta, 0);
}
void zy_bgemm(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const uint16_t *A,
              int64_t strideA, const uint16_t *B, int64_t strideB, float *C, int64_t strideC, float alpha, float beta) {
  gemm_any(1, batch, m, n, k, transA, transB, A, strideA, B, strideB, C, strideC, alpha, beta, 1);
}
void zy_bgemm_st(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const uint16_t *A,
                 int64_t strideA, const uint16_t *B, int64_t strideB, float *C, int64_t strideC, float alpha,
                 float beta) {
  gemm_any(0, batch, m, n, k, transA, transB, A, strideA, B, strideB, C, strideC, alpha, beta, 1);
}
