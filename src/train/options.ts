// The typed, validated settings of a training run, and their defaults. The CLI (src/cli/commands/train.ts) turns
// flags and an optional JSON config file into `TrainOptions`; checkpoints store them so `--resume` needs no flags.
// Keys of a config file are the long flag names (e.g. {"preset": "tiny", "lr": 3e-4, "grad-clip": 1}).
// Leaves out: model shape settings (presets, --model-config FILE or --init DIR give those).

export type ScheduleKind = "cosine" | "linear" | "constant";
export type TrainDType = "f32" | "bf16";

export interface TrainOptions {
  /** Model source: exactly one of preset, modelConfig (a config.json path), init (an HF folder). */
  preset: string | null;
  modelConfig: string | null;
  init: string | null;
  /** Overrides the vocabulary of a preset/config (default: the data's recorded vocabulary, else the preset's). */
  vocabSize: number | null;
  /** Token file or folder of shards. */
  data: string;
  /** Validation token file or folder (default: the val_*.bin shards beside --data when it is a folder). */
  valData: string | null;
  /** Tokenizer files copied into checkpoints (a tokenizer.json or a folder holding tokenizer files). */
  tokenizer: string | null;
  /** Run folder (metrics.jsonl, checkpoints/); null = no files (the reproduction runs). */
  out: string | null;
  batch: number;
  seq: number;
  steps: number;
  /** Length of the LR schedule (warmup + decay); null = --steps. A resumed run keeps its checkpoint's length unless
   *  this is given again (then the LR follows a schedule of this length from step 0, so it may rise at the resume). */
  scheduleSteps: number | null;
  /** Micro-batches accumulated per optimizer step (the effective batch is batch × gradAccum rows). */
  gradAccum: number;
  lr: number;
  minLr: number;
  warmup: number;
  schedule: ScheduleKind;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Also decay norms, biases and embeddings (llm.c decays everything; the default does not). */
  decayAll: boolean;
  /** Global-norm clip; 0 = off. */
  gradClip: number;
  shuffle: boolean;
  seed: number;
  dtype: TrainDType;
  threads: number | null;
  /** Validation every K steps (0 = never) over evalBatches batches. */
  evalEvery: number;
  evalBatches: number;
  /** Checkpoint every K steps (0 = only at exit), keeping the newest keepLast (0 = all). */
  checkpointEvery: number;
  keepLast: number;
  spikeGuard: boolean;
  spikeWindow: number;
  spikeZscore: number;
  maxRollbacks: number;
  /** Multiply the learning rate by this after each rollback (1 = unchanged). */
  spikeLrFactor: number;
  /** Extra batches skipped after the one that spiked. */
  spikeSkip: number;
  jsonLog: boolean;
  logEvery: number;
  /** Assumed peak FLOP/s for MFU (null = the built-in estimate for the threads in use). */
  peakFlops: number | null;
  /** What is learned: next-token prediction (decoders) or masked-LM (encoders; needs --tokenizer for [MASK]). */
  objective: "causal-lm" | "mlm";
  /** MLM: mask whole words (WordPiece pieces together; Chinese words cut by jieba), as BERT-wwm. */
  wholeWord: boolean;
}

export const DEFAULT_OPTIONS: Omit<TrainOptions, "data"> = {
  preset: null, modelConfig: null, init: null, vocabSize: null, valData: null, tokenizer: null, out: null,
  batch: 8, seq: 128, steps: 1000, scheduleSteps: null, gradAccum: 1,
  lr: 6e-4, minLr: 0, warmup: 0, schedule: "cosine", beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1,
  decayAll: false, gradClip: 1.0, shuffle: true, seed: 1337, dtype: "f32", threads: null,
  evalEvery: 0, evalBatches: 8, checkpointEvery: 0, keepLast: 3,
  spikeGuard: true, spikeWindow: 50, spikeZscore: 6, maxRollbacks: 5, spikeLrFactor: 1, spikeSkip: 0,
  jsonLog: false, logEvery: 10, peakFlops: null, objective: "causal-lm", wholeWord: false,
};

export class TrainConfigError extends Error {
  override name = "TrainConfigError";
}

