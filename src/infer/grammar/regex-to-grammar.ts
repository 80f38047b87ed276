// JSON Schema `pattern` → grammar, for the regex subset llama.cpp's json-schema-to-grammar compiles: literals,
// `.`, classes ([a-z], [^…], \d \w \s \D \W \S), groups ((…), (?:…), (?<name>…)), alternation, and the quantifiers
// * + ? {n} {n,} {n,m} (lazy forms too). The grammar writes whole-string matches of the pattern (anchored or not:
// a string that matches as a whole also contains a match, so the subset is always valid), each character as it
// appears inside a JSON string (raw UTF-8, or escaped for ", \ and control characters).
// Leaves out (→ PatternError, a 400 naming `pattern`): lookaround, backreferences, \b \B, anchors in the middle,
// and flags-dependent syntax. `.` and negated classes write any code point but the excluded ones.
import { GrammarBuilder, type Element } from "./grammar.js";
import { complementSet, jsonCharAlternatives, normaliseSet, type CodePointSet } from "./json-primitives.js";

export class PatternError extends Error {
  override name = "PatternError";
}

/** Repetition bounds above this are cut down to it (fewer repeats still match the pattern). */
const MAX_COUNT = 256;
/** Group nesting the parser follows (each level is a stack frame here and in the grammar). */
const MAX_GROUP_DEPTH = 32;

const DIGIT: CodePointSet = [[0x30, 0x39]];
const WORD: CodePointSet = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
const SPACE: CodePointSet = [[0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x2028, 0x2029],
  [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff]];
const LINE_TERMINATORS: CodePointSet = [[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]];

