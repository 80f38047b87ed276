// bf16 mixed-precision training on both GEMM paths, in one process: with AVX512_BF16 (vdpbf16ps pairs, when the
// CPU has it) and with it forced off (addon.limitIsa(2, true): operands rounded to bf16 and multiplied by the f32
// tile, the path of every AVX-512 CPU without vdpbf16ps). Each run reproduces llm.c's f32 loss curve
// (../shared/testdata/llmc) within the bf16 tolerance of test/train/llmc-reference.test.ts (2e-2); the forced-off
// run is shown to take the other kernel. Leaves out: speed (zhiyu bench train --dtype f32,bf16,bf16-emulated).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { loadNative } from "../../src/backend/native.js";
import { DEFAULT_OPTIONS, validateOptions } from "../../src/train/options.js";
import { runTraining } from "../../src/train/trainer.js";

const LLMC = path.resolve("../shared/testdata/llmc");
const reference = JSON.parse(readFileSync(path.join(LLMC, "reference.json"), "utf8")) as {
  B: number; T: number; steps: number; lr: number; beta1: number; beta2: number; eps: number; weight_decay: number;
  losses: number[];
};
const quiet = { write: () => {}, isTTY: false };
const addon = loadNative();
const skip = addon?.gemmF32RoundBf16 ? false : "native addon not built (npm run build:native)";

async function trainBf16(): Promise<number[]> {
  const r = reference;
  const options = validateOptions({
    ...DEFAULT_OPTIONS, init: path.join(LLMC, "init"), data: path.join(LLMC, "tokens.bin"), batch: r.B, seq: r.T,
    steps: r.steps, lr: r.lr, warmup: 0, schedule: "constant", beta1: r.beta1, beta2: r.beta2, eps: r.eps,
    weightDecay: r.weight_decay, gradClip: 0, shuffle: false, dtype: "bf16",
  });
  const result = await runTraining({ options, backend: createBackend({ kind: "cpu" }), stdout: quiet, stderr: quiet });
  assert.equal(result.losses.length, r.losses.length);
  return result.losses;
}

function assertNearLlmc(losses: number[], label: string): void {
  losses.forEach((l, i) => assert.ok(Math.abs(l - reference.losses[i]!) < 2e-2, `${label} step ${i}: ${l} vs llm.c ${reference.losses[i]}`));
}

test("bf16 training reproduces llm.c's losses with AVX512_BF16 and with it forced off", { skip }, async () => {
  const native = addon!;
  const hasBf16Dot = native.gemmImpl!(true) === "avx512-bf16";
  const native16 = await trainBf16();
  assertNearLlmc(native16, `bf16 (${native.gemmImpl!(true)})`);
  let emulated: number[];
  try {
    native.limitIsa(2, true);
    assert.notEqual(native.gemmImpl!(true), "avx512-bf16");
    emulated = await trainBf16();
  } finally {
    native.limitIsa(2);
  }
  assertNearLlmc(emulated, "bf16 with AVX512_BF16 forced off");
  // On a vdpbf16ps CPU the two runs use different kernels (pairwise sums): some loss differs in its bits.
  if (hasBf16Dot) assert.ok(native16.some((l, i) => l !== emulated[i]), "forcing AVX512_BF16 off changed no loss: the same kernel ran twice");
  else assert.deepEqual(emulated, native16);
});
