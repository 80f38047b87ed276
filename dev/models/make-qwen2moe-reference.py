"""Reference outputs for Qwen2-MoE (shared experts) from Hugging Face transformers and llama.cpp.

Writes test/fixtures/hf/qwen2_moe/ in the layout of ../shared/testdata/hf's decoder cases (whose README this follows):
  model/        Qwen2MoeForCausalLM from transformers' own init with a seed (initializer_range 0.1), then every bias
                ~ N(0, 0.1) and every norm weight 1 + N(0, 0.1); config.json + model.safetensors (f32) +
                generation_config.json + a byte-level BPE tokenizer cut from ../shared/testdata/hf/qwen3/model (its
                3 special tokens, the 256 byte symbols and the first merges: vocab_size tokens in all), so that
                llama.cpp's converter accepts the folder.
  logits_<i>.bin, generate_step_logits_<i>.bin, reference.json (inputs, generate's greedy ids) as in the shared set.
  gguf/model-f32.gguf   llama.cpp's own convert_hf_to_gguf.py --outtype f32 of model/ (its pre-tokenizer hash table
                does not know the cut vocabulary, so get_vocab_base_pre is patched to "gpt-2", as the shared set does).
  llama_cpp_logits_<i>.bin, llama_cpp_generate_step_logits_<i>.bin and reference.json → gguf: what libllama computed
                from that GGUF (dev/models/llama-logits.cpp: 1 thread, f32 KV cache, flash attention off).
The model: Qwen2 attention (q/k/v biases, no o bias), every layer MoE with num_experts routed SwiGLU experts, top-k
from a softmax over all experts, not renormalised (norm_topk_prob false, which llama.cpp's qwen2moe also does), plus
a shared SwiGLU expert (shared_expert_intermediate_size) scaled by sigmoid(shared_expert_gate · x) and added.
Run (dev only, never in npm test; needs torch + transformers, a C++ compiler and a built llama.cpp):
  /tmp/al/venv/bin/python dev/models/make-qwen2moe-reference.py --llama-cpp /work/peers/llama.cpp
"""
import argparse, hashlib, json, os, subprocess, sys, tempfile
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "hf", "qwen2_moe")
TOKENIZER_FROM = os.path.join(ROOT, "..", "shared", "testdata", "hf", "qwen3", "model")
SEED, LENGTHS, NEW_TOKENS = 20261209, [12, 9], 12


def config():
    from transformers import Qwen2MoeConfig
    return Qwen2MoeConfig(vocab_size=320, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                          num_key_value_heads=2, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16,
                          shared_expert_intermediate_size=24, norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[],
                          max_position_embeddings=256, rms_norm_eps=1e-6, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                          tie_word_embeddings=False, initializer_range=0.1, use_sliding_window=False, qkv_bias=True,
                          bos_token_id=0, eos_token_id=2, pad_token_id=None)


def cut_tokenizer(vocab_size, out):
    """The shared qwen3 case's tokenizer cut to its first vocab_size ids (and the merges that make them)."""
    tok = json.load(open(os.path.join(TOKENIZER_FROM, "tokenizer.json")))
    vocab = {t: i for t, i in tok["model"]["vocab"].items() if i < vocab_size}
    merges = [m for m in tok["model"]["merges"] if "".join(m) in vocab]
    merges = merges[: vocab_size - 259]
    assert len(vocab) == vocab_size and all("".join(m) in vocab and m[0] in vocab and m[1] in vocab for m in merges)
    tok["model"]["vocab"], tok["model"]["merges"] = vocab, merges
    json.dump(tok, open(os.path.join(out, "tokenizer.json"), "w"), ensure_ascii=False)
    tc = json.load(open(os.path.join(TOKENIZER_FROM, "tokenizer_config.json")))
    tc["model_max_length"] = 256
    json.dump(tc, open(os.path.join(out, "tokenizer_config.json"), "w"), indent=2)


def save(name, t, description, outputs):
    t = t.detach().to(torch.float32).contiguous()
    with open(os.path.join(OUT, f"{name}.bin"), "wb") as f:
        f.write(t.numpy().astype("<f4").tobytes())
    outputs[name] = {"file": f"{name}.bin", "shape": list(t.shape), "dtype": "float32", "description": description}


def convert_gguf(llama_cpp, model_dir, gguf_path):
    code = (f"import sys; sys.argv = ['convert_hf_to_gguf.py', {model_dir!r}, '--outtype', 'f32', '--outfile', {gguf_path!r}, "
            f"'--model-name', 'qwen2_moe-tiny-random']; sys.path.insert(0, {llama_cpp!r}); import convert_hf_to_gguf as c; "
            "from conversion import base; base.TextModel.get_vocab_base_pre = lambda self, tokenizer: 'gpt-2'; c.main()")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=llama_cpp)


