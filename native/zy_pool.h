/* Persistent thread pool shared by every kernel: zy_parallel_for splits [0, n) into one contiguous range per
 * thread and runs them on parked worker threads (the caller is thread 0). Not reentrant: a kernel must not
 * call zy_parallel_for from inside a task. */
#ifndef ZY_POOL_H
#define ZY_POOL_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef void (*zy_task_fn)(void *ctx, int64_t begin, int64_t end, int thread_index);

/* Runs fn over [0, n) split into at most zy_threads() ranges whose sizes are multiples of grain (except the last). */
void zy_parallel_for(int64_t n, int64_t grain, zy_task_fn fn, void *ctx);
/* Runs fn(ctx, t, t+1, t) once on each of the nthreads threads (t = 0..nthreads-1), for kernels that partition work themselves. */
void zy_parallel_run(zy_task_fn fn, void *ctx);
void zy_set_threads(int n); /* n <= 0: all online cores */
int zy_threads(void);

#ifdef __cplusplus
}
#endif
#endif
