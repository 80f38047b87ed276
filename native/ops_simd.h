/* Vector template for the row primitives and vectorised unary math of ops_vecmath.c. Included once with
 * ZV = 16 (AVX-512, zmm) and once with ZV = 8 (AVX2+FMA, ymm); every name gets the ISA suffix through VSFX.
 * exp: Cody–Waite range reduction to r in [-ln2/2, ln2/2], degree-7 Taylor polynomial (error < 1e-8 relative
 * before rounding), scaled by 2^n. tanh: odd Taylor series to x^15 below |x| = 0.4, (1 − e)/(1 + e) with
 * e = exp(−2|x|) above. Together ~2 ulp, i.e. ~2e-7 relative.
 * Leaves out: scalar tails beyond masked loads, denormal outputs of exp on AVX2 (flushed to 0 below -87.3). */
#include <immintrin.h>

#if ZV == 16
#define VT __m512
#define VN 16
#define VSFX(name) name##_avx512
#define VTGT ZY_AVX512
#define vset1 _mm512_set1_ps
#define vloadu _mm512_loadu_ps
#define vstoreu _mm512_storeu_ps
#define vadd _mm512_add_ps
#define vsub _mm512_sub_ps
#define vmul _mm512_mul_ps
#define vdiv _mm512_div_ps
#define vfma _mm512_fmadd_ps
#define vmax _mm512_max_ps
#define vmin _mm512_min_ps
#define vand _mm512_and_ps
#define vor _mm512_or_ps
#define vxor _mm512_xor_ps
static inline VTGT VT VSFX(vloadn)(const float *p, int64_t n, float fill) {
  return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << n) - 1), p);
}
static inline VTGT void VSFX(vstoren)(float *p, VT v, int64_t n) { _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), v); }
static inline VTGT float VSFX(vhsum)(VT v) { return _mm512_reduce_add_ps(v); }
static inline VTGT float VSFX(vhmax)(VT v) { return _mm512_reduce_max_ps(v); }
/* a < b ? x : y */
static inline VTGT VT VSFX(vsel_lt)(VT a, VT b, VT x, VT y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x); }
static inline VTGT VT VSFX(vexp)(VT x) {
  /* max(c, x) / min(c, x) return x when x is NaN, so NaN flows through; scalef makes ±inf and 0 at the ends. */
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  VT n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  VT r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  VT p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}
#elif ZV == 8
#define VT __m256
#define VN 8
#define VSFX(name) name##_avx2
#define VTGT ZY_AVX2
#define vset1 _mm256_set1_ps
#define vloadu _mm256_loadu_ps
#define vstoreu _mm256_storeu_ps
#define vadd _mm256_add_ps
#define vsub _mm256_sub_ps
#define vmul _mm256_mul_ps
#define vdiv _mm256_div_ps
#define vfma _mm256_fmadd_ps
#define vmax _mm256_max_ps
#define vmin _mm256_min_ps
#define vand _mm256_and_ps
#define vor _mm256_or_ps
#define vxor _mm256_xor_ps
static inline VTGT __m256i VSFX(tailmask)(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline VTGT VT VSFX(vloadn)(const float *p, int64_t n, float fill) {
  __m256i m = VSFX(tailmask)(n);
  return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
static inline VTGT void VSFX(vstoren)(float *p, VT v, int64_t n) { _mm256_maskstore_ps(p, VSFX(tailmask)(n), v); }
static inline VTGT float VSFX(vhsum)(VT v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline VTGT float VSFX(vhmax)(VT v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline VTGT VT VSFX(vsel_lt)(VT a, VT b, VT x, VT y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
static inline VTGT VT VSFX(vexp)(VT x0) {
  VT x = _mm256_min_ps(_mm256_set1_ps(88.72283f), _mm256_max_ps(_mm256_set1_ps(-87.33654f), x0));
  VT n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  VT r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  VT p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  /* 2^n through the exponent field; n = 128 gives the bits of +inf, which is what x ≥ 88.72 should give. */
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  VT y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x0, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x0, _mm256_set1_ps(88.72283f), _CMP_GT_OQ));
  return _mm256_blendv_ps(y, x0, _mm256_cmp_ps(x0, x0, _CMP_UNORD_Q));
}
#else
#error "ops_simd.h: define ZV as 16 or 8"
#endif

#define vloadn VSFX(vloadn)
#define vstoren VSFX(vstoren)
#define vhsum VSFX(vhsum)
#define vhmax VSFX(vhmax)
#define vsel_lt VSFX(vsel_lt)
#define vexp VSFX(vexp)

/* tanh with the sign of x: odd series below 0.4, (1 − e)/(1 + e), e = exp(−2|x|), above. */
static inline VTGT VT VSFX(vtanh)(VT x) {
  VT sign = vand(x, vset1(-0.0f));
  VT a = vxor(x, sign);
  VT e = vexp(vmul(a, vset1(-2.0f)));
  VT big = vdiv(vsub(vset1(1.0f), e), vadd(vset1(1.0f), e));
  VT z = vmul(a, a);
  VT p = vset1(-929569.0f / 638512875.0f);
  p = vfma(p, z, vset1(21844.0f / 6081075.0f));
  p = vfma(p, z, vset1(-1382.0f / 155925.0f));
  p = vfma(p, z, vset1(62.0f / 2835.0f));
  p = vfma(p, z, vset1(-17.0f / 315.0f));
  p = vfma(p, z, vset1(2.0f / 15.0f));
  p = vfma(p, z, vset1(-1.0f / 3.0f));
  VT small = vfma(vmul(p, z), a, a);
  return vor(vsel_lt(a, vset1(0.4f), small, big), sign);
}
#define vtanh VSFX(vtanh)

static inline VTGT VT VSFX(vsigmoid)(VT x) {
  return vdiv(vset1(1.0f), vadd(vset1(1.0f), vexp(vxor(x, vset1(-0.0f)))));
}
#define vsigmoid VSFX(vsigmoid)

/* Φ(x), the standard normal CDF, = ½·erfc(−x/√2): erfc(a) for a = |x|/√2 ≥ 0 by the Chebyshev fit of Numerical
 * Recipes' erfcc (fractional error < 1.2e-7 everywhere, so the tail stays accurate too), and Φ(x) = 1 − ½·erfc(a)
 * for x ≥ 0 (no cancellation: ½·erfc(a) ≤ ½). */
static inline VTGT VT VSFX(vphi)(VT x) {
  VT ax = vmul(vxor(x, vand(x, vset1(-0.0f))), vset1(0.70710678118654752f)); /* |x|/√2: the sign bit cleared */
  VT t = vdiv(vset1(1.0f), vfma(vset1(0.5f), ax, vset1(1.0f)));
  VT p = vset1(0.17087277f);
  p = vfma(p, t, vset1(-0.82215223f));
  p = vfma(p, t, vset1(1.48851587f));
  p = vfma(p, t, vset1(-1.13520398f));
  p = vfma(p, t, vset1(0.27886807f));
  p = vfma(p, t, vset1(-0.18628806f));
  p = vfma(p, t, vset1(0.09678418f));
  p = vfma(p, t, vset1(0.37409196f));
  p = vfma(p, t, vset1(1.00002368f));
  p = vfma(p, t, vset1(-1.26551223f));
  VT half_erfc = vmul(vmul(vset1(0.5f), t), vexp(vsub(p, vmul(ax, ax))));
  return vsel_lt(x, vset1(0.0f), half_erfc, vsub(vset1(1.0f), half_erfc));
}
#define vphi VSFX(vphi)

/* f(x) for the vectorised unary ops. */
static inline VTGT VT VSFX(vunary)(int op, VT x) {
  switch (op) {
    case ZY_EXP: return vexp(x);
    case ZY_TANH: return vtanh(x);
    case ZY_SIGMOID: return vsigmoid(x);
    case ZY_SILU: return vmul(x, vsigmoid(x));
    case ZY_GELU_ERF: return vmul(x, vphi(x));
    default: { /* ZY_GELU_TANH: x·sigmoid(2u), u = √(2/π)(x + c·x³), which is 0.5·x·(1 + tanh u) without cancellation */
      VT u = vmul(vset1(2.0f * ZY_SQRT_2_OVER_PI), vfma(vmul(vset1(ZY_GELU_C), vmul(x, x)), x, x));
      return vmul(x, vsigmoid(u));
    }
  }
}

/* sigmoid(z) and 1 − sigmoid(z) without cancellation: with e = exp(−|z|) ≤ 1, one is 1/(1 + e), the other e/(1 + e). */
static inline VTGT void VSFX(vsig2)(VT z, VT *s, VT *oms) {
  VT e = vexp(vor(z, vset1(-0.0f))); /* setting the sign bit gives −|z| */
  VT r = vdiv(vset1(1.0f), vadd(vset1(1.0f), e)), pe = vmul(e, r);
  *s = vsel_lt(z, vset1(0.0f), pe, r);
  *oms = vsel_lt(z, vset1(0.0f), r, pe);
}
#define vsig2 VSFX(vsig2)

/* f'(x) for the vectorised unary ops, each written so that no 1 − (something near 1) cancels. */
static inline VTGT VT VSFX(vunary_grad)(int op, VT x) {
  VT one = vset1(1.0f), s, oms;
  switch (op) {
    case ZY_EXP: return vexp(x);
    case ZY_TANH: { /* 1 − tanh² = 4e/(1 + e)², e = exp(−2|x|) */
      VT a = vor(x, vset1(-0.0f));
      VT e = vexp(vadd(a, a)), d = vadd(one, e);
      return vdiv(vmul(vset1(4.0f), e), vmul(d, d));
    }
    case ZY_SIGMOID: vsig2(x, &s, &oms); return vmul(s, oms);
    case ZY_SILU: vsig2(x, &s, &oms); return vmul(s, vfma(x, oms, one));
    case ZY_GELU_ERF: /* Φ(x) + x·φ(x), φ(x) = exp(−x²/2)/√(2π) */
      return vfma(vmul(x, vset1(0.39894228040143268f)), vexp(vmul(vmul(x, x), vset1(-0.5f))), vphi(x));
    default: { /* gelu_tanh: s + 2·x·s·(1 − s)·u', s = sigmoid(2u), u' = √(2/π)(1 + 3c·x²) */
      VT x2 = vmul(x, x);
      VT u2 = vmul(vset1(2.0f * ZY_SQRT_2_OVER_PI), vfma(vmul(vset1(ZY_GELU_C), x2), x, x));
      vsig2(u2, &s, &oms);
      VT du = vmul(vset1(2.0f * ZY_SQRT_2_OVER_PI), vfma(vset1(3.0f * ZY_GELU_C), x2, one));
      return vfma(vmul(x, vmul(s, oms)), du, s);
    }
  }
}

static VTGT int VSFX(unary_vec)(int op, const float *x, float *y, int64_t n) {
  if (op != ZY_EXP && op != ZY_TANH && op != ZY_SIGMOID && op != ZY_SILU && op != ZY_GELU_TANH && op != ZY_GELU_ERF) return 0;
  int64_t i = 0;
  for (; i + VN <= n; i += VN) vstoreu(y + i, VSFX(vunary)(op, vloadu(x + i)));
  if (i < n) vstoren(y + i, VSFX(vunary)(op, vloadn(x + i, n - i, 0.0f)), n - i);
  return 1;
}

static VTGT int VSFX(unary_bw_vec)(int op, const float *x, const float *dy, float *dx, int64_t n, int accumulate) {
  if (op != ZY_EXP && op != ZY_TANH && op != ZY_SIGMOID && op != ZY_SILU && op != ZY_GELU_TANH && op != ZY_GELU_ERF) return 0;
  int64_t i = 0;
  for (; i < n; i += VN) {
    int64_t m = n - i < VN ? n - i : VN;
    VT g = vmul(vloadn(dy + i, m, 0.0f), VSFX(vunary_grad)(op, vloadn(x + i, m, 0.0f)));
    if (accumulate) g = vadd(g, vloadn(dx + i, m, 0.0f));
    vstoren(dx + i, g, m);
  }
  return 1;
}

static VTGT void VSFX(swiglu_vec)(const float *g, const float *u, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i += VN) {
    int64_t m = n - i < VN ? n - i : VN;
    VT x = vloadn(g + i, m, 0.0f);
    vstoren(out + i, vmul(vmul(x, vsigmoid(x)), vloadn(u + i, m, 0.0f)), m);
  }
}

static VTGT void VSFX(swiglu_bw_vec)(const float *g, const float *u, const float *dout, float *dg, float *du, int64_t n) {
  VT one = vset1(1.0f);
  for (int64_t i = 0; i < n; i += VN) {
    int64_t m = n - i < VN ? n - i : VN;
    VT x = vloadn(g + i, m, 0.0f), d = vloadn(dout + i, m, 0.0f), s, oms;
    vsig2(x, &s, &oms);
    VT dsilu = vmul(s, vfma(x, oms, one));
    vstoren(dg + i, vfma(vmul(d, vloadn(u + i, m, 0.0f)), dsilu, vloadn(dg + i, m, 0.0f)), m);
    vstoren(du + i, vfma(d, vmul(x, s), vloadn(du + i, m, 0.0f)), m);
  }
}

static VTGT float VSFX(row_max)(const float *x, int64_t n) {
  VT m0 = vset1(-__builtin_inff()), m1 = m0;
  int64_t i = 0;
  for (; i + 2 * VN <= n; i += 2 * VN) { m0 = vmax(m0, vloadu(x + i)); m1 = vmax(m1, vloadu(x + i + VN)); }
  for (; i < n; i += VN) m0 = vmax(m0, vloadn(x + i, n - i < VN ? n - i : VN, -__builtin_inff()));
  return vhmax(vmax(m0, m1));
}

static VTGT float VSFX(row_expsum)(const float *x, float *y, int64_t n, float shift) {
  VT s = vset1(shift), acc = vset1(0.0f);
  for (int64_t i = 0; i < n; i += VN) {
    int64_t m = n - i < VN ? n - i : VN;
    VT e = vexp(vsub(vloadn(x + i, m, -__builtin_inff()), s));
    acc = vadd(acc, e);
    if (y) vstoren(y + i, e, m);
  }
  return vhsum(acc);
}

static VTGT float VSFX(row_sum)(const float *x, int64_t n) {
  VT a0 = vset1(0.0f), a1 = a0;
  int64_t i = 0;
  for (; i + 2 * VN <= n; i += 2 * VN) { a0 = vadd(a0, vloadu(x + i)); a1 = vadd(a1, vloadu(x + i + VN)); }
  for (; i < n; i += VN) a0 = vadd(a0, vloadn(x + i, n - i < VN ? n - i : VN, 0.0f));
  return vhsum(vadd(a0, a1));
}

static VTGT float VSFX(row_dot)(const float *a, const float *b, int64_t n) {
  VT a0 = vset1(0.0f), a1 = a0;
  int64_t i = 0;
  for (; i + 2 * VN <= n; i += 2 * VN) {
    a0 = vfma(vloadu(a + i), vloadu(b + i), a0);
    a1 = vfma(vloadu(a + i + VN), vloadu(b + i + VN), a1);
  }
  for (; i < n; i += VN) {
    int64_t m = n - i < VN ? n - i : VN;
    a0 = vfma(vloadn(a + i, m, 0.0f), vloadn(b + i, m, 0.0f), a0);
  }
  return vhsum(vadd(a0, a1));
}

static VTGT void VSFX(row_axpy)(float alpha, const float *x, float *y, int64_t n) {
  VT a = vset1(alpha);
  int64_t i = 0;
  for (; i + VN <= n; i += VN) vstoreu(y + i, vfma(a, vloadu(x + i), vloadu(y + i)));
  if (i < n) vstoren(y + i, vfma(a, vloadn(x + i, n - i, 0.0f), vloadn(y + i, n - i, 0.0f)), n - i);
}

static VTGT void VSFX(row_scale)(float alpha, float *y, int64_t n) {
  VT a = vset1(alpha);
  int64_t i = 0;
  for (; i + VN <= n; i += VN) vstoreu(y + i, vmul(a, vloadu(y + i)));
  if (i < n) vstoren(y + i, vmul(a, vloadn(y + i, n - i, 0.0f)), n - i);
}

#undef VN
#undef VT
#undef VSFX
#undef VTGT
#undef vset1
#undef vloadu
#undef vstoreu
#undef vadd
#undef vsub
#undef vmul
#undef vdiv
#undef vfma
#undef vmax
#undef vmin
#undef vand
#undef vor
#undef vxor
#undef vloadn
#undef vstoren
#undef vhsum
#undef vhmax
#undef vsel_lt
#undef vexp
#undef vtanh
#undef vsigmoid
#undef vsig2
