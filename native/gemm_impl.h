/* Internal to the GEMM kernels (gemm.c, gemm_avx512.c, gemm_avx2.c): the operand view, the description of one
 * micro-kernel family (tile shape, cache blocks, packers) that the blocked driver in gemm.c runs, and the
 * per-ISA matrix-vector entry points. Not a public API: other kernels include gemm.h.
 *
 * Packed layouts (what pack_a/pack_b write and tile reads), kbp = kb rounded up to kgroup:
 *   A block [mb × kb] → panels of mr rows;    panel q at q·mr·kbp elements, element (i, p) at p·mr + i
 *   B block [kb × nb] → panels of nr columns; panel q at q·nr·kbp elements, element (p, j) at p·nr + j,
 *                        columns past nb zero-filled
 *   with kgroup 2 (bf16 pairs for vdpbf16ps) an "element" of A is the pair (p, p+1) packed in 32 bits and B
 *   stores (p, j), (p+1, j) next to each other; the padding k row is zero. */
#ifndef ZY_GEMM_IMPL_H
#define ZY_GEMM_IMPL_H
#include <stdint.h>
#include <string.h>
#include "zy_half.h"

/* Element (i, j) of op(X) is at base[i·rs + j·cs]; elements are f32, or bf16 bits when bf16 is set. */
typedef struct {
  const void *base;
  int64_t rs, cs;
  int bf16;
} zy_gemm_operand;

typedef struct {
  const char *name;
  int mr, nr;          /* micro-tile: rows of C (broadcast operand A) × columns of C (vector operand B) */
  int kgroup;          /* k values per packed step: 1, or 2 for bf16 pairs */
  int elem_bytes;      /* bytes per packed A/B element (f32 4, bf16 2) */
  int64_t kc, mc, nc;  /* cache blocks: depth, rows of a packed A block, columns of a packed B block */
  void (*pack_a)(const zy_gemm_operand *a, int64_t i0, int64_t mb, int64_t p0, int64_t kb, void *dst);
  void (*pack_b)(const zy_gemm_operand *b, int64_t p0, int64_t kb, int64_t j0, int64_t nb, void *dst);
  /* C[mr × nr] = alpha·(packed A panel · packed B panel, rows ldb apart) + beta·C (beta 0: C not read);
   * mr ≤ .mr, nr ≤ .nr. */
  void (*tile)(int64_t kbp, const void *pa, const void *pb, int64_t ldb, float *c, int64_t ldc, int mr, int nr,
               float alpha, float beta);
} zy_gemm_kernel;

/* y[0..n) = alpha · x[0..k) · op(B)[k × n] + beta·y, x contiguous f32 (beta 0: y not read). */
typedef void (*zy_gemv_fn)(int64_t n, int64_t k, const float *x, const zy_gemm_operand *b, float *y, float alpha,
                           float beta);

extern const zy_gemm_kernel zy_gemm_kernel_avx512_f32, zy_gemm_kernel_avx512_bf16in, zy_gemm_kernel_avx512bf16;
extern const zy_gemm_kernel zy_gemm_kernel_avx2_f32, zy_gemm_kernel_avx2_bf16in;
/* zy_sgemm_round_bf16 on AVX512_BF16: f32 operands of any strides rounded into bf16 pairs while packing, vdpbf16ps
 * tile. */
extern const zy_gemm_kernel zy_gemm_kernel_avx512bf16_round;
/* Packed B block of the avx512 f32 tile from f16 (bf16 0) or bf16 (bf16 1) weight rows [j0, j0 + nb) × k range
 * [p0, p0 + kb) of a matrix stored [rows, ldw]. */
void zy_gemm_avx512_pack_b_half(const uint16_t *w, int64_t ldw, int bf16, int64_t p0, int64_t kb, int64_t j0,
                                int64_t nb, float *dst);
/* The avx512 f32 tile (mr ≤ 12 rows × nr ≤ 32 columns) over a packed B panel of f16 (bf16 0) or bf16 (bf16 1) bits
 * with rows 32 elements apart, widened in registers: the bits of the f32 tile on the widened panel. */
/* count f16 (bf16 0) or bf16 (1) values widened to f32 (exact). */
void zy_gemm_avx512_widen_half(int bf16, const uint16_t *src, float *dst, int64_t count);
void zy_gemm_avx512_tile_half(int bf16, int64_t kb, const float *pa, const uint16_t *pb, float *c, int64_t ldc,
                              int mr, int nr, float alpha, float beta);
/* The avx512 f32 tile on a full 32-column packed B panel (alpha 1), prefetching npf cache lines from pf into L2 as it
 * goes (one per 2 k steps; at most kb / 2): tile_rows' bits. */
void zy_gemm_avx512_tile_pf(int64_t kb, const float *pa, const float *pb, float *c, int64_t ldc, int mr, float beta,
                            const void *pf, int64_t npf);
