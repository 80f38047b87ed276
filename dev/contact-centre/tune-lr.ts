// Optimiser check for the logistic regression on a validation split carved from banking77's training data (a third
// of it, to be quick): accuracy after E epochs for a few learning rates.
// usage: node --import tsx dev/contact-centre/tune-lr.ts LR[,LR...] EPOCHS [L2] [FEATURIZER-SPEC-JSON]
import path from "node:path";
import { Featurizer } from "../../src/apps/contact-centre/understanding/features.js";
import { LinearClassifier } from "../../src/apps/contact-centre/understanding/classifier.js";
import { loadBanking77, stratifiedSplit } from "../../src/apps/contact-centre/training/datasets.js";

const d = loadBanking77(path.resolve("../shared/data"));
const { held: small } = stratifiedSplit([...d.train, ...d.val], 0.4, 1);
const { kept, held } = stratifiedSplit(small, 0.25, 4242);
const f = new Featurizer({ buckets: 1 << 18, ...JSON.parse(process.argv[5] ?? "{}") }).fit(kept.map((e) => e.text));
const labels = [...new Set(small.map((e) => e.label))].sort();
const xs = kept.map((e) => f.transform(e.text));
const ys = kept.map((e) => labels.indexOf(e.label));
const vx = held.map((e) => f.transform(e.text));
for (const lr of process.argv[2].split(",").map(Number)) {
  const t0 = performance.now();
  const m = LinearClassifier.train(labels, f.dimension, xs, ys, { epochs: Number(process.argv[3]), learningRate: lr, l2: Number(process.argv[4] ?? 1e-6), optimizer: (process.env.OPT ?? "adagrad") as "sgd" });
  const acc = vx.filter((x, i) => m.predict(x).label === held[i].label).length / vx.length;
  console.log(`lr ${lr} epochs ${process.argv[3]} val ${acc.toFixed(4)} (${kept.length} train, ${held.length} val) ${((performance.now() - t0) / 1000).toFixed(0)}s`);
}
