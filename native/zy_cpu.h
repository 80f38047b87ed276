/* Run-time CPU feature detection. Kernels are compiled for the baseline ISA and carry per-function
 * __attribute__((target(...))) variants; they pick one with these flags (read once). */
#ifndef ZY_CPU_H
#define ZY_CPU_H
#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int avx2_fma;      /* AVX2 + FMA + F16C */
  int avx512;        /* AVX-512 F/BW/DQ/VL */
  int avx512_vnni;   /* AVX512_VNNI (int8 dot products) */
  int avx512_bf16;   /* AVX512_BF16 (vdpbf16ps) */
} zy_cpu_features;

const zy_cpu_features *zy_cpu(void);
/* "avx512-bf16-vnni", "avx512-vnni", "avx512", "avx2", "portable" */
const char *zy_isa_name(void);
/* Caps the ISA used by kernels (for tests of the slower paths): 0 portable, 1 avx2, 2 avx512 (all found). */
void zy_cpu_limit(int level);
/* The same, and with bf16 0 AVX512_BF16 is treated as absent (the paths of AVX-512 CPUs without vdpbf16ps). */
void zy_cpu_limit_bf16(int level, int bf16);

#ifdef __cplusplus
}
#endif
#endif
