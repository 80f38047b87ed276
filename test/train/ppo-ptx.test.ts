// PPO-ptx (InstructGPT eq. 2): one minibatch's loss = trl's clipped policy loss + vf_coef × the clipped value loss +
// γ × the next-token loss of a pretraining batch, against test/train/fixtures/ppo-ptx-reference.json (made by
// dev/alignment/make-ppo-ptx-reference.py with torch and transformers on ../shared/testdata/hf/dpo's tiny LLaMA and
// a seeded value head): the loss parts within 1e-5, the gradients' norms within 1e-4 relative, for γ = 0 and 0.5.
// `zhiyu ppo --ptx-coef --ptx-data` on zhiyu-mini logs ptx_loss and resumes exactly (the pretraining position is
// checkpointed); bad input (γ < 0, a missing data file, γ without data) fails before the run folder is written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { ppoMinibatchLoss } from "../../src/train/objectives/ppo.js";
import { run as ppo } from "../../src/cli/commands/ppo.js";
import { documentTokenStream } from "../../src/train/data-prepare.js";
import { writeTokenFile } from "../../src/train/token-file.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { captureCliOutput } from "../cli-output.js";
import { rewardModelAndPrompts } from "./ppo-fixtures.js";

const CASE = path.resolve("../shared/testdata/hf/dpo");
const MODEL = path.resolve("models/zhiyu-mini");
setDefaultBackend(createBackend());

interface Case { ptx_coef: number; loss: number; pg_loss: number; vf_loss: number; ptx_loss: number; pg_clipfrac: number; vf_clipfrac: number;
  approxkl: number; grad_global_norm: number; grad_norms: Record<string, number> }
const ref = JSON.parse(readFileSync("test/train/fixtures/ppo-ptx-reference.json", "utf8")) as {
  settings: { temperature: number; cliprange: number; cliprange_value: number; vf_coef: number };
  v_head: { weight: number[]; bias: number[] }; rows: number; seq: number; inputs: number[][]; targets: number[][];
  padding: number[][]; padding_p1: number[][]; old_logprobs: number[][]; old_values: number[][]; advantages: number[][]; returns: number[][];
  ptx: { rows: number; seq: number; window: number[][] }; cases: Record<string, Case> };

const quiet = captureCliOutput;

function fixtures(dir: string): { rmDir: string; data: string; text: string } {
  const { rmDir, data } = rewardModelAndPrompts(dir, ["Once upon a time", "The cat", "Hello, how", "My order"]);
  const text = path.join(dir, "pretrain.jsonl");
  writeFileSync(text, Array.from({ length: 12 }, (_, i) => JSON.stringify({ text: `Story ${i}: the little dog ran to the park and met a cat. 小狗跑到公园。` })).join("\n"));
  return { rmDir, data, text };
}

function stepMetrics(out: string): Map<number, Record<string, number>> {
  return new Map(readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((m) => typeof m.step === "number" && typeof m.loss === "number")
    .map((x) => [x.step as number, { loss: x.loss as number, ...((x.metrics ?? x) as Record<string, number>) }]));
}

