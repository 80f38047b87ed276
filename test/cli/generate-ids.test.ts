// `zhiyu generate --prompt-ids` on a Hugging Face folder without a tokenizer (../shared/testdata/hf/lora/base):
// ids in, ids out, and the greedy next id is the argmax of transformers' logits for the same ids (reference.json).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const CASE = "../shared/testdata/hf/lora";

function argmaxRows(file: string, shape: [number, number]): number[] {
  const buf = readFileSync(file);
  const f = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  assert.equal(f.length, shape[0] * shape[1], `${file}: size matches reference.json shape`);
  return Array.from({ length: shape[0] }, (_, r) => {
    let best = 0;
    for (let v = 1; v < shape[1]; v++) if (f[r * shape[1] + v]! > f[r * shape[1] + best]!) best = v;
    return best;
  });
}

test("generate --prompt-ids on an HF folder without tokenizer.json: ids out, text null, greedy id = transformers' argmax",
  { skip: !existsSync(CASE) && "../shared/testdata/hf/lora is not there" }, () => {
    const ref = JSON.parse(readFileSync(path.join(CASE, "reference.json"), "utf8")) as {
      inputs: { input_ids: number[][] }; outputs: Record<string, { file: string; shape: [number, number] }>;
    };
    const ids = ref.inputs.input_ids[0]!;
    const out = ref.outputs.logits_base_0!;
    const argmax = argmaxRows(path.join(CASE, out.file), out.shape);
    for (const k of [ids.length, 3]) {
      const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "generate", "--model", path.join(CASE, "base"),
        "--prompt-ids", ids.slice(0, k).join(","), "--max-tokens", "1", "--temperature", "0", "--json"], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const j = JSON.parse(r.stdout.trim()) as { prompt_ids: number[]; ids: number[]; text: string | null };
      assert.deepEqual(j.prompt_ids, ids.slice(0, k));
      assert.equal(j.text, null);
      assert.deepEqual(j.ids, [argmax[k - 1]]);
    }
    // Streaming form prints the ids; text input is a clear usage error naming the fix.
    const streamed = spawnSync(process.execPath, ["bin/zhiyu.mjs", "generate", "--model", path.join(CASE, "base"),
      "--prompt-ids", ids.join(","), "--max-tokens", "1", "--temperature", "0"], { encoding: "utf8" });
    assert.equal(streamed.status, 0, streamed.stderr);
    assert.equal(streamed.stdout.trim(), String(argmax[ids.length - 1]));
    const text = spawnSync(process.execPath, ["bin/zhiyu.mjs", "generate", "--model", path.join(CASE, "base"), "--prompt", "hi"],
      { encoding: "utf8" });
    assert.equal(text.status, 1);
    assert.match(text.stderr, /has no tokenizer.*--prompt-ids/);
  });

test("generate: --temperature -1 is a clear range error; --max-tokens beyond the context is capped with a note", () => {
  const neg = spawnSync(process.execPath, ["bin/zhiyu.mjs", "generate", "--prompt", "hi", "--temperature", "-1"], { encoding: "utf8" });
  assert.equal(neg.status, 1);
  assert.match(neg.stderr, /--temperature -1: expected a number ≥ 0/);
  const big = spawnSync(process.execPath, ["bin/zhiyu.mjs", "generate", "--model", path.join(CASE, "base"), "--prompt-ids", "1,2",
    "--max-tokens", "100000", "--temperature", "0", "--json"], { encoding: "utf8" });
  assert.equal(big.status, 0, big.stderr);
  const ctx = (JSON.parse(readFileSync(path.join(CASE, "base", "config.json"), "utf8")) as { max_position_embeddings: number })
    .max_position_embeddings;
  assert.match(big.stderr, new RegExp(`--max-tokens 100000 does not fit: the context holds ${ctx} tokens .* at most ${ctx - 2}`));
});
