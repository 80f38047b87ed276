// The optional fused ops of the backend interface: asked for by name and layer shape, offered only for the shape a
// backend implements (the cpu backend's native decoder layer: pre-norm RMS, rotary GQA, SwiGLU), never by model
// family; the reference backend offers none (callers compose the primitives, which is the ops' specification).
// Also the decode stack's state handle and the rows path's knobs (decoderOptions, ZHIYU_DECODE_*).
// Leaves out: the fused op's numerics (test/models/decode-layer.test.ts compares it bit for bit with the tensor path).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { DecoderLayerShape } from "../../src/backend/backend.js";
import { cpu, ref, skipCpu } from "./harness.js";
import { ADDON_PATH, loadNative, type DecodeRowsOptions } from "../../src/backend/native.js";
import { spawnSync } from "node:child_process";

const LAYER: DecoderLayerShape = { norm: "pre-rms", attention: "rotary-gqa", mlp: "swiglu" };

test("the reference backend has no fused ops", () => {
  assert.equal(ref.fused, undefined);
});

test("cpu: decoder-layer-decode is offered for the pre-rms / rotary-gqa / swiglu layer and refused for any other shape", { skip: skipCpu }, () => {
  assert.equal(typeof cpu!.fused?.("decoder-layer-decode", LAYER), "function");
  for (const other of [{ ...LAYER, norm: "post-layernorm" }, { ...LAYER, attention: "learned-positions-mha" }, { ...LAYER, mlp: "gelu" }]) {
    assert.equal(cpu!.fused?.("decoder-layer-decode", other as unknown as DecoderLayerShape), null, JSON.stringify(other));
  }
});

test("cpu: the fused op validates its spec in the addon, naming the op and the field", { skip: skipCpu }, () => {
  const run = cpu!.fused!("decoder-layer-decode", LAYER)!;
  assert.throws(() => run(new Float32Array(4), { m: -1 } as never), (err: Error) => err instanceof TypeError &&
    /^decoderLayerDecode: m must be a non-negative integer/.test(err.message));
});

test("cpu: a prepared layer checks its fields once, and each step its caches, naming the op and the field", { skip: skipCpu }, () => {
  const run = cpu!.fused!("decoder-layer-decode", LAYER)!;
  assert.throws(() => run.prepare({ hidden: 8, nHead: 3, nKv: 2 } as never), (err: Error) => err instanceof TypeError &&
    /^decoderLayerPrepare: headDim must be a non-negative integer/.test(err.message));
  const d = 32, q8 = (rows: number, cols: number) => ({ data: new Uint8Array(rows * (cols / 32) * 34), type: "q8_0" as const, rows, cols });
  const f = (n: number) => new Float32Array(n).fill(1);
  const layer = run.prepare({ hidden: d, nHead: 2, nKv: 1, headDim: 16, ffn: 32, rotDim: 16, eps: 1e-6, attnScale: 0.25,
    ropeInterleaved: false, freqs: f(8), attnNorm: f(d), ffnNorm: f(d), bq: null, bk: null, bv: null, qkv: null,
    q: q8(32, d), k: q8(16, d), v: q8(16, d), o: q8(d, 32), gateUp: null, gate: q8(32, d), up: q8(32, d), down: q8(d, 32) });
  const x = f(2 * d), k = [f(4 * 16), f(4 * 16)], v = [f(4 * 16), f(4 * 16)];
  assert.throws(() => run.step(x, layer, k, v, [4], [0, 0]), (err: Error) => err instanceof TypeError &&
    /^decoderLayerStep: kCaches, vCaches, capacities and positions need one entry per sequence \(m = 2\)/.test(err.message));
  assert.throws(() => run.step(x, layer, k, v, [4, 4], [0, 4]), (err: Error) => err instanceof TypeError &&
    /^decoderLayerStep: sequence 1: position must be below its cache capacity/.test(err.message));
  assert.throws(() => run.step(f(d), layer, k, v, [4, 4], [0, 1]), (err: Error) => err instanceof TypeError &&
    /^decoderLayerStep: x has 32 elements, needs 64/.test(err.message));
  run.step(x, layer, k, v, [4, 4], [0, 1]); // zero weights: the residuals leave x as it was
  assert.deepEqual(x, f(2 * d));
});

