// The encoder branch of a desk classifier on disk: `<name>.fusion.json` beside its `<name>.zdcm` (format
// `zhiyu-desk-fusion` v1): the encoder it was trained on (its id), the labels (which must be the sparse model's, in
// order), the fusion weight and temperature chosen on validation data, and the dense head (per-dimension mean and
// 1/spread, weights [labels × dim], bias) as base64 little-endian f32. Loading checks every length and names the
// file, the field and the fix. Writes are atomic.
// Leaves out: the encoder's weights (the shipped models/zhiyu-encoder is shared), other dense heads than dense-head.ts's.
import { existsSync, readFileSync } from "node:fs";
import type { BertEncoder } from "../../../infer/encoder.js";
import { writeFileAtomicChunks } from "../../../io/atomic-write.js";
import { DenseHead } from "./dense-head.js";

export interface FusedPart {
  head: DenseHead;
  weight: number;
  temperature: number;
  /** The encoder's id (BertEncoder.id) whose features the head was trained on. */
  encoder: string;
}

const FORMAT = "zhiyu-desk-fusion";

function b64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

export function saveFusion(file: string, part: FusedPart): void {
  const h = part.head;
  const doc = {
    format: FORMAT, version: 1, encoder: part.encoder, labels: h.labels, dim: h.dim, weight: part.weight, temperature: part.temperature,
    mean: b64(h.mean), inv_std: b64(h.invStd), weights: b64(h.weights), bias: b64(h.bias),
  };
  writeFileAtomicChunks(file, (put) => put(Buffer.from(JSON.stringify(doc) + "\n", "utf8")));
}

/** Reads a `{format, version: 1, …}` JSON file, or calls `fail` (which throws, naming the file and the fix) with
 *  "not found", "not valid JSON" or the format it has. */
export function readVersionedJson(file: string, format: string, fail: (detail: string) => never): Record<string, unknown> {
  if (!existsSync(file)) fail("not found");
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return fail("not valid JSON");
  }
  if (doc.format !== format || doc.version !== 1) fail(`unsupported format ${String(doc.format)} v${String(doc.version)} (expected ${format} v1)`);
  return doc;
}

/** Reads a fusion file for a sparse model with `labels`, to run beside `encoder`. */
export function loadFusion(file: string, labels: readonly string[], encoder: BertEncoder): FusedPart {
  const fail = (detail: string): never => {
    throw new Error(`[desk model] ${file}: ${detail} (retrain it: \`zhiyu desk eval --set NAME --model DIR --save\`, or run without the encoder)`);
  };
  const doc = readVersionedJson(file, FORMAT, fail);
  if (doc.encoder !== encoder.id) fail(`its head was trained on encoder "${String(doc.encoder)}", but the encoder given is "${encoder.id}"`);
  const fileLabels = doc.labels;
  if (!Array.isArray(fileLabels) || fileLabels.join("\n") !== labels.join("\n")) {
    fail(`field labels (${Array.isArray(fileLabels) ? fileLabels.length : "missing"}) differ from the sparse model's ${labels.length} labels`);
  }
  const dim = doc.dim;
  if (dim !== encoder.embeddingDim) fail(`field dim is ${String(dim)}, the encoder's features have ${encoder.embeddingDim}`);
  const weight = Number(doc.weight);
  const temperature = Number(doc.temperature);
  if (!(weight >= 0) || !(temperature > 0)) fail(`field weight (${String(doc.weight)}) must be ≥ 0 and temperature (${String(doc.temperature)}) > 0`);
  const floats = (field: string, n: number): Float32Array => {
    const v = doc[field];
    if (typeof v !== "string") fail(`field ${field} is missing`);
    const bytes = Buffer.from(v as string, "base64");
    if (bytes.length !== 4 * n) fail(`field ${field} holds ${bytes.length} bytes, expected ${4 * n} (${n} f32 values)`);
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  };
  const C = labels.length;
  const D = dim as number;
  const head = new DenseHead(labels, floats("mean", D), floats("inv_std", D), floats("weights", C * D), floats("bias", C));
  return { head, weight, temperature, encoder: encoder.id };
}
