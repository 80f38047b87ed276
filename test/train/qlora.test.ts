// LoRA training over a frozen GGUF base (QLoRA-style: src/infer/frozen-base.ts keeps the file's encoded matrices):
// against peft (../shared/testdata/hf/lora), a GGUF f32 copy of the base — Q/K rows in llama.cpp's permuted order —
// read as a frozen base with peft's adapter gives peft's adapted logits within 1e-4 × max|ref| and the same adapter
// gradients as the Hugging Face folder; a q8_0 base stays encoded and is as close to peft as q8_0 allows; and
// `zhiyu sft --model BASE.gguf --lora …` trains (the loss falls) and writes the adapter, while `sft` without --lora
// on a GGUF is refused with the conversion command.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { isQuantWeight, noGrad, setDefaultBackend, tidy, type Tensor } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { readLoraAdapter } from "../../src/models/adapters/lora-files.js";
import { writeModelGguf } from "../../src/infer/export.js";
import { readFrozenBase } from "../../src/infer/frozen-base.js";
import { redirectCliOutput } from "../cli-output.js";

const CASE = path.resolve("../shared/testdata/hf/lora");
const backend = createBackend();
setDefaultBackend(backend);

interface Ref { inputs: { input_ids: number[][] }; outputs: Record<string, { file: string; shape: number[] }> }
const ref = JSON.parse(readFileSync(path.join(CASE, "reference.json"), "utf8")) as Ref;

