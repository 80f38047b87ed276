# ORPO reference for test/train/orpo.test.ts, from trl's own ORPOTrainer code (trl.experimental.orpo): its
# concatenated_forward (average log-probs of the completions, the NLL of the chosen rows) and odds_ratio_loss, called
# on the tiny LLaMA and the 3 token-id pairs of ../shared/testdata/hf/dpo (read from there, not copied), then one
# torch AdamW step (the dpo case's optimizer settings) and the same quantities again. Dev-only: needs the venv's
# torch/transformers/trl; never run by npm test.
# usage: /work/venv/bin/python dev/alignment/make-orpo-reference.py [--shared ../shared] [--beta 0.1] --out test/train/fixtures/orpo-reference.json
import argparse, json, os, types
import torch
from transformers import AutoModelForCausalLM
from trl.experimental.orpo import ORPOTrainer

ap = argparse.ArgumentParser()
ap.add_argument("--shared", default="../shared")
ap.add_argument("--beta", type=float, default=0.1)
ap.add_argument("--out", required=True)
a = ap.parse_args()
case = os.path.join(a.shared, "testdata/hf/dpo")
ref = json.load(open(os.path.join(case, "reference.json")))
pairs = ref["inputs"]["pairs"]
torch.manual_seed(0)
model = AutoModelForCausalLM.from_pretrained(os.path.join(case, "model"), torch_dtype=torch.float32)
model.train()  # dropout is 0 in this config; train() as the trainer does

def side(key):
    rows = [p["prompt_ids"] + p[key] for p in pairs]
    n = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (n - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (n - len(r)) for r in rows])
    labels = torch.tensor([[-100] * len(p["prompt_ids"]) + p[key] + [-100] * (n - len(p["prompt_ids"]) - len(p[key])) for p in pairs])
    return ids, mask, labels

ci, cm, cl = side("chosen_ids")
ri, rm, rl = side("rejected_ids")
batch = {"chosen_input_ids": ci, "chosen_attention_mask": cm, "chosen_labels": cl,
         "rejected_input_ids": ri, "rejected_attention_mask": rm, "rejected_labels": rl}
trainer = types.SimpleNamespace(beta=a.beta, is_encoder_decoder=False, padding_value=0, aux_loss_enabled=False,
                                accelerator=types.SimpleNamespace(device=torch.device("cpu")),
                                concatenated_inputs=ORPOTrainer.concatenated_inputs, get_batch_logps=ORPOTrainer.get_batch_logps)

def step_outputs():
    c, r, _, _, nll = ORPOTrainer.concatenated_forward(trainer, model, batch)
    losses, cr, rr, ratio, log_odds = ORPOTrainer.odds_ratio_loss(trainer, c, r)
    loss = nll - losses.mean()
    return loss, {"chosen_logps": c.tolist(), "rejected_logps": r.tolist(), "nll_loss": nll.item(), "log_odds_ratio": ratio.item(),
                  "log_odds_chosen": log_odds.item(), "loss": loss.item(), "chosen_rewards": cr.tolist(), "rejected_rewards": rr.tolist()}

loss, before = step_outputs()
opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, foreach=False)
opt.zero_grad()
loss.backward()
grad_norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters() if p.grad is not None)).item()
opt.step()
with torch.no_grad():
    _, after = step_outputs()
import trl, transformers
out = {"generator": "dev/alignment/make-orpo-reference.py", "case": "testdata/hf/dpo (model, inputs.pairs)",
       "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__},
       "beta": a.beta, "definition": "trl ORPOTrainer: logps = mean completion log-prob; nll = cross-entropy of the chosen rows over prompt+completion (non-padding, shifted); loss = nll - mean(beta * logsigmoid(log_odds))",
       "optimizer": "torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=False), one step, no clipping",
       "grad_global_norm": grad_norm, "before": before, "after": after}
os.makedirs(os.path.dirname(a.out), exist_ok=True)
json.dump(out, open(a.out, "w"), indent=1)
print(json.dumps(out, indent=1)[:1500])
