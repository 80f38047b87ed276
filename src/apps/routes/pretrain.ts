// Pretraining of the three routes on the same token stream, in the same seeded row order: every step reads the
// same `batch` rows of `seq` text tokens (BatchIterator, shuffled by seed) whatever the route, so the text and the
// token budget are identical —
//   decoder:         next-token cross-entropy (objectives/causal-lm.ts);
//   encoder:         BERT MLM, 15% of a row's tokens (80/10/10), the row's first token replaced by [CLS];
//   encoder-decoder: T5 span corruption of the row (15% noise, mean span 3, <extra_id_N> sentinels).
// Each runs on the shared loop (loop.ts): checkpoints, exact resume, metrics.jsonl with every step's loss.
// Also the loop runner the fine-tuning stages share (runRouteLoop).
// Leaves out: validation during pretraining (the experiment's evaluations come after it), dropout.
import path from "node:path";
import type { Rng } from "../../core/rng.js";
import { BatchIterator, type BatchPosition, seededPermutation } from "../../train/batches.js";
import { latestCheckpoint } from "../../train/checkpoint.js";
import { modelOptimizer } from "../../train/loop-state.js";
import { type LoopResult, runLoop } from "../../train/loop.js";
import { TrainModel } from "../../train/model.js";
import type { ObjectiveContext, ObjectiveLoss, TrainingObjective } from "../../train/objective.js";
import { CausalLmObjective } from "../../train/objectives/causal-lm.js";
import { IGNORE as MLM_IGNORE, maskTokens, type MaskingOptions, mlmLoss } from "../../train/objectives/mlm.js";
import { seq2seqBatch, seq2seqLoss, spanCorruption } from "../../train/objectives/seq2seq.js";
import { ProgressDisplay, type ProgressSink } from "../../train/progress.js";
import type { TokenStream } from "../../train/token-file.js";
import type { Route } from "./config.js";
import type { SpecialIds } from "./models.js";

/** BERT MLM over the shared rows, [CLS] first. */
class RowMlmObjective implements TrainingObjective<{ inputs: Int32Array; targets: Int32Array }> {
  readonly name = "mlm";
  readonly tokensPerMicroBatch: number;
  readonly seq: number;
  constructor(private readonly it: BatchIterator, private readonly cls: number, private readonly masking: MaskingOptions) {
    this.seq = it.seq;
    this.tokensPerMicroBatch = it.batch * it.seq;
  }
  nextBatch(ctx: ObjectiveContext) {
    const b = this.it.next();
    for (let r = 0; r < this.it.batch; r++) b.inputs[r * this.seq] = this.cls;
    return maskTokens(b.inputs, this.seq, ctx.rng, this.masking);
  }
  loss(model: TrainModel, b: { inputs: Int32Array; targets: Int32Array }): ObjectiveLoss {
    return { loss: mlmLoss(model, b.inputs, b.targets, this.it.batch, this.seq) };
  }
  weight(b: { targets: Int32Array }): number {
    return b.targets.reduce((a, t) => a + (t === MLM_IGNORE ? 0 : 1), 0);
  }
  position(): BatchPosition { return this.it.position; }
  restorePosition(p: unknown): void { this.it.position = p as BatchPosition; }
  skip(k: number): void { this.it.skip(k); }
}

/** T5 span corruption of the shared rows (each row one piece of `seq` tokens). */
class RowSpanCorruptionObjective implements TrainingObjective<ReturnType<typeof seq2seqBatch>> {
  readonly name = "span-corruption";
  readonly tokensPerMicroBatch: number;
  readonly seq: number;
  constructor(private readonly it: BatchIterator, private readonly ids: SpecialIds) {
    this.seq = it.seq;
    this.tokensPerMicroBatch = it.batch * it.seq;
  }
  nextBatch(ctx: ObjectiveContext) {
    const b = this.it.next();
    const examples = Array.from({ length: this.it.batch }, (_, r) =>
      spanCorruption(Array.from(b.inputs.subarray(r * this.seq, (r + 1) * this.seq)), ctx.rng, { sentinels: this.ids.sentinels, eosId: this.ids.eos }));
    return seq2seqBatch(examples, this.ids.pad, this.ids.pad);
  }
  loss(model: TrainModel, b: ReturnType<typeof seq2seqBatch>): ObjectiveLoss {
    return { loss: seq2seqLoss(model, b) };
  }
  weight(b: ReturnType<typeof seq2seqBatch>): number {
    return b.labels.reduce((a, t) => a + (t < 0 ? 0 : 1), 0);
  }
  position(): BatchPosition { return this.it.position; }
  restorePosition(p: unknown): void { this.it.position = p as BatchPosition; }
  skip(k: number): void { this.it.skip(k); }
}

export function pretrainObjective(route: Route, stream: TokenStream, o: { batch: number; seq: number; seed: number }, ids: SpecialIds,
  vocabSize: number): TrainingObjective {
  const it = new BatchIterator(stream, { batch: o.batch, seq: o.seq, shuffle: seededPermutation(o.seed) });
  switch (route) {
    case "decoder":
      return new CausalLmObjective(it, null, 1);
    case "encoder":
      return new RowMlmObjective(it, ids.cls, {
        maskId: ids.mask, vocabSize, specialIds: new Set([ids.eos, ids.pad, ids.cls, ids.sep, ids.mask, ...ids.sentinels]),
      });
    case "encoder-decoder":
      return new RowSpanCorruptionObjective(it, ids);
  }
}

export interface RouteLoopOptions {
  out: string;
  steps: number;
  /** Length of the LR schedule (default `steps`): a run stopped early and resumed keeps the same schedule. */
  scheduleSteps?: number;
  lr: number;
  warmup: number;
  checkpointEvery: number;
  /** Files copied into every checkpoint (the tokenizer's). */
  copies: ReadonlyMap<string, string>;
  banner: string;
  stdout: ProgressSink;
  logEvery?: number;
}

/** Runs `objective` on `model` (or on the newest checkpoint in `out`, which it resumes exactly) with AdamW and a
 *  cosine schedule to lr/10; returns the loop's result and the trained model. */
export async function runRouteLoop(makeModel: () => TrainModel, objective: TrainingObjective, rng: Rng, o: RouteLoopOptions):
  Promise<{ result: LoopResult; model: TrainModel }> {
  const ck = latestCheckpoint(o.out);
  const model = ck ? TrainModel.fromHfFolder(ck.dir, "f32") : makeModel();
  const optimizer = modelOptimizer(model, { lr: o.lr, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.01 });
  const result = await runLoop({
    model, optimizer, objective, rng, runDir: o.out, resumeFrom: ck, options: { routes: path.basename(o.out) }, copies: o.copies,
    settings: {
      steps: o.steps, schedule: { lr: o.lr, minLr: o.lr / 10, warmupSteps: o.warmup, totalSteps: o.scheduleSteps ?? o.steps, kind: "cosine" },
      gradAccum: 1, gradClip: 1, spikeGuard: true, spikeWindow: 50, spikeZscore: 6, maxRollbacks: 5, spikeLrFactor: 1, spikeSkip: 0,
      checkpointEvery: o.checkpointEvery, keepLast: 1, evalEvery: 0, evalAtEnd: false, logEvery: o.logEvery ?? 10, mfu: null,
    },
    banner: o.banner, display: new ProgressDisplay(o.stdout, o.logEvery ?? 10), jsonOut: null,
  });
  return { result, model };
}
