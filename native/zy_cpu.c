/* CPU feature detection (GCC/Clang builtins, which also check that the OS saves the AVX-512 state). */
#include "zy_cpu.h"

static zy_cpu_features found, active;
static int detected = 0;

static void detect(void) {
  if (detected) return;
  __builtin_cpu_init();
  found.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  found.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  found.avx512_vnni = found.avx512 && __builtin_cpu_supports("avx512vnni");
  found.avx512_bf16 = found.avx512 && __builtin_cpu_supports("avx512bf16");
  active = found;
  detected = 1;
}

const zy_cpu_features *zy_cpu(void) {
  detect();
  return &active;
}

void zy_cpu_limit_bf16(int level, int bf16) {
  detect();
  active = found;
  if (level < 2) { active.avx512 = active.avx512_vnni = active.avx512_bf16 = 0; }
  if (level < 1) { active.avx2_fma = 0; }
  if (!bf16) active.avx512_bf16 = 0;
}

void zy_cpu_limit(int level) { zy_cpu_limit_bf16(level, 1); }

const char *zy_isa_name(void) {
  const zy_cpu_features *c = zy_cpu();
  if (c->avx512 && c->avx512_bf16 && c->avx512_vnni) return "avx512-bf16-vnni";
  if (c->avx512 && c->avx512_vnni) return "avx512-vnni";
  if (c->avx512) return "avx512";
  if (c->avx2_fma) return "avx2";
  return "portable";
}
