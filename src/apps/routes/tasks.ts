// The experiment's evaluations and fine-tunings for one pretrained model of any route:
//   (a) intent classification after fine-tuning on the task alone — decoder: a classifier head (`score.weight`) on
//       the last token (the EOS closing the text); encoder: the [CLS] head (pooler + classifier); encoder-decoder:
//       text to text (the label's name as the target), predicted by rank classification over the label names;
//   (b) bits per byte of held-out dialogue replies given their context — decoder: the reply's tokens after
//       "context\n"; encoder-decoder: the reply as the span behind one sentinel (source "context\n<extra_id_0>",
//       target "<extra_id_0> reply"); encoder: not applicable (an MLM gives no normalised probability of a text);
//   (c) zero-shot classification by prompting with label names ("text\n意图：" / "text\nIntent:" then the name), the
//       label with the best mean log-probability per token wins — decoder: continuation; encoder-decoder: the span
//       after a sentinel; encoder: [MASK] × (the name's length) filled in one pass;
//   (d) multi-task fine-tuning on a mixture (both intent sets and dialogue replies, text prefixes and rates), then
//       (a) and (b) again — decoder and encoder-decoder text to text; encoder: one classifier head over both label
//       sets (prediction restricted to the task's labels), replies not applicable.
// Leaves out: generation metrics (BLEU etc.), calibration, the out-of-scope threshold.
import { Rng } from "../../core/rng.js";
import type { Tokenizer } from "../../tokenizers/tokenizer.js";
import { crossEntropy, fromTypedArray, reshape } from "../../tensor/index.js";
import { TrainModel } from "../../train/model.js";
import type { ObjectiveContext, ObjectiveLoss, TrainingObjective } from "../../train/objective.js";
import { argmax, type ClassExample, ClassifyObjective, predictLogits } from "../../train/objectives/classify.js";
import { MixtureSource, type Seq2SeqExample, Seq2SeqObjective } from "../../train/objectives/seq2seq.js";
import type { ProgressSink } from "../../train/progress.js";
import type { Route, RoutesConfig } from "./config.js";
import type { IntentSet, ReplyPair } from "./data.js";
import type { SpecialIds } from "./models.js";
import { runRouteLoop } from "./pretrain.js";
import { bitsPerByte, type CausalRow, rankAccuracy, scoreCausal, scoreMasked, scoreSeq2Seq, type Seq2SeqRow } from "./scoring.js";

export interface TaskContext {
  config: RoutesConfig;
  tok: Tokenizer;
  ids: SpecialIds;
  stdout: ProgressSink;
  /** Tokenizer files copied into fine-tuning checkpoints. */
  copies: ReadonlyMap<string, string>;
}

const enc = (ctx: TaskContext, text: string) => ctx.tok.encode(text, { addSpecialTokens: false });
const promptOf = (set: IntentSet, text: string) => (set.lang === "zh" ? `${text}\n意图：` : `${text}\nIntent:`);
const labelText = (set: IntentSet, name: string) => (set.lang === "zh" ? name : ` ${name}`);
const TEXT_TOKENS = 48;

/** (c) Zero-shot accuracy of a pretrained model on a set's test examples. */
export function zeroShot(ctx: TaskContext, route: Route, model: TrainModel, set: IntentSet): number {
  const labels = set.names.map((n) => enc(ctx, labelText(set, n)));
  const gold = set.test.map((e) => e.label);
  const prompts = set.test.map((e) => enc(ctx, promptOf(set, e.text)).slice(-TEXT_TOKENS));
  const { ids } = ctx;
  switch (route) {
    case "decoder": {
      const rows: CausalRow[] = prompts.flatMap((p) => labels.map((l) => ({ ids: [...p, ...l], from: p.length })));
      return rankAccuracy(scoreCausal(model, rows, ids.pad), labels.length, gold, true);
    }
    case "encoder-decoder": {
      const rows: Seq2SeqRow[] = prompts.flatMap((p) => labels.map((l) => ({ source: [...p, ids.sentinels[0]!, ids.eos], target: [ids.sentinels[0]!, ...l], from: 1 })));
      return rankAccuracy(scoreSeq2Seq(model, rows, { decoderStart: ids.pad, pad: ids.pad }), labels.length, gold, true);
    }
    case "encoder": {
      const rows = prompts.flatMap((p) => labels.map((l) => ({
        ids: [ids.cls, ...p, ...l.map(() => ids.mask), ids.sep], positions: l.map((_, k) => 1 + p.length + k), truth: l,
      })));
      return rankAccuracy(scoreMasked(model, rows, ids.pad), labels.length, gold, true);
    }
  }
}

