// Seq2seq training of T5 on the one loop: the loss of T5ForConditionalGeneration for given labels and its gradients
// match transformers (test/models/data/t5-hf-refs.json, from dev/t5/hf-refs.py on ../shared/testdata/hf's T5 cases);
// span corruption has T5's shape (15% noise in round(noise / 3) spans, sentinels <extra_id_0>, <extra_id_1>, … in
// order, source + target reassemble the document); a task mixture draws tasks at their rates with their prefixes;
// the loop trains a small T5 on span corruption and the loss falls; a vocabulary without sentinels is refused by name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { setDefaultBackend, type Tensor } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import {
  MixtureSource, Seq2SeqObjective, SpanCorruptionSource, seq2seqBatch, seq2seqLoss, sentinelIds, spanCorruption,
} from "../../src/train/objectives/seq2seq.js";
import { runLoop } from "../../src/train/loop.js";
import { modelOptimizer } from "../../src/train/loop-state.js";
import { ProgressDisplay } from "../../src/train/progress.js";
import { t5HfConfigJson } from "../../src/models/t5/config.js";
import { presetConfig } from "../../src/models/presets.js";
import type { T5Config } from "../../src/models/t5/config.js";

setDefaultBackend(createBackend());
const refs = JSON.parse(readFileSync("test/models/data/t5-hf-refs.json", "utf8")) as {
  cases: Record<string, { loss: { labels: number[][]; loss: number; grads: Record<string, number[]>; grad_norms: Record<string, number> } }>;
};

for (const [name, c] of Object.entries(refs.cases)) {
  test(`${name}: seq2seq loss and gradients for given labels match transformers`, () => {
    const dir = path.resolve("../shared/testdata/hf", name);
    const ref = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8")) as { inputs: { encoder_input_ids: number[][] } };
    const model = TrainModel.fromHfFolder(path.join(dir, "model"), "f32");
    const examples = ref.inputs.encoder_input_ids.map((source, i) => ({ source, target: c.loss.labels[i]! }));
    const batch = seq2seqBatch(examples, 0, 0);
    const loss = seq2seqLoss(model, batch);
    assert.ok(Math.abs(loss.item() - c.loss.loss) < 1e-5 * Math.abs(c.loss.loss), `loss ${loss.item()} vs transformers ${c.loss.loss}`);
    loss.backward();
    for (const [param, want] of Object.entries(c.loss.grads)) {
      const got = (model.params.get(param) as Tensor).grad!.toFloat32Array();
      const maxRef = Math.max(...want.map(Math.abs));
      const maxDiff = Math.max(...want.map((w, i) => Math.abs(w - got[i]!)));
      assert.ok(maxDiff <= 1e-4 * maxRef, `${param}: grad max |diff| ${maxDiff} vs ${maxRef}`);
    }
    let checked = 0;
    for (const [param, norm] of Object.entries(c.loss.grad_norms)) {
      const p = model.params.get(param === "encoder.embed_tokens.weight" || param === "decoder.embed_tokens.weight" ? "shared.weight" : param);
      if (!p || param.endsWith("embed_tokens.weight")) continue;
      const g = p.grad!.toFloat32Array();
      const got = Math.sqrt(g.reduce((a, x) => a + x * x, 0));
      assert.ok(Math.abs(got - norm) <= 1e-4 * Math.max(norm, 1e-6), `${param}: grad norm ${got} vs ${norm}`);
      checked++;
    }
    assert.ok(checked >= model.specs.length - 1, `${checked} gradient norms checked of ${model.specs.length} parameters`);
  });
}

