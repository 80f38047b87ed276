// PPO's arithmetic against trl's (test/train/fixtures/ppo-reference.json, made by dev/alignment/ppo_reference.py:
// trl 0.19 PPOTrainer.train()'s formulas and trl.trainer.utils run in torch on a seeded case with early-ending
// responses): sequence lengths and padding masks, per-token KL (k1, k3), KL-penalised rewards with the score where trl
// puts it, GAE advantages and returns, whitened advantages, and the clipped policy / value losses with their clip
// fractions and approx-KL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createBackend } from "../../src/backend/index.js";
import { fromTypedArray, setDefaultBackend } from "../../src/tensor/index.js";
import { type KlEstimator, adaptiveKlCoef, gae, klPenalisedRewards, paddingMasks, ppoLoss, sequenceLengths, whitenAdvantages } from "../../src/train/objectives/ppo-math.js";

setDefaultBackend(createBackend());
type M = number[][];
interface Est { kl: M; rewards: M; advantages_raw: M; returns: M; advantages: M; new_logprobs: M; vpred: M; pg_loss: number; vf_loss: number;
  loss: number; pg_clipfrac: number; vf_clipfrac: number; approxkl: number }
const ref = JSON.parse(readFileSync(new URL("./fixtures/ppo-reference.json", import.meta.url), "utf8")) as {
  settings: { gamma: number; lam: number; kl_coef: number; cliprange: number; cliprange_value: number; vf_coef: number };
  responses: M; pad: number; scores: number[]; logprobs: M; ref_logprobs: M; values: M; sequence_lengths: number[];
  padding_mask: M; padding_mask_p1: M; estimators: Record<KlEstimator, Est> };

const B = ref.responses.length, T = ref.responses[0]!.length;
const flat = (m: M) => Float32Array.from(m.flat());
function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)), `${what}[${i}]: ${got[i]} vs trl ${want[i]}`);
}

test("PPO lengths, masks, KL, rewards, GAE, returns, whitened advantages and losses match trl's formulas", () => {
  const s = ref.settings;
  const lengths = sequenceLengths(Int32Array.from(ref.responses.flat()), B, T, ref.pad);
  assert.deepEqual([...lengths], ref.sequence_lengths);
  const { padding, paddingP1 } = paddingMasks(lengths, T);
  assert.deepEqual([...padding], ref.padding_mask.flat());
  assert.deepEqual([...paddingP1], ref.padding_mask_p1.flat());
  for (const est of ["k1", "k3"] as const) {
    const e = ref.estimators[est];
    const { kl, rewards } = klPenalisedRewards(flat(ref.logprobs), flat(ref.ref_logprobs), ref.scores, lengths, T, s.kl_coef, est);
    close(kl, e.kl.flat(), 1e-5, `${est} KL`);
    close(rewards, e.rewards.flat(), 1e-5, `${est} rewards`);
    const { advantages, returns } = gae(rewards, flat(ref.values), B, T, s.gamma, s.lam);
    close(advantages, e.advantages_raw.flat(), 1e-5, `${est} GAE`);
    close(returns, e.returns.flat(), 1e-5, `${est} returns`);
    const whitened = whitenAdvantages(advantages, padding);
    close(whitened, e.advantages.flat(), 1e-5, `${est} whitened advantages`);
    const settings = { gamma: s.gamma, lam: s.lam, klCoef: s.kl_coef, klEstimator: est, cliprange: s.cliprange, cliprangeValue: s.cliprange_value, vfCoef: s.vf_coef };
    const r = ppoLoss(fromTypedArray(flat(e.new_logprobs), [B, T]), fromTypedArray(flat(e.vpred), [B, T]),
      { rows: B, T, oldLogprobs: flat(ref.logprobs), oldValues: flat(ref.values), advantages: whitened, returns, padding, paddingP1 }, settings);
    const m = r.metrics;
    close([r.loss.item(), m.pg_loss, m.vf_loss, m.pg_clipfrac, m.vf_clipfrac, m.approxkl],
      [e.loss, e.pg_loss, e.vf_loss, e.pg_clipfrac, e.vf_clipfrac, e.approxkl], 1e-5, `${est} loss, pg, vf, clipfracs, approxkl`);
    assert.ok(m.pg_clipfrac > 0 && m.vf_clipfrac > 0, "the case exercises both clips");
  }
});

test("adaptive KL coefficient: trl's AdaptiveKLController.update (error clipped to ±0.2, scaled by samples / horizon)", () => {
  // by hand: 0.05 · (1 + 0.2 · 16 / 64) = 0.0525 (KL 0.3 vs target 0.2: error 0.5, clipped); 0.05 · (1 − 0.05 · 16 / 64) = 0.049375
  assert.ok(Math.abs(adaptiveKlCoef(0.05, 0.3, 0.2, 16, 64) - 0.0525) < 1e-15);
  assert.ok(Math.abs(adaptiveKlCoef(0.05, 0.19, 0.2, 16, 64) - 0.049375) < 1e-15);
  assert.ok(Math.abs(adaptiveKlCoef(0.05, 0, 0.2, 10000, 10000) - 0.04) < 1e-15);
});
