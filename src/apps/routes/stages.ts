// The three-route experiment (`zhiyu recipe recipes/routes.json`), stage by stage into a work folder:
//   extract → tokenizer → prepare → pretrain-<model> (every model) → eval-<model> ((b) reply bits per byte and (c)
//   zero-shot, on the pretrained model) → finetune-<model> ((a) on each intent set) → multitask-<model> ((d)) → report
//   (rerun every time: it collects whatever has finished, missing figures shown as n/a)
// Each stage writes <work>/<stage>.done.json with its figures and is skipped when that file exists; the training
// stages also resume from their newest checkpoint, so a killed run continues where it stopped. Everything is seeded
// (the data sample and split, the tokenizer, initial weights, batch order, masks and spans): for a fixed thread
// count a rerun gives the same losses.
// Leaves out: the figures' rendering (report.ts) and what the evaluations do (tasks.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../../backend/backend.js";
import { Rng } from "../../core/rng.js";
import { setDefaultBackend } from "../../tensor/index.js";
import { loadTokenizer } from "../../tokenizers/load.js";
import type { Tokenizer } from "../../tokenizers/tokenizer.js";
import { BpeTrainer, trainedTokenizerConfig, trainedTokenizerJson } from "../../tokenizers/train-bpe.js";
import { writeFileAtomic } from "../../train/atomic.js";
import { latestCheckpoint } from "../../train/checkpoint.js";
import { TrainModel } from "../../train/model.js";
import type { ProgressSink } from "../../train/progress.js";
import { openTokenStream, writeTokenFile } from "../../train/token-file.js";
import type { RouteModel, RoutesConfig } from "./config.js";
import { corpusDocuments, heldOutReplies, intentSets, trainingReplies } from "./data.js";
import { modelTable, routeHfConfig, specialIds, specialTokens, type SpecialIds } from "./models.js";
import { pretrainObjective, runRouteLoop } from "./pretrain.js";
import { writeReport } from "./report.js";
import { finetuneIntent, multitask, replyBitsPretrained, type TaskContext, zeroShot } from "./tasks.js";

export interface RoutesContext {
  config: RoutesConfig;
  work: string;
  dataRoot: string;
  backend: Backend;
  log: (line: string) => void;
  stdout: ProgressSink;
}

/** always: rerun even when done (the report, which collects whatever the other stages have finished). */
type Stage = { name: string; run: () => Promise<Record<string, unknown>>; always?: boolean };

export function readStage<T = Record<string, unknown>>(work: string, name: string): T | null {
  const f = path.join(work, `${name}.done.json`);
  return existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) as T : null;
}

function tokenizerDir(ctx: RoutesContext): string {
  return path.join(ctx.work, "tokenizer");
}

function loadShared(ctx: RoutesContext): { tok: Tokenizer; ids: SpecialIds } {
  const tok = loadTokenizer(tokenizerDir(ctx));
  return { tok, ids: specialIds((t) => tok.tokenToId(t), ctx.config.tokenizer.sentinels, tokenizerDir(ctx)) };
}

function copies(ctx: RoutesContext): Map<string, string> {
  const dir = tokenizerDir(ctx);
  return new Map(["tokenizer.json", "tokenizer_config.json"].map((f) => [f, path.join(dir, f)]));
}

async function extract(ctx: RoutesContext) {
  const c = ctx.config;
  const docs = corpusDocuments(ctx.dataRoot, c.corpusChars, c.poetryMaxChars, c.seed);
  mkdirSync(path.join(ctx.work, "text"), { recursive: true });
  writeFileSync(path.join(ctx.work, "text", "corpus.txt"), docs.map((d) => d.text.replace(/\n\s*\n/g, "\n")).join("\n\n") + "\n");
  const perSet: Record<string, number> = {};
  for (const d of docs) perSet[d.set] = (perSet[d.set] ?? 0) + d.text.length;
  ctx.log(`extract: ${docs.length} documents, characters per set ${JSON.stringify(perSet)}`);
  return { documents: docs.length, charactersPerSet: perSet };
}

function corpusTexts(ctx: RoutesContext): string[] {
  return readFileSync(path.join(ctx.work, "text", "corpus.txt"), "utf8").split("\n\n").map((d) => d.trim()).filter(Boolean);
}

async function tokenizer(ctx: RoutesContext) {
  const c = ctx.config.tokenizer;
  const trainer = new BpeTrainer({ vocabSize: c.vocabSize, specialTokens: specialTokens(c.sentinels), minFrequency: c.minFrequency });
  for (const doc of corpusTexts(ctx)) for (const line of doc.split("\n")) if (line) trainer.addText(line + "\n");
  const trained = trainer.train();
  const dir = tokenizerDir(ctx);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(trainedTokenizerJson(trained)));
  writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ ...trainedTokenizerConfig(trained) as object, pad_token: "<|pad|>" }, null, 2) + "\n");
  const { tok } = loadShared(ctx);
  ctx.log(`tokenizer: ${tok.vocabSize} tokens`);
  return { vocabSize: tok.vocabSize };
}

