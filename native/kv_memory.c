/* Transparent huge pages for long-lived large buffers (a KV cache): zy_advise_huge_pages asks the kernel to back the
 * 2 MiB-aligned middle of a buffer with 2 MiB pages (madvise MADV_HUGEPAGE) — where those pages are not yet touched,
 * their first write faults in a huge page. A decode step at depth streams every layer's cache once (75 MB at 110M,
 * 2,048 positions, f16); with 4 KiB pages that is a TLB miss and a restart of the hardware prefetcher every 4 KiB
 * (decode attention alone ran 1.17-1.29x faster over huge pages, BENCHMARKS.md, issue 15 session 12).
 * Leaves out: pages already touched (no MADV_COLLAPSE: collapsing 75 MB took ~0.3 s), the partial 2 MiB ends, and
 * every system without madvise or with THP off ("never"): there it does nothing. */
#include <stddef.h>
#include <stdint.h>
#include "ops_kernels.h"
#if defined(__linux__)
#include <sys/mman.h>
#endif

int zy_advise_huge_pages(void *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)2 << 20, lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + n) & ~(huge - 1);
  if (hi <= lo) return 0;
  return madvise((void *)lo, hi - lo, MADV_HUGEPAGE) == 0 ? 1 : 0;
#else
  (void)p, (void)n;
  return 0;
#endif
}
