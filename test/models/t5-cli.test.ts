// `zhiyu generate` on T5 (../shared/testdata/hf/t5_v1_0, t5_v1_1): --prompt-ids is the encoder input, --temperature 0
// --json gives transformers' greedy ids, --logits-out writes one row of decoder logits per generated step (the first
// after the decoder start token) matching transformers' generate_step_logits; --beams gives transformers' beam search
// result (test/models/data/t5-hf-refs.json). Bad input is refused by name: more new tokens than the decoder holds, a
// source longer than the encoder accepts, an encoder-only checkpoint (T5EncoderModel) given to generate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "../../src/cli/commands/generate.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-t5-cli-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => { lines.push(s); };
  try {
    await run(args);
  } finally {
    console.log = log;
  }
  return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
}

const float32s = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));

for (const name of ["t5_v1_0", "t5_v1_1"]) {
  test(`${name}: zhiyu generate --prompt-ids --temperature 0 --json --logits-out = transformers' greedy ids and step logits`, async () => {
    const dir = path.resolve("../shared/testdata/hf", name);
    const ref = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8")) as {
      inputs: { encoder_input_ids: number[][] }; outputs: Record<string, { file: string; shape: number[] }>;
      generation: { results: Array<{ input: number; new_tokens: number[] }> };
    };
    const r = ref.generation.results[1]!;
    const out = path.join(tmp, `${name}.bin`);
    const res = await cli(["--model", path.join(dir, "model"), "--prompt-ids", ref.inputs.encoder_input_ids[r.input]!.join(","),
      "--max-tokens", String(r.new_tokens.length), "--temperature", "0", "--json", "--logits-out", out]);
    assert.deepEqual(res.ids, r.new_tokens);
    const o = ref.outputs[`generate_step_logits_${r.input}`]!;
    const want = float32s(readFileSync(path.join(dir, o.file)));
    const got = float32s(readFileSync(out));
    assert.equal(got.length, o.shape[0]! * o.shape[1]!, "one row per generated step");
    let maxRef = 0, maxDiff = 0;
    for (let i = 0; i < want.length; i++) {
      maxRef = Math.max(maxRef, Math.abs(want[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(want[i]! - got[i]!));
    }
    assert.ok(maxDiff <= 1e-4 * maxRef, `step logits: max |diff| ${maxDiff} vs ${maxRef}`);

    const beams = (JSON.parse(readFileSync("test/models/data/t5-hf-refs.json", "utf8")) as {
      cases: Record<string, { beam: Array<{ input: number; num_beams: number; length_penalty: number; early_stopping: boolean; eos_token_id: number; max_new_tokens: number; sequence: number[] }> }>;
    }).cases[name]!.beam.find((b) => b.eos_token_id === 1 && b.num_beams === 4 && b.length_penalty === 1)!;
    const beamRes = await cli(["--model", path.join(dir, "model"), "--prompt-ids", ref.inputs.encoder_input_ids[beams.input]!.join(","),
      "--max-tokens", String(beams.max_new_tokens), "--beams", "4", "--length-penalty", "1", "--early-stopping", "false", "--json"]);
    assert.deepEqual(beamRes.ids, beams.sequence.slice(1));
  });
}

test("T5 generate refuses what it cannot do, naming the limit", async () => {
  const dir = path.resolve("../shared/testdata/hf/t5_v1_1/model");
  await assert.rejects(cli(["--model", dir, "--prompt-ids", "5,6,1", "--max-tokens", "100000", "--json"]),
    /--max-tokens 100000: .*decoder holds 512 positions .* at most 511 tokens/);
  await assert.rejects(cli(["--model", dir, "--prompt-ids", Array.from({ length: 600 }, () => 7).join(","), "--max-tokens", "2", "--json"]),
    /the encoder input has 600 tokens but .* accepts at most 512 source tokens/);
  await assert.rejects(cli(["--model", dir, "--prompt-ids", "5,1", "--max-tokens", "2", "--beams", "2", "--logits-out", path.join(tmp, "x.bin")]),
    /--logits-out is for greedy or sampled decoding, not --beams 2/);
  // An encoder-only checkpoint: the same weights, config.json saying T5EncoderModel.
  const enc = path.join(tmp, "t5-encoder-only");
  mkdirSync(enc);
  const config = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(path.join(enc, "config.json"), JSON.stringify({ ...config, architectures: ["T5EncoderModel"] }));
  symlinkSync(path.join(dir, "model.safetensors"), path.join(enc, "model.safetensors"));
  await assert.rejects(cli(["--model", enc, "--prompt-ids", "5,1", "--json"]),
    /T5EncoderModel is an encoder-only checkpoint \(no decoder\): it cannot generate; use a T5ForConditionalGeneration/);
});
