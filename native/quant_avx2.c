/* AVX2 dot kernels for quantized weights: not written yet, so every entry is NULL and AVX2-only CPUs use the
 * portable kernels (native/quant.c). Kept as the table quant.c dispatches through. */
#include "quant_impl.h"

const zy_qdot_fn zy_qdot_avx2[ZY_QT_COUNT] = {0};
