# PPO-ptx reference for test/train/ppo-ptx.test.ts: one PPO minibatch's loss on the tiny LLaMA of
# ../shared/testdata/hf/dpo (read from there, not copied) with a seeded value head, computed with torch and
# transformers: per-token log-probs of logits / (temperature + 1e-7) (trl 0.19's PPOTrainer), values from a linear
# head on the final normalised hidden states (trl's AutoModelForCausalLMWithValueHead without its dropout), trl 0.19's
# clipped policy and value losses (masked_mean), and the pretraining loss from transformers' own causal-LM loss
# (model(input_ids, labels=…)): loss = pg + vf_coef·vf + γ·ptx (InstructGPT eq. 2 as a loss to minimise); then the
# gradients of every tensor (global norm and a few per-tensor norms) for γ = 0 and γ = 0.5.
# Dev-only: needs the venv's torch/transformers; never run by npm test.
# usage: /work/venv/bin/python dev/alignment/make-ppo-ptx-reference.py [--shared ../shared] --out test/train/fixtures/ppo-ptx-reference.json
import argparse, json, os
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument("--shared", default="../shared")
ap.add_argument("--out", required=True)
a = ap.parse_args()
case = os.path.join(a.shared, "testdata/hf/dpo")
model = AutoModelForCausalLM.from_pretrained(os.path.join(case, "model"), torch_dtype=torch.float32)
model.train()  # dropout is 0 in this config
H, V = model.config.hidden_size, model.config.vocab_size
g = torch.Generator().manual_seed(20261207)
v_head_w = (torch.randn(1, H, generator=g) / H ** 0.5)
v_head_b = torch.randn(1, generator=g) * 0.1
v_head = torch.nn.Linear(H, 1)
with torch.no_grad():
    v_head.weight.copy_(v_head_w)
    v_head.bias.copy_(v_head_b)

temperature, cliprange, cliprange_value, vf_coef, pad, IGNORE = 0.7, 0.2, 0.2, 0.1, 0, -100
T = 6
prompts = [torch.randint(3, V, (n,), generator=g).tolist() for n in (3, 5, 4)]
responses = torch.randint(3, V, (3, T), generator=g)
responses[1, 3:] = pad   # ends after 3 tokens
responses[2, 5:] = pad   # ends after 5 tokens
B = len(prompts)
first_pad = [next((t for t in range(T) if responses[b, t] == pad), T) for b in range(B)]
lengths = [f - 1 for f in first_pad]   # trl: first pad index − 1
S = max(len(p) for p in prompts) + T - 1
inputs = torch.full((B, S), pad, dtype=torch.long)
targets = torch.full((B, S), IGNORE, dtype=torch.long)
padding = torch.ones(B, S, dtype=torch.bool)
padding_p1 = torch.ones(B, S, dtype=torch.bool)
for b, p in enumerate(prompts):
    P = len(p)
    inputs[b, :P] = torch.tensor(p)
    inputs[b, P:P + T - 1] = responses[b, :T - 1]
    for t in range(T):
        if t <= lengths[b]:
            targets[b, P - 1 + t] = responses[b, t]
            padding[b, P - 1 + t] = False
        if t <= lengths[b] + 1:
            padding_p1[b, P - 1 + t] = False


