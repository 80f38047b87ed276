// A byte-level context-free grammar and its incremental parser, for constrained decoding.
// A grammar is a list of rules; each rule is a list of alternatives; each alternative is a sequence of elements that
// are either a byte set (a terminal) or a reference to another rule. The parser keeps every way the bytes seen so
// far can continue, as a set of stacks (llama.cpp's grammar algorithm), and states are interned so that the same
// set of stacks is one object: transitions and token masks computed for it are cached (a lazily built automaton).
// Byte-level on purpose: tokens are byte strings, and a multi-byte UTF-8 character may be split across tokens.
// Leaves out: left recursion (expanding a left-recursive rule would not terminate; builders here never make one),
// a GBNF text parser (grammars are built in code by json-schema.ts), UTF-8 validity of bytes ≥ 0x80.

/** 256-bit membership set of bytes. */
export type ByteSet = Uint32Array;

export type Element = { kind: "bytes"; set: ByteSet } | { kind: "ref"; rule: number };
export type Alternative = Element[];

export function byteSet(predicate: (b: number) => boolean): ByteSet {
  const s = new Uint32Array(8);
  for (let b = 0; b < 256; b++) if (predicate(b)) s[b >>> 5] |= 1 << (b & 31);
  return s;
}

export function hasByte(set: ByteSet, b: number): boolean {
  return (set[b >>> 5] & (1 << (b & 31))) !== 0;
}

/** Builds a grammar rule by rule. Rules may reference rules defined later (declare() then define()). */
export class GrammarBuilder {
  readonly rules: Alternative[][] = [];
  readonly names: string[] = [];
  private readonly literalCache = new Map<string, number>();

  declare(name: string): number {
    this.rules.push([]);
    this.names.push(name);
    return this.rules.length - 1;
  }

  define(rule: number, alternatives: Alternative[]): number {
    this.rules[rule] = alternatives;
    return rule;
  }

  rule(name: string, alternatives: Alternative[]): number {
    return this.define(this.declare(name), alternatives);
  }

  ref(rule: number): Element {
    return { kind: "ref", rule };
  }

  bytes(predicate: (b: number) => boolean): Element {
    return { kind: "bytes", set: byteSet(predicate) };
  }

  /** The exact UTF-8 bytes of text, one terminal per byte. */
  literal(text: string): Element[] {
    return Array.from(new TextEncoder().encode(text), (b) => ({ kind: "bytes" as const, set: byteSet((x) => x === b) }));
  }

  /** A rule matching exactly `text` (cached, so repeated literals share a rule). */
  literalRule(text: string): Element {
    let r = this.literalCache.get(text);
    if (r === undefined) {
      r = this.rule(`lit:${text}`, [this.literal(text)]);
      this.literalCache.set(text, r);
    }
    return this.ref(r);
  }

  /** item* as a right-recursive rule. */
  star(name: string, item: Element[]): Element {
    const r = this.declare(name);
    this.define(r, [[...item, this.ref(r)], []]);
    return this.ref(r);
  }

  /** item repeated min..max times (max = Infinity allowed). */
  repeat(name: string, item: Element[], min: number, max: number): Element[] {
    const out: Element[] = [];
    for (let i = 0; i < min; i++) out.push(...item);
    if (max === Infinity) {
      out.push(this.star(`${name}*`, item));
      return out;
    }
    // Nested optionals: opt_k ::= item opt_{k-1} | ε, so "at most max−min more" costs max−min small rules.
    let tail: number | null = null;
    for (let k = 0; k < max - min; k++) {
      const r = this.declare(`${name}{${k + 1}}`);
      this.define(r, [[...item, ...(tail === null ? [] : [this.ref(tail)])], []]);
      tail = r;
    }
    if (tail !== null) out.push(this.ref(tail));
    return out;
  }

  build(root: number): Grammar {
    return new Grammar(this.rules, root, this.names);
  }
}

/** One position inside an alternative; `parent` is where to continue once the alternative is finished. */
interface Frame {
  readonly id: number;
  readonly rule: number;
  readonly alt: number;
  readonly pos: number;
  readonly parent: Frame | null;
}

