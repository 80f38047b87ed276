/* Repacked quantized weights ("r16": q8_0_r16, q4_0_r16, q4_k_r16, q6_k_r16) for matmuls. A q8_0, q4_0, q4_k or
 * q6_k matrix whose rows are a multiple of 16 is rewritten in place, 16 rows at a time, so that one 64-byte vector
 * holds the same 4 weights of 16 rows: one vpdpbusd against 4 broadcast activation bytes then advances 16 dot
 * products at once, the int32 lanes need no horizontal reduction, and the scale steps run once per block for 16
 * rows. Each tile (block b of 16 rows) takes exactly the bytes of those 16 blocks. src/backend/ref/quant.ts
 * (laneCodec) is the specification of every layout. Every kernel here gives the reference's bits: exact integer
 * sums, then the reference's f32 steps in its order (products of an f32 and a large integer in double, rounded
 * once), no fused multiply-add where it would round differently.
 * Leaves out: q4_1, q5_*, q5_k (keep their row layout), rows that are not a multiple of 16. */
#pragma GCC optimize("fp-contract=off")
#include "quant_impl.h"
#include "zy_cpu.h"
#include "zy_scratch.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>

int zy_qtype_is_r16(int type) { return type >= ZY_QT_Q8_0_R16 && type <= ZY_QT_Q6_K_R16; }

/* The GGUF type an r16 type holds (itself for a GGUF type). */
static int source_of(int type) {
  switch (type) {
    case ZY_QT_Q8_0_R16: return ZY_QT_Q8_0;
    case ZY_QT_Q4_0_R16: return ZY_QT_Q4_0;
    case ZY_QT_Q4_K_R16: return ZY_QT_Q4_K;
    case ZY_QT_Q6_K_R16: return ZY_QT_Q6_K;
    default: return type;
  }
}

static int tile_bytes(int type) { return 16 * zy_qtype_block_bytes(source_of(type)); }

/* q6_k: where the 6-bit value of weight e (0..255) lives in a GGUF block (ql byte and nibble, qh byte and shift). */
static void q6_place(int e, int *ql, int *hi_nib, int *qh, int *qh_shift) {
  const int half = e >> 7, r = e & 127, run = r >> 5, idx = r & 31;
  *ql = 64 * half + idx + (run & 1) * 32;
  *hi_nib = run >= 2;
  *qh = 128 + 32 * half + idx;
  *qh_shift = 2 * run;
}

