// zhiyu generate: --prompt-ids feeds exactly those ids, --json prints prompt ids, generated ids and text,
// --logits-out writes the last prompt position's logits (checked against llama.cpp's for stories260K), and
// --temperature 0 reproduces llama.cpp's greedy ids.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "../../src/cli/commands/generate.js";

const shared = path.resolve("../shared/testdata/gguf");

test("generate --prompt-ids --json --logits-out on stories260K", async () => {
  const ref = JSON.parse(readFileSync(path.join(shared, "stories260K.json"), "utf8")) as
    { prompts: Array<{ prompt_tokens: number[]; greedy_tokens: number[] }> };
  const p = ref.prompts[1];
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), "zhiyu-gen-")), "logits.bin");
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => { lines.push(s); };
  try {
    await run(["--model", path.join(shared, "stories260K.gguf"), "--prompt-ids", p.prompt_tokens.join(","),
      "--max-tokens", "20", "--temperature", "0", "--json", "--logits-out", out, "--ctx", "256"]);
  } finally {
    console.log = log;
  }
  const result = JSON.parse(lines.at(-1)!) as { prompt_ids: number[]; ids: number[]; text: string };
  assert.deepEqual(result.prompt_ids, p.prompt_tokens);
  assert.deepEqual(result.ids, p.greedy_tokens.slice(0, 20));
  assert.ok(result.text.length > 0);
  const bytes = readFileSync(out); // small reads may share Node's buffer pool: copy exactly these bytes
  const got = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const all = float32s(readFileSync(path.join(shared, "stories260K.logits.bin")));
  const want = all.subarray(512, 1024);
  assert.equal(got.length, 512);
  let maxAbs = 0, maxDiff = 0;
  for (let i = 0; i < 512; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
    maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[i]));
  }
  assert.ok(maxDiff <= 1e-3 * maxAbs, `max |Δ| ${maxDiff}`);
});

test("generate rejects conflicting or malformed flags", async () => {
  await assert.rejects(run(["--model", "x.gguf", "--prompt", "a", "--prompt-ids", "1"]), /not both/);
  await assert.rejects(run(["--model", "/nonexistent/x.gguf", "--prompt", "a"]), /does not exist/);
});

/** The file's bytes as float32 (copying: a Buffer may be a view into a larger shared pool). */
function float32s(b: Buffer): Float32Array {
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}
