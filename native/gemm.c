/* GEMM driver (see gemm.h): the naive specification, a GotoBLAS/BLIS-style blocked loop nest that packs A and
 * B blocks and runs a register-blocked micro-kernel over them, the portable C micro-kernel, the matrix-vector
 * path for m = 1 or n = 1, ISA dispatch, and the work split over the thread pool. The AVX-512 and AVX2
 * micro-kernels and packers live in gemm_avx512.c and gemm_avx2.c.
 *
 * Loop nest per (sub-)problem, with the A micro-panel (mr × kc) resident in L1 and the packed B block
 * (kc × nc) in L2:
 *   for i0 in m step mc:  for p0 in k step kc:  pack A[i0.., p0..]
 *     for j0 in n step nc:  pack B[p0.., j0..]
 *       for ii in mb step mr:  for jj in nb step nr:  tile
 * Threads: the batch × (rows, or columns when rows are few) is cut into one equal part per thread; each part
 * packs its own blocks, so threads never wait for each other. (A BLIS-style variant that shared packed A
 * blocks and handed out B columns from a counter packed less, but measured 4–10% slower next to other jobs:
 * its threads wait for each other whenever one is descheduled.)
 * zy_sgemm_round_bf16 runs the f32 tiles on f32 operands rounded to bf16 (RNE) as they are packed (each packed
 * block is rounded in place right after packing): the numerics of zy_bgemm on pre-rounded operands without the
 * separate rounding passes, bf16 copies and widening (on CPUs without AVX512_BF16). With AVX512_BF16 it runs the
 * vdpbf16ps tile on operands rounded into bf16 pairs while packing (zy_bgemm's numerics, without bf16 copies).
 * Leaves out: column-major inputs, leading dimensions other than the row length, NUMA placement. */
#include "gemm.h"
#include "gemm_impl.h"
#include "zy_scratch.h"
#include "zy_cpu.h"
#include "zy_pool.h"
#include <stdlib.h>
#include <string.h>

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
/* f32 operands rounded to bf16: with AVX512_BF16 the vdpbf16ps tile on pairs rounded while packing; else the f32
 * tile on blocks the driver rounds in place after packing (AVX-512 packers that rounded as they copied measured
 * 10–20% slower than f32 on GPT-2's dX products; plain packing plus a pass over the packed block runs at f32's
 * speed). */
static const zy_gemm_kernel *pick_round_kernel(void) {
  if (zy_cpu()->avx512_bf16) return &zy_gemm_kernel_avx512bf16_round;
  return pick_kernel(0);
}

/* ---- per-thread packing buffers, grown on demand and kept for the next call ---- */

typedef struct {
  void *a, *b;
  float *x;
  size_t a_bytes, b_bytes, x_bytes;
} pack_buffers;
static __thread pack_buffers thread_buffers;


/* ---- rounding f32 operands to bf16 (zy_sgemm_round_bf16) ---- */

/* x → the nearest-even bf16 value, still as f32: the rounding of src/core/dtype.ts f32ToBf16 (NaN → quiet NaN,
 * sign kept), so the product equals zy_bgemm on operands rounded beforehand. */
typedef uint32_t zy_u32_alias __attribute__((may_alias));
static inline uint32_t round_bits(uint32_t b) {
  uint32_t r = (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
  return (b & 0x7fffffffu) > 0x7f800000u ? ((b & 0x80000000u) | 0x7fc00000u) : r;
}
static inline float round_one(float x) {
  uint32_t b;
  memcpy(&b, &x, 4);
  b = round_bits(b);
  memcpy(&x, &b, 4);
  return x;
}
static inline uint32_t load_bits(const zy_gemm_operand *x, int64_t at) {
  float f = ((const float *)x->base)[at];
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}
/* In place over a packed block (it is in L1/L2 right after packing, so this pass is cheap next to the tiles).
 * One body, compiled per ISA so that it vectorizes 16 (8, 4) lanes wide; the packers are left alone. */
#define ROUND_BLOCK_BODY                                                                                          \
  zy_u32_alias *u = (zy_u32_alias *)p;                                                                            \
  for (int64_t i = 0; i < count; i++) u[i] = round_bits(u[i]);
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))) static void round_block_avx512(void *p, int64_t count) {
  ROUND_BLOCK_BODY
}
__attribute__((target("avx2,fma"))) static void round_block_avx2(void *p, int64_t count) { ROUND_BLOCK_BODY }
static void round_block_portable(void *p, int64_t count) { ROUND_BLOCK_BODY }
static void round_block(void *p, int64_t count) {
  const zy_cpu_features *cpu = zy_cpu();
  if (cpu->avx512) round_block_avx512(p, count);
  else if (cpu->avx2_fma) round_block_avx2(p, count);
  else round_block_portable(p, count);
}
/* Dense copy of op(X) [r × c] as bf16 bits, in X's orientation, for the small-m/n paths that read operands in
 * place: they then run exactly as zy_bgemm does (their f32 and bf16 summation orders may differ). */