/* Lane l of the tile at t ⇄ the GGUF block at w (src/backend/ref/quant.ts laneCodec): pack (w → t) or unpack. */
static void lane_codec(int type, int pack, uint8_t *w, uint8_t *t, int l) {
#define MV(wi, ti, flip) do { if (pack) t[ti] = (uint8_t)(w[wi] ^ (flip)); else w[wi] = (uint8_t)(t[ti] ^ (flip)); } while (0)
  switch (type) {
    case ZY_QT_Q8_0:
    case ZY_QT_Q4_0: {
      const int q8 = type == ZY_QT_Q8_0;
      MV(0, 2 * l, 0);
      MV(1, 2 * l + 1, 0);
      for (int k = 0; k < (q8 ? 8 : 4); k++)
        for (int i = 0; i < 4; i++) MV(2 + 4 * k + i, 32 + 64 * k + 4 * l + i, q8 ? 0x80 : 0);
      return;
    }
    case ZY_QT_Q4_K: {
      MV(0, 2 * l, 0);
      MV(1, 2 * l + 1, 0);
      MV(2, 32 + 2 * l, 0);
      MV(3, 33 + 2 * l, 0);
      int sc[8], mn[8];
      const int shift = (l & 1) * 4;
      for (int s = 0; s < 8; s++) {
        uint8_t *rec = t + 64 + 24 * s, *nib = rec + 16 + (l >> 1);
        if (pack) {
          zy_scale_min_k4(s, w + 4, &sc[s], &mn[s]);
          rec[l] = (uint8_t)(sc[s] | ((mn[s] & 3) << 6));
          *nib = (uint8_t)((*nib & ~(15 << shift)) | ((mn[s] >> 2) << shift));
        } else {
          sc[s] = rec[l] & 63;
          mn[s] = (rec[l] >> 6) | (((*nib >> shift) & 15) << 2);
        }
      }
      if (!pack)
        for (int j = 0; j < 4; j++) {
          w[4 + j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
          w[8 + j] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
          w[12 + j] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
        }
      for (int c = 0; c < 32; c++)
        for (int i = 0; i < 4; i++) MV(16 + 4 * c + i, 256 + 64 * c + 4 * l + i, 0);
      return;
    }
    default: { /* q6_k */
      MV(208, 2 * l, 0);
      MV(209, 2 * l + 1, 0);
      for (int g = 0; g < 16; g++) MV(192 + g, 32 + 16 * g + l, 0);
      int ql, hi, qh, sh;
      for (int g = 0; g < 16; g++) {
        uint8_t *c = t + 288 + 192 * g + 4 * l;
        for (int i = 0; i < 4; i++) {
          int u[4];
          if (pack) {
            for (int q = 0; q < 4; q++) {
              q6_place(16 * g + 4 * q + i, &ql, &hi, &qh, &sh);
              u[q] = (hi ? w[ql] >> 4 : w[ql] & 15) | (((w[qh] >> sh) & 3) << 4);
            }
            c[i] = (uint8_t)((u[0] & 15) | ((u[1] & 15) << 4));
            c[64 + i] = (uint8_t)((u[2] & 15) | ((u[3] & 15) << 4));
            c[128 + i] = (uint8_t)((u[0] >> 4) | ((u[1] >> 4) << 2) | ((u[2] >> 4) << 4) | ((u[3] >> 4) << 6));
          } else {
            const int A = c[i], B = c[64 + i], H = c[128 + i];
            u[0] = (A & 15) | ((H & 3) << 4);
            u[1] = (A >> 4) | (((H >> 2) & 3) << 4);
            u[2] = (B & 15) | (((H >> 4) & 3) << 4);
            u[3] = (B >> 4) | (((H >> 6) & 3) << 4);
            for (int q = 0; q < 4; q++) {
              q6_place(16 * g + 4 * q + i, &ql, &hi, &qh, &sh);
              w[ql] = (uint8_t)(hi ? (w[ql] & 15) | ((u[q] & 15) << 4) : (w[ql] & 0xF0) | (u[q] & 15));
              w[qh] = (uint8_t)((w[qh] & ~(3 << sh)) | ((u[q] >> 4) << sh));
            }
          }
        }
      }
      return;
    }
  }
#undef MV
}

/* One 16-row group: its GGUF rows (16 × nb blocks of the source type) ⇄ its nb tiles (pack: rows → tiles). */
static void group_codec(int src, int pack, uint8_t *rows, uint8_t *tiles, int64_t nb) {
  const int bytes = zy_qtype_block_bytes(src);
  for (int64_t b = 0; b < nb; b++)
    for (int l = 0; l < 16; l++) lane_codec(src, pack, rows + (l * nb + b) * bytes, tiles + b * 16 * bytes, l);
}

/* The r16 type that holds `type`, or -1 (the inverse of source_of). */
static int packed_of(int type) {
  for (int t = ZY_QT_Q8_0_R16; t <= ZY_QT_Q6_K_R16; t++)
    if (source_of(t) == type) return t;
  return -1;
}

int zy_repack_r16(uint8_t *w, int type, int64_t rows, int64_t cols) {
  const int packed = packed_of(type);
  if (packed < 0 || rows <= 0 || cols <= 0 || rows % 16 != 0 || cols % zy_qtype_block_elems(type) != 0) return -1;
  const int64_t nb = cols / zy_qtype_block_elems(type), group = nb * tile_bytes(type);
  uint8_t *tmp = (uint8_t *)calloc(1, (size_t)group);
  if (!tmp) return -2;
  for (int64_t g = 0; g < rows / 16; g++) {
    group_codec(type, 1, w + g * group, tmp, nb);
    memcpy(w + g * group, tmp, (size_t)group);
  }
  free(tmp);
  return packed;
}

/* ---- portable path: the group's rows unpacked to GGUF blocks, then the portable row kernels (the reference's
 * steps exactly) ---- */

static void group_portable(const uint8_t *g, int type, int64_t nb, const zy_qact *act, int64_t a0, int na, float *out,
                           int64_t os, uint8_t *rows) {
  const int src = source_of(type);
  const int64_t row_bytes = nb * zy_qtype_block_bytes(src);
  group_codec(src, 0, rows, (uint8_t *)g, nb);
  for (int r = 0; r < 16; r++)
    for (int j = 0; j < na; j += 4)
      zy_qdot_portable[src](rows + r * row_bytes, act->cols, act, a0 + j, na - j < 4 ? na - j : 4, out + j * os + r, os);
}

/* ---- AVX-512 VNNI kernel ---- */

#define RV __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,fma,f16c")))
/* Software prefetch distance (the caller's zy_knobs: pf_bytes for the 32-blocks, pf_tiles whole tiles for the
 * k-quants, whose tiles are 2.3–3.4 KB; 0 leaves it to the hardware prefetcher). Decode streams each weight once,
 * from DRAM or L3: on the Intel Xeon 2048 bytes ahead took 110M q4_0 decode from 273 to 350 tok/s, one k-quant tile
 * ahead 110M q4_k_m from ~237 to ~260 tok/s; on AMD Zen 5 the hardware prefetcher alone did better for the 32-blocks,
 * so their fallback prefetches nothing (zy_tune.c); src/backend/cpu/tuning.ts measures the others on the CPU at hand. */

static inline RV __m512i bcast4(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

/* One 64-byte load into a register that the compiler may not fold into the instructions using it: folded into both
 * the and and the and-not of a nibble split, a load is issued twice, and on AMD Zen 5 the 512-bit loads, not the
 * arithmetic, bound these kernels while their data sits in L1/L2. */
static inline RV __m512i load_once(const uint8_t *p) {
  __m512i v = _mm512_loadu_si512((const void *)p);
  __asm__("" : "+v"(v));
  return v;
}

/* 16 lanes of f32(dd · isum) with the product formed in double and rounded once (the reference's
 * fround(dd * isum), exact for any int32 isum). */
static inline RV __m512 mul_f32_i32(__m512 dd, __m512i isum) {
  const __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(dd)),
                                                  _mm512_cvtepi32_pd(_mm512_castsi512_si256(isum))));
  const __m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(dd, 1)),
                                                  _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(isum, 1))));
  return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

