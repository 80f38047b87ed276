// Decode-kernel tuning (src/backend/cpu/tuning.ts, native/zy_tune.c): every variant the tuner may pick, for every
// weight type, through the cpu backend's quantMatmul against the reference backend (and bit for bit against the
// fallback variant), at 1 and 2 threads; the cache file (written, read back without measuring, a corrupt or foreign
// one ignored with a warning); and a model's greedy decode giving the same logits bit for bit with tuning off, tuned,
// and with every variant forced on every shape. Skipped without the native addon's tuning functions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createBackend, tunable, type Backend, type TuningOptions } from "../../src/backend/index.js";
import { loadNative } from "../../src/backend/native.js";
import { Tuner, type TuningAddon } from "../../src/backend/cpu/tuning.js";
import { refDequantize, QUANT_BLOCK, type DequantType } from "../../src/backend/ref/quant.js";
import type { WeightType } from "../../src/backend/backend.js";
import { loadModel } from "../../src/infer/load.js";
import { argmax } from "../../src/infer/sampler.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { forEachIsa, rng } from "./harness.js";
import { randomWeights } from "../quant/random-weights.js";

const addon = loadNative();
const tuning = addon && addon.tuneVariants && addon.tuneSet && addon.tuneTime && addon.tuneClear && addon.quantRepack ? addon : null;
const skip = tuning ? false : "native addon without the tuning functions (npm run build:native)";
if (tuning) tuning.setThreads(tuning.threads()); // start the pool's workers up front (see native-quant.test.ts)
const GGUF = "../shared/testdata/gguf";



/** Σ|w·x| per output: the scale of the rounding a SIMD sum order may differ by from the reference's. */
function bound(w: Uint8Array, type: DequantType, rows: number, cols: number, x: Float32Array): Float64Array {
  const wd = new Float32Array(rows * cols);
  refDequantize(w, type, wd, rows * cols);
  return Float64Array.from({ length: rows }, (_, r) => {
    let s = 0;
    for (let k = 0; k < cols; k++) s += Math.abs(wd[r * cols + k] * x[k]);
    return s;
  });
}

const SOURCES: DequantType[] = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"];
const R16: Partial<Record<DequantType, WeightType>> = { q8_0: "q8_0_r16", q4_0: "q4_0_r16", q4_k: "q4_k_r16", q6_k: "q6_k_r16" };

test("every tuning variant of every weight type, at every ISA level: cpu quantMatmul matches the reference backend and the fallback bit for bit", { skip }, () => {
  const a = tuning!, cpu = createBackend(), ref = createBackend({ kind: "ref" });
  assert.equal(cpu.info().name, "cpu");
  const threads = a.threads();
  let seed = 7, checked = 0;
  const ran = forEachIsa((isa) => { try {
    for (const t of [1, 2]) {
      a.setThreads(t);
      for (const src of SOURCES) {
        const bs = QUANT_BLOCK[src].elements;
        // rows: a remainder after the 4-row kernels and after 16-row groups; cols: a masked tail for the float kernels
        for (const [rows, cols] of [[37, bs === 256 ? 768 : bs === 32 ? 800 : 810], [96, bs === 256 ? 512 : 256]] as const) {
          const rnd = rng(seed++);
          const raw = randomWeights(src, rows, cols, rnd);
          const x = new Float32Array(cols).map(() => rnd() * 4 - 2);
          const forms: Array<[WeightType, Uint8Array]> = [[src, raw]];
          const r16 = R16[src];
          if (r16 && rows % 16 === 0) {
            const w = raw.slice();
            assert.equal(a.quantRepack!(w, src, rows, cols), r16);
            forms.push([r16, w]);
          }
          const tol = bound(raw, src, rows, cols, x);
          for (const [type, w] of forms) {
            const variants = a.tuneVariants!(type);
            assert.ok(variants.length >= 1, `${type}: no variants listed`);
            const want = new Float32Array(rows);
            ref.quantMatmul(w, type, rows, cols, x, want, 1);
            let first: Float32Array | null = null;
            for (let v = 0; v < variants.length; v++) {
              a.tuneSet!(type, rows, cols, v);
              assert.equal(a.tuneGet!(type, rows, cols), v);
              const got = new Float32Array(rows).fill(NaN);
              cpu.quantMatmul(w, type, rows, cols, x, got, 1);
              const what = `${isa}: ${type} [${rows}×${cols}] ${t} thread(s) variant ${variants[v]}`;
              for (let r = 0; r < rows; r++) {
                assert.ok(Math.abs(got[r] - want[r]) <= 1e-6 * tol[r] + 1e-30, `${what}: out[${r}] ${got[r]} vs reference ${want[r]}`);
              }
              if (first) assert.deepEqual(got, first, `${what}: not bit-identical to the fallback ${variants[0]}`);
              else first = got;
              checked++;
            }
          }
        }
      }
    }
  } finally {
    a.tuneClear!();
    a.setThreads(threads);
  } });
  assert.ok(ran.length >= 2 && checked > 100 * ran.length, `only ${checked} variant runs over ${ran.join(", ")}`);
});

