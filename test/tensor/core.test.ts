// src/core: exact dtype conversions against IEEE/bfloat16 bit patterns worked by hand, shape/broadcast math,
// the RNG against the xoshiro128** reference sequence and exact state save/restore, errors and disposal helpers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../src/core/dtype.js";
import { broadcastShapes, contiguousStrides, inferShape, isContiguous, viewStrides } from "../../src/core/shape.js";
import { Rng } from "../../src/core/rng.js";
import { OpError } from "../../src/core/errors.js";
import { DisposeBag } from "../../src/core/dispose.js";

test("f32 → bf16 rounds to nearest even; bf16 → f32 is exact", () => {
  assert.equal(f32ToBf16(1), 0x3f80);
  assert.equal(f32ToBf16(-2), 0xc000);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 (even) and 1 + 2^-7: ties go to even (down).
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80);
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd mantissa 1) and 1 + 2^-6 (even): rounds up.
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(f32ToBf16(1 + 2 ** -8 + 2 ** -20), 0x3f81); // above halfway
  assert.equal(f32ToBf16(Infinity), 0x7f80);
  assert.equal(f32ToBf16(-Infinity), 0xff80);
  assert.equal(f32ToBf16(NaN) & 0x7fc0, 0x7fc0);
  assert.equal(f32ToBf16(3.4028234663852886e38), 0x7f80); // max f32 rounds up to inf in bf16
  assert.equal(bf16ToF32(0x3f80), 1);
  assert.equal(bf16ToF32(0x4049), 3.140625);
  assert.equal(bf16ToF32(0x0001), 2 ** -133); // bf16 subnormal
  assert.ok(Number.isNaN(bf16ToF32(0x7fc0)));
});

test("f32 ↔ f16 follows IEEE binary16, subnormals included", () => {
  const cases: [number, number][] = [
    [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [0.5, 0x3800], [2 ** -14, 0x0400], [2 ** -24, 0x0001],
    [2 ** -14 - 2 ** -24, 0x03ff], [0, 0x0000], [-0, 0x8000], [Infinity, 0x7c00], [-Infinity, 0xfc00],
  ];
  for (const [x, bits] of cases) {
    assert.equal(f32ToF16(x), bits, `f32ToF16(${x})`);
    assert.equal(f16ToF32(bits), x, `f16ToF32(0x${bits.toString(16)})`);
  }
  assert.equal(f32ToF16(65520), 0x7c00); // halfway to 2^16 rounds to even = inf
  assert.equal(f32ToF16(65519), 0x7bff);
  assert.equal(f32ToF16(2 ** -25), 0x0000); // halfway between 0 and the smallest subnormal: even is 0
  assert.equal(f32ToF16(3 * 2 ** -25), 0x0002); // halfway between 1 and 2 units: even is 2
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(f32ToF16(1e-10), 0x0000);
  assert.ok(Number.isNaN(f16ToF32(f32ToF16(NaN))));
  // Every f16 value survives f16 → f32 → f16.
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaN payloads
    assert.equal(f32ToF16(f16ToF32(h)), h);
  }
  assert.deepEqual([f32ToF16(1), f32ToF16(-2)], [0x3c00, 0xc000]);
});

test("shape math", () => {
  assert.deepEqual(contiguousStrides([2, 3, 4]), [12, 4, 1]);
  assert.deepEqual(broadcastShapes("t", [3, 1], [4]), [3, 4]);
  assert.deepEqual(broadcastShapes("t", [2, 1, 5], [3, 1]), [2, 3, 5]);
  assert.throws(() => broadcastShapes("add", [2, 3], [4]), /\[add\] shapes \[2, 3\] and \[4\] cannot be broadcast/);
  assert.deepEqual(inferShape("reshape", [2, -1], 6), [2, 3]);
  assert.throws(() => inferShape("reshape", [4, -1], 6), /\[reshape\] cannot infer -1/);
  assert.ok(isContiguous([2, 1, 3], [3, 99, 1]));
  assert.ok(!isContiguous([2, 3], [1, 2]));
  assert.deepEqual(viewStrides([2, 3, 4], [12, 4, 1], [6, 4]), [4, 1]);
  assert.deepEqual(viewStrides([2, 3, 4], [12, 4, 1], [2, 12]), [12, 1]);
  assert.equal(viewStrides([3, 2], [1, 3], [6]), null); // a transposed matrix cannot be flattened without a copy
  assert.deepEqual(viewStrides([3, 2], [1, 3], [3, 1, 2]), [1, 1, 3]);
  assert.deepEqual(viewStrides([4, 6], [12, 1], [4, 2, 3]), [12, 3, 1]); // a narrowed row view splits its columns
});

test("Rng matches the xoshiro128** reference sequence and restores its state exactly", () => {
  // Reference algorithm by hand from state {1, 2, 3, 4}: 11520, 0, 5927040.
  const r = Rng.fromState({ s: [1, 2, 3, 4], spare: null });
  assert.deepEqual([r.nextU32(), r.nextU32(), r.nextU32()], [11520, 0, 5927040]);
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const sa = Array.from({ length: 5 }, () => a.nextU32());
  assert.deepEqual(sa, Array.from({ length: 5 }, () => b.nextU32()));
  assert.notDeepEqual(sa, Array.from({ length: 5 }, () => c.nextU32()));
  a.normal(); // leaves a spare normal in the state
  const saved = JSON.parse(JSON.stringify(a.getState()));
  const after = Array.from({ length: 7 }, () => a.normal());
  const resumed = Rng.fromState(saved);
  assert.deepEqual(Array.from({ length: 7 }, () => resumed.normal()), after);
  // Normal moments over many samples.
  let s = 0, s2 = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) { const z = a.normal(); s += z; s2 += z * z; }
  assert.ok(Math.abs(s / n) < 0.03 && Math.abs(s2 / n - 1) < 0.05);
  for (let i = 0; i < 100; i++) { const u = a.nextFloat(); assert.ok(u >= 0 && u < 1); }
  for (let i = 0; i < 100; i++) { const k = a.int(7); assert.ok(Number.isInteger(k) && k >= 0 && k < 7); }
  assert.throws(() => a.setState({ s: [0, 0, 0, 0], spare: null }), /not all zero/);
});

test("OpError and DisposeBag", () => {
  const e = new OpError("matmul", "inner dims differ");
  assert.equal(e.message, "[matmul] inner dims differ");
  const order: number[] = [];
  {
    using bag = new DisposeBag();
    bag.add({ dispose: () => order.push(1) });
    bag.add({ dispose: () => order.push(2) });
  }
  assert.deepEqual(order, [2, 1]);
});
