// `zhiyu seq2seq`'s setup: an encoder-decoder model (a T5 Hugging Face folder with its tokenizer) trained on the one
// loop with a seq2seq objective (objectives/seq2seq.ts) — span-corruption pretraining on plain-text files
// (documents separated by blank lines, cut into --seq-token pieces), fine-tuning on input/target JSONL, or a
// multi-task mixture file {"tasks": [{"name", "prefix", "data", "rate"}]} (data: JSONL paths relative to the file).
// Every valEvery-th example of each JSONL task is held out for validation (loss at the end). A run folder
// resumes from its newest checkpoint.
// Leaves out: LoRA on seq2seq models, data-parallel runs, packing.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../backend/backend.js";
import { Rng } from "../core/rng.js";
import { setDefaultBackend } from "../tensor/index.js";
import { loadTokenizer } from "../tokenizers/load.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { latestCheckpoint } from "./checkpoint.js";
import { readEvalDocuments } from "./eval.js";
import { runLoop, resumedScheduleSteps } from "./loop.js";
import { modelOptimizer, readTrainerState } from "./loop-state.js";
import { TrainModel } from "./model.js";
import {
  type ExampleSource, MixtureSource, Seq2SeqDataError, Seq2SeqObjective, type Seq2SeqExample, type Seq2SeqTask, SpanCorruptionSource, sentinelIds,
} from "./objectives/seq2seq.js";
import { ProgressDisplay, type ProgressSink } from "./progress.js";

export interface Seq2SeqRunOptions {
  model: string;
  out: string;
  /** Exactly one data form. */
  spanCorruption: string[];
  data: string[];
  mixture: string | null;
  /** Longest source: span-corruption pieces are cut to it, longer JSONL sources are refused. */
  seq: number;
  batch: number;
  gradAccum: number;
  steps: number;
  lr: number;
  minLr: number;
  warmup: number;
  weightDecay: number;
  gradClip: number;
  seed: number;
  noiseDensity: number;
  meanSpanLength: number;
  valEvery: number;
  checkpointEvery: number;
  keepLast: number;
  logEvery: number;
}

export const DEFAULT_SEQ2SEQ_OPTIONS = {
  seq: 128, batch: 8, gradAccum: 1, steps: 200, lr: 1e-3, minLr: 1e-4, warmup: 10, weightDecay: 0, gradClip: 1, seed: 1337,
  noiseDensity: 0.15, meanSpanLength: 3, valEvery: 20, checkpointEvery: 100, keepLast: 2, logEvery: 10,
};

const FIELD_PAIRS = [["input", "target"], ["source", "target"], ["inputs", "targets"]] as const;

