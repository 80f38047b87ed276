// zhiyu bench train with a list of dtypes: one run each (tiny preset), every run's median step time and
// tokens/s consistent with B·T, ratios to the first dtype, the bf16-emulated run on the AVX-512 path without
// AVX512_BF16; a bad dtype is a usage error naming the choices. Leaves out: speed itself (BENCHMARKS.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { loadNative } from "../../src/backend/native.js";

const zhiyu = (...args: string[]) => spawnSync(process.execPath, ["bin/zhiyu.mjs", ...args], { encoding: "utf8" });
const addon = loadNative();

test("bench train --dtype f32,bf16,bf16-emulated: one median per dtype and its ratio to f32", { skip: addon ? false : "native addon not built" }, () => {
  const r = zhiyu("bench", "train", "--preset", "tiny", "--batch", "2", "--seq", "8", "--threads", "1", "--steps", "2",
    "--dtype", "f32,bf16,bf16-emulated", "--json");
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { dtype: string; tokens_per_s: number; rounds: number;
    runs: { dtype: string; tokens_per_s: number; step_ms: number; steps: number; vs_first: number }[] };
  assert.equal(out.dtype, "f32");
  assert.deepEqual(out.runs.map((x) => x.dtype), ["f32", "bf16", "bf16-emulated"]);
  for (const x of out.runs) {
    assert.equal(x.steps, 2);
    assert.ok(Math.abs(x.tokens_per_s - (2 * 8) / (x.step_ms / 1000)) < 1e-6 * x.tokens_per_s, JSON.stringify(x));
    assert.ok(Math.abs(x.vs_first - x.tokens_per_s / out.runs[0]!.tokens_per_s) < 1e-12);
  }
  const bad = zhiyu("bench", "train", "--preset", "tiny", "--dtype", "f32,f16");
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--dtype f16 must be one of f32, bf16, bf16-emulated/);
});
