// The accuracy benchmarks of `zhiyu desk eval`: each set's model is trained with the same trainer as the shipped
// models (training/train-models.ts fitClassifier) on the set's training split, or loaded from --model DIR, and
// scored on its test split. banking77: accuracy on the official test split. clinc150: `oos` trained as a class,
// temperature, the `oos` prior and the threshold chosen on val (the highest threshold whose in-scope val accuracy stays within half a
// point of the no-threshold accuracy); reports in-scope accuracy and OOS recall with the threshold (a turn is out
// of scope when predicted `oos` or below it) and with the class alone; the threshold allows half a point of val
// accuracy (also reported: one point). smp2017: seeded stratified 25% test split.
// clue-emotion: train on valid, test on test, macro-F1 (class weights balanced).
// With an encoder (the shipped models/zhiyu-encoder, `desk eval --encoder`), each set's sparse model is joined by a
// dense head on the frozen encoder's features (late fusion, understanding/fusion.ts): both are fitted on the
// training part, the fusion weight and temperature chosen on the validation part (banking77, smp2017, clue-emotion:
// the seeded held-out share of train, then both refitted on train + val with that choice; clinc150: val + oos_val),
// never on test. A weight of 0 means the sparse model alone.
// Leaves out: the hand-off set (handoff-benchmark.ts), timing (a loaded machine makes it meaningless).
import path from "node:path";
import type { TrainOptions } from "../understanding/classifier.js";
import type { FeaturizerSpec } from "../understanding/features.js";
import { existsSync, mkdirSync } from "node:fs";
import type { BertEncoder } from "../../../infer/encoder.js";
import { DenseHead, encoderFeatures, type DenseTrainOptions } from "../understanding/dense-head.js";
import { chooseFusion, fuseProbabilities, type FusionChoice } from "../understanding/fusion.js";
import { loadFusion, saveFusion, type FusedPart } from "../understanding/fusion-file.js";
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
  /** With an encoder: the fusion weight and temperature chosen on val, the validation score of the sparse model
   *  alone and fused, and the test figures of the sparse model alone (what the weight changed). */
  fusion?: { weight: number; temperature: number; val_sparse: number; val_fused: number; sparse_only: Record<string, number> };
  macro_f1?: number;
  precision?: number;
  recall?: number;
  test_size: number;
  train_size: number;
}

/** Hyper-parameters per set (chosen on the sets' own validation data, never on test). */
export const SET_RECIPES: Record<BenchmarkSet, { spec: Partial<FeaturizerSpec>; train: Partial<TrainOptions>; neighbours?: NeighbourOptions; dense?: Partial<DenseTrainOptions> }> = {
  banking77: { spec: { buckets: 1 << 18 }, train: { epochs: 12, learningRate: 2, l2: 1e-5, optimizer: "sgd" }, neighbours: DEFAULT_NEIGHBOURS },
  // clinc150 (on val: dev/contact-centre/tune-clinc.ts): lower L2, smaller steps, English stems, the word block
  // weighted 1.5 against the character block (val 0.9327 vs 0.9293 at 1, 0.9307 at 1.25, 0.9317 at 1.75, 0.9303 at 2,
  // 0.9250 at 0.7); the k-NN vote lowered val accuracy here (0.928 → 0.926 at α 0.9), so it is left out.
  clinc150: { spec: { buckets: 1 << 18, stemLatin: true, wordWeight: 1.5 }, train: { epochs: 20, learningRate: 1, l2: 3e-6, optimizer: "sgd" } },
  smp2017: { spec: { buckets: 1 << 18 }, train: { epochs: 12, learningRate: 2, l2: 1e-5, optimizer: "sgd" }, neighbours: DEFAULT_NEIGHBOURS },
  "clue-emotion": { spec: { buckets: 1 << 18 }, train: { epochs: 12, learningRate: 2, l2: 1e-5, optimizer: "sgd", classWeight: "balanced" }, dense: { classWeight: "balanced" } },
};

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

/** A set's model: the sparse model, joined by the encoder branch when the run has an encoder. */
interface SetModel {
  sparse: LoadedModel;
  fused?: FusedPart;
  /** Validation scores of the sparse model alone and fused (when the choice was made in this run). */
  valSparse?: number;
  valFused?: number;
}

/** Encoder features of texts, each text embedded once per run. */
class FeatureCache {
  private readonly rows = new Map<string, Float32Array>();
  constructor(readonly encoder: BertEncoder) {}
  of(texts: readonly string[]): Float32Array[] {
    const missing = [...new Set(texts.filter((t) => !this.rows.has(t)))];
    encoderFeatures(this.encoder, missing).forEach((f, i) => this.rows.set(missing[i], f));
    return texts.map((t) => this.rows.get(t)!);
  }
}

