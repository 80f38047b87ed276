// zhiyu serve --lora: two LoRA adapters and the base model served from one loaded model, chosen per request (by
// `model` name, vLLM style, or llama-server's `lora` field), decoded together in the same batched steps. Each
// served reply must equal what `zhiyu generate --lora` gives for that adapter alone (greedy text, and the first
// position's log-probabilities from generate's --logits-out); the base request must equal plain `generate`. The
// adapters are seeded random ones with B ≠ 0 (written as PEFT folders), so they change the output and the
// comparison can fail. stories260K.gguf is the base (f32 GGUF: the adapters' Q/K rows go through llama.cpp's order).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Rng } from "../../src/core/rng.js";
import { loadModel, type LoadedModel } from "../../src/infer/load.js";
import { attachLoraSlots, isGgufPath, parseLoraArg, readAdapterFor } from "../../src/infer/lora.js";
import { adapterKey } from "../../src/infer/lora-slots.js";
import type { ForwardItem } from "../../src/infer/model-api.js";
import { LoraAdapter, makeModule, parseLoraSpec } from "../../src/models/adapters/lora.js";
import { writePeftAdapter } from "../../src/models/adapters/lora-files.js";
import { MODEL_REGISTRY } from "../../src/models/registry.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { run as generate } from "../../src/cli/commands/generate.js";

const MODEL = path.resolve("../shared/testdata/gguf/stories260K.gguf");
const PROMPT = "Once upon a time, a little";
const TOKENS = 12;
let dir: string;
let model: LoadedModel;
let srv: RunningServer;
/** Adapter sets of the items of every forward pass the server ran. */
const passes: string[][] = [];

/** A seeded adapter with B ≠ 0 on every projection of the model. */
function randomAdapter(m: LoadedModel, seed: number, out: string): void {
  const specs = MODEL_REGISTRY.ofConfig(m.config).paramSpecs(m.config);
  const rng = new Rng(seed);
  const fresh = LoraAdapter.create(specs, parseLoraSpec("r=4,alpha=8,targets=q,k,v,o,gate,up,down"), rng);
  const modules = fresh.modules.map((mod) => makeModule(mod.weight, mod.inDim, mod.outDim, mod.a.toFloat32Array(),
    Float32Array.from({ length: mod.outDim * 4 }, () => rng.uniform(-0.3, 0.3)), 4));
  writePeftAdapter(out, new LoraAdapter(fresh.settings, modules), "stories260K");
}