static inline RV void prefetch_tile(const uint8_t *t, int tb, const zy_knobs *kn) {
  const int ahead = tb > 1024 ? kn->pf_tiles * tb : kn->pf_bytes;
  if (ahead == 0) return;
  for (int l = 0; l < tb; l += 64) _mm_prefetch((const char *)(t + ahead + l), _MM_HINT_T0);
}

/* NA activation rows; the 8 vpdpbusd steps of a block run in C independent chains per row (C = 4, 2, 1 for
 * NA = 1, 2–4, ≥ 5) so that few rows still keep the unit busy. Integer sums are exact in any order. */
static inline RV void group_avx512(const uint8_t *g, const int type, int64_t nb, const zy_qact *act, int64_t a0,
                                   const int na, float *out, int64_t os, const zy_knobs *kn) {
  const int q8 = type == ZY_QT_Q8_0_R16, tb = tile_bytes(type), off = q8 ? 128 : 8;
  const int C = na == 1 ? 4 : na <= 4 ? 2 : 1;
  const int64_t cols = act->cols;
  __m512 acc[8];
  for (int j = 0; j < na; j++) acc[j] = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *tile = g + b * tb;
    prefetch_tile(tile, tb, kn);
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
        const __m512i v = load_once(tile + 32 + 64 * k);
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

/* Decode (one activation row, AVX-512 VNNI): one row group of a q8_0_r16 / q4_0_r16 matrix. Per tile, q4_0: 4
 * loads, each split by one and / and-not (the high nibbles stay ×16: their chain starts at −128·Σa, so that one
 * arithmetic shift right by 4 — exact, the chain holds a multiple of 16 — leaves Σ hi·a − 8·Σa), 8 vpdpbusd; q8_0
 * (weights stored + 128): 8 vpdpbusd in two chains, the first started at −128·Σa. Then the block scales as
 * group_avx512: each row's integer sums and f32 steps are the same, so are its bits. 42 instructions per
 * q4_0 tile where group_avx512 took 69 (37 and 65 for q8_0). pf: the prefetch distance (a compile-time 0 in the common case, so
 * that its loop drops out). Measured and not kept: two groups per pass sharing the broadcasts (1.4x faster with the
 * matrix in L2, 0.65-0.75x from DRAM: two interleaved streams read worse than one on AMD Zen 5). */
static inline RV void group_q32_decode(const uint8_t *t, const int q8, int64_t nb, const int8_t *a,
                                       const int32_t *nbsum128, const float *da, float *out, const int pf) {
  const int tb = q8 ? 16 * 34 : 16 * 18;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++, t += tb, a += 32) {
    if (pf)
      for (int l = 0; l < tb; l += 64) _mm_prefetch((const char *)(t + pf + l), _MM_HINT_T0);
    __m512i s;
    if (q8) {
      __m512i s0 = _mm512_set1_epi32(nbsum128[b]), s1 = _mm512_setzero_si512();
      for (int k = 0; k < 8; k += 2) {
        s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512((const void *)(t + 32 + 64 * k)), bcast4(a + 4 * k));
        s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512((const void *)(t + 96 + 64 * k)), bcast4(a + 4 * k + 4));
      }
      s = _mm512_add_epi32(s0, s1);
    } else {
      __m512i lo = _mm512_setzero_si512(), hi = _mm512_set1_epi32(nbsum128[b]);
      for (int k = 0; k < 4; k++) {
        const __m512i v = load_once(t + 32 + 64 * k);
        lo = _mm512_dpbusd_epi32(lo, _mm512_and_si512(v, low4), bcast4(a + 4 * k));
        hi = _mm512_dpbusd_epi32(hi, _mm512_andnot_si512(low4, v), bcast4(a + 16 + 4 * k));
      }
      s = _mm512_add_epi32(lo, _mm512_srai_epi32(hi, 4));
    }
    const __m512 dd = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)t)), _mm512_set1_ps(da[b]));
    acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_cvtepi32_ps(s), dd));
  }
  _mm512_storeu_ps(out, acc);
}

/* Decode rows [begin, end) of a q4_0_r16 / q8_0_r16 matrix, group by group. */
static RV void rows_q32_decode(const uint8_t *w, int type, int64_t nb, const zy_qact *act, float *out, int64_t begin,
                               int64_t end, int pf) {
  const int q8 = type == ZY_QT_Q8_0_R16;
  const int64_t group = nb * tile_bytes(type);
  for (int64_t g = begin / 16; g < end / 16; g++) {
    const uint8_t *t = w + g * group;
    float *o = out + g * 16;
    if (pf) {
      if (q8) group_q32_decode(t, 1, nb, act->q, act->nbsum128, act->d, o, pf);
      else group_q32_decode(t, 0, nb, act->q, act->nbsum128, act->d, o, pf);
    } else {
      if (q8) group_q32_decode(t, 1, nb, act->q, act->nbsum128, act->d, o, 0);
      else group_q32_decode(t, 0, nb, act->q, act->nbsum128, act->d, o, 0);
    }
  }
}

