// Oniguruma → Node 20 regex rewriting: inline (?i:…) groups, possessive quantifiers, Unicode White_Space \s,
// identity escapes; and HF Split's behaviours (known answers from the tokenizers documentation's examples).
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileTokenizerRegex, splitByRegex, type SplitBehavior } from "../../src/tokenizers/regex.js";

const matches = (pattern: string, text: string): string[] => [...text.matchAll(compileTokenizerRegex(pattern, "test"))].map((m) => m[0]);

test("(?i:…) groups match either case of ASCII letters only inside the group", () => {
  assert.deepEqual(matches("(?i:'s|'re)x", "'sx 'Sx 'rEx 'REX"), ["'sx", "'Sx", "'rEx"]);
  assert.deepEqual(matches("(?i:[a-c]+)", "xAbCdx"), ["AbC"]);
});

test("possessive quantifiers never give back (atomic)", () => {
  assert.deepEqual(matches("a*+a", "aaaa"), []); // a*+ eats every a, nothing is left for the final a
  assert.deepEqual(matches("a*a", "aaaa"), ["aaaa"]);
  assert.deepEqual(matches("\\p{N}{1,3}+", "12345"), ["123", "45"]);
  assert.deepEqual(matches("[a-z]++b", "aaab"), []);
  assert.deepEqual(matches("(?:ab)?+c", "abc c"), ["abc", "c"]);
});

test("\\s is Unicode White_Space (U+0085 yes, U+FEFF no), \\S its complement", () => {
  assert.deepEqual(matches("\\s", "a\u0085b\ufeffc\u3000"), ["\u0085", "\u3000"]);
  assert.deepEqual(matches("\\S+", "ab\u0085c"), ["ab", "c"]);
});

test("identity escapes and \\x{…} are rewritten for the u flag", () => {
  assert.deepEqual(matches("\\'\\!\\x{4e2d}", "'!中"), ["'!中"]);
});

test("Split behaviours on '-' (HF docs example: 'the-final--countdown')", () => {
  const split = (behavior: SplitBehavior, invert = false): string[] => {
    const out: string[] = [];
    splitByRegex("the-final--countdown", /-/gu, behavior, invert, (p) => out.push(p));
    return out;
  };
  assert.deepEqual(split("Removed"), ["the", "final", "countdown"]);
  assert.deepEqual(split("Isolated"), ["the", "-", "final", "-", "-", "countdown"]);
  assert.deepEqual(split("MergedWithPrevious"), ["the-", "final-", "-", "countdown"]);
  assert.deepEqual(split("MergedWithNext"), ["the", "-final", "-", "-countdown"]);
  assert.deepEqual(split("Contiguous"), ["the", "-", "final", "--", "countdown"]);
});
