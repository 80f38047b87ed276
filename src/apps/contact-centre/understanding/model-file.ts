// The on-disk format of a trained contact-centre classifier (intent, emotion): one file, `ZDCM` magic, a u32 header
// length, a JSON header (labels, featurizer spec, temperature, thresholds, training metadata), then the weights of
// the hash buckets that occurred in training — their indices (i32), IDF (f32), a scale per row (f32) and the row's
// class weights as int8 (weight ≈ int8 × scale) — and the biases (f32). Buckets never seen in training have zero
// weight and the largest IDF, so nothing is lost by leaving them out. Writes are atomic (temporary file + rename).
// Leaves out: versions other than 1, float weights (int8 costs < 0.1 point of accuracy on the benchmarks).
import { existsSync, readFileSync } from "node:fs";
import { writeFileAtomicChunks } from "../../../io/atomic-write.js";
import { LinearClassifier, type Prediction } from "./classifier.js";
import { Featurizer, type FeaturizerSpec, type SparseVector } from "./features.js";
import { blend, NeighbourIndex, type NeighbourOptions } from "./neighbours.js";

const MAGIC = "ZDCM";

export interface ModelHeader {
  format: "zhiyu-desk-classifier";
  version: 1;
  /** "intent", "emotion", ... */
  task: string;
  labels: string[];
  featurizer: FeaturizerSpec;
  temperature: number;
  /** Out-of-scope threshold on the calibrated confidence (intent models). */
  oosThreshold?: number;
  /** Hash of the training inputs (config examples + data sets), so a stale model is detected. */
  trainingHash: string;
  /** Free-form: data sets, sizes, figures. */
  meta: Record<string, unknown>;
  /** k-NN blend settings when the file stores the training vectors. */
  neighbours?: NeighbourOptions;
}

export interface LoadedModel {
  header: ModelHeader;
  featurizer: Featurizer;
  classifier: LinearClassifier;
  /** The training vectors for the k-NN blend (header.neighbours says how), if any. */
  neighbours?: NeighbourIndex;
}

/** The model's prediction for a text: calibrated logistic regression, blended with the k-NN vote when present. */
export function predictText(model: LoadedModel, text: string): Prediction {
  const x = model.featurizer.transform(text);
  const probs = model.classifier.probabilities(x);
  if (model.neighbours && model.header.neighbours) blend(probs, model.neighbours.vote(x, model.header.neighbours), model.header.neighbours.alpha);
  let best = 0;
  for (let c = 1; c < probs.length; c++) if (probs[c] > probs[best]) best = c;
  return { label: model.classifier.labels[best], confidence: probs[best], probs };
}

