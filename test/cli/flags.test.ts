// The shared CLI number parsing and the benchmarks' median: known answers and the error message shape.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { intFlag, intFlagOr, numberFlagOr, parseFlags } from "../../src/cli/flags.js";
import { median } from "../../src/cli/bench-stats.js";
import { UsageError } from "../../src/cli/errors.js";

test("intFlag parses integers at or above the minimum and names the flag otherwise", () => {
  assert.equal(intFlag("threads", undefined), undefined);
  assert.equal(intFlag("threads", "4"), 4);
  assert.equal(intFlag("port", "0", 0), 0);
  assert.equal(intFlagOr("tokens", undefined, 128), 128);
  for (const bad of ["0", "-3", "1.5", "x", "", " "]) {
    assert.throws(() => intFlag("threads", bad), (e: unknown) =>
      e instanceof UsageError && e.message === `--threads ${bad}: expected an integer ≥ 1`);
  }
});

test("median of odd and even counts, NaN for none", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test("parseFlags: a negative number is a flag's value (reaching the range check), an unknown flag ends with the help", () => {
  const { values } = parseFlags({ args: ["--temperature", "-1", "--top-p", "-.5"], options: { temperature: { type: "string" }, "top-p": { type: "string" } },
    strict: true }, "HELP");
  assert.equal(values.temperature, "-1");
  assert.equal(values["top-p"], "-.5");
  assert.throws(() => numberFlagOr("temperature", "-1", 0.7, { min: 0, what: "0 = greedy" }), (e: unknown) =>
    e instanceof UsageError && e.message === "--temperature -1: expected a number ≥ 0 (0 = greedy)");
  assert.equal(numberFlagOr("top-p", undefined, 0.95, { min: 0, max: 1 }), 0.95);
  assert.throws(() => parseFlags({ args: ["--nope"], options: {}, strict: true }, "usage: zhiyu x"), (e: unknown) =>
    e instanceof UsageError && /--nope/.test(e.message) && e.message.endsWith("\n\nusage: zhiyu x"));
  assert.throws(() => intFlag("port", "99999", 0, 65535), (e: unknown) =>
    e instanceof UsageError && e.message === "--port 99999: expected an integer from 0 to 65535");
});

test("CLI: --port 99999 and --temperature -1 give clear errors, not Node's messages", () => {
  const port = spawnSync(process.execPath, ["bin/zhiyu.mjs", "serve", "--port", "99999"], { encoding: "utf8" });
  assert.equal(port.status, 1);
  assert.equal(port.stderr.trim(), "zhiyu: --port 99999: expected an integer from 0 to 65535");
  const temp = spawnSync(process.execPath, ["bin/zhiyu.mjs", "chat", "--temperature", "-1"], { input: "", encoding: "utf8" });
  assert.equal(temp.status, 1);
  assert.equal(temp.stderr.trim(), "zhiyu: --temperature -1: expected a number ≥ 0 (0 = greedy)");
});
