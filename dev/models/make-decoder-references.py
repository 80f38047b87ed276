"""Reference outputs of Hugging Face transformers for tiny random decoder models the shared test data lacks.

Cases (written under test/fixtures/hf/<case>/, in the layout of ../shared/testdata/hf's decoder cases):
  llama_dynamic_ntk  LLaMA with dynamic-NTK RoPE (max_position_embeddings 16, factor 2): input 0 crosses 16 while it
                     generates, input 1 starts past it.
  gemma3             Gemma 3 text model: q/k norms, 5 sliding-window layers : 1 global, local RoPE base 10,000 and
                     global 1,000,000 with linear scaling ×2, no soft caps.
  mistral_window     Mistral with sliding_window 4 on every layer (max_position_embeddings 64): inputs of 10 and 19
                     tokens, so prefill and every greedy step attend over a window shorter than the sequence.
Each: model/ (config.json + model.safetensors, no tokenizer), reference.json, logits_<i>.bin (one forward over input
i, [seq, vocab]) and generate_step_logits_<i>.bin (greedy generate with the KV cache: row 0 = the last input
position). Raw little-endian f32. Run (dev only, never in npm test; needs torch + transformers):
  python3 dev/models/make-decoder-references.py [case …]
"""
import json, os, sys
import torch
import transformers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "hf")


def llama_dynamic_ntk():
    from transformers import LlamaConfig, LlamaForCausalLM
    config = LlamaConfig(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=16, rms_norm_eps=1e-6, tie_word_embeddings=False,
                         rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0},
                         bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return LlamaForCausalLM, config, 20261207, [12, 22], 10


def gemma3():
    from transformers import Gemma3TextConfig, Gemma3ForCausalLM
    config = Gemma3TextConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=6, num_attention_heads=4,
                              num_key_value_heads=2, head_dim=16, sliding_window=4, max_position_embeddings=64,
                              query_pre_attn_scalar=24, rms_norm_eps=1e-6,
                              rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0},
                                               "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}})
    return Gemma3ForCausalLM, config, 20261208, [10, 19], 8


def mistral_window():
    from transformers import MistralConfig, MistralForCausalLM
    config = MistralConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2, head_dim=8, sliding_window=4, max_position_embeddings=64, rms_norm_eps=1e-6,
                           rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, tie_word_embeddings=False,
                           bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return MistralForCausalLM, config, 20261210, [10, 19], 8


CASES = {"llama_dynamic_ntk": llama_dynamic_ntk, "gemma3": gemma3, "mistral_window": mistral_window}


def make(case):
    cls, config, seed, lengths, new_tokens = CASES[case]()
    torch.manual_seed(seed)
    out = os.path.join(ROOT, case)
    os.makedirs(os.path.join(out, "model"), exist_ok=True)
    model = cls(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)  # large enough that rope, windows and norms visibly matter
    model.save_pretrained(os.path.join(out, "model"), safe_serialization=True)
    g = torch.Generator().manual_seed(7)
    inputs = [torch.randint(3, config.vocab_size, (n,), generator=g).tolist() for n in lengths]
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
            # A fresh copy per input: dynamic RoPE keeps state (inv_freq) between calls.
            fresh = cls.from_pretrained(os.path.join(out, "model")).eval()
            gen = fresh.generate(x, max_new_tokens=new_tokens, do_sample=False, output_logits=True, return_dict_in_generate=True,
                                 eos_token_id=None, pad_token_id=0)
            save(f"generate_step_logits_{i}", torch.stack([l[0] for l in gen.logits]),
                 f"raw logits at each greedy step for input {i} (row 0: the last input position) [steps, vocab]")
            results.append({"new_tokens": gen.sequences[0, len(ids):].tolist()})
    json.dump({"case": case, "generator": "dev/models/make-decoder-references.py", "seed": seed,
               "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__},
               "dtype": "float32", "bin_format": "raw little-endian float32, row-major (C order), no header",
               "inputs": {"input_ids": inputs}, "generation": {"max_new_tokens": new_tokens, "results": results},
               "outputs": outputs}, open(os.path.join(out, "reference.json"), "w"), indent=1)
    print("wrote", out, [r["new_tokens"] for r in results])


if __name__ == "__main__":
    torch.set_num_threads(1)
    for case in sys.argv[1:] or list(CASES):
        make(case)
