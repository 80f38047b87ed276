/* Scaled-dot-product attention, forward and backward, with grouped-query heads and a causal mask that allows
 * a KV-cache offset (query i of this call sees keys [0, tk − tq + i]).
 * Dims: B batch, Tq queries, Tk keys, H heads, Hkv kv heads, D head dim, C kv capacity (positions per batch
 * entry in the k/v buffers). q, out, dOut [B, Tq, H, D]; k, v, dk, dv [B, C, Hkv, D]; lse [B, H, Tq].
 * Forward: flash-style online softmax per query row over blocks of 64 keys (scores never stored beyond a block),
 * writing lse. The keys of a row are cut into chunks of ZY_KEY_CHUNK (a multiple of the block): each chunk gets its
 * own online softmax state (max m, sum l, unnormalised output acc), and the chunks' states are folded left to right
 * (fold_state) — the same arithmetic whether one thread runs a row's chunks in turn or several threads run them at
 * once (flash-decoding: zy_op_attention_decode cuts the (sequence, chunk, kv head) states into one run of positions
 * per thread), so the bits never depend on the thread count or the split. With AVX-512 a decode step walks the cache
 * position-major (each position's row of all kv heads read once, in address order, with a software prefetch ahead). With AVX-512 and D = 32, 64 or 128 a row scores 16 keys at a time (one
 * transposing reduction instead of 16 horizontal sums) and keeps its output in registers; the query heads of one kv
 * head in a decode step (tq = 1), and up to 8 consecutive query rows of one head in a prefill (tq > 1, each row with
 * its own causal key count), run together, reading each block of the keys once; a full group of 8 first copies the
 * block's rows next to each other (decoded to f32 where that still fits L1), so the later rows find them in L1.
 * The forward reads an f32, f16 (IEEE half bits, widened exactly) or q8_0 cache (llama.cpp's block: an f16 scale d
 * and 32 int8 q per 32 values of a row, each value d·q rounded to f32, as ggml's dequantize_row_q8_0): a row's
 * result is that of an f32 cache holding the decoded values, bit for bit. Backward (f32 only): recomputes
 * probabilities from lse; parallel over (batch, kv head) so the heads sharing dk/dv rows run on one thread (no races);
 * AVX-512 with d a multiple of 16 takes the blocked form of ops_attention_bw.c, the rest the row-at-a-time one here.
 * Leaves out: bounds checks (the TS layer does them), dropout, ALiBi, sliding windows, arbitrary masks. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_half.h"
#include "zy_pool.h"
#include "zy_scratch.h"

#define ZY_KEY_BLOCK 64
/* Keys per chunk of a row (a multiple of ZY_KEY_BLOCK): the unit of the split over threads and of the fold (each
 * chunk restarts its kernel and costs one fold per row: 512 keeps that near 2% of the chunk's work). */
#define ZY_KEY_CHUNK 512

typedef struct {
  const float *q, *k, *v, *out, *lse_in, *dout;
  const void *kf, *vf; /* forward: k, v as f32, f16 or q8_0 (kv_type) */
  float *o, *lse, *dq, *dk, *dv;
  int64_t b, tq, tk, nh, nkv, d, cap;
  float scale;
  int causal, isa, kv_type;
} attn_ctx;

static inline int64_t visible(const attn_ctx *c, int64_t i) { return c->causal ? c->tk - c->tq + i + 1 : c->tk; }

/* Bytes of one (position, kv head) row of D values in a cache of this type. */
static inline int64_t kv_row_bytes(int kv_type, int64_t D) {
  return kv_type == ZY_KV_Q8_0 ? D / 32 * 34 : D * (kv_type == ZY_KV_F16 ? 2 : 4);
}

/* A cache row as f32: itself, or decoded into tmp [D] (f16 widened, q8_0 as d·q — both exact in f32 arithmetic). */
static inline const float *kv_row(const char *row, int64_t D, float *tmp, int kv_type) {
  if (kv_type == ZY_KV_F32) return (const float *)row;
  if (kv_type == ZY_KV_F16) {
    const uint16_t *h = (const uint16_t *)row;
    for (int64_t x = 0; x < D; x++) tmp[x] = zy_f16_to_f32(h[x]);
  } else {
    for (int64_t b = 0; b < D / 32; b++) {
      const char *blk = row + 34 * b;
      uint16_t dh;
      memcpy(&dh, blk, 2);
      const float d = zy_f16_to_f32(dh);
      for (int x = 0; x < 32; x++) tmp[32 * b + x] = (float)((const int8_t *)blk)[2 + x] * d;
    }
  }
  return tmp;
}

/* The online softmax state of G rows over one chunk: m [G], l [G], acc [G][D] (unnormalised). */
typedef struct {
  float *m, *l, *acc;
} rows_state;

/* One query row over keys [j_lo, j_hi) in blocks of ZY_KEY_BLOCK → its chunk state. The portable / AVX2 form: one row
 * primitive per key. */
static void attend_chunk_row_generic(int isa, const float *q, const char *kb, const char *vb, int64_t kstride,
                                     int64_t j_lo, int64_t j_hi, int64_t D, float scale, float *acc, float *mo,
                                     float *lo, int kv_type) {
  float s[ZY_KEY_BLOCK];
  float row[D > 0 ? D : 1];
  float m = -INFINITY, l = 0.0f;
  for (int64_t x = 0; x < D; x++) acc[x] = 0.0f;
  for (int64_t j0 = j_lo; j0 < j_hi; j0 += ZY_KEY_BLOCK) {
    int64_t jn = j_hi - j0 < ZY_KEY_BLOCK ? j_hi - j0 : ZY_KEY_BLOCK;
    for (int64_t j = 0; j < jn; j++) s[j] = scale * zy_row_dot(isa, q, kv_row(kb + (j0 + j) * kstride, D, row, kv_type), D);
    float bm = zy_row_max(isa, s, jn), nm = bm > m ? bm : m;
    if (nm == -INFINITY) continue; /* every score so far is -inf: nothing to add */
    float corr = expf(m - nm);
    l = l * corr + zy_row_expsum(isa, s, s, jn, nm);
    if (corr != 1.0f) zy_row_scale(isa, corr, acc, D);
    for (int64_t j = 0; j < jn; j++) zy_row_axpy(isa, s[j], kv_row(vb + (j0 + j) * kstride, D, row, kv_type), acc, D);
    m = nm;
  }
  *mo = m, *lo = l;
}

/* 16 vectors → one whose lane j is the sum of v[j]'s lanes (a transposing tree of shuffles and adds: 15 adds for 16
 * dot products instead of 16 horizontal reductions). */
static inline ZY_AVX512 __m512 hsum16_avx512(__m512 *v) {
  __m512 w[8], x[4], y[2];
  for (int i = 0; i < 8; i++) /* quarters 0,1: v[2i] folded to 8 lanes; 2,3: v[2i+1] */
    w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44), _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
  for (int i = 0; i < 4; i++) /* quarter q: key 4i + q folded to 4 lanes */
    x[i] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0x88), _mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0xDD));
  for (int i = 0; i < 2; i++) /* quarter q: lanes 0, 2 key 8i + q; lanes 1, 3 key 8i + 4 + q */
    y[i] = _mm512_add_ps(_mm512_unpacklo_ps(x[2 * i], x[2 * i + 1]), _mm512_unpackhi_ps(x[2 * i], x[2 * i + 1]));
  /* quarter q, lane p: key q, 8 + q, 4 + q, 12 + q for p = 0..3; permute into key order */
  __m512 r = _mm512_add_ps(_mm512_unpacklo_ps(y[0], y[1]), _mm512_unpackhi_ps(y[0], y[1]));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, r);
}

