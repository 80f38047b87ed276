// The JSON pieces the schema compiler builds on: bounded whitespace, strings whose characters are valid UTF-8
// (so a masked model can never write U+FFFD, and a character counts once for minLength/maxLength), numbers, any
// JSON value; plus exact ranges of integers and of decimals (minimum/maximum and their exclusive forms).
// Ranges are built digit by digit over fixed-length digit strings, as llama.cpp's json-schema-to-grammar does for
// integers; decimals with bounds are written with a fixed number of fraction digits (k = the bounds' decimals, at
// least 1), which is a subset of the valid numbers — always valid, and dense enough to say any bounded value.
// Leaves out: exponents in bounded numbers, multipleOf, integers beyond 16 digits.
import { GrammarBuilder, type Element } from "./grammar.js";

/** One byte range per position; a sequence of them is one UTF-8 encoded character (or several). */
export type ByteRanges = [number, number][];

/** The UTF-8 byte-range sequences that encode exactly the code points lo..hi (surrogates must be excluded). */
export function utf8Sequences(lo: number, hi: number): ByteRanges[] {
  const out: ByteRanges[] = [];
  const limits = [0x7f, 0x7ff, 0xffff, 0x10ffff];
  const split = (a: number, b: number): void => {
    // Same encoded length on both ends first.
    for (const max of limits) {
      if (a <= max && b > max) {
        split(a, max);
        split(max + 1, b);
        return;
      }
    }
    if (b < 0x80) {
      out.push([[a, b]]);
      return;
    }
    // Then ranges whose lower continuation bytes span their whole 80–BF range.
    const n = a <= 0x7ff ? 2 : a <= 0xffff ? 3 : 4;
    for (let i = 1; i < n; i++) {
      const m = (1 << (6 * i)) - 1;
      if ((a & ~m) !== (b & ~m)) {
        if ((a & m) !== 0) {
          split(a, a | m);
          split((a | m) + 1, b);
          return;
        }
        if ((b & m) !== m) {
          split(a, (b & ~m) - 1);
          split(b & ~m, b);
          return;
        }
      }
    }
    const ea = encodeUtf8(a);
    const eb = encodeUtf8(b);
    out.push(ea.map((x, i) => [x, eb[i]] as [number, number]));
  };
  if (lo <= hi) split(lo, hi);
  return out;
}

function encodeUtf8(cp: number): number[] {
  return Array.from(new TextEncoder().encode(String.fromCodePoint(cp)));
}

/** A code-point set as sorted, disjoint, inclusive ranges. */
export type CodePointSet = [number, number][];

