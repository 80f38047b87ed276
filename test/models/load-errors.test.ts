// loadModel surfaces clear errors for model files that parse but do not match their config: a missing tensor,
// a tensor of the wrong shape, an unsupported architecture, and a truncated GGUF (the reader's error passes
// through). Variants are written from dev-llama-tok512-f32.gguf into a temp folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { readGguf, readTensorBytes } from "../../src/io/gguf.js";
import { writeGguf } from "../../src/io/gguf-writer.js";

setDefaultBackend(createBackend({ kind: "ref" }));
const source = path.resolve("../shared/testdata/gguf/dev-llama-tok512-f32.gguf");
const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-load-"));

function variant(name: string, edit: { drop?: string; metadata?: Record<string, number | string> }): string {
  const f = readGguf(source);
  const metadata = [...f.metadata].map(([k, v]) => {
    const override = edit.metadata?.[k];
    return [k, override ?? v, override === undefined ? f.metadataTypes.get(k) : undefined] as const;
  });
  const tensors = f.tensors.filter((t) => t.name !== edit.drop)
    .map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: readTensorBytes(f, t) }));
  const out = path.join(tmp, name);
  writeGguf(out, { metadata, tensors });
  return out;
}

test("a missing tensor is named in GGUF and HF spelling", async () => {
  const p = variant("missing.gguf", { drop: "blk.1.ffn_up.weight" });
  await assert.rejects(loadModel(p), /missing tensor 'blk\.1\.ffn_up\.weight' \(model\.layers\.1\.mlp\.up_proj\.weight, expected shape \[192, 64\]\)/);
});

test("a tensor whose shape disagrees with the config is named with both shapes", async () => {
  const p = variant("shape.gguf", { metadata: { "llama.feed_forward_length": 160 } });
  await assert.rejects(loadModel(p), /tensor 'blk\.0\.ffn_gate\.weight' \(model\.layers\.0\.mlp\.gate_proj\.weight\) has shape \[192, 64\], expected \[160, 64\]/);
});

test("an unsupported architecture and a truncated file give clear errors", async () => {
  const p = variant("arch.gguf", { metadata: { "general.architecture": "mamba" } });
  await assert.rejects(loadModel(p), /architecture 'mamba' is not supported/);
  const bytes = readFileSync(source);
  const cut = path.join(tmp, "truncated.gguf");
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await assert.rejects(loadModel(cut), (err: Error) => err.name === "GgufError" && /truncated\.gguf/.test(err.message));
  await assert.rejects(loadModel(path.join(tmp, "nope.gguf")), /does not exist/);
});

test("a safetensors folder with a missing tensor names it", async () => {
  const hf = path.resolve("../shared/testdata/gguf/dev-llama-tok512-f32.hf");
  const dir = path.join(tmp, "hf");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "config.json"), readFileSync(path.join(hf, "config.json")));
  const { openSafetensors, writeSafetensors } = await import("../../src/io/safetensors.js");
  const f = openSafetensors(path.join(hf, "model.safetensors"));
  const kept = [...f.tensors.values()].filter((t) => t.name !== "model.norm.weight")
    .map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: f.readTensorBytes(t.name) }));
  writeSafetensors(path.join(dir, "model.safetensors"), kept);
  await assert.rejects(loadModel(dir), /missing tensor 'model\.norm\.weight'/);
});