type Node =
  | { kind: "set"; set: CodePointSet }
  | { kind: "seq"; items: Node[] }
  | { kind: "alt"; options: Node[] }
  | { kind: "repeat"; item: Node; min: number; max: number };

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly src: string) {}

  parse(): Node {
    let start = 0;
    let end = this.src.length;
    if (this.src.startsWith("^")) start = 1;
    if (end > start && this.src.endsWith("$") && !this.src.endsWith("\\$")) end--;
    this.i = start;
    const node = this.alternation(end);
    if (this.i !== end) this.fail(`unexpected '${this.src[this.i]}'`);
    return node;
  }

  private fail(what: string): never {
    throw new PatternError(`pattern ${JSON.stringify(this.src)}: ${what} at offset ${this.i} (supported: literals, ., classes, ` +
      "groups, |, * + ? {n,m}; not lookaround, backreferences, \\b or anchors inside)");
  }

  private alternation(end: number): Node {
    const options = [this.sequence(end)];
    while (this.i < end && this.src[this.i] === "|") {
      this.i++;
      options.push(this.sequence(end));
    }
    return options.length === 1 ? options[0] : { kind: "alt", options };
  }

  private sequence(end: number): Node {
    const items: Node[] = [];
    while (this.i < end && this.src[this.i] !== "|" && this.src[this.i] !== ")") items.push(this.quantified(end));
    return { kind: "seq", items };
  }

  private quantified(end: number): Node {
    let item = this.atom(end);
    for (;;) {
      const c = this.src[this.i];
      let min: number;
      let max: number;
      if (this.i >= end) break;
      if (c === "*") [min, max] = [0, Infinity];
      else if (c === "+") [min, max] = [1, Infinity];
      else if (c === "?") [min, max] = [0, 1];
      else if (c === "{") {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
        if (!m) break; // a literal "{"
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
        if (max < min) this.fail(`{${min},${max}} has max < min`);
        this.i += m[0].length - 1;
      } else break;
      this.i++;
      if (this.src[this.i] === "?") this.i++; // lazy: same strings
      if (min > MAX_COUNT) this.fail(`a repeat of at least ${min} (more than ${MAX_COUNT})`);
      item = { kind: "repeat", item, min, max: max === Infinity ? Infinity : Math.min(max, MAX_COUNT) };
    }
    return item;
  }

  private atom(end: number): Node {
    const c = this.src[this.i];
    if (c === "(") {
      this.i++;
      if (this.src.startsWith("?:", this.i)) this.i += 2;
      else if (this.src.startsWith("?<", this.i) && !/^\?<[=!]/.test(this.src.slice(this.i))) {
        const close = this.src.indexOf(">", this.i);
        if (close < 0) this.fail("an unterminated group name");
        this.i = close + 1;
      } else if (this.src[this.i] === "?") this.fail("lookaround or an inline flag");
      if (++this.depth > MAX_GROUP_DEPTH) this.fail(`groups nested deeper than ${MAX_GROUP_DEPTH}`);
      const inner = this.alternation(end);
      this.depth--;
      if (this.src[this.i] !== ")") this.fail("an unclosed group");
      this.i++;
      return inner;
    }
    if (c === "[") return { kind: "set", set: this.charClass() };
    if (c === ".") {
      this.i++;
      return { kind: "set", set: complementSet(LINE_TERMINATORS) };
    }
    if (c === "^" || c === "$") this.fail(`an anchor '${c}' inside the pattern`);
    if (c === "*" || c === "+" || c === "?") this.fail(`a quantifier '${c}' with nothing before it`);
    if (c === "\\") return { kind: "set", set: this.escape(false) };
    const cp = this.src.codePointAt(this.i)!;
    this.i += cp > 0xffff ? 2 : 1;
    return { kind: "set", set: [[cp, cp]] };
  }

  /** After a backslash: a class (\d …) or one code point. */
  private escape(inClass: boolean): CodePointSet {
    this.i++;
    const c = this.src[this.i];
    if (c === undefined) this.fail("a trailing backslash");
    this.i++;
    switch (c) {
      case "d": return DIGIT;
      case "D": return complementSet(DIGIT);
      case "w": return WORD;
      case "W": return complementSet(WORD);
      case "s": return SPACE;
      case "S": return complementSet(SPACE);
      case "n": return [[0x0a, 0x0a]];
      case "r": return [[0x0d, 0x0d]];
      case "t": return [[0x09, 0x09]];
      case "f": return [[0x0c, 0x0c]];
      case "v": return [[0x0b, 0x0b]];
      case "0": return [[0, 0]];
      case "b":
        if (inClass) return [[0x08, 0x08]];
        return this.fail("a word boundary \\b");
      case "x": {
        const m = /^[0-9a-fA-F]{2}/.exec(this.src.slice(this.i));
        if (!m) this.fail("a malformed \\x escape");
        this.i += 2;
        const cp = parseInt(m[0], 16);
        return [[cp, cp]];
      }
      case "u": {
        const m = /^(?:\{([0-9a-fA-F]{1,6})\}|([0-9a-fA-F]{4}))/.exec(this.src.slice(this.i));
        if (!m) this.fail("a malformed \\u escape");
        this.i += m[0].length;
        const cp = parseInt(m[1] ?? m[2], 16);
        if (cp > 0x10ffff) this.fail("a code point above U+10FFFF");
        return [[cp, cp]];
      }
      default:
        if (/[1-9kBpPcq]/.test(c)) this.fail(`the escape \\${c}`);
        return [[c.codePointAt(0)!, c.codePointAt(0)!]];
    }
  }

  private charClass(): CodePointSet {
    this.i++; // [
    let negated = false;
    if (this.src[this.i] === "^") {
      negated = true;
      this.i++;
    }
    const set: CodePointSet = [];
    while (this.i < this.src.length && this.src[this.i] !== "]") {
      const lo = this.classAtom();
      if (this.src[this.i] === "-" && this.src[this.i + 1] !== "]" && this.i + 1 < this.src.length) {
        this.i++;
        const hi = this.classAtom();
        if (lo.length !== 1 || hi.length !== 1 || lo[0][0] !== lo[0][1] || hi[0][0] !== hi[0][1]) this.fail("a range between classes");
        if (hi[0][0] < lo[0][0]) this.fail("a reversed range");
        set.push([lo[0][0], hi[0][0]]);
      } else set.push(...lo);
    }
    if (this.src[this.i] !== "]") this.fail("an unclosed class");
    this.i++;
    return negated ? complementSet(set) : normaliseSet(set);
  }

  private classAtom(): CodePointSet {
    if (this.src[this.i] === "\\") return this.escape(true);
    if (this.src[this.i] === "[") this.fail("a nested class");
    const cp = this.src.codePointAt(this.i)!;
    this.i += cp > 0xffff ? 2 : 1;
    return [[cp, cp]];
  }
}

/** An element matching the JSON string contents (without quotes) of whole matches of `pattern`. */
export function patternElement(g: GrammarBuilder, pattern: string, name: string): Element {
  const node = new Parser(pattern).parse();
  let n = 0;
  const emit = (node: Node): Element[] => {
    switch (node.kind) {
      case "set": {
        const alts = jsonCharAlternatives(g, node.set);
        if (alts.length === 0) throw new PatternError(`pattern ${JSON.stringify(pattern)}: a class that matches nothing`);
        return alts.length === 1 ? alts[0] : [g.ref(g.rule(`${name}|c${n++}`, alts))];
      }
      case "seq":
        return node.items.flatMap(emit);
      case "alt":
        return [g.ref(g.rule(`${name}|a${n++}`, node.options.map(emit)))];
      case "repeat": {
        const item = emit(node.item);
        return g.repeat(`${name}|r${n++}`, item, node.min, node.max);
      }
    }
  };
  return g.ref(g.rule(name, [emit(node)]));
}