/** A parser state: the set of stacks, each topped by a terminal (or `accepting` when the input may end here). */
export class GrammarState {
  /** next[b]: the state after byte b (null = b is not allowed); filled lazily. */
  readonly next: (GrammarState | null | undefined)[] = new Array(256);
  /** Cached token mask for this state, owned by GrammarConstraint (token-mask.ts). */
  mask: Uint32Array | null = null;
  constructor(readonly frames: readonly Frame[], readonly accepting: boolean, readonly key: string) {}

  /** True when nothing but the end of input may follow. */
  get finished(): boolean {
    return this.accepting && this.frames.length === 0;
  }
}

export class Grammar {
  private readonly frames = new Map<string, Frame>();
  private readonly states = new Map<string, GrammarState>();
  private nextFrameId = 1;
  readonly start: GrammarState;

  constructor(readonly rules: readonly Alternative[][], readonly root: number, readonly names: readonly string[]) {
    for (let r = 0; r < rules.length; r++) {
      if (rules[r].length === 0) throw new Error(`[grammar] rule '${names[r]}' has no alternatives; define it before build()`);
    }
    const frames: Frame[] = [];
    const acc = { accepting: false };
    for (let a = 0; a < rules[root].length; a++) this.expand(this.frame(root, a, 0, null), frames, acc, 0);
    this.start = this.state(frames, acc.accepting);
  }

  /** Number of distinct states built so far (for tests and limits). */
  get stateCount(): number {
    return this.states.size;
  }

  /** The state after byte b, or null when b cannot continue any parse. */
  advance(state: GrammarState, b: number): GrammarState | null {
    const cached = state.next[b];
    if (cached !== undefined) return cached;
    const out: Frame[] = [];
    const acc = { accepting: false };
    for (const f of state.frames) {
      const el = this.rules[f.rule][f.alt][f.pos];
      if (el.kind === "bytes" && hasByte(el.set, b)) this.expand(this.frame(f.rule, f.alt, f.pos + 1, f.parent), out, acc, 0);
    }
    const result = out.length === 0 && !acc.accepting ? null : this.state(out, acc.accepting);
    state.next[b] = result;
    return result;
  }

  /** The state after all bytes, or null. */
  advanceBytes(state: GrammarState, bytes: Uint8Array): GrammarState | null {
    let s: GrammarState | null = state;
    for (let i = 0; i < bytes.length && s; i++) s = this.advance(s, bytes[i]);
    return s;
  }

  /** True when the whole text is a sentence of the grammar. */
  matches(text: string): boolean {
    const s = this.advanceBytes(this.start, new TextEncoder().encode(text));
    return s !== null && s.accepting;
  }

  /** Pushes every terminal-topped stack reachable from f (finishing alternatives and entering referenced rules). */
  private expand(f: Frame | null, out: Frame[], acc: { accepting: boolean }, depth: number): void {
    if (depth > 10_000) throw new Error("[grammar] expansion too deep; is a rule left-recursive?");
    if (f === null) {
      acc.accepting = true;
      return;
    }
    const alt = this.rules[f.rule][f.alt];
    if (f.pos >= alt.length) {
      this.expand(f.parent, out, acc, depth + 1);
      return;
    }
    const el = alt[f.pos];
    if (el.kind === "bytes") {
      if (!out.includes(f)) out.push(f);
      return;
    }
    // Tail position: continue straight with the parent, so right recursion (item*, a string's characters) keeps
    // the stack constant and revisits the same states — whose transitions and masks are then cached.
    const after = f.pos + 1 >= alt.length ? f.parent : this.frame(f.rule, f.alt, f.pos + 1, f.parent);
    const alts = this.rules[el.rule];
    for (let a = 0; a < alts.length; a++) this.expand(this.frame(el.rule, a, 0, after), out, acc, depth + 1);
  }

  /** Interned frames: the same position with the same continuation is one object. */
  private frame(rule: number, alt: number, pos: number, parent: Frame | null): Frame {
    const key = `${rule},${alt},${pos},${parent ? parent.id : 0}`;
    let f = this.frames.get(key);
    if (!f) {
      f = { id: this.nextFrameId++, rule, alt, pos, parent };
      this.frames.set(key, f);
    }
    return f;
  }

  private state(frames: Frame[], accepting: boolean): GrammarState {
    const ids = frames.map((f) => f.id).sort((a, b) => a - b);
    const key = (accepting ? "A" : "") + ids.join(",");
    let s = this.states.get(key);
    if (!s) {
      s = new GrammarState(frames, accepting, key);
      this.states.set(key, s);
    }
    return s;
  }
}
