/* Scaled-dot-product attention, forward and backward, with grouped-query heads and a causal mask that allows
 * a KV-cache offset (query i of this call sees keys [0, tk − tq + i]).
 * Dims: B batch, Tq queries, Tk keys, H heads, Hkv kv heads, D head dim, C kv capacity (positions per batch
 * entry in the k/v buffers). q, out, dOut [B, Tq, H, D]; k, v, dk, dv [B, C, Hkv, D]; lse [B, H, Tq].
 * Forward: flash-style online softmax per query row over blocks of 64 keys (scores never stored beyond a
 * block), writing lse; parallel over all (batch, head, query) rows. With AVX-512 and D = 32, 64 or 128 a row scores 16
 * keys at a time (one transposing reduction instead of 16 horizontal sums) and keeps its output in registers; the
 * query heads of one kv head in a decode step (tq = 1), and up to 8 consecutive query rows of one head in a prefill
 * (tq > 1, each row with its own causal key count), run together, reading each block of the keys once.
 * zy_op_attention_decode runs the same rows for several cached sequences in one parallel call. The forward also
 * reads an f16 cache (k, v as IEEE half bits, widened exactly as they are loaded). Backward (f32 only): recomputes probabilities from
 * lse; parallel over (batch, kv head) so the heads sharing dk/dv rows run on one thread (no races); AVX-512 with
 * d a multiple of 16 takes the blocked form of ops_attention_bw.c, the rest the row-at-a-time one here.
 * Leaves out: bounds checks (the TS layer does them), dropout, ALiBi, sliding windows, arbitrary masks. */
#include <immintrin.h>
#include <math.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_half.h"
#include "zy_pool.h"

#define ZY_KEY_BLOCK 64

typedef struct {
  const float *q, *k, *v, *out, *lse_in, *dout;
  const void *kf, *vf; /* forward: k, v as f32 or f16 (kv_f16) */
  float *o, *lse, *dq, *dk, *dv;
  int64_t b, tq, tk, nh, nkv, d, cap;
  float scale;
  int causal, isa, kv_f16;
} attn_ctx;

static inline int64_t visible(const attn_ctx *c, int64_t i) { return c->causal ? c->tk - c->tq + i + 1 : c->tk; }

/* Row `at` (an element offset) of an f32 cache, or of an f16 one decoded into tmp [D] (exactly: every f16 is an f32). */
static inline const float *kv_row(const void *base, const float *f32, int64_t at, int64_t D, float *tmp, int kv_f16) {
  if (!kv_f16) return f32 + at;
  const uint16_t *h = (const uint16_t *)base + at;
  for (int64_t x = 0; x < D; x++) tmp[x] = zy_f16_to_f32(h[x]);
  return tmp;
}

/* One query row over keys [0, n): online softmax over blocks of ZY_KEY_BLOCK keys; o [D] = softmax(q·kᵀ·scale)·v,
 * returns lse. The portable / AVX2 form: one row primitive per key. */
static float attend_row_generic(int isa, const float *q, const void *kbase, const void *vbase, int64_t kstride,
                                int64_t n, int64_t D, float scale, float *o, int kv_f16) {
  float s[ZY_KEY_BLOCK];
  float acc[D > 0 ? D : 1], row[D > 0 ? D : 1];
  const float *kb = kbase, *vb = vbase;
  float m = -INFINITY, l = 0.0f;
  for (int64_t x = 0; x < D; x++) acc[x] = 0.0f;
  for (int64_t j0 = 0; j0 < n; j0 += ZY_KEY_BLOCK) {
    int64_t jn = n - j0 < ZY_KEY_BLOCK ? n - j0 : ZY_KEY_BLOCK;
    for (int64_t j = 0; j < jn; j++) s[j] = scale * zy_row_dot(isa, q, kv_row(kbase, kb, (j0 + j) * kstride, D, row, kv_f16), D);
    float bm = zy_row_max(isa, s, jn), nm = bm > m ? bm : m;
    if (nm == -INFINITY) continue; /* every score so far is -inf: nothing to add */
    float corr = expf(m - nm);
    l = l * corr + zy_row_expsum(isa, s, s, jn, nm);
    if (corr != 1.0f) zy_row_scale(isa, corr, acc, D);
    for (int64_t j = 0; j < jn; j++) zy_row_axpy(isa, s[j], kv_row(vbase, vb, (j0 + j) * kstride, D, row, kv_f16), acc, D);
    m = nm;
  }
  float inv = l > 0.0f ? 1.0f / l : 0.0f;
  for (int64_t x = 0; x < D; x++) o[x] = acc[x] * inv;
  return l > 0.0f ? m + logf(l) : -INFINITY;
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

/* 16 cache entries from element `at`: f32 loaded, or f16 widened (exact). */
static inline __attribute__((always_inline)) ZY_AVX512 __m512 kv_load16(const void *base, int64_t at, const int F16) {
  if (F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)base + at)));
  return _mm512_loadu_ps((const float *)base + at);
}