/** Writes a model; only rows with a known IDF (buckets seen in training) are stored, then the k-NN vectors. */
export function saveModel(file: string, header: Omit<ModelHeader, "format" | "version" | "temperature">,
  featurizer: Featurizer, classifier: LinearClassifier, seenBuckets: Uint8Array, neighbours?: NeighbourIndex): void {
  const C = classifier.classes;
  const rows: number[] = [];
  for (let k = 0; k < seenBuckets.length; k++) if (seenBuckets[k]) rows.push(k);
  const full: ModelHeader = { format: "zhiyu-desk-classifier", version: 1, temperature: classifier.temperature, ...header };
  const headerBytes = Buffer.from(JSON.stringify(full), "utf8");
  const index = Int32Array.from(rows);
  const idf = new Float32Array(rows.length);
  const scale = new Float32Array(rows.length);
  const q = new Int8Array(rows.length * C);
  rows.forEach((k, r) => {
    idf[r] = featurizer.idf ? featurizer.idf[k] : 1;
    let max = 0;
    for (let c = 0; c < C; c++) max = Math.max(max, Math.abs(classifier.weights[k * C + c]));
    scale[r] = max / 127;
    for (let c = 0; c < C; c++) q[r * C + c] = max === 0 ? 0 : Math.round(classifier.weights[k * C + c] / scale[r]);
  });
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32LE(headerBytes.length, 0);
  lengths.writeUInt32LE(rows.length, 4);
  writeFileAtomicChunks(file, (put) => {
    put(Buffer.from(MAGIC, "ascii"));
    put(lengths);
    put(headerBytes);
    for (const a of [index, idf, scale]) put(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    put(new Uint8Array(q.buffer));
    put(new Uint8Array(classifier.bias.buffer, classifier.bias.byteOffset, classifier.bias.byteLength));
    if (neighbours) for (const a of packNeighbours(neighbours)) put(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  });
}

function fail(file: string, detail: string): never {
  throw new Error(`[desk model] ${file}: ${detail} (retrain it with \`zhiyu desk train --config FILE\`)`);
}

/** Reads a model written by saveModel, checking every length against the file size before allocating. */
export function loadModel(file: string): LoadedModel {
  if (!existsSync(file)) fail(file, "not found");
  const buf = readFileSync(file);
  if (buf.length < 12 || buf.toString("ascii", 0, 4) !== MAGIC) fail(file, "not a Zhiyu desk model (bad magic)");
  const headerLen = buf.readUInt32LE(4);
  const rows = buf.readUInt32LE(8);
  if (12 + headerLen > buf.length) fail(file, `header length ${headerLen} exceeds the file (${buf.length} bytes)`);
  let header: ModelHeader;
  try {
    header = JSON.parse(buf.toString("utf8", 12, 12 + headerLen)) as ModelHeader;
  } catch {
    fail(file, "header is not valid JSON");
  }
  if (header.format !== "zhiyu-desk-classifier" || header.version !== 1) fail(file, `unsupported format ${header.format} v${header.version}`);
  const C = header.labels.length;
  const buckets = header.featurizer.buckets;
  const expected = 12 + headerLen + rows * (12 + C) + 4 * C;
  if (header.neighbours ? buf.length < expected + 8 : expected !== buf.length) {
    fail(file, `size ${buf.length} bytes, expected ${expected}${header.neighbours ? " + the k-NN vectors" : ""} for ${rows} rows × ${C} classes`);
  }
  let off = 12 + headerLen;
  const take = (n: number) => {
    const slice = new Uint8Array(n);
    slice.set(buf.subarray(off, off + n));
    off += n;
    return slice.buffer;
  };
  const index = new Int32Array(take(4 * rows));
  const idf = new Float32Array(take(4 * rows));
  const scale = new Float32Array(take(4 * rows));
  const q = new Int8Array(take(rows * C));
  const bias = new Float32Array(take(4 * C));
  const featurizer = new Featurizer(header.featurizer);
  const fullIdf = new Float32Array(buckets);
  const maxIdf = idf.reduce((m, v) => Math.max(m, v), 1);
  fullIdf.fill(maxIdf);
  const weights = new Float32Array(buckets * C);
  for (let r = 0; r < rows; r++) {
    const k = index[r];
    if (!(k >= 0 && k < buckets)) fail(file, `row ${r} names bucket ${k}, outside [0, ${buckets})`);
    fullIdf[k] = idf[r];
    for (let c = 0; c < C; c++) weights[k * C + c] = q[r * C + c] * scale[r];
  }
  featurizer.idf = fullIdf;
  const classifier = new LinearClassifier(header.labels, buckets, weights, bias);
  classifier.temperature = header.temperature;
  let neighbours: NeighbourIndex | undefined;
  if (header.neighbours) {
    // k-NN section: u32 count, u32 total entries, i32 labels[count], u32 offsets[count + 1], i32 buckets, f32 values.
    const n = buf.readUInt32LE(off);
    const total = buf.readUInt32LE(off + 4);
    off += 8;
    if (off + 4 * n + 4 * (n + 1) + 8 * total !== buf.length) fail(file, `k-NN section of ${n} vectors / ${total} entries does not match the file size`);
    const labels = new Int32Array(take(4 * n));
    const offsets = new Uint32Array(take(4 * (n + 1)));
    const idx = new Int32Array(take(4 * total));
    const val = new Float32Array(take(4 * total));
    const vectors: SparseVector[] = [];
    for (let i = 0; i < n; i++) {
      if (!(offsets[i] <= offsets[i + 1] && offsets[i + 1] <= total)) fail(file, `k-NN vector ${i} has bad offsets`);
      if (!(labels[i] >= 0 && labels[i] < C)) fail(file, `k-NN vector ${i} has label ${labels[i]} outside [0, ${C})`);
      vectors.push({ index: idx.subarray(offsets[i], offsets[i + 1]), value: val.subarray(offsets[i], offsets[i + 1]) });
    }
    neighbours = new NeighbourIndex(vectors, labels, C);
  }
  return { header, featurizer, classifier, neighbours };
}

function packNeighbours(nb: NeighbourIndex): (Uint32Array | Int32Array | Float32Array)[] {
  const n = nb.vectors.length;
  const offsets = new Uint32Array(n + 1);
  nb.vectors.forEach((v, i) => (offsets[i + 1] = offsets[i] + v.index.length));
  const total = offsets[n];
  const idx = new Int32Array(total);
  const val = new Float32Array(total);
  nb.vectors.forEach((v, i) => {
    idx.set(v.index, offsets[i]);
    val.set(v.value, offsets[i]);
  });
  return [Uint32Array.from([n, total]), Int32Array.from(nb.labels), offsets, idx, val];
}