export function normaliseSet(ranges: CodePointSet): CodePointSet {
  const sorted = ranges.filter(([a, b]) => a <= b).sort((x, y) => x[0] - y[0]);
  const out: CodePointSet = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** Every code point (surrogates excluded) not in `set`. */
export function complementSet(set: CodePointSet): CodePointSet {
  const out: CodePointSet = [];
  let next = 0;
  for (const [a, b] of normaliseSet(set)) {
    if (a > next) out.push([next, a - 1]);
    next = b + 1;
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return withoutSurrogates(out);
}

export function withoutSurrogates(set: CodePointSet): CodePointSet {
  const out: CodePointSet = [];
  for (const [a, b] of set) {
    if (b < 0xd800 || a > 0xdfff) out.push([a, b]);
    else {
      if (a < 0xd800) out.push([a, 0xd7ff]);
      if (b > 0xdfff) out.push([0xe000, b]);
    }
  }
  return out;
}

const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: "\\\\", 0x08: "\\b", 0x0c: "\\f", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t" };

/** The JSON string text of one code point, as a generator writes it (escapes for ", \ and control characters). */
export function jsonCharText(cp: number): string {
  if (SHORT_ESCAPES[cp] !== undefined) return SHORT_ESCAPES[cp];
  if (cp < 0x20) return `\\u${cp.toString(16).padStart(4, "0")}`;
  return String.fromCodePoint(cp);
}

/** Alternatives matching one character of `set` as it appears inside a JSON string (raw UTF-8, or escaped). */
export function jsonCharAlternatives(g: GrammarBuilder, set: CodePointSet): Element[][] {
  const alts: Element[][] = [];
  const plain: CodePointSet = [];
  for (const [a, b] of normaliseSet(withoutSurrogates(set))) {
    for (let cp = a; cp <= Math.min(b, 0x7f); cp++) {
      if (cp < 0x20 || cp === 0x22 || cp === 0x5c) alts.push(g.literal(jsonCharText(cp)));
    }
    if (b >= 0x20) plain.push([Math.max(a, 0x20), b]);
  }
  const ascii = normaliseSet(plain.map(([a, b]) => [a, Math.min(b, 0x7f)] as [number, number])
    .flatMap(([a, b]) => [[a, Math.min(b, 0x21)], [Math.max(a, 0x23), Math.min(b, 0x5b)], [Math.max(a, 0x5d), b]] as [number, number][]));
  if (ascii.length > 0) alts.push([g.bytes((x) => ascii.some(([a, b]) => x >= a && x <= b))]);
  for (const [a, b] of plain) {
    if (b < 0x80) continue;
    for (const seq of utf8Sequences(Math.max(a, 0x80), b)) alts.push(seq.map(([lo, hi]) => g.bytes((x) => x >= lo && x <= hi)));
  }
  return alts;
}

export const ANY_CODE_POINT: CodePointSet = [[0, 0x10ffff]];

/** Shared pieces: whitespace, characters, strings, numbers, any JSON value. */
export class JsonRules {
  readonly ws: Element;
  /** One JSON string character: any code point, raw or escaped (\uXXXX surrogate pairs count as two). */
  readonly char: Element;
  /** One character that JSON Schema counts as exactly one (no \u surrogate escapes): for length bounds. */
  readonly countedChar: Element;
  readonly string: Element;
  readonly number: Element;
  readonly integer: Element;
  readonly boolean: Element;
  readonly null: Element;
  readonly value: Element;
  readonly object: Element;
  readonly array: Element;
  readonly digit: Element;

  constructor(private readonly g: GrammarBuilder) {
    const digit = g.bytes((b) => b >= 0x30 && b <= 0x39);
    this.digit = digit;
    const nonZero = g.bytes((b) => b >= 0x31 && b <= 0x39);
    const hex = g.bytes((b) => (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46));
    // Bounded whitespace between tokens (as llama.cpp): nothing, one space, or a newline and up to 8 spaces.
    const indent = g.repeat("indent", [g.bytes((b) => b === 0x20)], 0, 8);
    this.ws = g.ref(g.rule("ws", [[], g.literal(" "), [...g.literal("\n"), ...indent]]));
    const escapes = [...g.literal("\\"), g.bytes((b) => '"\\/bfnrt'.includes(String.fromCharCode(b)))];
    const raw = jsonCharAlternatives(g, [[0x20, 0x10ffff]]).filter((alt) => !(alt.length > 1 && isEscapeLiteral(alt)));
    this.char = g.ref(g.rule("char", [...raw, escapes, [...g.literal("\\u"), hex, hex, hex, hex]]));
    const nonSurrogateHex = [g.bytes((b) => /[0-9a-cA-Ce-fE-F]/.test(String.fromCharCode(b))), hex, hex, hex];
    const lowD = [g.bytes((b) => b === 0x64 || b === 0x44), g.bytes((b) => b >= 0x30 && b <= 0x37), hex, hex];
    this.countedChar = g.ref(g.rule("counted-char", [...raw, escapes, [...g.literal("\\u"), ...nonSurrogateHex],
      [...g.literal("\\u"), ...lowD]]));
    this.string = g.ref(g.rule("string", [[...g.literal('"'), g.star("chars", [this.char]), ...g.literal('"')]]));
    const intPart = g.ref(g.rule("int", [g.literal("0"), [nonZero, ...g.repeat("digits", [digit], 0, 15)]]));
    const minus = g.repeat("minus", g.literal("-"), 0, 1);
    this.integer = g.ref(g.rule("integer", [[...minus, intPart]]));
    const frac = g.repeat("frac", [...g.literal("."), ...g.repeat("fdigits", [digit], 1, 16)], 0, 1);
    const exp = g.repeat("exp", [g.bytes((b) => b === 0x65 || b === 0x45),
      ...g.repeat("sign", [g.bytes((b) => b === 0x2b || b === 0x2d)], 0, 1), ...g.repeat("edigits", [digit], 1, 3)], 0, 1);
    this.number = g.ref(g.rule("number", [[...minus, intPart, ...frac, ...exp]]));
    this.boolean = g.ref(g.rule("boolean", [g.literal("true"), g.literal("false")]));
    this.null = g.ref(g.rule("null", [g.literal("null")]));
    const value = g.declare("value");
    const object = g.declare("object");
    const array = g.declare("array");
    this.value = g.ref(value);
    this.object = g.ref(object);
    this.array = g.ref(array);
    g.define(value, [[this.object], [this.array], [this.string], [this.number], [this.boolean], [this.null]]);
    const member = [this.string, this.ws, ...g.literal(":"), this.ws, this.value, this.ws];
    g.define(object, [[...g.literal("{"), this.ws, ...g.repeat("members", [...member,
      g.star("more-members", [...g.literal(","), this.ws, ...member])], 0, 1), ...g.literal("}")]]);
    const item = [this.value, this.ws];
    g.define(array, [[...g.literal("["), this.ws, ...g.repeat("items", [...item,
      g.star("more-items", [...g.literal(","), this.ws, ...item])], 0, 1), ...g.literal("]")]]);
  }
}

/** True for the two-element escape alternatives (\" and \\) that jsonCharAlternatives adds; `char` has its own. */
function isEscapeLiteral(alt: Element[]): boolean {
  const first = alt[0];
  return first.kind === "bytes" && (first.set[0x5c >>> 5] & (1 << (0x5c & 31))) !== 0 && alt.length === 2;
}

const BIG_DIGITS = 16;
/** The largest |n| a bounded number is written with (16 digits). */
export const LARGEST = 10n ** BigInt(BIG_DIGITS) - 1n;

/** Alternatives for the decimal digit strings of length n from lo to hi (equal length, leading zeros allowed). */
function fixedLengthRange(g: GrammarBuilder, lo: string, hi: string): Element[][] {
  const digits = (a: number, b: number) => g.bytes((x) => x >= 0x30 + a && x <= 0x30 + b);
  if (lo.length === 0) return [[]];
  const a = Number(lo[0]);
  const b = Number(hi[0]);
  const restLo = lo.slice(1);
  const restHi = hi.slice(1);
  if (a === b) return fixedLengthRange(g, restLo, restHi).map((alt) => [digits(a, a), ...alt]);
  const zeros = "0".repeat(restLo.length);
  const nines = "9".repeat(restLo.length);
  if (restLo === zeros && restHi === nines) return [[digits(a, b), ...Array.from(restLo, () => digits(0, 9))]];
  const alts: Element[][] = [];
  const lowFull = restLo === zeros;
  const highFull = restHi === nines;
  const midLo = lowFull ? a : a + 1;
  const midHi = highFull ? b : b - 1;
  if (!lowFull) for (const alt of fixedLengthRange(g, restLo, nines)) alts.push([digits(a, a), ...alt]);
  if (midLo <= midHi) alts.push([digits(midLo, midHi), ...Array.from(restLo, () => digits(0, 9))]);
  if (!highFull) for (const alt of fixedLengthRange(g, zeros, restHi)) alts.push([digits(b, b), ...alt]);
  return alts;
}

/** Alternatives for the canonical digits of every integer in lo..hi (0 ≤ lo ≤ hi), with a "." inserted `k`
 *  digits from the right when k > 0 (then values below 10^k are written "0.ddd"). */
function naturalRange(g: GrammarBuilder, lo: bigint, hi: bigint, k: number): Element[][] {
  const alts: Element[][] = [];
  const dot = g.literal(".");
  const withDot = (alt: Element[], n: number) => (k === 0 ? alt : [...alt.slice(0, n - k), ...dot, ...alt.slice(n - k)]);
  if (k > 0 && lo < 10n ** BigInt(k)) {
    const top = hi < 10n ** BigInt(k) ? hi : 10n ** BigInt(k) - 1n;
    for (const alt of fixedLengthRange(g, lo.toString().padStart(k, "0"), top.toString().padStart(k, "0"))) alts.push([...g.literal("0."), ...alt]);
    lo = 10n ** BigInt(k);
  }
  for (let n = Math.max(1, lo.toString().length); n <= hi.toString().length; n++) {
    const first = n === 1 ? 0n : 10n ** BigInt(n - 1);
    const last = 10n ** BigInt(n) - 1n;
    const a = lo > first ? lo : first;
    const b = hi < last ? hi : last;
    if (a > b) continue;
    for (const alt of fixedLengthRange(g, a.toString(), b.toString())) alts.push(withDot(alt, n));
  }
  return alts;
}

/** An element matching the JSON numbers n·10^-k for integers n in lo..hi (k = 0: plain integers), no "-0". */
export function scaledRange(g: GrammarBuilder, name: string, lo: bigint | null, hi: bigint | null, k: number): Element {
  const low = lo === null || lo < -LARGEST ? -LARGEST : lo;
  const high = hi === null || hi > LARGEST ? LARGEST : hi;
  const alts: Element[][] = [];
  if (low <= high) {
    if (high >= 0n) alts.push(...naturalRange(g, low > 0n ? low : 0n, high, k));
    if (low < 0n) {
      const negLo = high < 0n ? -high : 1n;
      for (const alt of naturalRange(g, negLo, -low, k)) alts.push([...g.literal("-"), ...alt]);
    }
  }
  if (alts.length === 0) throw new RangeError(`[json-schema] ${name}: the range is empty`);
  return g.ref(g.rule(name, alts));
}
