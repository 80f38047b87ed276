// Random valid weight bytes for the quantized-kernel tests (native-quant, tuning): quantized from random floats by the
// reference quantizer where one exists, otherwise (k-quants) random bytes with small, finite f16 scales so every
// block decodes to finite values. Leaves out: choosing shapes and seeds (each test's own).
import { refQuantize, QUANT_BLOCK, type DequantType } from "../../src/backend/ref/quant.js";
import { f32ToF16 } from "../../src/core/dtype.js";

const K_TYPES = new Set<DequantType>(["q4_k", "q5_k", "q6_k"]);

export function randomWeights(type: DequantType, rows: number, cols: number, rnd: () => number): Uint8Array {
  const n = rows * cols;
  const x = new Float32Array(n).map(() => (rnd() * 2 - 1) * 0.5);
  if (type === "f32") return new Uint8Array(x.buffer);
  const { elements, bytes } = QUANT_BLOCK[type];
  const out = new Uint8Array((n / elements) * bytes);
  if (!K_TYPES.has(type)) {
    refQuantize(x, type as "q8_0", out, n);
    return out;
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rnd() * 256);
  const putF16 = (o: number, v: number) => { const h = f32ToF16(v); out[o] = h & 0xff; out[o + 1] = h >> 8; };
  for (let o = 0; o < out.length; o += bytes) {
    if (type === "q6_k") putF16(o + 208, 0.001 + rnd() * 0.01);
    else { putF16(o, 0.001 + rnd() * 0.01); putF16(o + 2, 0.001 + rnd() * 0.01); }
  }
  return out;
}
