/* The decode kernels' variant table (see zy_tune.h): the variants of each family, the per-shape choices, and the
 * calibration timer. Leaves out: choosing (src/backend/cpu/tuning.ts) and the kernels that read the knobs
 * (quant.c, quant_r16.c, quant_avx512.c). */
#include "zy_tune.h"
#include "quant.h"
#include <stdlib.h>
#include <time.h>

/* Variant 0 of each family is the fixed fallback (what --no-tune runs). The float family's was "row1-pf8-c2" until
 * session 9: on AMD Zen 5 the software prefetch cost ~20% of the CPU time per streamed byte of a decode matvec
 * (the hardware prefetcher alone keeps up with one row stream), so the fallback now prefetches nothing and the
 * prefetching variants stay for CPUs where they win. */
static const zy_knobs FLOAT_VARIANTS[] = {
    {"row1-pf0-c2", 1, 0, 0, 0, 2},  {"row4-pf8-c2", 4, 8, 0, 0, 2},  {"row1-pf16-c2", 1, 16, 0, 0, 2},
    {"row1-pf8-c2", 1, 8, 0, 0, 2},  {"row1-pf0-c4", 1, 0, 0, 0, 4},  {"row4-pf0-c2", 4, 0, 0, 0, 2},
    {"row1-pf0-c1", 1, 0, 0, 0, 1},  {"row4-pf16-c2", 4, 16, 0, 0, 2}, {"row4-pf8-c4", 4, 8, 0, 0, 4},
};
/* The r16 q8_0/q4_0 fallback prefetched 2 KiB ahead until session 10 ("pf2048-c2", now variant 3): on AMD Zen 5 a
 * whole decode step needed 1.04-1.16x less CPU without it (110M q4_0, 1B q4_0 and q8_0; BENCHMARKS.md, issue 15
 * session 10), the same finding as the float family's. */
static const zy_knobs R16_VARIANTS[] = {
    {"pf0-c2", 0, 0, 0, 0, 2},       {"pf1024-c2", 0, 0, 1024, 0, 2}, {"pf4096-c2", 0, 0, 4096, 0, 2},
    {"pf2048-c2", 0, 0, 2048, 0, 2}, {"pf0-c4", 0, 0, 0, 0, 4},       {"pf0-c1", 0, 0, 0, 0, 1},
    {"pf8192-c2", 0, 0, 8192, 0, 2},
};
static const zy_knobs R16K_VARIANTS[] = {
    {"tile1-c2", 0, 0, 0, 1, 2}, {"tile2-c2", 0, 0, 0, 2, 2}, {"tile0-c2", 0, 0, 0, 0, 2},
    {"tile1-c4", 0, 0, 0, 1, 4}, {"tile1-c1", 0, 0, 0, 1, 1}, {"tile3-c2", 0, 0, 0, 3, 2},
    {"tile4-c2", 0, 0, 0, 4, 2},  {"tile2-c4", 0, 0, 0, 2, 4}, {"tile8-c2", 0, 0, 0, 8, 2},
};
/* Row-layout quantized types: only the threading. */
static const zy_knobs ROWS_VARIANTS[] = {
    {"c2", 0, 0, 0, 0, 2}, {"c4", 0, 0, 0, 0, 4}, {"c1", 0, 0, 0, 0, 1},
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

int zy_tune_family(int type) {
  switch (type) {
    case ZY_QT_F32: case ZY_QT_F16: case ZY_QT_BF16: return ZY_TUNE_FLOAT;
    case ZY_QT_Q8_0_R16: case ZY_QT_Q4_0_R16: return ZY_TUNE_R16;
    case ZY_QT_Q4_K_R16: case ZY_QT_Q6_K_R16: return ZY_TUNE_R16K;
    default: return type >= 0 && type < ZY_QT_COUNT ? ZY_TUNE_ROWS : ZY_TUNE_NONE;
  }
}

int zy_tune_variant_count(int family) {
  switch (family) {
    case ZY_TUNE_FLOAT: return COUNT(FLOAT_VARIANTS);
    case ZY_TUNE_R16: return COUNT(R16_VARIANTS);
    case ZY_TUNE_R16K: return COUNT(R16K_VARIANTS);
    case ZY_TUNE_ROWS: return COUNT(ROWS_VARIANTS);
    default: return 0;
  }
}

const zy_knobs *zy_tune_variant(int family, int v) {
  if (v < 0 || v >= zy_tune_variant_count(family)) return NULL;
  switch (family) {
    case ZY_TUNE_FLOAT: return &FLOAT_VARIANTS[v];
    case ZY_TUNE_R16: return &R16_VARIANTS[v];
    case ZY_TUNE_R16K: return &R16K_VARIANTS[v];
    default: return &ROWS_VARIANTS[v];
  }
}

#define TABLE_MAX 64
typedef struct {
  int type, variant;
  int64_t rows, cols;
} tune_entry;
static tune_entry table[TABLE_MAX];
static int table_size = 0;
/* Calibration's override (-1: none): every product runs this variant of its family while zy_tune_time runs. */
static int forced = -1;

int zy_tune_set(int type, int64_t rows, int64_t cols, int v) {
  if (!zy_tune_variant(zy_tune_family(type), v)) return -1;
  for (int i = 0; i < table_size; i++)
    if (table[i].type == type && table[i].rows == rows && table[i].cols == cols) {
      table[i].variant = v;
      return 0;
    }
  if (table_size == TABLE_MAX) return -1;
  table[table_size++] = (tune_entry){type, v, rows, cols};
  return 0;
}

void zy_tune_clear(void) { table_size = 0; }

int zy_tune_get(int type, int64_t rows, int64_t cols) {
  for (int i = 0; i < table_size; i++)
    if (table[i].type == type && table[i].rows == rows && table[i].cols == cols) return table[i].variant;
  return 0;
}

const zy_knobs *zy_tune_fallback(int type) {
  const zy_knobs *k = zy_tune_variant(zy_tune_family(type), 0);
  return k ? k : &ROWS_VARIANTS[0];
}

const zy_knobs *zy_tune_knobs(int type, int64_t rows, int64_t cols) {
  const zy_knobs *k = zy_tune_variant(zy_tune_family(type), forced >= 0 ? forced : zy_tune_get(type, rows, cols));
  return k ? k : zy_tune_fallback(type);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

double zy_tune_time(const uint8_t *ring, int type, int64_t rows, int64_t cols, int64_t copies, int v, int passes) {
  if (!zy_tune_variant(zy_tune_family(type), v) || copies < 1 || passes < 1) return -1;
  const int64_t bytes = rows * (cols / zy_qtype_block_elems(type)) * zy_qtype_block_bytes(type);
  float *x = malloc((size_t)cols * sizeof(float)), *out = malloc((size_t)rows * sizeof(float));
  if (!x || !out) {
    free(x);
    free(out);
    return -2;
  }
  for (int64_t i = 0; i < cols; i++) x[i] = (float)((i * 37 % 101) - 50) / 64.0f;
  double best = -1;
  forced = v;
  for (int p = 0; p < passes; p++) {
    const double t0 = now_ns();
    for (int64_t c = 0; c < copies; c++)
      if (zy_quant_matmul(ring + c * bytes, type, rows, cols, x, out, 1) != 0) { best = -2; goto out; }
    const double t = (now_ns() - t0) / (double)copies;
    if (best < 0 || t < best) best = t;
  }
out:
  forced = -1;
  free(x);
  free(out);
  return best;
}
