// Rollout generation speed for RL (issue 19's "PPO rollout generation at least 3× the tokens/s of generating the same
// sequences one at a time"): the same N prompts × M new tokens through EngineRolloutGenerator batched (all prompts
// decode together, KV caches) vs one prompt per call. Greedy with no stop ids, so both produce exactly the same
// tokens (checked). Usage: node --import tsx dev/alignment/rollout-speed.ts [MODEL_DIR] [N] [M] [threads]
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { EngineRolloutGenerator } from "../../src/infer/rollout.js";

const [dir = "models/zhiyu-mini", nArg = "16", mArg = "32", threads = "2"] = process.argv.slice(2);
const backend = createBackend({ threads: Number(threads) });
setDefaultBackend(backend);
const policy = TrainModel.fromHfFolder(path.resolve(dir), "f32");
const n = Number(nArg), m = Number(mArg);
const prompts = Array.from({ length: n }, (_, i) => Int32Array.from([1, 10 + i, 20 + ((i * 7) % 50), 30 + ((i * 13) % 40)]));
const options = { maxNewTokens: m, temperature: 0 };
const gen = new EngineRolloutGenerator({ backend });
await gen.generate(policy, prompts.slice(0, 2), { maxNewTokens: 4, temperature: 0 }); // warm-up
let t0 = performance.now();
const batched = await gen.generate(policy, prompts, options);
const tBatched = (performance.now() - t0) / 1000;
t0 = performance.now();
const single: Awaited<ReturnType<typeof gen.generate>> = [];
for (const p of prompts) single.push(...(await gen.generate(policy, [p], options)));
const tSingle = (performance.now() - t0) / 1000;
const same = batched.every((o, i) => o.ids.join() === single[i]!.ids.join());
const tokens = n * m;
console.log(JSON.stringify({ model: dir, prompts: n, newTokens: m, threads: Number(threads), sameTokens: same,
  batchedTokS: +(tokens / tBatched).toFixed(1), oneAtATimeTokS: +(tokens / tSingle).toFixed(1), speedup: +(tSingle / tBatched).toFixed(2) }));
