// Model kinds through the registry and the loader: two toy families — an encoder and a seq2seq model, each one
// descriptor as docs/architecture.md's "Adding a family" describes — are registered in a registry of their own,
// written as Hugging Face folders, and loaded by the unchanged loadAnyModel. The encoder gives hidden states and a
// head, the seq2seq model encodes once and then decodes step by step with the scheduler's forward() contract, and
// every use that needs another kind (generation on an encoder, the batching scheduler) is refused by name.
// Expected values are computed here from the numbers written to the files, not by the code under test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { type Tensor, fromTypedArray, keep, setDefaultBackend } from "../../src/tensor/index.js";
import { writeSafetensors } from "../../src/io/safetensors.js";
import { KvCache } from "../../src/models/kv-cache.js";
import { ModelLoadError, type ParamSpec } from "../../src/models/weights.js";
import {
  type DecoderState, type EncoderInput, type FamilyConfig, type FamilyDescriptor, PLAIN_LAYOUT,
} from "../../src/models/descriptor.js";
import { type AnyFamily, MODEL_REGISTRY, ModelRegistry } from "../../src/models/registry.js";
import { loadAnyModel, loadModel } from "../../src/infer/load.js";
import { type ServedModel, type TextModel, UnsupportedKindError, requireKind } from "../../src/infer/model-api.js";
import { Scheduler } from "../../src/infer/scheduler.js";
import { Rng } from "../../src/core/rng.js";

setDefaultBackend(createBackend({ kind: "ref" }));
const V = 11, D = 4;