async function generateAlone(loras: string[]): Promise<{ text: string; logprobs: Float32Array }> {
  const logitsFile = path.join(dir, `logits-${loras.join("+").replace(/[^a-z0-9]/gi, "_")}.bin`);
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => { lines.push(s); };
  try {
    await generate(["--model", MODEL, "--ctx", "256", "--prompt", PROMPT, "--max-tokens", String(TOKENS), "--temperature", "0",
      "--json", "--logits-out", logitsFile, ...loras.flatMap((l) => ["--lora", l])]);
  } finally {
    console.log = log;
  }
  const b = readFileSync(logitsFile);
  const logits = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const logZ = max + Math.log(sum);
  return { text: (JSON.parse(lines.at(-1)!) as { text: string }).text, logprobs: logits.map((v) => v - logZ) };
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-serve-lora-"));
  model = await loadModel(MODEL, { contextLength: 256 });
  randomAdapter(model, 11, path.join(dir, "alpha"));
  randomAdapter(model, 22, path.join(dir, "beta"));
  const args = [`alpha=${path.join(dir, "alpha")}`, `beta=${path.join(dir, "beta")}:0.5`].map((a) => parseLoraArg(a));
  attachLoraSlots(model, args.map((l) => ({ name: l.name, adapter: readAdapterFor(model, l.path, isGgufPath(MODEL)), scale: l.scale })));
  const forward = model.forward.bind(model);
  model.forward = (items: readonly ForwardItem[]) => {
    passes.push(items.map((it) => adapterKey(it.adapters)));
    return forward(items);
  };
  srv = await startServer({ model, port: 0, parallel: 4, prefixReuse: false });
});
after(async () => {
  await srv.close();
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

interface Completion { choices: { text: string; logprobs: { top_logprobs: Record<string, number>[]; token_logprobs: number[] } }[] }

async function complete(body: object): Promise<Completion> {
  const r = await fetch(`${srv.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: PROMPT, max_tokens: TOKENS, temperature: 0, logprobs: 5, ...body }) });
  const json = await r.json();
  assert.equal(r.status, 200, JSON.stringify(json));
  return json as Completion;
}

/** The served first-position top-5 log-probabilities against generate's logits at that position. */
function sameFirstLogprobs(got: Completion, want: Float32Array, what: string): void {
  const top = got.choices[0]!.logprobs.top_logprobs[0]!;
  const best = [...want].map((v, id) => ({ v, id })).sort((a, b) => b.v - a.v).slice(0, 5);
  const served = Object.values(top).sort((a, b) => b - a);
  assert.equal(served.length, 5, `${what}: top-5 entries`);
  best.forEach((b, k) => assert.ok(Math.abs(served[k]! - b.v) <= 1e-4, `${what}: top logprob ${k}: served ${served[k]} vs generate ${b.v}`));
}

test("serve --lora: base, adapter alpha and adapter beta (scale 0.5) in one batch equal three separate generate runs", async () => {
  const alone = {
    base: await generateAlone([]),
    alpha: await generateAlone([path.join(dir, "alpha")]),
    beta: await generateAlone([`${path.join(dir, "beta")}:0.5`]),
  };
  // The adapters matter (otherwise this test could not tell them apart).
  assert.notEqual(alone.alpha.text, alone.base.text);
  assert.notEqual(alone.beta.text, alone.base.text);
  assert.notEqual(alone.alpha.text, alone.beta.text);
  passes.length = 0;
  const [base, alpha, beta, betaByField] = await Promise.all([
    complete({ model: "stories260K" }),
    complete({ model: "alpha" }),
    complete({ model: "beta" }),
    complete({ model: "stories260K", lora: [{ id: 1, scale: 0.5 }] }),
  ]);
  assert.equal(base.choices[0]!.text, alone.base.text, "base request");
  assert.equal(alpha.choices[0]!.text, alone.alpha.text, "model: alpha");
  assert.equal(beta.choices[0]!.text, alone.beta.text, "model: beta (its --lora scale 0.5)");
  assert.equal(betaByField.choices[0]!.text, alone.beta.text, "lora: [{id: 1, scale: 0.5}]");
  sameFirstLogprobs(base, alone.base.logprobs, "base");
  sameFirstLogprobs(alpha, alone.alpha.logprobs, "alpha");
  sameFirstLogprobs(beta, alone.beta.logprobs, "beta");
  // They really shared steps: some pass carried the base row and both adapters' rows together.
  const mixed = passes.filter((p) => new Set(p).size === 3);
  assert.ok(mixed.length >= TOKENS / 2, `passes with base + alpha + beta rows: ${mixed.length} of ${passes.length}`);
});

test("serve --lora: /v1/models lists the adapters; unknown adapters are 404/400 naming the field", async () => {
  const models = await (await fetch(`${srv.url}/v1/models`)).json() as { data: { id: string; parent?: string }[] };
  assert.deepEqual(models.data.map((m) => m.id), [models.data[0]!.id, "alpha", "beta"]);
  assert.equal(models.data[1]!.parent, models.data[0]!.id);
  const post = (body: object) => fetch(`${srv.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: "a", max_tokens: 1, ...body }) });
  const r1 = await post({ model: "gamma" });
  assert.equal(r1.status, 404);
  assert.match(((await r1.json()) as { error: { message: string } }).error.message, /alpha, beta/);
  const r2 = await post({ model: "stories260K", lora: [{ id: 7 }] });
  assert.equal(r2.status, 400);
  assert.equal(((await r2.json()) as { error: { param: string } }).error.param, "lora[0].id");
  const r3 = await post({ model: "stories260K", lora: [{ id: "alpha", scale: "big" }] });
  assert.equal(r3.status, 400);
  assert.equal(((await r3.json()) as { error: { param: string } }).error.param, "lora[0].scale");
});