/* Values 16c … 16c + 15 of a cache row: f32 loaded, f16 widened, or q8_0 decoded (d·q, one rounding, as ggml). */
static inline __attribute__((always_inline)) ZY_AVX512 __m512 kv_load16(const char *row, int c, const int KT) {
  if (KT == ZY_KV_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + 32 * c)));
  if (KT == ZY_KV_Q8_0) {
    const char *blk = row + 34 * (c >> 1);
    int16_t dh;
    memcpy(&dh, blk, 2);
    const __m512 d = _mm512_cvtph_ps(_mm256_set1_epi16(dh));
    const __m512 qv = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(blk + 2 + 16 * (c & 1)))));
    return _mm512_mul_ps(qv, d);
  }
  return _mm512_loadu_ps((const float *)row + 16 * c);
}

/* The rows of a group over one block of keys (from j0) whose key/value rows are kblk, vblk, bstride bytes apart, in
 * cache type KT: each row scores the block, updates its online softmax (mg, lg) and its output accm. pf: prefetch
 * the rows ahead in the cache (pstride apart): the unpacked path does for f32 and q8_0 caches (q8_0's 68-byte rows
 * ran 1.5-1.9x slower without it), not for f16 ones, where on AMD Zen 5 the hardware prefetcher keeps up alone (at
 * 2,048 keys x 12 layers the prefetch made no measurable difference, 0.97-1.04x; BENCHMARKS.md, issue 15 session 10). */
static inline __attribute__((always_inline)) ZY_AVX512 void rows_over_block(
    const float *q, int64_t qstride, int G, const char *kblk, const char *vblk, int64_t bstride, int64_t j0,
    const int64_t *ends, __m512 vscale, float *s, float (*accm)[128], float *mg, float *lg, int pf, int64_t pstride,
    int64_t lines, const int NC, const int KT) {
  for (int g = 0; g < G; g++) {
    const int64_t ng = ends[g];
    if (j0 >= ng) continue; /* this row's keys ended in an earlier block */
    const int64_t jn = ng - j0 < ZY_KEY_BLOCK ? ng - j0 : ZY_KEY_BLOCK;
    __m512 qv[8], acc[8];
    for (int c = 0; c < NC; c++) qv[c] = _mm512_loadu_ps(q + g * qstride + 16 * c);
    for (int64_t k0 = 0; k0 < jn; k0 += 16) {
      __m512 d[16];
      int64_t kn = jn - k0 < 16 ? jn - k0 : 16;
      for (int64_t j = 0; j < 16; j++) {
        if (j >= kn) { d[j] = _mm512_setzero_ps(); continue; }
        const char *kr = kblk + (k0 + j) * bstride;
        if (pf) {
          const char *ahead = kr + 16 * pstride;
          for (int64_t c = 0; c < lines; c++) _mm_prefetch(ahead + 64 * c, _MM_HINT_T0);
        }
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        int c = 0;
        for (; c + 2 <= NC; c += 2) {
          a0 = _mm512_fmadd_ps(qv[c], kv_load16(kr, c, KT), a0);
          a1 = _mm512_fmadd_ps(qv[c + 1], kv_load16(kr, c + 1, KT), a1);
        }
        if (c < NC) a0 = _mm512_fmadd_ps(qv[c], kv_load16(kr, c, KT), a0);
        d[j] = _mm512_add_ps(a0, a1);
      }
      _mm512_store_ps(s + k0, _mm512_mul_ps(vscale, hsum16_avx512(d)));
    }
    float m = mg[g], bm = zy_row_max(2, s, jn), nm = bm > m ? bm : m;
    if (nm == -INFINITY) continue;
    float corr = expf(m - nm);
    lg[g] = lg[g] * corr + zy_row_expsum(2, s, s, jn, nm);
    for (int c = 0; c < NC; c++) acc[c] = _mm512_load_ps(accm[g] + 16 * c);
    if (corr != 1.0f) {
      __m512 vc = _mm512_set1_ps(corr);
      for (int c = 0; c < NC; c++) acc[c] = _mm512_mul_ps(vc, acc[c]);
    }
    /* p·v into two accumulator sets, even and odd keys (one chain of dependent FMAs per 16 lanes would wait on
     * the FMA latency every key), added at the end of the block. */
    __m512 acc_odd[8];
    for (int c = 0; c < NC; c++) acc_odd[c] = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 2 <= jn; j += 2) {
      const char *vr = vblk + j * bstride;
      if (pf) {
        const char *ahead = vr + 8 * pstride;
        for (int64_t c = 0; c < lines; c++) _mm_prefetch(ahead + 64 * c, _MM_HINT_T0);
        for (int64_t c = 0; c < lines; c++) _mm_prefetch(ahead + pstride + 64 * c, _MM_HINT_T0);
      }
      const __m512 p0 = _mm512_set1_ps(s[j]), p1 = _mm512_set1_ps(s[j + 1]);
      for (int c = 0; c < NC; c++) {
        acc[c] = _mm512_fmadd_ps(p0, kv_load16(vr, c, KT), acc[c]);
        acc_odd[c] = _mm512_fmadd_ps(p1, kv_load16(vr + bstride, c, KT), acc_odd[c]);
      }
    }
    if (j < jn) {
      const char *vr = vblk + j * bstride;
      const __m512 p = _mm512_set1_ps(s[j]);
      for (int c = 0; c < NC; c++) acc[c] = _mm512_fmadd_ps(p, kv_load16(vr, c, KT), acc[c]);
    }
    for (int c = 0; c < NC; c++) _mm512_store_ps(accm[g] + 16 * c, _mm512_add_ps(acc[c], acc_odd[c]));
    mg[g] = nm;
  }
}

/* The AVX-512 form for D = 16·NC, for G ≤ ZY_MAX_GROUP query rows that share their keys, over keys [j_lo, j_hi)
 * (j_lo a multiple of the block): per block of 64 keys, each row in turn scores the block 16 keys at a time (per key
 * two accumulators over D, as row_dot does, then one transposing reduction), updates its online softmax and adds
 * the block's values into its output, held in registers while it runs (even and odd keys in two sets, added at the
 * end of the block). The block's key and value rows (16 KB at
 * D = 64, f32) come from memory for the first row and from L1 for the others, so a group reads its cache once; each
 * row's arithmetic is that of a group of one, so the bits do not depend on G. Rows G apart are q + g·qstride, state
 * g; row g sees keys below n + g·ninc (ninc 0: grouped heads; 1: consecutive causal queries of one head). */
