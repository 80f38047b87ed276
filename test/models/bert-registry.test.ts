// BERT through the model registry (kind "encoder"): config.json and GGUF `bert` files pick the bert family; its
// load() gives an encoder network whose padded-batch hidden states and heads (pooler, MLM, classifier) reproduce
// transformers' outputs in ../shared/testdata/hf/bert; its training network gives MLM logits [B, T, V];
// loadModel (causal LMs) refuses an encoder with a clear error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { type Tensor, fromArray, fromTypedArray, noGrad, setDefaultBackend } from "../../src/tensor/index.js";
import { MODEL_REGISTRY } from "../../src/models/registry.js";
import type { EncoderNetwork, LoadContext } from "../../src/models/descriptor.js";
import { decodeToF32, readChecked, type ParamSpec } from "../../src/models/weights.js";
import type { Weight } from "../../src/models/embed.js";
import { openSafetensorsFolder } from "../../src/io/safetensors.js";
import { readGguf } from "../../src/io/gguf.js";
import { SafetensorsSource } from "../../src/infer/sources.js";
import { loadAnyModel, loadModel } from "../../src/infer/load.js";
import type { BertConfig } from "../../src/models/bert/config.js";

const backend = createBackend();
setDefaultBackend(backend);
const DIR = path.resolve("../shared/testdata/hf/bert");
const ref = JSON.parse(readFileSync(path.join(DIR, "reference.json"), "utf8")) as {
  inputs: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] };
  outputs: Record<string, { file: string; shape: number[] }>; gguf: { file: string };
};
const { input_ids: ids, token_type_ids: typeIds, attention_mask: mask } = ref.inputs;
const [B, T] = [ids.length, ids[0].length];

function bin(name: string): Float32Array {
  const buf = readFileSync(path.join(DIR, ref.outputs[name].file));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** The family's network for a HF folder, through the registry (the loader's HF path: f32 tensors, renamed files). */
function network(folder: string): { net: EncoderNetwork; config: BertConfig } {
  const dir = path.join(DIR, folder);
  const json = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  const family = MODEL_REGISTRY.ofHfConfig(json, dir);
  assert.equal(family.id, "bert");
  assert.equal(family.kind, "encoder");
  const config = family.configFromHf(json, dir) as BertConfig;
  const st = openSafetensorsFolder(dir);
  const source = new SafetensorsSource(st, null, (n) => family.hfFileName!(config, n, (f) => st.has(f)));
  const ctx: LoadContext = {
    backend, format: "hf", gguf: null, contextLength: undefined,
    loadParams: (specs: readonly ParamSpec[]) => new Map<string, Weight>(specs.map((s) => [s.name, fromTypedArray(decodeToF32(readChecked(source, s), backend), s.shape)])),
  };
  const loaded = family.load(config, ctx);
  assert.equal(loaded.kind, "encoder");
  return { net: (loaded as { network: EncoderNetwork }).network, config };
}

/** max |got − want| / max |want| where mask[b][t] = 1 (per-position outputs) or over all rows. */
function relErr(got: Float32Array, want: Float32Array, width: number, perPosition: boolean): number {
  let maxRef = 0, maxDiff = 0;
  for (let r = 0; r < want.length / width; r++) {
    if (perPosition && mask[Math.floor(r / T)][r % T] === 0) continue;
    for (let k = 0; k < width; k++) {
      maxRef = Math.max(maxRef, Math.abs(want[r * width + k]));
      maxDiff = Math.max(maxDiff, Math.abs(got[r * width + k] - want[r * width + k]));
    }
  }
  return maxDiff / maxRef;
}

const input = {
  ids: Int32Array.from(ids.flat()), tokenTypeIds: Int32Array.from(typeIds.flat()), attentionMask: Uint8Array.from(mask.flat()), batch: B, length: T,
};

