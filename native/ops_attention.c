/* Scaled-dot-product attention, forward and backward, with grouped-query heads and a causal mask that allows
 * a KV-cache offset (query i of this call sees keys [0, tk − tq + i]).
 * Dims: B batch, Tq queries, Tk keys, H heads, Hkv kv heads, D head dim, C kv capacity (positions per batch
 * entry in the k/v buffers). q, out, dOut [B, Tq, H, D]; k, v, dk, dv [B, C, Hkv, D]; lse [B, H, Tq].
 * Forward: flash-style online softmax per query row over blocks of 64 keys (scores never stored beyond a
 * block), writing lse; parallel over all (batch, head, query) rows. Backward: recomputes probabilities from
 * lse; parallel over (batch, kv head) so the heads sharing dk/dv rows run on one thread (no races).
 * Leaves out: bounds checks (the TS layer does them), dropout, ALiBi, sliding windows, arbitrary masks. */
#include <math.h>
#include "ops_common.h"
#include "ops_kernels.h"
#include "zy_pool.h"

#define ZY_KEY_BLOCK 64

typedef struct {
  const float *q, *k, *v, *out, *lse_in, *dout;
  float *o, *lse, *dq, *dk, *dv;
  int64_t b, tq, tk, nh, nkv, d, cap;
  float scale;
  int causal, isa;
} attn_ctx;

static inline int64_t visible(const attn_ctx *c, int64_t i) { return c->causal ? c->tk - c->tq + i + 1 : c->tk; }

static void attn_fwd_task(void *p, int64_t r0, int64_t r1, int t) {
  (void)t;
  attn_ctx *c = p;
  int64_t D = c->d, group = c->nh / c->nkv;
  float s[ZY_KEY_BLOCK];
  float acc[D > 0 ? D : 1];
  for (int64_t r = r0; r < r1; r++) { /* r = (bi·H + h)·Tq + i, which is also the lse index */
    int64_t i = r % c->tq, h = (r / c->tq) % c->nh, bi = r / (c->tq * c->nh), kvh = h / group;
    const float *q = c->q + ((bi * c->tq + i) * c->nh + h) * D;
    float *o = c->o + ((bi * c->tq + i) * c->nh + h) * D;
    const float *kb = c->k + (bi * c->cap * c->nkv + kvh) * D, *vb = c->v + (bi * c->cap * c->nkv + kvh) * D;
    int64_t kstride = c->nkv * D, n = visible(c, i);
    float m = -INFINITY, l = 0.0f;
    for (int64_t x = 0; x < D; x++) acc[x] = 0.0f;
    for (int64_t j0 = 0; j0 < n; j0 += ZY_KEY_BLOCK) {
      int64_t jn = n - j0 < ZY_KEY_BLOCK ? n - j0 : ZY_KEY_BLOCK;
      for (int64_t j = 0; j < jn; j++) s[j] = c->scale * zy_row_dot(c->isa, q, kb + (j0 + j) * kstride, D);
      float bm = zy_row_max(c->isa, s, jn), nm = bm > m ? bm : m;
      if (nm == -INFINITY) continue; /* every score so far is -inf: nothing to add */
      float corr = expf(m - nm);
      l = l * corr + zy_row_expsum(c->isa, s, s, jn, nm);
      if (corr != 1.0f) zy_row_scale(c->isa, corr, acc, D);
      for (int64_t j = 0; j < jn; j++) zy_row_axpy(c->isa, s[j], vb + (j0 + j) * kstride, acc, D);
      m = nm;
    }
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int64_t x = 0; x < D; x++) o[x] = acc[x] * inv;
    c->lse[r] = l > 0.0f ? m + logf(l) : -INFINITY;
  }
}

void zy_op_attention(const float *q, const float *k, const float *v, float *out, float *lse, int64_t b, int64_t tq,
                     int64_t tk, int64_t nh, int64_t nkv, int64_t d, float scale, int causal, int64_t cap) {
  attn_ctx c = {.q = q, .k = k, .v = v, .o = out, .lse = lse, .b = b, .tq = tq, .tk = tk, .nh = nh, .nkv = nkv,
                .d = d, .cap = cap, .scale = scale, .causal = causal, .isa = zy_isa_level()};
  int64_t rows = b * nh * tq;
  zy_ops_for(rows, 1, rows * tk * d, attn_fwd_task, &c);
}

void zy_op_attention_serial(const float *q, const float *k, const float *v, float *out, float *lse, int64_t b,
                            int64_t tq, int64_t tk, int64_t nh, int64_t nkv, int64_t d, float scale, int causal,
                            int64_t cap) {
  attn_ctx c = {.q = q, .k = k, .v = v, .o = out, .lse = lse, .b = b, .tq = tq, .tk = tk, .nh = nh, .nkv = nkv,
                .d = d, .cap = cap, .scale = scale, .causal = causal, .isa = zy_isa_level()};
  attn_fwd_task(&c, 0, b * nh * tq, 0);
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
  attn_ctx c = {.q = q, .k = k, .v = v, .out = out, .lse_in = lse, .dout = dout, .dq = dq, .dk = dk, .dv = dv,
                .b = b, .tq = tq, .tk = tk, .nh = nh, .nkv = nkv, .d = d, .cap = cap, .scale = scale,
                .causal = causal, .isa = zy_isa_level()};
  int64_t groups = b * nkv;
  zy_ops_for(groups, 1, groups * tq * tk * d, attn_bwd_task, &c);
}
