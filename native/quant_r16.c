/* Repacked 32-block weights ("r16": q8_0_r16, q4_0_r16) for matmuls. A q8_0 or q4_0 matrix whose rows are a
 * multiple of 16 is rewritten in place, 16 rows at a time, so that one 64-byte vector holds the same 4 weights of
 * 16 rows: one vpdpbusd against 4 broadcast activation bytes then advances 16 dot products at once, and the
 * int32 lanes of a block need no horizontal reduction — the f32 steps run once per block for 16 rows instead of
 * once per block for each row. The layout takes exactly the bytes of the 16 rows it replaces:
 *   group g (rows 16g … 16g+15) = nb tiles, tile b (block b of each row) =
 *     [16 × f16 scale, row r at 2r] then
 *     q8_0: 8 × 64 bytes, chunk k: row r's weights 4k … 4k+3 at 4r … 4r+3, each as q + 128 (unsigned);
 *     q4_0: 4 × 64 bytes, chunk k: row r's packed bytes 4k … 4k+3 (low nibbles: weights 4k…, high: 16+4k…).
 * src/backend/ref/quant.ts (refRepackR16) is the specification. Every kernel here does the reference's steps in
 * the reference's order — an exact integer block sum, d_w·d_a, one product, one sum per block, left to right, in
 * f32 with no fused multiply-add — so all of them give the reference's bits.
 * Leaves out: other weight types (k-quants keep their row layout), rows that are not a multiple of 16. */
#pragma GCC optimize("fp-contract=off")
#include "quant_impl.h"
#include "zy_cpu.h"
#include <immintrin.h>
#include <stdlib.h>

static int tile_bytes(int type) { return type == ZY_QT_Q8_0_R16 || type == ZY_QT_Q8_0 ? 16 * 34 : 16 * 18; }

int zy_qtype_is_r16(int type) { return type == ZY_QT_Q8_0_R16 || type == ZY_QT_Q4_0_R16; }

int zy_repack_r16(uint8_t *w, int type, int64_t rows, int64_t cols) {
  if ((type != ZY_QT_Q8_0 && type != ZY_QT_Q4_0) || rows % 16 != 0 || cols % 32 != 0 || rows <= 0 || cols <= 0) return -1;
  const int q8 = type == ZY_QT_Q8_0, bytes = q8 ? 34 : 18, tb = tile_bytes(type);
  const int64_t nb = cols / 32, group = 16 * nb * bytes;
  uint8_t *tmp = (uint8_t *)malloc((size_t)group);
  if (!tmp) return -2;
  for (int64_t g = 0; g < rows / 16; g++) {
    uint8_t *src = w + g * group;
    for (int64_t b = 0; b < nb; b++) {
      uint8_t *tile = tmp + b * tb;
      for (int r = 0; r < 16; r++) {
        const uint8_t *blk = src + (r * nb + b) * bytes;
        tile[2 * r] = blk[0];
        tile[2 * r + 1] = blk[1];
        for (int k = 0; k < (q8 ? 8 : 4); k++)
          for (int i = 0; i < 4; i++) tile[32 + 64 * k + 4 * r + i] = (uint8_t)(blk[2 + 4 * k + i] ^ (q8 ? 0x80 : 0));
      }
    }
    memcpy(src, tmp, (size_t)group);
  }
  free(tmp);
  return q8 ? ZY_QT_Q8_0_R16 : ZY_QT_Q4_0_R16;
}

/* ---- portable kernel: one group (16 rows) against activation rows a0 … a0+na−1, out[j·os + r] ---- */

static void group_portable(const uint8_t *g, int type, int64_t nb, const zy_qact *act, int64_t a0, int na, float *out,
                           int64_t os) {
  const int q8 = type == ZY_QT_Q8_0_R16, tb = tile_bytes(type);
  for (int j = 0; j < na; j++) {
    const int8_t *aq = act->q + (a0 + j) * act->cols;
    const float *ad = act->d + (a0 + j) * nb;
    for (int r = 0; r < 16; r++) {
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t *tile = g + b * tb;
        const int8_t *a = aq + b * 32;
        int32_t sumi = 0;
        if (q8) {
          for (int e = 0; e < 32; e++) sumi += ((int)tile[32 + 64 * (e / 4) + 4 * r + e % 4] - 128) * a[e];
        } else {
          for (int e = 0; e < 16; e++) {
            const int v = tile[32 + 64 * (e / 4) + 4 * r + e % 4];
            sumi += ((v & 15) - 8) * a[e] + ((v >> 4) - 8) * a[e + 16];
          }
        }
        const float dd = zy_f16_at(tile + 2 * r) * ad[b];
        const float t = dd * (float)sumi;
        acc = acc + t;
      }
      out[j * os + r] = acc;
    }
  }
}

/* ---- AVX-512 VNNI kernel ---- */

#define RV __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,f16c")))

