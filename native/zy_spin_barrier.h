/* A spinning barrier for the threads of one zy_parallel_run task (the rows paths of decode_layer.c and the column
 * split of prefill_layer.c): pause-spins, then yields, so an oversubscribed machine still lets a late thread run; the
 * wait reports whether it had to yield, which the callers count to fall back to a split without barriers.
 * Leaves out: sleeping waits (a task's barriers are microseconds apart). */
#ifndef ZY_SPIN_BARRIER_H
#define ZY_SPIN_BARRIER_H
#include <immintrin.h>
#include <sched.h>
#include <stdatomic.h>

typedef struct {
  _Atomic int count, phase;
  int n;
} spin_barrier;

/* Waits until all n threads arrived; returns 1 when it had to yield (another thread was late: descheduled). */
static inline int barrier_wait(spin_barrier *b) {
  const int phase = atomic_load_explicit(&b->phase, memory_order_relaxed);
  if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == b->n - 1) {
    atomic_store_explicit(&b->count, 0, memory_order_relaxed);
    atomic_store_explicit(&b->phase, phase + 1, memory_order_release);
    return 0;
  }
  int spins = 0;
  while (atomic_load_explicit(&b->phase, memory_order_acquire) == phase)
    if (++spins < 2000) _mm_pause();
    else sched_yield();
  return spins >= 2000;
}

#endif