static RV void group_avx512_any(const uint8_t *g, int type, int64_t nb, const zy_qact *act, int64_t a0, int na,
                                float *out, int64_t os, const zy_knobs *kn) {
  switch (na) {
    case 1: group_avx512(g, type, nb, act, a0, 1, out, os, kn); break;
    case 2: group_avx512(g, type, nb, act, a0, 2, out, os, kn); break;
    case 3: group_avx512(g, type, nb, act, a0, 3, out, os, kn); break;
    case 4: group_avx512(g, type, nb, act, a0, 4, out, os, kn); break;
    case 5: group_avx512(g, type, nb, act, a0, 5, out, os, kn); break;
    case 6: group_avx512(g, type, nb, act, a0, 6, out, os, kn); break;
    case 7: group_avx512(g, type, nb, act, a0, 7, out, os, kn); break;
    default: group_avx512(g, type, nb, act, a0, 8, out, os, kn); break;
  }
}

/* Two row groups (g0, g1: 32 weight rows) against NA ≤ 4 activation rows: each broadcast of 4 activation bytes feeds
 * both groups' vpdpbusd, where group_avx512 broadcasts once per group — per 32 weight rows × 32 columns × 4 rows, 32
 * broadcasts instead of 64, with the same weight loads per product. Every output's integer sums (exact) and f32 steps
 * are group_avx512's, in its order: the same bits. For prompts (the matrix's tiles in L2, many activation rows);
 * decode keeps group_q32_decode (from DRAM two interleaved streams read worse than one, measured there). */
static inline RV void group2_avx512(const uint8_t *g0, const uint8_t *g1, const int type, int64_t nb, const zy_qact *act,
                                    int64_t a0, const int na, float *out0, float *out1, int64_t os) {
  const int q8 = type == ZY_QT_Q8_0_R16, tb = tile_bytes(type), off = q8 ? 128 : 8;
  const int64_t cols = act->cols;
  __m512 acc[2][4];
  for (int j = 0; j < na; j++) acc[0][j] = acc[1][j] = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *t0 = g0 + b * tb, *t1 = g1 + b * tb;
    __m512i dp[2][4];
    for (int j = 0; j < na; j++) dp[0][j] = dp[1][j] = _mm512_set1_epi32(-off * act->bsum[(a0 + j) * act->nb + b]);
    if (q8) {
      for (int k = 0; k < 8; k++) {
        const __m512i w0 = _mm512_loadu_si512((const void *)(t0 + 32 + 64 * k)), w1 = _mm512_loadu_si512((const void *)(t1 + 32 + 64 * k));
        for (int j = 0; j < na; j++) {
          const __m512i a = bcast4(act->q + (a0 + j) * cols + b * 32 + 4 * k);
          dp[0][j] = _mm512_dpbusd_epi32(dp[0][j], w0, a);
          dp[1][j] = _mm512_dpbusd_epi32(dp[1][j], w1, a);
        }
      }
    } else {
      for (int k = 0; k < 4; k++) {
        const __m512i v0 = load_once(t0 + 32 + 64 * k), v1 = load_once(t1 + 32 + 64 * k);
        const __m512i lo0 = _mm512_and_si512(v0, low4), hi0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), low4);
        const __m512i lo1 = _mm512_and_si512(v1, low4), hi1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), low4);
        for (int j = 0; j < na; j++) {
          const int8_t *a = act->q + (a0 + j) * cols + b * 32 + 4 * k;
          const __m512i al = bcast4(a), ah = bcast4(a + 16);
          dp[0][j] = _mm512_dpbusd_epi32(dp[0][j], lo0, al);
          dp[1][j] = _mm512_dpbusd_epi32(dp[1][j], lo1, al);
          dp[0][j] = _mm512_dpbusd_epi32(dp[0][j], hi0, ah);
          dp[1][j] = _mm512_dpbusd_epi32(dp[1][j], hi1, ah);
        }
      }
    }
    const __m512 dw0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)t0)), dw1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)t1));
    for (int j = 0; j < na; j++) {
      const __m512 da = _mm512_set1_ps(act->d[(a0 + j) * act->nb + b]);
      acc[0][j] = _mm512_add_ps(acc[0][j], _mm512_mul_ps(_mm512_cvtepi32_ps(dp[0][j]), _mm512_mul_ps(dw0, da)));
      acc[1][j] = _mm512_add_ps(acc[1][j], _mm512_mul_ps(_mm512_cvtepi32_ps(dp[1][j]), _mm512_mul_ps(dw1, da)));
    }
  }
  for (int j = 0; j < na; j++) _mm512_storeu_ps(out0 + j * os, acc[0][j]), _mm512_storeu_ps(out1 + j * os, acc[1][j]);
}

