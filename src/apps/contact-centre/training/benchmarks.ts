// The accuracy benchmarks of `zhiyu desk eval`: each set's model is trained with the same trainer as the shipped
// models (training/train-models.ts fitClassifier) on the set's training split, or loaded from --model DIR, and
// scored on its test split. banking77: accuracy on the official test split. clinc150: `oos` trained as a class,
// temperature, the `oos` prior and the threshold chosen on val (the highest threshold whose in-scope val accuracy stays within half a
// point of the no-threshold accuracy); reports in-scope accuracy and OOS recall with the threshold (a turn is out
// of scope when predicted `oos` or below it) and with the class alone; the threshold allows half a point of val
// accuracy (also reported: one point). smp2017: seeded stratified 25% test split.
// clue-emotion: train on valid, test on test, macro-F1 (class weights balanced).
// Leaves out: the hand-off set (handoff-benchmark.ts), timing (a loaded machine makes it meaningless).
import { existsSync } from "node:fs";
import path from "node:path";
import type { TrainOptions } from "../understanding/classifier.js";
import type { FeaturizerSpec } from "../understanding/features.js";
import { loadModel, predictText, saveModel, type LoadedModel } from "../understanding/model-file.js";
import { DEFAULT_NEIGHBOURS, type NeighbourOptions } from "../understanding/neighbours.js";
import { loadBanking77, loadClinc150, loadClueEmotion, loadSmp2017, type Example } from "./datasets.js";
import { fitClassifier } from "./train-models.js";

export type BenchmarkSet = "banking77" | "clinc150" | "smp2017" | "clue-emotion";
export const BENCHMARK_SETS: BenchmarkSet[] = ["banking77", "clinc150", "smp2017", "clue-emotion"];

export interface BenchmarkResult {
  set: string;
  accuracy?: number;
  oos_recall?: number;
  /** clinc150: the same model without the threshold (`oos` as a class only). */
  accuracy_class_only?: number;
  oos_recall_class_only?: number;
  threshold?: number;
  /** clinc150 at the operating point whose val accuracy drop is one point. */
  accuracy_1pt?: number;
  oos_recall_1pt?: number;
  threshold_1pt?: number;
  /** clinc150: the factor on the `oos` probability chosen on val. */
  oos_prior?: number;
  macro_f1?: number;
  precision?: number;
  recall?: number;
  test_size: number;
  train_size: number;
}

/** Hyper-parameters per set (chosen on the sets' own validation data, never on test). */
export const SET_RECIPES: Record<BenchmarkSet, { spec: Partial<FeaturizerSpec>; train: Partial<TrainOptions>; neighbours?: NeighbourOptions }> = {
  banking77: { spec: { buckets: 1 << 18 }, train: { epochs: 12, learningRate: 2, l2: 1e-5, optimizer: "sgd" }, neighbours: DEFAULT_NEIGHBOURS },
  // clinc150 (on val: dev/contact-centre/tune-clinc.ts): lower L2, smaller steps, English stems, the word block
  // weighted 1.5 against the character block (val 0.9327 vs 0.9293 at 1, 0.9307 at 1.25, 0.9317 at 1.75, 0.9303 at 2,
  // 0.9250 at 0.7); the k-NN vote lowered val accuracy here (0.928 → 0.926 at α 0.9), so it is left out.
  clinc150: { spec: { buckets: 1 << 18, stemLatin: true, wordWeight: 1.5 }, train: { epochs: 20, learningRate: 1, l2: 3e-6, optimizer: "sgd" } },
  smp2017: { spec: { buckets: 1 << 18 }, train: { epochs: 12, learningRate: 2, l2: 1e-5, optimizer: "sgd" }, neighbours: DEFAULT_NEIGHBOURS },
  "clue-emotion": { spec: { buckets: 1 << 18 }, train: { epochs: 12, learningRate: 2, l2: 1e-5, optimizer: "sgd", classWeight: "balanced" } },
};

function accuracy(model: LoadedModel, items: readonly Example[]): number {
  let ok = 0;
  for (const e of items) if (predictText(model, e.text).label === e.label) ok++;
  return items.length ? ok / items.length : 0;
}

/** Macro-averaged F1 over the gold labels. */
export function macroF1(gold: readonly string[], pred: readonly string[]): number {
  const labels = [...new Set(gold)];
  let sum = 0;
  for (const l of labels) {
    let tp = 0, fp = 0, fn = 0;
    gold.forEach((g, i) => {
      if (pred[i] === l && g === l) tp++;
      else if (pred[i] === l) fp++;
      else if (g === l) fn++;
    });
    sum += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  }
  return labels.length ? sum / labels.length : 0;
}