void zy_gemv_avx512(int64_t n, int64_t k, const float *x, const zy_gemm_operand *b, float *y, float alpha, float beta);
/* m (2..8) rows: y[i, 0..n) = alpha · x[i, 0..k) · op(B) + beta·y[i, ..], B stored [n, k] (b->rs == 1). */
#define ZY_GEMV_ROWS_MAX 8
void zy_gemv_rows_avx512(int m, int64_t n, int64_t k, const float *x, int64_t ldx, const zy_gemm_operand *b, float *y,
                         int64_t ldy, float alpha, float beta);
void zy_gemv_avx2(int64_t n, int64_t k, const float *x, const zy_gemm_operand *b, float *y, float alpha, float beta);

static inline float zy_gemm_load(const zy_gemm_operand *x, int64_t at) {
  return x->bf16 ? zy_bf16_to_f32(((const uint16_t *)x->base)[at]) : ((const float *)x->base)[at];
}

/* Generic packers and matrix-vector body, written so that the compiler vectorizes them; each ISA file
 * instantiates them inside its own target attribute (ZY_GEMM_INSTANTIATE_GENERIC below). */
#define ZY_ALWAYS_INLINE static inline __attribute__((always_inline))

/* A block → panels of MR rows, f32 (bf16 widened). */
ZY_ALWAYS_INLINE void zy_pack_a_generic(const zy_gemm_operand *a, int64_t i0, int64_t mb, int64_t p0, int64_t kb,
                                        float *dst, const int MR) {
  for (int64_t q = 0; q < mb; q += MR) {
    int rows = mb - q < MR ? (int)(mb - q) : MR;
    float *d = dst + q * kb;
    if (a->rs == 1 && !a->bf16) { /* transA: one op(A) column is contiguous in rows */
      const float *s = (const float *)a->base + (p0)*a->cs + i0 + q;
      for (int64_t p = 0; p < kb; p++)
        for (int i = 0; i < rows; i++) d[p * MR + i] = s[p * a->cs + i];
    } else if (a->cs == 1 && !a->bf16) { /* rows of A contiguous in k */
      for (int i = 0; i < rows; i++) {
        const float *s = (const float *)a->base + (i0 + q + i) * a->rs + p0;
        for (int64_t p = 0; p < kb; p++) d[p * MR + i] = s[p];
      }
    } else if (a->cs == 1) {
      for (int i = 0; i < rows; i++) {
        const uint16_t *s = (const uint16_t *)a->base + (i0 + q + i) * a->rs + p0;
        for (int64_t p = 0; p < kb; p++) d[p * MR + i] = zy_bf16_to_f32(s[p]);
      }
    } else {
      for (int64_t p = 0; p < kb; p++)
        for (int i = 0; i < rows; i++) d[p * MR + i] = zy_gemm_load(a, (i0 + q + i) * a->rs + (p0 + p) * a->cs);
    }
  }
}

/* B block → panels of NR columns, f32 (bf16 widened), zero-padded to NR. */
ZY_ALWAYS_INLINE void zy_pack_b_generic(const zy_gemm_operand *b, int64_t p0, int64_t kb, int64_t j0, int64_t nb,
                                        float *dst, const int NR) {
  for (int64_t q = 0; q < nb; q += NR) {
    int cols = nb - q < NR ? (int)(nb - q) : NR;
    float *d = dst + q * kb;
    if (cols < NR)
      for (int64_t p = 0; p < kb; p++)
        for (int j = cols; j < NR; j++) d[p * NR + j] = 0.0f;
    if (b->cs == 1 && !b->bf16) { /* B [k, n]: a panel row is a contiguous copy */
      const float *s = (const float *)b->base + p0 * b->rs + j0 + q;
      for (int64_t p = 0; p < kb; p++)
        for (int j = 0; j < cols; j++) d[p * NR + j] = s[p * b->rs + j];
    } else if (b->cs == 1) {
      const uint16_t *s = (const uint16_t *)b->base + p0 * b->rs + j0 + q;
      for (int64_t p = 0; p < kb; p++)
        for (int j = 0; j < cols; j++) d[p * NR + j] = zy_bf16_to_f32(s[p * b->rs + j]);
    } else if (b->rs == 1 && !b->bf16) { /* B stored [n, k] (transB): a transpose */
      for (int j = 0; j < cols; j++) {
        const float *s = (const float *)b->base + (j0 + q + j) * b->cs + p0;
        for (int64_t p = 0; p < kb; p++) d[p * NR + j] = s[p];
      }
    } else if (b->rs == 1) {
      for (int j = 0; j < cols; j++) {
        const uint16_t *s = (const uint16_t *)b->base + (j0 + q + j) * b->cs + p0;
        for (int64_t p = 0; p < kb; p++) d[p * NR + j] = zy_bf16_to_f32(s[p]);
      }
    } else {
      for (int64_t p = 0; p < kb; p++)
        for (int j = 0; j < cols; j++) d[p * NR + j] = zy_gemm_load(b, (p0 + p) * b->rs + (j0 + q + j) * b->cs);
    }
  }
}