static RV void group2_avx512_any(const uint8_t *g0, const uint8_t *g1, int type, int64_t nb, const zy_qact *act, int64_t a0,
                                 int na, float *out0, float *out1, int64_t os) {
  switch (na) {
    case 1: group2_avx512(g0, g1, type, nb, act, a0, 1, out0, out1, os); break;
    case 2: group2_avx512(g0, g1, type, nb, act, a0, 2, out0, out1, os); break;
    case 3: group2_avx512(g0, g1, type, nb, act, a0, 3, out0, out1, os); break;
    default: group2_avx512(g0, g1, type, nb, act, a0, 4, out0, out1, os); break;
  }
}

/* q4_k_r16, NA ≤ 4 activation rows (Q8_K). Per super-block and row: isum = Σ_s scale_s · Σ_32 q·a and
 * msum = Σ_s min_s · Σ_32 a (exact: integers, msum < 2^24 so its f32 sum is exact too), then
 * acc += f32(f32(d·d_a) · isum), acc_min += f32(f32(dmin·d_a) · msum); out = acc − acc_min, as the reference. */
static inline RV void group_k4(const uint8_t *g, int64_t nb, const zy_qact *act, int64_t a0, const int na, float *out,
                               int64_t os, const zy_knobs *kn) {
  const int C = na == 1 ? 2 : 1;
  const int64_t cols = act->cols;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc[4], accm[4];
  for (int j = 0; j < na; j++) acc[j] = accm[j] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *t = g + b * (16 * 144);
    prefetch_tile(t, 16 * 144, kn);
    __m512i isum[4];
    __m512 msum[4];
    for (int j = 0; j < na; j++) isum[j] = _mm512_setzero_si512(), msum[j] = _mm512_setzero_ps();
    for (int p = 0; p < 4; p++) {
      __m512i slo[4][2], shi[4][2];
      for (int j = 0; j < na; j++)
        for (int c = 0; c < C; c++) slo[j][c] = shi[j][c] = _mm512_setzero_si512();
      for (int k = 0; k < 8; k++) {
        const __m512i v = load_once(t + 256 + 64 * (8 * p + k));
        const __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        for (int j = 0; j < na; j++) {
          const int8_t *a = act->q + (a0 + j) * cols + b * 256 + 64 * p + 4 * k;
          slo[j][k % C] = _mm512_dpbusd_epi32(slo[j][k % C], lo, bcast4(a));
          shi[j][k % C] = _mm512_dpbusd_epi32(shi[j][k % C], hi, bcast4(a + 32));
        }
      }
      __m512i sc32[2];
      __m512 mnf[2];
      for (int h = 0; h < 2; h++) {
        const uint8_t *rec = t + 64 + 24 * (2 * p + h);
        const __m128i v16 = _mm_loadu_si128((const __m128i *)rec);
        const __m128i nib = _mm_loadl_epi64((const __m128i *)(rec + 16));
        const __m128i mnhi = _mm_unpacklo_epi8(_mm_and_si128(nib, _mm_set1_epi8(15)),
                                               _mm_and_si128(_mm_srli_epi16(nib, 4), _mm_set1_epi8(15)));
        const __m128i mn8 = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(v16, 6), _mm_set1_epi8(3)), _mm_slli_epi16(mnhi, 2));
        sc32[h] = _mm512_cvtepu8_epi32(_mm_and_si128(v16, _mm_set1_epi8(63)));
        mnf[h] = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(mn8));
      }
      for (int j = 0; j < na; j++) {
        __m512i s0 = slo[j][0], s1 = shi[j][0];
        if (C == 2) s0 = _mm512_add_epi32(s0, slo[j][1]), s1 = _mm512_add_epi32(s1, shi[j][1]);
        isum[j] = _mm512_add_epi32(isum[j], _mm512_add_epi32(_mm512_mullo_epi32(s0, sc32[0]), _mm512_mullo_epi32(s1, sc32[1])));
        const int16_t *bs = act->bsums + ((a0 + j) * act->nb + b) * 16 + 4 * p;
        msum[j] = _mm512_fmadd_ps(mnf[0], _mm512_set1_ps((float)(bs[0] + bs[1])), msum[j]);
        msum[j] = _mm512_fmadd_ps(mnf[1], _mm512_set1_ps((float)(bs[2] + bs[3])), msum[j]);
      }
    }
    const __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)t));
    const __m512 mv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(t + 32)));
    for (int j = 0; j < na; j++) {
      const __m512 da = _mm512_set1_ps(act->d[(a0 + j) * act->nb + b]);
      acc[j] = _mm512_add_ps(acc[j], mul_f32_i32(_mm512_mul_ps(dv, da), isum[j]));
      accm[j] = _mm512_add_ps(accm[j], _mm512_mul_ps(_mm512_mul_ps(mv, da), msum[j]));
    }
  }
  for (int j = 0; j < na; j++) _mm512_storeu_ps(out + j * os, _mm512_sub_ps(acc[j], accm[j]));
}

