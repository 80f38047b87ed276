// Reading the decoder cases of ../shared/testdata/hf (qwen3, qwen3_moe, mixtral, gemma2, phi3, llama_yarn, glm4):
// reference.json, the raw f32 outputs transformers and llama.cpp wrote, and the checks every family test runs on a
// loaded model — the last position of a prefill and every position of a token-by-token pass against transformers'
// logits, and greedy decoding with the KV cache against `generate` (step logits first, then the ids).
// Shapes come from reference.json, never from here. Also: q8Copy, a case's f32 GGUF re-encoded in q8_0.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { TextModel } from "../../src/infer/model-api.js";
import { refQuantize } from "../../src/backend/ref/quant.js";
import { readGguf, readTensorBytes } from "../../src/io/gguf.js";
import { writeGguf, type GgufWriteTensor } from "../../src/io/gguf-writer.js";

export const HF_DIR = path.resolve("../shared/testdata/hf");

export interface CaseReference {
  dir: string;
  inputs: number[][];
  newTokens: number[][];
  sampleText: string;
  sampleIds: number[];
  output(name: string): { data: Float32Array; shape: number[] };
}

/** A case under `root` (default ../shared/testdata/hf; the repo's own test/fixtures/hf holds cases made the same
 *  way by dev scripts, without a tokenizer). */
export function readCase(name: string, root = HF_DIR): CaseReference {
  const dir = path.join(root, name);
  const ref = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8"));
  return {
    dir,
    inputs: ref.inputs.input_ids,
    newTokens: ref.generation.results.map((r: { new_tokens: number[] }) => r.new_tokens),
    sampleText: ref.tokenizer?.sample_text ?? "",
    sampleIds: ref.tokenizer?.sample_ids ?? [],
    output(o: string) {
      const meta = ref.outputs[o];
      assert.ok(meta, `${name}: reference.json has no output '${o}'`);
      const buf = readFileSync(path.join(dir, meta.file));
      const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      assert.equal(data.length, meta.shape.reduce((a: number, b: number) => a * b, 1), `${name}/${meta.file}: size vs shape`);
      return { data, shape: meta.shape };
    },
  };
}

export function maxAbs(x: Float32Array): number {
  let m = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  return m;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Rows of a [rows, vocab] output. */
function row(o: { data: Float32Array; shape: number[] }, r: number): Float32Array {
  const v = o.shape[1];
  return o.data.subarray(r * v, (r + 1) * v);
}

/** Prefill logits (last position) and token-by-token logits (every position) against `logits_<i>` of `prefix`
 *  ("" = transformers, "llama_cpp_" = llama.cpp), within relTol × max|reference|. Returns the worst relative gap. */
export function checkLogits(model: TextModel, c: CaseReference, relTol: number, prefix = ""): number {
  let worst = 0;
  c.inputs.forEach((ids, i) => {
    const ref = c.output(`${prefix}logits_${i}`);
    assert.deepEqual(ref.shape, [ids.length, model.vocabSize]);
    const scale = maxAbs(ref.data);
    const seq = model.createSequence();
    const last = model.forward([{ seq, tokens: ids }])[0]!;
    seq.dispose();
    const gapLast = maxDiff(last, row(ref, ids.length - 1)) / scale;
    assert.ok(gapLast <= relTol, `${prefix}logits_${i} last position: max |Δ| = ${gapLast} × max|ref| > ${relTol}`);
    const step = model.createSequence();
    ids.forEach((id, t) => {
      const got = model.forward([{ seq: step, tokens: [id] }])[0]!;
      const gap = maxDiff(got, row(ref, t)) / scale;
      assert.ok(gap <= relTol, `${prefix}logits_${i} position ${t} (token by token): ${gap} × max|ref| > ${relTol}`);
      worst = Math.max(worst, gap);
    });
    step.dispose();
    worst = Math.max(worst, gapLast);
  });
  return worst;
}

/** Greedy decoding with the KV cache: each step's logits against `<prefix>generate_step_logits_<i>`, then the ids
 *  against transformers' generate (the same ids llama.cpp produced, per reference.json). */
export function checkGreedy(model: TextModel, c: CaseReference, relTol: number, prefix = ""): void {
  c.inputs.forEach((ids, i) => {
    const ref = c.output(`${prefix}generate_step_logits_${i}`);
    const scale = maxAbs(ref.data);
    const want = c.newTokens[i]!;
    const seq = model.createSequence();
    let logits = model.forward([{ seq, tokens: ids }])[0]!;
    const got: number[] = [];
    for (let s = 0; s < want.length; s++) {
      const gap = maxDiff(logits, row(ref, s)) / scale;
      assert.ok(gap <= relTol, `${prefix}generate_step_logits_${i} step ${s}: ${gap} × max|ref| > ${relTol}`);
      const next = argmax(logits);
      got.push(next);
      if (s + 1 < want.length) logits = model.forward([{ seq, tokens: [next] }])[0]!;
    }
    seq.dispose();
    assert.deepEqual(got, want, `input ${i}: greedy ids`);
  });
}

/** `zhiyu convert` with its console line silenced (tests read the files it writes). */
export async function convertQuietly(argv: string[]): Promise<number | void> {
  const { run } = await import("../../src/cli/commands/convert.js");
  const log = console.log;
  console.log = () => {};
  try {
    return await run(argv);
  } finally {
    console.log = log;
  }
}

/** The f32 GGUF of a case re-encoded: matrices whose rows are whole q8_0 blocks become q8_0 (unless keepF32 says
 *  so), the rest stay f32. */
export function q8Copy(src: string, dst: string, keepF32: (name: string) => boolean = () => false): void {
  const f = readGguf(src);
  const tensors: GgufWriteTensor[] = f.tensors.map((t) => {
    const bytes = readTensorBytes(f, t);
    if (t.dims.length < 2 || t.dims[0]! % 32 !== 0 || t.type !== "f32" || keepF32(t.name)) return { name: t.name, dims: t.dims, type: t.type, data: bytes };
    const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const out = new Uint8Array((x.length / 32) * 34);
    refQuantize(x, "q8_0", out, x.length);
    return { name: t.name, dims: t.dims, type: "q8_0", data: out };
  });
  const metadata = [...f.metadata].map(([k, v]) => [k, k === "general.file_type" ? 7 : v, f.metadataTypes.get(k)] as const);
  writeGguf(dst, { metadata, tensors });
}