/** Checks ranges and combinations; messages name the flag and what to change. */
export function validateOptions(o: TrainOptions): TrainOptions {
  const fail = (msg: string): never => {
    throw new TrainConfigError(msg);
  };
  const sources = [o.preset && "--preset", o.modelConfig && "--model-config", o.init && "--init"].filter(Boolean);
  if (sources.length === 0) fail("no model given: pass --preset NAME, --model-config FILE or --init DIR");
  if (sources.length > 1) fail(`give only one model source, not ${sources.join(" and ")}`);
  if (!o.data) fail("--data FILE|DIR is required (a token file or a folder from `zhiyu data prepare`)");
  const posInt = (v: number, flag: string) => {
    if (!Number.isInteger(v) || v < 1) fail(`${flag} ${v} must be a positive integer`);
  };
  const nonNegInt = (v: number, flag: string) => {
    if (!Number.isInteger(v) || v < 0) fail(`${flag} ${v} must be a non-negative integer`);
  };
  posInt(o.batch, "--batch");
  posInt(o.seq, "--seq");
  posInt(o.steps, "--steps");
  posInt(o.gradAccum, "--grad-accum");
  if (o.scheduleSteps !== null) posInt(o.scheduleSteps, "--schedule-steps");
  nonNegInt(o.warmup, "--warmup");
  nonNegInt(o.evalEvery, "--eval-every");
  posInt(o.evalBatches, "--eval-batches");
  nonNegInt(o.checkpointEvery, "--checkpoint-every");
  nonNegInt(o.keepLast, "--keep-last");
  nonNegInt(o.maxRollbacks, "--max-rollbacks");
  nonNegInt(o.spikeSkip, "--spike-skip");
  posInt(o.logEvery, "--log-every");
  if (o.vocabSize !== null) posInt(o.vocabSize, "--vocab-size");
  if (o.threads !== null) posInt(o.threads, "--threads");
  if (!(o.lr > 0 && Number.isFinite(o.lr))) fail(`--lr ${o.lr} must be a positive number`);
  if (!(o.minLr >= 0 && o.minLr <= o.lr)) fail(`--min-lr ${o.minLr} must be in [0, --lr ${o.lr}]`);
  if (!["cosine", "linear", "constant"].includes(o.schedule)) fail(`--schedule ${o.schedule} must be cosine, linear or constant`);
  if (!(o.beta1 >= 0 && o.beta1 < 1)) fail(`--beta1 ${o.beta1} must be in [0, 1)`);
  if (!(o.beta2 >= 0 && o.beta2 < 1)) fail(`--beta2 ${o.beta2} must be in [0, 1)`);
  if (!(o.eps > 0)) fail(`--eps ${o.eps} must be > 0`);
  if (!(o.weightDecay >= 0)) fail(`--weight-decay ${o.weightDecay} must be ≥ 0`);
  if (!(o.gradClip >= 0)) fail(`--grad-clip ${o.gradClip} must be ≥ 0 (0 turns clipping off)`);
  if (o.dtype !== "f32" && o.dtype !== "bf16") fail(`--dtype ${o.dtype} must be f32 or bf16`);
  if (!(o.spikeWindow >= 2 && Number.isInteger(o.spikeWindow))) fail(`--spike-window ${o.spikeWindow} must be an integer ≥ 2`);
  if (!(o.spikeZscore > 0)) fail(`--spike-zscore ${o.spikeZscore} must be > 0`);
  if (!(o.spikeLrFactor > 0 && o.spikeLrFactor <= 1)) fail(`--spike-lr-factor ${o.spikeLrFactor} must be in (0, 1]`);
  if (o.peakFlops !== null && !(o.peakFlops > 0)) fail(`--peak-flops ${o.peakFlops} must be > 0`);
  if (o.objective !== "causal-lm" && o.objective !== "mlm") fail(`--objective ${o.objective} must be causal-lm or mlm`);
  if (o.objective === "mlm" && !o.tokenizer) fail("--objective mlm needs --tokenizer PATH (its [MASK] id and special tokens)");
  if (o.wholeWord && o.objective !== "mlm") fail("--whole-word applies to --objective mlm only");
  return o;
}
