/* Standalone GEMM harness for kernel experiments (not part of the addon): checks zy_sgemm/zy_bgemm against
 * zy_sgemm_naive on a few shapes, then times a square product. Build and run with dev/gemm/run.sh. */
#include "gemm.h"
#include "zy_cpu.h"
#include "zy_pool.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dlfcn.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
static float frand(void) { return (float)rand() / RAND_MAX * 2.0f - 1.0f; }
static uint16_t to_bf16(float f) { uint32_t u; memcpy(&u, &f, 4); return (uint16_t)(u >> 16); }
static float from_bf16(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }

static int check(int64_t batch, int64_t m, int64_t n, int64_t k, int ta, int tb, int bf16, float alpha, float beta) {
  int64_t sa = m * k, sb = k * n, sc = m * n;
  float *A = malloc(sizeof(float) * batch * sa), *B = malloc(sizeof(float) * batch * sb);
  float *C = malloc(sizeof(float) * batch * sc), *R = malloc(sizeof(float) * batch * sc);
  uint16_t *Ah = malloc(2 * batch * sa), *Bh = malloc(2 * batch * sb);
  for (int64_t i = 0; i < batch * sa; i++) { Ah[i] = to_bf16(frand()); A[i] = bf16 ? from_bf16(Ah[i]) : frand(); }
  for (int64_t i = 0; i < batch * sb; i++) { Bh[i] = to_bf16(frand()); B[i] = bf16 ? from_bf16(Bh[i]) : frand(); }
  for (int64_t i = 0; i < batch * sc; i++) R[i] = C[i] = beta == 0 ? NAN : frand();
  zy_sgemm_naive(batch, m, n, k, ta, tb, A, sa, B, sb, R, sc, alpha, beta);
  if (bf16) zy_bgemm(batch, m, n, k, ta, tb, Ah, sa, Bh, sb, C, sc, alpha, beta);
  else zy_sgemm(batch, m, n, k, ta, tb, A, sa, B, sb, C, sc, alpha, beta);
  double worst = 0;
  for (int64_t i = 0; i < batch * sc; i++) {
    double e = fabs(C[i] - R[i]) / (k + 1.0);
    if (!(e <= worst)) worst = e;
  }
  int ok = worst < 1e-5;
  if (!ok) printf("FAIL batch=%ld m=%ld n=%ld k=%ld ta=%d tb=%d bf16=%d worst=%g\n", (long)batch, (long)m, (long)n, (long)k, ta, tb, bf16, worst);
  free(A); free(B); free(C); free(R); free(Ah); free(Bh);
  return ok;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2;
  int64_t size = argc > 2 ? atoll(argv[2]) : 1024;
  int tb = argc > 3 ? atoi(argv[3]) : 0;
  int level = argc > 4 ? atoi(argv[4]) : 2;
  int bf16 = argc > 5 ? atoi(argv[5]) : 0;
  zy_cpu_limit(level);
  zy_set_threads(threads);
  printf("impl %s threads %d\n", zy_gemm_impl_name(bf16), zy_threads());
  int64_t dims[] = {1, 7, 31, 33, 127, 200};
  int fails = 0;
  for (int a = 0; a < 6; a++)
    for (int b = 0; b < 6; b += 1)
      for (int c = 0; c < 6; c += 2)
        for (int t = 0; t < 4; t++) fails += !check(1, dims[a], dims[b], dims[c], t & 1, t >> 1, bf16, 1.5f, t == 3 ? 0.5f : 0.0f);
  fails += !check(3, 100, 70, 900, 0, 1, bf16, 1, 0);
  fails += !check(1, 1, 3000, 2049, 0, 1, bf16, 1, 0);
  fails += !check(1, 1, 3000, 2049, 0, 0, bf16, 1, 1);
  fails += !check(1, 2049, 1, 500, 1, 0, bf16, 1, 0);
  fails += !check(2, 500, 1300, 400, 0, 0, bf16, 2, 0);
  fails += !check(1, 50, 1300, 400, 0, 0, bf16, 2, 0);
  fails += !check(1, 2500, 700, 800, 1, 1, bf16, 1, 0.5f);
  fails += !check(1, 3, 1000, 700, 0, 1, bf16, 1, 0);
  fails += !check(2, 8, 333, 1025, 1, 1, bf16, 0.5f, 0.5f);
  fails += !check(1, 5, 4000, 1500, 0, 1, bf16, 1, 1);
  fails += !check(2, 30, 1000, 900, 0, 0, bf16, 1, 0.5f);
  printf("correctness: %d failures\n", fails);
  int64_t m = size, n = size, k = size;
  float *A = aligned_alloc(64, 4 * m * k), *B = aligned_alloc(64, 4 * k * n), *C = aligned_alloc(64, 4 * m * n);
  uint16_t *Ah = aligned_alloc(64, 2 * m * k), *Bh = aligned_alloc(64, 2 * k * n);
  for (int64_t i = 0; i < m * k; i++) { A[i] = frand(); Ah[i] = to_bf16(A[i]); }
  for (int64_t i = 0; i < k * n; i++) { B[i] = frand(); Bh[i] = to_bf16(B[i]); }
  /* OpenBLAS from numpy's wheel, side by side (alternating), when ZY_OPENBLAS names the .so */
  typedef void (*cblas_sgemm_fn)(int, int, int, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *,
                                 int64_t, float, float *, int64_t);
  cblas_sgemm_fn ob = NULL;
  const char *lib = getenv("ZY_OPENBLAS");
  if (lib) {
    void *h = dlopen(lib, RTLD_NOW);
    if (h) {
      ob = (cblas_sgemm_fn)dlsym(h, "scipy_cblas_sgemm64_");
      void (*setn)(int) = (void (*)(int))dlsym(h, "scipy_openblas_set_num_threads64_");
      if (setn) setn(threads);
    }
  }
  int reps = size <= 1024 ? 15 : size <= 2048 ? 7 : 3;
  double zs[32], os[32], zc[32];
  for (int r = 0; r < reps; r++) {
    double t0 = now(), c0 = cpu_now();
    if (bf16) zy_bgemm(1, m, n, k, 0, tb, Ah, 0, Bh, 0, C, 0, 1, 0);
    else zy_sgemm(1, m, n, k, 0, tb, A, 0, B, 0, C, 0, 1, 0);
    zs[r] = 2.0 * m * n * k / (now() - t0) / 1e9;
    zc[r] = 2.0 * m * n * k / (cpu_now() - c0) / 1e9; /* per CPU-second: robust to other processes */
    usleep(300000); /* let the other library's idle threads stop spinning */
    os[r] = 0;
    if (ob) {
      t0 = now();
      ob(101, 111, tb ? 112 : 111, m, n, k, 1.0f, A, k, B, tb ? k : n, 0.0f, C, n);
      os[r] = 2.0 * m * n * k / (now() - t0) / 1e9;
      usleep(300000);
    }
  }
  for (int i = 0; i < reps; i++)
    for (int j = i + 1; j < reps; j++) {
      if (zs[j] < zs[i]) { double t = zs[i]; zs[i] = zs[j]; zs[j] = t; }
      if (os[j] < os[i]) { double t = os[i]; os[i] = os[j]; os[j] = t; }
      if (zc[j] < zc[i]) { double t = zc[i]; zc[i] = zc[j]; zc[j] = t; }
    }
  printf("zhiyu per CPU-second (max, median): %.1f %.1f GFLOP/s\n", zc[reps - 1], zc[reps / 2]);
  printf("%ld^3 tb=%d bf16=%d: zhiyu %.1f  openblas %.1f GFLOP/s (medians of %d)  ratio %.3f\n", (long)size, tb, bf16,
         zs[reps / 2], os[reps / 2], reps, os[reps / 2] > 0 ? zs[reps / 2] / os[reps / 2] : 0);
  return 0;
}
