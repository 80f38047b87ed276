// Reference quantization kernels (src/backend/ref/quant.ts) against independent answers: llama-quantize's own
// output files (quantizing the F32 source must give the same bytes), the Hugging Face BF16 folder of the qwen2
// model (dequantized values must equal it exactly), error bounds against the F32 source, Q4_K vs Q6_K of the same
// weights, hand-worked activation-rounding examples, and a float64 dot product of dequantized operands.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { readGguf, readTensorBytes, type GgufFile } from "../../src/io/gguf.js";
import { openSafetensorsFolder } from "../../src/io/safetensors.js";
import {
  quantizeRowQ8, quantizeRowQ8K, refDequantize, refQuantMatmul, refQuantize, type DequantType,
} from "../../src/backend/ref/quant.js";
import { bf16ToF32, f16ToF32, f32ToF16 } from "../../src/core/dtype.js";
import type { WeightType } from "../../src/backend/backend.js";

const D = path.resolve("../shared/testdata/gguf");
const open = (f: string) => readGguf(path.join(D, f));
const f32Of = (g: GgufFile, name: string) => new Float32Array(readTensorBytes(g, g.tensorByName.get(name)!).buffer);
function dequant(g: GgufFile, name: string): Float32Array {
  const t = g.tensorByName.get(name)!;
  const out = new Float32Array(t.elementCount);
  refDequantize(readTensorBytes(g, t), t.type as DequantType, out, t.elementCount);
  return out;
}

test("refQuantize of the F32 source reproduces llama-quantize's Q8_0, Q4_0 and F16 files byte for byte", () => {
  const src = open("dev-llama-tok512-f32.gguf");
  for (const [f, type] of [["dev-llama-tok512-q8_0.gguf", "q8_0"], ["dev-llama-tok512-q4_0-pure.gguf", "q4_0"], ["dev-llama-tok512-f16.gguf", "f16"]] as const) {
    const g = open(f);
    let checked = 0;
    for (const t of g.tensors) {
      if (t.type === "f32") continue;
      assert.equal(t.type, type);
      const out = new Uint8Array(t.byteSize);
      refQuantize(f32Of(src, t.name), type, out, t.elementCount);
      assert.deepEqual(out, readTensorBytes(g, t), `${f} ${t.name}`);
      checked++;
    }
    assert.equal(checked, 16);
  }
});

test("dequantized Q8_0 / Q4_0 / F16 stay within each type's error bound of the F32 source", () => {
  const src = open("dev-llama-tok512-f32.gguf");
  for (const [f, type] of [["dev-llama-tok512-q8_0.gguf", "q8_0"], ["dev-llama-tok512-q4_0-pure.gguf", "q4_0"], ["dev-llama-tok512-f16.gguf", "f16"]] as const) {
    const g = open(f);
    for (const t of g.tensors.filter((x) => x.type !== "f32")) {
      const x = f32Of(src, t.name), y = dequant(g, t.name);
      for (let b = 0; b < x.length / 32; b++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
        // q8_0: half a step of amax/127 (+ the f16 scale's rounding); q4_0: one step of amax/8 (the clamp side);
        // f16: half an ulp of 2^-11 relative.
        for (let j = 0; j < 32; j++) {
          const i = b * 32 + j, err = Math.abs(x[i] - y[i]);
          const bound = type === "q8_0" ? (amax / 127) * 0.5 * 1.01 + amax * 2e-3 : type === "q4_0" ? (amax / 8) * 1.002 : Math.abs(x[i]) * 2 ** -11 + 2 ** -25;
          assert.ok(err <= bound, `${f} ${t.name}[${i}]: |${x[i]} − ${y[i]}| = ${err} > ${bound}`);
        }
      }
    }
  }
});

const QWEN_NAMES: Record<string, string> = {
  attn_q: "self_attn.q_proj", attn_k: "self_attn.k_proj", attn_v: "self_attn.v_proj", attn_output: "self_attn.o_proj",
  ffn_gate: "mlp.gate_proj", ffn_up: "mlp.up_proj", ffn_down: "mlp.down_proj", attn_norm: "input_layernorm",
  ffn_norm: "post_attention_layernorm",
};
function qwenHfName(gguf: string): string {
  if (gguf === "token_embd.weight") return "model.embed_tokens.weight";
  if (gguf === "output_norm.weight") return "model.norm.weight";
  const m = /^blk\.(\d+)\.(\w+)\.(weight|bias)$/.exec(gguf)!;
  return `model.layers.${m[1]}.${QWEN_NAMES[m[2]]}.${m[3]}`;
}

