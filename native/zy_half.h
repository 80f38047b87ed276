/* Scalar f16 / bf16 ↔ f32 conversions (IEEE round to nearest even; NaN → quiet NaN with the sign kept), the
 * rounding of src/core/dtype.ts. Defined in quant.c, shared by the quantized kernels, GEMM and casts.
 * Leaves out: vector conversions (each ISA file has its own). */
#ifndef ZY_HALF_H
#define ZY_HALF_H
#include <stdint.h>
#include <string.h>
#ifdef __cplusplus
extern "C" {
#endif

float zy_f16_to_f32(uint16_t h);
uint16_t zy_f32_to_f16(float f);
uint16_t zy_f32_to_bf16(float f);
static inline float zy_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

#ifdef __cplusplus
}
#endif
#endif