/** Reply rows: context cut to its last contextTokens tokens, reply to its first replyTokens; bytes are the scored
 *  tokens' bytes. */
function replyParts(ctx: TaskContext, pairs: readonly ReplyPair[], prefix: string) {
  const r = ctx.config.replies;
  return pairs.map((p) => {
    const reply = enc(ctx, p.reply).slice(0, r.replyTokens);
    return { set: p.set, context: [...enc(ctx, prefix), ...enc(ctx, p.context).slice(-r.contextTokens)], reply,
      bytes: reply.reduce((a, id) => a + ctx.tok.tokenBytes(id).length, 0) };
  });
}

function bpbBySet(parts: ReturnType<typeof replyParts>, scores: { nats: number; tokens: number }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const set of [...new Set(parts.map((p) => p.set))]) {
    const idx = parts.flatMap((p, i) => (p.set === set ? [i] : []));
    out[set] = bitsPerByte(idx.map((i) => scores[i]!), idx.map((i) => parts[i]!.bytes));
  }
  return out;
}

/** (b) Bits per byte of held-out replies under a pretrained model (null: not applicable to an encoder). */
export function replyBitsPretrained(ctx: TaskContext, route: Route, model: TrainModel, pairs: readonly ReplyPair[]): Record<string, number> | null {
  const nl = enc(ctx, "\n");
  const parts = replyParts(ctx, pairs, "");
  const { ids } = ctx;
  switch (route) {
    case "decoder":
      return bpbBySet(parts, scoreCausal(model, parts.map((p) => ({ ids: [...p.context, ...nl, ...p.reply], from: p.context.length + nl.length })), ids.pad));
    case "encoder-decoder":
      return bpbBySet(parts, scoreSeq2Seq(model, parts.map((p) => ({
        source: [...p.context, ...nl, ids.sentinels[0]!, ids.eos], target: [ids.sentinels[0]!, ...p.reply], from: 1,
      })), { decoderStart: ids.pad, pad: ids.pad }));
    case "encoder":
      return null;
  }
}

const PREFIX = { smp2017: "smp2017: ", banking77: "banking77: ", reply: "reply: " } as const;

/** A text-to-text example of the route's framing: decoder source ends with [SEP] (the LM continues after it);
 *  encoder-decoder source ends with EOS; targets end with EOS. */
function textToText(ctx: TaskContext, route: Route, source: number[], target: number[]): Seq2SeqExample {
  return { source: [...source, route === "decoder" ? ctx.ids.sep : ctx.ids.eos], target: [...target, ctx.ids.eos] };
}

/** The decoder's text-to-text objective: source then target as one row, loss on the target tokens only. */
class PrefixLmObjective implements TrainingObjective<{ inputs: Int32Array; targets: Int32Array; rows: number; seq: number }> {
  readonly name = "prefix-lm";
  readonly tokensPerMicroBatch: number;
  readonly seq: number;
  constructor(private readonly source: MixtureSource, private readonly batch: number, private readonly padId: number) {
    this.seq = source.tokensPerExample;
    this.tokensPerMicroBatch = batch * source.tokensPerExample;
  }
  nextBatch(ctx: ObjectiveContext) {
    const ex = Array.from({ length: this.batch }, () => this.source.next(ctx.rng));
    const seq = Math.max(...ex.map((e) => e.source.length + e.target.length)) - 1;
    const inputs = new Int32Array(this.batch * seq).fill(this.padId), targets = new Int32Array(this.batch * seq).fill(-100);
    ex.forEach((e, b) => {
      const row = [...e.source, ...e.target];
      inputs.set(row.slice(0, -1), b * seq);
      for (let t = e.source.length; t < row.length; t++) targets[b * seq + t - 1] = row[t]!;
    });
    return { inputs, targets, rows: this.batch, seq };
  }
  loss(model: TrainModel, b: { inputs: Int32Array; targets: Int32Array; rows: number; seq: number }): ObjectiveLoss {
    const logits = model.logits(b.inputs, b.rows, b.seq);
    return { loss: crossEntropy(reshape(logits, [b.rows * b.seq, logits.shape[2]!]), fromTypedArray(b.targets, [b.rows * b.seq]), { ignoreIndex: -100 }) };
  }
  weight(b: { targets: Int32Array }): number {
    return b.targets.reduce((a, t) => a + (t < 0 ? 0 : 1), 0);
  }
  position(): unknown { return this.source.position(); }
  restorePosition(p: unknown): void { this.source.restorePosition(p); }
  skip(): void {}
}

