// The sparse + encoder classifier of `zhiyu finetune --task classify --features sparse+encoder`, as a folder that
// `zhiyu classify` and `zhiyu desk eval --model DIR` load: the desk's sparse n-gram model (features.ts, classifier.ts,
// the k-NN blend) and a softmax head on a frozen encoder's mean-pooled features (dense-head.ts), joined by late
// fusion (fusion.ts) — the combination that reaches the TF-IDF baseline on the intent and emotion sets, in the
// spirit of Rasa's DIET (sparse n-grams beside dense sentence features). Training: both branches fit on the
// training rows, w by the chosen validation score then T by validation NLL, an out-of-scope threshold on the fused
// confidence within a validation-accuracy budget, and (with `refit`) both branches trained again on train + val
// with that choice. The folder: `zhiyu_fused.json` (format, labels, the out-of-scope label and threshold, the file
// names), `<name>.zdcm` (model-file.ts), `<name>.fusion.json` (fusion-file.ts) and the encoder's own folder, copied
// under its own name (fusion-file.ts checks the encoder by that name).
// Leaves out: fine-tuning the encoder (the joint model of src/train/finetune.ts does that, and loses to this),
// per-class fusion weights.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { BertEncoder } from "../../../infer/encoder.js";
import { writeFileAtomic } from "../../../train/atomic.js";
import { chooseOosThreshold } from "../../../train/objectives/classify.js";
import type { TrainOptions } from "../understanding/classifier.js";
import { DenseHead, encoderFeatures, type DenseTrainOptions } from "../understanding/dense-head.js";
import type { FeaturizerSpec } from "../understanding/features.js";
import { chooseFusion, chooseWeight, fuseProbabilities } from "../understanding/fusion.js";
import { loadFusion, readVersionedJson, saveFusion, type FusedPart } from "../understanding/fusion-file.js";
import { loadModel, predictText, saveModel, type LoadedModel } from "../understanding/model-file.js";
import type { NeighbourOptions } from "../understanding/neighbours.js";
import { macroF1 } from "./benchmarks.js";
import type { Example } from "./datasets.js";
import { fitClassifier } from "./train-models.js";

export const FUSED_MANIFEST = "zhiyu_fused.json";
const FORMAT = "zhiyu-fused-classifier";

export interface FusedTrainOptions {
  /** File stem of the sparse model and the fusion file (`<name>.zdcm`, `<name>.fusion.json`): a set's name lets
   *  `zhiyu desk eval --set NAME --model DIR` load the folder. */
  name: string;
  spec: Partial<FeaturizerSpec>;
  sparse: Partial<TrainOptions>;
  /** The k-NN vote blended into the sparse model's probabilities (absent: none). */
  neighbours?: NeighbourOptions;
  dense: Partial<DenseTrainOptions>;
  /** The validation score w maximises. */
  selectBy: "accuracy" | "macro-f1";
  /** After choosing on val, train both branches again on train + val (val then trains too). */
  refit: boolean;
  /** Out-of-scope label (a class when the training rows have it) and the validation accuracy its threshold may cost. */
  oosLabel: string | null;
  oosBudget: number;
}

export interface FusedClassifier {
  sparse: LoadedModel;
  fused: FusedPart;
  oosLabel: string | null;
  /** Out-of-scope threshold on the fused confidence (0 = none). */
  oosThreshold: number;
}

export interface FusedPrediction {
  label: string;
  confidence: number;
  /** Fused probabilities in the sparse model's label order. */
  probs: Float32Array;
  /** With an out-of-scope label: false when answered out of scope (by class or threshold). */
  inScope?: boolean;
}

/** Fused probabilities of texts (w = 0: the sparse model's own). */
export function fusedProbabilities(m: Pick<FusedClassifier, "sparse" | "fused">, texts: readonly string[], features: (texts: readonly string[]) => Float32Array[]): Float32Array[] {
  const ps = texts.map((t) => predictText(m.sparse, t).probs);
  if (m.fused.weight === 0) return ps;
  const f = features(texts);
  return ps.map((p, i) => fuseProbabilities(p, m.fused.head.probabilities(f[i]), m.fused.weight, m.fused.temperature));
}

export function predictFused(m: FusedClassifier, texts: readonly string[], features: (texts: readonly string[]) => Float32Array[]): FusedPrediction[] {
  const labels = m.sparse.classifier.labels;
  return fusedProbabilities(m, texts, features).map((probs) => {
    let best = 0;
    for (let c = 1; c < probs.length; c++) if (probs[c] > probs[best]) best = c;
    const out: FusedPrediction = { label: labels[best], confidence: probs[best], probs };
    if (m.oosLabel !== null) {
      out.inScope = labels[best] !== m.oosLabel && probs[best] >= m.oosThreshold;
      if (!out.inScope) out.label = m.oosLabel;
    }
    return out;
  });
}

function score(by: FusedTrainOptions["selectBy"], labels: readonly string[], gold: readonly string[], probs: readonly Float32Array[]): number {
  const pred = probs.map((p) => {
    let best = 0;
    for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
    return labels[best];
  });
  return by === "macro-f1" ? macroF1(gold, pred) : pred.filter((p, i) => p === gold[i]).length / gold.length;
}

