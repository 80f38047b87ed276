// Bad arguments throw BackendError on both backends, before any native call, with a message that names the op,
// the argument, the dims and what was expected. Also the buffer pool and createBackend's choice, and the native
// glue's own checks (one style, native/zy_args.h: TypeError "<function>: <argument> ...") for direct addon calls.

import { test } from "node:test";
import assert from "node:assert/strict";
import { BackendError, type Backend } from "../../src/backend/backend.js";
import { createBackend } from "../../src/backend/index.js";
import { BufferPool, sizeClass } from "../../src/backend/pool.js";
import { cpu, native, ref, skipCpu } from "./harness.js";

const backends: Backend[] = [ref, ...(cpu ? [cpu] : [])];
const f = (n: number) => new Float32Array(n);

function throwsNaming(fn: () => void, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BackendError, `expected a BackendError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test("wrong lengths name the op, the argument and the dims", () => {
  for (const be of backends) {
    throwsNaming(() => be.softmax(f(6), f(9), 3, 3), /^\[softmax\] x has 6 elements but needs at least 9 \(rows·cols = 3·3\)/);
    throwsNaming(() => be.unary("exp", f(4), f(3), 4), /^\[unary\] out has 3 elements .* \(n = 4\)/);
    throwsNaming(() => be.layerNorm(f(6), f(2), null, f(6), f(2), f(2), 2, 3, 1e-5), /^\[layerNorm\] w has 2 elements .*cols = 3/);
    throwsNaming(() => be.matmul(f(6), f(6), f(4), { batch: 1, m: 2, n: 2, k: 4, transA: false, transB: false, strideA: 0, strideB: 0, strideC: 0, alpha: 1, beta: 0 }, "f32"),
      /^\[matmul\] a has 6 elements but needs at least 8 \(batch 1, m 2, n 2, k 4/);
    throwsNaming(() => be.rope(f(10), 1, 1, 1, 10, 7, 0, f(4), "neox", false), /^\[rope\] rotDim 7 must be even/);
    throwsNaming(() => be.reduceSum(f(5), f(1), 1, 6, 1, false), /^\[reduceSum\] x has 5 elements .*outer·size·inner = 1·6·1/);
  }
});

test("out-of-range ids and targets are rejected with the index and the range", () => {
  for (const be of backends) {
    throwsNaming(() => be.embedding(f(12), new Int32Array([0, 4]), f(6), 2, 3, 4), /^\[embedding\] ids\[1\] = 4 is outside \[0, 4\)/);
    throwsNaming(() => be.embedding(f(12), new Int32Array([-1]), f(3), 1, 3, 4), /ids\[0\] = -1 is outside/);
    throwsNaming(() => be.embeddingBackward(new Int32Array([5]), f(3), f(12), 1, 3), /^\[embeddingBackward\] ids\[0\] = 5 is outside \[0, 4\)/);
    throwsNaming(() => be.crossEntropy(f(6), new Int32Array([1, 3]), f(2), 2, 3, -100),
      /^\[crossEntropy\] targets\[1\] = 3 is outside \[0, 3\) or the ignore index -100/);
  }
});

test("mismatched dims, dtypes and strides are rejected", () => {
  for (const be of backends) {
    const p = { b: 1, tq: 2, tk: 2, nHead: 3, nKvHead: 2, headDim: 4, scale: 1, causal: true };
    throwsNaming(() => be.attention(f(24), f(16), f(16), f(24), f(6), p), /^\[attention\] nHead 3 must be a multiple of nKvHead 2/);
    throwsNaming(() => be.attention(f(8), f(12), f(12), f(8), f(2), { ...p, nHead: 1, nKvHead: 1, tq: 2, tk: 1 }),
      /causal attention needs tk ≥ tq/);
    throwsNaming(() => be.attention(f(8), f(8), f(8), f(8), f(2), { ...p, nHead: 1, nKvHead: 1, kvCapacity: 3 }),
      /^\[attention\] k has 8 elements but needs at least 12 \(b·kvCapacity·nKvHead·headDim = 1·3·1·4\)/);
    throwsNaming(() => be.copyStrided(f(4), 0, [1], new Int32Array(4), 0, [1], [4]), /^\[copyStrided\] src \(Float32Array\) and dst \(Int32Array\)/);
    throwsNaming(() => be.addStrided(f(4), 0, [1], new Int32Array(4) as never, 0, [1], [4]), /^\[addStrided\] src \(Float32Array\) and dst \(Int32Array\) must both be Float32Array/);
    throwsNaming(() => be.addStrided(f(4), 0, [1, 2], f(6), 0, [3, 1], [2, 3]), /^\[addStrided\] src view .* touches elements 0\.\.5 but the storage has 4/);
    throwsNaming(() => be.copyStrided(f(6), 0, [1, 3], f(6), 0, [3, 1], [3, 3]), /^\[copyStrided\] src view .* touches elements 0\.\.8 but the storage has 6/);
    throwsNaming(() => be.binary("add", f(6), [3, 1], f(2), [0, 1], f(6), [2, 3]), /^\[binary\] b view \(offset 0, strides \[0, 1\], shape \[2, 3\]\) touches elements 0\.\.2 but the storage has 2/);
    throwsNaming(() => be.cast(f(2), "f32", f(2), "bf16", 2), /^\[cast\] dst must be a Uint16Array for dtype bf16, got Float32Array/);
    throwsNaming(() => be.unary("nope" as never, f(1), f(1), 1), /^\[unary\] unknown unary op "nope"/);
    throwsNaming(() => be.adamw(f(1), f(1), f(1), f(1), 1, { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1e-8, weightDecay: 0, step: 0 }, true), /^\[adamw\] step must be an integer ≥ 1/);
    throwsNaming(() => be.quantMatmul(new Uint8Array(10), "q8_0", 1, 30, f(30), f(1), 1), /^\[quantMatmul\] cols = 30 must be a multiple of the q8_0 block size 32/);
  }
});

test("the pool recycles released buffers by size class, zero-fills them and rejects double release", () => {
  const pool = new BufferPool();
  const a = pool.alloc("f32", 5000) as Float32Array;
  a.fill(7);
  pool.release(a);
  const b = pool.alloc("f32", 4500) as Float32Array;
  assert.equal(b.length, 4500);
  assert.equal(b.buffer, a.buffer, "same size class (8192) reuses the buffer");
  assert.ok(b.every((v) => v === 0), "zero-filled on alloc");
  assert.equal(pool.stats().reused, 1);
  pool.release(b);
  assert.throws(() => pool.release(b), /\[release\] storage .* was not allocated by this backend or was already released/);
  assert.throws(() => pool.release(new Float32Array(10)), /\[release\]/);
  assert.equal(sizeClass(100000), 106496, "above 64 Ki: the next eighth of a power of two");
  assert.equal(sizeClass(3000), 4096);
  assert.ok(pool.alloc("bf16", 3) instanceof Uint16Array);
});

test("createBackend picks the reference when asked and the cpu backend when the addon is built", () => {
  assert.equal(createBackend({ kind: "ref" }).info().name, "ref");
  assert.equal(createBackend().info().name, cpu ? "cpu" : "ref");
});

test("native glue rejects direct misuse with a TypeError naming the function and the argument, in every glue file", { skip: skipCpu }, () => {
  const addon = native! as unknown as Record<string, (...args: unknown[]) => unknown>;
  const rejects = (call: () => unknown, pattern: RegExp) =>
    assert.throws(call, (err: unknown) => err instanceof TypeError && pattern.test(err.message), String(pattern));
  rejects(() => addon.opsSoftmax(new Float64Array(4), f(4), 2, 2, false), /^opsSoftmax: argument 0 must be a Float32Array$/); // ops_napi.cc
  rejects(() => addon.opsSoftmax(f(3), f(4), 2, 2, false), /^opsSoftmax: argument 0 has 3 elements, needs 4$/);
  rejects(() => addon.gemmF32(f(1)), /^gemmF32: expected 14 arguments \(a, b, c, batch, .*\), got 1$/); // gemm_napi.cc
  rejects(() => addon.quantize(f(32), 7, new Uint8Array(34), 32), /^quantize: type must be a string such as "q4_0"$/); // quant_napi.cc
  rejects(() => addon.decoderLayerDecode(f(4), 3), /^decoderLayerDecode: spec must be an object$/); // decode_napi.cc
  rejects(() => addon.limitIsa(-1), /^limitIsa: level \(0 portable, 1 AVX2, 2 AVX-512\) must be a non-negative integer$/); // addon.cc
  rejects(() => addon.setThreads("two"), /^setThreads: n \(0 = all cores\) must be a non-negative integer$/);
  assert.equal(addon.limitIsa(2), native!.isa());
});