/** The set's model: loaded from `modelDir/<set>.zdcm` when given, else trained now (and saved there if asked). */
function modelFor(set: BenchmarkSet, train: readonly Example[], calibration: readonly Example[] | undefined, modelDir?: string, save = false): LoadedModel {
  const file = modelDir ? path.join(modelDir, `${set}.zdcm`) : undefined;
  if (file && existsSync(file) && !save) return loadModel(file);
  const recipe = SET_RECIPES[set];
  const fit = fitClassifier(set, train, recipe.spec, recipe.train, calibration, recipe.neighbours);
  if (file && save) saveModel(file, fit.model.header, fit.model.featurizer, fit.model.classifier, fit.seenBuckets, fit.model.neighbours);
  return fit.model;
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

export interface BenchmarkOptions {
  dataRoot: string;
  /** Folder of <set>.zdcm models (from a previous run with save); trained in memory when absent. */
  modelDir?: string;
  /** Save the trained model into modelDir. */
  save?: boolean;
}

export function runBenchmark(set: BenchmarkSet, o: BenchmarkOptions): BenchmarkResult {
  switch (set) {
    case "banking77": {
      const d = loadBanking77(o.dataRoot);
      const train = [...d.train, ...d.val];
      const m = modelFor(set, train, [], o.modelDir, o.save);
      return { set, accuracy: round(accuracy(m, d.test)), test_size: d.test.length, train_size: train.length };
    }
    case "smp2017": {
      const d = loadSmp2017(o.dataRoot);
      const train = [...d.train, ...d.val];
      const m = modelFor(set, train, [], o.modelDir, o.save);
      return { set, accuracy: round(accuracy(m, d.test)), test_size: d.test.length, train_size: train.length };
    }
    case "clue-emotion": {
      const d = loadClueEmotion(o.dataRoot);
      const train = [...d.train, ...d.val];
      const m = modelFor(set, train, [], o.modelDir, o.save);
      const pred = d.test.map((e) => predictText(m, e.text).label);
      const acc = pred.filter((p, i) => p === d.test[i].label).length / d.test.length;
      return { set, accuracy: round(acc), macro_f1: round(macroF1(d.test.map((e) => e.label), pred)), test_size: d.test.length, train_size: train.length };
    }
    case "clinc150":
      return clinc150(o);
  }
}

function clinc150(o: BenchmarkOptions): BenchmarkResult {
  const d = loadClinc150(o.dataRoot);
  const train = [...d.train, ...d.oosTrain];
  const val = [...d.val, ...d.oosVal];
  const m = modelFor("clinc150", train, val, o.modelDir, o.save);
  // The `oos` prior: its probability scaled by f (then renormalised), f chosen on val to maximise val accuracy over
  // in-scope and out-of-scope turns together (the class's share in training is not its share in use).
  const oos = m.classifier.labels.indexOf("oos");
  const decide = (probs: Float32Array, f: number) => {
    const p = Float32Array.from(probs);
    if (oos >= 0) p[oos] *= f;
    let sum = 0;
    for (const v of p) sum += v;
    let best = 0;
    for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
    return { label: m.classifier.labels[best], conf: p[best] / sum };
  };
  const probsOf = (items: readonly Example[]) => items.map((e) => ({ gold: e.label, probs: predictText(m, e.text).probs }));
  const valAll = probsOf([...d.val, ...d.oosVal]);
  let oosPrior = 1;
  let bestCorrect = -1;
  for (const f of [1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]) {
    const correct = valAll.filter((r) => decide(r.probs, f).label === r.gold).length;
    if (correct > bestCorrect) [bestCorrect, oosPrior] = [correct, f];
  }
  const scored = (items: readonly Example[]) => probsOf(items).map((r) => ({ gold: r.gold, ...decide(r.probs, oosPrior) }));
  const inAcc = (rows: ReturnType<typeof scored>, t: number) => rows.filter((r) => r.label === r.gold && r.conf >= t).length / rows.length;
  const oosRec = (rows: ReturnType<typeof scored>, t: number) => rows.filter((r) => r.label === "oos" || r.conf < t).length / rows.length;
  // Threshold on val: the highest whose in-scope accuracy drops by at most half a point (the reported operating
  // point) or one point (also reported) from no threshold.
  const valIn = scored(d.val);
  const base = inAcc(valIn, 0);
  const highest = (budget: number) => {
    let t = 0;
    for (let x = 0; x <= 1.0001; x += 0.01) if (inAcc(valIn, x) >= base - budget) t = round(x);
    return t;
  };
  const threshold = highest(0.005);
  const threshold1 = highest(0.01);
  const testIn = scored(d.test);
  const testOos = scored(d.oosTest);
  return {
    set: "clinc150", accuracy: round(inAcc(testIn, threshold)), oos_recall: round(oosRec(testOos, threshold)), threshold,
    accuracy_class_only: round(inAcc(testIn, 0)), oos_recall_class_only: round(oosRec(testOos, 0)),
    accuracy_1pt: round(inAcc(testIn, threshold1)), oos_recall_1pt: round(oosRec(testOos, threshold1)), threshold_1pt: threshold1, oos_prior: oosPrior,
    test_size: testIn.length + testOos.length, train_size: train.length,
  };
}
