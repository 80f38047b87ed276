/* F16 decode matvec, streamed from DRAM: ways of walking the weight rows, timed against each other in one process.
 * The matrices are a decode step's (qwen3-1b: 16 layers of q, k, v, o, gate, up, down and the 32000 × 1024 head,
 * 468 MB; or llama 110m: 12 layers of qkv, o, gate_up, down and the 32000 × 768 head, 219 MB), each pass multiplies
 * all of them by one activation row; threads split each matrix's rows in 2 chunks per thread and meet at a barrier
 * after it, like the addon's pool. Arms alternate round by round (order reversed every other round); reported: the
 * bytes over the per-thread CPU time of a pass (time a thread was not scheduled does not count, memory stalls do —
 * the steadier figure on a shared machine; quiet, run with wall time instead: --wall).
 * Arms: the session 8 fallback (one row, 2 accumulators, prefetch 8 rows ahead), the same without prefetch, the
 * session 9 fallback (no prefetch, two 32-column steps per loop pass: the same FMAs in the same order), prefetch 16
 * rows ahead, 4 accumulators (other sums: for comparison only), two rows interleaved, and a plain read of the bytes.
 * Leaves out: the addon (the kernels are restated here, so their loop shapes can be varied freely).
 * Build and run: gcc -O2 -march=native -pthread dev/perf/f16-stream.c -o /tmp/f16-stream
 *                /tmp/f16-stream [--model 1b|110m] [--threads 2] [--rounds 11] [--wall] */
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))

typedef struct {
  int64_t rows, cols;
  uint8_t *w;
} matrix;

enum { PF8, PF0, UNROLL2, PF16, ACC4, TWO_ROWS, READ, ARMS };
static const char *ARM_NAMES[ARMS] = {"pf8 rows (s8 fallback)", "pf0", "pf0, 2 steps/pass (s9)", "pf16 rows",
                                      "4 accumulators", "2 rows interleaved", "read only"};

static matrix *mats;
static int nmats, threads = 2, arm;
static float *x, *out;
static double thread_cpu[64];
static pthread_barrier_t barrier;

static double clock_s(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static inline AVX512 __m512 w16(const uint8_t *w, int64_t k) {
  return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + 2 * k)));
}