/* q6_k_r16, NA ≤ 4 activation rows (Q8_K). Per 16-weight sub-block: the 6-bit values u = q + 32 from chunks A, B
 * and H, Σ u·a − 32·Σa (exact), times its int8 scale into isum; then acc += f32(f32(d·d_a) · isum). */
static inline RV void group_k6(const uint8_t *g, int64_t nb, const zy_qact *act, int64_t a0, const int na, float *out,
                               int64_t os, const zy_knobs *kn) {
  const int64_t cols = act->cols;
  const __m512i m0f = _mm512_set1_epi8(0x0F), m3f = _mm512_set1_epi8(0x3F);
  __m512 acc[4];
  for (int j = 0; j < na; j++) acc[j] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *t = g + b * (16 * 210);
    prefetch_tile(t, 16 * 210, kn);
    __m512i isum[4];
    for (int j = 0; j < na; j++) isum[j] = _mm512_setzero_si512();
    for (int s = 0; s < 16; s++) {
      const uint8_t *q = t + 288 + 192 * s;
      const __m512i A = load_once(q), B = load_once(q + 64), H = load_once(q + 128);
      /* 0xCA: bitwise select, mask ? x : y — the low nibble from the ql chunk, bits 4–5 from H */
      const __m512i e0 = _mm512_and_si512(_mm512_ternarylogic_epi32(m0f, A, _mm512_slli_epi16(H, 4), 0xCA), m3f);
      const __m512i e1 = _mm512_and_si512(_mm512_ternarylogic_epi32(m0f, _mm512_srli_epi16(A, 4), _mm512_slli_epi16(H, 2), 0xCA), m3f);
      const __m512i e2 = _mm512_and_si512(_mm512_ternarylogic_epi32(m0f, B, H, 0xCA), m3f);
      const __m512i e3 = _mm512_and_si512(_mm512_ternarylogic_epi32(m0f, _mm512_srli_epi16(B, 4), _mm512_srli_epi16(H, 2), 0xCA), m3f);
      const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(t + 32 + 16 * s)));
      for (int j = 0; j < na; j++) {
        const int8_t *a = act->q + (a0 + j) * cols + b * 256 + 16 * s;
        __m512i s0 = _mm512_set1_epi32(-32 * act->bsums[((a0 + j) * act->nb + b) * 16 + s]);
        __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), e1, bcast4(a + 4));
        s0 = _mm512_dpbusd_epi32(s0, e0, bcast4(a));
        s0 = _mm512_dpbusd_epi32(s0, e2, bcast4(a + 8));
        s1 = _mm512_dpbusd_epi32(s1, e3, bcast4(a + 12));
        isum[j] = _mm512_add_epi32(isum[j], _mm512_mullo_epi32(_mm512_add_epi32(s0, s1), sc));
      }
    }
    const __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)t));
    for (int j = 0; j < na; j++)
      acc[j] = _mm512_add_ps(acc[j], mul_f32_i32(_mm512_mul_ps(dv, _mm512_set1_ps(act->d[(a0 + j) * act->nb + b])), isum[j]));
  }
  for (int j = 0; j < na; j++) _mm512_storeu_ps(out + j * os, acc[j]);
}

/* q4_k_r16 decode (one activation row): group_k4's sums with the q8_0/q4_0 decode kernel's economies — the high
 * nibbles split by and-not and summed ×16 (one exact shift per 64 weights), the mins' activation sums formed once per
 * token (act->ksum32) and read as broadcast operands. The same integer sums and f32 steps: the same bits. */