test("qwen2: dequantized Q8_0 and F16 tensors equal the BF16 Hugging Face folder exactly", () => {
  const g = open("dev-qwen2-e32-f16emb-q8_0.gguf");
  const hf = openSafetensorsFolder(path.join(D, "dev-qwen2-e32-f16emb-q8_0.hf"));
  const seen = new Set<string>();
  for (const t of g.tensors) {
    const y = dequant(g, t.name);
    const h = hf.readTensor(qwenHfName(t.name)) as Uint16Array;
    assert.equal(h.length, y.length);
    for (let i = 0; i < y.length; i++) {
      if (y[i] !== bf16ToF32(h[i])) assert.fail(`${t.name}[${i}]: dequantized ${y[i]} vs HF ${bf16ToF32(h[i])}`);
    }
    seen.add(t.type);
  }
  assert.deepEqual([...seen].sort(), ["f16", "f32", "q8_0"]);
});

test("k-quants: dequantized Q4_K and Q6_K of the same weights agree (cosine ≥ 0.99), Q6_K closer than Q4_K", () => {
  const a = open("dev-llama-tok512-e256-q4_k_m-pure.gguf"), b = open("dev-llama-tok512-e256-q6_k-pure.gguf");
  let n = 0;
  for (const t of a.tensors.filter((x) => x.type === "q4_k")) {
    assert.equal(b.tensorByName.get(t.name)!.type, "q6_k");
    const x = dequant(a, t.name), y = dequant(b, t.name);
    let xy = 0, xx = 0, yy = 0, maxAbs = 0, maxDiff = 0;
    for (let i = 0; i < x.length; i++) {
      xy += x[i] * y[i]; xx += x[i] * x[i]; yy += y[i] * y[i];
      maxAbs = Math.max(maxAbs, Math.abs(y[i])); maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]));
    }
    const cos = xy / Math.sqrt(xx * yy);
    assert.ok(cos >= 0.99, `${t.name}: cosine ${cos}`);
    // Init std 0.08: the values must look like weights, not garbage from a wrong layout.
    const std = Math.sqrt(yy / y.length);
    assert.ok(std > 0.06 && std < 0.1, `${t.name}: std ${std}`);
    assert.ok(maxDiff < maxAbs * 0.2, `${t.name}: max diff ${maxDiff} vs max ${maxAbs}`);
    n++;
  }
  assert.equal(n, 9);
});

test("round trip through every refQuantize type stays within the type's bound", () => {
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const n = 32 * 64;
  const x = new Float32Array(n).map(() => rnd() * 3);
  x.fill(0, 64, 96); // an all-zero block
  for (const [type, bytes, steps] of [["q8_0", 34, 127], ["q4_0", 18, 8], ["q4_1", 20, 15], ["q5_0", 22, 16], ["q5_1", 24, 31]] as const) {
    const q = new Uint8Array((n / 32) * bytes), y = new Float32Array(n);
    refQuantize(x, type, q, n);
    refDequantize(q, type, y, n);
    for (let b = 0; b < n / 32; b++) {
      let lo = Infinity, hi = -Infinity;
      for (let j = 0; j < 32; j++) { lo = Math.min(lo, x[b * 32 + j]); hi = Math.max(hi, x[b * 32 + j]); }
      const range = type.endsWith("_1") ? hi - lo : Math.max(-lo, hi);
      const step = range / steps;
      for (let j = 0; j < 32; j++) {
        const i = b * 32 + j;
        assert.ok(Math.abs(x[i] - y[i]) <= step * 1.01 + 1e-6, `${type}[${i}] ${x[i]} → ${y[i]} (step ${step})`);
      }
    }
  }
  const h = new Uint8Array(2 * n), y = new Float32Array(n);
  refQuantize(x, "bf16", h, n);
  refDequantize(h, "bf16", y, n);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(x[i] - y[i]) <= Math.abs(x[i]) * 2 ** -8);
});

test("activation rounding: Q8_0 ties to even with id = 127/amax, reference q8_0 rounds half away from zero", () => {
  // amax 127 → d = 1, id = 1, so q = round(x) exactly.
  const x = new Float32Array(32);
  x.set([127, 2.5, 3.5, -2.5, -3.5, 0.5, -0.5, 1.4999999]);
  const row = { q: new Int8Array(32), d: new Float32Array(1), s: new Float32Array(1) };
  quantizeRowQ8(x, 0, 32, true, row);
  assert.deepEqual([...row.q.slice(0, 8)], [127, 2, 4, -2, -4, 0, 0, 1]);
  assert.equal(row.d[0], 1);
  assert.equal(row.s[0], 127 + 2 + 4 - 2 - 4 + 1);
  const ref = new Uint8Array(34);
  refQuantize(x, "q8_0", ref, 32);
  assert.deepEqual([...new Int8Array(ref.buffer, 2, 8)], [127, 3, 4, -3, -4, 1, -1, 1]);
  // d is stored as f16: amax 1 → d = 1/127 rounded to f16.
  const y = new Float32Array(32).fill(0.25);
  y[5] = -1;
  quantizeRowQ8(y, 0, 32, false, row);
  assert.equal(row.d[0], f16ToF32(f32ToF16(Math.fround(1 / 127))));
  assert.equal(row.q[5], -127);
  assert.equal(row.q[0], 32); // 0.25 · 127 = 31.75 → 32
});

