// The training loop, written once for every objective (objective.ts). Each step: read gradAccum micro-batches
// from the objective, forward + backward its loss (scaled by 1/gradAccum), check the loss with the spike guard
// *before* the update, clip, AdamW at the scheduled LR, log; every K steps validate and checkpoint.
// Step k's logged loss is measured before the k-th update (llm.c's convention), so the first line is the loss
// of the initial weights.
//
// A checkpoint holds everything the loop's future depends on — weights, AdamW m/v/step, the objective's data
// position and state, RNG state, spike-guard window, LR factor, rollback count and the schedule's length — so a
// resumed run continues bit for bit as if it had never stopped. On a spike (NaN/Inf, or a z-score above the
// threshold) the loop restores the newest checkpoint, keeps the data position past the bad batch (+ spikeSkip
// more steps' worth), multiplies the LR by spikeLrFactor, logs the event and carries on; after maxRollbacks it
// stops with an error.
// Data-parallel (input.distributed, data-parallel.ts): every rank runs this loop in step; a step's micro-batches
// are split across ranks, gradients summed over them, and only rank 0 writes metrics, logs and checkpoints (every
// rank reads checkpoints: resume and rollback need the run folder on a file system they share).
// Leaves out: dropout; building the model, the optimizer and the objective (trainer.ts and sft.ts do that for their
// commands).
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Rng } from "../core/rng.js";
import { clipGradNorm, gradNorm, lrAt, type AdamW, type LrSchedule } from "../optim/index.js";
import { mul, tidy } from "../tensor/index.js";
import { cleanStaleCheckpoints, latestCheckpoint, writeCheckpoint, type CheckpointInfo } from "./checkpoint.js";
import { checkpointFiles, readOptimizerState, readTrainerState, TrainingError, type TrainerState } from "./loop-state.js";
import { MetricsLog, mfu, type StepRecord } from "./metrics.js";
import type { TrainModel } from "./model.js";
import type { ObjectiveContext, SequenceGenerator, TrainingObjective } from "./objective.js";
import type { DataParallel } from "./data-parallel.js";
import { ProgressDisplay, type ProgressSink } from "./progress.js";
import { SpikeGuard } from "./spike-guard.js";

/** The loop's settings; the commands map their flags onto these (same names as TrainOptions where shared). */
export interface LoopSettings {
  /** Run until this many optimizer steps are complete. */
  steps: number;
  /** The LR schedule; totalSteps is its length, which may differ from `steps` (an extended run). */
  schedule: LrSchedule;
  gradAccum: number;
  /** Global-norm clip; 0 = off. */
  gradClip: number;
  spikeGuard: boolean;
  spikeWindow: number;
  spikeZscore: number;
  maxRollbacks: number;
  spikeLrFactor: number;
  spikeSkip: number;
  /** Checkpoint every K steps (0 = only at exit), keeping the newest keepLast (0 = all). */
  checkpointEvery: number;
  keepLast: number;
  /** Validate every K steps (0 = never during the run). */
  evalEvery: number;
  /** Validate once more after the last step (SFT reports its held-out loss this way). */
  evalAtEnd: boolean;
  logEvery: number;
  /** For the MFU column: training FLOPs per token and the assumed peak FLOP/s; null leaves MFU out. */
  mfu: { flopsPerToken: number; peakFlops: number } | null;
}

export interface LoopInput {
  model: TrainModel;
  optimizer: AdamW;
  objective: TrainingObjective;
  settings: LoopSettings;
  /** Seeded by the command (and already used for random init); checkpointed. */
  rng: Rng;
  /** Run folder (metrics.jsonl, checkpoints/); null = no files and no rollbacks. */
  runDir: string | null;
  /** Continue from this checkpoint: the model's weights were loaded from it; the loop restores the rest. */
  resumeFrom: CheckpointInfo | null;
  /** Stored in trainer_state.json for the command's --resume. */
  options: unknown;
  /** Files copied into every checkpoint (tokenizer files), name → source path. */
  copies: ReadonlyMap<string, string>;
  /** The first line printed (what is trained, on what). */
  banner: string;
  display: ProgressDisplay;
  /** One JSON line per step and validation, or null. */
  jsonOut: ProgressSink | null;
  generator?: SequenceGenerator | null;
  /** Polled after every step; true stops the run cleanly (checkpoint at exit). */
  shouldStop?: () => boolean;
  /** Data-parallel training over several ranks (null/absent: this process alone). */
  distributed?: DataParallel | null;
}

export interface LoopResult {
  /** Loss of every step run in this process (after rollbacks, the re-run steps appear again). */
  losses: number[];
  finalStep: number;
  rollbacks: number;
  lastCheckpoint: CheckpointInfo | null;
  /** The end-of-run validation loss (settings.evalAtEnd), else null. */
  valLoss: number | null;
}