static inline RV void group_k4_decode(const uint8_t *t, int64_t nb, const int8_t *a, const float *ksum32,
                                      const float *da, float *out, const int pf) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc = _mm512_setzero_ps(), accm = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++, t += 16 * 144, a += 256, ksum32 += 8) {
    if (pf)
      for (int l = 0; l < 16 * 144; l += 64) _mm_prefetch((const char *)(t + pf + l), _MM_HINT_T0);
    __m512i isum = _mm512_setzero_si512();
    __m512 msum = _mm512_setzero_ps();
    for (int p = 0; p < 4; p++) {
      __m512i lo0 = _mm512_setzero_si512(), lo1 = lo0, hi0 = lo0, hi1 = lo0;
      for (int k = 0; k < 8; k += 2) {
        const __m512i v0 = load_once(t + 256 + 64 * (8 * p + k)), v1 = load_once(t + 256 + 64 * (8 * p + k + 1));
        lo0 = _mm512_dpbusd_epi32(lo0, _mm512_and_si512(v0, low4), bcast4(a + 64 * p + 4 * k));
        hi0 = _mm512_dpbusd_epi32(hi0, _mm512_andnot_si512(low4, v0), bcast4(a + 64 * p + 32 + 4 * k));
        lo1 = _mm512_dpbusd_epi32(lo1, _mm512_and_si512(v1, low4), bcast4(a + 64 * p + 4 * k + 4));
        hi1 = _mm512_dpbusd_epi32(hi1, _mm512_andnot_si512(low4, v1), bcast4(a + 64 * p + 32 + 4 * k + 4));
      }
      __m512i sc32[2];
      __m512 mnf[2];
      for (int h = 0; h < 2; h++) {
        const uint8_t *rec = t + 64 + 24 * (2 * p + h);
        const __m128i v16 = _mm_loadu_si128((const __m128i *)rec);
        const __m128i nib = _mm_loadl_epi64((const __m128i *)(rec + 16));
        const __m128i mnhi = _mm_unpacklo_epi8(_mm_and_si128(nib, _mm_set1_epi8(15)),
                                               _mm_and_si128(_mm_srli_epi16(nib, 4), _mm_set1_epi8(15)));
        const __m128i mn8 = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(v16, 6), _mm_set1_epi8(3)), _mm_slli_epi16(mnhi, 2));
        sc32[h] = _mm512_cvtepu8_epi32(_mm_and_si128(v16, _mm_set1_epi8(63)));
        mnf[h] = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(mn8));
      }
      const __m512i s0 = _mm512_add_epi32(lo0, lo1), s1 = _mm512_srai_epi32(_mm512_add_epi32(hi0, hi1), 4);
      isum = _mm512_add_epi32(isum, _mm512_add_epi32(_mm512_mullo_epi32(s0, sc32[0]), _mm512_mullo_epi32(s1, sc32[1])));
      msum = _mm512_fmadd_ps(mnf[0], _mm512_set1_ps(ksum32[2 * p]), msum);
      msum = _mm512_fmadd_ps(mnf[1], _mm512_set1_ps(ksum32[2 * p + 1]), msum);
    }
    const __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)t));
    const __m512 mv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(t + 32)));
    const __m512 dab = _mm512_set1_ps(da[b]);
    acc = _mm512_add_ps(acc, mul_f32_i32(_mm512_mul_ps(dv, dab), isum));
    accm = _mm512_add_ps(accm, _mm512_mul_ps(_mm512_mul_ps(mv, dab), msum));
  }
  _mm512_storeu_ps(out, _mm512_sub_ps(acc, accm));
}

/* q6_k_r16 decode (one activation row): group_k6 with each sub-block's −32·Σa read from act->knsum16 (formed once
 * per token) instead of widened, negated and broadcast from a general register. The same bits. */
static inline RV void group_k6_decode(const uint8_t *t, int64_t nb, const int8_t *a, const int32_t *knsum16,
                                      const float *da, float *out, const int pf) {
  const __m512i m0f = _mm512_set1_epi8(0x0F), m3f = _mm512_set1_epi8(0x3F);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++, t += 16 * 210, a += 256, knsum16 += 16) {
    if (pf)
      for (int l = 0; l < 16 * 210; l += 64) _mm_prefetch((const char *)(t + pf + l), _MM_HINT_T0);
    __m512i isum = _mm512_setzero_si512();
    for (int s = 0; s < 16; s++) {
      const uint8_t *q = t + 288 + 192 * s;
      const __m512i A = load_once(q), B = load_once(q + 64), H = load_once(q + 128);
      /* 0xCA: bitwise select, mask ? x : y — the low nibble from the ql chunk, bits 4–5 from H */
      const __m512i e0 = _mm512_and_si512(_mm512_ternarylogic_epi32(m0f, A, _mm512_slli_epi16(H, 4), 0xCA), m3f);
      const __m512i e1 = _mm512_and_si512(_mm512_ternarylogic_epi32(m0f, _mm512_srli_epi16(A, 4), _mm512_slli_epi16(H, 2), 0xCA), m3f);
      const __m512i e2 = _mm512_and_si512(_mm512_ternarylogic_epi32(m0f, B, H, 0xCA), m3f);
      const __m512i e3 = _mm512_and_si512(_mm512_ternarylogic_epi32(m0f, _mm512_srli_epi16(B, 4), _mm512_srli_epi16(H, 2), 0xCA), m3f);
      const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(t + 32 + 16 * s)));
      __m512i s0 = _mm512_set1_epi32(knsum16[s]);
      __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), e1, bcast4(a + 16 * s + 4));
      s0 = _mm512_dpbusd_epi32(s0, e0, bcast4(a + 16 * s));
      s0 = _mm512_dpbusd_epi32(s0, e2, bcast4(a + 16 * s + 8));
      s1 = _mm512_dpbusd_epi32(s1, e3, bcast4(a + 16 * s + 12));
      isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(_mm512_add_epi32(s0, s1), sc));
    }
    const __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)t));
    acc = _mm512_add_ps(acc, mul_f32_i32(_mm512_mul_ps(dv, _mm512_set1_ps(da[b])), isum));
  }
  _mm512_storeu_ps(out, acc);
}

