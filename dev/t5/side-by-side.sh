#!/usr/bin/env bash
# T5 generation speed side by side, interleaved, for BENCHMARKS.md's T5 table: Zhiyu (HF f32 folder and the same
# weights as f32 / f16 GGUF), PyTorch + transformers (f32 folder) and llama.cpp (llama-server on the f32 / f16 GGUF),
# ROUNDS rounds, each tool once per round, the load average before and after each round. Makes the model files on
# first use: `zhiyu init --arch t5 --preset small --seed 1`, a padded Unigram vocabulary (dev/t5/pad-vocab.py: llama.cpp
# needs one of the embedding's size) and `zhiyu convert --type f32 | f16`.
# usage: dev/t5/side-by-side.sh [THREADS] [NEW_TOKENS] [ROUNDS] [PYTHON]   (PYTHON: one with torch + transformers)
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-2}; N=${2:-32}; R=${3:-3}; PY=${4:-/tmp/t5venv/bin/python}
M=/tmp/t5-small; G=/tmp/t5-small-tok
[ -f $M/model.safetensors ] || node bin/zhiyu.mjs init --arch t5 --preset small --seed 1 --out $M
if [ ! -f $G/tokenizer.json ]; then
  mkdir -p $G && cp $M/config.json $G/ && ln -sf $M/model.safetensors $G/model.safetensors && python3 dev/t5/pad-vocab.py $G
fi
for ty in f32 f16; do [ -f /tmp/t5-small-$ty.gguf ] || node bin/zhiyu.mjs convert --from $G --to /tmp/t5-small-$ty.gguf --type $ty; done
for r in $(seq 1 "$R"); do
  echo "== round $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "zhiyu hf-f32    $(node --import tsx dev/t5/speed.ts $M $T $N)"
  echo "zhiyu gguf-f32  $(node --import tsx dev/t5/speed.ts /tmp/t5-small-f32.gguf $T $N)"
  echo "zhiyu gguf-f16  $(node --import tsx dev/t5/speed.ts /tmp/t5-small-f16.gguf $T $N)"
  echo "pytorch hf-f32  $($PY dev/t5/speed.py $M $T $N 2>/dev/null | tail -1)"
  echo "llama.cpp f32   $(node dev/t5/llama-speed.mjs /tmp/t5-small-f32.gguf $T $N)"
  echo "llama.cpp f16   $(node dev/t5/llama-speed.mjs /tmp/t5-small-f16.gguf $T $N)"
done
echo "== end, load $(cut -d' ' -f1-3 /proc/loadavg)"
