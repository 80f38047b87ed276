"""PPO reference numbers for test/train/ppo.test.ts (dev script; not part of npm test).

Run:  python dev/alignment/ppo_reference.py > test/train/fixtures/ppo-reference.json
trl 1.13 (the local index) no longer ships PPOTrainer, so the math below is trl 0.19's PPOTrainer.train() and
trl.trainer.utils (masked_mean, masked_var, masked_whiten, first_true_indices) copied verbatim in torch, run on a
fixed seeded case: 4 responses of up to 7 tokens (two end early with pad), per-token policy / reference log-probs,
values and reward-model scores as the rollout phase leaves them; then one minibatch's new log-probs and values.
Outputs: sequence lengths, padding masks, per-token KL (k1 and k3), KL-penalised rewards (score added where trl adds
it), GAE advantages (raw and whitened), returns, and pg_loss / vf_loss / loss / clipfrac / approxkl.
"""
import json, sys
import torch

INVALID_LOGPROB = 1.0
torch.manual_seed(20261207)
B, T, pad = 4, 7, 0
responses = torch.randint(3, 50, (B, T))
responses[1, 4:] = pad          # ends after 4 tokens
responses[3, 2:] = pad          # ends after 2 tokens
gamma, lam, kl_coef, cliprange, cliprange_value, vf_coef = 1.0, 0.95, 0.05, 0.2, 0.2, 0.1


def first_true_indices(bools, dtype=torch.long):
    row_len = bools.size(-1)
    zero_or_index = row_len * (~bools).type(dtype) + torch.arange(row_len, dtype=dtype, device=bools.device)
    return torch.min(zero_or_index, dim=-1).values


def masked_mean(values, mask, axis=None):
    if axis is not None:
        return (values * mask).sum(axis=axis) / mask.sum(axis=axis)
    return (values * mask).sum() / mask.sum()


def masked_var(values, mask, unbiased=True):
    mean = masked_mean(values, mask)
    centered_values = values - mean
    variance = masked_mean(centered_values**2, mask)
    if unbiased:
        mask_sum = mask.sum()
        bessel_correction = mask_sum / (mask_sum - 1)
        variance = variance * bessel_correction
    return variance


def masked_whiten(values, mask, shift_mean=True):
    mean, var = masked_mean(values, mask), masked_var(values, mask)
    whitened = (values - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened += mean
    return whitened


logprobs = -torch.rand(B, T) * 4
ref_logprobs = logprobs + torch.randn(B, T) * 0.3
values = torch.randn(B, T)
scores = torch.randn(B) * 2

sequence_lengths = first_true_indices(responses == pad) - 1
response_idxs = torch.arange(T).repeat(B, 1)
padding_mask = response_idxs > sequence_lengths.unsqueeze(1)
logprobs = torch.masked_fill(logprobs, padding_mask, INVALID_LOGPROB)
ref_logprobs = torch.masked_fill(ref_logprobs, padding_mask, INVALID_LOGPROB)
sequence_lengths_p1 = sequence_lengths + 1
padding_mask_p1 = response_idxs > (sequence_lengths_p1.unsqueeze(1))
values = torch.masked_fill(values, padding_mask_p1, 0)

out = {"generator": "dev/alignment/ppo_reference.py", "torch": torch.__version__,
       "formulas": "trl 0.19 PPOTrainer.train() + trl.trainer.utils masked_whiten/masked_var",
       "settings": {"gamma": gamma, "lam": lam, "kl_coef": kl_coef, "cliprange": cliprange, "cliprange_value": cliprange_value,
                    "vf_coef": vf_coef, "invalid_logprob": INVALID_LOGPROB},
       "responses": responses.tolist(), "pad": pad, "scores": scores.tolist(),
       "logprobs": logprobs.tolist(), "ref_logprobs": ref_logprobs.tolist(), "values": values.tolist(),
       "sequence_lengths": sequence_lengths.tolist(), "padding_mask": padding_mask.int().tolist(),
       "padding_mask_p1": padding_mask_p1.int().tolist(), "estimators": {}}

for estimator in ("k1", "k3"):
    logr = ref_logprobs - logprobs
    kl = -logr if estimator == "k1" else (logr.exp() - 1) - logr
    non_score_reward = -kl_coef * kl
    rewards = non_score_reward.clone()
    actual_start = torch.arange(rewards.size(0), device=rewards.device)
    actual_end = torch.where(sequence_lengths_p1 < rewards.size(1), sequence_lengths_p1, sequence_lengths)
    rewards[[actual_start, actual_end]] += scores
    lastgaelam = 0
    advantages_reversed = []
    gen_length = responses.shape[1]
    for t in reversed(range(gen_length)):
        nextvalues = values[:, t + 1] if t < gen_length - 1 else 0.0
        delta = rewards[:, t] + gamma * nextvalues - values[:, t]
        lastgaelam = delta + gamma * lam * lastgaelam
        advantages_reversed.append(lastgaelam)
    raw_adv = torch.stack(advantages_reversed[::-1], axis=1)
    returns = raw_adv + values
    advantages = masked_whiten(raw_adv, ~padding_mask)
    advantages = torch.masked_fill(advantages, padding_mask, 0)

    # one minibatch (all rows): new log-probs and value predictions after some updates
    g = torch.Generator().manual_seed(7 if estimator == "k1" else 8)
    new_logprobs = torch.masked_fill(logprobs + torch.randn(B, T, generator=g) * 0.25, padding_mask, INVALID_LOGPROB)
    vpred = values + torch.randn(B, T, generator=g) * 0.5
    vpredclipped = torch.clamp(vpred, values - cliprange_value, values + cliprange_value)
    vf_losses1 = torch.square(vpred - returns)
    vf_losses2 = torch.square(vpredclipped - returns)
    vf_loss_max = torch.max(vf_losses1, vf_losses2)
    vf_loss = 0.5 * masked_mean(vf_loss_max, ~padding_mask_p1)
    vf_clipfrac = masked_mean((vf_losses2 > vf_losses1).float(), ~padding_mask_p1)
    logprobs_diff = new_logprobs - logprobs
    ratio = torch.exp(logprobs_diff)
    pg_losses = -advantages * ratio
    pg_losses2 = -advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
    pg_loss_max = torch.max(pg_losses, pg_losses2)
    pg_loss = masked_mean(pg_loss_max, ~padding_mask)
    loss = pg_loss + vf_coef * vf_loss
    pg_clipfrac = masked_mean((pg_losses2 > pg_losses).float(), ~padding_mask)
    approxkl = 0.5 * (logprobs_diff**2).mean()
    out["estimators"][estimator] = {
        "kl": kl.tolist(), "rewards": rewards.tolist(), "advantages_raw": raw_adv.tolist(), "returns": returns.tolist(),
        "advantages": advantages.tolist(), "new_logprobs": new_logprobs.tolist(), "vpred": vpred.tolist(),
        "pg_loss": pg_loss.item(), "vf_loss": vf_loss.item(), "loss": loss.item(), "pg_clipfrac": pg_clipfrac.item(),
        "vf_clipfrac": vf_clipfrac.item(), "approxkl": approxkl.item(),
    }
json.dump(out, sys.stdout, indent=1)