/* The AVX-512 form for D = 16·NC, for G ≤ ZY_MAX_GROUP query rows that share their keys (grouped-query heads of one
 * decode step): per block of 64 keys, each row in turn scores the block 16 keys at a time (per key two accumulators
 * over D, as row_dot does, then one transposing reduction), updates its online softmax and adds the block's values
 * into its output, held in NC registers while it runs. The block's key and value rows (16 KB at D = 64) come from
 * memory for the first row and from L1 for the others, so a group reads its cache once; each row's arithmetic is that
 * of a group of one, so the bits do not depend on G. Rows G apart are q + g·qstride, o + g·ostride, lse[g]; row g
 * sees keys [0, n + g·ninc) (ninc 0: grouped heads; 1: consecutive causal queries of one head). */
#define ZY_MAX_GROUP 8
static inline __attribute__((always_inline)) ZY_AVX512 void attend_rows_avx512_nc(
    const float *q, int64_t qstride, int G, const void *kb, const void *vb, int64_t kstride, int64_t n, int64_t ninc,
    float scale, float *o, int64_t ostride, float *lse, const int NC, const int F16) {
  const int64_t esize = F16 ? 2 : 4, lines = (NC * 16 * esize + 63) / 64; /* cache lines per row */
  float s[ZY_KEY_BLOCK] __attribute__((aligned(64)));
  float accm[ZY_MAX_GROUP][128] __attribute__((aligned(64)));
  float mg[ZY_MAX_GROUP], lg[ZY_MAX_GROUP];
  for (int g = 0; g < G; g++) {
    mg[g] = -INFINITY, lg[g] = 0.0f;
    for (int c = 0; c < NC; c++) _mm512_store_ps(accm[g] + 16 * c, _mm512_setzero_ps());
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  const int64_t n_all = n + (G - 1) * ninc;
  for (int64_t j0 = 0; j0 < n_all; j0 += ZY_KEY_BLOCK) {
    for (int g = 0; g < G; g++) {
      const int64_t ng = n + g * ninc;
      if (j0 >= ng) continue; /* this row's keys ended in an earlier block */
      const int64_t jn = ng - j0 < ZY_KEY_BLOCK ? ng - j0 : ZY_KEY_BLOCK;
      __m512 qv[8], acc[8];
      for (int c = 0; c < NC; c++) qv[c] = _mm512_loadu_ps(q + g * qstride + 16 * c);
      for (int64_t k0 = 0; k0 < jn; k0 += 16) {
        __m512 d[16];
        int64_t kn = jn - k0 < 16 ? jn - k0 : 16;
        for (int64_t j = 0; j < 16; j++) {
          if (j >= kn) { d[j] = _mm512_setzero_ps(); continue; }
          const int64_t kr = (j0 + k0 + j) * kstride;
          if (g == 0) {
            const char *ahead = (const char *)kb + (kr + 16 * kstride) * esize;
            for (int64_t c = 0; c < lines; c++) _mm_prefetch(ahead + 64 * c, _MM_HINT_T0);
          }
          __m512 a0 = _mm512_setzero_ps(), a1 = a0;
          int c = 0;
          for (; c + 2 <= NC; c += 2) {
            a0 = _mm512_fmadd_ps(qv[c], kv_load16(kb, kr + 16 * c, F16), a0);
            a1 = _mm512_fmadd_ps(qv[c + 1], kv_load16(kb, kr + 16 * c + 16, F16), a1);
          }
          if (c < NC) a0 = _mm512_fmadd_ps(qv[c], kv_load16(kb, kr + 16 * c, F16), a0);
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
      for (int64_t j = 0; j < jn; j++) {
        const int64_t vr = (j0 + j) * kstride;
        if (g == 0) {
          const char *ahead = (const char *)vb + (vr + 8 * kstride) * esize;
          for (int64_t c = 0; c < lines; c++) _mm_prefetch(ahead + 64 * c, _MM_HINT_T0);
        }
        __m512 p = _mm512_set1_ps(s[j]);
        for (int c = 0; c < NC; c++) acc[c] = _mm512_fmadd_ps(p, kv_load16(vb, vr + 16 * c, F16), acc[c]);
      }
      for (int c = 0; c < NC; c++) _mm512_store_ps(accm[g] + 16 * c, acc[c]);
      mg[g] = nm;
    }
  }
  for (int g = 0; g < G; g++) {
    float l = lg[g], inv = l > 0.0f ? 1.0f / l : 0.0f;
    __m512 vinv = _mm512_set1_ps(inv);
    for (int c = 0; c < NC; c++) _mm512_storeu_ps(o + g * ostride + 16 * c, _mm512_mul_ps(_mm512_load_ps(accm[g] + 16 * c), vinv));
    lse[g] = l > 0.0f ? mg[g] + logf(l) : -INFINITY;
  }
}

#define ROWS_KERNEL(NAME, NC, F16)                                                                                  \
  static ZY_AVX512 void NAME(const float *q, int64_t qs, int G, const void *kb, const void *vb, int64_t ks, int64_t n, \
                             int64_t ninc, float sc, float *o, int64_t os, float *lse) {                            \
    attend_rows_avx512_nc(q, qs, G, kb, vb, ks, n, ninc, sc, o, os, lse, NC, F16);                                    \
  }
ROWS_KERNEL(attend_rows_d32, 2, 0)
ROWS_KERNEL(attend_rows_d64, 4, 0)
ROWS_KERNEL(attend_rows_d128, 8, 0)
ROWS_KERNEL(attend_rows_d32_f16, 2, 1)
ROWS_KERNEL(attend_rows_d64_f16, 4, 1)
ROWS_KERNEL(attend_rows_d128_f16, 8, 1)

/* The kernel every forward caller uses (so the decode op and the tensor path give the same bits): G query rows
 * (q + g·qstride → o + g·ostride, lse[g]) over keys [0, n + g·ninc). k and v are f32, or f16 (kv_f16), whose rows
 * are decoded exactly: an f16 cache gives the bits of an f32 one holding the same values. */
static void attend_rows(int isa, const float *q, int64_t qstride, int64_t G, const void *kb, const void *vb,
                        int64_t kstride, int64_t n, int64_t ninc, int64_t D, float scale, float *o, int64_t ostride,
                        float *lse, int kv_f16) {
  if (isa >= 2 && (D == 32 || D == 64 || D == 128)) {
    void (*fn)(const float *, int64_t, int, const void *, const void *, int64_t, int64_t, int64_t, float, float *, int64_t,
               float *) =
        kv_f16 ? (D == 64 ? attend_rows_d64_f16 : D == 128 ? attend_rows_d128_f16 : attend_rows_d32_f16)
               : (D == 64 ? attend_rows_d64 : D == 128 ? attend_rows_d128 : attend_rows_d32);
    for (int64_t g0 = 0; g0 < G; g0 += ZY_MAX_GROUP) {
      int gn = (int)(G - g0 < ZY_MAX_GROUP ? G - g0 : ZY_MAX_GROUP);
      fn(q + g0 * qstride, qstride, gn, kb, vb, kstride, n + g0 * ninc, ninc, scale, o + g0 * ostride, ostride, lse + g0);
    }
    return;
  }
  for (int64_t g = 0; g < G; g++)
    lse[g] = attend_row_generic(isa, q + g * qstride, kb, vb, kstride, n + g * ninc, D, scale, o + g * ostride, kv_f16);
}

/* Consecutive query rows of one head that a prefill task runs together (their key blocks read once). */
#define ZY_QUERY_BLOCK ZY_MAX_GROUP

/* tq > 1: one task item per block of ZY_QUERY_BLOCK consecutive query rows of one (batch, head): item r = (bi·H + h)·
 * blocks + blk, rows i0 … i0 + G − 1 (lse index (bi·H + h)·Tq + i). tq = 1: one per (batch, kv head) group, whose query
 * heads are consecutive rows sharing their keys. */
static void attn_fwd_task(void *p, int64_t r0, int64_t r1, int t) {
  (void)t;
  attn_ctx *c = p;
  const int64_t D = c->d, group = c->nh / c->nkv, blocks = (c->tq + ZY_QUERY_BLOCK - 1) / ZY_QUERY_BLOCK;
  for (int64_t r = r0; r < r1; r++) {
    int64_t bh, i, G, qstride;
    if (c->tq == 1) { /* rows r·group … of the single query position: heads kvh·group … */
      bh = r * group, i = 0, G = group, qstride = D;
    } else {
      bh = r / blocks, i = (r % blocks) * ZY_QUERY_BLOCK, G = c->tq - i < ZY_QUERY_BLOCK ? c->tq - i : ZY_QUERY_BLOCK;
      qstride = c->nh * D;
    }
    const int64_t h = bh % c->nh, bi = bh / c->nh, kvh = h / group, row = bh * c->tq + i;
    const float *q = c->q + ((bi * c->tq + i) * c->nh + h) * D;
    float *o = c->o + ((bi * c->tq + i) * c->nh + h) * D;
    const int64_t at = (bi * c->cap * c->nkv + kvh) * D;
    const void *kb = c->kv_f16 ? (const void *)((const uint16_t *)c->kf + at) : (const void *)((const float *)c->kf + at);
    const void *vb = c->kv_f16 ? (const void *)((const uint16_t *)c->vf + at) : (const void *)((const float *)c->vf + at);
    attend_rows(c->isa, q, qstride, G, kb, vb, c->nkv * D, visible(c, i), c->tq > 1 && c->causal ? 1 : 0, D, c->scale, o,
                qstride, c->lse + row, c->kv_f16);
  }
}

void zy_op_attention(const float *q, const void *k, const void *v, int kv_f16, float *out, float *lse, int64_t b,
                     int64_t tq, int64_t tk, int64_t nh, int64_t nkv, int64_t d, float scale, int causal, int64_t cap) {
  attn_ctx c = {.q = q, .kf = k, .vf = v, .kv_f16 = kv_f16, .o = out, .lse = lse, .b = b, .tq = tq, .tk = tk, .nh = nh, .nkv = nkv,
                .d = d, .cap = cap, .scale = scale, .causal = causal, .isa = zy_isa_level()};
  int64_t rows = b * nh * tq, items = tq == 1 ? b * nkv : b * nh * ((tq + ZY_QUERY_BLOCK - 1) / ZY_QUERY_BLOCK);
  zy_ops_for(items, 1, rows * tk * d, attn_fwd_task, &c);
}

typedef struct {
  const float *q;
  const void *const *k, *const *v;
  const int64_t *n_keys;
  float *o, *lse;
  int64_t nh, nkv, d;
  float scale;
  int isa, kv_f16;
} decode_ctx;

static void attn_decode_task(void *p, int64_t g0, int64_t g1, int t) {
  (void)t;
  decode_ctx *c = p;
  const int64_t D = c->d, group = c->nh / c->nkv;
  for (int64_t g = g0; g < g1; g++) { /* g = i·Hkv + kvh: rows i·H + kvh·group … + group − 1 */
    int64_t i = g / c->nkv, kvh = g % c->nkv, r = i * c->nh + kvh * group;
    const size_t at = (size_t)(kvh * D) * (c->kv_f16 ? 2 : 4);
    attend_rows(c->isa, c->q + r * D, D, group, (const char *)c->k[i] + at, (const char *)c->v[i] + at, c->nkv * D,
                c->n_keys[i], 0, D, c->scale, c->o + r * D, D, c->lse + r, c->kv_f16);
  }
}

void zy_op_attention_decode(int64_t m, const float *q, const void *const *k_cache, const void *const *v_cache,
                            int kv_f16, const int64_t *n_keys, float *out, float *lse, int64_t nh, int64_t nkv,
                            int64_t d, float scale) {
  decode_ctx c = {q, k_cache, v_cache, n_keys, out, lse, nh, nkv, d, scale, zy_isa_level(), kv_f16};
  int64_t work = 0;
  for (int64_t i = 0; i < m; i++) work += n_keys[i] * nh * d;
  zy_ops_for(m * nkv, 1, work, attn_decode_task, &c);
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