test("registry: config.json and GGUF bert pick the bert encoder family", () => {
  assert.equal(MODEL_REGISTRY.ofGgufArchitecture("bert", "x.gguf").id, "bert");
  const c = MODEL_REGISTRY.byId("bert").configFromGguf(readGguf(path.join(DIR, ref.gguf.file)));
  assert.equal(c.hiddenSize, ref.outputs.last_hidden_state.shape[2]);
});

test("encoder network: padded hidden states [B, T, D] and the pooler, MLM and classifier heads match transformers", () => {
  noGrad(() => {
    const base = network("base");
    const h: Tensor = base.net.encode(input);
    assert.deepEqual(h.shape, ref.outputs.last_hidden_state.shape);
    const d = h.shape[2];
    assert.ok(relErr(h.toFloat32Array(), bin("last_hidden_state"), d, true) <= 1e-4);
    assert.ok(relErr(base.net.heads.pooler(h).toFloat32Array(), bin("pooler_output"), d, false) <= 1e-4);
    const mlm = network("mlm");
    const logits = mlm.net.heads.mlm(mlm.net.encode(input));
    assert.deepEqual(logits.shape, ref.outputs.mlm_logits.shape);
    assert.ok(relErr(logits.toFloat32Array(), bin("mlm_logits"), ref.outputs.mlm_logits.shape[2], true) <= 1e-4);
    const cls = network("seqcls");
    const out = cls.net.heads.classifier(cls.net.encode(input));
    assert.ok(relErr(out.toFloat32Array(), bin("seqcls_logits"), ref.outputs.seqcls_logits.shape[1], false) <= 1e-4);
  });
});

test("training network: ids [B, T] → MLM logits [B, T, V] equal to transformers' on an unpadded row", () => {
  const { config } = network("mlm");
  const family = MODEL_REGISTRY.byId("bert");
  const st = openSafetensorsFolder(path.join(DIR, "mlm"));
  const source = new SafetensorsSource(st, null, (n) => family.hfFileName!(config, n, (f) => st.has(f)));
  const params = new Map(family.paramSpecs(config).map((s) => [s.name, fromTypedArray(decodeToF32(readChecked(source, s), backend), s.shape)]));
  const row = 0; // row 0 has no padding
  assert.ok(mask[row].every((m) => m === 1));
  const logits = noGrad(() => family.trainable(config, params, { matmulDtype: "f32" }).forward(fromArray(ids[row], [1, T], { dtype: "i32" })));
  const v = ref.outputs.mlm_logits.shape[2];
  assert.deepEqual(logits.shape, [1, T, v]);
  assert.ok(relErr(logits.toFloat32Array(), bin("mlm_logits").subarray(0, T * v), v, true) <= 1e-4);
});

test("loadModel (causal LMs) refuses an encoder naming its kind; loadAnyModel serves it as an EncoderModel", async () => {
  await assert.rejects(loadModel(path.join(DIR, "base")), /bert is an encoder model; generation, chat and completions need a causal LM/);
  for (const file of [path.join(DIR, "base"), path.join(DIR, ref.gguf.file)]) {
    const m = await loadAnyModel(file);
    assert.equal(m.kind, "encoder");
    if (m.kind !== "encoder") continue;
    const d = ref.outputs.last_hidden_state.shape[2];
    const items = ids.map((row, b) => ({ tokens: row.filter((_, t) => mask[b][t] === 1), tokenTypeIds: typeIds[b].filter((_, t) => mask[b][t] === 1) }));
    const want = bin("last_hidden_state");
    m.encode(items).forEach((h, b) => {
      const w = want.subarray(b * T * d, b * T * d + h.length);
      let maxRef = 0, maxDiff = 0;
      for (let i = 0; i < w.length; i++) { maxRef = Math.max(maxRef, Math.abs(w[i])); maxDiff = Math.max(maxDiff, Math.abs(h[i] - w[i])); }
      assert.ok(maxDiff <= 1e-4 * maxRef, `${path.basename(file)} row ${b}: ${maxDiff}`);
    });
    m.dispose();
  }
});
