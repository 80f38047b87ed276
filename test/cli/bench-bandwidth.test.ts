// zhiyu bench bandwidth measures a positive read bandwidth through the backend's reduce-sum; bench decode
// --bandwidth counts the bytes a token streams as every tensor of the GGUF file except an untied token-embedding
// table (summed here from the file's own tensor sizes) and reports their rate as a share of that bandwidth.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { readGguf } from "../../src/io/gguf.js";

const zhiyu = (...args: string[]) => spawnSync(process.execPath, ["bin/zhiyu.mjs", ...args], { encoding: "utf8" });

test("bench bandwidth: GB/s from timed passes; bench decode --bandwidth: bytes per token from the file's tensors", () => {
  const bw = zhiyu("bench", "bandwidth", "--mib", "64", "--rounds", "2", "--threads", "1", "--json");
  assert.equal(bw.status, 0, bw.stderr);
  const r = JSON.parse(bw.stdout);
  assert.equal(r.seconds.length, 2);
  const expected = (64 * 2 ** 20) / 1e9 / ((r.seconds[0] + r.seconds[1]) / 2); // bytes over the median of two passes
  assert.ok(r.read_gb_per_s > 0 && Math.abs(r.read_gb_per_s - expected) < 0.02 * expected, `${r.read_gb_per_s} vs ${expected}`);

  const file = path.resolve("../shared/testdata/gguf/dev-llama-tok512-f32.gguf");
  const tensors = readGguf(file).tensors;
  const untied = tensors.some((t) => t.name === "output.weight");
  const streamed = tensors.filter((t) => !(untied && t.name === "token_embd.weight")).reduce((n, t) => n + t.byteSize, 0);
  const dec = zhiyu("bench", "decode", "--model", file, "--threads", "1", "--tokens", "4", "--repeat", "1", "--bandwidth", "--json");
  assert.equal(dec.status, 0, dec.stderr);
  const d = JSON.parse(dec.stdout);
  assert.equal(d.bandwidth.bytes_per_token, streamed);
  assert.ok(Math.abs(d.bandwidth.share - d.bandwidth.achieved_gb_per_s / d.bandwidth.read_gb_per_s) < 0.01);
  assert.ok(Math.abs(d.bandwidth.achieved_gb_per_s - streamed * d.tokens_per_s / 1e9) < 0.01);
  assert.notEqual(zhiyu("bench", "prefill", "--model", file, "--bandwidth").status, 0);
});