async function prepare(ctx: RoutesContext) {
  const { tok, ids } = loadShared(ctx);
  const out: number[] = [];
  let bytes = 0;
  for (const doc of corpusTexts(ctx)) {
    for (const id of tok.encode(doc, { addSpecialTokens: false })) out.push(id);
    out.push(ids.eos);
    bytes += Buffer.byteLength(doc);
  }
  const c = ctx.config.pretrain;
  const need = c.steps * c.batch * c.seq;
  writeTokenFile(path.join(ctx.work, "tokens.bin"), out, tok.vocabSize);
  ctx.log(`prepare: ${out.length} tokens (${(bytes / out.length).toFixed(2)} bytes/token); the budget reads ${need} (${(need / out.length).toFixed(2)} epochs)`);
  return { tokens: out.length, bytesPerToken: bytes / out.length, budgetTokens: need, epochs: need / out.length };
}

function pretrainDir(ctx: RoutesContext, m: RouteModel): string {
  return path.join(ctx.work, "pretrain", m.name);
}

async function pretrain(ctx: RoutesContext, m: RouteModel) {
  const c = ctx.config, p = c.pretrain;
  const { tok, ids } = loadShared(ctx);
  const hf = routeHfConfig(m, tok.vocabSize, 2 * p.seq, ids);
  const stream = openTokenStream([path.join(ctx.work, "tokens.bin")]);
  const objective = pretrainObjective(m.route, stream, { batch: p.batch, seq: p.seq, seed: c.seed }, ids, tok.vocabSize);
  const rng = new Rng(c.seed);
  const t0 = performance.now();
  const { result, model } = await runRouteLoop(() => TrainModel.random(hf, rng, "f32"), objective, rng, {
    out: pretrainDir(ctx, m), steps: p.steps, lr: p.lr, warmup: p.warmup, checkpointEvery: p.checkpointEvery, copies: copies(ctx),
    banner: `pretrain ${m.name} (${m.route}, ${objective.name})`, stdout: ctx.stdout,
  });
  const ck = latestCheckpoint(pretrainDir(ctx, m));
  if (!ck || ck.step !== p.steps) throw new Error(`pretrain ${m.name}: no checkpoint at step ${p.steps} in ${pretrainDir(ctx, m)}`);
  return { objective: objective.name, parameters: model.parameterCount, finalStep: result.finalStep, checkpoint: ck.dir,
    secondsThisProcess: (performance.now() - t0) / 1000 };
}

/** The pretrained checkpoint of a model (its pretrain stage must be done). */
function pretrained(ctx: RoutesContext, m: RouteModel): string {
  const done = readStage<{ checkpoint: string }>(ctx.work, `pretrain-${m.name}`);
  if (!done) throw new Error(`${ctx.work}: stage pretrain-${m.name} is not done; run it first (the stages after it need its checkpoint)`);
  return done.checkpoint;
}

function taskContext(ctx: RoutesContext): TaskContext {
  const { tok, ids } = loadShared(ctx);
  return { config: ctx.config, tok, ids, stdout: ctx.stdout, copies: copies(ctx) };
}

async function evaluatePretrained(ctx: RoutesContext, m: RouteModel) {
  const tc = taskContext(ctx);
  const model = TrainModel.fromHfFolder(pretrained(ctx, m), "f32");
  const sets = intentSets(ctx.dataRoot, ctx.config.seed, ctx.config.finetune.evalLimit);
  const zero: Record<string, number> = {};
  for (const s of sets) zero[s.name] = zeroShot(tc, m.route, model, s);
  const bpb = replyBitsPretrained(tc, m.route, model, heldOutReplies(ctx.dataRoot, ctx.config.seed, ctx.config.replies.perSet));
  ctx.log(`eval ${m.name}: zero-shot ${JSON.stringify(zero)}; reply bits/byte ${JSON.stringify(bpb)}`);
  return { zeroShot: zero, replyBitsPerByte: bpb };
}

async function finetune(ctx: RoutesContext, m: RouteModel) {
  const tc = taskContext(ctx);
  const pre = pretrained(ctx, m);
  const accuracy: Record<string, number> = {};
  for (const s of intentSets(ctx.dataRoot, ctx.config.seed, ctx.config.finetune.evalLimit)) {
    accuracy[s.name] = await finetuneIntent(tc, m.route, pre, s, path.join(ctx.work, "finetune", `${m.name}-${s.name}`));
    ctx.log(`finetune ${m.name} ${s.name}: accuracy ${accuracy[s.name]!.toFixed(4)}`);
  }
  return { accuracy };
}

