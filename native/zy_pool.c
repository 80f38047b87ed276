/* Thread pool: workers spin briefly on a generation counter, then sleep on a condition variable, so a burst
 * of small kernels (a decode step is hundreds of them) pays no wake-up latency while an idle process burns no CPU. */
#include "zy_pool.h"
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <immintrin.h>
#include <sched.h>

#define ZY_MAX_THREADS 256
#define ZY_SPIN_ITERS 50000

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_t workers[ZY_MAX_THREADS];
static int n_workers = 0;     /* started worker threads (threads - 1) */
static int n_threads = 0;     /* threads in use, including the caller */
static _Atomic uint64_t generation = 0;
static _Atomic int pending = 0;
static _Atomic int sleepers = 0;

static zy_task_fn cur_fn;
static void *cur_ctx;
static int64_t cur_n, cur_grain;
static int cur_parts;
static int cur_mode; /* 0 = range split, 1 = one call per thread */
static uint64_t start_generation[ZY_MAX_THREADS]; /* generation when each worker was created */

/* Busy-wait step: pause first, then yield, so an oversubscribed machine still makes progress. */
static inline void relax(int spins) {
  if (spins < 2000) _mm_pause();
  else sched_yield();
}

static void run_part(int t) {
  if (t >= cur_parts) return;
  if (cur_mode == 1) { cur_fn(cur_ctx, t, t + 1, t); return; }
  int64_t chunks = (cur_n + cur_grain - 1) / cur_grain;
  int64_t c0 = chunks * t / cur_parts, c1 = chunks * (t + 1) / cur_parts;
  int64_t b = c0 * cur_grain, e = c1 * cur_grain;
  if (e > cur_n) e = cur_n;
  if (b < e) cur_fn(cur_ctx, b, e, t);
}

static void *worker_main(void *arg) {
  int t = (int)(intptr_t)arg;
  /* Not a fresh load of `generation`: a dispatch issued before this thread first ran must not be missed. */
  uint64_t seen = start_generation[t];
  for (;;) {
    int spins = 0;
    uint64_t g;
    while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) {
      if (++spins < ZY_SPIN_ITERS) { relax(spins); continue; }
      pthread_mutex_lock(&pool_lock);
      atomic_fetch_add(&sleepers, 1);
      while ((g = atomic_load(&generation)) == seen) pthread_cond_wait(&pool_wake, &pool_lock);
      atomic_fetch_sub(&sleepers, 1);
      pthread_mutex_unlock(&pool_lock);
      break;
    }
    seen = g;
    run_part(t);
    atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel);
  }
  return NULL;
}

static void ensure_started(void) {
  if (n_threads > 0) return;
  zy_set_threads(0);
}

void zy_set_threads(int n) {
  if (n <= 0) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    n = c > 0 ? (int)c : 1;
  }
  if (n > ZY_MAX_THREADS) n = ZY_MAX_THREADS;
  while (n_workers < n - 1) {
    int t = n_workers + 1;
    start_generation[t] = atomic_load(&generation);
    if (pthread_create(&workers[n_workers], NULL, worker_main, (void *)(intptr_t)t) != 0) break;
    n_workers++;
  }
  n_threads = n <= n_workers + 1 ? n : n_workers + 1;
}

int zy_threads(void) {
  ensure_started();
  return n_threads;
}

static void dispatch(void) {
  atomic_store(&pending, n_workers); /* every started worker acknowledges, even one with no part */
  pthread_mutex_lock(&pool_lock);
  atomic_fetch_add_explicit(&generation, 1, memory_order_release);
  if (atomic_load(&sleepers) > 0) pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_lock);
  run_part(0);
  int spins = 0;
  while (atomic_load_explicit(&pending, memory_order_acquire) > 0) relax(++spins);
}

void zy_parallel_for(int64_t n, int64_t grain, zy_task_fn fn, void *ctx) {
  if (n <= 0) return;
  ensure_started();
  if (grain < 1) grain = 1;
  int64_t chunks = (n + grain - 1) / grain;
  int parts = n_threads;
  if (chunks < parts) parts = (int)chunks;
  if (parts <= 1 || n_workers == 0) { fn(ctx, 0, n, 0); return; }
  cur_fn = fn; cur_ctx = ctx; cur_n = n; cur_grain = grain; cur_parts = parts; cur_mode = 0;
  dispatch();
}

void zy_parallel_run(zy_task_fn fn, void *ctx) {
  ensure_started();
  if (n_threads <= 1 || n_workers == 0) { fn(ctx, 0, 1, 0); return; }
  cur_fn = fn; cur_ctx = ctx; cur_parts = n_threads; cur_mode = 1;
  dispatch();
}