test("tuneSet rejects a variant out of range and names the function", { skip }, () => {
  assert.throws(() => tuning!.tuneSet!("f16", 8, 64, 99), /tuneSet: variant 99 out of range: f16 has \d+/);
  assert.throws(() => tuning!.tuneSet!("nope", 8, 64, 0), /tuneSet: unknown weight type "nope"/);
});

function options(dir: string, warnings: string[], enabled = true): TuningOptions {
  return { enabled, cacheFile: path.join(dir, "zhiyu", "tuning.json"), version: "9.9.9", warn: (m) => warnings.push(m),
    maxRingBytes: 1 << 20, rounds: 2 };
}

/** The addon with tuneTime counted (to tell measuring from reading the cache). */
function counting(): TuningAddon & { timed: number } {
  const a = tuning!;
  const c = { timed: 0, tuneVariants: (t: string) => a.tuneVariants!(t), tuneSet: (t: string, r: number, k: number, v: number) => a.tuneSet!(t, r, k, v),
    tuneTime: (...args: Parameters<TuningAddon["tuneTime"]>) => { c.timed++; return a.tuneTime!(...args); } };
  return c;
}

const MACHINE = { cpu: "Test CPU 1", isa: "avx512-test", threads: 2, kernels: "k1", loadPerCore: () => 0 };

