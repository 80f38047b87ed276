// The calculator against known answers: exact rationals (no 0.1 + 0.2 drift), precedence and associativity as in
// mathematics, percentages, powers and exact roots, full-width/Chinese input, and clear errors (never eval).
import { test } from "node:test";
import assert from "node:assert/strict";
import { calculate, CalculatorError, evaluate } from "../../src/tools/calculator.js";

test("known answers", () => {
  const cases: [string, string, string][] = [
    ["0.1 + 0.2", "3/10", "0.3"],
    ["1/3 + 1/6", "1/2", "0.5"],
    ["2 + 3 * 4", "14", "14"],
    ["(2 + 3) * 4", "20", "20"],
    ["-2^2", "-4", "-4"],
    ["(-2)^2", "4", "4"],
    ["2^3^2", "512", "512"],
    ["2**10", "1024", "1024"],
    ["2^-2", "1/4", "0.25"],
    ["8^(1/3)", "2", "2"],
    ["(27/8)^(2/3)", "9/4", "2.25"],
    ["15% of 80", "12", "12"],
    ["50%", "1/2", "0.5"],
    ["100 * (1 + 5%)^2", "441/4", "110.25"],
    ["1/3", "1/3", "0.333333333333…"],
    ["2/3", "2/3", "0.666666666667…"],
    ["-7/2", "-7/2", "-3.5"],
    ["1e3 / 8", "125", "125"],
    ["1_000_000 * 3", "3000000", "3000000"],
    ["12345678901234567890 * 98765432109876543210", "1219326311370217952237463801111263526900", "1219326311370217952237463801111263526900"],
    ["（１＋２）×３÷４", "9/4", "2.25"],
    ["百分之20 * 50", "10", "10"],
    ["3 - - 2", "5", "5"],
    [".5 + .25", "3/4", "0.75"],
  ];
  for (const [expr, exact, decimal] of cases) {
    assert.deepEqual(calculate(expr), { result: exact, decimal }, expr);
  }
});

test("2^100 is exact", () => {
  assert.equal(evaluate("2^100").toString(), (2n ** 100n).toString());
});

test("errors are CalculatorErrors with a useful message", () => {
  const cases: [string, RegExp][] = [
    ["1/0", /division by zero/],
    ["0^-1", /division by zero/],
    ["2^(1/2)", /irrational/],
    ["(-8)^(1/2)", /negative/],
    ["1 +", /ends too early/],
    ["(1 + 2", /missing '\)'/],
    ["1 2", /unexpected/],
    ["process.exit()", /unexpected 'p'/],
    ["9^9^9", /too large/],
    ["", /empty/],
  ];
  for (const [expr, re] of cases) assert.throws(() => evaluate(expr), (e: unknown) => e instanceof CalculatorError && re.test(e.message), expr);
});
