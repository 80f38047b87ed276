// T5 against Hugging Face transformers (../shared/testdata/hf/t5_v1_0 and t5_v1_1, see its README): for the v1.0
// (ReLU, tied head scaled by d_model^-0.5) and v1.1 (gated GELU, untied head) cases, the encoder's last hidden
// states and the teacher-forced decoder logits within 1e-4 × max|reference| in f32 — once as the padded batch HF
// ran (the training network) and once step by step through the decoder's KV cache and precomputed cross K/V (the
// served model) — the raw logits of every greedy step, and greedy generations identical token for token to
// transformers' generate. Every shape, id and setting comes from reference.json and config.json.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { type Tensor, noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { loadAnyModel } from "../../src/infer/load.js";
import { requireKind } from "../../src/infer/model-api.js";
import { t5ConfigFromHf } from "../../src/models/t5/config.js";
import { T5Model, relativeBucket } from "../../src/models/t5/model.js";
import { generate } from "../../src/infer/generate.js";

setDefaultBackend(createBackend());

interface Reference {
  outputs: Record<string, { file: string; shape: number[] }>;
  inputs: { encoder_input_ids: number[][]; decoder_input_ids: number[][] };
  generation: { results: Array<{ input: number; new_tokens: number[]; stopped_at_eos: boolean }> };
}

function caseOf(name: string) {
  const dir = path.resolve("../shared/testdata/hf", name);
  const ref = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8")) as Reference;
  const bin = (key: string): { data: Float32Array; shape: number[] } => {
    const o = ref.outputs[key];
    assert.ok(o, `${name}: reference.json has no output '${key}'`);
    const buf = readFileSync(path.join(dir, o.file));
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    assert.equal(data.length, o.shape.reduce((a, b) => a * b, 1), `${o.file}: size vs shape ${o.shape}`);
    return { data, shape: o.shape };
  };
  return { dir, ref, bin, model: path.join(dir, "model") };
}

/** max|a − b| ≤ 1e-4 × max|reference|. */
function assertClose(got: ArrayLike<number>, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let maxRef = 0, maxDiff = 0, at = 0;
  for (let i = 0; i < want.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(want[i]!));
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= maxDiff)) { maxDiff = d; at = i; }
  }
  assert.ok(maxDiff <= 1e-4 * maxRef, `${what}: max |diff| ${maxDiff} at ${at} (got ${got[at]}, want ${want[at]}) > 1e-4 × ${maxRef}`);
}

test("relative position buckets follow T5's formula (exact small distances, log-spaced large ones)", () => {
  // Values from the formula in the T5 paper's reference code (mesh-tensorflow), worked by hand for 32 buckets, 128 max.
  assert.equal(relativeBucket(0, true, 32, 128), 0);
  assert.equal(relativeBucket(3, true, 32, 128), 16 + 3);
  assert.equal(relativeBucket(-3, true, 32, 128), 3);
  assert.equal(relativeBucket(-8, true, 32, 128), 8); // max_exact 8: 8 + floor(log(1)/log(16)·8) = 8
  assert.equal(relativeBucket(-16, true, 32, 128), 10); // 8 + floor(log 2 / log 16 · 8) = 8 + 2
  assert.equal(relativeBucket(-1000, true, 32, 128), 15);
  assert.equal(relativeBucket(5, false, 32, 128), 0); // a future key: unidirectional buckets only count the past
  assert.equal(relativeBucket(-20, false, 32, 128), 16 + Math.floor(Math.log(20 / 16) / Math.log(8) * 16));
});

