// `zhiyu bench decode` on an MoE GGUF reports the weight bytes one decoded token reads against the active parameters'
// size (issue 22's memory-traffic figure). The expected expert bytes per token come from the file itself: each
// layer's stacked ffn_{gate,up,down}_exps tensors, divided by the expert count, times top-k — not from the model.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { getOptionalNumber, readGguf } from "../../src/io/gguf.js";
import { run as benchDecode } from "../../src/cli/commands/bench-decode.js";

const FILE = path.resolve("../shared/testdata/hf/qwen3_moe/gguf/model-f32.gguf");

test("bench decode on Qwen3-MoE: bytes read per token = non-expert weights + top-k experts per layer", async () => {
  const gguf = readGguf(FILE);
  const experts = getOptionalNumber(gguf, "qwen3moe.expert_count")!, topK = getOptionalNumber(gguf, "qwen3moe.expert_used_count")!;
  const stacked = gguf.tensors.filter((t) => /_exps\.weight$/.test(t.name)).reduce((s, t) => s + t.byteSize, 0);
  const expectedExpertBytes = (stacked / experts) * topK;
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    await benchDecode(["--model", FILE, "--tokens", "6", "--threads", "1", "--repeat", "1", "--json"]);
  } finally {
    console.log = log;
  }
  const out = JSON.parse(lines.at(-1)!);
  assert.equal(out.moe.experts, experts);
  assert.equal(out.moe.top_k, topK);
  assert.ok(Math.abs(out.moe.expert_bytes_per_token - expectedExpertBytes) <= 1e-6 * expectedExpertBytes,
    `experts read per token ${out.moe.expert_bytes_per_token}, the file says ${expectedExpertBytes}`);
  assert.ok(out.moe.ratio >= 0.999 && out.moe.ratio <= 1.2, `bytes per token / active bytes = ${out.moe.ratio}`);
});
