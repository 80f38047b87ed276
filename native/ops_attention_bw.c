/* Attention backward for training, AVX-512, head dims a multiple of 16 up to 128: the same sums as the row-at-a-time
 * backward of ops_attention.c (its generic path, which covers every other case), blocked over 16 keys. Per (batch,
 * kv head) — the task unit, so the heads sharing dk/dv rows run on one thread (no races) — this group's K and V
 * are copied transposed, 64 keys at a time ([D, 64], zero-padded); then per query row and block of 16 keys, the scores
 * q·k and dout·v of all 16 keys come from D broadcast FMAs each over the transposed rows, the probabilities
 * exp(scale·s − lse) and ds = p·(dp − delta) are one vector exp and two vector ops, and dq (in registers), dk and
 * dv take one broadcast FMA per 16 lanes of each key — for 4 query rows of a head at a time, so each dk/dv row is
 * read and written once per 4 rows.
 * Leaves out: f16 k/v (the backward is f32 only), other head dims and ISAs (generic path), dropout, masks. */
#include <immintrin.h>
#include <math.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"

#define ZV 16
#include "ops_simd.h"
#undef ZV

#define BW_KEYS 16
#define BW_MAX_NC 8
#define BW_QB 4 /* query rows per pass over a key block */
#define BW_CHUNK 64 /* keys per transposed chunk: 2 × D × 64 floats on the stack (64 KiB at D = 128) */

typedef struct {
  const float *q, *k, *v, *out, *lse, *dout;
  float *dq, *dk, *dv;
  int64_t b, tq, tk, nh, nkv, cap;
  float scale;
  int causal;
} bw_ctx;

/* One (batch, kv head) group with D = 16·NC, in chunks of BW_CHUNK keys transposed into stack buffers, BW_QB query
 * rows of a head at a time (a dk/dv row is read and written once for all of them; absent rows see no keys). */
static inline __attribute__((always_inline)) ZY_AVX512 void bw_group(const bw_ctx *c, int64_t g, const int NC) {
  const int64_t D = 16 * NC, kstride = c->nkv * D;
  const int64_t bi = g / c->nkv, kvh = g % c->nkv, group = c->nh / c->nkv;
  const int64_t at = (bi * c->cap * c->nkv + kvh) * D;
  const float *kb = c->k + at, *vb = c->v + at;
  float *dkb = c->dk + at, *dvb = c->dv + at;
  float kt[16 * NC * BW_CHUNK] __attribute__((aligned(64))), vt[16 * NC * BW_CHUNK] __attribute__((aligned(64)));
  float pj[BW_QB][BW_KEYS] __attribute__((aligned(64))), dsj[BW_QB][BW_KEYS] __attribute__((aligned(64)));
  static const float zero_row[16 * BW_MAX_NC] __attribute__((aligned(64))) = {0};
  const __m512 vscale = _mm512_set1_ps(c->scale);
  for (int64_t c0 = 0; c0 < c->tk; c0 += BW_CHUNK) {
    const int64_t cn = c->tk - c0 < BW_CHUNK ? c->tk - c0 : BW_CHUNK;
    for (int64_t j = 0; j < BW_CHUNK; j++) /* [D, BW_CHUNK], zero past the chunk's keys */
      for (int64_t d = 0; d < D; d++) {
        kt[d * BW_CHUNK + j] = j < cn ? kb[(c0 + j) * kstride + d] : 0.0f;
        vt[d * BW_CHUNK + j] = j < cn ? vb[(c0 + j) * kstride + d] : 0.0f;
      }
    for (int64_t h = kvh * group; h < (kvh + 1) * group; h++) {
      for (int64_t i0 = 0; i0 < c->tq; i0 += BW_QB) {
        const float *q[BW_QB], *dout[BW_QB];
        int64_t n[BW_QB], nmax = 0;
        __m512 qv[BW_QB][BW_MAX_NC], dov[BW_QB][BW_MAX_NC], dqa[BW_QB][BW_MAX_NC], delta[BW_QB], lse[BW_QB];
        for (int r = 0; r < BW_QB; r++) {
          const int64_t i = i0 + r, qo = ((bi * c->tq + i) * c->nh + h) * D;
          const int here = i < c->tq;
          n[r] = !here ? 0 : c->causal ? c->tk - c->tq + i + 1 : c->tk; /* keys [0, n) visible */
          if (n[r] > nmax) nmax = n[r];
          q[r] = here ? c->q + qo : zero_row;
          dout[r] = here ? c->dout + qo : zero_row;
          const float *o = here ? c->out + qo : zero_row;
          __m512 dl = _mm512_setzero_ps();
          for (int x = 0; x < NC; x++) {
            qv[r][x] = _mm512_loadu_ps(q[r] + 16 * x);
            dov[r][x] = _mm512_loadu_ps(dout[r] + 16 * x);
            dqa[r][x] = _mm512_setzero_ps();
            dl = _mm512_fmadd_ps(dov[r][x], _mm512_loadu_ps(o + 16 * x), dl);
          }
          delta[r] = _mm512_set1_ps(_mm512_reduce_add_ps(dl));
          lse[r] = _mm512_set1_ps(here ? c->lse[(bi * c->nh + h) * c->tq + i] : 0.0f);
        }
        const int64_t hi = nmax < c0 + cn ? nmax : c0 + cn;
        for (int64_t j0 = c0; j0 < hi; j0 += BW_KEYS) {
          const float *ktb = kt + (j0 - c0), *vtb = vt + (j0 - c0);
          int kmax = 0;
          for (int r = 0; r < BW_QB; r++) {
            const int64_t left = n[r] - j0;
            const int kn = left <= 0 ? 0 : left < BW_KEYS ? (int)left : BW_KEYS;
            if (kn > kmax) kmax = kn;
            const __mmask16 live = kn >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << kn) - 1);
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, p0 = s0, p1 = s0;
            for (int64_t d = 0; d < D; d += 2) {
              s0 = _mm512_fmadd_ps(_mm512_set1_ps(q[r][d]), _mm512_load_ps(ktb + d * BW_CHUNK), s0);
              s1 = _mm512_fmadd_ps(_mm512_set1_ps(q[r][d + 1]), _mm512_load_ps(ktb + (d + 1) * BW_CHUNK), s1);
              p0 = _mm512_fmadd_ps(_mm512_set1_ps(dout[r][d]), _mm512_load_ps(vtb + d * BW_CHUNK), p0);
              p1 = _mm512_fmadd_ps(_mm512_set1_ps(dout[r][d + 1]), _mm512_load_ps(vtb + (d + 1) * BW_CHUNK), p1);
            }
            const __m512 s = _mm512_add_ps(s0, s1), dp = _mm512_add_ps(p0, p1);
            const __m512 p = _mm512_maskz_mov_ps(live, vexp_avx512(_mm512_fmsub_ps(vscale, s, lse[r])));
            _mm512_store_ps(pj[r], p);
            _mm512_store_ps(dsj[r], _mm512_mul_ps(vscale, _mm512_mul_ps(p, _mm512_sub_ps(dp, delta[r]))));
          }
          for (int j = 0; j < kmax; j++) {
            const int64_t kr = (j0 + j) * kstride;
            for (int x = 0; x < NC; x++) {
              const __m512 kx = _mm512_loadu_ps(kb + kr + 16 * x);
              __m512 dk = _mm512_loadu_ps(dkb + kr + 16 * x), dv = _mm512_loadu_ps(dvb + kr + 16 * x);
              for (int r = 0; r < BW_QB; r++) {
                const __m512 bds = _mm512_set1_ps(dsj[r][j]);
                dqa[r][x] = _mm512_fmadd_ps(bds, kx, dqa[r][x]);
                dk = _mm512_fmadd_ps(bds, qv[r][x], dk);
                dv = _mm512_fmadd_ps(_mm512_set1_ps(pj[r][j]), dov[r][x], dv);
              }
              _mm512_storeu_ps(dkb + kr + 16 * x, dk);
              _mm512_storeu_ps(dvb + kr + 16 * x, dv);
            }
          }
        }
        for (int r = 0; r < BW_QB && i0 + r < c->tq; r++) {
          float *dq = c->dq + ((bi * c->tq + i0 + r) * c->nh + h) * D;
          for (int x = 0; x < NC; x++) _mm512_storeu_ps(dq + 16 * x, _mm512_add_ps(_mm512_loadu_ps(dq + 16 * x), dqa[r][x]));
        }
      }
    }
  }
}