/* Matrix-vector product (m = 1). Rows of B contiguous (B [k, n]): y accumulates four B rows at a time in a
 * column chunk that stays in L1. B stored [n, k]: four dot products at a time with 16 independent lanes. */
#define ZY_GEMV_CHUNK 1024
ZY_ALWAYS_INLINE void zy_gemv_generic(int64_t n, int64_t k, const float *x, const zy_gemm_operand *b, float *y,
                                      float alpha, float beta) {
  if (b->cs == 1) {
    float acc[ZY_GEMV_CHUNK] __attribute__((aligned(64)));
    float row[4][ZY_GEMV_CHUNK] __attribute__((aligned(64)));
    for (int64_t j0 = 0; j0 < n; j0 += ZY_GEMV_CHUNK) {
      int64_t w = n - j0 < ZY_GEMV_CHUNK ? n - j0 : ZY_GEMV_CHUNK;
      for (int64_t j = 0; j < w; j++) acc[j] = 0.0f;
      int64_t p = 0;
      if (!b->bf16) {
        const float *B = (const float *)b->base + j0;
        for (; p + 4 <= k; p += 4) {
          const float *b0 = B + p * b->rs, *b1 = b0 + b->rs, *b2 = b1 + b->rs, *b3 = b2 + b->rs;
          float x0 = x[p], x1 = x[p + 1], x2 = x[p + 2], x3 = x[p + 3];
          for (int64_t j = 0; j < w; j++) acc[j] += x0 * b0[j] + x1 * b1[j] + x2 * b2[j] + x3 * b3[j];
        }
        for (; p < k; p++) {
          const float *b0 = B + p * b->rs;
          for (int64_t j = 0; j < w; j++) acc[j] += x[p] * b0[j];
        }
      } else {
        const uint16_t *B = (const uint16_t *)b->base + j0;
        for (; p < k; p += 4) {
          int g = k - p < 4 ? (int)(k - p) : 4;
          for (int r = 0; r < g; r++) {
            const uint16_t *s = B + (p + r) * b->rs;
            for (int64_t j = 0; j < w; j++) {
              uint32_t u = (uint32_t)s[j] << 16;
              memcpy(&row[r][j], &u, 4);
            }
          }
          for (int r = g; r < 4; r++)
            for (int64_t j = 0; j < w; j++) row[r][j] = 0.0f;
          float x0 = x[p], x1 = g > 1 ? x[p + 1] : 0.0f, x2 = g > 2 ? x[p + 2] : 0.0f, x3 = g > 3 ? x[p + 3] : 0.0f;
          for (int64_t j = 0; j < w; j++) acc[j] += x0 * row[0][j] + x1 * row[1][j] + x2 * row[2][j] + x3 * row[3][j];
        }
      }
      float *yo = y + j0;
      if (beta == 0.0f)
        for (int64_t j = 0; j < w; j++) yo[j] = alpha * acc[j];
      else
        for (int64_t j = 0; j < w; j++) yo[j] = alpha * acc[j] + beta * yo[j];
    }
    return;
  }
  /* B stored [n, k]: y[j] = x · B[j, :] */
  for (int64_t j = 0; j < n; j += 4) {
    int g = n - j < 4 ? (int)(n - j) : 4;
    float lane[4][16] __attribute__((aligned(64)));
    for (int r = 0; r < 4; r++)
      for (int l = 0; l < 16; l++) lane[r][l] = 0.0f;
    int64_t kv = k & ~(int64_t)15;
    for (int r = 0; r < g; r++) {
      if (!b->bf16) {
        const float *s = (const float *)b->base + (j + r) * b->cs;
        for (int64_t p = 0; p < kv; p += 16)
          for (int l = 0; l < 16; l++) lane[r][l] += x[p + l] * s[p + l];
        for (int64_t p = kv; p < k; p++) lane[r][p - kv] += x[p] * s[p];
      } else {
        const uint16_t *s = (const uint16_t *)b->base + (j + r) * b->cs;
        for (int64_t p = 0; p < kv; p += 16)
          for (int l = 0; l < 16; l++) {
            uint32_t u = (uint32_t)s[p + l] << 16;
            float f;
            memcpy(&f, &u, 4);
            lane[r][l] += x[p + l] * f;
          }
        for (int64_t p = kv; p < k; p++) lane[r][p - kv] += x[p] * zy_bf16_to_f32(s[p]);
      }
    }
    for (int r = 0; r < g; r++) {
      float s = 0.0f;
      for (int l = 0; l < 16; l++) s += lane[r][l];
      y[j + r] = beta == 0.0f ? alpha * s : alpha * s + beta * y[j + r];
    }
  }
}

#endif
