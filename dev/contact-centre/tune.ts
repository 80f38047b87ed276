// Hyper-parameter check on a validation split carved from a set's training data (never its test split): logistic
// regression epochs and the k-NN blend (k, power, α). usage: node --import tsx dev/contact-centre/tune.ts banking77|clinc150|smp2017|clue-emotion
import path from "node:path";
import { Featurizer } from "../../src/apps/contact-centre/understanding/features.js";
import { LinearClassifier } from "../../src/apps/contact-centre/understanding/classifier.js";
import { NeighbourIndex, blend } from "../../src/apps/contact-centre/understanding/neighbours.js";
import { loadBanking77, loadClinc150, loadClueEmotion, loadSmp2017, stratifiedSplit, type Example } from "../../src/apps/contact-centre/training/datasets.js";
import { macroF1 } from "../../src/apps/contact-centre/training/benchmarks.js";

const set = process.argv[2] ?? "banking77";
const data = path.resolve("../shared/data");
let all: Example[];
if (set === "banking77") { const d = loadBanking77(data); all = [...d.train, ...d.val]; }
else if (set === "clinc150") { const d = loadClinc150(data); all = [...d.train, ...d.oosTrain]; }
else if (set === "smp2017") { const d = loadSmp2017(data); all = [...d.train, ...d.val]; }
else { const d = loadClueEmotion(data); all = [...d.train, ...d.val]; }
const { kept, held } = stratifiedSplit(all, 0.15, 4242);
const f = new Featurizer({ buckets: 1 << 18 }).fit(kept.map((e) => e.text));
const labels = [...new Set(all.map((e) => e.label))].sort();
const xs = kept.map((e) => f.transform(e.text));
const ys = kept.map((e) => labels.indexOf(e.label));
const vx = held.map((e) => f.transform(e.text));
const vy = held.map((e) => e.label);
const balanced = set === "clue-emotion";
const idx = new NeighbourIndex(xs, Int32Array.from(ys), labels.length);
for (const epochs of [12]) {
  const t0 = performance.now();
  const m = LinearClassifier.train(labels, f.dimension, xs, ys, { epochs, learningRate: 2, l2: 1e-5, optimizer: "sgd", classWeight: balanced ? "balanced" : "none" });
  const probs = vx.map((x) => m.probabilities(x, 1));
  const score = (pred: string[]) => balanced ? macroF1(vy, pred) : pred.filter((p, i) => p === vy[i]).length / vy.length;
  const argmax = (p: Float32Array) => labels[p.indexOf(Math.max(...p))];
  console.log(set, "epochs", epochs, "lr", score(probs.map(argmax)).toFixed(4), `${((performance.now() - t0) / 1000).toFixed(0)}s`);
  for (const k of [5, 10, 20]) for (const power of [2, 4]) {
    const votes = vx.map((x) => idx.vote(x, { k, power, alpha: 0 }));
    const line: string[] = [];
    for (const alpha of [0.8, 0.6, 0.4, 0.2]) line.push(`α${alpha}:${score(probs.map((p, i) => argmax(blend(Float32Array.from(p), votes[i], alpha)))).toFixed(4)}`);
    console.log(`  k${k} p${power} knn:${score(votes.map(argmax)).toFixed(4)} ${line.join(" ")}`);
  }
}
