#!/usr/bin/env bash
# LoRA fine-tuning tokens/s side by side: `zhiyu sft --lora` and PyTorch + peft (lora_speed_peft.py) run alternately,
# ROUNDS rounds each, on zhiyu-mini's shape (6 layers, hidden 192, vocab 512), LoRA r 16 / alpha 32 on
# q,k,v,o,gate,up,down, batch 8 × 128 tokens, AdamW on the adapters, f32, 2 threads (THREADS). Zhiyu's figure is its metrics'
# tokens over time for steps 2…STEPS−1 (steps 0 and 1 are warm-up, as the peft script's two untimed steps); peft's is
# its script's STEPS−2 timed steps. Interleaving puts both sides under the same load on a shared machine.
# Usage: dev/alignment/lora-speed-ab.sh [PYTHON] [ROUNDS=2] [STEPS=20] [THREADS=2]   (PYTHON: with torch, transformers, peft)
# On a loaded machine THREADS=1 is the fairer check (PyTorch's OpenMP threads spin-wait for descheduled partners).
# Leaves out: QLoRA over a GGUF base (peft's side would need bitsandbytes), other shapes (edit the flags below).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-/tmp/al/venv/bin/python}
ROUNDS=${2:-2}
STEPS=${3:-20}
THREADS=${4:-2}
DATA=../shared/data/llamafactory-demo/alpaca_zh_demo.json
OUT=$(mktemp -d /tmp/lora-speed-ab.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  rm -rf "$OUT/run"
  node bin/zhiyu.mjs sft --model models/zhiyu-mini --data "$DATA" --out "$OUT/run" --seq 128 --batch 8 --steps "$STEPS" \
    --lora r=16,alpha=32,targets=q,k,v,o,gate,up,down --threads "$THREADS" --val-every 0 --no-spike-guard > "$OUT/log" 2>&1 ||
    { cat "$OUT/log"; exit 1; }
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const steps = lines.filter((r) => typeof r.dt === "number" && r.step >= 2);
    const dt = steps.reduce((a, r) => a + r.dt, 0), tokens = steps.reduce((a, r) => a + r.tokens_per_s * r.dt, 0);
    console.log(JSON.stringify({ round: Number(process.argv[2]), side: "zhiyu", steps: steps.length, tok_s: Math.round(tokens / dt) }));
  ' "$OUT/run/metrics.jsonl" "$round"
  echo "{\"round\": $round, \"side\": \"peft\", \"result\": $("$PY" dev/alignment/lora_speed_peft.py models/zhiyu-mini 8 128 "$THREADS" $((STEPS - 2)) 2>/dev/null)}"
done