static inline RV __m512i bcast4(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

/* NA activation rows; the 8 vpdpbusd steps of a block run in C independent chains per row (C = 4, 2, 1 for
 * NA = 1, 2–4, ≥ 5) so that few rows still keep the unit busy. Integer sums are exact in any order. */
static inline RV void group_avx512(const uint8_t *g, const int type, int64_t nb, const zy_qact *act, int64_t a0,
                                   const int na, float *out, int64_t os) {
  const int q8 = type == ZY_QT_Q8_0_R16, tb = tile_bytes(type), off = q8 ? 128 : 8;
  const int C = na == 1 ? 4 : na <= 4 ? 2 : 1;
  const int64_t cols = act->cols;
  __m512 acc[8];
  for (int j = 0; j < na; j++) acc[j] = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *tile = g + b * tb;
#ifndef R16_PF
#define R16_PF 2048
#endif
    if (R16_PF > 0)
      for (int l = 0; l < tb; l += 64) _mm_prefetch((const char *)(tile + R16_PF + l), _MM_HINT_T0);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)tile));
    __m512i dp[8][4];
    for (int j = 0; j < na; j++) {
      dp[j][0] = _mm512_set1_epi32(-off * act->bsum[(a0 + j) * act->nb + b]);
      for (int c = 1; c < C; c++) dp[j][c] = _mm512_setzero_si512();
    }
    if (q8) {
      for (int k = 0; k < 8; k++) {
        const __m512i wk = _mm512_loadu_si512((const void *)(tile + 32 + 64 * k));
        for (int j = 0; j < na; j++)
          dp[j][k % C] = _mm512_dpbusd_epi32(dp[j][k % C], wk, bcast4(act->q + (a0 + j) * cols + b * 32 + 4 * k));
      }
    } else {
      for (int k = 0; k < 4; k++) {
        const __m512i v = _mm512_loadu_si512((const void *)(tile + 32 + 64 * k));
        const __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        for (int j = 0; j < na; j++) {
          const int8_t *a = act->q + (a0 + j) * cols + b * 32 + 4 * k;
          dp[j][(2 * k) % C] = _mm512_dpbusd_epi32(dp[j][(2 * k) % C], lo, bcast4(a));
          dp[j][(2 * k + 1) % C] = _mm512_dpbusd_epi32(dp[j][(2 * k + 1) % C], hi, bcast4(a + 16));
        }
      }
    }
    for (int j = 0; j < na; j++) {
      __m512i s = dp[j][0];
      for (int c = 1; c < C; c++) s = _mm512_add_epi32(s, dp[j][c]);
      const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(act->d[(a0 + j) * act->nb + b]));
      acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_cvtepi32_ps(s), dd));
    }
  }
  for (int j = 0; j < na; j++) _mm512_storeu_ps(out + j * os, acc[j]);
}

static RV void group_avx512_any(const uint8_t *g, int type, int64_t nb, const zy_qact *act, int64_t a0, int na,
                                float *out, int64_t os) {
  switch (na) {
    case 1: group_avx512(g, type, nb, act, a0, 1, out, os); break;
    case 2: group_avx512(g, type, nb, act, a0, 2, out, os); break;
    case 3: group_avx512(g, type, nb, act, a0, 3, out, os); break;
    case 4: group_avx512(g, type, nb, act, a0, 4, out, os); break;
    case 5: group_avx512(g, type, nb, act, a0, 5, out, os); break;
    case 6: group_avx512(g, type, nb, act, a0, 6, out, os); break;
    case 7: group_avx512(g, type, nb, act, a0, 7, out, os); break;
    default: group_avx512(g, type, nb, act, a0, 8, out, os); break;
  }
}

/* Weight bytes of the groups one pass keeps in L2 while every 8 activation rows (in L1) go over them. */
#define R16_TILE_BYTES (256 * 1024)

void zy_r16_rows(const uint8_t *w, int type, int64_t cols, const zy_qact *act, int64_t m, float *out, int64_t out_rows,
                 int64_t begin, int64_t end) {
  const int64_t nb = cols / 32, group = nb * tile_bytes(type);
  const int fast = zy_cpu()->avx512_vnni;
  int64_t per_pass = R16_TILE_BYTES / group;
  if (per_pass < 1) per_pass = 1;
  for (int64_t g0 = begin / 16; g0 < end / 16; g0 += per_pass) {
    const int64_t g1 = g0 + per_pass < end / 16 ? g0 + per_pass : end / 16;
    for (int64_t i = 0; i < m; i += 8) {
      const int na = m - i >= 8 ? 8 : (int)(m - i);
      for (int64_t g = g0; g < g1; g++) {
        float *o = out + i * out_rows + g * 16;
        if (fast) group_avx512_any(w + g * group, type, nb, act, i, na, o, out_rows);
        else group_portable(w + g * group, type, nb, act, i, na, o, out_rows);
      }
    }
  }
}