test("cpu: the whole-stack step checks every layer's caches before any layer runs, naming the op and the entry", { skip: skipCpu }, () => {
  const run = cpu!.fused!("decoder-layer-decode", LAYER)!;
  if (!run.stack) return; // an addon built before decoderStackStep
  const d = 32, q8 = (rows: number, cols: number) => ({ data: new Uint8Array(rows * (cols / 32) * 34), type: "q8_0" as const, rows, cols });
  const f = (n: number) => new Float32Array(n).fill(1);
  const weights = { hidden: d, nHead: 2, nKv: 1, headDim: 16, ffn: 32, rotDim: 16, eps: 1e-6, attnScale: 0.25,
    ropeInterleaved: false, freqs: f(8), attnNorm: f(d), ffnNorm: f(d), bq: null, bk: null, bv: null, qkv: null,
    q: q8(32, d), k: q8(16, d), v: q8(16, d), o: q8(d, 32), gateUp: null, gate: q8(32, d), up: q8(32, d), down: q8(d, 32) };
  const layers = [run.prepare(weights), run.prepare(weights)];
  // Two layers × two sequences, layer-major; layer 1 of sequence 1 holds 2 positions, the others 4.
  const x = f(2 * d), k = [f(64), f(64), f(64), f(32)], v = [f(64), f(64), f(64), f(32)];
  assert.throws(() => run.stack!(x, layers, k.slice(0, 3), v, [0, 1]), (err: Error) => err instanceof TypeError &&
    /^decoderStackStep: kCaches and vCaches need layers × sequences = 2 × 2 entries \(layer-major\), got 3 and 4/.test(err.message));
  assert.throws(() => run.stack!(x, layers, k, v, [0, 2]), (err: Error) => err instanceof TypeError &&
    /^decoderStackStep: sequence 1: position 2 must be below its layer-1 cache capacity 2/.test(err.message));
  assert.throws(() => run.stack!(x, layers, [k[0]!, k[1]!, new Uint16Array(64), k[3]!] as never, v, [0, 1]), (err: Error) =>
    err instanceof TypeError && /^decoderStackStep: kCaches\[2\] \(layer 1, sequence 0\) must be a Float32Array/.test(err.message));
  assert.throws(() => run.stack!(f(d), layers, k, v, [0, 1]), (err: Error) => err instanceof TypeError &&
    /^decoderStackStep: x has 32 elements, needs 64/.test(err.message));
  assert.deepEqual(x, f(2 * d), "nothing ran on a refused call");
  run.stack!(x, layers, k, v, [0, 1]); // zero weights: the residuals leave x as it was
  assert.deepEqual(x, f(2 * d));
  if (!run.prepareHead) return;
  assert.throws(() => run.prepareHead!({ norm: f(4), eps: 1e-6, weight: q8(64, d) }), (err: Error) => err instanceof TypeError &&
    /^decoderHeadPrepare: norm has 4 elements, needs 32/.test(err.message));
  const head = run.prepareHead({ norm: f(d), eps: 1e-6, weight: q8(64, d) });
  assert.throws(() => run.stack!(x, layers, k, v, [0, 1], head, new Float32Array(64)), (err: Error) => err instanceof TypeError &&
    /^decoderStackStep: logits has 64 elements, needs 128/.test(err.message));
  const logits = new Float32Array(128).fill(NaN);
  run.stack!(x, layers, k, v, [0, 1], head, logits); // a zero head: zero logits
  assert.deepEqual(logits, new Float32Array(128));
});