static uint16_t *rounded_copy(const zy_gemm_operand *x, int64_t r, int64_t c, zy_gemm_operand *out) {
  uint16_t *d = (uint16_t *)malloc((size_t)(r * c > 0 ? r * c : 1) * 2);
  if (!d) return NULL;
  if (x->cs == 1) { /* row-major like X */
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < c; j++) d[i * c + j] = (uint16_t)(round_bits(load_bits(x, i * x->rs + j)) >> 16);
    zy_gemm_operand v = {d, c, 1, 1};
    *out = v;
  } else { /* X is stored transposed: keep it so */
    for (int64_t j = 0; j < c; j++)
      for (int64_t i = 0; i < r; i++)
        d[j * r + i] = (uint16_t)(round_bits(load_bits(x, i * x->rs + j * x->cs)) >> 16);
    zy_gemm_operand v = {d, 1, r, 1};
    *out = v;
  }
  return d;
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
    float *t = (float *)zy_grow((void **)&buf->x, &buf->x_bytes, (size_t)k * 4);
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
  float *x = (float *)zy_grow((void **)&buf->x, &buf->x_bytes, (size_t)(m * k) * 4);
  if (!x) return 0;
  for (int64_t i = 0; i < m; i++) /* op(A) rows as contiguous f32 */
    for (int64_t p = 0; p < k; p++) x[i * k + p] = zy_gemm_load(a, i * a->rs + p * a->cs);
  zy_gemv_rows_avx512((int)m, n, k, x, k, b, c, ldc, alpha, beta);
  return 1;
}

static void gemm_naive_operands(int64_t m, int64_t n, int64_t k, const zy_gemm_operand *a,
                                const zy_gemm_operand *b, float *c, int64_t ldc, float alpha, float beta, int round) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      float s = 0.0f;
      for (int64_t p = 0; p < k; p++) {
        float x = zy_gemm_load(a, i * a->rs + p * a->cs), y = zy_gemm_load(b, p * b->rs + j * b->cs);
        s += round ? round_one(x) * round_one(y) : x * y;
      }
      c[i * ldc + j] = beta == 0.0f ? alpha * s : alpha * s + beta * c[i * ldc + j];
    }
}

/* C[mb × nb] = alpha·(packed A block)·B[p0 .. p0+kb, j0 .. j0+nb] + beta·C, c at C(i0, j0): packs the B block
 * into pb and runs the micro-kernel over every tile. (Reading an f32 B in place instead was measured 1.5–2×
 * slower even for m = 12..48: its rows are a page apart, so every k step misses the TLB and the prefetchers.) */
static void block_product(const zy_gemm_kernel *K, const char *pa, int64_t mb, const zy_gemm_operand *b, char *pb,
                          int64_t p0, int64_t kb, int64_t j0, int64_t nb, float *c, int64_t ldc, float alpha,
                          float beta, int round) {
  int64_t kbp = (kb + K->kgroup - 1) / K->kgroup * K->kgroup;
  int64_t panel_step = (int64_t)K->nr * kbp * K->elem_bytes;
  K->pack_b(b, p0, kb, j0, nb, pb);
  if (round) round_block(pb, (nb + K->nr - 1) / K->nr * K->nr * kbp);
  for (int64_t ii = 0; ii < mb; ii += K->mr) {
    int rows = mb - ii < K->mr ? (int)(mb - ii) : K->mr;
    const char *apanel = pa + ii * kbp * K->elem_bytes;
    for (int64_t jj = 0, q = 0; jj < nb; jj += K->nr, q++) {
      int cols = nb - jj < K->nr ? (int)(nb - jj) : K->nr;
      K->tile(kbp, apanel, pb + q * panel_step, K->nr, c + ii * ldc + jj, ldc, rows, cols, alpha, beta);
    }
  }
}

