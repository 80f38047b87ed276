"""T5 greedy / beam generation speed of PyTorch + transformers on CPU, for BENCHMARKS.md's side-by-side table with
dev/t5/speed.ts (same model folder, same source ids, same number of new tokens, EOS never stops it).
usage: python3 dev/t5/speed.py MODEL_DIR [THREADS] [NEW_TOKENS]   (a folder from `zhiyu init --arch t5 --preset small`)"""
import json, sys, time, torch
from transformers import T5ForConditionalGeneration

model_dir = sys.argv[1]
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
new = int(sys.argv[3]) if len(sys.argv) > 3 else 64
torch.set_num_threads(threads)
model = T5ForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).eval()
src = torch.tensor([[(i * 37) % 30000 + 5 for i in range(32)] + [1]])
out = {}
for beams in [1, 4]:
    runs = []
    for r in range(3):
        t = time.perf_counter()
        with torch.no_grad():
            g = model.generate(src, attention_mask=torch.ones_like(src), max_new_tokens=new, min_new_tokens=new, num_beams=beams,
                               do_sample=False, decoder_start_token_id=0, eos_token_id=1, pad_token_id=0)
        runs.append(time.perf_counter() - t)
    runs.sort()
    out[f"beams{beams}"] = {"seconds": runs[1], "tokens_per_s": new / runs[1], "new_tokens": g.shape[1] - 1}
print(json.dumps({"torch": torch.__version__, "threads": threads, **out}))