test("cpu: the stack step takes only a state handle from decoderStackState as its state, naming the op", { skip: skipCpu }, () => {
  const addon = loadNative();
  const run = cpu!.fused!("decoder-layer-decode", LAYER)!;
  if (!run.stack || !addon?.decoderStackState || !addon.decoderStackStep) return; // an addon built before session 13
  const d = 32, q8 = (rows: number, cols: number) => ({ data: new Uint8Array(rows * (cols / 32) * 34), type: "q8_0" as const, rows, cols });
  const f = (n: number) => new Float32Array(n).fill(1);
  const prepared = run.prepare({ hidden: d, nHead: 2, nKv: 1, headDim: 16, ffn: 32, rotDim: 16, eps: 1e-6, attnScale: 0.25,
    ropeInterleaved: false, freqs: f(8), attnNorm: f(d), ffnNorm: f(d), bq: null, bk: null, bv: null, qkv: null,
    q: q8(32, d), k: q8(16, d), v: q8(16, d), o: q8(d, 32), gateUp: null, gate: q8(32, d), up: q8(32, d), down: q8(d, 32) });
  const layer = (prepared as unknown as { handle: object }).handle;
  const x = f(d), k = [f(64)], v = [f(64)];
  for (const wrong of [layer, {}, 3]) {
    assert.throws(() => addon.decoderStackStep!(x, [layer], k, v, [0], undefined, undefined, true, wrong as object), (err: Error) =>
      err instanceof TypeError && /^decoderStackStep: state must be a handle from decoderStackState/.test(err.message));
  }
  const state = addon.decoderStackState();
  for (const pos of [0, 1, 2, 3]) addon.decoderStackStep(x, [layer], k, v, [pos], undefined, undefined, "always", state);
  assert.deepEqual(x, f(d), "zero weights: the residuals leave x as it was");
});

test("cpu: the rows path's knobs are read from ZHIYU_DECODE_* once and set through decoderOptions, naming the field", { skip: skipCpu }, () => {
  const addon = loadNative();
  if (!addon?.decoderOptions) return; // an addon built before session 13
  const before = addon.decoderOptions();
  assert.deepEqual(Object.keys(before).sort(), ["attnInTaskKeys", "prefetchKb", "profileEvery"]);
  try {
    assert.deepEqual(addon.decoderOptions({ attnInTaskKeys: 40 }), { ...before, attnInTaskKeys: 40 }, "only the fields given change");
    assert.deepEqual(addon.decoderOptions({ prefetchKb: 8, profileEvery: 0 }), { ...before, attnInTaskKeys: 40, prefetchKb: 8, profileEvery: 0 });
    assert.throws(() => addon.decoderOptions!({ prefetchKb: -1 }), (err: Error) => err instanceof TypeError &&
      /^decoderOptions: prefetchKb must be a non-negative integer/.test(err.message));
    assert.throws(() => addon.decoderOptions!("fast" as never), (err: Error) => err instanceof TypeError &&
      /^decoderOptions: options must be an object/.test(err.message));
    assert.equal(addon.decoderOptions().prefetchKb, 8, "a refused call changes nothing");
  } finally {
    addon.decoderOptions(before);
  }
  assert.deepEqual(addon.decoderOptions(), before);
  // In a fresh process: the environment as documented, read at first use (a later change to it is not seen).
  const script = `const a = require(${JSON.stringify(ADDON_PATH)}); const first = a.decoderOptions();
    process.env.ZHIYU_DECODE_PREFETCH_KB = "64"; console.log(JSON.stringify([first, a.decoderOptions()]));`;
  const cases: Array<[Record<string, string>, Partial<DecodeRowsOptions>]> = [
    [{ ZHIYU_DECODE_ATTN_APART: "1", ZHIYU_DECODE_PREFETCH_KB: "8", ZHIYU_DECODE_PROFILE: "5" }, { attnInTaskKeys: 0, prefetchKb: 8, profileEvery: 5 }],
    [{ ZHIYU_DECODE_ATTN_IN_TASK_KEYS: "96" }, { attnInTaskKeys: 96, prefetchKb: 0, profileEvery: 0 }]];
  for (const [env, want] of cases) {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("ZHIYU_DECODE_")));
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...clean, ...env } });
    assert.equal(r.status, 0, r.stderr);
    const [first, later] = JSON.parse(r.stdout) as DecodeRowsOptions[];
    assert.deepEqual(first, { ...first, ...want }, JSON.stringify(env));
    assert.deepEqual(later, first, "the environment is read once");
  }
});
