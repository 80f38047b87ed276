// The on-disk format of a trained contact-centre classifier (intent, emotion): one file, `ZDCM` magic, a u32 header
// length, a JSON header (labels, featurizer spec, temperature, thresholds, training metadata), then the weights of
// the hash buckets that occurred in training — their indices (i32), IDF (f32), a scale per row (f32) and the row's
// class weights as int8 (weight ≈ int8 × scale) — and the biases (f32). Buckets never seen in training have zero
// weight and the largest IDF, so nothing is lost by leaving them out. Writes are atomic (temporary file + rename).
// Leaves out: versions other than 1, float weights (int8 costs < 0.1 point of accuracy on the benchmarks).
import { existsSync, readFileSync } from "node:fs";
import { writeFileAtomicChunks } from "../../../io/atomic-write.js";
import { LinearClassifier } from "./classifier.js";
import { Featurizer, type FeaturizerSpec } from "./features.js";

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
}

export interface LoadedModel {
  header: ModelHeader;
  featurizer: Featurizer;
  classifier: LinearClassifier;
}

/** Writes a model; only rows with a known IDF (buckets seen in training) are stored. */
export function saveModel(file: string, header: Omit<ModelHeader, "format" | "version" | "temperature">,
  featurizer: Featurizer, classifier: LinearClassifier, seenBuckets: Uint8Array): void {
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
  if (expected !== buf.length) fail(file, `size ${buf.length} bytes, expected ${expected} for ${rows} rows × ${C} classes`);
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
  return { header, featurizer, classifier };
}
