// GRPO against TRL (test/train/fixtures/grpo-reference.json, made by dev/alignment/grpo_reference.py with torch,
// peft and trl 1.13's GRPOTrainer formulas on ../shared/testdata/hf/lora: policy = base + the peft adapter,
// reference = base): group-normalised advantages, per-token policy and reference log-probs at the sampling
// temperature, the k3 KL per token, the loss for every loss_type on-policy and with shifted old log-probs (the clip
// binds), and the gradient norm of every LoRA tensor for the dapo loss.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { readLoraAdapter } from "../../src/models/adapters/lora-files.js";
import { type GrpoLossType, grpoLoss, grpoRows, groupAdvantages, perTokenLogProbs } from "../../src/train/objectives/grpo-loss.js";

setDefaultBackend(createBackend());
const CASE = path.resolve("../shared/testdata/hf/lora");
interface Case { losses: Record<GrpoLossType, number>; policy_logps: number[][]; per_token_kl: number[][]; old_logps?: number[][];
  dapo_grad_norms: Record<string, number> }
const ref = JSON.parse(readFileSync(new URL("./fixtures/grpo-reference.json", import.meta.url), "utf8")) as {
  group_size: number; prompts: number[][]; completions: number[][]; rewards: number[]; temperature: number; beta: number;
  epsilon_low: number; epsilon_high: number; max_completion_length: number; advantages: number[]; ref_logps: number[][];
  cases: Record<"on-policy" | "off-policy", Case> };

const G = ref.group_size;
const rowPrompts = ref.completions.map((_, i) => Int32Array.from(ref.prompts[Math.floor(i / G)]!));
const rows = grpoRows(rowPrompts, ref.completions.map((c) => Int32Array.from(c)), 0);

/** trl's [rows, C] completion layout → our [rows, seq] target layout (0 elsewhere). */
function toOurs(m: number[][]): Float32Array {
  const out = new Float32Array(rows.rows * rows.seq);
  m.forEach((row, b) => { for (let k = 0; k < rows.completionLength[b]!; k++) out[b * rows.seq + rows.completionStart[b]! + k] = row[k]!; });
  return out;
}
function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `${what}[${i}]: ${got[i]} vs trl ${want[i]}`);
}

test("GRPO advantages equal trl's group normalisation (a zero-std group gets 0)", () => {
  close(groupAdvantages(ref.rewards, G), ref.advantages, 1e-6, "advantages");
});

test("GRPO per-token log-probs, KL, losses (every loss_type, on- and off-policy) and LoRA gradients match trl", () => {
  const base = TrainModel.fromHfFolder(path.join(CASE, "base"), "f32");
  const adapter = readLoraAdapter(path.join(CASE, "adapter"), { config: base.config, specs: base.specs });
  const reference = TrainModel.fromHfFolder(path.join(CASE, "base"), "f32");
  const policy = base.withLora(adapter);
  const refLogps = noGrad(() => tidy(() => perTokenLogProbs(reference, rows, ref.temperature).toFloat32Array()));
  close(refLogps, toOurs(ref.ref_logps), 1e-4, "reference log-probs");
  const adv = groupAdvantages(ref.rewards, G);
  for (const [name, c] of Object.entries(ref.cases)) {
    for (const lossType of ["grpo", "bnpo", "dapo", "dr_grpo"] as const) {
      for (const t of policy.params.values()) t.zeroGrad();
      const settings = { beta: ref.beta, epsilonLow: ref.epsilon_low, epsilonHigh: ref.epsilon_high, lossType,
        maxCompletionLength: ref.max_completion_length };
      const got = tidy(() => {
        const logp = perTokenLogProbs(policy, rows, ref.temperature);
        const r = grpoLoss(logp, rows, adv, refLogps, c.old_logps ? toOurs(c.old_logps) : null, settings);
        r.loss.backward();
        return { loss: r.loss.item(), logps: r.logps, kl: r.metrics.kl };
      });
      assert.ok(Math.abs(got.loss - c.losses[lossType]) <= 1e-5 + 1e-4 * Math.abs(c.losses[lossType]),
        `${name} ${lossType} loss ${got.loss} vs trl ${c.losses[lossType]}`);
      if (lossType !== "dapo") continue;
      close(got.logps, toOurs(c.policy_logps), 1e-4, `${name} policy log-probs`);
      for (const [tensor, norm] of Object.entries(c.dapo_grad_norms)) {
        const g = policy.params.get(`base_model.model.${tensor}`)?.grad; // peft's names (the script strips the prefix)
        assert.ok(g, `${name}: no gradient for ${tensor}`);
        const n = Math.sqrt(g.toFloat32Array().reduce((s, v) => s + v * v, 0));
        assert.ok(Math.abs(n - norm) <= 1e-4 * Math.max(1, norm), `${name} dapo ‖∇${tensor}‖ ${n} vs trl ${norm}`);
      }
    }
    // The KL values themselves (policy vs reference) per token.
    const kl = Float32Array.from(toOurs(c.policy_logps), (lp, i) => {
      const d = refLogps[i]! - lp;
      return rows.targets[i] === -100 ? 0 : Math.exp(d) - d - 1;
    });
    close(kl, toOurs(c.per_token_kl), 1e-4, `${name} per-token KL`);
  }
});