/** input/target JSONL → examples (source and target tokenized with the tokenizer's own EOS rule). */
export function readPairs(file: string, tokenizer: Tokenizer, seq: number): Seq2SeqExample[] {
  if (!existsSync(file)) throw new Seq2SeqDataError(`${file}: no such file`);
  const out: Seq2SeqExample[] = [];
  readFileSync(file, "utf8").split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new Seq2SeqDataError(`${file}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
    const pair = FIELD_PAIRS.find(([a, b]) => typeof row?.[a] === "string" && typeof row?.[b] === "string");
    if (!pair) throw new Seq2SeqDataError(`${file}:${i + 1}: expected string fields "input" and "target" (or "source"/"target", "inputs"/"targets")`);
    const source = tokenizer.encode(row[pair[0]] as string), target = tokenizer.encode(row[pair[1]] as string);
    if (source.length > seq) throw new Seq2SeqDataError(`${file}:${i + 1}: the input has ${source.length} tokens, more than --seq ${seq}: shorten it or raise --seq`);
    out.push({ source, target });
  });
  if (out.length === 0) throw new Seq2SeqDataError(`${file}: no examples`);
  return out;
}

function readMixture(file: string, tokenizer: Tokenizer, seq: number): Seq2SeqTask[] {
  let spec: { tasks?: unknown };
  try {
    spec = JSON.parse(readFileSync(file, "utf8")) as { tasks?: unknown };
  } catch (err) {
    throw new Seq2SeqDataError(`${file}: ${(err as Error).message}`);
  }
  if (!Array.isArray(spec.tasks) || spec.tasks.length === 0) throw new Seq2SeqDataError(`${file}: expected {"tasks": [{"name", "prefix", "data", "rate"}, …]}`);
  return spec.tasks.map((t: Record<string, unknown>, i: number) => {
    const where = `${file}: tasks[${i}]`;
    if (typeof t?.name !== "string" || typeof t.data !== "string") throw new Seq2SeqDataError(`${where}: "name" and "data" (a JSONL path) are required`);
    const rate = t.rate ?? 1;
    if (typeof rate !== "number" || !(rate > 0)) throw new Seq2SeqDataError(`${where}: "rate" must be a positive number`);
    const prefix = typeof t.prefix === "string" ? tokenizer.encode(t.prefix, { addSpecialTokens: false }) : [];
    return { name: t.name, prefix, rate, examples: readPairs(path.resolve(path.dirname(file), t.data), tokenizer, seq - prefix.length) };
  });
}

/** The run's example source and held-out examples. */
export function seq2seqData(o: Seq2SeqRunOptions, tokenizer: Tokenizer): { source: ExampleSource; name: "span-corruption" | "seq2seq"; validation: Seq2SeqExample[] } {
  const forms = [o.spanCorruption.length > 0, o.data.length > 0, o.mixture !== null].filter(Boolean).length;
  if (forms !== 1) throw new Seq2SeqDataError("give exactly one of --span-corruption FILE…, --data FILE… or --mixture FILE");
  if (o.spanCorruption.length > 0) {
    const eos = tokenizer.eosTokenId;
    if (eos === null) throw new Seq2SeqDataError(`${o.model}: the tokenizer has no EOS token; span corruption ends source and target with it`);
    const pieceLength = o.seq - 1;
    const spans = Math.max(Math.round(Math.max(Math.round(pieceLength * o.noiseDensity), 1) / o.meanSpanLength), 1);
    const sentinels = sentinelIds((t) => tokenizer.tokenToId(t), spans, path.join(o.model, "tokenizer.json"));
    const docs: number[][] = [];
    for (const f of o.spanCorruption) {
      for (const d of readEvalDocuments(f)) {
        const ids = tokenizer.encode(d, { addSpecialTokens: false });
        // Pieces of the document, each short enough that source (kept tokens + sentinels + EOS) fits --seq.
        for (let at = 0; at + 2 <= ids.length; at += pieceLength) docs.push(ids.slice(at, at + pieceLength));
      }
    }
    const source = new SpanCorruptionSource(docs, { sentinels, eosId: eos, noiseDensity: o.noiseDensity, meanSpanLength: o.meanSpanLength });
    return { source, name: "span-corruption", validation: [] };
  }
  const tasks = o.mixture ? readMixture(o.mixture, tokenizer, o.seq)
    : o.data.map((f) => ({ name: path.basename(f), prefix: [], rate: 1, examples: readPairs(f, tokenizer, o.seq) }));
  const validation: Seq2SeqExample[] = [];
  const held = tasks.map((t) => {
    if (o.valEvery <= 0 || t.examples.length < 2 * o.valEvery) return t;
    const keep = t.examples.filter((_, i) => i % o.valEvery !== o.valEvery - 1);
    for (const e of t.examples.filter((_, i) => i % o.valEvery === o.valEvery - 1)) validation.push({ source: [...t.prefix, ...e.source], target: e.target });
    return { ...t, examples: keep };
  });
  return { source: new MixtureSource(held), name: "seq2seq", validation };
}

export async function runSeq2Seq(input: { options: Seq2SeqRunOptions; backend: Backend; stdout: ProgressSink; shouldStop?: () => boolean }) {
  const o = input.options;
  setDefaultBackend(input.backend);
  const display = new ProgressDisplay(input.stdout, o.logEvery);
  const tokenizer = loadTokenizer(o.model);
  const data = seq2seqData(o, tokenizer);
  const ck0 = latestCheckpoint(o.out);
  const model = TrainModel.fromHfFolder(ck0 ? ck0.dir : o.model, "f32");
  const cfg = model.hfConfig as { decoder_start_token_id?: number; pad_token_id?: number };
  const objective = new Seq2SeqObjective(data.name, data.source, o.batch, { decoderStartId: cfg.decoder_start_token_id ?? cfg.pad_token_id ?? 0,
    padId: cfg.pad_token_id ?? 0 }, data.validation);
  const optimizer = modelOptimizer(model, { lr: o.lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: o.weightDecay });
  const scheduleSteps = ck0 ? resumedScheduleSteps(readTrainerState(ck0.dir), null, o.steps) : o.steps;
  const copies = new Map<string, string>();
  for (const name of ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "spiece.model"]) {
    if (existsSync(path.join(o.model, name))) copies.set(name, path.join(o.model, name));
  }
  const r = await runLoop({
    model, optimizer, objective, rng: new Rng(o.seed), runDir: o.out, resumeFrom: ck0, options: o, copies,
    settings: {
      steps: o.steps, schedule: { lr: o.lr, minLr: o.minLr, warmupSteps: o.warmup, totalSteps: scheduleSteps, kind: "cosine" },
      gradAccum: o.gradAccum, gradClip: o.gradClip, spikeGuard: true, spikeWindow: 50, spikeZscore: 6, maxRollbacks: 5, spikeLrFactor: 1,
      spikeSkip: 0, checkpointEvery: o.checkpointEvery, keepLast: o.keepLast, evalEvery: 0, evalAtEnd: data.validation.length > 0,
      logEvery: o.logEvery, mfu: null,
    },
    banner: `${data.name} of ${model.family} (${(model.parameterCount / 1e6).toFixed(2)}M parameters), steps ${ck0?.step ?? 0}…${o.steps}, batch ${o.batch}`,
    display, jsonOut: null, shouldStop: input.shouldStop,
  });
  if (data.source instanceof MixtureSource) display.log(`examples drawn per task: ${JSON.stringify(data.source.drawn())}`);
  return { ...r, objective: data.name };
}
