"""Loads an adapter that Zhiyu wrote (dev/alignment/peft-load-check.ts) with Python's peft and compares the logits.

Run:  node --import tsx dev/alignment/peft-load-check.ts /tmp/zp && python dev/alignment/peft_load_check.py /tmp/zp
"""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM
from peft import PeftModel

d = sys.argv[1]
z = json.load(open(os.path.join(d, "zhiyu.json")))
base = AutoModelForCausalLM.from_pretrained(z["base"], dtype=torch.float32)
model = PeftModel.from_pretrained(base, os.path.join(d, "adapter")).eval()
with torch.no_grad():
    logits = model(torch.tensor([z["ids"]])).logits[0]
ours = torch.tensor(z["logits"]).view(len(z["ids"]), z["vocab"])
diff = (logits - ours).abs().max().item()
ref = logits.abs().max().item()
print(f"peft loaded {os.path.join(d, 'adapter')}: max |peft - zhiyu| = {diff:.3e}, max |logit| = {ref:.3f}, ratio {diff / ref:.2e}")
sys.exit(0 if diff <= 1e-4 * ref else 1)
