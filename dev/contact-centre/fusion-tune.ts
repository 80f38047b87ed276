// Validation-only grid for the desk's late fusion (understanding/dense-head.ts): per set, the sparse model (the set's
// SET_RECIPES) and the dense head on the frozen encoder's cached features (encoder-features.ts) are trained on the
// training part only, and the fusion weight w and the dense head's L2 are scored on the validation part (banking77:
// the seeded 10% of train; clinc150: val + oos_val; smp2017 and clue-emotion: their seeded inner splits). The test
// splits are never read.
// usage: node --import tsx dev/contact-centre/fusion-tune.ts --sets banking77,clinc150 [--features /work/runs/ens/features]
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { SET_RECIPES, macroF1, type BenchmarkSet } from "../../src/apps/contact-centre/training/benchmarks.js";
import { loadBanking77, loadClinc150, loadClueEmotion, loadSmp2017, type Example } from "../../src/apps/contact-centre/training/datasets.js";
import { fitClassifier } from "../../src/apps/contact-centre/training/train-models.js";
import { predictText } from "../../src/apps/contact-centre/understanding/model-file.js";
import { DenseHead } from "../../src/apps/contact-centre/understanding/dense-head.js";
import { fuseProbabilities } from "../../src/apps/contact-centre/understanding/fusion.js";

const { values } = parseArgs({ options: { sets: { type: "string" }, features: { type: "string" }, data: { type: "string" }, l2: { type: "string" }, epochs: { type: "string" } } });
const data = path.resolve(values.data ?? "../shared/data");
const featDir = values.features ?? "/work/runs/ens/features";

function featuresOf(set: string): Map<string, Float32Array> {
  const texts = JSON.parse(readFileSync(path.join(featDir, `${set}.texts.json`), "utf8")) as string[];
  const buf = readFileSync(path.join(featDir, `${set}.f32`));
  const rows = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const dim = rows.length / texts.length;
  return new Map(texts.map((t, i) => [t, rows.subarray(i * dim, (i + 1) * dim)]));
}

function splits(set: BenchmarkSet): { fit: Example[]; val: Example[]; calibrate: boolean } {
  switch (set) {
    case "banking77": { const d = loadBanking77(data); return { fit: d.train, val: d.val, calibrate: false }; }
    case "smp2017": { const d = loadSmp2017(data); return { fit: d.train, val: d.val, calibrate: false }; }
    case "clue-emotion": { const d = loadClueEmotion(data); return { fit: d.train, val: d.val, calibrate: false }; }
    case "clinc150": { const d = loadClinc150(data); return { fit: [...d.train, ...d.oosTrain], val: [...d.val, ...d.oosVal], calibrate: true }; }
  }
}

for (const set of (values.sets ?? "banking77,clinc150,smp2017,clue-emotion").split(",") as BenchmarkSet[]) {
  const t0 = Date.now();
  const feats = featuresOf(set);
  const { fit, val, calibrate } = splits(set);
  const recipe = SET_RECIPES[set];
  const sparse = fitClassifier(set, fit, recipe.spec, recipe.train, calibrate ? val : [], recipe.neighbours).model;
  const labels = sparse.classifier.labels;
  const ps = val.map((e) => predictText(sparse, e.text).probs);
  console.error(`${set}: sparse fitted ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const gold = val.map((e) => e.label);
  const score = (probs: Float32Array[]) => {
    const pred = probs.map((p) => labels[p.indexOf(Math.max(...p))]);
    if (set === "clue-emotion") return macroF1(gold, pred);
    if (set === "clinc150") {
      const inScope = gold.map((g, i) => [g, i] as const).filter(([g]) => g !== "oos");
      const acc = inScope.filter(([g, i]) => pred[i] === g).length / inScope.length;
      const oos = gold.map((g, i) => [g, i] as const).filter(([g]) => g === "oos");
      const rec = oos.filter(([, i]) => pred[i] === "oos").length / oos.length;
      return `${acc.toFixed(4)} (${inScope.filter(([g, i]) => pred[i] === g).length}) oos ${rec.toFixed(3)}`;
    }
    return pred.filter((p, i) => p === gold[i]).length / gold.length;
  };
  console.log(`${set} sparse alone: ${score(ps)}`);
  for (const l2 of (values.l2 ?? "1e-4,1e-3").split(",").map(Number)) {
    const t1 = Date.now();
    const dense = DenseHead.train(labels, fit.map((e) => feats.get(e.text)!), fit.map((e) => labels.indexOf(e.label)),
      { l2, epochs: Number(values.epochs ?? 30), classWeight: set === "clue-emotion" ? "balanced" : "none" });
    const pd = val.map((e) => dense.probabilities(feats.get(e.text)!));
    console.log(`${set} dense alone (l2 ${l2}, ${((Date.now() - t1) / 1000).toFixed(0)} s): ${score(pd)}`);
    const row: string[] = [];
    for (const w of [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1]) row.push(`w ${w}: ${score(ps.map((p, i) => fuseProbabilities(p, pd[i], w, 1)))}`);
    console.log(`${set} fused (l2 ${l2}): ${row.join(" | ")}`);
  }
}
