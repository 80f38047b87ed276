// MLM pretraining (`zhiyu train --objective mlm`) and DPO (`zhiyu dpo`) under real Open MPI (mpirun -np 2; .ci/run
// installs it) against one process accumulating the same micro-batches: per-step losses within 1e-6 (metrics.jsonl
// of each run), --checksum-every 1 stopping the job if the ranks' parameters ever differ. MLM is the case that used
// to be refused: its masks are now a function of (seed, step, the row's place in the global batch), so rank r
// masking its own rows draws the one-process masks. Models: the BERT and DPO reference checkpoints of
// ../shared/testdata/hf (bert/mlm with bert/base's tokenizer; dpo/model with its pairs). Skipped, saying why, where
// mpirun or the addon's MPI is missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { MPIRUN, ZHIYU, mpiMissing, run, stepLosses } from "./mpi-harness.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";

const skip = mpiMissing ? `data-parallel MLM/DPO tests skipped: ${mpiMissing}` : false;
const HF = path.resolve("../shared/testdata/hf");

async function compare(dir: string, name: string, args: (out: string) => string[], steps: number): Promise<void> {
  const one = path.join(dir, `${name}-one`), two = path.join(dir, `${name}-two`);
  const [a, b] = await Promise.all([
    run(process.execPath, [ZHIYU, ...args(one)]),
    run("mpirun", [...MPIRUN, "-np", "2", process.execPath, ZHIYU, ...args(two), "--checksum-every", "1"]),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const ref = stepLosses(one), got = stepLosses(two);
  assert.equal(ref.length, steps);
  assert.equal(got.length, steps);
  got.forEach((l, i) => assert.ok(Math.abs(l - ref[i]!) <= 1e-6, `${name} step ${i}: 2 ranks ${l} vs one process ${ref[i]}`));
  assert.ok(Math.abs(ref[steps - 1]! - ref[0]!) > 1e-3, `${name}: the loss did not move (${ref[0]} → ${ref[steps - 1]})`);
}

test("mpirun -np 2 zhiyu train --objective mlm: the one-process masks and losses (within 1e-6)", { skip }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-dp-mlm-"));
  try {
    const tok = loadTokenizer(path.join(HF, "bert", "base"));
    const texts = ["the man went to the store and bought a gallon of milk .", "how old are you ? i am six years old , and you ?",
      "我是中国人，我有大学生。", "the man is old and the milk is new ."];
    const ids = Array.from({ length: 40 }, (_, i) => tok.encode(texts[i % texts.length]!, { addSpecialTokens: true })).flat();
    const data = path.join(dir, "tokens.u16");
    writeFileSync(data, Buffer.from(Uint16Array.from(ids).buffer));
    await compare(dir, "mlm", (out) => ["train", "--init", path.join(HF, "bert", "mlm"), "--objective", "mlm", "--tokenizer", path.join(HF, "bert", "base"),
      "--data", data, "--out", out, "--batch", "2", "--grad-accum", "4", "--seq", "16", "--steps", "8", "--lr", "3e-3", "--warmup", "0",
      "--weight-decay", "0", "--threads", "1", "--seed", "5", "--checkpoint-every", "0", "--no-spike-guard"], 8);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("mpirun -np 2 zhiyu dpo: the one-process DPO losses (within 1e-6)", { skip }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-dp-dpo-"));
  try {
    const ref = JSON.parse(readFileSync(path.join(HF, "dpo", "reference.json"), "utf8")) as { inputs: { pairs: { prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] }[] } };
    // The reference pairs and variants of them (prompts shifted by one token id), eight pairs in all.
    const pairs = [...ref.inputs.pairs, ...ref.inputs.pairs.map((p) => ({ ...p, prompt_ids: p.prompt_ids.map((t, i) => (i === 0 ? t : t + 1)) })),
      ...ref.inputs.pairs.slice(0, 2).map((p) => ({ ...p, chosen_ids: p.rejected_ids, rejected_ids: p.chosen_ids }))];
    const data = path.join(dir, "pairs.jsonl");
    writeFileSync(data, pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");
    await compare(dir, "dpo", (out) => ["dpo", "--model", path.join(HF, "dpo", "model"), "--data", data, "--out", out, "--batch", "2",
      "--grad-accum", "2", "--steps", "6", "--val-every", "0", "--lr", "1e-2", "--warmup", "0", "--threads", "1", "--checkpoint-every", "0"], 6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
