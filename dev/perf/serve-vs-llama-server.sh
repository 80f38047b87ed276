#!/bin/bash
# Alternates `zhiyu bench serve` against llama.cpp's `llama-server -np 8` and Zhiyu's own server on one GGUF:
# 8 streaming clients × 64 tokens, 2 threads, ROUNDS rounds (default 3), one JSON line per measurement.
# usage: dev/perf/serve-vs-llama-server.sh MODEL.gguf [LLAMA_SERVER_BINARY]
# Leaves out: starting from a quiet machine (pause other jobs yourself; BENCHMARKS.md says how each run was made).
set -u
MODEL=${1:?usage: serve-vs-llama-server.sh MODEL.gguf [llama-server]}
LS_BIN=${2:-/work/peers/llama.cpp/build/bin/llama-server}
cd "$(dirname "$0")/../.."
for r in ${ROUNDS:-1 2 3}; do
  "$LS_BIN" -m "$MODEL" -np 8 -t 2 -c 4096 --port 8091 > /dev/null 2>&1 &
  LS=$!
  for _ in $(seq 1 120); do curl -s http://127.0.0.1:8091/health | grep -q '"ok"' && break; sleep 0.5; done
  echo "round $r llama-server: $(node bin/zhiyu.mjs bench serve --url http://127.0.0.1:8091/v1 --model-name x --clients 8 --tokens 64 --json | tr -d '\n ')"
  kill $LS; wait $LS 2>/dev/null
  echo "round $r zhiyu: $(node bin/zhiyu.mjs bench serve --model "$MODEL" --clients 8 --tokens 64 --threads 2 --json | tr -d '\n ')"
done
