// What a model says about itself (src/infer/model-info.ts): the served name comes from the model card, GGUF
// general.name, or <run>-step-N for a training checkpoint — never a bare "step-00000060"; tool-call training comes
// from an explicit key, else from whether the chat template renders tools (zhiyu-mini has no template: false).
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { readModelInfo } from "../../src/infer/model-info.js";
import { readGguf } from "../../src/io/gguf.js";

test("zhiyu-mini: named by its card, not trained for tool calls", () => {
  const info = readModelInfo("models/zhiyu-mini", null);
  assert.equal(info.name, "zhiyu-mini");
  assert.equal(info.toolCalls, false);
});

test("a training checkpoint folder is named <run>-step-N; config.json zhiyu_tool_calls wins over the template", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-info-"));
  try {
    const ckpt = path.join(dir, "tiny-run", "checkpoints", "step-00000060");
    mkdirSync(ckpt, { recursive: true });
    copyFileSync("models/zhiyu-mini/config.json", path.join(ckpt, "config.json"));
    assert.equal(readModelInfo(ckpt, null).name, "tiny-run-step-00000060");
    const withTools = "{% if tools %}{{ tools | tojson }}{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}";
    assert.equal(readModelInfo(ckpt, withTools).toolCalls, true);
    writeFileSync(path.join(ckpt, "config.json"), JSON.stringify({ model_type: "llama", zhiyu_tool_calls: false }));
    assert.deepEqual(readModelInfo(ckpt, withTools), { name: "tiny-run-step-00000060", toolCalls: false,
      toolCallsSource: "config.json zhiyu_tool_calls" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a GGUF file is named by general.name", () => {
  const file = "../shared/testdata/gguf/dev-qwen2-e32-f16emb-q8_0.gguf";
  const expected = readGguf(file).metadata.get("general.name");
  assert.equal(typeof expected, "string");
  assert.equal(readModelInfo(file, null).name, expected);
});

test("a GGUF whose general.name only repeats its architecture (llama2c's converter) is named by its file", () => {
  const file = "../shared/testdata/gguf/stories260K.gguf";
  const meta = readGguf(file).metadata;
  assert.equal(meta.get("general.name"), meta.get("general.architecture"));
  assert.equal(readModelInfo(file, null).name, "stories260K");
});
