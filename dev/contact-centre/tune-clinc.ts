// Hyper-parameter check for clinc150 on its official validation split (val + oos_val; never test): the logistic
// regression's learning rate, L2 and epochs, the featurizer's Latin character range, hash buckets, English stems, the
// word block's weight, the `oos` prior factor, a mean over several shuffles (`seeds`) and the k-NN blend α. Prints
// in-scope val accuracy with `oos` as a class, oos val recall and how many in-scope turns went to `oos`, per setting.
// usage: node --import tsx dev/contact-centre/tune-clinc.ts '[{"lr":2,"l2":1e-5,"epochs":12,"latin":[2,5]}]'
import path from "node:path";
import { Featurizer } from "../../src/apps/contact-centre/understanding/features.js";
import { LinearClassifier } from "../../src/apps/contact-centre/understanding/classifier.js";
import { NeighbourIndex, blend } from "../../src/apps/contact-centre/understanding/neighbours.js";
import { loadClinc150 } from "../../src/apps/contact-centre/training/datasets.js";

/** `mix`: a second model on the same features (its own optimiser settings) whose weights are averaged with the first's
 *  (`mixWeight` its share): the mean of two linear models' logits is one linear model, so it ships as one file. */
interface Mix { lr: number; l2: number; epochs: number; optimizer: "sgd" | "adagrad"; shares: number[] }
interface Setting { lr: number; l2: number; epochs: number; mix?: Mix; latin?: [number, number]; buckets?: number; stem?: boolean; balanced?: boolean; alphas?: number[]; seeds?: number; wordWeight?: number; priors?: number[]; margins?: number[] }
const settings = JSON.parse(process.argv[2] ?? "[{}]") as Setting[];
const d = loadClinc150(path.resolve("../shared/data"));
const train = [...d.train, ...d.oosTrain];
const labels = [...new Set(train.map((e) => e.label))].sort();
const featurizers = new Map<string, { f: Featurizer; xs: ReturnType<Featurizer["transform"]>[]; vin: ReturnType<Featurizer["transform"]>[]; voos: ReturnType<Featurizer["transform"]>[] }>();
const ys = train.map((e) => labels.indexOf(e.label));
for (const s of settings) {
  const latin = s.latin ?? [2, 5];
  const buckets = s.buckets ?? 1 << 18;
  const key = JSON.stringify([latin, buckets, s.stem, s.wordWeight]);
  if (!featurizers.has(key)) {
    const f = new Featurizer({ buckets, latinChars: latin, ...(s.stem ? { stemLatin: true } : {}), ...(s.wordWeight ? { wordWeight: s.wordWeight } : {}) }).fit(train.map((e) => e.text));
    featurizers.set(key, { f, xs: train.map((e) => f.transform(e.text)), vin: d.val.map((e) => f.transform(e.text)), voos: d.oosVal.map((e) => f.transform(e.text)) });
  }
  const { f, xs, vin, voos } = featurizers.get(key)!;
  const t0 = performance.now();
  // `seeds` > 1: the mean of that many fits over different shuffles (one linear model: its logits are the mean logits).
  const fit = (seed: number) => LinearClassifier.train(labels, f.dimension, xs, ys, { epochs: s.epochs, learningRate: s.lr, l2: s.l2, optimizer: "sgd",
    classWeight: s.balanced ? "balanced" : "none", seed });
  const out: string[] = [];
  const vinOf = (mm: LinearClassifier) => (vin.filter((x, i) => { const p = mm.logits(x); return labels[p.indexOf(Math.max(...p))] === d.val[i].label; }).length / vin.length).toFixed(4);
  const m = fit(17);
  for (let k = 1; k < (s.seeds ?? 1); k++) {
    const other = fit(17 + k);
    for (let i = 0; i < m.weights.length; i++) m.weights[i] += (other.weights[i] - m.weights[i]) / (k + 1);
    for (let c = 0; c < m.bias.length; c++) m.bias[c] += (other.bias[c] - m.bias[c]) / (k + 1);
  }
  if (s.mix) {
    const other = LinearClassifier.train(labels, f.dimension, xs, ys, { epochs: s.mix.epochs, learningRate: s.mix.lr, l2: s.mix.l2,
      optimizer: s.mix.optimizer, classWeight: "none", seed: 17 });
    out.push(`first ${vinOf(m)} second ${vinOf(other)}`);
    const mixed = (share: number) => new LinearClassifier(labels, f.dimension, m.weights.map((w, i) => (1 - share) * w + share * other.weights[i]),
      m.bias.map((b, c) => (1 - share) * b + share * other.bias[c]));
    for (const share of s.mix.shares) out.push(`share ${share}: ${vinOf(mixed(share))}`);
    const last = mixed(s.mix.shares[s.mix.shares.length - 1]);
    m.weights.set(last.weights);
    m.bias.set(last.bias);
  }
  const idx = new NeighbourIndex(xs, Int32Array.from(ys), labels.length);
  const argmax = (p: Float32Array) => labels[p.indexOf(Math.max(...p))];
  // The `oos` prior factors (as benchmarks.ts chooses on val): in-scope accuracy and oos recall at each.
  const oosIndex = labels.indexOf("oos");
  const withPrior = (p: Float32Array, f: number) => {
    const q = Float32Array.from(p);
    q[oosIndex] *= f;
    return labels[q.indexOf(Math.max(...q))];
  };
  const vinProbs = vin.map((x) => m.probabilities(x, 1));
  const voosProbs = voos.map((x) => m.probabilities(x, 1));
  for (const f of s.priors ?? []) {
    const acc = vinProbs.filter((p, i) => withPrior(p, f) === d.val[i].label).length / vin.length;
    const rec = voosProbs.filter((p) => withPrior(p, f) === "oos").length / voos.length;
    out.push(`prior ${f}: in ${acc.toFixed(4)} oos ${rec.toFixed(3)}`);
  }
  // A second pass with an oos margin: a turn predicted `oos` whose best in-scope class is within m of it (in
  // probability) gets that class. Printed per margin with the total val accuracy (in-scope + oos_val) that would choose it.
  for (const margin of s.margins ?? []) {
    const decide = (p: Float32Array) => {
      let best = -1;
      for (let c = 0; c < p.length; c++) if (c !== oosIndex && (best < 0 || p[c] > p[best])) best = c;
      const top = p.indexOf(Math.max(...p));
      return top === oosIndex && p[oosIndex] - p[best] < margin ? labels[best] : labels[top];
    };
    const ok = vinProbs.filter((p, i) => decide(p) === d.val[i].label).length;
    const rec = voosProbs.filter((p) => decide(p) === "oos").length;
    out.push(`margin ${margin}: in ${(ok / vin.length).toFixed(4)} oos ${(rec / voos.length).toFixed(3)} total ${((ok + rec) / (vin.length + voos.length)).toFixed(4)}`);
  }
  for (const alpha of s.alphas ?? [1, 0.8]) {
    const pred = (x: ReturnType<Featurizer["transform"]>) => argmax(blend(m.probabilities(x, 1), idx.vote(x, { k: 10, power: 4, alpha }), alpha));
    const acc = vin.filter((x, i) => pred(x) === d.val[i].label).length / vin.length;
    const rec = voos.filter((x) => pred(x) === "oos").length / voos.length;
    const inAsOos = vin.filter((x) => pred(x) === "oos").length;
    out.push(`α${alpha} in ${acc.toFixed(4)} oos ${rec.toFixed(3)} (in-scope → oos ${inAsOos})`);
  }
  console.log(JSON.stringify(s), out.join(" | "), `${((performance.now() - t0) / 1000).toFixed(0)}s`);
}
