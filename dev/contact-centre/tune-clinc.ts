// Hyper-parameter check for clinc150 on its official validation split (val + oos_val; never test): the logistic
// regression's learning rate, L2 and epochs, the featurizer's Latin character range, and the k-NN blend α.
// (and the number of hash buckets). Prints in-scope val accuracy with `oos` as a class and oos val recall for each setting.
// usage: node --import tsx dev/contact-centre/tune-clinc.ts '[{"lr":2,"l2":1e-5,"epochs":12,"latin":[2,5]}]'
import path from "node:path";
import { Featurizer } from "../../src/apps/contact-centre/understanding/features.js";
import { LinearClassifier } from "../../src/apps/contact-centre/understanding/classifier.js";
import { NeighbourIndex, blend } from "../../src/apps/contact-centre/understanding/neighbours.js";
import { loadClinc150 } from "../../src/apps/contact-centre/training/datasets.js";

interface Setting { lr: number; l2: number; epochs: number; latin?: [number, number]; buckets?: number; stem?: boolean; balanced?: boolean; alphas?: number[] }
const settings = JSON.parse(process.argv[2] ?? "[{}]") as Setting[];
const d = loadClinc150(path.resolve("../shared/data"));
const train = [...d.train, ...d.oosTrain];
const labels = [...new Set(train.map((e) => e.label))].sort();
const featurizers = new Map<string, { f: Featurizer; xs: ReturnType<Featurizer["transform"]>[]; vin: ReturnType<Featurizer["transform"]>[]; voos: ReturnType<Featurizer["transform"]>[] }>();
const ys = train.map((e) => labels.indexOf(e.label));
for (const s of settings) {
  const latin = s.latin ?? [2, 5];
  const buckets = s.buckets ?? 1 << 18;
  const key = JSON.stringify([latin, buckets, s.stem]);
  if (!featurizers.has(key)) {
    const f = new Featurizer({ buckets, latinChars: latin, ...(s.stem ? { stemLatin: true } : {}) }).fit(train.map((e) => e.text));
    featurizers.set(key, { f, xs: train.map((e) => f.transform(e.text)), vin: d.val.map((e) => f.transform(e.text)), voos: d.oosVal.map((e) => f.transform(e.text)) });
  }
  const { f, xs, vin, voos } = featurizers.get(key)!;
  const t0 = performance.now();
  const m = LinearClassifier.train(labels, f.dimension, xs, ys, { epochs: s.epochs, learningRate: s.lr, l2: s.l2, optimizer: "sgd", classWeight: s.balanced ? "balanced" : "none" });
  const idx = new NeighbourIndex(xs, Int32Array.from(ys), labels.length);
  const argmax = (p: Float32Array) => labels[p.indexOf(Math.max(...p))];
  const out: string[] = [];
  for (const alpha of s.alphas ?? [1, 0.8]) {
    const pred = (x: ReturnType<Featurizer["transform"]>) => argmax(blend(m.probabilities(x, 1), idx.vote(x, { k: 10, power: 4, alpha }), alpha));
    const acc = vin.filter((x, i) => pred(x) === d.val[i].label).length / vin.length;
    const rec = voos.filter((x) => pred(x) === "oos").length / voos.length;
    out.push(`α${alpha} in ${acc.toFixed(4)} oos ${rec.toFixed(3)}`);
  }
  console.log(JSON.stringify(s), out.join(" | "), `${((performance.now() - t0) / 1000).toFixed(0)}s`);
}