test("activation rounding: Q8_K uses the signed max, −127/max, clamps at 127, and sums groups of 16", () => {
  const x = new Float32Array(256);
  for (let i = 0; i < 256; i++) x[i] = ((i % 7) - 3) * 0.5;
  x[10] = -4; // largest magnitude, negative: iscale = 127/4 = 31.75
  const row = { q: new Int8Array(256), d: new Float32Array(1), bsums: new Int32Array(16) };
  quantizeRowQ8K(x, 0, 256, row);
  assert.equal(row.q[10], -127); // iscale·max = −127 always
  assert.equal(row.d[0], Math.fround(1 / Math.fround(-127 / -4)));
  assert.equal(row.q[0], -48); // -1.5 · 31.75 = -47.625 → -48
  assert.equal(row.q[1], -32); // -1 · 31.75 = -31.75 → -32
  assert.equal(row.q[2], -16); // -0.5 · 31.75 = -15.875 → -16
  for (let g = 0; g < 16; g++) {
    let s = 0;
    for (let j = 0; j < 16; j++) s += row.q[g * 16 + j];
    assert.equal(row.bsums[g], s);
  }
  // Positive max: iscale is negative, so the largest value maps to −127 (and q = +128 would clamp to 127).
  const z = new Float32Array(256);
  z[3] = 2; z[4] = -2;
  quantizeRowQ8K(z, 0, 256, row);
  assert.equal(row.q[3], -127);
  assert.equal(row.q[4], 127);
  assert.equal(row.d[0], Math.fround(1 / Math.fround(-127 / 2)));
});

test("refQuantMatmul equals a float64 dot product of the dequantized weights and the rounded activations", () => {
  const files: Array<[string, WeightType]> = [
    ["dev-llama-tok512-q8_0.gguf", "q8_0"], ["dev-llama-tok512-q4_0-pure.gguf", "q4_0"], ["dev-llama-tok512-f16.gguf", "f16"],
    ["dev-llama-tok512-e256-q4_k_m-pure.gguf", "q4_k"], ["dev-llama-tok512-e256-q6_k-pure.gguf", "q6_k"],
    ["dev-llama-tok512-f32.gguf", "f32"],
  ];
  let seed = 9;
  const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  for (const [f, type] of files) {
    const g = open(f);
    const t = g.tensorByName.get("blk.0.ffn_up.weight")!;
    assert.equal(t.type, type);
    const [cols, rows] = t.dims;
    const m = 3;
    const x = new Float32Array(m * cols).map(() => rnd());
    const out = new Float32Array(m * rows);
    refQuantMatmul(readTensorBytes(g, t), type, rows, cols, x, out, m);
    const w = dequant(g, t.name);
    // Rounded activations, computed here independently: dequantize what the activation quantizer produced.
    const xr = new Float64Array(m * cols);
    for (let i = 0; i < m; i++) {
      if (type === "q4_k" || type === "q6_k") {
        const row = { q: new Int8Array(cols), d: new Float32Array(cols / 256), bsums: new Int32Array(cols / 16) };
        quantizeRowQ8K(x, i * cols, cols, row);
        for (let k = 0; k < cols; k++) xr[i * cols + k] = row.q[k] * row.d[k >> 8];
      } else if (type === "q8_0" || type === "q4_0") {
        const row = { q: new Int8Array(cols), d: new Float32Array(cols / 32), s: new Float32Array(cols / 32) };
        quantizeRowQ8(x, i * cols, cols, false, row);
        for (let k = 0; k < cols; k++) xr[i * cols + k] = row.q[k] * row.d[k >> 5];
      } else if (type === "f16") {
        for (let k = 0; k < cols; k++) xr[i * cols + k] = f16ToF32(f32ToF16(x[i * cols + k]));
      } else {
        for (let k = 0; k < cols; k++) xr[i * cols + k] = x[i * cols + k];
      }
    }
    for (let i = 0; i < m; i++) {
      for (let r = 0; r < rows; r++) {
        let s = 0, sa = 0;
        for (let k = 0; k < cols; k++) { s += w[r * cols + k] * xr[i * cols + k]; sa += Math.abs(w[r * cols + k] * xr[i * cols + k]); }
        const got = out[i * rows + r];
        assert.ok(Math.abs(got - s) <= 2e-6 * sa + 1e-30, `${type} out[${i},${r}] = ${got}, float64 ${s} (Σ|terms| ${sa})`);
      }
    }
  }
});
