/* Read-bandwidth probe for `zhiyu bench bandwidth`: Σ x[i] mod 2^32 over n 32-bit words, each pool thread summing
 * its own contiguous share front to back with wide loads, so the time measures how fast the cores can stream
 * memory (decode's access pattern: every weight once, in order). Integer sums are exact and order-free, so every
 * variant and thread count returns the reference's value (src/backend/ref/reduce.ts readChecksum).
 * Variants (ZY_READ_*): plain 64-byte loads into 8 accumulators; the same with software prefetch 4 KB ahead;
 * non-temporal loads (vmovntdqa). AVX2 runs 32-byte loads; portable a scalar loop for all three.
 * Leaves out: write/copy bandwidth, NUMA placement, pinning threads to cores. */
#include <immintrin.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"

#define READ_PARTS 256
#define PREFETCH_BYTES 4096

typedef struct {
  const int32_t *x;
  int64_t n;
  int variant, isa, parts;
  uint32_t sum[READ_PARTS * 16]; /* one cache line per thread: [0] the sum, [1] set when the share was read */
} read_ctx;

static uint32_t sum_scalar(const int32_t *x, int64_t b, int64_t e) {
  uint32_t s = 0;
  for (int64_t i = b; i < e; i++) s += (uint32_t)x[i];
  return s;
}

/* [b, e) with the body 64-byte aligned (vmovntdqa needs it); head and tail scalar. */
static int64_t aligned_start(const int32_t *x, int64_t b, int64_t e) {
  int64_t i = b;
  while (i < e && ((uintptr_t)(x + i) & 63) != 0) i++;
  return i;
}

ZY_AVX512 static uint32_t sum_avx512(const int32_t *x, int64_t b, int64_t e, int variant) {
  int64_t i = aligned_start(x, b, e);
  uint32_t s = sum_scalar(x, b, i);
  __m512i a[8];
  for (int j = 0; j < 8; j++) a[j] = _mm512_setzero_si512();
  for (; i + 128 <= e; i += 128) {
    const char *p = (const char *)(x + i);
    if (variant == ZY_READ_PREFETCH)
      for (int j = 0; j < 8; j++) _mm_prefetch(p + PREFETCH_BYTES + 64 * j, _MM_HINT_T0);
    if (variant == ZY_READ_NONTEMPORAL)
      for (int j = 0; j < 8; j++) a[j] = _mm512_add_epi32(a[j], _mm512_stream_load_si512((void *)(p + 64 * j)));
    else
      for (int j = 0; j < 8; j++) a[j] = _mm512_add_epi32(a[j], _mm512_load_si512((const void *)(p + 64 * j)));
  }
  for (int j = 1; j < 8; j++) a[0] = _mm512_add_epi32(a[0], a[j]);
  return s + (uint32_t)_mm512_reduce_add_epi32(a[0]) + sum_scalar(x, i, e);
}

ZY_AVX2 static uint32_t sum_avx2(const int32_t *x, int64_t b, int64_t e, int variant) {
  int64_t i = aligned_start(x, b, e);
  uint32_t s = sum_scalar(x, b, i);
  __m256i a[8];
  for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_si256();
  for (; i + 64 <= e; i += 64) {
    const char *p = (const char *)(x + i);
    if (variant == ZY_READ_PREFETCH)
      for (int j = 0; j < 4; j++) _mm_prefetch(p + PREFETCH_BYTES + 64 * j, _MM_HINT_T0);
    if (variant == ZY_READ_NONTEMPORAL)
      for (int j = 0; j < 8; j++) a[j] = _mm256_add_epi32(a[j], _mm256_stream_load_si256((const __m256i *)(p + 32 * j)));
    else
      for (int j = 0; j < 8; j++) a[j] = _mm256_add_epi32(a[j], _mm256_load_si256((const __m256i *)(p + 32 * j)));
  }
  for (int j = 1; j < 8; j++) a[0] = _mm256_add_epi32(a[0], a[j]);
  uint32_t lanes[8];
  _mm256_storeu_si256((__m256i *)lanes, a[0]);
  for (int j = 0; j < 8; j++) s += lanes[j];
  return s + sum_scalar(x, i, e);
}

static void read_task(void *p, int64_t t, int64_t t1, int thread_index) {
  (void)t1;
  (void)thread_index;
  read_ctx *c = p;
  /* contiguous shares in whole 64-byte lines, the last one taking the rest */
  const int64_t share = (c->n / c->parts + 15) / 16 * 16;
  const int64_t b = t * share < c->n ? t * share : c->n, e = t == c->parts - 1 || b + share > c->n ? c->n : b + share;
  uint32_t s;
  if (c->isa == 2) s = sum_avx512(c->x, b, e, c->variant);
  else if (c->isa == 1) s = sum_avx2(c->x, b, e, c->variant);
  else s = sum_scalar(c->x, b, e);
  c->sum[t * 16] = s;
  c->sum[t * 16 + 1] = 1;
}

uint32_t zy_op_read_checksum(const int32_t *x, int64_t n, int variant) {
  static read_ctx c; /* 16 KB of partial sums: not on the stack; the pool is not reentrant anyway */
  int parts = zy_threads();
  if (parts > READ_PARTS) parts = READ_PARTS;
  if (parts < 1) parts = 1;
  c.x = x;
  c.n = n;
  c.variant = variant;
  c.isa = zy_isa_level();
  c.parts = parts;
  for (int t = 0; t < parts; t++) c.sum[t * 16 + 1] = 0;
  if (parts > 1) zy_parallel_run(read_task, &c);
  uint32_t s = 0;
  for (int t = 0; t < parts; t++) {
    if (!c.sum[t * 16 + 1]) read_task(&c, t, t + 1, 0); /* a pool without workers ran share 0 only */
    s += c.sum[t * 16];
  }
  return s;
}