def llama_cpp_outputs(llama_cpp, gguf_path, inputs, outputs):
    exe = os.path.join(tempfile.gettempdir(), "zhiyu-llama-logits")
    src = os.path.join(HERE, "llama-logits.cpp")
    subprocess.run(["g++", "-O2", "-std=c++17", src, "-I", os.path.join(llama_cpp, "include"), "-I", os.path.join(llama_cpp, "ggml", "include"),
                    "-L", os.path.join(llama_cpp, "build", "bin"), "-lllama", "-lggml", "-lggml-base",
                    f"-Wl,-rpath,{os.path.join(llama_cpp, 'build', 'bin')}", "-o", exe], check=True)
    results = []
    for i, ids in enumerate(inputs):
        prefix = os.path.join(OUT, f"llama_cpp_{i}")
        subprocess.run([exe, gguf_path, str(NEW_TOKENS), prefix, *map(str, ids)], check=True)
        new = [int(x) for x in open(prefix + ".ids").read().split()]
        os.remove(prefix + ".ids")
        for kind, rows in (("logits", len(ids)), ("generate_step_logits", NEW_TOKENS)):
            name = f"llama_cpp_{kind}_{i}"
            os.replace(f"{prefix}.{kind}.bin", os.path.join(OUT, f"{name}.bin"))
            outputs[name] = {"file": f"{name}.bin", "shape": [rows, config().vocab_size], "dtype": "float32",
                             "description": f"llama.cpp {kind.replace('_', ' ')} for input {i}"}
        results.append({"input": i, "new_tokens": new})
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-cpp", help="a built llama.cpp checkout (its converter and build/bin/libllama.so)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    from transformers import Qwen2MoeForCausalLM
    cfg = config()
    model = Qwen2MoeForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0, 0.1)
            elif "norm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
    os.makedirs(os.path.join(OUT, "model"), exist_ok=True)
    model.save_pretrained(os.path.join(OUT, "model"), safe_serialization=True)
    cut_tokenizer(cfg.vocab_size, os.path.join(OUT, "model"))
    g = torch.Generator().manual_seed(7)
    inputs = [torch.randint(3, cfg.vocab_size, (n,), generator=g).tolist() for n in LENGTHS]
    outputs, results = {}, []
    with torch.no_grad():
        for i, ids in enumerate(inputs):
            x = torch.tensor([ids])
            save(f"logits_{i}", model(x).logits[0], f"logits for input {i} [seq, vocab]", outputs)
            gen = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=NEW_TOKENS, do_sample=False, num_beams=1,
                                 output_logits=True, return_dict_in_generate=True, eos_token_id=None, pad_token_id=2)
            save(f"generate_step_logits_{i}", torch.stack([l[0] for l in gen.logits]),
                 f"raw logits at each greedy step for input {i} (row 0: the last input position) [steps, vocab]", outputs)
            steps = torch.stack([l[0] for l in gen.logits])
            top2 = steps.topk(2, dim=-1).values
            results.append({"input": i, "new_tokens": gen.sequences[0, len(ids):].tolist(),
                            "min_top1_top2_logit_gap": float((top2[:, 0] - top2[:, 1]).min())})
    ref = {"case": "qwen2_moe", "generator": "dev/models/make-qwen2moe-reference.py", "seed": SEED,
           "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__},
           "dtype": "float32", "bin_format": "raw little-endian float32, row-major (C order), no header",
           "config": {k: v for k, v in cfg.to_dict().items() if k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                      "num_key_value_heads", "num_experts", "num_experts_per_tok", "moe_intermediate_size", "shared_expert_intermediate_size",
                      "norm_topk_prob", "tie_word_embeddings")},
           "inputs": {"input_ids": inputs},
           "generation": {"call": f"model.generate(ids, max_new_tokens={NEW_TOKENS}, do_sample=False, num_beams=1), KV cache on", "results": results},
           "outputs": outputs}
    if args.llama_cpp:
        os.makedirs(os.path.join(OUT, "gguf"), exist_ok=True)
        gguf_path = os.path.join(OUT, "gguf", "model-f32.gguf")
        convert_gguf(os.path.abspath(args.llama_cpp), os.path.abspath(os.path.join(OUT, "model")), os.path.abspath(gguf_path))
        commit = subprocess.run(["git", "-C", args.llama_cpp, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        lr = llama_cpp_outputs(os.path.abspath(args.llama_cpp), os.path.abspath(gguf_path), inputs, outputs)
        for r, hf in zip(lr, results):
            r["equal_to_transformers"] = r["new_tokens"] == hf["new_tokens"]
        ref["gguf"] = {"llama_cpp_commit": commit, "program": "dev/models/llama-logits.cpp",
                       "program_sha256": hashlib.sha256(open(os.path.join(HERE, "llama-logits.cpp"), "rb").read()).hexdigest(), "results": lr}
    ref["files"] = {}
    for dirpath, _, files in os.walk(OUT):
        for f in sorted(files):
            if f == "reference.json":
                continue
            p = os.path.join(dirpath, f)
            data = open(p, "rb").read()
            ref["files"][os.path.relpath(p, OUT)] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    json.dump(ref, open(os.path.join(OUT, "reference.json"), "w"), indent=1)
    print("wrote", OUT, [r["new_tokens"] for r in results], ref.get("gguf", {}).get("results"))


if __name__ == "__main__":
    main()
