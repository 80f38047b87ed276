#!/bin/sh
# Builds dev/gemm/harness.c with the GEMM and pool sources into /tmp and runs it: run.sh THREADS SIZE TRANSB ISA_LEVEL BF16
# ZY_CFLAGS="-DZY_GEMM_EMULATE_BF16" checks the AVX512_BF16 pair kernel with vdpbf16ps emulated; -DZY_GEMM_KC=… etc. tune
# blocks; ZY_OPENBLAS=/path/to/libscipy_openblas64_*.so (numpy.libs) times OpenBLAS side by side.
set -e
cd "$(dirname "$0")/../.."
gcc -O3 $ZY_CFLAGS -std=gnu11 -Wall -Wno-unused-function -Inative native/gemm.c native/gemm_avx512.c native/gemm_avx2.c \
  native/zy_pool.c native/zy_cpu.c dev/gemm/harness.c -lpthread -lm -ldl -o /tmp/zy_gemm_harness
/tmp/zy_gemm_harness "$@"