static AVX512 float row_pf(const uint8_t *w, int64_t row_bytes, int64_t cols, int pf) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0;
  for (int64_t k = 0; k + 32 <= cols; k += 32) {
    if (pf) _mm_prefetch((const char *)(w + 2 * k + pf * row_bytes), _MM_HINT_T0);
    a0 = _mm512_fmadd_ps(w16(w, k), _mm512_loadu_ps(x + k), a0);
    a1 = _mm512_fmadd_ps(w16(w, k + 16), _mm512_loadu_ps(x + k + 16), a1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

static AVX512 float row_unroll2(const uint8_t *w, int64_t cols) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0;
  int64_t k = 0;
  for (; k + 64 <= cols; k += 64) {
    a0 = _mm512_fmadd_ps(w16(w, k), _mm512_loadu_ps(x + k), a0);
    a1 = _mm512_fmadd_ps(w16(w, k + 16), _mm512_loadu_ps(x + k + 16), a1);
    a0 = _mm512_fmadd_ps(w16(w, k + 32), _mm512_loadu_ps(x + k + 32), a0);
    a1 = _mm512_fmadd_ps(w16(w, k + 48), _mm512_loadu_ps(x + k + 48), a1);
  }
  for (; k + 32 <= cols; k += 32) {
    a0 = _mm512_fmadd_ps(w16(w, k), _mm512_loadu_ps(x + k), a0);
    a1 = _mm512_fmadd_ps(w16(w, k + 16), _mm512_loadu_ps(x + k + 16), a1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

static AVX512 float row_acc4(const uint8_t *w, int64_t cols) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t k = 0; k + 64 <= cols; k += 64) {
    a0 = _mm512_fmadd_ps(w16(w, k), _mm512_loadu_ps(x + k), a0);
    a1 = _mm512_fmadd_ps(w16(w, k + 16), _mm512_loadu_ps(x + k + 16), a1);
    a2 = _mm512_fmadd_ps(w16(w, k + 32), _mm512_loadu_ps(x + k + 32), a2);
    a3 = _mm512_fmadd_ps(w16(w, k + 48), _mm512_loadu_ps(x + k + 48), a3);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

static AVX512 void rows_two(const uint8_t *w, int64_t row_bytes, int64_t cols, float *o) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
  for (int64_t k = 0; k + 32 <= cols; k += 32) {
    const __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + 16);
    a0 = _mm512_fmadd_ps(w16(w, k), x0, a0);
    a1 = _mm512_fmadd_ps(w16(w, k + 16), x1, a1);
    b0 = _mm512_fmadd_ps(w16(w + row_bytes, k), x0, b0);
    b1 = _mm512_fmadd_ps(w16(w + row_bytes, k + 16), x1, b1);
  }
  o[0] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  o[1] = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
}

static AVX512 float row_read(const uint8_t *w, int64_t cols) {
  __m512i a = _mm512_setzero_si512();
  for (int64_t k = 0; k + 32 <= cols; k += 32) a = _mm512_add_epi32(a, _mm512_loadu_si512(w + 2 * k));
  return (float)_mm512_reduce_add_epi32(a);
}

static void run_matrix(int t, const matrix *m) {
  const int64_t chunks = 2 * threads, row_bytes = m->cols * 2;
  const int64_t per = ((m->rows + chunks - 1) / chunks + 3) / 4 * 4;
  for (int64_t c = t; c < chunks; c += threads) {
    const int64_t r0 = c * per, r1 = r0 + per < m->rows ? r0 + per : m->rows;
    for (int64_t r = r0; r < r1; r++) {
      const uint8_t *w = m->w + r * row_bytes;
      switch (arm) {
        case PF8: out[r] = row_pf(w, row_bytes, m->cols, 8); break;
        case PF0: out[r] = row_pf(w, row_bytes, m->cols, 0); break;
        case UNROLL2: out[r] = row_unroll2(w, m->cols); break;
        case PF16: out[r] = row_pf(w, row_bytes, m->cols, 16); break;
        case ACC4: out[r] = row_acc4(w, m->cols); break;
        case TWO_ROWS:
          if (r + 1 < r1) rows_two(w, row_bytes, m->cols, out + r++);
          else out[r] = row_pf(w, row_bytes, m->cols, 0);
          break;
        default: out[r] = row_read(w, m->cols);
      }
    }
  }
}

static void pass(int t) {
  const double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
  for (int i = 0; i < nmats; i++) {
    run_matrix(t, &mats[i]);
    pthread_barrier_wait(&barrier);
  }
  thread_cpu[t] = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
}

static void *worker(void *p) {
  const int t = (int)(intptr_t)p;
  for (;;) {
    pthread_barrier_wait(&barrier); /* start of a pass */
    pass(t);
    pthread_barrier_wait(&barrier); /* end of a pass */
  }
  return NULL;
}

static int by_value(const void *a, const void *b) {
  const double d = *(const double *)a - *(const double *)b;
  return d < 0 ? -1 : d > 0;
}

int main(int argc, char **argv) {
  int rounds = 11, wall = 0, small = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--model") && i + 1 < argc) small = !strcmp(argv[++i], "110m");
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--wall")) wall = 1;
    else {
      fprintf(stderr, "usage: f16-stream [--model 1b|110m] [--threads 2] [--rounds 11] [--wall]\n");
      return 2;
    }
  }
  if (threads < 1 || threads > 64 || rounds < 1 || rounds > 1000) return 2;
  static const int64_t qwen3_1b[][2] = {{1024, 1024}, {512, 1024}, {512, 1024}, {1024, 1024}, {3072, 1024}, {3072, 1024}, {1024, 3072}};
  static const int64_t llama_110m[][2] = {{2304, 768}, {768, 768}, {4096, 768}, {768, 2048}};
  const int layers = small ? 12 : 16, per_layer = small ? 4 : 7;
  nmats = layers * per_layer + 1;
  mats = calloc((size_t)nmats, sizeof(matrix));
  double bytes = 0;
  for (int i = 0; i < nmats; i++) {
    const int64_t *s = i == nmats - 1 ? NULL : small ? llama_110m[i % per_layer] : qwen3_1b[i % per_layer];
    mats[i].rows = s ? s[0] : 32000;
    mats[i].cols = s ? s[1] : small ? 768 : 1024;
    const size_t n = (size_t)(mats[i].rows * mats[i].cols);
    mats[i].w = aligned_alloc(64, 2 * n + 64);
    for (size_t j = 0; j < n; j++) ((uint16_t *)mats[i].w)[j] = (uint16_t)(0x3c00 + j % 7); /* 1.0 … 1.006 */
    bytes += 2.0 * (double)n;
  }
  x = aligned_alloc(64, 8192 * sizeof(float));
  out = aligned_alloc(64, 32000 * sizeof(float));
  for (int i = 0; i < 8192; i++) x[i] = (float)(i % 13) * 0.01f;
  pthread_barrier_init(&barrier, NULL, (unsigned)threads);
  for (int t = 1; t < threads; t++) {
    pthread_t th;
    pthread_create(&th, NULL, worker, (void *)(intptr_t)t);
  }
  double *secs = calloc((size_t)(ARMS * rounds), sizeof(double));
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < ARMS; i++) {
      arm = r & 1 ? ARMS - 1 - i : i;
      const double w0 = clock_s(CLOCK_MONOTONIC);
      pthread_barrier_wait(&barrier);
      pass(0);
      pthread_barrier_wait(&barrier);
      double cpu = 0;
      for (int t = 0; t < threads; t++) cpu += thread_cpu[t];
      secs[arm * rounds + r] = wall ? clock_s(CLOCK_MONOTONIC) - w0 : cpu / threads;
    }
  printf("%.1f MB per pass (%s), %d threads, %d rounds, GB/s over %s (best, median)\n", bytes / 1e6, small ? "llama 110m" : "qwen3-1b",
         threads, rounds, wall ? "wall time" : "per-thread CPU time");
  for (int a = 0; a < ARMS; a++) {
    qsort(secs + a * rounds, (size_t)rounds, sizeof(double), by_value);
    printf("  %-24s %6.2f  %6.2f\n", ARM_NAMES[a], bytes / secs[a * rounds] / 1e9, bytes / secs[a * rounds + rounds / 2] / 1e9);
  }
  return 0;
}
