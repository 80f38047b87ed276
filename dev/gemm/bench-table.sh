#!/bin/sh
# Prints the BENCHMARKS.md "## GEMM" table rows: Zhiyu vs numpy (OpenBLAS) float32 matmul, 2 threads, alternating
# rounds in one `zhiyu bench gemm` run per row. Usage: dev/gemm/bench-table.sh [THREADS] [REPEAT]
cd "$(dirname "$0")/../.."
T=${1:-2}
R=${2:-7}
row() { # m n k dtype [--trans-b]
  # a shared hold on the build lock: no rebuild replaces the addon mid-row
  flock -s /tmp/zhiyu-build.lock node bin/zhiyu.mjs bench gemm --m "$1" --n "$2" --k "$3" --dtype "$4" $5 --threads "$T" --repeat "$R" --vs numpy --json |
    python3 -c '
import json, sys
z, n = [json.loads(l) for l in sys.stdin.read().splitlines()[:2]]
shape = "%dx%dx%d%s" % (z["m"], z["n"], z["k"], " (B [n,k])" if z["trans_b"] else "")
print("| %s | %s | %d | %s | %.1f | %.1f | %.2f |" % (shape, z["dtype"], z["threads"], z["kernel"], z["gflops"], n["gflops"], z["ratio_vs_numpy"]))'
}
echo "| shape m×n×k | dtype | threads | Zhiyu kernel | Zhiyu GFLOP/s | numpy f32 GFLOP/s | ratio |"
echo "|---|---|---:|---|---:|---:|---:|"
for s in 1024 2048 4096; do row $s $s $s f32; done
for s in 1024 2048 4096; do row $s $s $s bf16; done
row 512 4096 4096 f32 --trans-b
row 8 4096 4096 f32 --trans-b
row 1 4096 4096 f32 --trans-b
row 1 4096 4096 bf16 --trans-b