#define BW_GROUP_FN(NC) \
  static ZY_AVX512 void bw_group_##NC(const bw_ctx *c, int64_t g) { bw_group(c, g, NC); }
BW_GROUP_FN(1) BW_GROUP_FN(2) BW_GROUP_FN(3) BW_GROUP_FN(4) BW_GROUP_FN(5) BW_GROUP_FN(6) BW_GROUP_FN(7) BW_GROUP_FN(8)
typedef void (*bw_group_fn)(const bw_ctx *, int64_t);
static const bw_group_fn bw_groups[BW_MAX_NC + 1] = {0, bw_group_1, bw_group_2, bw_group_3, bw_group_4,
                                                     bw_group_5, bw_group_6, bw_group_7, bw_group_8};

typedef struct {
  const bw_ctx *c;
  bw_group_fn fn;
} bw_task;

static void bw_task_fn(void *p, int64_t g0, int64_t g1, int t) {
  (void)t;
  const bw_task *task = p;
  for (int64_t g = g0; g < g1; g++) task->fn(task->c, g);
}

int zy_attention_bw_blocked(const float *q, const float *k, const float *v, const float *out, const float *lse,
                            const float *dout, float *dq, float *dk, float *dv, int64_t b, int64_t tq, int64_t tk,
                            int64_t nh, int64_t nkv, int64_t d, float scale, int causal, int64_t cap) {
  if (zy_isa_level() < 2 || d <= 0 || d % 16 != 0 || d / 16 > BW_MAX_NC) return 0;
  bw_ctx c = {q, k, v, out, lse, dout, dq, dk, dv, b, tq, tk, nh, nkv, cap, scale, causal};
  bw_task task = {&c, bw_groups[d / 16]};
  const int64_t groups = b * nkv;
  zy_ops_for(groups, 1, groups * tq * tk * d, bw_task_fn, &task);
  return 1;
}
