/* How fast can 2 threads read a 1B Q4_0 decode step's bytes in the order the rows path reads them — is the order the
 * limit, or the synchronisation? The bytes are qwen3-1b Q4_0's (16 layers of qkv 2048 × 1024, o 1024 × 1024,
 * gate/up 6144 × 1024, down 1024 × 3072 at 18 bytes per 32 weights, then the 32000 × 1024 q6_k head: 140 MB); no
 * arithmetic, only 64-byte loads summed (the kernel's loads). Arms, alternating round by round:
 *   plain      each thread reads one contiguous half of the whole buffer (what `zhiyu bench bandwidth` measures)
 *   order      each thread reads its row range of every product in the step's order, no synchronisation
 *   barriers   the same with a spin barrier after qkv, o, gate/up and down (the rows path's 4 per layer) and a
 *              join + dispatch per layer (a second barrier), as native/decode_layer.c
 *   bar+pf     barriers, and while a thread waits it prefetches the first PF KB of its next range
 *   tail+pf    barriers, and the last PF KB of each range is read with prefetches of the next range's start interleaved
 * Reports the bytes over the wall time of a pass (median of the rounds). Leaves out: the kernels' arithmetic (r16
 * decode streams 26–31 of a 34 GB/s probe at 1 thread), attention, the scheduling noise of a loaded machine.
 * Build and run: gcc -O2 -march=native -pthread dev/perf/q4-stream.c -o /tmp/q4-stream
 *                /tmp/q4-stream [--rounds 15] [--pf-kb 16] */
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LAYERS 16
#define T 2
enum { PLAIN, ORDER, BARRIERS, BAR_PF, TAIL_PF, ARMS };
static const char *ARM_NAMES[ARMS] = {"plain halves", "step order, no sync", "step order + barriers", "barriers + prefetch while waiting",
                                      "barriers + prefetch at the tail"};

typedef struct {
  size_t off, bytes; /* one product */
  int sync;          /* barriers after it: 1, or 2 (the join and dispatch around attention) */
} product;

static product prods[LAYERS * 4 + 1];
static int n_prods;
static uint8_t *buf;
static size_t total;
static int arm, pf_bytes = 16384;
static _Atomic int bar_count, bar_phase;
static pthread_barrier_t start_bar, end_bar;
static volatile uint64_t sink[T * 8];

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void spin_wait(const uint8_t *pf, size_t pf_n) {
  const int phase = atomic_load_explicit(&bar_phase, memory_order_relaxed);
  if (atomic_fetch_add_explicit(&bar_count, 1, memory_order_acq_rel) == T - 1) {
    atomic_store_explicit(&bar_count, 0, memory_order_relaxed);
    atomic_store_explicit(&bar_phase, phase + 1, memory_order_release);
    return;
  }
  size_t at = 0;
  int spins = 0; /* pause, then yield (as the rows path: a loaded machine must let the late thread run) */
  while (atomic_load_explicit(&bar_phase, memory_order_acquire) == phase) {
    if (at < pf_n) _mm_prefetch((const char *)pf + at, _MM_HINT_T0), at += 64;
    else if (++spins < 2000) _mm_pause();
    else sched_yield();
  }
}

__attribute__((target("avx512f"))) static __m512i read_range(const uint8_t *p, size_t n, __m512i acc, const uint8_t *next, size_t next_n) {
  size_t tail = next_n ? (n > (size_t)pf_bytes ? n - (size_t)pf_bytes : 0) : n, i = 0;
  for (; i + 256 <= tail; i += 256)
    acc = _mm512_add_epi64(acc, _mm512_add_epi64(_mm512_add_epi64(_mm512_loadu_si512(p + i), _mm512_loadu_si512(p + i + 64)),
                                                 _mm512_add_epi64(_mm512_loadu_si512(p + i + 128), _mm512_loadu_si512(p + i + 192))));
  size_t at = 0;
  for (; i + 256 <= n; i += 256) {
    for (int k = 0; k < 4 && at < next_n; k++, at += 64) _mm_prefetch((const char *)next + at, _MM_HINT_T0);
    acc = _mm512_add_epi64(acc, _mm512_add_epi64(_mm512_add_epi64(_mm512_loadu_si512(p + i), _mm512_loadu_si512(p + i + 64)),
                                                 _mm512_add_epi64(_mm512_loadu_si512(p + i + 128), _mm512_loadu_si512(p + i + 192))));
  }
  for (; i + 64 <= n; i += 64) acc = _mm512_add_epi64(acc, _mm512_loadu_si512(p + i));
  return acc;
}

