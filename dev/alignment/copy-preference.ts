// Teacher-forced copying on make-cs-preferences.ts --val-prompts pairs (docs/alignment.md "Session 12"): chosen is
// a reply whose values were swapped or scrambled afresh in the grounding and the reply alike (right only by copying
// from the prompt), rejected the turn's own training reply (the remembered value). Per policy: the share of pairs
// whose chosen reply has the higher sequence log-probability (copying preferred to remembering), the mean per-token
// negative log-likelihood of chosen and rejected, and the share of chosen reply tokens that are the argmax given
// the true prefix — figures that move before greedy replies copy a whole value (valueRecall in cs-checks.ts).
// Leaves out: sampling, reward-model scores (eval-policies.ts), LoRA policies.
// Usage: node --import tsx dev/alignment/copy-preference.ts --pairs FILE [--limit N] [--threads N] NAME=DIR…
import { parseArgs } from "node:util";
import { createBackend } from "../../src/backend/index.js";
import { noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { preferenceEncoder } from "../../src/train/preference-run.js";
import { readPreferencePairs, type PreferencePair } from "../../src/train/preference-data.js";

/** Σ log p and the argmax hits of the completion tokens, given the prompt, from one row's logits (already log-softmaxed or not). */
export function completionScores(logits: Float32Array, vocab: number, ids: readonly number[], promptLength: number): { logProb: number; hits: number; count: number } {
  if (ids.length * vocab !== logits.length) throw new Error(`completionScores: ${logits.length} logits for ${ids.length} ids × vocabulary ${vocab}`);
  if (!(promptLength >= 1 && promptLength < ids.length)) throw new Error(`completionScores: prompt length ${promptLength} for ${ids.length} ids; need a prompt and a completion`);
  let logProb = 0, hits = 0;
  for (let t = promptLength - 1; t < ids.length - 1; t++) { // logits at t predict token t + 1
    const row = logits.subarray(t * vocab, (t + 1) * vocab);
    let max = -Infinity, arg = 0;
    for (let v = 0; v < vocab; v++) if (row[v]! > max) { max = row[v]!; arg = v; }
    let s = 0;
    for (let v = 0; v < vocab; v++) s += Math.exp(row[v]! - max);
    logProb += row[ids[t + 1]!]! - max - Math.log(s);
    if (arg === ids[t + 1]) hits++;
  }
  return { logProb, hits, count: ids.length - promptLength };
}

if (process.argv[1]?.endsWith("copy-preference.ts")) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { pairs: { type: "string" }, limit: { type: "string" }, threads: { type: "string" } } });
  if (!values.pairs || positionals.length === 0) throw new Error("usage: copy-preference.ts --pairs FILE [--limit N] [--threads N] NAME=DIR…");
  setDefaultBackend(createBackend(values.threads ? { threads: Number(values.threads) } : {}));
  for (const p of positionals) {
    const at = p.indexOf("=");
    if (at <= 0) throw new Error(`policy ${p}: write NAME=DIR`);
    const [name, dir] = [p.slice(0, at), p.slice(at + 1)];
    const model = TrainModel.fromHfFolder(dir, "f32");
    const pairs: PreferencePair[] = readPreferencePairs([values.pairs], preferenceEncoder(dir)).pairs.slice(0, Number(values.limit ?? Infinity));
    const score = (prompt: number[], completion: number[]) => {
      const ids = [...prompt, ...completion];
      const logits = noGrad(() => tidy(() => model.logits(Int32Array.from(ids), 1, ids.length).toFloat32Array()));
      return completionScores(logits, model.vocabSize, ids, prompt.length);
    };
    let prefer = 0, nllC = 0, nllR = 0, hits = 0, count = 0;
    for (const pair of pairs) {
      const c = score(pair.prompt, pair.chosen), r = score(pair.prompt, pair.rejected);
      if (c.logProb > r.logProb) prefer++;
      nllC += -c.logProb / c.count;
      nllR += -r.logProb / r.count;
      hits += c.hits;
      count += c.count;
    }
    const n = pairs.length;
    console.log(JSON.stringify({ name, dir, n, copyPreferred: prefer / n, chosenNll: nllC / n, rejectedNll: nllR / n, chosenTokenAccuracy: hits / count }));
  }
}
