// The objective interface carries a preference objective: a minimal DPO objective written here (a frozen
// reference model, completion log-prob sums from sequence-logprobs.ts, a reward-margin metric), run by the shared
// loop for two steps with trl's optimizer settings, reproduces trl's DPO loss before and after one AdamW step on
// ../shared/testdata/hf/dpo. (The real DPO objective belongs to the alignment work; this one proves the plug.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { fromTypedArray, log, mean, mul, narrow, neg, noGrad, setDefaultBackend, sigmoid, sub, tidy } from "../../src/tensor/index.js";
import { runLoop } from "../../src/train/loop.js";
import { modelOptimizer } from "../../src/train/loop-state.js";
import { readMetrics } from "../../src/train/metrics.js";
import { TrainModel } from "../../src/train/model.js";
import type { ObjectiveLoss, TrainingObjective } from "../../src/train/objective.js";
import { ProgressDisplay } from "../../src/train/progress.js";
import { constantLrSettings } from "./one-step-settings.js";
import { modelSequenceLogProbs } from "../../src/train/sequence-logprobs.js";

const DPO = path.resolve("../shared/testdata/hf/dpo");
const quiet = { write: () => {}, isTTY: false };

interface PairBatch { inputs: Int32Array; targets: Int32Array; rows: number; seq: number }

/** Rows: every pair's prompt+chosen, then every pair's prompt+rejected (trl's collator order). */
class TinyDpo implements TrainingObjective<PairBatch> {
  readonly name = "dpo-test";
  readonly tokensPerMicroBatch: number;
  readonly seq: number;
  readonly frozenModels: ReadonlyMap<string, TrainModel>;
  private readonly refLogps: Float32Array;
  private served = 0;

  constructor(private readonly batch: PairBatch, reference: TrainModel, private readonly beta: number) {
    this.seq = batch.seq;
    this.tokensPerMicroBatch = batch.rows * batch.seq;
    this.frozenModels = new Map([["reference", reference]]);
    this.refLogps = noGrad(() => tidy(() =>
      modelSequenceLogProbs(reference, batch.inputs, batch.targets, batch.rows, batch.seq).sum.toFloat32Array()));
  }

  nextBatch(): PairBatch {
    this.served++;
    return this.batch;
  }

  loss(model: TrainModel, b: PairBatch): ObjectiveLoss {
    const pairs = b.rows / 2;
    const pi = modelSequenceLogProbs(model, b.inputs, b.targets, b.rows, b.seq).sum;
    const ref = Float32Array.from(this.refLogps);
    // margin = β((π_c − ref_c) − (π_r − ref_r)); the reference terms are constants.
    const refMargin = Float32Array.from({ length: pairs }, (_, i) => ref[i]! - ref[pairs + i]!);
    const piMargin = sub(narrow(pi, 0, 0, pairs), narrow(pi, 0, pairs, pairs));
    const margin = mul(sub(piMargin, fromTypedArray(refMargin, [pairs])), this.beta);
    const loss = mean(neg(log(sigmoid(margin))));
    return { loss, metrics: { reward_margin: mean(margin).item() } };
  }

  weight(b: PairBatch): number {
    return b.rows / 2;
  }

  position(): number {
    return this.served;
  }

  restorePosition(p: unknown): void {
    this.served = p as number;
  }

  skip(k: number): void {
    this.served += k;
  }
}

test("a DPO objective in the shared loop reproduces trl's loss before and after one AdamW step", async () => {
  setDefaultBackend(createBackend());
  const ref = JSON.parse(readFileSync(path.join(DPO, "reference.json"), "utf8")) as {
    inputs: { batch: { input_ids: number[][]; completion_mask: number[][] } };
    outputs: Record<string, { values: number[] }>;
    dpo: { beta: number };
  };
  const ids = ref.inputs.batch.input_ids;
  const mask = ref.inputs.batch.completion_mask;
  const rows = ids.length;
  const seq = ids[0]!.length;
  const targets = new Int32Array(rows * seq).fill(-100);
  for (let b = 0; b < rows; b++) for (let t = 0; t + 1 < seq; t++) if (mask[b]![t + 1]) targets[b * seq + t] = ids[b]![t + 1]!;
  const batch = { inputs: Int32Array.from(ids.flat()), targets, rows, seq };
  const policy = TrainModel.fromHfFolder(path.join(DPO, "model"), "f32");
  const objective = new TinyDpo(batch, TrainModel.fromHfFolder(path.join(DPO, "model"), "f32"), ref.dpo.beta);
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-dpo-"));
  try {
    const r = await runLoop({
      model: policy, objective, rng: new Rng(1), runDir: dir, resumeFrom: null, options: {}, copies: new Map(),
      optimizer: modelOptimizer(policy, { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }),
      settings: constantLrSettings(2),
      banner: "dpo", display: new ProgressDisplay(quiet), jsonOut: null,
    });
    const before = ref.outputs.loss_before!.values[0]!;
    const after = ref.outputs.loss_after!.values[0]!;
    assert.ok(Math.abs(r.losses[0]! - before) < 1e-6, `loss before ${r.losses[0]} vs trl ${before}`);
    assert.ok(Math.abs(r.losses[1]! - after) < 1e-4 * after, `loss after one step ${r.losses[1]} vs trl ${after}`);
    const steps = readMetrics(path.join(dir, "metrics.jsonl")).filter((x) => "loss" in x) as unknown as { reward_margin: number }[];
    assert.equal(steps.length, 2);
    assert.equal(steps[0]!.reward_margin, 0); // policy = reference before the step
    assert.ok(steps[1]!.reward_margin > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