/* Decode rows [begin, end) of a q4_k_r16 / q6_k_r16 matrix, group by group (pf: whole tiles ahead, in bytes). */
static RV void rows_k_decode(const uint8_t *w, int type, int64_t nb, const zy_qact *act, float *out, int64_t begin,
                             int64_t end, int pf) {
  const int k4 = type == ZY_QT_Q4_K_R16;
  const int64_t group = nb * tile_bytes(type);
  for (int64_t g = begin / 16; g < end / 16; g++) {
    const uint8_t *t = w + g * group;
    float *o = out + g * 16;
    if (k4) {
      if (pf) group_k4_decode(t, nb, act->q, act->ksum32, act->d, o, pf);
      else group_k4_decode(t, nb, act->q, act->ksum32, act->d, o, 0);
    } else {
      if (pf) group_k6_decode(t, nb, act->q, act->knsum16, act->d, o, pf);
      else group_k6_decode(t, nb, act->q, act->knsum16, act->d, o, 0);
    }
  }
}

static RV void group_k_any(const uint8_t *g, int type, int64_t nb, const zy_qact *act, int64_t a0, int na, float *out,
                           int64_t os, const zy_knobs *kn) {
  if (type == ZY_QT_Q4_K_R16) {
    switch (na) {
      case 1: group_k4(g, nb, act, a0, 1, out, os, kn); break;
      case 2: group_k4(g, nb, act, a0, 2, out, os, kn); break;
      case 3: group_k4(g, nb, act, a0, 3, out, os, kn); break;
      default: group_k4(g, nb, act, a0, 4, out, os, kn); break;
    }
  } else {
    switch (na) {
      case 1: group_k6(g, nb, act, a0, 1, out, os, kn); break;
      case 2: group_k6(g, nb, act, a0, 2, out, os, kn); break;
      case 3: group_k6(g, nb, act, a0, 3, out, os, kn); break;
      default: group_k6(g, nb, act, a0, 4, out, os, kn); break;
    }
  }
}

/* Weight bytes of the groups one pass keeps in L2 while every 8 activation rows (in L1) go over them. */
#define R16_TILE_BYTES (256 * 1024)

void zy_r16_rows(const uint8_t *w, int type, int64_t cols, const zy_qact *act, int64_t m, float *out, int64_t out_rows,
                 int64_t begin, int64_t end, const zy_knobs *kn) {
  const int src = source_of(type), kquant = src == ZY_QT_Q4_K || src == ZY_QT_Q6_K;
  const int64_t nb = cols / zy_qtype_block_elems(src), group = nb * tile_bytes(type);
  const int fast = zy_cpu()->avx512_vnni, step = kquant ? 4 : 8;
  /* Portable path: each thread unpacks a group into its own grow-only buffer. Out of memory: NaN outputs, never stale ones. */
  static __thread void *unpacked = NULL;
  static __thread size_t unpacked_size = 0;
  uint8_t *rows = fast ? NULL : (uint8_t *)zy_grow(&unpacked, &unpacked_size, (size_t)group);
  if (!fast && !rows) {
    for (int64_t i = 0; i < m; i++)
      for (int64_t r = begin; r < end; r++) out[i * out_rows + r] = NAN;
    return;
  }
  if (fast && !kquant && m == 1 && act->nbsum128) {
    rows_q32_decode(w, type, nb, act, out, begin, end, kn->pf_bytes);
    return;
  }
  if (fast && kquant && m == 1 && act->ksum32) {
    rows_k_decode(w, type, nb, act, out, begin, end, kn->pf_tiles * tile_bytes(type));
    return;
  }
  int64_t per_pass = R16_TILE_BYTES / group;
  if (per_pass < 1) per_pass = 1;
  /* q8_0 / q4_0 with 8+ activation rows (prompts): two groups at a time against 4 rows (group2_avx512; measured
   * 1.11x CPU on a 110M q4_0 pp128, 1.13x q8_0, over group_avx512's 8 rows; 6 rows a pass gained nothing more) */
  if (fast && !kquant && m >= 8) {
    for (int64_t g0 = begin / 16; g0 < end / 16; g0 += per_pass) {
      const int64_t g1 = g0 + per_pass < end / 16 ? g0 + per_pass : end / 16;
      for (int64_t i = 0; i < m; i += 4) {
        const int na = m - i >= 4 ? 4 : (int)(m - i);
        int64_t g = g0;
        for (; g + 2 <= g1; g += 2)
          group2_avx512_any(w + g * group, w + (g + 1) * group, type, nb, act, i, na, out + i * out_rows + g * 16,
                            out + i * out_rows + (g + 1) * 16, out_rows);
        if (g < g1) group_avx512_any(w + g * group, type, nb, act, i, na, out + i * out_rows + g * 16, out_rows, kn);
      }
    }
    return;
  }
  for (int64_t g0 = begin / 16; g0 < end / 16; g0 += per_pass) {
    const int64_t g1 = g0 + per_pass < end / 16 ? g0 + per_pass : end / 16;
    for (int64_t i = 0; i < m; i += step) {
      const int na = m - i >= step ? step : (int)(m - i);
      for (int64_t g = g0; g < g1; g++) {
        float *o = out + i * out_rows + g * 16;
        if (!fast) group_portable(w + g * group, type, nb, act, i, na, o, out_rows, rows);
        else if (kquant) group_k_any(w + g * group, type, nb, act, i, na, o, out_rows, kn);
        else group_avx512_any(w + g * group, type, nb, act, i, na, o, out_rows, kn);
      }
    }
  }
}
