// LoRA against peft (../shared/testdata/hf/lora: a tiny LLaMA, a peft adapter, peft's merge_and_unload): the base,
// adapted and merged logits of the trainer's model and of the inference loader, the merged weights, the adapter
// written back as a PEFT folder and as a llama.cpp GGUF adapter (read back: same logits), and the bad inputs
// (an adapter for another model, a GGUF adapter of another architecture, a rank larger than a layer).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { openSafetensorsFolder } from "../../src/io/safetensors.js";
import { TrainModel } from "../../src/train/model.js";
import { LoraAdapter, parseLoraSpec } from "../../src/models/adapters/lora.js";
import { readLoraAdapter, writeGgufLora, writePeftAdapter } from "../../src/models/adapters/lora-files.js";
import { loadModel } from "../../src/infer/load.js";
import { attachLora, readAdapterFor } from "../../src/infer/lora.js";
import { writeModelGguf } from "../../src/infer/export.js";
import { mergeLoraWeights } from "../../src/train/adapters/merge.js";

const CASE = path.resolve("../shared/testdata/hf/lora");
setDefaultBackend(createBackend());

interface Ref { inputs: { input_ids: number[][] }; outputs: Record<string, { file: string; shape: number[] }> }
const ref = JSON.parse(readFileSync(path.join(CASE, "reference.json"), "utf8")) as Ref;

function bin(name: string): Float32Array {
  const o = ref.outputs[name]!;
  const b = readFileSync(path.join(CASE, o.file));
  const a = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  assert.equal(a.length, o.shape.reduce((x, y) => x * y, 1), `${o.file} size vs shape`);
  return a;
}

