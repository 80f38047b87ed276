// Scaling-law fit: on synthetic runs generated from known constants (Chinchilla's published E, A, α, B, β), the
// fit recovers them; with noise it stays close and the bootstrap gives a spread; the compute-optimal split
// matches a brute-force search along C = 6ND; the parameter count of a LLaMA shape matches a count by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/core/rng.js";
import {
  bootstrapFit, computeOptimal, fitLaw, llamaParamCount, predictLoss, renderFitSvg, type FitPoint,
} from "../../src/train/scaling.js";

const TRUE = { E: 1.69, A: 406.4, alpha: 0.34, B: 410.7, beta: 0.28 };

function grid(noise: number, seed: number): FitPoint[] {
  const rng = new Rng(seed);
  const pts: FitPoint[] = [];
  for (const N of [1e5, 3e5, 1e6, 3e6]) for (const D of [1e6, 3e6, 1e7, 3e7]) {
    pts.push({ N, D, loss: predictLoss(TRUE, N, D) * Math.exp(noise * rng.normal()) });
  }
  return pts;
}

test("the fit recovers known constants from noise-free synthetic runs", () => {
  const { constants: c } = fitLaw(grid(0, 1));
  assert.ok(Math.abs(c.E - TRUE.E) / TRUE.E < 1e-3, `E ${c.E}`);
  assert.ok(Math.abs(c.alpha - TRUE.alpha) < 1e-3, `alpha ${c.alpha}`);
  assert.ok(Math.abs(c.beta - TRUE.beta) < 1e-3, `beta ${c.beta}`);
  assert.ok(Math.abs(Math.log(c.A / TRUE.A)) < 1e-2, `A ${c.A}`);
  assert.ok(Math.abs(Math.log(c.B / TRUE.B)) < 1e-2, `B ${c.B}`);
});

test("with 0.5% noise the prediction at a 10× larger model stays within 5%, and the bootstrap has a spread", () => {
  const pts = grid(0.005, 7);
  const fit = fitLaw(pts);
  const truth = predictLoss(TRUE, 3e7, 3e8);
  const predicted = predictLoss(fit.constants, 3e7, 3e8);
  assert.ok(Math.abs(predicted - truth) / truth < 0.05, `predicted ${predicted} vs ${truth}`);
  const boot = bootstrapFit(pts, fit.constants, 4, 3);
  assert.ok(boot.samples.length >= 3);
  assert.ok(boot.std.E > 0 && Number.isFinite(boot.std.E));
});

test("compute-optimal split agrees with a brute-force search along C = 6ND", () => {
  const C = 1e21;
  const opt = computeOptimal(TRUE, C);
  let best = { N: 0, loss: Infinity };
  for (let e = 6; e <= 12; e += 0.0005) {
    const N = 10 ** e;
    const l = predictLoss(TRUE, N, C / (6 * N));
    if (l < best.loss) best = { N, loss: l };
  }
  assert.ok(Math.abs(Math.log10(opt.N / best.N)) < 0.002, `N ${opt.N} vs ${best.N}`);
  assert.ok(Math.abs(opt.loss - best.loss) < 1e-6);
  assert.ok(Math.abs(6 * opt.N * opt.D - C) / C < 1e-9);
});

test("LLaMA parameter count by hand, and the fit picture is an SVG", () => {
  // vocab 10, hidden 4, 1 layer, 2 heads (dim 2), 1 KV head, ffn 6, tied:
  // embed 40 + q 16 + k 8 + v 8 + o 16 + mlp 3·24 + 2 norms 8 + final norm 4 = 172
  assert.equal(llamaParamCount({ layers: 1, hidden: 4, heads: 2, kvHeads: 1, ffn: 6 }, 10), 172);
  const svg = renderFitSvg({ runs: grid(0, 1), constants: TRUE, target: { N: 1e7, D: 1e8, predicted: 2.5, actual: 2.6 } });
  assert.match(svg, /^<svg /);
  assert.match(svg, /measured 2\.600/);
});
