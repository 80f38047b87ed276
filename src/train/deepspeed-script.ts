// The two scripts `zhiyu export --to deepspeed` writes beside the model (deepspeed-export.ts says what the folder
// holds): train.py continues the run in PyTorch — under DeepSpeed (ZeRO from ds_config.json) when launch.sh finds
// DeepSpeed and a GPU, else in plain PyTorch with the same AdamW (moments loaded from the checkpoint), decay mask,
// LR schedule, clipping and data order — and prints one JSON line per step ({"step", "loss", "lr"}).
// Leaves out: DeepSpeed loading Zhiyu's AdamW moments (ZeRO partitions them; DeepSpeed starts them at zero and the
// script says so), evaluation, checkpoint writing beyond a final save_pretrained.

export const DEEPSPEED_LAUNCH_SH = `#!/bin/sh
# Continues a Zhiyu training run in PyTorch (written by zhiyu export --to deepspeed). Arguments go to train.py
# (--steps N, --out DIR). DeepSpeed with a GPU: \`deepspeed train.py --deepspeed\` (add --num_gpus / --hostfile as
# DeepSpeed takes them); otherwise plain PyTorch in this process.
cd "$(dirname "$0")"
if python3 -c "import sys, torch, deepspeed; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  exec deepspeed train.py --deepspeed "$@"
fi
echo "launch.sh: no DeepSpeed or no GPU here; continuing in plain PyTorch (one process)" >&2
exec python3 train.py "$@"
`;

export const DEEPSPEED_TRAIN_PY = `"""Continue a Zhiyu training run in PyTorch (written by \`zhiyu export --to deepspeed\`; see zhiyu_run.json)."""
import argparse, json, math, os, sys
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=None, help="steps to run (default: every exported step)")
ap.add_argument("--out", default=os.path.join(here, "continued"), help="save_pretrained folder at the end")
ap.add_argument("--deepspeed", action="store_true", help="run under DeepSpeed with ds_config.json (launch.sh decides)")
ap.add_argument("--local_rank", type=int, default=-1)
args = ap.parse_args()
run = json.load(open(os.path.join(here, "zhiyu_run.json")))
torch.manual_seed(run["seed"])

model = AutoModelForCausalLM.from_pretrained(os.path.join(here, "model"), torch_dtype=torch.float32)
for m in model.modules():  # Zhiyu trains without dropout
    if isinstance(m, torch.nn.Dropout):
        m.p = 0.0
model.train()

sched = run["schedule"]
def lr_at(step):  # Zhiyu's src/optim/schedule.ts
    if step < sched["warmup_steps"]:
        return sched["lr"] * (step + 1) / sched["warmup_steps"]
    if sched["kind"] == "constant":
        return sched["lr"]
    span = sched["total_steps"] - sched["warmup_steps"]
    ratio = 1.0 if span <= 0 else min(1.0, (step - sched["warmup_steps"]) / span)
    coeff = 0.5 * (1 + math.cos(math.pi * ratio)) if sched["kind"] == "cosine" else 1 - ratio
    return sched["min_lr"] + coeff * (sched["lr"] - sched["min_lr"])

decayed = set(run["adamw"]["decayed_parameters"])
def zhiyu_name(torch_name):
    # Zhiyu's names are the Hugging Face file's (GPT-2 files have no "transformer." prefix).
    if torch_name in names_in_file:
        return torch_name
    tail = torch_name.split(".", 1)[-1]
    return tail if tail in names_in_file else torch_name
names_in_file = set(load_file(os.path.join(here, "model", "model.safetensors")).keys())
named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
groups = [
    {"params": [p for n, p in named if zhiyu_name(n) in decayed], "weight_decay": run["adamw"]["weight_decay"]},
    {"params": [p for n, p in named if zhiyu_name(n) not in decayed], "weight_decay": 0.0},
]
betas, eps = tuple(run["adamw"]["betas"]), run["adamw"]["eps"]

if args.deepspeed:
    import deepspeed
    engine, optimizer, _, _ = deepspeed.initialize(model=model, model_parameters=groups, config=os.path.join(here, "ds_config.json"))
    print("train.py: DeepSpeed starts the AdamW moments at zero (ZeRO partitions them)", file=sys.stderr)
    device = engine.device
else:
    engine = None
    device = torch.device("cpu")
    optimizer = torch.optim.AdamW(groups, lr=sched["lr"], betas=betas, eps=eps)
    moments = load_file(os.path.join(here, "optimizer.safetensors"))
    transposed = set(run["moments_transposed"])
    for n, p in named:
        key = zhiyu_name(n)
        m, v = moments.get(key + ".m"), moments.get(key + ".v")
        if m is None or v is None:
            sys.exit(f"train.py: optimizer.safetensors has no moments for {n} ({key})")
        if key in transposed:  # GPT-2's Conv1D: Zhiyu keeps [out, in], the HF file [in, out]
            m, v = m.t(), v.t()
        if m.shape != p.shape:
            sys.exit(f"train.py: moments of {key} are {tuple(m.shape)}, the parameter {tuple(p.shape)}")
        optimizer.state[p] = {"step": torch.tensor(float(run["optimizer_step"])), "exp_avg": m.contiguous().clone(),
                              "exp_avg_sq": v.contiguous().clone()}

B, T, A = run["batch"], run["seq"], run["grad_accum"]
windows = np.fromfile(os.path.join(here, run["batches_file"]), dtype=np.int32).reshape(run["steps"], A, B, T + 1)
steps = min(args.steps or run["steps"], run["steps"])
params = [p for _, p in named]
for i in range(steps):
    step = run["start_step"] + i
    lr = lr_at(step)
    for g in (engine.optimizer if engine else optimizer).param_groups:
        g["lr"] = lr
    total = 0.0
    for a in range(A):
        w = torch.from_numpy(windows[i, a].astype(np.int64)).to(device)
        logits = (engine or model)(input_ids=w[:, :-1]).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), w[:, 1:].reshape(-1))
        total += loss.item() / A
        if engine:
            engine.backward(loss)
            engine.step()
        else:
            (loss / A).backward()
    norm = None
    if not engine:
        if run["grad_clip"] > 0:
            norm = float(torch.nn.utils.clip_grad_norm_(params, run["grad_clip"]))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    print(json.dumps({"step": step, "loss": total, "lr": lr, "grad_norm": norm}), flush=True)

if not engine or engine.global_rank == 0:
    model.save_pretrained(args.out, safe_serialization=True)
`;