#define ZY_MAX_GROUP 8
static inline __attribute__((always_inline)) ZY_AVX512 void attend_chunk_avx512_nc(
    const float *q, int64_t qstride, int G, const char *kb, const char *vb, int64_t kstride, int64_t j_lo, int64_t j_hi,
    int64_t n, int64_t ninc, float scale, float *acc_out, float *m_out, float *l_out, int64_t j_from, int64_t j_stop,
    int resume, const int NC, const int KT) {
  const int64_t D = 16 * NC, lines = (kv_row_bytes(KT, D) + 63) / 64; /* cache lines per row */
  float s[ZY_KEY_BLOCK] __attribute__((aligned(64)));
  float accm[ZY_MAX_GROUP][128] __attribute__((aligned(64)));
  float mg[ZY_MAX_GROUP], lg[ZY_MAX_GROUP];
  for (int g = 0; g < G; g++) {
    if (resume) { /* the state an earlier call over this chunk's blocks before j_from left */
      mg[g] = m_out[g], lg[g] = l_out[g];
      for (int c = 0; c < NC; c++) _mm512_store_ps(accm[g] + 16 * c, _mm512_loadu_ps(acc_out + g * D + 16 * c));
      continue;
    }
    mg[g] = -INFINITY, lg[g] = 0.0f;
    for (int c = 0; c < NC; c++) _mm512_store_ps(accm[g] + 16 * c, _mm512_setzero_ps());
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  int64_t j_end = n + (G - 1) * ninc, ends[ZY_MAX_GROUP]; /* row g's keys end at ends[g] within this chunk */
  if (j_end > j_hi) j_end = j_hi;
  for (int g = 0; g < G; g++) ends[g] = n + g * ninc < j_hi ? n + g * ninc : j_hi;
  /* A full group of rows: each block's key and value rows are first decoded to f32 next to each other (a head's rows
   * sit nkv·D apart in the cache, a stride that maps them onto few L1 sets, so without the copy the block falls out of
   * L1 before the group's later rows read it; and f16 / q8_0 rows are decoded once instead of once per row). The
   * values and the arithmetic are the same either way. */
  const int pack = G >= ZY_MAX_GROUP;
  /* widen: decoded to f32 where both blocks still fit L1 that way (D ≤ 64: 32 KB), else copied as they are */
  const int widen = KT != ZY_KV_F32 && D <= 64;
  const int64_t rb = kv_row_bytes(KT, D);
  float kpack[ZY_KEY_BLOCK * 128] __attribute__((aligned(64))), vpack[ZY_KEY_BLOCK * 128] __attribute__((aligned(64)));
  if (j_end > j_stop) j_end = j_stop;
  for (int64_t j0 = j_from; j0 < j_end; j0 += ZY_KEY_BLOCK) {
    const char *kblk = kb + j0 * kstride, *vblk = vb + j0 * kstride;
    int64_t bstride = kstride;
    if (pack) {
      const int64_t jb = j_end - j0 < ZY_KEY_BLOCK ? j_end - j0 : ZY_KEY_BLOCK;
      for (int64_t j = 0; j < jb; j++) {
        if (widen) {
          for (int c = 0; c < NC; c++) {
            _mm512_store_ps(kpack + j * D + 16 * c, kv_load16(kblk + j * kstride, c, KT));
            _mm512_store_ps(vpack + j * D + 16 * c, kv_load16(vblk + j * kstride, c, KT));
          }
        } else {
          memcpy((char *)kpack + j * rb, kblk + j * kstride, (size_t)rb);
          memcpy((char *)vpack + j * rb, vblk + j * kstride, (size_t)rb);
        }
        const char *next = kblk + (j + ZY_KEY_BLOCK) * kstride; /* the next block's rows, while this one is copied */
        for (int64_t c = 0; c < lines; c++) _mm_prefetch(next + 64 * c, _MM_HINT_T0);
        next = vblk + (j + ZY_KEY_BLOCK) * kstride;
        for (int64_t c = 0; c < lines; c++) _mm_prefetch(next + 64 * c, _MM_HINT_T0);
      }
      kblk = (const char *)kpack, vblk = (const char *)vpack, bstride = widen ? D * (int64_t)sizeof(float) : rb;
    }
    if (pack && widen)
      rows_over_block(q, qstride, G, kblk, vblk, bstride, j0, ends, vscale, s, accm, mg, lg, 0, 0, lines, NC, ZY_KV_F32);
    else if (pack)
      rows_over_block(q, qstride, G, kblk, vblk, bstride, j0, ends, vscale, s, accm, mg, lg, 0, 0, lines, NC, KT);
    else
      rows_over_block(q, qstride, G, kblk, vblk, bstride, j0, ends, vscale, s, accm, mg, lg, KT != ZY_KV_F16, kstride, lines,
                      NC, KT);
  }
  for (int g = 0; g < G; g++) {
    for (int c = 0; c < NC; c++) _mm512_storeu_ps(acc_out + g * D + 16 * c, _mm512_load_ps(accm[g] + 16 * c));
    m_out[g] = mg[g], l_out[g] = lg[g];
  }
}

#define CHUNK_KERNEL(NAME, NC, KT)                                                                                       \
  static ZY_AVX512 void NAME(const float *q, int64_t qs, int G, const char *kb, const char *vb, int64_t ks, int64_t lo,  \
                             int64_t hi, int64_t n, int64_t ninc, float sc, float *acc, float *m, float *l,             \
                             int64_t from, int64_t stop, int resume) {                                                  \
    attend_chunk_avx512_nc(q, qs, G, kb, vb, ks, lo, hi, n, ninc, sc, acc, m, l, from, stop, resume, NC, KT);            \
  }
CHUNK_KERNEL(attend_chunk_d32, 2, ZY_KV_F32)
CHUNK_KERNEL(attend_chunk_d64, 4, ZY_KV_F32)
CHUNK_KERNEL(attend_chunk_d128, 8, ZY_KV_F32)
CHUNK_KERNEL(attend_chunk_d32_f16, 2, ZY_KV_F16)
CHUNK_KERNEL(attend_chunk_d64_f16, 4, ZY_KV_F16)
CHUNK_KERNEL(attend_chunk_d128_f16, 8, ZY_KV_F16)
CHUNK_KERNEL(attend_chunk_d32_q8, 2, ZY_KV_Q8_0)
CHUNK_KERNEL(attend_chunk_d64_q8, 4, ZY_KV_Q8_0)
CHUNK_KERNEL(attend_chunk_d128_q8, 8, ZY_KV_Q8_0)

/* G ≤ ZY_MAX_GROUP rows (q + g·qstride; row g sees keys below n + g·ninc) over keys [j_lo, j_hi) → their chunk states
 * (acc [G][D]). Every forward caller comes through here, so the decode op and the tensor path give the same bits. */
typedef void (*chunk_fn)(const float *, int64_t, int, const char *, const char *, int64_t, int64_t, int64_t, int64_t,
                         int64_t, float, float *, float *, float *, int64_t, int64_t, int);
/* The AVX-512 kernel for this ISA level, head dim and cache type, or NULL. */
static chunk_fn chunk_kernel(int isa, int64_t D, int kv_type) {
  static const chunk_fn fns[3][3] = {{attend_chunk_d32, attend_chunk_d64, attend_chunk_d128},
                                     {attend_chunk_d32_f16, attend_chunk_d64_f16, attend_chunk_d128_f16},
                                     {attend_chunk_d32_q8, attend_chunk_d64_q8, attend_chunk_d128_q8}};
  return isa >= 2 && (D == 32 || D == 64 || D == 128) ? fns[kv_type][D == 32 ? 0 : D == 64 ? 1 : 2] : NULL;
}

static void attend_chunk(int isa, const float *q, int64_t qstride, int G, const char *kb, const char *vb, int64_t kstride,
                         int64_t j_lo, int64_t j_hi, int64_t n, int64_t ninc, int64_t D, float scale, float *acc, float *m,
                         float *l, int kv_type) {
  const chunk_fn fn = chunk_kernel(isa, D, kv_type);
  if (fn) {
    fn(q, qstride, G, kb, vb, kstride, j_lo, j_hi, n, ninc, scale, acc, m, l, j_lo, j_hi, 0);
    return;
  }
  for (int g = 0; g < G; g++) {
    int64_t ng = n + g * ninc;
    attend_chunk_row_generic(isa, q + g * qstride, kb, vb, kstride, j_lo, ng < j_hi ? ng : j_hi, D, scale, acc + g * D,
                             m + g, l + g, kv_type);
  }
}

/* total ← total ⊕ chunk for one row: both rescaled to the larger max. An empty chunk (m = −inf) leaves the total as
 * it is; into an empty total the chunk is copied. Not inlined: the serial and the split paths run this same code. */
static __attribute__((noinline)) void fold_state(int64_t D, float *mt, float *lt, float *acct, float mc, float lc,
                                                 const float *accc) {
  if (mc == -INFINITY) return;
  if (*mt == -INFINITY) {
    *mt = mc, *lt = lc;
    memcpy(acct, accc, (size_t)D * sizeof(float));
    return;
  }
  const float nm = mc > *mt ? mc : *mt, ct = expf(*mt - nm), cc = expf(mc - nm);
  *lt = *lt * ct + lc * cc;
  for (int64_t x = 0; x < D; x++) acct[x] = acct[x] * ct + accc[x] * cc;
  *mt = nm;
}

/* o = acc / l and lse = m + log l for one row (a row without keys: o = 0, lse = −inf). */
static __attribute__((noinline)) void finish_row(int64_t D, float m, float l, const float *acc, float *o, float *lse) {
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  for (int64_t x = 0; x < D; x++) o[x] = acc[x] * inv;
  *lse = l > 0.0f ? m + logf(l) : -INFINITY;
}

/* G query rows (q + g·qstride → o + g·ostride, lse[g]) over keys [0, n + g·ninc), their chunks in turn on this
 * thread. */
static void attend_rows(int isa, const float *q, int64_t qstride, int64_t G, const char *kb, const char *vb,
                        int64_t kstride, int64_t n, int64_t ninc, int64_t D, float scale, float *o, int64_t ostride,
                        float *lse, int kv_type) {
  float tot[ZY_MAX_GROUP * (D > 0 ? D : 1)], part[ZY_MAX_GROUP * (D > 0 ? D : 1)];
  float tm[ZY_MAX_GROUP], tl[ZY_MAX_GROUP], pm[ZY_MAX_GROUP], pl[ZY_MAX_GROUP];
  for (int64_t g0 = 0; g0 < G; g0 += ZY_MAX_GROUP) {
    const int gn = (int)(G - g0 < ZY_MAX_GROUP ? G - g0 : ZY_MAX_GROUP);
    const int64_t n0 = n + g0 * ninc, n_all = n0 + (gn - 1) * ninc;
    /* The first chunk's state is the total (what folding it into an empty one gives); later ones fold in. */
    attend_chunk(isa, q + g0 * qstride, qstride, gn, kb, vb, kstride, 0, ZY_KEY_CHUNK, n0, ninc, D, scale, tot, tm, tl,
                 kv_type);
    for (int64_t j_lo = ZY_KEY_CHUNK; j_lo < n_all; j_lo += ZY_KEY_CHUNK) {
      attend_chunk(isa, q + g0 * qstride, qstride, gn, kb, vb, kstride, j_lo, j_lo + ZY_KEY_CHUNK, n0, ninc, D, scale,
                   part, pm, pl, kv_type);
      for (int g = 0; g < gn; g++) fold_state(D, tm + g, tl + g, tot + g * D, pm[g], pl[g], part + g * D);
    }
    for (int g = 0; g < gn; g++) finish_row(D, tm[g], tl[g], tot + g * D, o + (g0 + g) * ostride, lse + g0 + g);
  }
}

/* Consecutive query rows of one head that a prefill task runs together (their key blocks read once). */
#define ZY_QUERY_BLOCK ZY_MAX_GROUP

/* tq > 1: one task item per block of ZY_QUERY_BLOCK consecutive query rows of one (batch, head): item r = (bi·H + h)·
 * blocks + blk, rows i0 … i0 + G − 1 (lse index (bi·H + h)·Tq + i). (tq = 1 runs as decode rows.) */
static void attn_fwd_task(void *p, int64_t r0, int64_t r1, int t) {
  (void)t;
  attn_ctx *c = p;
  const int64_t D = c->d, group = c->nh / c->nkv, blocks = (c->tq + ZY_QUERY_BLOCK - 1) / ZY_QUERY_BLOCK;
  const int64_t rb = kv_row_bytes(c->kv_type, D);
  for (int64_t r = r0; r < r1; r++) {
    const int64_t bh = r / blocks, i = (r % blocks) * ZY_QUERY_BLOCK, G = c->tq - i < ZY_QUERY_BLOCK ? c->tq - i : ZY_QUERY_BLOCK;
    const int64_t qstride = c->nh * D, h = bh % c->nh, bi = bh / c->nh, kvh = h / group, row = bh * c->tq + i;
    const float *q = c->q + ((bi * c->tq + i) * c->nh + h) * D;
    float *o = c->o + ((bi * c->tq + i) * c->nh + h) * D;
    const int64_t at = (bi * c->cap * c->nkv + kvh) * rb;
    attend_rows(c->isa, q, qstride, G, (const char *)c->kf + at, (const char *)c->vf + at, c->nkv * rb, visible(c, i),
                c->causal ? 1 : 0, D, c->scale, o, qstride, c->lse + row, c->kv_type);
  }
}

void zy_op_attention(const float *q, const void *k, const void *v, int kv_type, float *out, float *lse, int64_t b,
                     int64_t tq, int64_t tk, int64_t nh, int64_t nkv, int64_t d, float scale, int causal, int64_t cap) {
  if (tq == 1) { /* one query per batch entry: the decode rows (split over key chunks when that balances the pool) */
    const size_t rb = (size_t)kv_row_bytes(kv_type, d);
    const void *ptrs_here[32];
    int64_t n_keys_here[16];
    const int small = b <= 16; /* a decode step's few sequences: no allocation */
    const void **ptrs = small ? ptrs_here : malloc((size_t)(b > 0 ? 2 * b : 1) * sizeof(void *));
    int64_t *n_keys = small ? n_keys_here : malloc((size_t)(b > 0 ? b : 1) * sizeof(int64_t));
    if (ptrs && n_keys) {
      for (int64_t bi = 0; bi < b; bi++) {
        ptrs[bi] = (const char *)k + (size_t)(bi * cap * nkv) * rb;
        ptrs[b + bi] = (const char *)v + (size_t)(bi * cap * nkv) * rb;
        n_keys[bi] = tk; /* causal with tq = 1 sees every key too */
      }
      zy_op_attention_decode(b, q, ptrs, ptrs + b, kv_type, n_keys, out, lse, nh, nkv, d, scale);
      if (!small) free(ptrs), free(n_keys);
      return;
    }
    if (!small) free(ptrs), free(n_keys);
  }
  attn_ctx c = {.q = q, .kf = k, .vf = v, .kv_type = kv_type, .o = out, .lse = lse, .b = b, .tq = tq, .tk = tk, .nh = nh,
                .nkv = nkv, .d = d, .cap = cap, .scale = scale, .causal = causal, .isa = zy_isa_level()};
  int64_t rows = b * nh * tq, items = b * nh * ((tq + ZY_QUERY_BLOCK - 1) / ZY_QUERY_BLOCK);
  if (tq == 1) { /* out of memory for the decode form: each group of heads on its own, in turn */
    for (int64_t bi = 0; bi < b; bi++)
      for (int64_t kvh = 0; kvh < nkv; kvh++) {
        const int64_t group = nh / nkv, r = bi * nh + kvh * group, rb = kv_row_bytes(kv_type, d), at = (bi * cap * nkv + kvh) * rb;
        attend_rows(c.isa, q + r * d, d, group, (const char *)k + at, (const char *)v + at, nkv * rb, tk, 0, d, scale,
                    out + r * d, d, lse + r, kv_type);
      }
    return;
  }
  zy_ops_for(items, 1, rows * tk * d, attn_fwd_task, &c);
}

/* Decode rows where the position-major kernel does not apply (no AVX-512, a head dim other than 32/64/128, more than
 * 16 query heads per kv head, or no scratch): item g = i·Hkv + kvh is the group of query heads kvh·group … of
 * sequence i. With `split` each item is
 * cut into its chunks (task t = one chunk of one item, states into a scratch, folded afterwards in chunk order);
 * without, a task runs whole items. */
typedef struct {
  const float *q;
  const void *const *k, *const *v;
  const int64_t *n_keys;
  float *o, *lse;
  int64_t nh, nkv, d, rb;
  float scale;
  int isa, kv_type;
  /* split: task t → item task_item[t], chunk task_chunk[t]; its state at states + t·G·(D + 2) */
  const int32_t *task_item, *task_chunk;
  float *states;
} decode_ctx;

/* Whole items g0 … g1 − 1 (each ≤ ZY_MAX_GROUP heads), ZY_ITEMS_TOGETHER at a time, interleaved: with the AVX-512
 * kernels ZY_ITEM_STEP keys of every item, then the next ZY_ITEM_STEP keys of every item (a chunk's state carried
 * from step to step), elsewhere chunk by chunk. So the heads of a position are read close together in time (one
 * item's rows are nkv·rb bytes apart in the cache: item by item, each pass strided over the lines the others read
 * later). Each item's key blocks, chunks and folds are those of attend_rows, in the same order: the same bits. */
#define ZY_ITEMS_TOGETHER 16
#define ZY_ITEM_STEP (2 * ZY_KEY_BLOCK)
static void attend_items_by_chunk(const decode_ctx *c, int64_t g0, int64_t g1) {
  const int64_t D = c->d, group = c->nh / c->nkv;
  const chunk_fn fn = chunk_kernel(c->isa, D, c->kv_type);
  const int64_t step = fn ? ZY_ITEM_STEP : ZY_KEY_CHUNK;
  float tot[ZY_ITEMS_TOGETHER][ZY_MAX_GROUP * 128], part[ZY_ITEMS_TOGETHER][ZY_MAX_GROUP * 128];
  float tm[ZY_ITEMS_TOGETHER][ZY_MAX_GROUP], tl[ZY_ITEMS_TOGETHER][ZY_MAX_GROUP];
  float pm[ZY_ITEMS_TOGETHER][ZY_MAX_GROUP], pl[ZY_ITEMS_TOGETHER][ZY_MAX_GROUP];
  for (int64_t b0 = g0; b0 < g1; b0 += ZY_ITEMS_TOGETHER) {
    const int64_t b1 = g1 - b0 < ZY_ITEMS_TOGETHER ? g1 : b0 + ZY_ITEMS_TOGETHER;
    int64_t n_max = 0;
    for (int64_t g = b0; g < b1; g++) n_max = c->n_keys[g / c->nkv] > n_max ? c->n_keys[g / c->nkv] : n_max;
    for (int64_t j_lo = 0; j_lo == 0 || j_lo < n_max; j_lo += ZY_KEY_CHUNK) {
      /* the chunk [j_lo, j_lo + ZY_KEY_CHUNK) of every item that has keys there (the first chunk always, as attend_rows) */
      for (int64_t from = j_lo; from < j_lo + ZY_KEY_CHUNK && (from == j_lo || from < n_max); from += step)
        for (int64_t g = b0; g < b1; g++) {
          const int64_t i = g / c->nkv, kvh = g % c->nkv, r = i * c->nh + kvh * group, n = c->n_keys[i], u = g - b0;
          if (from == j_lo ? j_lo > 0 && j_lo >= n : from >= n) continue;
          const char *kb = (const char *)c->k[i] + kvh * c->rb, *vb = (const char *)c->v[i] + kvh * c->rb;
          float *acc = j_lo == 0 ? tot[u] : part[u], *m = j_lo == 0 ? tm[u] : pm[u], *l = j_lo == 0 ? tl[u] : pl[u];
          if (fn)
            fn(c->q + r * D, D, (int)group, kb, vb, c->nkv * c->rb, j_lo, j_lo + ZY_KEY_CHUNK, n, 0, c->scale, acc, m, l,
               from, from + step, from != j_lo);
          else
            attend_chunk(c->isa, c->q + r * D, D, (int)group, kb, vb, c->nkv * c->rb, j_lo, j_lo + ZY_KEY_CHUNK, n, 0, D,
                         c->scale, acc, m, l, c->kv_type);
        }
      if (j_lo > 0)
        for (int64_t g = b0; g < b1; g++) {
          const int64_t u = g - b0;
          if (j_lo >= c->n_keys[g / c->nkv]) continue;
          for (int h = 0; h < group; h++) fold_state(D, tm[u] + h, tl[u] + h, tot[u] + h * D, pm[u][h], pl[u][h], part[u] + h * D);
        }
    }
    for (int64_t g = b0; g < b1; g++) {
      const int64_t r = (g / c->nkv) * c->nh + (g % c->nkv) * group;
      for (int h = 0; h < group; h++) finish_row(D, tm[g - b0][h], tl[g - b0][h], tot[g - b0] + h * D, c->o + (r + h) * D, c->lse + r + h);
    }
  }
}

static void attn_decode_task(void *p, int64_t g0, int64_t g1, int t) {
  (void)t;
  decode_ctx *c = p;
  const int64_t D = c->d, group = c->nh / c->nkv;
  if (!c->task_item && g1 - g0 > 1 && group <= ZY_MAX_GROUP && D <= 128) {
    attend_items_by_chunk(c, g0, g1);
    return;
  }
  for (int64_t g = g0; g < g1; g++) {
    const int64_t item = c->task_item ? c->task_item[g] : g;
    const int64_t i = item / c->nkv, kvh = item % c->nkv, r = i * c->nh + kvh * group;
    const size_t at = (size_t)(kvh * c->rb);
    const char *kb = (const char *)c->k[i] + at, *vb = (const char *)c->v[i] + at;
    if (!c->task_item) {
      attend_rows(c->isa, c->q + r * D, D, group, kb, vb, c->nkv * c->rb, c->n_keys[i], 0, D, c->scale, c->o + r * D, D,
                  c->lse + r, c->kv_type);
      continue;
    }
    const int64_t j_lo = (int64_t)c->task_chunk[g] * ZY_KEY_CHUNK;
    float *st = c->states + g * group * (D + 2);
    for (int64_t h0 = 0; h0 < group; h0 += ZY_MAX_GROUP) { /* a group of > 8 heads: its rows 8 at a time */
      const int gn = (int)(group - h0 < ZY_MAX_GROUP ? group - h0 : ZY_MAX_GROUP);
      attend_chunk(c->isa, c->q + (r + h0) * D, D, gn, kb, vb, c->nkv * c->rb, j_lo, j_lo + ZY_KEY_CHUNK, c->n_keys[i], 0,
                   D, c->scale, st + h0 * D, st + group * D + h0, st + group * D + group + h0, c->kv_type);
    }
  }
}

/* Position-major decode (AVX-512, D = 16·NC): the query heads of H consecutive kv heads (G query heads each, R = G·H ≤
 * ZY_POS_ROWS rows) over keys [j_lo, j_hi) of one chunk, the cache read in address order — each position's key row
 * (all H heads, nkv·rb bytes apart from the next position's) scored for every row before the next position, then the
 * value rows two positions at a time, head by head. Head by head (attend_items_by_chunk) a pass read 2 lines of every
 * 1.5 KB cache row at 110M, and decode attention at depth streamed its cache at about half the matvec's DRAM rate.
 * Each row's arithmetic is that of rows_over_block, operation for operation (the same two accumulators per key dot,
 * the same transposing sum, softmax update and even/odd value accumulators per 64-key block): the same chunk state,
 * so the same bits. States at st + hh·G·(D + 2): acc [G][D], m [G], l [G] (the split decode's layout). */
#define ZY_POS_ROWS 16
/* Positions a row's bytes are prefetched ahead (into L1). The hardware prefetcher alone left the position-major
 * walk at the head-major one's speed (0.99x, 110M f16, 12 layers x 2,048 keys); 16 ahead gave 1.2-1.4x, 8 and 32
 * (or into L2) about the same (BENCHMARKS.md, issue 15 session 11). */
#define ZY_POS_AHEAD 16
static inline __attribute__((always_inline)) ZY_AVX512 void attend_positions_nc(
    const float *q, int G, int H, const char *kb, const char *vb, int64_t kstride, int64_t j_lo, int64_t j_hi,
    float scale, float *st, const int NC, const int KT) {
  const int64_t D = 16 * NC, rb = kv_row_bytes(KT, D), sst = G * (D + 2);
  const int R = G * H;
  __m512 dots[ZY_POS_ROWS][16];
  float s[ZY_POS_ROWS][ZY_KEY_BLOCK] __attribute__((aligned(64)));
  float odd[ZY_POS_ROWS][128] __attribute__((aligned(64)));
  float mg[ZY_POS_ROWS], lg[ZY_POS_ROWS];
  int live[ZY_POS_ROWS];
  for (int r = 0; r < R; r++) {
    float *a = st + (r / G) * sst + (r % G) * D;
    for (int c = 0; c < NC; c++) _mm512_storeu_ps(a + 16 * c, _mm512_setzero_ps());
    mg[r] = -INFINITY, lg[r] = 0.0f;
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  for (int64_t j0 = j_lo; j0 < j_hi; j0 += ZY_KEY_BLOCK) {
    const int64_t jn = j_hi - j0 < ZY_KEY_BLOCK ? j_hi - j0 : ZY_KEY_BLOCK;
    for (int64_t k0 = 0; k0 < jn; k0 += 16) {
      const int64_t kn = jn - k0 < 16 ? jn - k0 : 16;
      for (int64_t j = 0; j < 16; j++) {
        if (j >= kn) {
          for (int r = 0; r < R; r++) dots[r][j] = _mm512_setzero_ps();
          continue;
        }
        const char *kr = kb + (j0 + k0 + j) * kstride;
        for (int64_t o = 0; o < H * rb + 63; o += 64) _mm_prefetch(kr + ZY_POS_AHEAD * kstride + o, _MM_HINT_T0);
        for (int hh = 0; hh < H; hh++) {
          const char *kh = kr + hh * rb;
          for (int g = 0; g < G; g++) {
            const float *qr = q + (int64_t)(hh * G + g) * D;
            __m512 a0 = _mm512_setzero_ps(), a1 = a0;
            for (int c = 0; c + 2 <= NC; c += 2) {
              a0 = _mm512_fmadd_ps(_mm512_loadu_ps(qr + 16 * c), kv_load16(kh, c, KT), a0);
              a1 = _mm512_fmadd_ps(_mm512_loadu_ps(qr + 16 * c + 16), kv_load16(kh, c + 1, KT), a1);
            }
            dots[hh * G + g][j] = _mm512_add_ps(a0, a1);
          }
        }
      }
      for (int r = 0; r < R; r++) _mm512_store_ps(s[r] + k0, _mm512_mul_ps(vscale, hsum16_avx512(dots[r])));
    }
    for (int r = 0; r < R; r++) {
      const float m = mg[r], bm = zy_row_max(2, s[r], jn), nm = bm > m ? bm : m;
      live[r] = nm != -INFINITY;
      if (!live[r]) continue;
      const float corr = expf(m - nm);
      lg[r] = lg[r] * corr + zy_row_expsum(2, s[r], s[r], jn, nm);
      float *a = st + (r / G) * sst + (r % G) * D;
      if (corr != 1.0f) {
        const __m512 vc = _mm512_set1_ps(corr);
        for (int c = 0; c < NC; c++) _mm512_storeu_ps(a + 16 * c, _mm512_mul_ps(vc, _mm512_loadu_ps(a + 16 * c)));
      }
      for (int c = 0; c < NC; c++) _mm512_store_ps(odd[r] + 16 * c, _mm512_setzero_ps());
      mg[r] = nm;
    }
    int64_t j = 0;
    for (; j + 2 <= jn; j += 2) {
      const char *vr = vb + (j0 + j) * kstride;
      if (H * rb == kstride) { /* whole rows: the two rows ZY_POS_AHEAD on, one span */
        for (int64_t o = 0; o < 2 * kstride + 63; o += 64) _mm_prefetch(vr + ZY_POS_AHEAD * kstride + o, _MM_HINT_T0);
      } else { /* kv heads split over threads: this call's heads of each row only (a span from one row's heads to the
                * next's would fetch the bytes between, another thread's, into this core too) */
        for (int64_t o = 0; o < H * rb + 63; o += 64) _mm_prefetch(vr + ZY_POS_AHEAD * kstride + o, _MM_HINT_T0);
        for (int64_t o = 0; o < H * rb + 63; o += 64) _mm_prefetch(vr + (ZY_POS_AHEAD + 1) * kstride + o, _MM_HINT_T0);
      }
      for (int hh = 0; hh < H; hh++) {
        const char *v0 = vr + hh * rb, *v1 = v0 + kstride;
        for (int g = 0; g < G; g++) {
          const int r = hh * G + g;
          if (!live[r]) continue;
          const __m512 p0 = _mm512_set1_ps(s[r][j]), p1 = _mm512_set1_ps(s[r][j + 1]);
          float *a = st + hh * sst + g * D;
          for (int c = 0; c < NC; c++) {
            _mm512_storeu_ps(a + 16 * c, _mm512_fmadd_ps(p0, kv_load16(v0, c, KT), _mm512_loadu_ps(a + 16 * c)));
            _mm512_store_ps(odd[r] + 16 * c, _mm512_fmadd_ps(p1, kv_load16(v1, c, KT), _mm512_load_ps(odd[r] + 16 * c)));
          }
        }
      }
    }
    if (j < jn) {
      const char *vr = vb + (j0 + j) * kstride;
      for (int r = 0; r < R; r++) {
        if (!live[r]) continue;
        const __m512 p = _mm512_set1_ps(s[r][j]);
        float *a = st + (r / G) * sst + (r % G) * D;
        for (int c = 0; c < NC; c++)
          _mm512_storeu_ps(a + 16 * c, _mm512_fmadd_ps(p, kv_load16(vr + (r / G) * rb, c, KT), _mm512_loadu_ps(a + 16 * c)));
      }
    }
    for (int r = 0; r < R; r++) {
      if (!live[r]) continue;
      float *a = st + (r / G) * sst + (r % G) * D;
      for (int c = 0; c < NC; c++)
        _mm512_storeu_ps(a + 16 * c, _mm512_add_ps(_mm512_loadu_ps(a + 16 * c), _mm512_load_ps(odd[r] + 16 * c)));
    }
  }
  for (int r = 0; r < R; r++) {
    float *sh = st + (r / G) * sst;
    sh[G * D + r % G] = mg[r], sh[G * D + G + r % G] = lg[r];
  }
}

typedef void (*positions_fn)(const float *, int, int, const char *, const char *, int64_t, int64_t, int64_t, float,
                             float *);
#define POSITIONS_KERNEL(NAME, NC, KT)                                                                                   \
  static ZY_AVX512 void NAME(const float *q, int G, int H, const char *kb, const char *vb, int64_t ks, int64_t lo,     \
                             int64_t hi, float sc, float *st) {                                                         \
    attend_positions_nc(q, G, H, kb, vb, ks, lo, hi, sc, st, NC, KT);                                                    \
  }
POSITIONS_KERNEL(attend_positions_d32, 2, ZY_KV_F32)
POSITIONS_KERNEL(attend_positions_d64, 4, ZY_KV_F32)
POSITIONS_KERNEL(attend_positions_d128, 8, ZY_KV_F32)
POSITIONS_KERNEL(attend_positions_d32_f16, 2, ZY_KV_F16)
POSITIONS_KERNEL(attend_positions_d64_f16, 4, ZY_KV_F16)
POSITIONS_KERNEL(attend_positions_d128_f16, 8, ZY_KV_F16)
POSITIONS_KERNEL(attend_positions_d32_q8, 2, ZY_KV_Q8_0)
POSITIONS_KERNEL(attend_positions_d64_q8, 4, ZY_KV_Q8_0)
POSITIONS_KERNEL(attend_positions_d128_q8, 8, ZY_KV_Q8_0)

/* The position-major kernel for this ISA level, head dim, cache type and group size, or NULL. */
static positions_fn positions_kernel(int isa, int64_t D, int kv_type, int64_t group) {
  static const positions_fn fns[3][3] = {
      {attend_positions_d32, attend_positions_d64, attend_positions_d128},
      {attend_positions_d32_f16, attend_positions_d64_f16, attend_positions_d128_f16},
      {attend_positions_d32_q8, attend_positions_d64_q8, attend_positions_d128_q8}};
  return isa >= 2 && group <= ZY_POS_ROWS && (D == 32 || D == 64 || D == 128) ? fns[kv_type][D == 32 ? 0 : D == 64 ? 1 : 2]
                                                                              : NULL;
}

/* The position-major decode over the pool: the units (sequence i, chunk ch, kv head) in that order, each weighing its
 * chunk's keys (at least 1), are cut into one contiguous run per thread of about equal weight — so each thread streams
 * its own stretch of positions (at one sequence and 2,048 keys: about 1,024 positions each, all heads), and a chunk
 * may be shared by two threads head-wise. Unit u's state at states + u·G·(D + 2); folded in chunk order afterwards. */
typedef struct {
  const decode_ctx *c;
  positions_fn fn;
  const int64_t *chunk_base; /* sequence i's first chunk among all sequences' chunks */
  int64_t m, total; /* Σ unit weights */
  int threads;
  float *states;
} positions_ctx;

static inline int64_t chunks_of(int64_t n) { return n > 0 ? (n + ZY_KEY_CHUNK - 1) / ZY_KEY_CHUNK : 1; }

static void attn_positions_task(void *p, int64_t t0, int64_t t1, int t) {
  (void)t1, (void)t;
  const positions_ctx *pc = p;
  const decode_ctx *c = pc->c;
  const int64_t D = c->d, nkv = c->nkv, group = c->nh / nkv, per_call = ZY_POS_ROWS / group, T = pc->threads;
  const int64_t lo = t0 * pc->total, hi = (t0 + 1) * pc->total; /* this thread: units whose start·T is in [lo, hi) */
  int64_t w = 0; /* weight before the unit */
  for (int64_t i = 0; i < pc->m && w * T < hi; i++) {
    const int64_t n = c->n_keys[i], nc = chunks_of(n);
    for (int64_t ch = 0; ch < nc && w * T < hi; ch++) {
      const int64_t j_lo = ch * ZY_KEY_CHUNK, j_hi = n < j_lo + ZY_KEY_CHUNK ? n : j_lo + ZY_KEY_CHUNK;
      const int64_t wu = j_hi - j_lo > 0 ? j_hi - j_lo : 1;
      int64_t a = 0; /* first kv head of this chunk the thread owns */
      while (a < nkv && (w + a * wu) * T < lo) a++;
      int64_t b = a;
      while (b < nkv && (w + b * wu) * T < hi) b++;
      w += nkv * wu;
      const int64_t u0 = (pc->chunk_base[i] + ch) * nkv;
      for (int64_t h0 = a; h0 < b; h0 += per_call) {
        const int64_t hn = b - h0 < per_call ? b - h0 : per_call;
        const char *kb = (const char *)c->k[i] + h0 * c->rb, *vb = (const char *)c->v[i] + h0 * c->rb;
        pc->fn(c->q + (i * c->nh + h0 * group) * D, (int)group, (int)hn, kb, vb, nkv * c->rb, j_lo, j_hi, c->scale,
               pc->states + (u0 + h0) * group * (D + 2));
      }
    }
  }
}

/* Grow-only scratch of the split and position-major decodes (chunk states; one call at a time, like the kernels' own
 * scratch). */
static void *split_scratch = NULL;
static size_t split_scratch_size = 0;

void zy_op_attention_decode(int64_t m, const float *q, const void *const *k_cache, const void *const *v_cache,
                            int kv_type, const int64_t *n_keys, float *out, float *lse, int64_t nh, int64_t nkv,
                            int64_t d, float scale) {
  decode_ctx c = {q, k_cache, v_cache, n_keys, out, lse, nh, nkv, d, kv_row_bytes(kv_type, d), scale, zy_isa_level(),
                  kv_type, NULL, NULL, NULL};
  const int64_t items = m * nkv, group = nh / nkv, threads = zy_threads();
  int64_t work = 0, chunks = 0;
  for (int64_t i = 0; i < m; i++) {
    work += n_keys[i] * nh * d;
    chunks += nkv * (n_keys[i] > 0 ? (n_keys[i] + ZY_KEY_CHUNK - 1) / ZY_KEY_CHUNK : 1);
  }
  const positions_fn pfn = positions_kernel(c.isa, d, kv_type, group);
  if (pfn) { /* position-major: every (sequence, chunk, kv head) state, then the folds in chunk order */
    const size_t per = (size_t)(group * (d + 2)) * sizeof(float);
    char *buf = zy_grow(&split_scratch, &split_scratch_size, (size_t)chunks * per + (size_t)(m > 0 ? m : 1) * sizeof(int64_t));
    if (buf) {
      float *states = (float *)buf;
      int64_t *chunk_base = (int64_t *)(buf + (size_t)chunks * per), total = 0;
      for (int64_t i = 0, base = 0; i < m; i++) {
        chunk_base[i] = base, base += chunks_of(n_keys[i]);
        total += nkv * (n_keys[i] > 0 ? n_keys[i] : 1);
      }
      positions_ctx pc = {&c, pfn, chunk_base, m, total, 1, states};
      if (threads > 1 && work >= ZY_PAR_MIN) {
        pc.threads = (int)threads;
        zy_parallel_run(attn_positions_task, &pc);
      } else {
        attn_positions_task(&pc, 0, 1, 0);
      }
      float tot[d > 0 ? d : 1];
      for (int64_t i = 0; i < m; i++)
        for (int64_t kvh = 0; kvh < nkv; kvh++)
          for (int64_t h = 0; h < group; h++) {
            float tm = -INFINITY, tl = 0.0f;
            memset(tot, 0, (size_t)d * sizeof(float));
            for (int64_t ch = 0; ch < chunks_of(n_keys[i]); ch++) {
              const float *st = states + ((chunk_base[i] + ch) * nkv + kvh) * group * (d + 2);
              fold_state(d, &tm, &tl, tot, st[group * d + h], st[group * d + group + h], st + h * d);
            }
            const int64_t r = i * nh + kvh * group + h;
            finish_row(d, tm, tl, tot, out + r * d, lse + r);
          }
      return;
    }
  }
  /* Flash-decoding: when the items alone leave threads idle or unevenly loaded (fewer than 4 per thread and not a
   * multiple of the thread count) and rows span several chunks, run one task per chunk. The fold is the same either
   * way, so this choice never changes the bits. */
  const int split = threads > 1 && work >= ZY_PAR_MIN && chunks > items && items < 4 * threads && items % threads != 0;
  if (split) {
    const size_t per = (size_t)(group * (d + 2)) * sizeof(float);
    char *buf = zy_grow(&split_scratch, &split_scratch_size, (size_t)chunks * (per + 2 * sizeof(int32_t)));
    if (buf) {
      float *states = (float *)buf;
      int32_t *task_item = (int32_t *)(buf + (size_t)chunks * per), *task_chunk = task_item + chunks;
      int64_t t = 0;
      for (int64_t item = 0; item < items; item++) {
        const int64_t n = n_keys[item / nkv], nc = n > 0 ? (n + ZY_KEY_CHUNK - 1) / ZY_KEY_CHUNK : 1;
        for (int64_t ch = 0; ch < nc; ch++, t++) task_item[t] = (int32_t)item, task_chunk[t] = (int32_t)ch;
      }
      c.task_item = task_item, c.task_chunk = task_chunk, c.states = states;
      zy_parallel_for(chunks, 1, attn_decode_task, &c);
      /* Fold each row's chunk states in chunk order (tasks of one item are consecutive), then normalise. */
      float tot[d > 0 ? d : 1];
      for (int64_t t0 = 0; t0 < chunks;) {
        const int64_t item = task_item[t0], i = item / nkv, kvh = item % nkv, r = i * nh + kvh * group;
        int64_t t1 = t0;
        while (t1 < chunks && task_item[t1] == item) t1++;
        for (int64_t h = 0; h < group; h++) {
          float tm = -INFINITY, tl = 0.0f;
          memset(tot, 0, (size_t)d * sizeof(float));
          for (int64_t u = t0; u < t1; u++) {
            const float *st = states + u * group * (d + 2);
            fold_state(d, &tm, &tl, tot, st[group * d + h], st[group * d + group + h], st + h * d);
          }
          finish_row(d, tm, tl, tot, out + (r + h) * d, lse + r + h);
        }
        t0 = t1;
      }
      return;
    }
  }
  zy_ops_for(items, 1, work, attn_decode_task, &c);
}

/* zy_op_attention_decode for the kv heads [kvh0, kvh1) of every sequence (their query heads' rows), on the calling
 * thread: for a caller inside a pool task that splits the heads over its threads itself (decode_layer.c's rows
 * path). The position-major kernel's chunk states are folded as each is made (chunk order, as the split forms fold
 * them), elsewhere the items run as attn_decode_task's: the same bits as zy_op_attention_decode's rows. Added in
 * session 12 (helper bw2) beside the entry above, which it leaves as it was. */
void zy_op_attention_decode_heads(int64_t m, const float *q, const void *const *k_cache, const void *const *v_cache,
                                  int kv_type, const int64_t *n_keys, float *out, float *lse, int64_t nh, int64_t nkv,
                                  int64_t d, float scale, int64_t kvh0, int64_t kvh1) {
  decode_ctx c = {q, k_cache, v_cache, n_keys, out, lse, nh, nkv, d, kv_row_bytes(kv_type, d), scale, zy_isa_level(),
                  kv_type, NULL, NULL, NULL};
  const int64_t group = nh / nkv;
  const positions_fn fn = positions_kernel(c.isa, d, kv_type, group);
  if (!fn) {
    for (int64_t i = 0; i < m; i++) attn_decode_task(&c, i * nkv + kvh0, i * nkv + kvh1, 0);
    return;
  }
  const int64_t per_call = ZY_POS_ROWS / group;
  float st[ZY_POS_ROWS * (128 + 2)], tot[ZY_POS_ROWS][128], tm[ZY_POS_ROWS], tl[ZY_POS_ROWS];
  for (int64_t i = 0; i < m; i++)
    for (int64_t h0 = kvh0; h0 < kvh1; h0 += per_call) {
      const int64_t hn = kvh1 - h0 < per_call ? kvh1 - h0 : per_call, rows = hn * group, n = n_keys[i];
      const char *kb = (const char *)k_cache[i] + h0 * c.rb, *vb = (const char *)v_cache[i] + h0 * c.rb;
      for (int64_t r = 0; r < rows; r++) tm[r] = -INFINITY, tl[r] = 0.0f, memset(tot[r], 0, (size_t)d * sizeof(float));
      for (int64_t ch = 0; ch < chunks_of(n); ch++) {
        const int64_t j_lo = ch * ZY_KEY_CHUNK, j_hi = n < j_lo + ZY_KEY_CHUNK ? n : j_lo + ZY_KEY_CHUNK;
        fn(q + (i * nh + h0 * group) * d, (int)group, (int)hn, kb, vb, nkv * c.rb, j_lo, j_hi, scale, st);
        /* kv head a's rows at st + a·group·(d + 2): acc [group, d], then group maxima, then group sums */
        for (int64_t a = 0; a < hn; a++)
          for (int64_t h = 0; h < group; h++) {
            const float *sa = st + a * group * (d + 2);
            fold_state(d, &tm[a * group + h], &tl[a * group + h], tot[a * group + h], sa[group * d + h],
                       sa[group * d + group + h], sa + h * d);
          }
      }
      for (int64_t r = 0; r < rows; r++) {
        const int64_t o = i * nh + h0 * group + r;
        finish_row(d, tm[r], tl[r], tot[r], out + o * d, lse + o);
      }
    }
}

static void attn_bwd_task(void *p, int64_t g0, int64_t g1, int t) {
  (void)t;
  attn_ctx *c = p;
  int64_t D = c->d, group = c->nh / c->nkv, kstride = c->nkv * D;
  for (int64_t g = g0; g < g1; g++) { /* g = bi·Hkv + kvh */
    int64_t bi = g / c->nkv, kvh = g % c->nkv;
    const float *kb = c->k + (bi * c->cap * c->nkv + kvh) * D, *vb = c->v + (bi * c->cap * c->nkv + kvh) * D;
    float *dkb = c->dk + (bi * c->cap * c->nkv + kvh) * D, *dvb = c->dv + (bi * c->cap * c->nkv + kvh) * D;
    for (int64_t h = kvh * group; h < (kvh + 1) * group; h++) {
      for (int64_t i = 0; i < c->tq; i++) {
        int64_t qo = ((bi * c->tq + i) * c->nh + h) * D;
        const float *q = c->q + qo, *dout = c->dout + qo;
        float *dq = c->dq + qo;
        float lse = c->lse_in[(bi * c->nh + h) * c->tq + i];
        float delta = zy_row_dot(c->isa, dout, c->out + qo, D);
        int64_t n = visible(c, i);
        for (int64_t j = 0; j < n; j++) {
          const float *kj = kb + j * kstride, *vj = vb + j * kstride;
          float prob = expf(c->scale * zy_row_dot(c->isa, q, kj, D) - lse);
          float ds = prob * (zy_row_dot(c->isa, dout, vj, D) - delta);
          zy_row_axpy(c->isa, c->scale * ds, kj, dq, D);
          zy_row_axpy(c->isa, c->scale * ds, q, dkb + j * kstride, D);
          zy_row_axpy(c->isa, prob, dout, dvb + j * kstride, D);
        }
      }
    }
  }
}

void zy_op_attention_bw(const float *q, const float *k, const float *v, const float *out, const float *lse,
                        const float *dout, float *dq, float *dk, float *dv, int64_t b, int64_t tq, int64_t tk,
                        int64_t nh, int64_t nkv, int64_t d, float scale, int causal, int64_t cap) {
  if (zy_attention_bw_blocked(q, k, v, out, lse, dout, dq, dk, dv, b, tq, tk, nh, nkv, d, scale, causal, cap)) return;
  attn_ctx c = {.q = q, .k = k, .v = v, .out = out, .lse_in = lse, .dout = dout, .dq = dq, .dk = dk, .dv = dv,
                .b = b, .tq = tq, .tk = tk, .nh = nh, .nkv = nkv, .d = d, .cap = cap, .scale = scale,
                .causal = causal, .isa = zy_isa_level()};
  int64_t groups = b * nkv;
  zy_ops_for(groups, 1, groups * tq * tk * d, attn_bwd_task, &c);
}