test("tuning cache: measured once, read back without measuring; corrupt and foreign files ignored with a warning", { skip }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-tune-"));
  try {
    const rnd = rng(3), m = { type: "f16" as WeightType, rows: 64, cols: 256, data: randomWeights("f16", 64, 256, rnd) };
    const warnings: string[] = [];
    const o = options(dir, warnings);
    const a1 = counting();
    const t1 = new Tuner(a1, MACHINE, o);
    t1.setWorkingSet(4 << 20);
    t1.ensure(m);
    assert.ok(a1.timed > 0, "the first sight of a shape measures it");
    const [c] = t1.choices();
    assert.equal(c.source, "measured");
    assert.deepEqual(Object.keys(c.timesNs), tuning!.tuneVariants!("f16"));
    assert.ok(tuning!.tuneVariants!("f16").includes(c.variant));
    const file = JSON.parse(readFileSync(o.cacheFile!, "utf8")) as { cpu: string; entries: Record<string, { variant: string }> };
    assert.equal(file.cpu, "Test CPU 1");
    assert.equal(file.entries[c.key].variant, c.variant);

    const a2 = counting();
    const t2 = new Tuner(a2, MACHINE, o);
    t2.setWorkingSet(4 << 20);
    t2.ensure(m);
    assert.equal(a2.timed, 0, "a cached shape is not measured again");
    assert.equal(t2.choices()[0].source, "cached");
    assert.equal(tuning!.tuneGet!("f16", 64, 256), tuning!.tuneVariants!("f16").indexOf(c.variant));
    assert.deepEqual(warnings, []);

    // Another CPU model, another version, other kernels: each ignored with a warning, then measured and rewritten.
    for (const [machine, version, what] of [[{ ...MACHINE, cpu: "Other CPU 2" }, "9.9.9", /written for CPU "Test CPU 1"/],
      [MACHINE, "1.0.0", /by zhiyu 9\.9\.9/], [{ ...MACHINE, kernels: "k2" }, "9.9.9", /kernels k1/]] as const) {
      const w: string[] = [];
      const a3 = counting();
      const t3 = new Tuner(a3, machine, { ...options(dir, w), version });
      t3.setWorkingSet(4 << 20);
      t3.ensure(m);
      assert.equal(w.length, 1, `one warning, got ${JSON.stringify(w)}`);
      assert.match(w[0], what);
      assert.match(w[0], /ignoring it/);
      assert.ok(a3.timed > 0, "a foreign cache's entries are not used");
      writeFileSync(o.cacheFile!, JSON.stringify(file)); // the original file again for the next case
    }

    for (const [body, what] of [["{not json", /not valid JSON/], ['{"format":"zhiyu-tuning-1","entries":{}}', /not a zhiyu-tuning-1 file/],
      [JSON.stringify({ ...file, entries: { x: { variant: 3 } } }), /entry "x" is malformed/]] as const) {
      writeFileSync(o.cacheFile!, body);
      const w: string[] = [];
      const a4 = counting();
      const t4 = new Tuner(a4, MACHINE, options(dir, w));
      t4.setWorkingSet(4 << 20);
      t4.ensure(m);
      assert.equal(w.length, 1, `one warning for ${body.slice(0, 20)}, got ${JSON.stringify(w)}`);
      assert.match(w[0], what);
      assert.ok(a4.timed > 0);
      const again = JSON.parse(readFileSync(o.cacheFile!, "utf8")) as { format: string };
      assert.equal(again.format, "zhiyu-tuning-1", "the ignored file is rewritten whole");
    }

    // Disabled: nothing read, measured or set.
    tuning!.tuneClear!();
    const w: string[] = [];
    const a5 = counting();
    const t5 = new Tuner(a5, MACHINE, options(dir, w, false));
    t5.ensure(m);
    assert.equal(a5.timed, 0);
    assert.equal(tuning!.tuneGet!("f16", 64, 256), 0);
    assert.deepEqual(w, []);
  } finally {
    tuning!.tuneClear!();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tuning cache: a shape measured on a busy machine is provisional and measured again once the machine is quieter", { skip }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-tune-"));
  try {
    const m = { type: "q4_0" as WeightType, rows: 64, cols: 256, data: randomWeights("q4_0", 64, 256, rng(5)) };
    const busy = { ...MACHINE, loadPerCore: () => 6 };
    const run = (machine: typeof MACHINE) => {
      const a = counting(), t = new Tuner(a, machine, options(dir, []));
      t.setWorkingSet(1 << 20);
      t.ensure(m);
      return { timed: a.timed, choice: t.choices()[0] };
    };
    const first = run(busy);
    assert.ok(first.timed > 0 && first.choice.provisional, "measured under load: provisional");
    assert.match(first.choice.reason, /load 6\.0 per core: provisional/);
    assert.equal(run(busy).timed, 0, "still busy: the provisional choice is used as it is");
    const quiet = run(MACHINE);
    assert.ok(quiet.timed > 0 && !quiet.choice.provisional, "quiet: measured again, no longer provisional");
    assert.equal(run(busy).timed, 0, "a quiet measurement stands, busy or not");
  } finally {
    tuning!.tuneClear!();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Greedy decode of `steps` tokens after a short prompt: every step's logits. */
function decodeLogits(model: Awaited<ReturnType<typeof loadModel>>, steps: number): Float32Array[] {
  const seq = model.createSequence();
  const out: Float32Array[] = [];
  let logits = model.forward([{ seq, tokens: [1, 17, 42, 5] }])[0];
  for (let i = 0; i < steps; i++) {
    logits = model.forward([{ seq, tokens: [argmax(logits)] }])[0];
    out.push(Float32Array.from(logits));
  }
  seq.dispose();
  return out;
}

for (const file of ["dev-llama-tok512-f16.gguf", "dev-llama-tok512-e256-q4_k_m-pure.gguf", "dev-llama-tok512-q4_0-pure.gguf"]) {
  test(`${file}: greedy decode logits bit-identical with tuning off, tuned, and every variant forced`, { skip }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-tune-"));
    const backend: Backend = createBackend();
    setDefaultBackend(backend);
    try {
      const warnings: string[] = [];
      const off = await loadModel(path.join(GGUF, file), { backend, tuning: options(dir, warnings, false) });
      const base = decodeLogits(off, 6);
      off.dispose();
      const model = await loadModel(path.join(GGUF, file), { backend, tuning: options(dir, warnings) });
      const tuned = decodeLogits(model, 6);
      const shapes = tunable(backend)!.tuningChoices();
      assert.ok(shapes.length >= 2, `tuning saw ${shapes.length} shapes`);
      assert.deepEqual(tuned, base, "tuned decode differs from --no-tune");
      const most = Math.max(...shapes.map((s) => tuning!.tuneVariants!(s.type).length));
      for (let v = 0; v < most; v++) {
        for (const s of shapes) tuning!.tuneSet!(s.type, s.rows, s.cols, Math.min(v, tuning!.tuneVariants!(s.type).length - 1));
        assert.deepEqual(decodeLogits(model, 6), base, `variant ${v} on every shape differs from --no-tune`);
      }
      model.dispose();
      assert.deepEqual(warnings, []);
    } finally {
      tuning!.tuneClear!();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("4-row float variants are timed and shown but never chosen, and a cached 4-row choice is measured again", { skip }, () => {
  // They win alone on the calibration ring yet lose inside a real decode step (BENCHMARKS.md, session 8): a timer
  // that makes them twice as fast as everything else must still not get one picked.
  const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-tune-"));
  try {
    const rnd = rng(5), m = { type: "f16" as WeightType, rows: 64, cols: 256, data: randomWeights("f16", 64, 256, rnd) };
    const names = tuning!.tuneVariants!("f16");
    assert.ok(names.some((n) => n.startsWith("row4-")), `no 4-row variant among ${names.join(", ")}`);
    const a = counting();
    const slowFallback = { ...a, tuneTime: (...args: Parameters<TuningAddon["tuneTime"]>) => {
      a.timed++;
      const v = args[5];
      return names[v]!.startsWith("row4-") ? 500 : v === 0 ? 2000 : 1000;
    } };
    const w: string[] = [];
    const o = options(dir, w);
    const t1 = new Tuner(slowFallback, MACHINE, o);
    t1.setWorkingSet(4 << 20);
    t1.ensure(m);
    const [c] = t1.choices();
    assert.ok(Object.keys(c.timesNs).some((n) => n.startsWith("row4-")), "the 4-row variants are still timed and shown");
    assert.doesNotMatch(c.variant, /^row4-/);
    assert.notEqual(c.variant, names[0], "an eligible faster variant is still chosen");

    const file = JSON.parse(readFileSync(o.cacheFile!, "utf8")) as { entries: Record<string, { variant: string }> };
    file.entries[c.key].variant = names.find((n) => n.startsWith("row4-"))!;
    writeFileSync(o.cacheFile!, JSON.stringify(file));
    const a2 = counting();
    const t2 = new Tuner(a2, MACHINE, options(dir, w));
    t2.setWorkingSet(4 << 20);
    t2.ensure(m);
    assert.ok(a2.timed > 0, "a cached 4-row choice is measured again");
    assert.doesNotMatch(t2.choices()[0].variant, /^row4-/);
    assert.deepEqual(w, []);
  } finally {
    tuning!.tuneClear!();
    rmSync(dir, { recursive: true, force: true });
  }
});
