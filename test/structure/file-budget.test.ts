// The file-length budget (file-budget.ts) on this repo, printing lines per folder, and proof that it fails: a
// temporary copy of src/ and native/ with a file one line over, the exact boundary, and a stale allowance.
// Leaves out: the budgets themselves (file-budget.ts says them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { checkFileLengths, countLines, type LengthAllowance } from "./file-budget.js";

const lines = (n: number) => "x;\n".repeat(n);

test("every src/**/*.ts is within 500 lines and every native/*.c|cc|h within 1500 (lines per folder below)", (t) => {
  const report = checkFileLengths(".");
  let total = 0;
  for (const [folder, [files, n]] of [...report.perFolder].sort()) {
    t.diagnostic(`${folder.padEnd(40)} ${String(files).padStart(3)} files ${String(n).padStart(6)} lines`);
    total += n;
  }
  t.diagnostic(`total ${total} lines`);
  assert.deepEqual(report.violations, []);
  assert.deepEqual(report.staleAllowances.map((a) => `${a.file}: within budget now, delete its LENGTH_ALLOWANCES entry`), []);
});

test("a temporary over-long file in a copy of src/ or native/ fails the budget; exactly the budget passes", () => {
  const root = mkdtempSync(path.join(tmpdir(), "zhiyu-budget-"));
  try {
    cpSync("src", path.join(root, "src"), { recursive: true });
    cpSync("native", path.join(root, "native"), { recursive: true });
    assert.deepEqual(checkFileLengths(root).violations, []);
    mkdirSync(path.join(root, "src/core/deep"), { recursive: true });
    writeFileSync(path.join(root, "src/core/deep/at-budget.ts"), lines(500));
    writeFileSync(path.join(root, "native/at_budget.c"), lines(1500));
    assert.deepEqual(checkFileLengths(root).violations, []);
    writeFileSync(path.join(root, "src/core/deep/long.ts"), lines(501));
    writeFileSync(path.join(root, "native/long.h"), lines(1501));
    const { violations } = checkFileLengths(root);
    assert.equal(violations.length, 2, violations.join("\n"));
    assert.match(violations[0], /^src\/core\/deep\/long\.ts has 501 lines, over the budget of 500 for src\//);
    assert.match(violations[1], /^native\/long\.h has 1501 lines, over the budget of 1500 for native\//);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("an allowance raises one file's budget to its stated size, no further; an unneeded allowance is stale", () => {
  const root = mkdtempSync(path.join(tmpdir(), "zhiyu-budget-"));
  try {
    mkdirSync(path.join(root, "src/train"), { recursive: true });
    mkdirSync(path.join(root, "native"));
    writeFileSync(path.join(root, "src/train/big.ts"), lines(700));
    writeFileSync(path.join(root, "src/train/small.ts"), lines(10));
    const allow: LengthAllowance[] = [
      { file: "src/train/big.ts", maxLines: 700, why: "test" },
      { file: "src/train/small.ts", maxLines: 900, why: "test" },
    ];
    let report = checkFileLengths(root, undefined, allow);
    assert.deepEqual(report.violations, []);
    assert.deepEqual(report.staleAllowances, [allow[1]]);
    writeFileSync(path.join(root, "src/train/big.ts"), lines(701));
    report = checkFileLengths(root, undefined, allow);
    assert.equal(report.violations.length, 1);
    assert.match(report.violations[0], /big\.ts has 701 lines, over the budget of 700 allowed while test/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("countLines counts lines as an editor numbers them", () => {
  assert.equal(countLines(""), 0);
  assert.equal(countLines("a"), 1);
  assert.equal(countLines("a\n"), 1);
  assert.equal(countLines("a\nb"), 2);
  assert.equal(countLines("a\n\n"), 2);
});
