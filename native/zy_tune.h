/* Run-time tuning of the decode (one activation row) matmul kernels: each product picks one of a few variants —
 * rows per kernel call, software-prefetch distance, row chunks per thread — that give the same bits (every
 * variant sums each output in the same order; only the order in which rows are visited and memory is prefetched
 * differs). Which variant a matrix shape gets is set from TypeScript (src/backend/cpu/tuning.ts calibrates on the
 * CPU at hand and caches the choice); a shape nobody set runs variant 0, the fixed fallback (the kernels as they
 * were before tuning). The table is process state like the thread count: set once after a model loads.
 * Leaves out: prompt-sized products (m > 1 keeps the fallback), GEMM tiles (gemm*.c), attention. */
#ifndef ZY_TUNE_H
#define ZY_TUNE_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  const char *name;
  int rows_per_call;     /* float weights: 1 (one row per call) or 4 (four rows, one pass over x) */
  int pf_rows;           /* float weights: software prefetch this many rows ahead (0: none, the hardware's alone) */
  int pf_bytes;          /* r16 q8_0/q4_0: prefetch this many bytes ahead (0: none) */
  int pf_tiles;          /* r16 q4_k/q6_k: prefetch this many whole tiles ahead (0: none) */
  int chunks_per_thread; /* row chunks per thread of the shared counter (threading) */
} zy_knobs;

/* The variant families: which knobs matter for a weight type on this build's kernels. */
enum { ZY_TUNE_NONE = -1, ZY_TUNE_FLOAT = 0, ZY_TUNE_R16 = 1, ZY_TUNE_R16K = 2, ZY_TUNE_ROWS = 3 };

/* The family of a weight type (ZY_TUNE_NONE when nothing is tunable for it). */
int zy_tune_family(int type);
int zy_tune_variant_count(int family);
/* Variant v of a family (v = 0 is the fallback); NULL when out of range. */
const zy_knobs *zy_tune_variant(int family, int v);
/* Sets the variant of products with this type and shape (a later set of the same shape replaces it); -1 when v is
 * out of range for the type's family or the table is full (64 shapes). */
int zy_tune_set(int type, int64_t rows, int64_t cols, int v);
void zy_tune_clear(void);
/* The variant index set for this shape (0 when none). */
int zy_tune_get(int type, int64_t rows, int64_t cols);
/* The knobs a decode product of this type and shape runs with. */
const zy_knobs *zy_tune_knobs(int type, int64_t rows, int64_t cols);
/* Variant 0 of the type's family (what every other product runs with). */
const zy_knobs *zy_tune_fallback(int type);

/* Nanoseconds per matrix of the best of `passes` passes over `copies` matrices laid end to end in `ring` (type,
 * rows × cols each), one activation row, with variant v forced (calibration: the ring is as large as the model's
 * weights, so the matrices stream from wherever a decode step would find them). -1 on a bad variant, -2 out of
 * memory. */
double zy_tune_time(const uint8_t *ring, int type, int64_t rows, int64_t cols, int64_t copies, int v, int passes);

#ifdef __cplusplus
}
#endif
#endif
