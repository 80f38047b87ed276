#!/usr/bin/env bash
# Data-parallel throughput on GPT-2 124M (B4 T64 global, random init, AdamW lr 1e-4 without weight decay, no clip),
# for BENCHMARKS.md "Data-parallel training": 1 rank × 2 threads, then 2 ranks × 1 thread (mpirun; with the
# shared-memory window, then through Open MPI's own transport with --no-shared-memory, then ZeRO-1), then PyTorch
# DDP (gloo, 2 processes × 1 thread) when PYTHON names a Python with torch and transformers. Prints the median
# tokens/s of steps 1…STEPS-1 (step 0 warms up) for each, and Zhiyu's median step phases (compute, sync, update). Usage: [STEPS=5] [PYTHON=python3] dev/scaling/dp-throughput.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${STEPS:-5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
data=$(mktemp -d)/bytes.bin
node --import tsx -e "import('./src/train/token-file.ts').then(m => m.writeTokenFile('$data', Array.from(require('fs').readFileSync('../shared/data/tinyshakespeare/input.txt').subarray(0, 200000)), 256))"
common=(--preset gpt2-124m --vocab-size 50257 --data "$data" --seq 64 --steps "$STEPS" --lr 1e-4 --beta2 0.999
  --weight-decay 0 --grad-clip 0 --no-spike-guard --json-log --log-every 1)
median() { node -e '
  const recs = require("fs").readFileSync(0, "utf8").split("\n").filter(l => l.startsWith("{")).map(l => JSON.parse(l))
    .filter(r => typeof r.dt === "number").slice(1);
  const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const m = med(recs.map(r => r.dt));
  // Where a step goes (rank 0): forward + backward with the overlapped all-reduces, the rest of the exchange, the update.
  const phases = recs[0] && recs[0].phases ? Object.fromEntries(["compute", "sync", "update"].map(k => [k, +med(recs.map(r => r.phases[k])).toFixed(3)])) : null;
  console.log(JSON.stringify({ run: process.argv[1], median_step_s: m, tokens_per_s: 256 / m, phases_s: phases }));' "$1"; }
node bin/zhiyu.mjs train "${common[@]}" --batch 4 --threads 2 2>/dev/null | median "zhiyu 1 rank x 2 threads"
mpirun -np 2 node bin/zhiyu.mjs train "${common[@]}" --batch 2 --grad-accum 2 --threads 1 2>/dev/null | median "zhiyu 2 ranks x 1 thread"
mpirun -np 2 node bin/zhiyu.mjs train "${common[@]}" --batch 2 --grad-accum 2 --threads 1 --no-shared-memory 2>/dev/null | median "zhiyu 2 ranks x 1 thread, Open MPI transport"
mpirun -np 2 node bin/zhiyu.mjs train "${common[@]}" --batch 2 --grad-accum 2 --threads 1 --zero1 2>/dev/null | median "zhiyu 2 ranks x 1 thread, ZeRO-1"
if [ -n "${PYTHON:-}" ]; then "$PYTHON" dev/scaling/ddp_gloo.py --ranks 2 --threads 1 --batch 4 --seq 64 --steps "$((STEPS - 1))"; fi
