// `zhiyu train` with the reproduction flags against llm.c's train_gpt2.c losses (../shared/testdata/llmc):
// every step within 1e-3 in f32 (from the llm.c token file and from the raw uint16 file) and within 2e-2 with
// bf16 matmuls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

const LLMC = path.resolve("../shared/testdata/llmc");
const reference = JSON.parse(readFileSync(path.join(LLMC, "reference.json"), "utf8")) as {
  B: number; T: number; steps: number; lr: number; beta1: number; beta2: number; eps: number; weight_decay: number;
  losses: number[];
};

function train(data: string, dtype: "f32" | "bf16"): { status: number | null; losses: number[]; stderr: string } {
  const r = reference;
  const args = [
    "bin/zhiyu.mjs", "train", "--init", path.join(LLMC, "init"), "--data", path.join(LLMC, data),
    "--batch", String(r.B), "--seq", String(r.T), "--steps", String(r.steps), "--lr", String(r.lr), "--warmup", "0",
    "--schedule", "constant", "--beta1", String(r.beta1), "--beta2", String(r.beta2), "--eps", String(r.eps),
    "--weight-decay", String(r.weight_decay), "--grad-clip", "0", "--no-shuffle", "--dtype", dtype, "--json-log",
  ];
  const p = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 60_000 });
  const losses = p.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { step: number; loss: number })
    .filter((rec) => typeof rec.loss === "number").map((rec, i) => {
      assert.equal(rec.step, i);
      return rec.loss;
    });
  return { status: p.status, losses, stderr: p.stderr };
}

for (const data of ["tokens.bin", "tokens.u16"]) {
  test(`f32 losses match llm.c within 1e-3 at every step (${data})`, () => {
    const r = train(data, "f32");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.losses.length, reference.losses.length);
    r.losses.forEach((l, i) => assert.ok(Math.abs(l - reference.losses[i]!) < 1e-3,
      `step ${i}: ${l} vs llm.c ${reference.losses[i]}`));
  });
}

test("bf16 mixed precision losses match llm.c within 2e-2 at every step", () => {
  const r = train("tokens.bin", "bf16");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.losses.length, reference.losses.length);
  r.losses.forEach((l, i) => assert.ok(Math.abs(l - reference.losses[i]!) < 2e-2,
    `step ${i}: ${l} vs llm.c ${reference.losses[i]}`));
});
