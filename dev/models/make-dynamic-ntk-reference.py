"""Reference outputs of Hugging Face transformers for a tiny random LLaMA with dynamic-NTK RoPE scaling.

Writes test/fixtures/hf/llama_dynamic_ntk/: model/ (config.json + model.safetensors, no tokenizer), reference.json
and raw little-endian f32 outputs in the layout of ../shared/testdata/hf's decoder cases: logits_<i> (one forward
over the whole input, [seq, vocab]) and generate_step_logits_<i> (greedy generate with the KV cache: row 0 is the
last input position, then one row per generated token). Input 0 stays under max_position_embeddings until its
generation crosses it; input 1 starts past it, so both rules of transformers' dynamic update are exercised.
Run (dev only, never in npm test): python3 dev/models/make-dynamic-ntk-reference.py  (torch + transformers).
"""
import json, os, sys
import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

torch.manual_seed(20261207)
torch.set_num_threads(1)
out = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "hf", "llama_dynamic_ntk")
os.makedirs(os.path.join(out, "model"), exist_ok=True)

config = LlamaConfig(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, max_position_embeddings=16, rms_norm_eps=1e-6, tie_word_embeddings=False,
                     rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0},
                     bos_token_id=1, eos_token_id=2, pad_token_id=0)
model = LlamaForCausalLM(config).eval()
with torch.no_grad():
    for p in model.parameters():
        p.normal_(0, 0.3)  # large enough that the rope frequencies visibly matter
model.save_pretrained(os.path.join(out, "model"), safe_serialization=True)

g = torch.Generator().manual_seed(7)
inputs = [torch.randint(3, 96, (12,), generator=g).tolist(), torch.randint(3, 96, (22,), generator=g).tolist()]
new_tokens = 10
outputs, results = {}, []

def save(name, t, description):
    t = t.detach().to(torch.float32).contiguous()
    with open(os.path.join(out, f"{name}.bin"), "wb") as f:
        f.write(t.numpy().astype("<f4").tobytes())
    outputs[name] = {"file": f"{name}.bin", "shape": list(t.shape), "dtype": "float32", "description": description}

with torch.no_grad():
    for i, ids in enumerate(inputs):
        x = torch.tensor([ids])
        save(f"logits_{i}", model(x).logits[0], f"logits of one forward over input {i} [seq, vocab]")
        # A fresh copy per input: the dynamic update keeps state (inv_freq) between calls.
        fresh = LlamaForCausalLM.from_pretrained(os.path.join(out, "model")).eval()
        gen = fresh.generate(x, max_new_tokens=new_tokens, do_sample=False, output_logits=True, return_dict_in_generate=True,
                             eos_token_id=None, pad_token_id=0)
        save(f"generate_step_logits_{i}", torch.stack([l[0] for l in gen.logits]),
             f"raw logits at each greedy step for input {i} (row 0: the last input position) [steps, vocab]")
        results.append({"new_tokens": gen.sequences[0, len(ids):].tolist()})

json.dump({"case": "llama_dynamic_ntk", "generator": "dev/models/make-dynamic-ntk-reference.py", "seed": 20261207,
           "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__},
           "dtype": "float32", "bin_format": "raw little-endian float32, row-major (C order), no header",
           "inputs": {"input_ids": inputs}, "generation": {"max_new_tokens": new_tokens, "results": results},
           "outputs": outputs}, open(os.path.join(out, "reference.json"), "w"), indent=1)
print("wrote", out, [r["new_tokens"] for r in results])