function toyConfig(json: Record<string, unknown>, where: string, architecture: string): FamilyConfig {
  const n = (k: string) => {
    const v = json[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new ModelLoadError(`${where}: '${k}' must be a positive integer`);
    return v;
  };
  return { architecture, vocabSize: n("vocab_size"), hiddenSize: n("hidden_size"), numLayers: 0, contextLength: n("max_position_embeddings") };
}

/** The parts of a descriptor the toys share: no GGUF form, no presets, no training. */
function toyDescriptor(id: string, kind: "encoder" | "seq2seq", specs: (c: FamilyConfig) => ParamSpec[]) {
  return {
    id, kind, hfModelTypes: [id], hfArchitectures: [], ggufArchitectures: [], variants: [id],
    configFromHf: (json: Record<string, unknown>, where: string) => toyConfig(json, where, id),
    configFromGguf: (): FamilyConfig => { throw new ModelLoadError(`${id} has no GGUF form`); },
    hfConfigJson: (c: FamilyConfig) => ({ model_type: id, vocab_size: c.vocabSize, hidden_size: c.hiddenSize, max_position_embeddings: c.contextLength }),
    ggufMetadata: () => [],
    paramSpecs: specs,
    ggufName: () => null,
    ...PLAIN_LAYOUT,
    presets: [],
    presetConfig: (): FamilyConfig => { throw new RangeError(`${id} has no presets`); },
    trainable: () => { throw new Error(`${id} is not trainable`); },
  };
}

const f32 = (t: Tensor | undefined) => t!.toFloat32Array();

// An encoder: hidden state = word embedding + token-type embedding; head "sum" adds each hidden vector up.
const toyEncoder: FamilyDescriptor = {
  ...toyDescriptor("toy-encoder", "encoder", (c) => [
    { name: "word.weight", shape: [c.vocabSize, c.hiddenSize], kind: "matrix", init: "normal" },
    { name: "type.weight", shape: [2, c.hiddenSize], kind: "matrix", init: "normal" },
  ]),
  load(config, ctx) {
    const params = ctx.loadParams(this.paramSpecs(config));
    const word = f32(params.get("word.weight") as Tensor), type = f32(params.get("type.weight") as Tensor);
    const d = config.hiddenSize;
    const encode = (x: EncoderInput) => {
      const out = new Float32Array(x.batch * x.length * d);
      for (let i = 0; i < x.batch * x.length; i++) {
        for (let j = 0; j < d; j++) out[i * d + j] = word[x.ids[i]! * d + j]! + type[(x.tokenTypeIds?.[i] ?? 0) * d + j]!;
      }
      return fromTypedArray(out, [x.batch, x.length, d]);
    };
    const sum = (h: Tensor) => {
      const x = h.toFloat32Array();
      const out = new Float32Array(x.length / d);
      for (let i = 0; i < out.length; i++) for (let j = 0; j < d; j++) out[i] += x[i * d + j]!;
      return fromTypedArray(out, h.shape.slice(0, -1));
    };
    return { kind: "encoder", network: { params, encode, heads: { sum } } };
  },
};

// A seq2seq model: encoder output = embeddings; the decoder state's cross K is the mean of the source's rows; a
// step's logits are E · (E[last id] + cross K).
const toySeq2Seq: FamilyDescriptor = {
  ...toyDescriptor("toy-seq2seq", "seq2seq", (c) => [{ name: "shared.weight", shape: [c.vocabSize, c.hiddenSize], kind: "matrix", init: "normal" }]),
  load(config, ctx) {
    const params = ctx.loadParams(this.paramSpecs(config));
    const e = f32(params.get("shared.weight") as Tensor);
    const d = config.hiddenSize, v = config.vocabSize;
    const encode = (x: EncoderInput) => {
      const out = new Float32Array(x.batch * x.length * d);
      for (let i = 0; i < x.batch * x.length; i++) out.set(e.subarray(x.ids[i]! * d, (x.ids[i]! + 1) * d), i * d);
      return fromTypedArray(out, [x.batch, x.length, d]);
    };
    const createDecoderState = (enc: Tensor, maxLength: number): DecoderState => {
      const h = enc.toFloat32Array(), s = h.length / d, m = new Float32Array(d);
      for (let t = 0; t < s; t++) for (let j = 0; j < d; j++) m[j] += h[t * d + j]! / s;
      const k = keep(fromTypedArray(m, [1, d]));
      const selfCache = new KvCache({ numLayers: 1, numKvHeads: 1, headDim: d, maxLength });
      return { selfCache, crossK: [k], crossV: [k], dispose: () => { selfCache.dispose(); k.dispose(); } };
    };
    const decode = (items: ReadonlyArray<{ ids: readonly number[]; state: DecoderState }>) => {
      const out = new Float32Array(items.length * v);
      items.forEach((it, i) => {
        it.state.selfCache.reserve(it.ids.length);
        it.state.selfCache.length += it.ids.length;
        const last = it.ids[it.ids.length - 1]!, m = it.state.crossK[0]!.toFloat32Array();
        for (let w = 0; w < v; w++) for (let j = 0; j < d; j++) out[i * v + w] += e[w * d + j]! * (e[last * d + j]! + m[j]!);
      });
      return fromTypedArray(out, [items.length, v]);
    };
    return { kind: "seq2seq", network: { params, decoderStartTokenId: 0, encode, createDecoderState, decode } };
  },
};

const registry = new ModelRegistry([...MODEL_REGISTRY.all, toyEncoder, toySeq2Seq] as AnyFamily[]);
const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-kinds-"));

function writeFolder(family: FamilyDescriptor): { dir: string; values: Map<string, Float32Array> } {
  const config: FamilyConfig = { architecture: family.id, vocabSize: V, hiddenSize: D, numLayers: 0, contextLength: 16 };
  const rng = new Rng(7);
  const values = new Map(family.paramSpecs(config).map((s) => [s.name, Float32Array.from({ length: s.shape[0]! * s.shape[1]! }, () => rng.normal(0, 1))]));
  const dir = path.join(tmp, family.id);
  mkdirSync(dir);
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(family.hfConfigJson(config)));
  writeSafetensors(path.join(dir, "model.safetensors"), family.paramSpecs(config).map((s) => ({ name: s.name, dtype: "F32", shape: s.shape, data: values.get(s.name)! })));
  return { dir, values };
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-5, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

test("an encoder family loads through the unchanged loader: hidden states, a head, and refusals by kind", async () => {
  const { dir, values } = writeFolder(toyEncoder);
  const model = await loadAnyModel(dir, { registry });
  assert.equal(model.kind, "encoder");
  const enc = requireKind(model, ["encoder"], "embeddings");
  const w = values.get("word.weight")!, ty = values.get("type.weight")!;
  const items = [{ tokens: [3, 1, 4], tokenTypeIds: [0, 0, 1] }, { tokens: [9] }];
  const hidden = enc.encode(items);
  items.forEach((it, b) => {
    const want = it.tokens.flatMap((id, t) => Array.from({ length: D }, (_, j) => w[id * D + j]! + ty[(it.tokenTypeIds?.[t] ?? 0) * D + j]!));
    close(hidden[b]!, want, `hidden[${b}]`);
  });
  const sums = enc.runHead("sum", [items[0]!]);
  close(sums[0]!, [0, 1, 2].map((t) => hidden[0]!.slice(t * D, (t + 1) * D).reduce((a, x) => a + x, 0)), "head sum");
  close(enc.embed([9]), hidden[1]!, "embed of one token");
  assert.throws(() => enc.runHead("mlm", items), /no head 'mlm' \(heads: sum\)/);
  assert.throws(() => requireKind(model, ["causal-lm"], "chat completions"), (e: Error) => e instanceof UnsupportedKindError &&
    /chat completions: model 'toy-encoder' \(toy-encoder\) is an encoder model; chat completions needs a causal-lm model/.test(e.message));
  assert.throws(() => new Scheduler(model as unknown as TextModel, { parallel: 1, maxQueue: 1 }), /batching scheduler.*is an encoder model/);
  await assert.rejects(loadModel(dir, { registry }), (e: Error) => e instanceof ModelLoadError &&
    e.message.includes(dir) && /toy-encoder is an encoder model; generation, chat and completions need a causal LM \(causal-lm families: llama, gpt2[^)]*\)/.test(e.message));
  // The default registry does not know the toy: the usual refusal, naming the file and listing what is supported.
  await assert.rejects(loadAnyModel(dir), /config\.json: model_type 'toy-encoder' .* is not supported \(supported model_type: llama/);
  model.dispose();
});

test("a seq2seq family encodes once, then decodes with the causal forward() contract", async () => {
  const { dir, values } = writeFolder(toySeq2Seq);
  const model: ServedModel = await loadAnyModel(dir, { registry });
  const s2s = requireKind(model, ["seq2seq"], "translation");
  const e = values.get("shared.weight")!;
  const source = [5, 2, 7];
  const mean = Array.from({ length: D }, (_, j) => source.reduce((a, id) => a + e[id * D + j]!, 0) / source.length);
  const want = (last: number) => Array.from({ length: V }, (_, w) => Array.from({ length: D }, (_, j) => e[w * D + j]! * (e[last * D + j]! + mean[j]!)).reduce((a, x) => a + x, 0));
  const seq = s2s.createSequence(source);
  const other = s2s.createSequence([1]);
  let [logits] = s2s.forward([{ seq, tokens: [s2s.decoderStartTokenId] }]);
  close(logits!, want(0), "first step");
  assert.equal(seq.length, 1);
  [logits] = s2s.forward([{ seq, tokens: [4] }, { seq: other, tokens: [0, 6] }]);
  close(logits!, want(4), "second step");
  assert.deepEqual([seq.length, other.length], [2, 2]);
  seq.truncate(1);
  assert.equal(seq.length, 1);
  assert.throws(() => s2s.forward([{ seq, tokens: [V] }]), /token id 11 is outside the vocabulary/);
  close(s2s.embed(source), mean, "embed = mean of the encoder's hidden states");
  assert.throws(() => requireKind(model, ["causal-lm", "encoder"], "embeddings"), /needs a causal-lm or an encoder model/);
  seq.dispose();
  other.dispose();
  model.dispose();
});