/* round: a and b are f32 and each element is rounded to bf16 first (f32 kernels, rounding the packed blocks). */
static void gemm_one(int64_t m, int64_t n, int64_t k, zy_gemm_operand a, zy_gemm_operand b, float *c, int64_t ldc,
                     float alpha, float beta, int round) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) { scale_c(m, n, c, ldc, beta); return; }
  if (round && (m == 1 || n == 1 || few_rows_fit(m, &b))) { /* these paths read operands in place: round copies */
    zy_gemm_operand ra, rb;
    uint16_t *da = rounded_copy(&a, m, k, &ra), *db = rounded_copy(&b, k, n, &rb);
    if (da && db) gemm_one(m, n, k, ra, rb, c, ldc, alpha, beta, 0);
    else gemm_naive_operands(m, n, k, &a, &b, c, ldc, alpha, beta, 1);
    free(da);
    free(db);
    return;
  }
  if (m == 1 && gemv(n, k, a, &b, c, alpha, beta)) return;
  if (n == 1) { /* C is a column: Cᵀ[1, m] = op(B)ᵀ · op(A)ᵀ has the same memory layout */
    zy_gemm_operand bt = {b.base, b.cs, b.rs, b.bf16}, at = {a.base, a.cs, a.rs, a.bf16};
    if (gemv(m, k, bt, &at, c, alpha, beta)) return;
  }
  if (few_rows_fit(m, &b) && few_rows(m, n, k, &a, &b, c, ldc, alpha, beta)) return;
  const zy_gemm_kernel *K = round ? pick_round_kernel() : pick_kernel(a.bf16);
  /* round: the driver rounds each packed block in place, unless the pair packers rounded it (every stride) */
  int round_packed = round && K != &zy_gemm_kernel_avx512bf16_round;
  int64_t kbp_max = (K->kc + K->kgroup - 1) / K->kgroup * K->kgroup;
  int64_t mc_pad = (K->mc + K->mr - 1) / K->mr * K->mr, nc_pad = (K->nc + K->nr - 1) / K->nr * K->nr;
  pack_buffers *buf = &thread_buffers;
  char *pa = (char *)zy_grow(&buf->a, &buf->a_bytes, (size_t)(mc_pad * kbp_max * K->elem_bytes));
  char *pb = (char *)zy_grow(&buf->b, &buf->b_bytes, (size_t)(nc_pad * kbp_max * K->elem_bytes));
  if (!pa || !pb) { gemm_naive_operands(m, n, k, &a, &b, c, ldc, alpha, beta, round); return; }

  for (int64_t i0 = 0; i0 < m; i0 += K->mc) {
    int64_t mb = m - i0 < K->mc ? m - i0 : K->mc;
    for (int64_t p0 = 0; p0 < k; p0 += K->kc) {
      int64_t kb = k - p0 < K->kc ? k - p0 : K->kc;
      K->pack_a(&a, i0, mb, p0, kb, pa);
      if (round_packed) round_block(pa, (mb + K->mr - 1) / K->mr * K->mr * kb); /* f32 kernels: kgroup 1 */
      for (int64_t j0 = 0; j0 < n; j0 += K->nc) {
        int64_t nb = n - j0 < K->nc ? n - j0 : K->nc;
        block_product(K, pa, mb, &b, pb, p0, kb, j0, nb, c + i0 * ldc + j0, ldc, alpha, p0 == 0 ? beta : 1.0f,
                      round_packed);
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

/* ---- the split over threads: batch items × parts of M (or of N when M is short) ---- */

typedef struct {
  int64_t m, n, k, parts;
  int split_n;
  int64_t part_grain;
  const void *A, *B;
  int64_t strideA, strideB, strideC;
  float *C;
  int transA, transB, bf16, round;
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
    gemm_one(g->m, hi - lo, g->k, a, offset(b, 0, lo), c + lo, g->n, g->alpha, g->beta, g->round);
  else
    gemm_one(hi - lo, g->n, g->k, offset(a, lo, 0), b, c + lo * g->n, g->n, g->alpha, g->beta, g->round);
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
                     float alpha, float beta, int bf16, int round) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  gemm_plan g = {m, n, k, 1, 0, 1, A, B, strideA, strideB, strideC, C, transA, transB, bf16, round, alpha, beta};
  int threads = threaded ? zy_threads() : 1;
  double flops = 2.0 * (double)batch * (double)m * (double)n * (double)(k > 0 ? k : 1);
  if (strideC == 0 && batch > 1 && threads > 1 && flops >= 4e6) {
    /* every item adds into the same C: items in order, each on all threads */
    size_t eb = bf16 ? 2 : 4;
    for (int64_t bi = 0; bi < batch; bi++)
      gemm_any(threaded, 1, m, n, k, transA, transB, (const char *)A + bi * strideA * eb, 0,
               (const char *)B + bi * strideB * eb, 0, C, 0, alpha, beta, bf16, round);
    return;
  }
  /* below ~100 µs of one core, or with C shared across a small batch, one thread does it all */
  if (threads <= 1 || flops < 4e6 || (strideC == 0 && batch > 1)) {
    for (int64_t u = 0; u < batch; u++) run_unit(&g, u);
    return;
  }
  const zy_gemm_kernel *K = pick_kernel(bf16);
  if (batch < 4 * threads) g.parts = threads / gcd64(batch, threads);
  if (g.parts > 1) {
    /* split the longer side (in tiles): each part packs its own copy of the other operand, so the parts pack
     * m·k + n·k/parts elements when splitting columns and m·k/parts + n·k when splitting rows (a 256-token
     * training batch against a 50257 × 768 LM head: splitting rows had every thread pack the whole head) */
    g.split_n = (m == 1) || (n != 1 && n > m);
    g.part_grain = g.split_n ? K->nr : K->mr;
    if (m == 1 || n == 1) g.part_grain = 64;
  }
  zy_parallel_for(batch * g.parts, 1, run_units_task, &g);
}

void zy_sgemm(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const float *A, int64_t strideA,
              const float *B, int64_t strideB, float *C, int64_t strideC, float alpha, float beta) {
  gemm_any(1, batch, m, n, k, transA, transB, A, strideA, B, strideB, C, strideC, alpha, beta, 0, 0);
}
void zy_sgemm_st(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const float *A,
                 int64_t strideA, const float *B, int64_t strideB, float *C, int64_t strideC, float alpha, float beta) {
  gemm_any(0, batch, m, n, k, transA, transB, A, strideA, B, strideB, C, strideC, alpha, beta, 0, 0);
}
void zy_bgemm(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const uint16_t *A,
              int64_t strideA, const uint16_t *B, int64_t strideB, float *C, int64_t strideC, float alpha, float beta) {
  gemm_any(1, batch, m, n, k, transA, transB, A, strideA, B, strideB, C, strideC, alpha, beta, 1, 0);
}
void zy_sgemm_round_bf16(int64_t batch, int64_t m, int64_t n, int64_t k, int transA, int transB, const float *A,
                         int64_t strideA, const float *B, int64_t strideB, float *C, int64_t strideC, float alpha,
                         float beta) {
  gemm_any(1, batch, m, n, k, transA, transB, A, strideA, B, strideB, C, strideC, alpha, beta, 0, 1);
}
void zy_sgemm_linear_rows_st(int64_t m, int64_t k, const float *x, const float *w, int64_t j0, int64_t j1, float *y,
                             int64_t ldy) {
  if (j1 <= j0) return;
  zy_gemm_operand a = view_a(x, 0, 0, 0, m, k, 0), b = view_b(w, 0, 0, 0, j1 - j0, k, 1);
  gemm_one(m, j1 - j0, k, a, offset(b, 0, j0), y + j0, ldy, 1.0f, 0.0f, 0);
}
