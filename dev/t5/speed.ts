// T5 greedy / beam generation speed of Zhiyu (native backend), the twin of dev/t5/speed.py: same model folder,
// same 33 source ids, NEW_TOKENS new tokens with no stop id, median of 3 runs.
// usage: node --import tsx dev/t5/speed.ts MODEL_DIR [THREADS] [NEW_TOKENS]
import { loadAnyModel } from "../../src/infer/load.js";
import { requireKind } from "../../src/infer/model-api.js";
import { generate } from "../../src/infer/generate.js";
import { beamSearch } from "../../src/infer/beam-search.js";

const [dir, threadsArg, newArg] = process.argv.slice(2);
if (!dir) throw new Error("usage: dev/t5/speed.ts MODEL_DIR [THREADS] [NEW_TOKENS]");
const threads = Number(threadsArg ?? 2), n = Number(newArg ?? 64);
const model = requireKind(await loadAnyModel(dir, { threads }), ["seq2seq"], "speed");
const src = [...Array.from({ length: 32 }, (_, i) => ((i * 37) % 30000) + 5), 1];
const time = (fn: () => number): { seconds: number; tokens_per_s: number; new_tokens: number } => {
  const runs: number[] = [];
  let got = 0;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    got = fn();
    runs.push((performance.now() - t) / 1000);
  }
  runs.sort((a, b) => a - b);
  return { seconds: runs[1]!, tokens_per_s: n / runs[1]!, new_tokens: got };
};
const greedy = time(() => generate(model, src, { temperature: 0, maxTokens: n, stopTokenIds: [] }).ids.length);
const beams4 = time(() => beamSearch(model, src, { numBeams: 4, maxTokens: n, stopTokenIds: [] }).ids.length);
console.log(JSON.stringify({ threads, beams1: greedy, beams4 }));
model.dispose();