async function multitaskStage(ctx: RoutesContext, m: RouteModel) {
  const tc = taskContext(ctx);
  const pre = pretrained(ctx, m);
  const sets = intentSets(ctx.dataRoot, ctx.config.seed, ctx.config.finetune.evalLimit);
  const r = await multitask(tc, m.route, pre, sets, trainingReplies(ctx.dataRoot, ctx.config.seed),
    heldOutReplies(ctx.dataRoot, ctx.config.seed, ctx.config.replies.perSet), path.join(ctx.work, "multitask", m.name));
  ctx.log(`multitask ${m.name}: accuracy ${JSON.stringify(r.accuracy)}; reply bits/byte ${JSON.stringify(r.bitsPerByte)}`);
  return { ...r };
}

/** Reply bits per byte under the pretraining text's unigram token frequencies (add-one smoothed): what a model that
 *  ignores all context would score, with the same reply cut (the first replyTokens tokens). */
function unigramReplyBits(ctx: RoutesContext): Record<string, number> {
  const { tok } = loadShared(ctx);
  const stream = openTokenStream([path.join(ctx.work, "tokens.bin")]);
  const ids = new Int32Array(stream.length);
  stream.copyTo(0, stream.length, ids);
  const counts = new Float64Array(tok.vocabSize).fill(1);
  for (const id of ids) counts[id]!++;
  const total = counts.reduce((a, b) => a + b, 0);
  const bits: Record<string, [number, number]> = {};
  for (const p of heldOutReplies(ctx.dataRoot, ctx.config.seed, ctx.config.replies.perSet)) {
    const reply = tok.encode(p.reply, { addSpecialTokens: false }).slice(0, ctx.config.replies.replyTokens);
    const b = bits[p.set] ?? (bits[p.set] = [0, 0]);
    for (const id of reply) { b[0] -= Math.log2(counts[id]! / total); b[1] += tok.tokenBytes(id).length; }
  }
  return Object.fromEntries(Object.entries(bits).map(([k, [b, n]]) => [k, b / n]));
}

/** Accuracy without a model on each test sample: always the training split's most frequent label, and chance. */
function baselines(ctx: RoutesContext): Record<string, { majority: number; chance: number }> {
  const out: Record<string, { majority: number; chance: number }> = {};
  for (const s of intentSets(ctx.dataRoot, ctx.config.seed, ctx.config.finetune.evalLimit)) {
    const counts = new Array<number>(s.labels.length).fill(0);
    for (const e of s.train) counts[e.label]!++;
    const top = counts.indexOf(Math.max(...counts));
    out[s.name] = { majority: s.test.filter((e) => e.label === top).length / s.test.length, chance: 1 / s.labels.length };
  }
  return out;
}

export function routeStages(ctx: RoutesContext): Stage[] {
  const ms = ctx.config.models;
  return [
    { name: "extract", run: () => extract(ctx) },
    { name: "tokenizer", run: () => tokenizer(ctx) },
    { name: "prepare", run: () => prepare(ctx) },
    ...ms.map((m) => ({ name: `pretrain-${m.name}`, run: () => pretrain(ctx, m) })),
    ...ms.map((m) => ({ name: `eval-${m.name}`, run: () => evaluatePretrained(ctx, m) })),
    ...ms.map((m) => ({ name: `finetune-${m.name}`, run: () => finetune(ctx, m) })),
    ...ms.map((m) => ({ name: `multitask-${m.name}`, run: () => multitaskStage(ctx, m) })),
    { name: "report", always: true, run: async () => {
      const { tok, ids } = loadShared(ctx);
      return writeReport(ctx.work, ctx.config, modelTable(ctx.config, tok.vocabSize, ids), baselines(ctx), unigramReplyBits(ctx));
    } },
  ];
}

/** Runs the stages in order, skipping finished ones; `until` stops after that stage; `only` (stage names) runs just
 *  those — several processes can then share the models' stages (each stage's inputs must be done already). */
export async function runRoutes(ctx: RoutesContext, until: string | null = null, only: readonly string[] | null = null): Promise<void> {
  mkdirSync(ctx.work, { recursive: true });
  setDefaultBackend(ctx.backend);
  const stages = routeStages(ctx);
  if (until !== null && !stages.some((s) => s.name === until)) {
    throw new Error(`--until ${until}: the stages are ${stages.map((s) => s.name).join(", ")}`);
  }
  for (const name of only ?? []) {
    if (!stages.some((s) => s.name === name)) throw new Error(`--only ${name}: the stages are ${stages.map((s) => s.name).join(", ")}`);
  }
  for (const s of stages) {
    if (only && !only.includes(s.name)) continue;
    const file = path.join(ctx.work, `${s.name}.done.json`);
    if (existsSync(file) && !s.always) ctx.log(`stage ${s.name}: done already`);
    else {
      const t0 = performance.now();
      ctx.log(`stage ${s.name}: starting`);
      const info = await s.run();
      const seconds = (performance.now() - t0) / 1000;
      writeFileAtomic(file, JSON.stringify({ stage: s.name, ...info, seconds, finishedAt: new Date().toISOString() }, null, 2) + "\n");
      ctx.log(`stage ${s.name}: done in ${seconds.toFixed(0)} s`);
    }
    if (s.name === until) return;
  }
}