function bin(name: string): Float32Array {
  const o = ref.outputs[name]!;
  const b = readFileSync(path.join(CASE, o.file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

const maxAbs = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
const logits = (m: TrainModel, ids: number[]) => noGrad(() => tidy(() => m.logits(Int32Array.from(ids), 1, ids.length).toFloat32Array()));

/** Gradients of the adapter tensors for a next-token loss over `ids`. */
function adapterGrads(m: TrainModel, ids: number[]): Map<string, Float32Array> {
  for (const t of m.params.values()) t.grad = null;
  tidy(() => {
    const inputs = Int32Array.from(ids.slice(0, -1)), targets = Int32Array.from(ids.slice(1));
    m.loss(inputs, targets, 1, inputs.length).backward();
  });
  return new Map([...m.params].map(([name, t]) => [name, (t.grad as Tensor).toFloat32Array()]));
}

test("a GGUF base read frozen: peft's adapted logits and the HF folder's adapter gradients; q8_0 stays encoded", () => {
  const hf = TrainModel.fromHfFolder(path.join(CASE, "base"), "f32");
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-qlora-"));
  try {
    const viaHf = hf.withLora(readLoraAdapter(path.join(CASE, "adapter"), { config: hf.config, specs: hf.specs }));
    const ids = ref.inputs.input_ids[0]!;
    const wantGrads = adapterGrads(viaHf, ids);
    for (const type of ["f32", "q8_0"] as const) {
      const file = path.join(dir, `base-${type}.gguf`);
      writeModelGguf(file, hf.config, (s) => hf.params.get(s.name)!.toFloat32Array(), { type });
      const base = readFrozenBase(file, backend);
      const encoded = [...base.params.values()].filter((w) => isQuantWeight(w)).length;
      if (type === "q8_0") assert.ok(encoded > 0, "q8_0 matrices stay encoded");
      const specs = TrainModel.specsOf(base.hfConfig, file);
      const adapter = readLoraAdapter(path.join(CASE, "adapter"), { config: hf.config, specs });
      const model = TrainModel.withFrozenBase(base.hfConfig, base.params, "f32", adapter);
      ref.inputs.input_ids.forEach((row, i) => {
        const want = bin(`logits_adapter_${i}`), got = logits(model, row);
        // f32: exact up to float order; q8_0: the base's quantization error (peft's adapter moves logits by ~1).
        const tol = type === "f32" ? 1e-4 * maxAbs(want) : 0.05 * maxAbs(want);
        assert.ok(maxDiff(got, want) <= tol, `${type} base, row ${i}: max |diff| ${maxDiff(got, want)} > ${tol}`);
      });
      const grads = adapterGrads(model, ids);
      for (const [name, want] of wantGrads) {
        const got = grads.get(name)!;
        const tol = type === "f32" ? 1e-4 * maxAbs(want) + 1e-7 : 0.1 * maxAbs(want) + 1e-6;
        assert.ok(maxDiff(got, want) <= tol, `${type} base: gradient of ${name} max |diff| ${maxDiff(got, want)} > ${tol}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("zhiyu sft --model BASE.gguf --lora: the loss falls and the adapter is written; without --lora it is refused", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-qlora-sft-"));
  try {
    const file = path.join(dir, "base.gguf");
    const conv = spawnSync(process.execPath, ["bin/zhiyu.mjs", "convert", "--from", "models/zhiyu-mini", "--to", file, "--type", "q8_0"], { encoding: "utf8" });
    assert.equal(conv.status, 0, conv.stderr);
    const data = path.join(dir, "chats.jsonl");
    const chats = Array.from({ length: 24 }, (_, i) => JSON.stringify({ messages: [
      { role: "user", content: `What is ${i} plus ${i}?` }, { role: "assistant", content: `${i} plus ${i} is ${2 * i}.` }] }));
    writeFileSync(data, chats.join("\n") + "\n");
    const run = (...extra: string[]) => spawnSync(process.execPath, ["bin/zhiyu.mjs", "sft", "--model", file, "--data", data, "--out", path.join(dir, "out"),
      "--seq", "64", "--batch", "4", "--steps", "12", "--lr", "3e-3", "--val-every", "0", "--no-spike-guard", ...extra],
    { encoding: "utf8" });
    const refused = run();
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /a GGUF base trains LoRA adapters only .*zhiyu convert --from/s);
    const r = run("--lora", "r=8,alpha=16,targets=q,k,v,o,gate,up,down", "--threads", "2");
    assert.equal(r.status, 0, r.stderr);
    const metrics = readFileSync(path.join(dir, "out", "metrics.jsonl"), "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const losses = metrics.filter((x) => typeof x.loss === "number").map((x) => x.loss as number);
    assert.ok(losses.length >= 10, r.stdout);
    const first = (losses[0]! + losses[1]!) / 2, last = (losses.at(-1)! + losses.at(-2)!) / 2;
    assert.ok(last < 0.8 * first, `the loss falls over a frozen q8_0 base: ${losses.map((x) => x.toFixed(3)).join(" ")}`);
    assert.ok(existsSync(path.join(dir, "out", "adapter", "adapter_config.json")) && existsSync(path.join(dir, "out", "adapter.gguf")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("zhiyu dpo --lora over an f32 GGUF of the trl case: the same losses as over its Hugging Face folder", async () => {
  const { run } = await import("../../src/cli/commands/dpo.js");
  const DPO = path.resolve("../shared/testdata/hf/dpo");
  const pairs = (JSON.parse(readFileSync(path.join(DPO, "reference.json"), "utf8")) as { inputs: { pairs: unknown[] } }).inputs.pairs;
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-qlora-dpo-"));
  let restore = () => {};
  try {
    const file = path.join(dir, "model.gguf");
    const conv = spawnSync(process.execPath, ["bin/zhiyu.mjs", "convert", "--from", path.join(DPO, "model"), "--to", file, "--type", "f32"], { encoding: "utf8" });
    assert.equal(conv.status, 0, conv.stderr);
    const data = path.join(dir, "pairs.jsonl");
    writeFileSync(data, pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");
    restore = redirectCliOutput(() => {});
    const losses = async (model: string, out: string) => {
      assert.equal(await run(["--model", model, "--data", data, "--out", path.join(dir, out), "--steps", "3", "--batch", "3", "--val-every", "0",
        "--lr", "1e-2", "--warmup", "0", "--lora", "r=4,alpha=8,targets=q,k,v,o", "--beta", "0.1"]), 0);
      return readFileSync(path.join(dir, out, "metrics.jsonl"), "utf8").split("\n").filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l)).filter((x) => typeof x.loss === "number").map((x) => x.loss as number);
    };
    const fromFolder = await losses(path.join(DPO, "model"), "hf"), fromGguf = await losses(file, "gguf");
    assert.equal(fromGguf.length, 3);
    fromGguf.forEach((l, i) => assert.ok(Math.abs(l - fromFolder[i]!) <= 1e-5, `step ${i}: ${l} vs ${fromFolder[i]}`));
  } finally {
    restore();
    rmSync(dir, { recursive: true, force: true });
  }
});