function classExamples(ctx: TaskContext, route: Route, rows: readonly { text: string; label: number }[], prefix = ""): ClassExample[] {
  const max = ctx.config.finetune.maxLen;
  return rows.map((r) => {
    const body = enc(ctx, prefix + r.text);
    const ids = route === "encoder" ? [ctx.ids.cls, ...body.slice(0, max - 2), ctx.ids.sep] : [...body.slice(0, max - 1), ctx.ids.eos];
    return { ids: Int32Array.from(ids), label: r.label };
  });
}

function headAccuracy(model: TrainModel, examples: readonly ClassExample[], padId: number, allowed?: readonly number[]): number {
  const logits = predictLogits(model, examples, 32, padId);
  let right = 0;
  logits.forEach((z, i) => {
    const pred = allowed ? allowed[argmax(allowed.map((k) => z[k]!))]! : argmax(z);
    if (pred === examples[i]!.label) right++;
  });
  return right / examples.length;
}

/** Rank classification of a text-to-text model over a set's labels (sum of −log p of name + EOS). */
function textToTextAccuracy(ctx: TaskContext, route: Route, model: TrainModel, set: IntentSet, prefix: string): number {
  const max = ctx.config.finetune.maxLen;
  const targets = set.names.map((n) => enc(ctx, n));
  const gold = set.test.map((e) => e.label);
  const examples = set.test.flatMap((e) => targets.map((t) => textToText(ctx, route, enc(ctx, prefix + e.text).slice(0, max - 1), t)));
  const scores = route === "decoder"
    ? scoreCausal(model, examples.map((x) => ({ ids: [...x.source, ...x.target], from: x.source.length })), ctx.ids.pad)
    : scoreSeq2Seq(model, examples.map((x) => ({ ...x, from: 0 })), { decoderStart: ctx.ids.pad, pad: ctx.ids.pad });
  return rankAccuracy(scores, targets.length, gold, false);
}

/** (a) Fine-tunes a pretrained checkpoint on one intent set and returns the test accuracy. */
export async function finetuneIntent(ctx: TaskContext, route: Route, pretrained: string, set: IntentSet, out: string): Promise<number> {
  const f = ctx.config.finetune, seed = ctx.config.seed;
  const rng = new Rng(seed + 11);
  const loop = { out, steps: f.steps, lr: f.lr, warmup: Math.round(f.steps / 20), checkpointEvery: f.steps, copies: ctx.copies,
    banner: `fine-tune ${route} on ${set.name}`, stdout: ctx.stdout };
  if (route === "encoder-decoder") {
    const examples = set.train.map((e) => textToText(ctx, route, enc(ctx, e.text).slice(0, f.maxLen - 1), enc(ctx, set.names[e.label]!)));
    const objective = new Seq2SeqObjective("seq2seq", new MixtureSource([{ name: set.name, prefix: [], rate: 1, examples }]), f.batch,
      { decoderStartId: ctx.ids.pad, padId: ctx.ids.pad });
    const { model } = await runRouteLoop(() => TrainModel.fromHfFolder(pretrained, "f32"), objective, rng, loop);
    return textToTextAccuracy(ctx, route, model, set, "");
  }
  const head = { head: "sequence-classification" as const, labels: set.labels };
  const train = classExamples(ctx, route, set.train);
  const objective = new ClassifyObjective(train, [], f.batch, ctx.ids.pad, f.maxLen, seed, null);
  const { model } = await runRouteLoop(() => TrainModel.fromHfFolder(pretrained, "f32", { rng: new Rng(seed + 12), head }), objective, rng, loop);
  return headAccuracy(model, classExamples(ctx, route, set.test), ctx.ids.pad);
}

export interface MultitaskResult {
  accuracy: Record<string, number>;
  bitsPerByte: Record<string, number> | null;
}

