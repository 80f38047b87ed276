/* Grow-only scratch buffers: the kernels keep their packing and activation buffers between calls and reallocate
 * only when a call needs more. Leaves out: shrinking (a long-lived process keeps its largest buffer). */
#ifndef ZY_SCRATCH_H
#define ZY_SCRATCH_H
#include <stddef.h>
#include <stdlib.h>

/* *buf with room for `need` bytes, 64-byte aligned (sizes rounded up to 4 KiB), reallocated only when it must
 * grow; NULL when out of memory, leaving the old buffer in place. */
static inline void *zy_grow(void **buf, size_t *have, size_t need) {
  if (*have >= need) return *buf;
  need = (need + 4095) & ~(size_t)4095;
  void *q = aligned_alloc(64, need);
  if (!q) return NULL;
  free(*buf);
  *buf = q;
  *have = need;
  return q;
}

#endif