/** Trains both branches, chooses the fusion (and the out-of-scope threshold) on `val`, refits when asked. */
export function trainFusedClassifier(train: readonly Example[], val: readonly Example[], encoderId: string,
  features: (texts: readonly string[]) => Float32Array[], o: FusedTrainOptions): { model: FusedClassifier; seenBuckets: Uint8Array; report: Record<string, unknown> } {
  if (val.length === 0) throw new Error("[fused classifier] no validation rows: the fusion weight, temperature and threshold are chosen on them (give --val FILE or --val-fraction F > 0)");
  // Without a refit the sparse model is calibrated on val; with one, val becomes training data (the fused T calibrates).
  const sparseFit = (rows: readonly Example[]) => fitClassifier(o.name, rows, o.spec, o.sparse, o.refit ? [] : val, o.neighbours);
  let fit = sparseFit(train);
  const labels = fit.model.classifier.labels;
  const index = new Map(labels.map((l, i) => [l, i]));
  for (const e of val) {
    if (!index.has(e.label) && e.label !== o.oosLabel) throw new Error(`[fused classifier] validation label ${JSON.stringify(e.label)} does not occur in the training data`);
  }
  const denseFit = (rows: readonly Example[]) => DenseHead.train(labels, features(rows.map((e) => e.text)), rows.map((e) => index.get(e.label)!), o.dense);
  let head = denseFit(train);
  const gold = val.map((e) => e.label);
  const sparseVal = val.map((e) => predictText(fit.model, e.text).probs);
  const denseVal = features(val.map((e) => e.text)).map((f) => head.probabilities(f));
  // w by the validation score over every row; T by the NLL of the rows whose label is a class (an out-of-scope
  // label that is not a class has no probability to score).
  const weight = chooseWeight(sparseVal, denseVal, (probs) => score(o.selectBy, labels, gold, probs)).weight;
  const known = val.map((e, i) => (index.has(e.label) ? i : -1)).filter((i) => i >= 0);
  const temperature = known.length === 0 ? 1 : chooseFusion(known.map((i) => sparseVal[i]), known.map((i) => denseVal[i]),
    known.map((i) => index.get(gold[i])!), () => 0, [weight]).temperature;
  const fusedVal = sparseVal.map((p, i) => fuseProbabilities(p, denseVal[i], weight, temperature));
  let threshold = 0;
  if (o.oosLabel !== null) {
    const oosClass = index.get(o.oosLabel) ?? null;
    const logits = fusedVal.map((p) => Float32Array.from(p, (v) => Math.log(Math.max(v, 1e-30))));
    threshold = chooseOosThreshold(logits, gold.map((g) => index.get(g) ?? -1), 1, oosClass, o.oosBudget);
  }
  const report = {
    fusion_weight: weight, fusion_temperature: temperature, oos_threshold: threshold,
    [`val_${o.selectBy}_sparse`]: score(o.selectBy, labels, gold, sparseVal),
    [`val_${o.selectBy}_fused`]: score(o.selectBy, labels, gold, fusedVal),
    train_rows: train.length, val_rows: val.length, refit: o.refit,
  };
  if (o.refit) {
    fit = sparseFit([...train, ...val]);
    if (fit.model.classifier.labels.join("\n") !== labels.join("\n")) throw new Error("[fused classifier] the refit's labels differ from the first fit's");
    if (weight > 0) head = denseFit([...train, ...val]);
  }
  return {
    model: { sparse: fit.model, fused: { head, weight, temperature, encoder: encoderId }, oosLabel: o.oosLabel, oosThreshold: threshold },
    seenBuckets: fit.seenBuckets, report,
  };
}

function copyFolder(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = path.join(from, name);
    if (statSync(src).isDirectory()) copyFolder(src, path.join(to, name));
    else copyFileSync(src, path.join(to, name));
  }
}

/** Writes the folder: the manifest, the sparse model, the fusion file and a copy of the encoder folder. */
export function saveFusedClassifier(dir: string, name: string, encoderDir: string, m: FusedClassifier, seenBuckets: Uint8Array, report: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  const encoderName = path.basename(path.resolve(encoderDir));
  if (encoderName !== m.fused.encoder) throw new Error(`[fused classifier] encoder folder ${encoderDir} is not the encoder "${m.fused.encoder}" the head was trained on`);
  copyFolder(encoderDir, path.join(dir, encoderName));
  const s = m.sparse;
  saveModel(path.join(dir, `${name}.zdcm`), { task: s.header.task, labels: s.header.labels, featurizer: s.header.featurizer, trainingHash: s.header.trainingHash,
    meta: s.header.meta, neighbours: s.header.neighbours, ...(m.oosThreshold > 0 ? { oosThreshold: m.oosThreshold } : {}) }, s.featurizer, s.classifier, seenBuckets, s.neighbours);
  saveFusion(path.join(dir, `${name}.fusion.json`), m.fused);
  writeFileAtomic(path.join(dir, FUSED_MANIFEST), JSON.stringify({
    format: FORMAT, version: 1, name, encoder: encoderName, labels: s.classifier.labels, oos_label: m.oosLabel, oos_threshold: m.oosThreshold, report,
  }, null, 2) + "\n");
}