/** (d) Multi-task fine-tuning on both intent sets and dialogue replies, then accuracy and reply bits per byte. */
export async function multitask(ctx: TaskContext, route: Route, pretrained: string, sets: readonly IntentSet[], train: readonly ReplyPair[],
  heldOut: readonly ReplyPair[], out: string): Promise<MultitaskResult> {
  const m = ctx.config.multitask, f = ctx.config.finetune, seed = ctx.config.seed;
  const rng = new Rng(seed + 21);
  const loop = { out, steps: m.steps, lr: m.lr, warmup: Math.round(m.steps / 20), checkpointEvery: m.steps, copies: ctx.copies,
    banner: `multi-task fine-tune ${route}`, stdout: ctx.stdout };
  const rate = (name: string) => (name === "smp2017" ? m.rates.intentZh : m.rates.intentEn);
  if (route === "encoder") {
    // One head over both label sets; the training list is drawn by the intent rates (replies do not apply).
    const offsets = sets.map((_, i) => sets.slice(0, i).reduce((a, s) => a + s.labels.length, 0));
    const labels = sets.flatMap((s) => s.labels.map((l) => `${s.name}:${l}`));
    const per = sets.map((s, i) => classExamples(ctx, route, s.train.map((e) => ({ text: e.text, label: e.label + offsets[i]! })), PREFIX[s.name]));
    const draw = new Rng(seed + 22), total = sets.reduce((a, s) => a + rate(s.name), 0), cursors = sets.map(() => 0);
    const list: ClassExample[] = [];
    for (let i = 0; i < m.steps * m.batch; i++) {
      let u = draw.nextFloat() * total, k = 0;
      while (k < sets.length - 1 && u >= rate(sets[k]!.name)) u -= rate(sets[k++]!.name);
      list.push(per[k]![cursors[k]!++ % per[k]!.length]!);
    }
    const objective = new ClassifyObjective(list, [], m.batch, ctx.ids.pad, f.maxLen, seed, null);
    const head = { head: "sequence-classification" as const, labels };
    const { model } = await runRouteLoop(() => TrainModel.fromHfFolder(pretrained, "f32", { rng: new Rng(seed + 23), head }), objective, rng, loop);
    const accuracy: Record<string, number> = {};
    sets.forEach((s, i) => {
      const test = classExamples(ctx, route, s.test.map((e) => ({ text: e.text, label: e.label + offsets[i]! })), PREFIX[s.name]);
      accuracy[s.name] = headAccuracy(model, test, ctx.ids.pad, s.labels.map((_, k) => k + offsets[i]!));
    });
    return { accuracy, bitsPerByte: null };
  }
  const r = ctx.config.replies;
  const tasks = [
    ...sets.map((s) => ({ name: s.name, prefix: [], rate: rate(s.name),
      examples: s.train.map((e) => textToText(ctx, route, enc(ctx, PREFIX[s.name] + e.text).slice(0, f.maxLen - 1), enc(ctx, s.names[e.label]!))) })),
    { name: "reply", prefix: [], rate: m.rates.reply, examples: train.map((p) => textToText(ctx, route,
      [...enc(ctx, PREFIX.reply), ...enc(ctx, p.context).slice(-r.contextTokens)], enc(ctx, p.reply).slice(0, r.replyTokens))) },
  ];
  const source = new MixtureSource(tasks);
  const objective = route === "decoder" ? new PrefixLmObjective(source, m.batch, ctx.ids.pad)
    : new Seq2SeqObjective("seq2seq", source, m.batch, { decoderStartId: ctx.ids.pad, padId: ctx.ids.pad });
  const { model } = await runRouteLoop(() => TrainModel.fromHfFolder(pretrained, "f32"), objective, rng, loop);
  const accuracy: Record<string, number> = {};
  for (const s of sets) accuracy[s.name] = textToTextAccuracy(ctx, route, model, s, PREFIX[s.name]);
  const parts = replyParts(ctx, heldOut, PREFIX.reply);
  const end = route === "decoder" ? ctx.ids.sep : ctx.ids.eos;
  const scores = route === "decoder"
    ? scoreCausal(model, parts.map((p) => ({ ids: [...p.context, end, ...p.reply], from: p.context.length + 1 })), ctx.ids.pad)
    : scoreSeq2Seq(model, parts.map((p) => ({ source: [...p.context, end], target: p.reply, from: 0 })), { decoderStart: ctx.ids.pad, pad: ctx.ids.pad });
  return { accuracy, bitsPerByte: bpbBySet(parts, scores) };
}