/** Probabilities of each text: the sparse model's, or the fused ones (w = 0 → the sparse model's exactly). */
function probabilities(m: SetModel, texts: readonly string[], cache: FeatureCache | undefined, sparseOnly = false): Float32Array[] {
  const ps = texts.map((t) => predictText(m.sparse, t).probs);
  if (!m.fused || sparseOnly || m.fused.weight === 0) return ps;
  const feats = cache!.of(texts);
  return ps.map((p, i) => fuseProbabilities(p, m.fused!.head.probabilities(feats[i]), m.fused!.weight, m.fused!.temperature));
}

function argmaxLabel(labels: readonly string[], p: Float32Array): string {
  let best = 0;
  for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
  return labels[best];
}

/** The set's model: loaded from `modelDir/<set>.zdcm` (+ `<set>.fusion.json`) when given, else trained now — the
 *  sparse model on `fit` (calibrated on `calibration`), the dense head beside it, the fusion chosen on `val` by
 *  `score`, then (when `refit` is given) both trained again on `refit` with that choice — and saved there if asked. */
function modelFor(set: BenchmarkSet, parts: { fit: readonly Example[]; val: readonly Example[]; refit?: readonly Example[]; calibration: readonly Example[] },
  score: (labels: readonly string[], gold: readonly string[], probs: Float32Array[]) => number, o: BenchmarkOptions, cache: FeatureCache | undefined): SetModel {
  const file = o.modelDir ? path.join(o.modelDir, `${set}.zdcm`) : undefined;
  const fusionFile = o.modelDir ? path.join(o.modelDir, `${set}.fusion.json`) : undefined;
  if (file && existsSync(file) && !o.save) {
    const sparse = loadModel(file);
    if (!cache || !existsSync(fusionFile!)) return { sparse };
    return { sparse, fused: loadFusion(fusionFile!, sparse.classifier.labels, cache.encoder) };
  }
  const recipe = SET_RECIPES[set];
  const sparseFit = (examples: readonly Example[]) => fitClassifier(set, examples, recipe.spec, recipe.train, parts.calibration, recipe.neighbours);
  let fit = sparseFit(parts.fit);
  let result: SetModel = { sparse: fit.model };
  if (cache) {
    const labels = fit.model.classifier.labels;
    const denseFit = (examples: readonly Example[]) => DenseHead.train(labels, cache.of(examples.map((e) => e.text)),
      examples.map((e) => labels.indexOf(e.label)), { ...recipe.dense, backend: cache.encoder.backend });
    let head = denseFit(parts.fit);
    const gold = parts.val.map((e) => e.label);
    const sparseVal = parts.val.map((e) => predictText(fit.model, e.text).probs);
    const denseVal = cache.of(parts.val.map((e) => e.text)).map((f) => head.probabilities(f));
    const choice: FusionChoice = chooseFusion(sparseVal, denseVal, gold.map((g) => labels.indexOf(g)), (probs) => score(labels, gold, probs));
    const valSparse = score(labels, gold, sparseVal);
    if (parts.refit) {
      fit = sparseFit(parts.refit);
      if (fit.model.classifier.labels.join("\n") !== labels.join("\n")) throw new Error(`[desk eval] ${set}: the refit's labels differ from the fit's`);
      if (choice.weight > 0) head = denseFit(parts.refit);
    }
    result = { sparse: fit.model, fused: { head, weight: choice.weight, temperature: choice.temperature, encoder: cache.encoder.id }, valSparse, valFused: choice.score };
  } else if (parts.refit) {
    fit = sparseFit(parts.refit);
    result = { sparse: fit.model };
  }
  if (file && o.save) {
    mkdirSync(o.modelDir!, { recursive: true });
    saveModel(file, fit.model.header, fit.model.featurizer, fit.model.classifier, fit.seenBuckets, fit.model.neighbours);
    if (result.fused) saveFusion(fusionFile!, result.fused);
  }
  return result;
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
  /** A frozen encoder whose dense head joins each set's sparse model (late fusion); absent: the sparse model alone. */
  encoder?: BertEncoder;
}

const accuracyScore = (labels: readonly string[], gold: readonly string[], probs: Float32Array[]) =>
  probs.filter((p, i) => argmaxLabel(labels, p) === gold[i]).length / gold.length;
const macroF1Score = (labels: readonly string[], gold: readonly string[], probs: Float32Array[]) =>
  macroF1(gold, probs.map((p) => argmaxLabel(labels, p)));

export function runBenchmark(set: BenchmarkSet, o: BenchmarkOptions): BenchmarkResult {
  const cache = o.encoder ? new FeatureCache(o.encoder) : undefined;
  if (set === "clinc150") return clinc150(o, cache);
  const d = set === "banking77" ? loadBanking77(o.dataRoot) : set === "smp2017" ? loadSmp2017(o.dataRoot) : loadClueEmotion(o.dataRoot);
  const train = [...d.train, ...d.val];
  const m = modelFor(set, { fit: d.train, val: d.val, refit: train, calibration: [] }, set === "clue-emotion" ? macroF1Score : accuracyScore, o, cache);
  const labels = m.sparse.classifier.labels;
  const gold = d.test.map((e) => e.label);
  const figures = (sparseOnly: boolean): Record<string, number> => {
    const pred = probabilities(m, d.test.map((e) => e.text), cache, sparseOnly).map((p) => argmaxLabel(labels, p));
    const acc = round(pred.filter((p, i) => p === gold[i]).length / gold.length);
    return set === "clue-emotion" ? { accuracy: acc, macro_f1: round(macroF1(gold, pred)) } : { accuracy: acc };
  };
  return { set, ...figures(false), ...fusionReport(m, () => figures(true)), test_size: d.test.length, train_size: train.length };
}

