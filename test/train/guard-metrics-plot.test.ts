// The spike guard's decisions on hand-made loss sequences, the progress display's two modes, the metrics
// reader's tolerance of a torn last line, and the SVG plot's structure.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SpikeGuard } from "../../src/train/spike-guard.js";
import { ProgressDisplay, formatDuration } from "../../src/train/progress.js";
import { MetricsLog, readMetrics, trainFlopsPerToken, mfu } from "../../src/train/metrics.js";
import { niceTicks, plotDataFromMetrics, renderSvg, renderHtml } from "../../src/train/plot.js";

test("spike guard: NaN/Inf always, z-score only once the window is full", () => {
  const g = new SpikeGuard({ window: 4, zThreshold: 3 });
  assert.deepEqual(g.check(100), { spike: false }); // window not full yet
  assert.equal(g.check(NaN).spike, true);
  assert.equal(g.check(2, Infinity).spike, true);
  for (const x of [2.0, 2.1, 1.9, 2.0]) g.accept(x);
  // mean 2, population std sqrt(0.005) ≈ 0.0707; floor 1% of mean = 0.02 → std wins.
  const { mean, std } = g.stats();
  assert.ok(Math.abs(mean - 2) < 1e-12 && Math.abs(std - Math.sqrt(0.005)) < 1e-12);
  assert.equal(g.check(2.2).spike, false); // z ≈ 2.83
  const v = g.check(2.25); // z ≈ 3.54
  assert.equal(v.spike, true);
  if (v.spike) assert.equal(v.reason, "zscore");
  assert.equal(g.check(0.5).spike, false); // drops are fine
  // Flat losses: the relative floor keeps tiny noise from flagging.
  const flat = new SpikeGuard({ window: 3, zThreshold: 3 }, [1, 1, 1]);
  assert.equal(flat.check(1.02).spike, false); // z = 0.02 / 0.01 = 2
  assert.equal(flat.check(1.04).spike, true); // z = 4
  // The window restores from a snapshot (checkpoints) and keeps only the last `window` values.
  g.accept(3);
  assert.deepEqual(g.snapshot(), [2.1, 1.9, 2.0, 3]);
  assert.throws(() => new SpikeGuard({ window: 1, zThreshold: 3 }), /--spike-window 1/);
});

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, s: { isTTY, columns: 200, write: (t: string) => { out.push(t); } } };
}

test("progress: redraws one line on a TTY, plain lines otherwise", () => {
  const u = { step: 9, totalSteps: 100, loss: 2.5, lr: 3e-4, tokensPerSecond: 1234.5, mfu: 0.123, etaSeconds: 125 };
  const t = sink(true);
  const p = new ProgressDisplay(t.s);
  p.update(u);
  assert.match(t.out[0]!, /^\r\x1b\[2K\[##-+\] step 10\/100 \| loss 2\.5000 \| lr 3\.00e-4 \| 1234\.5 tok\/s \| MFU 12\.3% \| ETA 2m05s$/);
  p.log("rollback");
  assert.deepEqual(t.out.slice(1), ["\r\x1b[2K", "rollback\n"]);
  const f = sink(false);
  const q = new ProgressDisplay(f.s, 5);
  for (let s = 0; s < 10; s++) q.update({ ...u, step: s, totalSteps: 10 });
  assert.equal(f.out.length, 2);
  assert.match(f.out[0]!, /^step 5\/10 \| loss/);
  assert.equal(formatDuration(3725), "1h02m");
});

test("metrics: torn lines are skipped; MFU arithmetic", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-metrics-"));
  try {
    const f = path.join(dir, "m.jsonl");
    writeFileSync(f, '{"step":0,"loss":5}\n{"step":1,"loss":4}\n{"step":2,"lo');
    assert.deepEqual(readMetrics(f).map((r) => r.step), [0, 1]);
    new MetricsLog(f).write({ step: 2, event: "resume" });
    assert.deepEqual(readMetrics(f).map((r) => r.step), [0, 1, 2]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // GPT-2 124M at T = 1024: 6·85M + 12·12·768·1024 ≈ 6.2e8 FLOPs per token (nanoGPT's estimate).
  const fpt = trainFlopsPerToken({ matmulParams: 85e6 + 38.6e6, nLayer: 12, nEmbd: 768, seq: 1024 });
  assert.equal(fpt, 6 * (85e6 + 38.6e6) + 12 * 12 * 768 * 1024);
  assert.equal(mfu(100, 1e9, 1e12), 0.1);
});

test("plot: train/val loss and lr series, last record per step wins, rollbacks marked", () => {
  const recs = [
    { step: 0, loss: 5, lr: 1e-3, grad_norm: 1, tokens_per_s: 1, mfu: null, dt: 1 },
    { step: 1, loss: 4, lr: 1e-3, grad_norm: 1, tokens_per_s: 1, mfu: null, dt: 1 },
    { step: 1, event: "rollback" as const },
    { step: 1, loss: 3.5, lr: 5e-4, grad_norm: 1, tokens_per_s: 1, mfu: null, dt: 1 },
    { step: 2, val_loss: 3.8, val_ppl: Math.exp(3.8) },
  ];
  const d = plotDataFromMetrics(recs);
  assert.deepEqual(d.loss[0]!.points, [[0, 5], [1, 3.5]]);
  assert.deepEqual(d.loss[1]!.points, [[2, 3.8]]);
  assert.deepEqual(d.lr[0]!.points, [[0, 1e-3], [1, 5e-4]]);
  assert.deepEqual(d.rollbackSteps, [1]);
  const svg = renderSvg(d, "run <1>");
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((svg.match(/<path /g) ?? []).length, 3);
  assert.match(svg, /run &lt;1&gt;: loss/);
  assert.match(svg, /stroke-dasharray/);
  assert.match(renderHtml(d), /<!doctype html>[\s\S]*<svg/);
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
});

test("plot --metric: the named per-step metric replaces the loss panel (RL runs' score, kl)", () => {
  const recs = [
    { step: 0, loss: 0.1, lr: 1e-5, grad_norm: 1, tokens_per_s: 1, mfu: null, dt: 1, score: -0.5, kl: 0 },
    { step: 1, loss: 0.2, lr: 1e-5, grad_norm: 1, tokens_per_s: 1, mfu: null, dt: 1, score: 0.25 },
    { step: 2, val_loss: 3.8, val_ppl: Math.exp(3.8) },
  ];
  const d = plotDataFromMetrics(recs, "score");
  assert.equal(d.upper, "score");
  assert.deepEqual(d.loss.map((s) => s.name), ["score"]);
  assert.deepEqual(d.loss[0]!.points, [[0, -0.5], [1, 0.25]]);
  assert.deepEqual(plotDataFromMetrics(recs, "kl").loss[0]!.points, [[0, 0]]);
  assert.match(renderSvg(d, "ppo"), /ppo: score/);
  assert.deepEqual(plotDataFromMetrics(recs, "nothing").loss[0]!.points, []);
});