test("zhiyu ppo --ptx-coef --ptx-data: ptx_loss logged, the pretraining position checkpointed, a resumed run equals an uninterrupted one", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-ppo-ptx-"));
  try {
    const { rmDir, data, text } = fixtures(dir);
    // one PPO epoch, one minibatch: every step starts a rollout, so a resume at a checkpoint continues the same run
    const args = (out: string) => ["--model", MODEL, "--reward-model", rmDir, "--data", data, "--out", out, "--lora", "r=4,targets=q,v",
      "--prompts-per-rollout", "2", "--ppo-epochs", "1", "--max-new-tokens", "4", "--val-every", "0", "--lr", "1e-3",
      "--ptx-coef", "0.5", "--ptx-data", text, "--ptx-seq", "16", "--checkpoint-every", "2", "--log-every", "1", "--seed", "4", "--threads", "1"];
    const full = path.join(dir, "full");
    const a = await quiet(() => ppo([...args(full), "--steps", "3"]));
    assert.match(a.text, /PPO-ptx: \d+ pretraining tokens from .*pretrain\.jsonl, γ 0\.5/);
    const whole = stepMetrics(full);
    for (const [step, m] of whole) {
      assert.ok(m.ptx_loss! > 0 && Number.isFinite(m.ptx_loss), `step ${step}: ptx_loss ${m.ptx_loss}`);
      assert.ok(Math.abs(m.loss - (m.pg_loss! + 0.1 * m.vf_loss! + 0.5 * m.ptx_loss!)) < 1e-4, `step ${step}: loss = pg + 0.1·vf + 0.5·ptx`);
    }
    const ck = JSON.parse(readFileSync(path.join(full, "checkpoints", "step-00000002", "trainer_state.json"), "utf8")) as unknown;
    assert.match(JSON.stringify(ck), /"ptx":\{"epoch":\d+,"index":\d+\}/, "the checkpoint stores the pretraining position");
    const split = path.join(dir, "split");
    await quiet(() => ppo([...args(split), "--steps", "2"]));
    await quiet(() => ppo([...args(split), "--steps", "3"]));
    const resumed = stepMetrics(split);
    assert.equal(resumed.get(2)!.ptx_loss, whole.get(2)!.ptx_loss, "the resumed step reads the same pretraining batch with the same weights");
    assert.equal(resumed.get(2)!.loss, whole.get(2)!.loss);
    assert.notEqual(whole.get(1)!.ptx_loss, whole.get(2)!.ptx_loss, "each minibatch draws the next pretraining batch");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("zhiyu ppo PPO-ptx bad input: γ < 0, a missing --ptx-data file, γ without data — each refused before the run starts", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-ppo-ptx-bad-"));
  try {
    const { rmDir, data, text } = fixtures(dir);
    const wide = path.join(dir, "wide.bin"); // token ids of another tokenizer
    writeTokenFile(wide, Array.from({ length: 64 }, (_, i) => (i === 40 ? 700 : i)), 1000);
    const base = (out: string) => ["--model", MODEL, "--reward-model", rmDir, "--data", data, "--out", out, "--prompts-per-rollout", "2",
      "--max-new-tokens", "4", "--val-every", "0", "--steps", "1", "--threads", "1"];
    const cases: [string[], RegExp][] = [
      [["--ptx-coef", "-0.5", "--ptx-data", text], /PPO-ptx: --ptx-coef -0\.5; expected γ ≥ 0/],
      [["--ptx-coef", "1", "--ptx-data", path.join(dir, "nope.txt")], /PPO-ptx: --ptx-data .*nope\.txt does not exist; give a text, JSON or JSONL file/],
      [["--ptx-coef", "1"], /PPO-ptx: --ptx-coef 1 needs pretraining text \(--ptx-data FILE\)/],
      [["--ptx-data", text], /--ptx-data was given with --ptx-coef 0/],
      [["--ptx-coef", "1", "--ptx-data", wide], /PPO-ptx: the pretraining data holds token id 700, outside the policy's vocabulary of 512/],
      [["--value-trunk", "sideways"], /--value-trunk sideways; use shared or detached/],
    ];
    for (const [i, [extra, message]] of cases.entries()) {
      const out = path.join(dir, `bad${i}`);
      await assert.rejects(quiet(() => ppo([...base(out), ...extra])), message);
      assert.ok(!existsSync(path.join(out, "metrics.jsonl")) && !existsSync(path.join(out, "checkpoints")), `case ${i}: nothing ran`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("PPO-ptx minibatch loss and gradients match torch + transformers (pg + vf_coef·vf + γ·LM loss), γ = 0 and 0.5", () => {
  const model = TrainModel.fromHfFolder(path.join(CASE, "model"), "f32").withValueHead(new Rng(1));
  for (const [name, values] of [["v_head.weight", ref.v_head.weight], ["v_head.bias", ref.v_head.bias]] as const) {
    const t = model.params.get(name)!;
    (t.storage("test") as Float32Array).set(values, t.offset);
  }
  const f32 = (m: number[][]) => Float32Array.from(m.flat());
  const u8 = (m: number[][]) => Uint8Array.from(m.flat());
  const minibatch = { inputs: Int32Array.from(ref.inputs.flat()), targets: Int32Array.from(ref.targets.flat()), rows: ref.rows, seq: ref.seq,
    oldLogprobs: f32(ref.old_logprobs), oldValues: f32(ref.old_values), advantages: f32(ref.advantages), returns: f32(ref.returns),
    padding: u8(ref.padding), paddingP1: u8(ref.padding_p1) };
  const { rows, seq, window } = ref.ptx;
  const ptx = { inputs: Int32Array.from(window.flatMap((w) => w.slice(0, seq))), targets: Int32Array.from(window.flatMap((w) => w.slice(1))), rows, seq };
  const s = ref.settings;
  for (const c of Object.values(ref.cases)) {
    for (const t of model.params.values()) t.zeroGrad();
    const settings = { temperature: s.temperature, cliprange: s.cliprange, cliprangeValue: s.cliprange_value, vfCoef: s.vf_coef, gamma: 1, lam: 0.95,
      klCoef: 0.05, klEstimator: "k1" as const, ptxCoef: c.ptx_coef };
    const got = tidy(() => {
      const r = ppoMinibatchLoss(model, minibatch, settings, ptx);
      r.loss.backward();
      return { loss: r.loss.item(), m: r.metrics! };
    });
    const near = (g: number | undefined, w: number, what: string) =>
      assert.ok(g !== undefined && Math.abs(g - w) <= 1e-5 + 1e-5 * Math.abs(w), `γ ${c.ptx_coef} ${what}: ${g} vs torch ${w}`);
    near(got.loss, c.loss, "loss");
    for (const k of ["pg_loss", "vf_loss", "pg_clipfrac", "vf_clipfrac", "approxkl"] as const) near(got.m[k], c[k], k);
    if (c.ptx_coef > 0) near(got.m.ptx_loss, c.ptx_loss, "ptx_loss");
    else assert.equal(got.m.ptx_loss, undefined, "γ = 0 is plain PPO (no pretraining forward)");
    let total = 0;
    for (const t of model.params.values()) if (t.grad) total += t.grad.toFloat32Array().reduce((a, v) => a + v * v, 0);
    assert.ok(Math.abs(Math.sqrt(total) - c.grad_global_norm) <= 1e-4 * c.grad_global_norm, `γ ${c.ptx_coef} ‖∇‖ ${Math.sqrt(total)} vs torch ${c.grad_global_norm}`);
    for (const [name, want] of Object.entries(c.grad_norms)) {
      const g = model.params.get(name)?.grad;
      assert.ok(g, `no gradient for ${name}`);
      const n = Math.sqrt(g.toFloat32Array().reduce((a, v) => a + v * v, 0));
      assert.ok(Math.abs(n - want) <= 1e-4 * Math.max(want, 1e-3), `γ ${c.ptx_coef} ‖∇${name}‖ ${n} vs torch ${want}`);
    }
  }
  // the γ = 0.5 case differs from γ = 0 by exactly γ × the LM loss, so the reference exercises the mix
  const [a, b] = [ref.cases["0.0"]!, ref.cases["0.5"]!];
  assert.ok(Math.abs(b.loss - a.loss - 0.5 * b.ptx_loss) < 1e-5 && b.grad_global_norm !== a.grad_global_norm);
});

test("--value-trunk detached: the value loss trains the head alone — trunk gradients are the policy loss's, the head's unchanged", () => {
  const model = TrainModel.fromHfFolder(path.join(CASE, "model"), "f32").withValueHead(new Rng(1));
  const f32 = (m: number[][]) => Float32Array.from(m.flat());
  const u8 = (m: number[][]) => Uint8Array.from(m.flat());
  const minibatch = { inputs: Int32Array.from(ref.inputs.flat()), targets: Int32Array.from(ref.targets.flat()), rows: ref.rows, seq: ref.seq,
    oldLogprobs: f32(ref.old_logprobs), oldValues: f32(ref.old_values), advantages: f32(ref.advantages), returns: f32(ref.returns),
    padding: u8(ref.padding), paddingP1: u8(ref.padding_p1) };
  const s = ref.settings;
  const gradients = (vfCoef: number, valueTrunk: "shared" | "detached") => {
    for (const t of model.params.values()) t.zeroGrad();
    const settings = { temperature: s.temperature, cliprange: s.cliprange, cliprangeValue: s.cliprange_value, vfCoef, gamma: 1, lam: 0.95,
      klCoef: 0.05, klEstimator: "k1" as const, ptxCoef: 0, valueTrunk };
    const loss = tidy(() => {
      const r = ppoMinibatchLoss(model, minibatch, settings, null);
      r.loss.backward();
      return r.loss.item();
    });
    return { loss, grads: new Map([...model.params].map(([name, t]) => [name, t.grad ? t.grad.toFloat32Array().slice() : null])) };
  };
  const shared = gradients(s.vf_coef, "shared");
  const detached = gradients(s.vf_coef, "detached");
  const policyOnly = gradients(0, "shared");
  assert.equal(detached.loss, shared.loss, "detaching changes gradients, not the loss");
  const maxDiff = (a: Float32Array | null | undefined, b: Float32Array | null | undefined) =>
    a && b ? a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0) : Number.POSITIVE_INFINITY;
  let trunkMovedByValue = 0;
  for (const [name, g] of detached.grads) {
    if (name.startsWith("v_head.")) {
      assert.ok(maxDiff(g, shared.grads.get(name)) <= 1e-7, `${name}: the head's gradient is the shared model's`);
      continue;
    }
    if (!g) continue; // a weight the loss does not reach (none in this model)
    assert.ok(maxDiff(g, policyOnly.grads.get(name)) <= 1e-6, `${name}: the trunk gets the policy loss's gradient only`);
    trunkMovedByValue = Math.max(trunkMovedByValue, maxDiff(shared.grads.get(name), policyOnly.grads.get(name)));
  }
  assert.ok(trunkMovedByValue > 1e-4, `the shared trunk does get the value loss's gradient (${trunkMovedByValue}), so the check above can fail`);
});

test("PPO-ptx data: text is tokenized in memory as zhiyu data prepare does (delimiter + ids); a token file is read as it is", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-ptx-data-"));
  try {
    const tok = loadTokenizer(MODEL);
    const txt = path.join(dir, "a.jsonl");
    writeFileSync(txt, [JSON.stringify({ text: "你好" }), JSON.stringify({ text: "hi" })].join("\n"));
    const stream = documentTokenStream(txt, tok, "--ptx-data");
    const d = tok.bosTokenId ?? tok.eosTokenId;
    const want = [...(d === null ? [] : [d]), ...tok.encode("你好", { addSpecialTokens: false }), ...(d === null ? [] : [d]), ...tok.encode("hi", { addSpecialTokens: false })];
    const got = new Int32Array(stream.length);
    stream.copyTo(0, stream.length, got);
    assert.deepEqual([...got], want);
    const bin = path.join(dir, "t.bin");
    writeTokenFile(bin, [5, 6, 7, 8], 512);
    const s2 = documentTokenStream(bin, tok, "--ptx-data");
    const ids = new Int32Array(4);
    s2.copyTo(0, 4, ids);
    assert.deepEqual([...ids], [5, 6, 7, 8]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