function fusionReport(m: SetModel, sparseOnly: () => Record<string, number>): Pick<BenchmarkResult, "fusion"> {
  if (!m.fused) return {};
  return { fusion: { weight: m.fused.weight, temperature: round(m.fused.temperature), val_sparse: round(m.valSparse ?? NaN), val_fused: round(m.valFused ?? NaN), sparse_only: sparseOnly() } };
}

function clinc150(o: BenchmarkOptions, cache: FeatureCache | undefined): BenchmarkResult {
  const d = loadClinc150(o.dataRoot);
  const train = [...d.train, ...d.oosTrain];
  const val = [...d.val, ...d.oosVal];
  // The fusion weight maximises val accuracy over in-scope and out-of-scope turns together (the `oos` prior's criterion).
  const m = modelFor("clinc150", { fit: train, val, calibration: val }, accuracyScore, o, cache);
  const figures = (sparseOnly: boolean) => clincFigures(m.sparse.classifier.labels, (items) => probabilities(m, items.map((e) => e.text), cache, sparseOnly), d);
  const main = figures(false);
  const sparseOnly = () => {
    const { accuracy, oos_recall, accuracy_class_only, oos_recall_class_only, accuracy_1pt, oos_recall_1pt } = figures(true);
    return { accuracy, oos_recall, accuracy_class_only, oos_recall_class_only, accuracy_1pt, oos_recall_1pt };
  };
  return { set: "clinc150", ...main, ...fusionReport(m, sparseOnly), test_size: d.test.length + d.oosTest.length, train_size: train.length };
}

function clincFigures(labels: readonly string[], probsOf: (items: readonly Example[]) => Float32Array[], d: ReturnType<typeof loadClinc150>) {
  // The `oos` prior: its probability scaled by f (then renormalised), f chosen on val to maximise val accuracy over
  // in-scope and out-of-scope turns together (the class's share in training is not its share in use).
  const oos = labels.indexOf("oos");
  const decide = (probs: Float32Array, f: number) => {
    const p = Float32Array.from(probs);
    if (oos >= 0) p[oos] *= f;
    let sum = 0;
    for (const v of p) sum += v;
    let best = 0;
    for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
    return { label: labels[best], conf: p[best] / sum };
  };
  const withGold = (items: readonly Example[]) => probsOf(items).map((probs, i) => ({ gold: items[i].label, probs }));
  const valAll = withGold([...d.val, ...d.oosVal]);
  let oosPrior = 1;
  let bestCorrect = -1;
  for (const f of [1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]) {
    const correct = valAll.filter((r) => decide(r.probs, f).label === r.gold).length;
    if (correct > bestCorrect) [bestCorrect, oosPrior] = [correct, f];
  }
  const scored = (rows: { gold: string; probs: Float32Array }[]) => rows.map((r) => ({ gold: r.gold, ...decide(r.probs, oosPrior) }));
  const inAcc = (rows: ReturnType<typeof scored>, t: number) => rows.filter((r) => r.label === r.gold && r.conf >= t).length / rows.length;
  const oosRec = (rows: ReturnType<typeof scored>, t: number) => rows.filter((r) => r.label === "oos" || r.conf < t).length / rows.length;
  // Threshold on val: the highest whose in-scope accuracy drops by at most half a point (the reported operating
  // point) or one point (also reported) from no threshold.
  const valIn = scored(valAll.slice(0, d.val.length));
  const base = inAcc(valIn, 0);
  const highest = (budget: number) => {
    let t = 0;
    for (let x = 0; x <= 1.0001; x += 0.01) if (inAcc(valIn, x) >= base - budget) t = round(x);
    return t;
  };
  const threshold = highest(0.005);
  const threshold1 = highest(0.01);
  const testIn = scored(withGold(d.test));
  const testOos = scored(withGold(d.oosTest));
  return {
    accuracy: round(inAcc(testIn, threshold)), oos_recall: round(oosRec(testOos, threshold)), threshold,
    accuracy_class_only: round(inAcc(testIn, 0)), oos_recall_class_only: round(oosRec(testOos, 0)),
    accuracy_1pt: round(inAcc(testIn, threshold1)), oos_recall_1pt: round(oosRec(testOos, threshold1)), threshold_1pt: threshold1, oos_prior: oosPrior,
  };
}