for (const name of ["t5_v1_0", "t5_v1_1"]) {
  test(`${name}: encoder states and decoder logits match transformers (padded batch, as HF ran it)`, () => {
    const { ref, bin, model: dir } = caseOf(name);
    const config = t5ConfigFromHf(JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>, "config.json");
    return loadAnyModel(dir).then((loaded) => {
      const s2s = requireKind(loaded, ["seq2seq"], "test");
      const model = new T5Model(config, (s2s as unknown as { network: { params: Map<string, Tensor> } }).network.params);
      const src = ref.inputs.encoder_input_ids, dec = ref.inputs.decoder_input_ids;
      const b = src.length, s = Math.max(...src.map((r) => r.length)), t = Math.max(...dec.map((r) => r.length));
      const ids = new Int32Array(b * s), mask = new Uint8Array(b * s), decIds = new Int32Array(b * t);
      src.forEach((r, i) => { ids.set(r, i * s); mask.fill(1, i * s, i * s + r.length); });
      dec.forEach((r, i) => decIds.set(r, i * t)); // padded with 0 = pad, as HF's batch
      noGrad(() => tidy(() => {
        const enc = model.encode(ids, b, s, mask);
        const logits = model.decodeAll(decIds, b, t, enc, mask);
        const e = enc.toFloat32Array(), l = logits.toFloat32Array();
        const d = config.hiddenSize, v = config.vocabSize;
        for (let i = 0; i < b; i++) {
          const wantEnc = bin(`encoder_last_hidden_state_${i}`);
          assert.deepEqual(wantEnc.shape, [src[i]!.length, d]);
          assertClose(e.subarray(i * s * d, (i * s + src[i]!.length) * d), wantEnc.data, `${name} encoder_last_hidden_state_${i}`);
          const wantDec = bin(`decoder_logits_${i}`);
          assertClose(l.subarray(i * t * v, (i * t + dec[i]!.length) * v), wantDec.data, `${name} decoder_logits_${i}`);
        }
        return enc;
      }));
      loaded.dispose();
    });
  });

  test(`${name}: the served model (KV cache + cross K/V, several sequences per step) gives the same logits`, async () => {
    const { ref, bin, model: dir } = caseOf(name);
    const s2s = requireKind(await loadAnyModel(dir), ["seq2seq"], "test");
    const src = ref.inputs.encoder_input_ids, dec = ref.inputs.decoder_input_ids;
    const seqs = src.map((r) => s2s.createSequence(r));
    const got = src.map(() => [] as Float32Array[]);
    // All three sequences step together; a shorter one drops out when its decoder ids run out.
    for (let step = 0; step < Math.max(...dec.map((r) => r.length)); step++) {
      const live = dec.flatMap((r, i) => (step < r.length ? [i] : []));
      const out = s2s.forward(live.map((i) => ({ seq: seqs[i]!, tokens: [dec[i]![step]!] })));
      live.forEach((i, k) => got[i]!.push(out[k]!));
    }
    // The second sequence's prompt as one chunk of several tokens gives the same last-row logits.
    const chunk = s2s.createSequence(src[1]!);
    const [last] = s2s.forward([{ seq: chunk, tokens: dec[1]! }]);
    src.forEach((_, i) => {
      const want = bin(`decoder_logits_${i}`);
      const flat = new Float32Array(got[i]!.length * s2s.vocabSize);
      got[i]!.forEach((row, k) => flat.set(row, k * s2s.vocabSize));
      assertClose(flat, want.data, `${name} step-by-step decoder_logits_${i}`);
      if (i === 1) assertClose(last!, want.data.subarray((dec[1]!.length - 1) * s2s.vocabSize), `${name} chunked last row`);
    });
    for (const q of [...seqs, chunk]) q.dispose();
    s2s.dispose();
  });

  test(`${name}: greedy generation equals transformers' generate, and so do its step logits`, async () => {
    const { ref, bin, model: dir } = caseOf(name);
    const s2s = requireKind(await loadAnyModel(dir), ["seq2seq"], "test");
    for (const r of ref.generation.results) {
      const steps: Float32Array[] = [];
      const want = r.new_tokens;
      const out = generate(s2s, ref.inputs.encoder_input_ids[r.input]!, {
        temperature: 0, maxTokens: want.length, stopTokenIds: r.stopped_at_eos ? undefined : [], onToken: (_id, logits) => steps.push(logits),
      });
      assert.deepEqual(out.ids, want, `${name} input ${r.input}: generated ids`);
      const stepLogits = bin(`generate_step_logits_${r.input}`);
      const flat = new Float32Array(steps.length * s2s.vocabSize);
      steps.forEach((row, k) => flat.set(row, k * s2s.vocabSize));
      assertClose(flat, stepLogits.data.subarray(0, flat.length), `${name} generate_step_logits_${r.input}`);
    }
    s2s.dispose();
  });
}

test("T5 through GGUF and back: `zhiyu convert` HF → GGUF (llama.cpp's t5 names) → HF, each still transformers' logits", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { readGguf } = await import("../../src/io/gguf.js");
  const { run: convert } = await import("../../src/cli/commands/convert.js");
  const quiet = async (argv: string[]) => {
    const log = console.log, err = process.stderr.write;
    console.log = () => {};
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try { return await convert(argv); } finally { console.log = log; process.stderr.write = err; }
  };
  const tmp = mkdtempSync(path.join(tmpdir(), "zhiyu-t5-convert-"));
  try {
    for (const name of ["t5_v1_0", "t5_v1_1"]) {
      const { ref, bin, model: dir } = caseOf(name);
      const gguf = path.join(tmp, `${name}.gguf`);
      await quiet(["--from", dir, "--to", gguf, "--type", "f32"]);
      const file = readGguf(gguf);
      assert.equal(file.metadata.get("general.architecture"), "t5");
      const names = new Set(file.tensors.map((t) => t.name));
      for (const n of ["token_embd.weight", "enc.blk.0.attn_rel_b.weight", "dec.blk.0.attn_rel_b.weight", "dec.blk.1.cross_attn_q.weight",
        "dec.blk.1.cross_attn_norm.weight", "enc.output_norm.weight", "dec.output_norm.weight", "enc.blk.1.ffn_up.weight"]) {
        assert.ok(names.has(n), `${name}: GGUF lacks ${n}`);
      }
      const config = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
      assert.equal(names.has("output.weight"), config.tie_word_embeddings === false, `${name}: output.weight only when untied`);
      assert.equal(names.has("enc.blk.0.ffn_gate.weight"), config.is_gated_act === true, `${name}: ffn_gate only when gated`);
      const back = path.join(tmp, `${name}-hf`);
      await quiet(["--from", gguf, "--to", back]);
      for (const from of [gguf, back]) {
        const s2s = requireKind(await loadAnyModel(from), ["seq2seq"], "test");
        const r = ref.generation.results[0]!;
        const steps: Float32Array[] = [];
        const out = generate(s2s, ref.inputs.encoder_input_ids[r.input]!, { temperature: 0, maxTokens: r.new_tokens.length, stopTokenIds: [],
          onToken: (_id, logits) => steps.push(logits) });
        assert.deepEqual(out.ids, r.new_tokens, `${name} via ${path.basename(from)}: generated ids`);
        const flat = new Float32Array(steps.length * s2s.vocabSize);
        steps.forEach((row, k) => flat.set(row, k * s2s.vocabSize));
        assertClose(flat, bin(`generate_step_logits_${r.input}`).data, `${name} via ${path.basename(from)}: step logits`);
        s2s.dispose();
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
