// The SequenceGenerator the CLI injects into RL training (src/infer/rollout.ts): rollouts from the batching
// scheduler with KV caches over the trained model's live tensors. Checked against the trainer's own full forward
// pass (no cache, one whole sequence at a time; that forward is checked against transformers in lora.test.ts):
// greedy ids are the argmax chain, every reported log-probability is the full forward's log-softmax at that
// position, sampled rollouts are reproducible by seed, and a change to the trained tensors (a LoRA B matrix)
// shows in the next call's rollouts without rebuilding anything.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import type { SequenceGenerator } from "../../src/train/objective.js";
import { EngineRolloutGenerator } from "../../src/infer/rollout.js";
import { LoraAdapter, parseLoraSpec } from "../../src/models/adapters/lora.js";

setDefaultBackend(createBackend());
const BASE = path.resolve("../shared/testdata/hf/lora/base");

/** log-softmax rows of the trainer's full forward over `ids` (no cache). */
function fullLogProbs(m: TrainModel, ids: number[]): Float32Array[] {
  const v = m.vocabSize;
  const flat = noGrad(() => tidy(() => m.logits(Int32Array.from(ids), 1, ids.length).toFloat32Array()));
  return Array.from({ length: ids.length }, (_, t) => {
    const row = flat.subarray(t * v, (t + 1) * v);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let s = 0;
    for (const x of row) s += Math.exp(x - max);
    const lz = max + Math.log(s);
    return row.map((x) => x - lz);
  });
}

function checkAgainstFullForward(m: TrainModel, prompt: Int32Array, out: { ids: Int32Array; logProbs?: Float32Array }, greedy: boolean): void {
  const all = [...prompt, ...out.ids];
  const rows = fullLogProbs(m, all);
  out.ids.forEach((id, k) => {
    const row = rows[prompt.length - 1 + k]!;
    if (greedy) {
      let best = 0;
      for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
      assert.equal(id, best, `greedy token ${k}`);
    }
    assert.ok(Math.abs(out.logProbs![k]! - row[id]!) <= 1e-4, `logprob ${k}: rollout ${out.logProbs![k]} vs full forward ${row[id]}`);
  });
}

test("rollouts: greedy ids and log-probs equal the trainer's full forward; several prompts decode in one batch", async () => {
  const m = TrainModel.fromHfFolder(BASE, "f32");
  const gen: SequenceGenerator = new EngineRolloutGenerator();
  const prompts = [Int32Array.from([1, 17, 99, 4]), Int32Array.from([1, 250]), Int32Array.from([1, 8, 8, 8, 8, 600])];
  const outs = await gen.generate(m, prompts, { maxNewTokens: 10, temperature: 0 });
  assert.equal(outs.length, 3);
  outs.forEach((o, i) => {
    assert.equal(o.ids.length, 10);
    assert.equal(o.finishReason, "length");
    checkAgainstFullForward(m, prompts[i]!, o, true);
  });
  // Stop ids end a rollout (the stop id included).
  const stopAt = outs[0]!.ids[3]!;
  const [stopped] = await gen.generate(m, [prompts[0]!], { maxNewTokens: 10, temperature: 0, stopIds: [stopAt] });
  assert.equal(stopped!.finishReason, "stop");
  assert.deepEqual([...stopped!.ids], [...outs[0]!.ids.slice(0, outs[0]!.ids.indexOf(stopAt) + 1)]);
});

test("rollouts: sampled ones follow the seed, and a LoRA policy's updated tensors show in the next call", async () => {
  const base = TrainModel.fromHfFolder(BASE, "f32");
  const adapter = LoraAdapter.create(base.specs, parseLoraSpec("r=4,targets=q,v,down"), new Rng(3));
  const policy = base.withLora(adapter);
  const gen = new EngineRolloutGenerator({ parallel: 2 });
  const prompts = [Int32Array.from([1, 5, 6]), Int32Array.from([1, 42]), Int32Array.from([1, 7, 300])];
  const a = await gen.generate(policy, prompts, { maxNewTokens: 8, temperature: 1, seed: 5 });
  const b = await gen.generate(policy, prompts, { maxNewTokens: 8, temperature: 1, seed: 5 });
  assert.deepEqual(a.map((o) => [...o.ids]), b.map((o) => [...o.ids]));
  a.forEach((o, i) => checkAgainstFullForward(policy, prompts[i]!, o, false));
  const greedyBefore = await gen.generate(policy, prompts, { maxNewTokens: 8, temperature: 0 });
  // B = 0 so far: the policy is the base. Change B in place, as an optimizer step would.
  const rng = new Rng(9);
  for (const mod of adapter.modules) {
    const d = mod.b.storage("test") as Float32Array;
    for (let k = 0; k < mod.b.size; k++) d[mod.b.offset + k] = rng.uniform(-0.5, 0.5);
  }
  const greedyAfter = await gen.generate(policy, prompts, { maxNewTokens: 8, temperature: 0 });
  assert.notDeepEqual(greedyAfter.map((o) => [...o.ids]), greedyBefore.map((o) => [...o.ids]));
  greedyAfter.forEach((o, i) => checkAgainstFullForward(policy, prompts[i]!, o, true));
});