export function isFusedClassifier(dir: string): boolean {
  return existsSync(path.join(dir, FUSED_MANIFEST));
}

/** Reads a folder written by saveFusedClassifier; `loadEncoder` opens its encoder copy. */
export function loadFusedClassifier(dir: string, loadEncoder: (folder: string) => BertEncoder): { model: FusedClassifier; encoder: BertEncoder } {
  const file = path.join(dir, FUSED_MANIFEST);
  const fail = (detail: string): never => {
    throw new Error(`[fused classifier] ${file}: ${detail} (write the folder again with \`zhiyu finetune --task classify --features sparse+encoder\`)`);
  };
  const doc = readVersionedJson(file, FORMAT, fail);
  if (typeof doc.name !== "string" || typeof doc.encoder !== "string") fail("fields name and encoder must be strings");
  const threshold = Number(doc.oos_threshold ?? 0);
  if (!(threshold >= 0 && threshold <= 1)) fail(`field oos_threshold (${String(doc.oos_threshold)}) must be in [0, 1]`);
  const oosLabel = doc.oos_label === null || doc.oos_label === undefined ? null : String(doc.oos_label);
  const encoderDir = path.join(dir, doc.encoder as string);
  if (!existsSync(encoderDir)) fail(`the encoder folder ${encoderDir} is missing`);
  const sparse = loadModel(path.join(dir, `${doc.name as string}.zdcm`));
  const encoder = loadEncoder(encoderDir);
  const fused = loadFusion(path.join(dir, `${doc.name as string}.fusion.json`), sparse.classifier.labels, encoder);
  return { model: { sparse, fused, oosLabel, oosThreshold: threshold }, encoder };
}

/** Encoder features of texts with a file cache (`PREFIX.texts.json` + `PREFIX.f32`, the layout
 *  dev/contact-centre/encoder-features.ts writes): rows found there are reused, the rest computed and added. A cache
 *  from another encoder is caught by recomputing up to 4 of the rows it supplies (cosine ≥ 0.9999 required). */
export class EncoderFeatureCache {
  private readonly rows = new Map<string, Float32Array>();
  private added = false;
  private verified = false;

  constructor(readonly encoder: BertEncoder, private readonly prefix: string | null) {
    if (!prefix || !existsSync(`${prefix}.f32`)) return;
    const texts = JSON.parse(readFileSync(`${prefix}.texts.json`, "utf8")) as string[];
    const bytes = readFileSync(`${prefix}.f32`);
    const dim = encoder.embeddingDim;
    if (bytes.length !== texts.length * dim * 4) {
      throw new Error(`[encoder cache] ${prefix}.f32 holds ${bytes.length} bytes, expected ${texts.length} texts × ${dim} floats × 4 (a cache of another encoder? delete it or pick another --encoder-cache)`);
    }
    const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    texts.forEach((t, i) => this.rows.set(t, all.subarray(i * dim, (i + 1) * dim)));
  }

  of(texts: readonly string[]): Float32Array[] {
    if (!this.verified && this.rows.size > 0) {
      const sample = [...new Set(texts.filter((t) => this.rows.has(t)))].slice(0, 4);
      const fresh = encoderFeatures(this.encoder, sample);
      sample.forEach((t, i) => {
        const a = this.rows.get(t)!, b = fresh[i];
        let dot = 0, na = 0, nb = 0;
        for (let d = 0; d < a.length; d++) { dot += a[d] * b[d]; na += a[d] * a[d]; nb += b[d] * b[d]; }
        const cos = dot / Math.sqrt(na * nb);
        if (!(cos >= 0.9999)) throw new Error(`[encoder cache] ${this.prefix}: the cached features of ${JSON.stringify(t)} differ from ${this.encoder.id}'s (cosine ${cos.toFixed(6)}); the cache comes from another encoder — delete it or pick another --encoder-cache`);
      });
      this.verified = sample.length > 0;
    }
    const missing = [...new Set(texts.filter((t) => !this.rows.has(t)))];
    if (missing.length > 0) {
      encoderFeatures(this.encoder, missing).forEach((f, i) => this.rows.set(missing[i], f));
      this.added = true;
    }
    return texts.map((t) => this.rows.get(t)!);
  }

  /** Writes the cache back when rows were added. */
  save(): void {
    if (!this.prefix || !this.added) return;
    const texts = [...this.rows.keys()];
    const dim = this.encoder.embeddingDim;
    const all = new Float32Array(texts.length * dim);
    texts.forEach((t, i) => all.set(this.rows.get(t)!, i * dim));
    mkdirSync(path.dirname(this.prefix), { recursive: true });
    writeFileAtomic(`${this.prefix}.texts.json`, JSON.stringify(texts));
    writeFileAtomic(`${this.prefix}.f32`, Buffer.from(all.buffer));
    this.added = false;
  }
}