/** The schedule length a resumed run follows: an explicit new length, else the one stored in the checkpoint. */
export function resumedScheduleSteps(state: TrainerState, explicit: number | null, fallback: number): number {
  if (explicit !== null) return explicit;
  if (typeof state.scheduleSteps === "number") return state.scheduleSteps;
  const saved = (state.options as { steps?: unknown } | null)?.steps;
  return typeof saved === "number" ? saved : fallback;
}

const SILENT: ProgressSink = { write: () => {}, isTTY: false };

export async function runLoop(input: LoopInput): Promise<LoopResult> {
  const { model, optimizer, objective, settings: s, rng, runDir } = input;
  const dist = input.distributed ?? null;
  // Rank 0 speaks and writes for the job; the other ranks compute the same steps silently.
  const writer = !dist || dist.rank === 0;
  const display = writer ? input.display : new ProgressDisplay(SILENT, s.logEvery);
  const jsonOut = writer ? input.jsonOut : null;
  const importOptimizer = (st: ReturnType<typeof readOptimizerState>) => (dist ? dist.importOptimizerState(st) : optimizer.importState(st));
  const micro = dist ? dist.microRange(s.gradAccum) : { first: 0, count: s.gradAccum };
  const params = model.specs.map((spec) => model.params.get(spec.name)!);
  const guard = new SpikeGuard({ window: s.spikeWindow, zThreshold: s.spikeZscore });
  let step = 0;
  let lrFactor = 1;
  let rollbacks = 0;
  let tokensSeen = 0;
  let tail: StepRecord[] = [];

  /** Everything but the weights and the data position, from a checkpoint (resume and rollback). */
  const restoreFrom = (dir: string): void => {
    const saved = readTrainerState(dir);
    importOptimizer(readOptimizerState(dir, saved.optimizerStep));
    rng.setState(saved.rng);
    guard.restore(saved.spikeWindow);
    step = saved.step;
    tokensSeen = saved.tokensSeen ?? 0;
    tail = saved.metricsTail ?? [];
    if (saved.objectiveState !== undefined) objective.restoreState?.(saved.objectiveState);
  };
  if (input.resumeFrom) {
    const saved = readTrainerState(input.resumeFrom.dir);
    if (saved.objective !== undefined && saved.objective !== objective.name) {
      throw new TrainingError(`${input.resumeFrom.dir}: the checkpoint was written by the ${saved.objective} objective, ` +
        `not ${objective.name}; resume it with the command that started it`);
    }
    restoreFrom(input.resumeFrom.dir);
    lrFactor = saved.lrFactor;
    rollbacks = saved.rollbacks;
    try {
      objective.restorePosition(saved.dataPosition);
    } catch (err) {
      throw new TrainingError(`--resume: ${(err as Error).message}`);
    }
  }
  if (step >= s.steps) {
    display.log(`nothing to do: the checkpoint is at step ${step} and the run has ${s.steps} steps; raise --steps to continue`);
    const valLoss = s.evalAtEnd ? objective.validate?.(model) ?? null : null;
    return { losses: [], finalStep: step, rollbacks, lastCheckpoint: input.resumeFrom, valLoss };
  }

  const metrics = new MetricsLog(runDir && writer ? path.join(runDir, "metrics.jsonl") : null);
  if (runDir && writer) {
    mkdirSync(runDir, { recursive: true });
    cleanStaleCheckpoints(runDir);
  }
  const tokensPerStep = objective.tokensPerMicroBatch * s.gradAccum;
  let lastCheckpoint: CheckpointInfo | null = input.resumeFrom;
  // Known on every rank (only rank 0 writes, but every rank takes part in gathering ZeRO-1's optimizer state).
  let lastCheckpointStep: number | null = input.resumeFrom?.step ?? null;
  const saveCheckpoint = async (): Promise<void> => {
    if (!runDir) return;
    const optimizerState = dist ? await dist.exportOptimizerState() : optimizer;
    lastCheckpointStep = step;
    if (!writer) return;
    const state: TrainerState = {
      format: "zhiyu-trainer-state", version: 1, objective: objective.name, step, scheduleSteps: s.schedule.totalSteps,
      options: input.options, dataPosition: objective.position(), objectiveState: objective.state?.(),
      optimizerStep: dist ? dist.stepCount : optimizer.stepCount, rng: rng.getState(), lrFactor, rollbacks,
      spikeWindow: guard.snapshot(), tokensSeen, metricsTail: tail.slice(-20),
    };
    const info = writeCheckpoint({ runDir, step, files: checkpointFiles(model, optimizerState, state), copies: input.copies, keepLast: s.keepLast });
    metrics.write({ step, event: "checkpoint", dir: info.dir });
    lastCheckpoint = info;
  };
  const validate = (): number | null => {
    const valLoss = objective.validate?.(model) ?? null;
    if (valLoss === null) return null;
    const rec = { step, val_loss: valLoss, val_ppl: Math.exp(valLoss) };
    metrics.write(rec);
    if (jsonOut) jsonOut.write(JSON.stringify(rec) + "\n");
    display.log(`step ${step}: val loss ${valLoss.toFixed(4)}, perplexity ${Math.exp(valLoss).toFixed(2)}`);
    return valLoss;
  };

  metrics.write({ step, event: input.resumeFrom ? "resume" : "start", params: model.parameterCount, family: model.family, objective: objective.name });
  display.log(input.banner);
  if (dist) {
    display.log(dist.describe());
    await dist.begin(step);
  }
  if (s.steps > s.schedule.totalSteps && s.schedule.kind !== "constant") {
    display.log(`note: steps ${s.schedule.totalSteps}…${s.steps - 1} are past the end of the LR schedule (kept from the ` +
      `checkpoint) and run at the minimum LR ${s.schedule.minLr ?? 0}; pass --schedule-steps N for a longer schedule`);
  }
  // A rollback target must exist before the first step can spike.
  if (runDir && s.spikeGuard && !input.resumeFrom) await saveCheckpoint();

  const losses: number[] = [];
  let avgDt = 0;
  while (step < s.steps) {
    const t0 = performance.now();
    const lr = lrAt(step, s.schedule) * lrFactor;
    optimizer.zeroGrad();
    let lossSum = 0;
    const extraSums: Record<string, number> = {};
    const firstPosition = objective.position();
    const contexts: ObjectiveContext[] = [];
    const batches: unknown[] = [];
    const rngBefore = dist ? JSON.stringify(rng.getState()) : "";
    // This rank's share of the step's micro-batches (all of them in one process); the others are skipped.
    if (micro.first > 0) objective.skip(micro.first);
    for (let i = 0; i < micro.count; i++) {
      contexts.push({ step, microStep: micro.first + i, rng, generator: input.generator ?? null });
      batches.push(await objective.nextBatch(contexts[i]!));
    }
    const after = s.gradAccum - micro.first - micro.count;
    if (after > 0) objective.skip(after);
    // Each micro-batch's share of the step: by the items its mean covers when the objective counts them (so a step
    // means the same as one big batch, over every rank), else equal shares.
    const weights = objective.weight ? batches.map((b) => objective.weight!(b)) : null;
    let totalWeight = weights ? weights.reduce((a, b) => a + b, 0) : 0;
    if (weights && dist) totalWeight = (await dist.sum(new Float64Array([totalWeight])))[0]!;
    const share = (i: number): number => (weights && totalWeight > 0 ? weights[i]! / totalWeight : 1 / s.gradAccum);
    const leafHook = dist ? dist.leafHook() : undefined;
    for (let i = 0; i < micro.count; i++) {
      lossSum += tidy(() => {
        const r = objective.loss(model, batches[i], contexts[i]!);
        const value = r.loss.item();
        const f = share(i);
        // The last local backward launches the gradient buckets' all-reduces as their gradients complete.
        (f !== 1 ? mul(r.loss, f) : r.loss).backward(undefined, i === micro.count - 1 ? leafHook : undefined);
        for (const [k, v] of Object.entries(r.metrics ?? {})) extraSums[k] = (extraSums[k] ?? 0) + f * v;
        return weights ? f * value : value;
      });
    }
    let stopAsked = false;
    const tBackward = performance.now();
    if (dist) {
      const keys = Object.keys(extraSums).sort();
      const summed = await dist.finishGradients([lossSum, ...keys.map((k) => extraSums[k]!)], input.shouldStop?.() ?? false);
      lossSum = summed.scalars[0]!;
      keys.forEach((k, i) => { extraSums[k] = summed.scalars[i + 1]!; });
      stopAsked = summed.stop;
      if (dist.size > 1 && JSON.stringify(rng.getState()) !== rngBefore) {
        throw new TrainingError(`the ${objective.name} objective draws from the run's random generator while it batches or ` +
          "computes the loss, so each rank would draw differently; train it in one process (without mpirun)");
      }
    }
    const loss = weights ? lossSum : lossSum / s.gradAccum;
    // Clipping before the spike check is harmless: a spiking step's gradients are thrown away.
    // The norm costs a pass over every gradient: only computed when clipping or the guard needs it.
    const norm = dist ? await dist.clip(s.gradClip, s.spikeGuard)
      : s.gradClip > 0 ? clipGradNorm(params, s.gradClip) : s.spikeGuard ? gradNorm(params) : null;
    const verdict = s.spikeGuard ? guard.check(loss, norm) : { spike: false as const };
    if (verdict.spike) {
      rollbacks++;
      // The bad step's micro-batches are already consumed; spikeSkip N skips N more steps' worth.
      const skipped = 1 + s.spikeSkip;
      objective.skip(s.spikeSkip * s.gradAccum);
      const ck = runDir ? latestCheckpoint(runDir) : null;
      metrics.write({
        step, event: "rollback", reason: verdict.reason, loss, z_score: verdict.zScore, window_mean: verdict.mean,
        bad_position: firstPosition, to_step: ck?.step ?? null, skipped_batches: skipped * s.gradAccum,
        lr_factor: lrFactor * s.spikeLrFactor, rollbacks,
      });
      display.log(`loss spike at step ${step}: loss ${loss.toFixed(4)} (${verdict.reason}` +
        `${verdict.zScore !== null ? `, z = ${verdict.zScore.toFixed(1)} over mean ${verdict.mean.toFixed(4)}` : ""}); ` +
        (ck ? `rolling back to step ${ck.step}, skipping ${skipped * s.gradAccum} batch(es)` : "no checkpoint to roll back to"));
      if (!ck) {
        throw new TrainingError(`loss spike at step ${step} (${verdict.reason}, loss ${loss}) and no checkpoint to roll ` +
          "back to; pass --out DIR so the trainer can keep checkpoints, or --no-spike-guard to train through it");
      }
      if (rollbacks > s.maxRollbacks) {
        throw new TrainingError(`stopped after ${rollbacks} loss spikes (--max-rollbacks ${s.maxRollbacks}); the last ` +
          `at step ${step} (loss ${loss}, ${verdict.reason}). Lower --lr, check the data around position ` +
          `${JSON.stringify(firstPosition)}, or raise --spike-zscore / --max-rollbacks`);
      }
      // The data position stays past the bad batch; everything else goes back to the checkpoint.
      model.loadWeightsFrom(ck.dir);
      restoreFrom(ck.dir);
      lrFactor *= s.spikeLrFactor;
      continue;
    }
    const tSync = performance.now();
    if (dist) await dist.step(lr);
    else optimizer.step(lr);
    guard.accept(loss);
    losses.push(loss);
    tokensSeen += tokensPerStep;
    const dt = (performance.now() - t0) / 1000;
    avgDt = avgDt === 0 ? dt : 0.9 * avgDt + 0.1 * dt;
    const tps = tokensPerStep / dt;
    const rec: StepRecord = {
      step, loss, lr, grad_norm: norm, tokens_per_s: tps, mfu: s.mfu ? mfu(tps, s.mfu.flopsPerToken, s.mfu.peakFlops) : null, dt,
    };
    for (const [k, v] of Object.entries(extraSums)) (rec as unknown as Record<string, number>)[k] = v;
    // Where a step's time goes: forward + backward (with the overlapped all-reduces), the wait for the
    // rest of the exchange (and the clip), the optimizer step (ZeRO-1: with its all-gather).
    rec.phases = { compute: (tBackward - t0) / 1000, sync: (tSync - tBackward) / 1000, update: (performance.now() - tSync) / 1000 };
    tail.push(rec);
    if (tail.length > 20) tail.shift();
    metrics.write(rec);
    if (jsonOut) jsonOut.write(JSON.stringify(rec) + "\n");
    display.update({
      step, totalSteps: s.steps, loss, lr, tokensPerSecond: tps, mfu: rec.mfu, etaSeconds: avgDt * (s.steps - step - 1),
    });
    step++;
    if (s.evalEvery > 0 && step % s.evalEvery === 0) validate();
    if (dist && dist.settings.checksumEvery > 0 && step % dist.settings.checksumEvery === 0) await dist.verifyParameters(step);
    // Signal handlers (SIGINT/SIGTERM → shouldStop) run on the event loop, which a step never yields to (its awaits
    // resolve as microtasks): let pending callbacks run once per step, or a stop request would never be seen.
    if (input.shouldStop) await new Promise((resolve) => setImmediate(resolve));
    // Ranks agree on stopping (the request was summed with the step's scalars).
    const stopping = dist ? stopAsked : input.shouldStop?.() ?? false;
    if (runDir && s.checkpointEvery > 0 && step % s.checkpointEvery === 0 && step < s.steps && !stopping) await saveCheckpoint();
    if (stopping) {
      display.log(`stopping at step ${step} as asked`);
      break;
    }
  }
  display.finish();
  const valLoss = s.evalAtEnd ? validate() : null;
  if (runDir && lastCheckpointStep !== step) await saveCheckpoint();
  metrics.write({ step, event: "stop", rollbacks });
  return { losses, finalStep: step, rollbacks, lastCheckpoint, valLoss };
}
