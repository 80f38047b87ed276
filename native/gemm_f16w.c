/* Prefill products with f16 / bf16 weights (GGUF F16/BF16 matrices against many activation rows) on the f32 GEMM
 * micro-kernel of gemm_avx512.c: the activations are packed once per product (zy_gemm_f16w_pack_a, read by every
 * thread), and each block of weight rows is widened to f32 once, while it is transposed into packed B panels, then
 * serves every tile of activation rows. Same tile, same KC blocking and the same k order as zy_sgemm_st on the
 * widened rows, so the bits are those of the path it replaces (widen a 64-row panel, then zy_sgemm_st, which packed
 * both operands again for every panel).
 * Leaves out: CPUs without AVX-512 (zy_gemm_f16w_available says; the caller keeps the old path), m = 1 (the dot
 * kernels), threading (the caller splits weight rows over its pool tasks). */
#include "gemm.h"
#include "gemm_impl.h"
#include "zy_cpu.h"
#include "zy_scratch.h"

/* Weight rows per packed B block: 256 × KC (384) × 4 bytes = 384 KiB, in L2 while every activation panel passes. */
#define NB_ROWS 256

static const zy_gemm_kernel *kernel(void) { return &zy_gemm_kernel_avx512_f32; }

int zy_gemm_f16w_available(void) { return zy_cpu()->avx512; }

static int64_t padded_m(int64_t m) { return (m + kernel()->mr - 1) / kernel()->mr * kernel()->mr; }

size_t zy_gemm_f16w_packed_a_bytes(int64_t m, int64_t k) { return (size_t)(padded_m(m) * k) * 4; }

/* KC block b (k from p0 = b·KC) at padded_m·p0 floats; in it, panels of MR rows at q·MR·kb (gemm_impl.h). */
void zy_gemm_f16w_pack_a(const float *x, int64_t m, int64_t k, float *packed) {
  const zy_gemm_kernel *K = kernel();
  const zy_gemm_operand a = {x, k, 1, 0};
  for (int64_t p0 = 0; p0 < k; p0 += K->kc) {
    const int64_t kb = k - p0 < K->kc ? k - p0 : K->kc;
    K->pack_a(&a, 0, m, p0, kb, packed + padded_m(m) * p0);
  }
}

static __thread struct {
  void *b;
  size_t bytes;
} thread_b;

int zy_gemm_f16w(const float *packed_a, int64_t m, int64_t k, const uint16_t *w, int bf16, int64_t j0, int64_t j1,
                 float *c, int64_t ldc) {
  const zy_gemm_kernel *K = kernel();
  const int64_t mpad = padded_m(m), nb_pad = (NB_ROWS + K->nr - 1) / K->nr * K->nr;
  float *pb = (float *)zy_grow(&thread_b.b, &thread_b.bytes, (size_t)(nb_pad * K->kc) * 4);
  if (!pb) return -1;
  for (int64_t jb = j0; jb < j1; jb += NB_ROWS) {
    const int64_t nb = j1 - jb < NB_ROWS ? j1 - jb : NB_ROWS;
    for (int64_t p0 = 0; p0 < k; p0 += K->kc) {
      const int64_t kb = k - p0 < K->kc ? k - p0 : K->kc;
      zy_gemm_avx512_pack_b_half(w, k, bf16, p0, kb, jb, nb, pb);
      const float *ablock = packed_a + mpad * p0;
      for (int64_t i = 0; i < m; i += K->mr) {
        const int rows = m - i < K->mr ? (int)(m - i) : K->mr;
        for (int64_t jj = 0, q = 0; jj < nb; jj += K->nr, q++) {
          const int cols = nb - jj < K->nr ? (int)(nb - jj) : K->nr;
          K->tile(kb, ablock + i * kb, pb + q * K->nr * kb, K->nr, c + i * ldc + jb + jj, ldc, rows, cols, 1.0f,
                  p0 == 0 ? 0.0f : 1.0f);
        }
      }
    }
  }
  return 0;
}
