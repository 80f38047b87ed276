// The shared CLI number parsing and the benchmarks' median: known answers and the error message shape.
import { test } from "node:test";
import assert from "node:assert/strict";
import { intFlag, intFlagOr } from "../../src/cli/flags.js";
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