def policy_logprobs_values():
    out = model.model(input_ids=inputs)
    hidden = out.last_hidden_state
    logits = model.lm_head(hidden) / (temperature + 1e-7)
    lp = torch.gather(F.log_softmax(logits, dim=-1), 2, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    lp = torch.masked_fill(lp, padding, 0.0)
    values = v_head(hidden).squeeze(-1)
    return lp, values


def masked_mean(values, mask):
    return (values * mask).sum() / mask.sum()


with torch.no_grad():
    lp0, v0 = policy_logprobs_values()
# The rollout's quantities, as if it had been sampled before some updates: seeded perturbations of the current ones.
old_logprobs = torch.masked_fill(lp0 + torch.randn(B, S, generator=g) * 0.3, padding, 0.0)
old_values = torch.masked_fill(v0 + torch.randn(B, S, generator=g) * 0.4, padding_p1, 0.0)
advantages = torch.masked_fill(torch.randn(B, S, generator=g), padding, 0.0)
returns = torch.masked_fill(old_values + torch.randn(B, S, generator=g), padding_p1, 0.0)
ptx_rows, ptx_seq = 2, 9
ptx_window = torch.randint(0, V, (ptx_rows, ptx_seq + 1), generator=g)

cases = {}
for gamma in (0.0, 0.5):
    model.zero_grad()
    v_head.zero_grad()
    new_logprobs, vpred = policy_logprobs_values()
    # trl 0.19 PPOTrainer.train(), minibatch part
    vpredclipped = torch.clamp(vpred, old_values - cliprange_value, old_values + cliprange_value)
    vf_losses1 = torch.square(vpred - returns)
    vf_losses2 = torch.square(vpredclipped - returns)
    vf_loss = 0.5 * masked_mean(torch.max(vf_losses1, vf_losses2), ~padding_p1)
    vf_clipfrac = masked_mean((vf_losses2 > vf_losses1).float(), ~padding_p1)
    logprobs_diff = new_logprobs - old_logprobs
    ratio = torch.exp(logprobs_diff)
    pg_losses = -advantages * ratio
    pg_losses2 = -advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
    pg_loss = masked_mean(torch.max(pg_losses, pg_losses2), ~padding)
    pg_clipfrac = masked_mean((pg_losses2 > pg_losses).float(), ~padding)
    approxkl = 0.5 * (logprobs_diff ** 2).mean()
    # PPO-ptx: transformers' own causal-LM loss (labels shifted inside) on seq + 1 ids = seq predictions
    ptx_loss = model(input_ids=ptx_window, labels=ptx_window).loss
    loss = pg_loss + vf_coef * vf_loss + gamma * ptx_loss
    loss.backward()
    named = [(n, p) for n, p in model.named_parameters()] + [("v_head.weight", v_head.weight), ("v_head.bias", v_head.bias)]
    norms = {n: p.grad.double().norm().item() for n, p in named if p.grad is not None}
    cases[str(gamma)] = {
        "ptx_coef": gamma, "loss": loss.item(), "pg_loss": pg_loss.item(), "vf_loss": vf_loss.item(), "ptx_loss": ptx_loss.item(),
        "pg_clipfrac": pg_clipfrac.item(), "vf_clipfrac": vf_clipfrac.item(), "approxkl": approxkl.item(),
        "grad_global_norm": sum(v ** 2 for v in norms.values()) ** 0.5,
        "grad_norms": {n: norms[n] for n in ("lm_head.weight", "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                                             "model.layers.1.mlp.down_proj.weight", "model.norm.weight", "v_head.weight", "v_head.bias")},
    }

import transformers
rows = lambda x: x.tolist()
out = {"generator": "dev/alignment/make-ppo-ptx-reference.py", "case": "testdata/hf/dpo (model)",
       "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
       "definition": "loss = trl 0.19 pg_loss + vf_coef * vf_loss (logits / (temperature + 1e-7), values = v_head(final normed hidden)) + ptx_coef * transformers causal-LM loss of ptx_window",
       "settings": {"temperature": temperature, "cliprange": cliprange, "cliprange_value": cliprange_value, "vf_coef": vf_coef},
       "v_head": {"weight": rows(v_head_w.flatten()), "bias": rows(v_head_b)},
       "rows": B, "seq": S, "inputs": rows(inputs), "targets": rows(targets), "padding": rows(padding.int()), "padding_p1": rows(padding_p1.int()),
       "old_logprobs": rows(old_logprobs), "old_values": rows(old_values), "advantages": rows(advantages), "returns": rows(returns),
       "ptx": {"rows": ptx_rows, "seq": ptx_seq, "window": rows(ptx_window)},
       "new_logprobs": rows(lp0), "values": rows(v0), "cases": cases}
os.makedirs(os.path.dirname(a.out), exist_ok=True)
json.dump(out, open(a.out, "w"))
print(json.dumps(cases, indent=1))
