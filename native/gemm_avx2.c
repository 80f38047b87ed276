/* AVX2 + FMA GEMM micro-kernel (driven by gemm.c): a 6 × 16 f32 tile (12 ymm accumulators, two B vectors,
 * broadcast FMAs), used for f32 and for bf16 operands widened while packing. B is always packed (zero-padded
 * to 16 columns); partial C tiles go through a small buffer.
 * Leaves out: masked edges, AVX2-specific packers (the generic ones in gemm_impl.h are used). */
#include "gemm_impl.h"
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define MR 6
#define NR 16

static inline __attribute__((always_inline)) AVX2 void tile_rows(const int R, int64_t kb, const float *pa,
                                                                 const float *pb, int64_t ldb, float *c, int64_t ldc,
                                                                 int nr, float alpha, float beta) {
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < R; i++) acc0[i] = acc1[i] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kb; p++) {
    __m256 b0 = _mm256_loadu_ps(pb), b1 = _mm256_loadu_ps(pb + 8);
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) {
      __m256 ai = _mm256_broadcast_ss(pa + i);
      acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
    }
    pa += MR;
    pb += ldb;
  }
  __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (nr == NR) {
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) {
      __m256 r0 = _mm256_mul_ps(va, acc0[i]), r1 = _mm256_mul_ps(va, acc1[i]);
      if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + i * ldc), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + i * ldc + 8), r1);
      }
      _mm256_storeu_ps(c + i * ldc, r0);
      _mm256_storeu_ps(c + i * ldc + 8, r1);
    }
    return;
  }
  float t[MR][NR];
#pragma GCC unroll 6
  for (int i = 0; i < R; i++) {
    _mm256_storeu_ps(t[i], _mm256_mul_ps(va, acc0[i]));
    _mm256_storeu_ps(t[i] + 8, _mm256_mul_ps(va, acc1[i]));
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < nr; j++) c[i * ldc + j] = beta == 0.0f ? t[i][j] : t[i][j] + beta * c[i * ldc + j];
}

#define TILE_FN(R)                                                                                            \
  static AVX2 void tile_##R(int64_t kb, const float *pa, const float *pb, int64_t ldb, float *c, int64_t ldc, \
                            int nr, float alpha, float beta) {                                                \
    tile_rows(R, kb, pa, pb, ldb, c, ldc, nr, alpha, beta);                                                   \
  }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5) TILE_FN(6)

typedef void (*tile_fn)(int64_t, const float *, const float *, int64_t, float *, int64_t, int, float, float);
static const tile_fn tiles[MR + 1] = {0, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6};

static AVX2 void tile_f32(int64_t kbp, const void *pa, const void *pb, int64_t ldb, float *c, int64_t ldc, int mr,
                          int nr, float alpha, float beta) {
  tiles[mr](kbp, (const float *)pa, (const float *)pb, ldb, c, ldc, nr, alpha, beta);
}
static AVX2 void pack_a_f32(const zy_gemm_operand *a, int64_t i0, int64_t mb, int64_t p0, int64_t kb, void *dst) {
  zy_pack_a_generic(a, i0, mb, p0, kb, (float *)dst, MR);
}
static AVX2 void pack_b_f32(const zy_gemm_operand *b, int64_t p0, int64_t kb, int64_t j0, int64_t nb, void *dst) {
  zy_pack_b_generic(b, p0, kb, j0, nb, (float *)dst, NR);
}

const zy_gemm_kernel zy_gemm_kernel_avx2_f32 = {"avx2", MR, NR, 1, 4, 256, 576, 1024,
                                                pack_a_f32, pack_b_f32, tile_f32};
const zy_gemm_kernel zy_gemm_kernel_avx2_bf16in = {"avx2", MR, NR, 1, 4, 256, 576, 1024,
                                                   pack_a_f32, pack_b_f32, tile_f32};

void AVX2 zy_gemv_avx2(int64_t n, int64_t k, const float *x, const zy_gemm_operand *b, float *y, float alpha,
                       float beta) {
  zy_gemv_generic(n, k, x, b, y, alpha, beta);
}
