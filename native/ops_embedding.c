/* Embedding lookup (copy rows of a [vocab, dim] table) and its backward (scatter-add into the table gradient,
 * serial because two ids may share a row).
 * Leaves out: id range checks (the TS layer does them before any call). */
#include <string.h>
#include "ops_common.h"
#include "ops_kernels.h"

void zy_op_embedding(const float *table, const int32_t *ids, float *out, int64_t n, int64_t dim) {
  for (int64_t i = 0; i < n; i++) memcpy(out + i * dim, table + (int64_t)ids[i] * dim, (size_t)dim * sizeof(float));
}

void zy_op_embedding_bw(const int32_t *ids, const float *dout, float *dtable, int64_t n, int64_t dim) {
  int isa = zy_isa_level();
  for (int64_t i = 0; i < n; i++) zy_row_axpy(isa, 1.0f, dout + i * dim, dtable + (int64_t)ids[i] * dim, dim);
}
