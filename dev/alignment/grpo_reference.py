"""GRPO reference numbers from TRL's formulas, for test/train/grpo.test.ts (dev script: not part of npm test).

Run:  python dev/alignment/grpo_reference.py > test/train/fixtures/grpo-reference.json
Needs torch, transformers, peft, trl (the local pip index). Uses ../shared/testdata/hf/lora: the policy is the base
model with the peft adapter (PeftModel), the reference is the base model. A fixed GRPO batch (2 prompts × 3
completions of different lengths, rewards given) goes through trl 1.13's GRPOTrainer math, copied from
GRPOTrainer._generate_and_score_completions (advantages: group mean, trl.trainer.utils.nanstd, / (std + 1e-4)) and
GRPOTrainer._compute_loss (per-token log-probs of logits / temperature via trl's selective_log_softmax, k3 KL
exp(ref − logp) − (ref − logp) − 1, clipped ratio, loss_type aggregation). Case "on-policy": old log-probs =
logp.detach() (num_iterations 1); case "off-policy": old log-probs shifted by fixed offsets so the clip binds.
Gradients of the LoRA tensors (lora_A/lora_B) are recorded for the dapo loss as per-tensor L2 norms.
"""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM
from peft import PeftModel
import trl
from trl.trainer.utils import nanstd, selective_log_softmax

CASE = os.path.join(os.path.dirname(__file__), "../../../shared/testdata/hf/lora")
torch.manual_seed(0)
base = AutoModelForCausalLM.from_pretrained(os.path.join(CASE, "base"), dtype=torch.float32)
ref_model = AutoModelForCausalLM.from_pretrained(os.path.join(CASE, "base"), dtype=torch.float32)
policy = PeftModel.from_pretrained(base, os.path.join(CASE, "adapter"), is_trainable=True)
policy.train()  # lora_dropout is 0

G = 3
prompts = [[1, 17, 99, 4, 250], [1, 8, 300]]
# completions per prompt (G each), different lengths; the last of a group may end with eos 2
completions = [[5, 6, 7, 2], [44, 45], [600, 601, 602, 603, 604], [9, 9, 9], [70, 2], [71, 72, 73, 74]]
rewards = [1.0, 0.0, 0.5, 2.0, 2.0, 2.0]  # group 2 has zero std: its advantages are 0
temperature, beta, eps_low, eps_high, max_completion_length = 0.7, 0.04, 0.2, 0.28, 6

# trl pads prompts on the left and completions on the right
P = max(len(p) for p in prompts)
C = max(len(c) for c in completions)
rows_p = [prompts[i // G] for i in range(len(completions))]
prompt_ids = torch.tensor([[0] * (P - len(p)) + p for p in rows_p])
prompt_mask = torch.tensor([[0] * (P - len(p)) + [1] * len(p) for p in rows_p])
completion_ids = torch.tensor([c + [0] * (C - len(c)) for c in completions])
completion_mask = torch.tensor([[1] * len(c) + [0] * (C - len(c)) for c in completions]).float()


def per_token_logps(model):
    input_ids = torch.cat([prompt_ids, completion_ids], 1)
    attention_mask = torch.cat([prompt_mask, completion_mask.long()], 1)
    # positions as trl/transformers derive them for left padding
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
    logits = logits[:, :-1, :][:, -C:, :] / temperature
    return selective_log_softmax(logits, completion_ids)


r = torch.tensor(rewards)
mean_g = torch.nanmean(r.view(-1, G), dim=1).repeat_interleave(G)
std_g = nanstd(r.view(-1, G), dim=1).repeat_interleave(G)
advantages = torch.nan_to_num((r - mean_g) / (std_g + 1e-4), nan=0.0)

with torch.no_grad():
    ref_logps = per_token_logps(ref_model)


def loss_of(logps, old, loss_type):
    mask = completion_mask
    coef_1 = torch.exp(logps - old)
    per_token_kl = torch.exp(ref_logps - logps) - (ref_logps - logps) - 1
    coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
    a = advantages.unsqueeze(1)
    per_token_loss = -torch.min(coef_1 * a, coef_2 * a) + beta * per_token_kl
    if loss_type == "grpo":
        return ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean(), per_token_kl
    if loss_type in ("bnpo", "dapo"):  # dapo: / num_items_in_batch = the batch's completion tokens (one process)
        return (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0), per_token_kl
    if loss_type == "dr_grpo":
        return (per_token_loss * mask).sum() / (per_token_loss.size(0) * max_completion_length), per_token_kl
    raise ValueError(loss_type)


out = {"generator": "dev/alignment/grpo_reference.py", "versions": {"torch": torch.__version__, "trl": trl.__version__},
       "case": "../shared/testdata/hf/lora (policy = base + peft adapter, reference = base)",
       "group_size": G, "prompts": prompts, "completions": completions, "rewards": rewards, "temperature": temperature,
       "beta": beta, "epsilon_low": eps_low, "epsilon_high": eps_high, "max_completion_length": max_completion_length,
       "advantages": advantages.tolist(), "cases": {}}
offsets = torch.tensor([[0.3, -0.3, 0.1, -0.1, 0.5, -0.5][j % 6] for j in range(C)]).repeat(len(completions), 1)
offsets = offsets + torch.arange(len(completions)).unsqueeze(1) * 0.05
for case in ("on-policy", "off-policy"):
    entry = {"losses": {}}
    for loss_type in ("grpo", "bnpo", "dapo", "dr_grpo"):
        policy.zero_grad()
        logps = per_token_logps(policy)
        old = logps.detach() if case == "on-policy" else (logps.detach() + offsets)
        loss, kl = loss_of(logps, old, loss_type)
        loss.backward()
        entry["losses"][loss_type] = loss.item()
        if loss_type == "dapo":
            grads = {n.replace("base_model.model.", "").replace(".default", ""): p.grad.norm().item()
                     for n, p in policy.named_parameters() if p.requires_grad}
            entry["dapo_grad_norms"] = grads
        entry["policy_logps"] = (logps.detach() * completion_mask).tolist()
        entry["per_token_kl"] = (kl.detach() * completion_mask).tolist()
        if case == "off-policy":
            entry["old_logps"] = (old * completion_mask).tolist()
    out["cases"][case] = entry
out["ref_logps"] = (ref_logps * completion_mask).tolist()
json.dump(out, sys.stdout, indent=1)
