"""LoRA fine-tuning speed of PyTorch + peft on CPU, for the side-by-side with `zhiyu sft --lora` (BENCHMARKS.md).

Run:  python dev/alignment/lora_speed_peft.py models/zhiyu-mini 8 128 2 10
(model folder, batch, sequence length, threads, timed steps). Same shape as zhiyu's run: the folder's config with
random weights (speed only), LoRA r 16 / alpha 32 on q,k,v,o,gate,up,down, AdamW on the adapters, f32.
Prints {"tok_s": …} over the timed steps after 2 warm-up steps, and the process CPU time per step (all threads). PyTorch at its best here: its own thread count set to
the given one, the base frozen by peft (no gradients for it), no KV cache built during training (use_cache=False).
"""
import json, sys, time
import peft
import torch
from transformers import AutoConfig, AutoModelForCausalLM
from peft import LoraConfig, get_peft_model

folder, B, T, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder), dtype=torch.float32)
model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                         target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
model.train()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
ids = torch.randint(0, model.config.vocab_size, (B, T))
def step():
    loss = model(input_ids=ids, labels=ids, use_cache=False).loss
    loss.backward()
    opt.step()
    opt.zero_grad()
for _ in range(2):
    step()
t0, c0 = time.perf_counter(), time.process_time()
for _ in range(steps):
    step()
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"torch": torch.__version__, "peft": peft.__version__, "torch_threads": torch.get_num_threads(), "batch": B, "seq": T, "threads": threads, "steps": steps, "tok_s": round(B * T * steps / dt, 1),
                  "cpu_ms_per_step": round(1000 * cpu / steps, 1)}))