function close(got: Float32Array, want: Float32Array, rel: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let maxRef = 0, maxDiff = 0;
  for (let i = 0; i < want.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(want[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
  }
  assert.ok(maxDiff <= rel * maxRef, `${what}: max |diff| ${maxDiff} > ${rel} × max|ref| ${maxRef}`);
}

const trainLogits = (m: TrainModel, ids: number[]) =>
  noGrad(() => tidy(() => m.logits(Int32Array.from(ids), 1, ids.length).toFloat32Array()));

test("LoRA in the trainer's model: base, adapted (peft) and merged logits within 1e-4 × max|ref|", () => {
  const base = TrainModel.fromHfFolder(path.join(CASE, "base"), "f32");
  const adapter = readLoraAdapter(path.join(CASE, "adapter"), { config: base.config, specs: base.specs });
  const adapted = base.withLora(adapter);
  ref.inputs.input_ids.forEach((ids, i) => {
    close(trainLogits(base, ids), bin(`logits_base_${i}`), 1e-4, `base logits ${i}`);
    close(trainLogits(adapted, ids), bin(`logits_adapter_${i}`), 1e-4, `adapter logits ${i}`);
  });
  // Merged weights equal peft's merge_and_unload within 1e-6.
  const merged = mergeLoraWeights(base.baseSpecs, adapted.baseParams!, [{ adapter, scale: 1 }]);
  const want = openSafetensorsFolder(path.join(CASE, "merged"));
  for (const s of base.baseSpecs) {
    const w = want.readTensor(s.name) as Float32Array;
    const g = merged.get(s.name)!;
    let d = 0;
    for (let k = 0; k < w.length; k++) d = Math.max(d, Math.abs(g[k]! - w[k]!));
    assert.ok(d <= 1e-6, `merged ${s.name}: max |diff| ${d}`);
  }
});

test("LoRA at inference (loader + attachLora): adapted logits match peft at every position", async () => {
  const model = await loadModel(path.join(CASE, "base"));
  attachLora(model, [{ adapter: readAdapterFor(model, path.join(CASE, "adapter"), false), scale: 1 }]);
  ref.inputs.input_ids.forEach((ids, i) => {
    const seq = model.createSequence();
    // All positions: feed one token at a time so each step's logits are that position's.
    const rows: Float32Array[] = [];
    for (const id of ids) rows.push(model.forward([{ seq, tokens: [id] }])[0]!);
    const got = new Float32Array(rows.length * model.vocabSize);
    rows.forEach((r, t) => got.set(r, t * model.vocabSize));
    close(got, bin(`logits_adapter_${i}`), 1e-4, `inference adapter logits ${i}`);
    seq.dispose();
  });
});

test("a PEFT folder and a GGUF adapter written by Zhiyu read back to the same logits", () => {
  const base = TrainModel.fromHfFolder(path.join(CASE, "base"), "f32");
  const info = { config: base.config, specs: base.specs };
  const adapter = readLoraAdapter(path.join(CASE, "adapter"), info);
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-lora-"));
  try {
    writePeftAdapter(path.join(dir, "peft"), adapter, "base");
    writeGgufLora(path.join(dir, "a.gguf"), adapter, info);
    const ids = ref.inputs.input_ids[0]!;
    for (const p of [path.join(dir, "peft"), path.join(dir, "a.gguf")]) {
      const again = readLoraAdapter(p, info);
      assert.equal(again.settings.r, adapter.settings.r);
      assert.equal(again.scale, adapter.scale);
      close(trainLogits(base.withLora(again), ids), bin("logits_adapter_0"), 1e-4, `logits via ${path.basename(p)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad adapters fail before anything runs: another model's adapter, another architecture, rank > layer", () => {
  const gpt2 = TrainModel.fromHfFolder(path.resolve("../shared/testdata/hf/gpt2/model"), "f32");
  assert.throws(() => readLoraAdapter(path.join(CASE, "adapter"), { config: gpt2.config, specs: gpt2.specs }),
    /adapter has a layer 'model\.layers\.0\..*' that the base model does not have/);
  const base = TrainModel.fromHfFolder(path.join(CASE, "base"), "f32");
  const qwen = TrainModel.fromHfFolder(path.resolve("../shared/testdata/hf/qwen2/model"), "f32");
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-lora-"));
  try {
    const file = path.join(dir, "a.gguf");
    writeGgufLora(file, readLoraAdapter(path.join(CASE, "adapter"), base), base);
    assert.throws(() => readLoraAdapter(file, qwen), /architecture 'llama' but the base model is 'qwen2'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const hidden = base.config.hiddenSize;
  assert.throws(() => LoraAdapter.create(base.specs, parseLoraSpec(`r=${hidden + 1},targets=q`), new Rng(1)),
    /LoRA rank \d+ is larger than the layer 'model\.layers\.0\.self_attn\.q_proj\.weight'/);
  assert.throws(() => parseLoraSpec("r=0,targets=q"), /the rank must be a positive integer/);
  assert.throws(() => LoraAdapter.create(base.specs, parseLoraSpec("r=4,targets=q,qq_proj"), new Rng(1)), /target 'qq_proj' matches no linear layer/);
});

test("zhiyu lora merge (HF and GGUF bases) matches peft's merged model; adapters over a GGUF base, f32 and q8_0", async () => {
  const { run } = await import("../../src/cli/commands/lora.js");
  const base = TrainModel.fromHfFolder(path.join(CASE, "base"), "f32");
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-lora-"));
  const log = console.log;
  console.log = () => {};
  try {
    const want = openSafetensorsFolder(path.join(CASE, "merged"));
    const maxDiff = (folder: string, tol: number) => {
      const got = openSafetensorsFolder(folder);
      for (const s of base.specs) {
        const w = want.readTensor(s.name) as Float32Array, g = got.readTensor(s.name) as Float32Array;
        let d = 0;
        for (let k = 0; k < w.length; k++) d = Math.max(d, Math.abs(g[k]! - w[k]!));
        assert.ok(d <= tol, `${folder}: merged ${s.name} max |diff| ${d}`);
      }
    };
    assert.equal(await run(["merge", "--model", path.join(CASE, "base"), "--lora", path.join(CASE, "adapter"), "--out", path.join(dir, "m")]), 0);
    maxDiff(path.join(dir, "m"), 1e-6);
    const merged = TrainModel.fromHfFolder(path.join(dir, "m"), "f32");
    close(trainLogits(merged, ref.inputs.input_ids[0]!), bin("logits_merged_0"), 1e-4, "logits of the merged folder");
    // A GGUF base (llama.cpp row order for Q/K): the adapter is permuted to match, at inference and in the merge.
    for (const type of ["f32", "q8_0"] as const) {
      const file = path.join(dir, `base-${type}.gguf`);
      writeModelGguf(file, base.config, (s) => base.params.get(s.name)!.toFloat32Array(), { type });
      const m = await loadModel(file);
      const ids = ref.inputs.input_ids[1]!;
      const lastLogits = () => { const seq = m.createSequence(); const r = m.forward([{ seq, tokens: ids }])[0]!; seq.dispose(); return r; };
      const plain = lastLogits();
      attachLora(m, [{ adapter: readAdapterFor(m, path.join(CASE, "adapter"), true), scale: 1 }]);
      const adapted = lastLogits();
      const V = m.vocabSize, T = ids.length;
      const refBase = bin("logits_base_1").subarray((T - 1) * V), refAd = bin("logits_adapter_1").subarray((T - 1) * V);
      if (type === "f32") close(adapted, refAd, 1e-4, "GGUF f32 base + adapter");
      else {
        // q8_0 base (QLoRA-style: the base stays encoded): the adapted logits are as close to peft's adapted logits
        // as the q8_0 base is to the f32 base's (quantization error, not a wrong adapter, which moves them by ~1).
        const err = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
        const baseErr = err(plain, refBase), adErr = err(adapted, refAd);
        assert.ok(adErr < 2 * baseErr + 1e-3 && adErr < 0.1, `q8_0 base: adapted error ${adErr} vs base error ${baseErr}`);
      }
    }
    assert.equal(await run(["merge", "--model", path.join(dir, "base-f32.gguf"), "--lora", path.join(CASE, "adapter"), "--out", path.join(dir, "m.gguf")]), 0);
    const fromGguf = await loadModel(path.join(dir, "m.gguf"));
    const seq = fromGguf.createSequence();
    const ids = ref.inputs.input_ids[1]!;
    const last = fromGguf.forward([{ seq, tokens: ids }])[0]!;
    close(last, bin("logits_merged_1").subarray((ids.length - 1) * fromGguf.vocabSize), 1e-4, "merged GGUF logits");
  } finally {
    console.log = log;
    rmSync(dir, { recursive: true, force: true });
  }
});