test("span corruption: 15% noise in spans of mean 3, sentinels in order, source + target give the document back", () => {
  const rng = new Rng(5);
  const sentinels = Array.from({ length: 100 }, (_, i) => 999 - i);
  for (const n of [2, 7, 20, 100, 512]) {
    const doc = Array.from({ length: n }, (_, i) => 10 + (i % 500));
    const { source, target } = spanCorruption(doc, rng, { sentinels, eosId: 1 });
    const noise = Math.min(Math.max(Math.round(n * 0.15), 1), n - 1);
    const spans = Math.max(Math.round(noise / 3), 1);
    assert.equal(source.filter((id) => id >= 900).length, spans, `n=${n}: one sentinel per span in the source`);
    assert.deepEqual(target.filter((id) => id >= 900), sentinels.slice(0, spans), `n=${n}: target sentinels in order`);
    assert.equal(target.length, noise + spans + 1, `n=${n}: target = sentinels + noise tokens + eos`);
    assert.equal(source.at(-1), 1);
    assert.equal(target.at(-1), 1);
    // Reassemble: each source sentinel is replaced by the target tokens after the same sentinel.
    const spanOf = new Map<number, number[]>();
    let cur = -1;
    for (const id of target.slice(0, -1)) { if (id >= 900) { cur = id; spanOf.set(id, []); } else spanOf.get(cur)!.push(id); }
    assert.ok([...spanOf.values()].every((s) => s.length >= 1), "no empty span");
    assert.deepEqual(source.slice(0, -1).flatMap((id) => (id >= 900 ? spanOf.get(id)! : [id])), doc);
  }
  assert.throws(() => spanCorruption(Array.from({ length: 100 }, (_, i) => i + 5), rng, { sentinels: [999], eosId: 1 }),
    /a document of 100 tokens needs 5 sentinels but 1 are given/);
});

test("a vocabulary without sentinels is refused, naming the missing token", () => {
  const vocab = new Map([["<extra_id_0>", 99], ["<extra_id_1>", 98]]);
  assert.deepEqual(sentinelIds((t) => vocab.get(t), 2, "tok.json"), [99, 98]);
  assert.throws(() => sentinelIds((t) => vocab.get(t), 3, "tok.json"), /tok\.json: the vocabulary has no sentinel token <extra_id_2> \(span corruption needs 3/);
});

test("a task mixture draws tasks at their rates, each with its prefix", () => {
  const task = (name: string, prefix: number[], rate: number) => ({ name, prefix, rate,
    examples: Array.from({ length: 5 }, (_, i) => ({ source: [100 + i], target: [200 + i, 1] })) });
  const mix = new MixtureSource([task("a", [7], 3), task("b", [8, 9], 1)]);
  const rng = new Rng(11);
  let a = 0;
  for (let i = 0; i < 4000; i++) {
    const e = mix.next(rng);
    if (e.source[0] === 7) { a++; assert.equal(e.source.length, 2); } else assert.deepEqual(e.source.slice(0, 2), [8, 9]);
  }
  assert.ok(Math.abs(a / 4000 - 0.75) < 0.03, `task a drawn ${a / 4000} of the time, rate 0.75`);
  assert.deepEqual(mix.drawn(), { a, b: 4000 - a });
  const saved = mix.position();
  const next = mix.next(new Rng(1));
  mix.restorePosition(saved);
  assert.deepEqual(mix.next(new Rng(1)), next, "a restored position gives the same examples");
});

test("the loop trains a small T5 on span corruption: the loss falls", async () => {
  const config: T5Config = { ...(presetConfig("t5", "tiny", 300) as T5Config), numLayers: 1, numDecoderLayers: 1 };
  const model = TrainModel.random(t5HfConfigJson(config), new Rng(1), "f32");
  const docs = Array.from({ length: 16 }, (_, d) => Array.from({ length: 24 }, (_, i) => 2 + ((d * 7 + i * 3) % 40)));
  const sentinels = Array.from({ length: 20 }, (_, i) => 299 - i);
  const objective = new Seq2SeqObjective("span-corruption", new SpanCorruptionSource(docs, { sentinels, eosId: 1 }), 4, { decoderStartId: 0, padId: 0 });
  const out = mkdtempSync(path.join(os.tmpdir(), "zhiyu-t5-train-"));
  try {
    const optimizer = modelOptimizer(model, { lr: 3e-3, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0 });
    const r = await runLoop({
      model, optimizer, objective, rng: new Rng(2), runDir: out, resumeFrom: null, options: {}, copies: new Map(),
      settings: { steps: 40, schedule: { lr: 3e-3, minLr: 3e-4, warmupSteps: 2, totalSteps: 40, kind: "cosine" }, gradAccum: 1, gradClip: 1,
        spikeGuard: false, spikeWindow: 50, spikeZscore: 6, maxRollbacks: 0, spikeLrFactor: 1, spikeSkip: 0, checkpointEvery: 0, keepLast: 1,
        evalEvery: 0, evalAtEnd: false, logEvery: 100, mfu: null },
      banner: "t5 span corruption", display: new ProgressDisplay({ write: () => {}, isTTY: false }, 100), jsonOut: null,
    });
    const first = r.losses.slice(0, 5).reduce((a, b) => a + b, 0) / 5, last = r.losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    assert.ok(last < first * 0.8, `loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
