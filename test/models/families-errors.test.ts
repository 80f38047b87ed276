// Bad input for the issue-22 families, each a clear error naming the tensor or field: an architecture no family
// claims (HF and GGUF), an MoE GGUF with an expert tensor missing, expert counts in the config that disagree with the
// tensors (HF: a missing expert named by tensor; GGUF: the router and the stacked experts), top-k over the expert
// count, an unsupported RoPE type. Each file is a copy of a ../shared/testdata/hf case with one thing broken.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { type GgufValue, readGguf, readTensorBytes } from "../../src/io/gguf.js";
import { writeGguf } from "../../src/io/gguf-writer.js";
import { loadModel } from "../../src/infer/load.js";
import { ModelLoadError } from "../../src/models/weights.js";
import { HF_DIR } from "./families-reference.js";

setDefaultBackend(createBackend());
const tmp = mkdtempSync(path.join(tmpdir(), "zhiyu-family-errors-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of a case's HF folder with config.json edited. */
function hfWith(name: string, edit: (config: Record<string, unknown>) => void): string {
  const src = path.join(HF_DIR, name, "model");
  const dir = path.join(tmp, `${name}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  for (const f of ["model.safetensors", "tokenizer.json", "tokenizer_config.json"]) copyFileSync(path.join(src, f), path.join(dir, f));
  const config = JSON.parse(readFileSync(path.join(src, "config.json"), "utf8"));
  edit(config);
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
  return dir;
}

/** A copy of a case's GGUF with metadata edited and tensors dropped. */
function ggufWith(name: string, meta: Record<string, GgufValue>, drop: string[] = []): string {
  const f = readGguf(path.join(HF_DIR, name, "gguf", "model-f32.gguf"));
  const file = path.join(tmp, `${name}-${Math.random().toString(36).slice(2)}.gguf`);
  const metadata = [...f.metadata].map(([k, v]) => [k, k in meta ? meta[k]! : v, f.metadataTypes.get(k)] as const);
  for (const [k, v] of Object.entries(meta)) if (!f.metadata.has(k)) metadata.push([k, v, undefined]);
  const tensors = f.tensors.filter((t) => !drop.includes(t.name)).map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: readTensorBytes(f, t) }));
  writeGguf(file, { metadata, tensors });
  return file;
}

const refused = (re: RegExp) => (e: Error) => e instanceof ModelLoadError && re.test(e.message);

test("an unknown architecture is refused naming it and listing the supported ones", async () => {
  const dir = hfWith("qwen3", (c) => { c.model_type = "qwen9"; c.architectures = ["Qwen9ForCausalLM"]; });
  await assert.rejects(loadModel(dir), refused(/model_type 'qwen9' \/ architectures 'Qwen9ForCausalLM' is not supported \(supported model_type: .*qwen3.*gemma2.*phi3.*glm4/));
  const file = ggufWith("qwen3", { "general.architecture": "qwen9" });
  await assert.rejects(loadModel(file), refused(/architecture 'qwen9' is not supported \(supported: .*qwen3moe/));
});

test("an MoE GGUF with a missing expert tensor names the tensor", async () => {
  const file = ggufWith("qwen3_moe", {}, ["blk.1.ffn_up_exps.weight"]);
  await assert.rejects(loadModel(file), refused(/missing tensor 'blk\.1\.ffn_up_exps\.weight'.*qwen3moe\.expert_count = 4/));
});

test("expert counts that disagree with the tensors are refused naming the tensor or the field", async () => {
  // HF: the config claims one more expert than the folder holds.
  const hf = hfWith("qwen3_moe", (c) => { c.num_experts = 5; delete c.num_local_experts; });
  await assert.rejects(loadModel(hf), refused(/(mlp\.gate\.weight|mlp\.experts\.4\.gate_proj\.weight).*expected \[5, 64\]|missing tensor 'model\.layers\.0\.mlp\.experts\.4/));
  // GGUF: the router and the stacked experts hold 4.
  await assert.rejects(loadModel(ggufWith("qwen3_moe", { "qwen3moe.expert_count": 5 })), refused(/blk\.0\.ffn_gate_inp\.weight.*expected \[5, 64\]/));
  await assert.rejects(loadModel(ggufWith("mixtral", { "llama.expert_count": 5 }, ["blk.0.ffn_gate_inp.weight"])),
    refused(/blk\.0\.ffn_gate_inp\.weight/));
  // top-k over the expert count.
  await assert.rejects(loadModel(ggufWith("qwen3_moe", { "qwen3moe.expert_used_count": 9 })),
    refused(/'qwen3moe\.expert_used_count' = 9 must be between 1 and qwen3moe\.expert_count = 4/));
  await assert.rejects(loadModel(hfWith("mixtral", (c) => { c.num_experts_per_tok = 0; })),
    refused(/'num_experts_per_tok' = 0 must be between 1 and num_local_experts = 4/));
});

test("an unsupported RoPE type and a non-MoE Qwen3-MoE layout are refused by name", async () => {
  await assert.rejects(loadModel(hfWith("phi3", (c) => { (c.rope_parameters as Record<string, unknown>).rope_type = "longrope"; })),
    refused(/rope type 'longrope' is not supported \(supported: default, linear, llama3, yarn, dynamic\)/));
  await assert.rejects(loadModel(hfWith("qwen3_moe", (c) => { c.mlp_only_layers = [1]; })), refused(/'mlp_only_layers'/));
});