static void range_of(const product *p, int t, size_t *a, size_t *n) {
  const size_t units = p->bytes / 288, u0 = units * t / T, u1 = units * (t + 1) / T; /* whole 16-row tiles */
  *a = p->off + u0 * 288, *n = (u1 - u0) * 288;
}

__attribute__((target("avx512f"))) static void pass(int t) {
  __m512i acc = _mm512_setzero_si512();
  if (arm == PLAIN) {
    const size_t h = total / T / 64 * 64;
    acc = read_range(buf + t * h, h, acc, NULL, 0);
  } else {
    for (int j = 0; j < n_prods; j++) {
      size_t a, n, na = 0, nn = 0;
      range_of(&prods[j], t, &a, &n);
      if (j + 1 < n_prods) range_of(&prods[j + 1], t, &na, &nn);
      const size_t pn = nn < (size_t)pf_bytes ? nn : (size_t)pf_bytes;
      acc = read_range(buf + a, n, acc, arm == TAIL_PF ? buf + na : NULL, arm == TAIL_PF ? pn : 0);
      if (arm == ORDER) continue;
      for (int s = 0; s < prods[j].sync; s++) spin_wait(buf + na, arm == BAR_PF && s == prods[j].sync - 1 ? pn : 0);
    }
  }
  sink[t * 8] += (uint64_t)_mm512_reduce_add_epi64(acc);
}

static void *worker(void *p) {
  const int t = (int)(intptr_t)p;
  for (;;) {
    pthread_barrier_wait(&start_bar);
    if (arm < 0) return NULL;
    pass(t);
    pthread_barrier_wait(&end_bar);
  }
}

static int cmp(const void *a, const void *b) { return *(const double *)a < *(const double *)b ? -1 : *(const double *)a > *(const double *)b; }

int main(int argc, char **argv) {
  int rounds = 15;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
    if (!strcmp(argv[i], "--pf-kb")) pf_bytes = atoi(argv[i + 1]) * 1024;
  }
  const size_t q4 = 18 * 1024 / 32; /* bytes of one 1024-column q4_0 row */
  for (int l = 0; l < LAYERS; l++) {
    const size_t sizes[4] = {2048 * q4, 1024 * 2 * q4, 6144 * q4, 1024 * 3 * q4};
    const int sync[4] = {2, 1, 1, 1}; /* qkv: barrier, then the join/dispatch around attention; o; gate/up (SwiGLU); down */
    for (int k = 0; k < 4; k++) prods[n_prods++] = (product){total, sizes[k], sync[k]}, total += sizes[k];
  }
  prods[n_prods++] = (product){total, 32000 * 1024 / 256 * 210, 0}, total += 32000 * 1024 / 256 * 210;
  total = (total + 63) / 64 * 64;
  if (posix_memalign((void **)&buf, 2 << 20, total + (2 << 20))) return 1;
  memset(buf, 1, total);
  pthread_barrier_init(&start_bar, NULL, T);
  pthread_barrier_init(&end_bar, NULL, T);
  pthread_t th;
  pthread_create(&th, NULL, worker, (void *)(intptr_t)1);
  double *ts[ARMS];
  for (int a = 0; a < ARMS; a++) ts[a] = calloc((size_t)rounds, sizeof(double));
  for (int r = -1; r < rounds; r++)
    for (int k = 0; k < ARMS; k++) {
      arm = r & 1 ? ARMS - 1 - k : k;
      const double t0 = now();
      pthread_barrier_wait(&start_bar);
      pass(0);
      pthread_barrier_wait(&end_bar);
      if (r >= 0) ts[arm][r] = now() - t0;
    }
  arm = -1;
  pthread_barrier_wait(&start_bar);
  pthread_join(th, NULL);
  printf("%.1f MB a pass, %d threads, %d rounds, prefetch %d KB; GB/s (median, best):\n", total / 1e6, T, rounds, pf_bytes / 1024);
  for (int a = 0; a < ARMS; a++) {
    qsort(ts[a], (size_t)rounds, sizeof(double), cmp);
    printf("  %-36s %6.1f %6.1f\n", ARM_NAMES[a], total / ts[a][rounds / 2] / 1e9, total / ts[a][0] / 1e9);
  }
  return 0;
}
