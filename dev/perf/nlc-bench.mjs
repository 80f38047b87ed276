// node-llama-cpp side of `zhiyu bench infer`: one timed run (after one warm-up) of decode (N tokens after a
// 4-token prompt, greedy) or prefill (an N-token prompt), CPU only, on the given threads.
// Usage: node dev/perf/nlc-bench.mjs NLC_DIR MODEL.gguf decode|prefill N THREADS → {"tokens_per_s": …}
// Leaves out: GPU layers, batch sizes other than one sequence.
import path from "node:path";
import { pathToFileURL } from "node:url";

const [nlcDir, modelPath, kind, nStr, threadsStr] = process.argv.slice(2);
const n = Number(nStr ?? 64), threads = Number(threadsStr ?? 2);
const { getLlama } = await import(pathToFileURL(path.join(nlcDir, "node_modules/node-llama-cpp/dist/index.js")).href);
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const rates = [];
for (let r = 0; r < 2; r++) {
  const context = await model.createContext({ contextSize: 512, threads, batchSize: 512, flashAttention: false });
  const seq = context.getSequence();
  const ids = Array.from({ length: kind === "prefill" ? n : 4 }, (_, i) => (i * 7919 + 13) % 32000);
  if (kind === "prefill") {
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(ids);
    rates.push(n / ((performance.now() - t0) / 1000));
  } else {
    let count = 0, t0 = 0;
    for await (const tok of seq.evaluate(ids, { temperature: 0 })) {
      void tok;
      if (count === 0) t0 = performance.now(); // the first token ends the prompt
      if (++count > n) break;
    }
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  await context.dispose();
}
console.log(JSON.stringify({ impl: "node-llama-cpp", kind, tokens_per_s: Number(rates[1].toFixed(2)) }));
await model.dispose();
