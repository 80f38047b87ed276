// Held-out evaluation of one or more policies for the alignment runs (docs/alignment.md "Runs"): every policy answers
// the same held-out prompts greedily through the batched inference engine (src/infer/rollout.ts), and each reply is
// scored by a verifiable reward (--reward arithmetic: exact answers) or by a reward model (--rm DIR: the score at
// the last reply token, prompt ++ reply ++ stop token as zhiyu ppo scores rollouts). Prints per policy the mean,
// sample sd and n (and the solved share for a verifiable reward) and, for every policy after the first, the share of
// prompts where its reward is above the first policy's (ties counted apart), its wins and losses against the first
// policy and their two-sided exact sign-test p (ties dropped); --out writes every reply and score.
// --kl-ref DIR adds each policy's mean per-token KL(π‖ref) over its own held-out replies: the exact KL of the two
// next-token distributions (temperature 1, full vocabulary) at every reply position, averaged over all positions,
// and its mean per-sequence KL (the sum over one reply's positions, averaged over the prompts).
// --temperature T (> 0) samples the replies instead (seeded by --seed, as zhiyu ppo's rollouts at T), and the KL is
// then that of the distributions they are drawn from: both models' logits / T (what PPO's per-token penalty charges).
// Leaves out: LoRA policies (give merged or fully fine-tuned folders).
// Usage: node --import tsx dev/alignment/eval-policies.ts --prompts FILE [--val-every K (0: every prompt)]
//          (--rm DIR | --reward arithmetic) [--max-new-tokens N (64)] [--temperature T (0) --seed S (0)] [--out FILE.json]
//          [--threads N] NAME=DIR…
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createBackend } from "../../src/backend/index.js";
import { noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { EngineRolloutGenerator } from "../../src/infer/rollout.js";
import { TrainModel } from "../../src/train/model.js";
import { preferenceEncoder } from "../../src/train/preference-run.js";
import { readRlExamples } from "../../src/train/rl-data.js";
import { parseRewards } from "../../src/tools/verifiable-rewards.js";

const { values, positionals } = parseArgs({ allowPositionals: true, options: {
  prompts: { type: "string" }, "val-every": { type: "string" }, rm: { type: "string" }, reward: { type: "string" },
  "max-new-tokens": { type: "string" }, out: { type: "string" }, threads: { type: "string" }, "kl-ref": { type: "string" },
  temperature: { type: "string" }, seed: { type: "string" } } });
if (!values.prompts || positionals.length === 0 || (!values.rm && !values.reward)) {
  throw new Error("usage: eval-policies.ts --prompts FILE [--val-every K] (--rm DIR | --reward arithmetic) [--max-new-tokens N] [--out FILE] NAME=DIR…");
}
const backend = createBackend(values.threads ? { threads: Number(values.threads) } : {});
setDefaultBackend(backend);
const generator = new EngineRolloutGenerator({ backend });
const maxNewTokens = Number(values["max-new-tokens"] ?? 64);
const temperature = Number(values.temperature ?? 0);
const seed = Number(values.seed ?? 0);
if (!(temperature >= 0)) throw new Error(`--temperature ${values.temperature}: expected ≥ 0 (0 = greedy)`);
const klScale = temperature > 0 ? 1 / temperature : 1;
const policies = positionals.map((p) => {
  const at = p.indexOf("=");
  if (at <= 0) throw new Error(`policy ${p}: write NAME=DIR`);
  return { name: p.slice(0, at), dir: p.slice(at + 1) };
});
const enc = preferenceEncoder(policies[0]!.dir);
const decode = (ids: readonly number[]) => enc.tokenizer.decode(ids, { skipSpecialTokens: true });
const stopIds = [...new Set([enc.eosId, enc.endOfTurnId].filter((x): x is number => x !== null))];
const rm = values.rm ? TrainModel.fromHfFolder(values.rm, "f32") : null;
if (rm && rm.scoreLabels !== 1) throw new Error(`--rm ${values.rm}: not a one-label reward model`);
const rewards = values.reward ? parseRewards([values.reward]) : [];
const pad = rm && typeof rm.hfConfig.pad_token_id === "number" ? rm.hfConfig.pad_token_id : (enc.eosId ?? 0);

function rmScores(rows: number[][]): number[] {
  const out: number[] = [];
  for (let i = 0; i < rows.length; i += 16) { // 16 rows per pass keeps the score tensor small
    const chunk = rows.slice(i, i + 16);
    const L = Math.max(...chunk.map((r) => r.length));
    const ids = new Int32Array(chunk.length * L).fill(pad);
    chunk.forEach((r, b) => ids.set(r, b * L));
    const s = noGrad(() => tidy(() => rm!.scores(ids, chunk.length, L).toFloat32Array()));
    chunk.forEach((r, b) => out.push(s[b * L + r.length - 1]!));
  }
  return out;
}

const klRef = values["kl-ref"] ? TrainModel.fromHfFolder(values["kl-ref"], "f32") : null;

/** Mean over reply positions of KL(π(·|prefix) ‖ ref(·|prefix)) and mean over replies of its sum, one row at a time. */
function replyKl(model: TrainModel, rows: readonly { prompt: number; ids: number[] }[]): { perToken: number; perSequence: number } {
  let total = 0, count = 0;
  const V = model.vocabSize;
  for (const r of rows) {
    const n = r.ids.length - r.prompt;
    if (n <= 0) continue;
    const ids = Int32Array.from(r.ids);
    const lp = noGrad(() => tidy(() => model.logits(ids, 1, ids.length).toFloat32Array()));
    const lq = noGrad(() => tidy(() => klRef!.logits(ids, 1, ids.length).toFloat32Array()));
    for (let t = r.prompt - 1; t < r.ids.length - 1; t++) { // the positions that predict the reply tokens
      const p = logSoftmax(lp.subarray(t * V, (t + 1) * V), klScale), q = logSoftmax(lq.subarray(t * V, (t + 1) * V), klScale);
      let kl = 0;
      for (let v = 0; v < V; v++) kl += Math.exp(p[v]!) * (p[v]! - q[v]!);
      total += kl;
      count++;
    }
  }
  return { perToken: total / Math.max(1, count), perSequence: total / Math.max(1, rows.length) };
}
function logSoftmax(raw: Float32Array, scale: number): Float64Array {
  const x = Float64Array.from(raw, (v) => v * scale);
  let m = -Infinity;
  for (const v of x) m = Math.max(m, v);
  let s = 0;
  for (const v of x) s += Math.exp(v - m);
  const lse = m + Math.log(s);
  return x.map((v) => v - lse);
}

const results: { name: string; dir: string; scores: number[]; replies: string[]; kl: { perToken: number; perSequence: number } | null; lengths: number[] }[] = [];
for (const p of policies) {
  const model = TrainModel.fromHfFolder(p.dir, "f32");
  const { train, val } = readRlExamples([values.prompts], enc, model.vocabSize, Number(values["val-every"] ?? 0));
  const examples = val.length > 0 ? val : train;
  const outs = await generator.generate(model, examples.map((e) => e.promptIds), { maxNewTokens, temperature, stopIds, seed });
  const replies = outs.map((o) => {
    const ids = [...o.ids];
    if (o.finishReason === "stop" && ids.length > 0 && stopIds.includes(ids[ids.length - 1]!)) ids.pop();
    return decode(ids);
  });
  const scores = rm
    ? rmScores(examples.map((e, i) => [...e.promptIds, ...outs[i]!.ids]))
    : replies.map((text, i) => rewards.reduce((a, f) => a + (f.score(text, examples[i]!.fields) ?? Number.NaN), 0));
  const kl = klRef ? replyKl(model, examples.map((e, i) => ({ prompt: e.promptIds.length, ids: [...e.promptIds, ...outs[i]!.ids] }))) : null;
  results.push({ name: p.name, dir: p.dir, scores, replies, kl, lengths: outs.map((o) => o.ids.length) });
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Two-sided exact sign test: the chance of a split at least this uneven among wins + losses fair coin flips (ties dropped). */
function signTestP(wins: number, losses: number): number {
  const n = wins + losses, k = Math.min(wins, losses);
  let logC = 0, tail = 0; // logC = log C(n, i), built up i by i
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logC - n * Math.LN2);
  }
  return Math.min(1, 2 * tail);
}
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));
const summary = results.map((r, k) => {
  const first = results[0]!.scores;
  const row: Record<string, unknown> = { name: r.name, dir: r.dir, n: r.scores.length, mean: mean(r.scores), sd: sd(r.scores) };
  if (r.kl !== null) Object.assign(row, { perTokenKl: r.kl.perToken, perSequenceKl: r.kl.perSequence });
  row.meanReplyTokens = r.lengths.reduce((a, b) => a + b, 0) / r.lengths.length;
  if (!rm) row.solved = r.scores.filter((x) => x > 0).length / r.scores.length;
  if (k > 0) {
    row.aboveFirst = r.scores.filter((x, i) => x > first[i]!).length / r.scores.length;
    row.tiesWithFirst = r.scores.filter((x, i) => x === first[i]!).length / r.scores.length;
    const wins = r.scores.filter((x, i) => x > first[i]!).length, losses = r.scores.filter((x, i) => x < first[i]!).length;
    Object.assign(row, { wins, losses, signTestP: signTestP(wins, losses) });
  }
  console.log(JSON.stringify(row));
  return row;
});
if (values.out) {
  writeFileSync(values.out, JSON.stringify({ prompts: values.prompts, rm: values.rm ?? null, reward: values.reward ?? null, maxNewTokens, temperature, seed,
    summary, replies: results.map((r) => ({ name: r.name, scores: r.scores, replies: r.replies })) }, null, 1));
}
