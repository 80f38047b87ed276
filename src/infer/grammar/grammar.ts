// A byte-level context-free grammar and its incremental parser, for constrained decoding.
// A grammar is a list of rules; each rule is a list of alternatives; each alternative is a sequence of elements that
// are either a byte set (a terminal) or a reference to another rule. The parser keeps every way the bytes seen so
// far can continue, as a set of stacks (llama.cpp's grammar algorithm), and states are interned so that the same
// set of stacks is one object: transitions and token masks computed for it are cached (a lazily built automaton).
// Byte-level on purpose: tokens are byte strings, and a multi-byte UTF-8 character may be split across tokens.
// Left recursion (a rule that can reach itself before reading a byte, as a schema whose $ref points back to itself
// does) is refused when the grammar is built (GrammarError), since expanding it would never end; so is expansion
// deeper than MAX_EXPANSION_DEPTH rules.
// Leaves out: a GBNF text parser (grammars are built in code by json-schema.ts).

/** A grammar that cannot be used: left-recursive, or nested too deeply. Callers turn it into a 400. */
export class GrammarError extends Error {
  override name = "GrammarError";
}

/** How many rules one expansion may enter without reading a byte (each is a stack frame here). */
export const MAX_EXPANSION_DEPTH = 1000;

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

  /** A rule matching exactly one of `texts`, built as a byte trie: shared prefixes are one path, so a
   *  50,000-value enum is parsed with a handful of stacks per step instead of 50,000. */
  literalSet(name: string, texts: readonly string[]): Element {
    // Byte strings (one char per byte) sorted: a trie node is a run of strings sharing a prefix, found by scanning.
    const strs = texts.map((t) => Buffer.from(t, "utf8").toString("latin1")).sort();
    const terminals = new Map<number, Element>();
    const byte = (b: number): Element => {
      let e = terminals.get(b);
      if (!e) terminals.set(b, (e = this.bytes((x) => x === b)));
      return e;
    };
    const root = this.declare(`${name}#0`);
    // Each task defines one branching rule for strs[lo, hi), all sharing their first `depth` bytes (no recursion:
    // a pathological set such as "a", "aa", "aaa", … would be a deep trie).
    const tasks: { rule: number; lo: number; hi: number; depth: number }[] = [{ rule: root, lo: 0, hi: strs.length, depth: 0 }];
    let rules = 1;
    while (tasks.length > 0) {
      const { rule, lo: start, hi, depth } = tasks.pop()!;
      const alts: Element[][] = [];
      let lo = start;
      if (lo < hi && strs[lo].length === depth) alts.push([]);
      while (lo < hi && strs[lo].length === depth) lo++; // the text ending here, and its duplicates
      while (lo < hi) {
        const c = strs[lo].charCodeAt(depth);
        let end = lo + 1;
        while (end < hi && strs[end].charCodeAt(depth) === c) end++;
        // Follow the straight stretch shared by the whole group.
        const alt: Element[] = [byte(c)];
        let d = depth + 1;
        while (strs[lo].length > d && strs[end - 1].length > d && strs[lo].charCodeAt(d) === strs[end - 1].charCodeAt(d)) {
          alt.push(byte(strs[lo].charCodeAt(d)));
          d++;
        }
        const leaf = strs[lo].length === d && strs[end - 1].length === d;
        if (!leaf) {
          const child = this.declare(`${name}#${rules++}`);
          tasks.push({ rule: child, lo, hi: end, depth: d });
          alt.push(this.ref(child));
        }
        alts.push(alt);
        lo = end;
      }
      this.define(rule, alts);
    }
    return this.ref(root);
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
  /** The largest distanceToAccept of a state one allowed token away (set with `mask`). */
  maxNextDistance = 0;
  /** Fewest bytes until the input may end (0 when accepting); filled by Grammar.distanceToAccept. */
  distance = -1;
  constructor(readonly frames: readonly Frame[], readonly accepting: boolean, readonly key: string) {}

  /** True when nothing but the end of input may follow. */
  get finished(): boolean {
    return this.accepting && this.frames.length === 0;
  }
}

export class Grammar {
  private readonly frames = new Map<string, Frame>();
  /** Fewest bytes each rule can match (Infinity for a rule that never finishes). */
  private readonly minLength: Float64Array;
  /** Fewest bytes to finish a frame's alternative and all its parents, by frame id. */
  private readonly restLength = new Map<number, number>();
  private readonly states = new Map<string, GrammarState>();
  private nextFrameId = 1;
  readonly start: GrammarState;

  constructor(readonly rules: readonly Alternative[][], readonly root: number, readonly names: readonly string[]) {
    for (let r = 0; r < rules.length; r++) {
      if (rules[r].length === 0) throw new Error(`[grammar] rule '${names[r]}' has no alternatives; define it before build()`);
    }
    checkNoLeftRecursion(rules, names);
    this.minLength = minimumLengths(rules);
    const frames: Frame[] = [];
    const acc = { accepting: false };
    for (let a = 0; a < rules[root].length; a++) this.expand(this.frame(root, a, 0, null), frames, acc, 0);
    this.start = this.state(frames, acc.accepting);
  }

  /** The fewest bytes after which the input may end, from this state (0 when it is accepting). Constrained
   *  decoding uses it to close the output before the token budget runs out (token-mask.ts). */
  distanceToAccept(state: GrammarState): number {
    if (state.distance >= 0) return state.distance;
    let best = state.accepting ? 0 : Infinity;
    for (const f of state.frames) if (best > 0) best = Math.min(best, this.rest(f));
    state.distance = best;
    return best;
  }

  /** Bytes to finish f's alternative from f.pos, then every parent's (iterative: parent chains can be long). */
  private rest(f: Frame): number {
    const pending: Frame[] = [];
    let cur: Frame | null = f;
    while (cur !== null && !this.restLength.has(cur.id)) {
      pending.push(cur);
      cur = cur.parent;
    }
    let above = cur === null ? 0 : this.restLength.get(cur.id)!;
    for (let i = pending.length - 1; i >= 0; i--) {
      const p = pending[i];
      const alt = this.rules[p.rule][p.alt];
      let own = 0;
      for (let k = p.pos; k < alt.length; k++) {
        const el = alt[k];
        own += el.kind === "bytes" ? 1 : this.minLength[el.rule];
      }
      above += own;
      this.restLength.set(p.id, above);
    }
    return above;
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
    if (depth > MAX_EXPANSION_DEPTH) throw new GrammarError(`[grammar] expansion deeper than ${MAX_EXPANSION_DEPTH} rules; nest less deeply`);
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

/** Throws GrammarError when some rule can reach itself without reading a byte (left recursion). Iterative, so that
 *  deep grammars cannot overflow the stack here either. */
function checkNoLeftRecursion(rules: readonly Alternative[][], names: readonly string[]): void {
  // Nullable rules (can match the empty string), by fixpoint.
  const nullable = new Uint8Array(rules.length);
  // Passes alternate direction, so chains declared either way (tries, repeats) settle in a pass or two.
  for (let changed = true, pass = 0; changed; pass++) {
    changed = false;
    for (let i = 0; i < rules.length; i++) {
      const r = pass % 2 === 0 ? rules.length - 1 - i : i;
      if (nullable[r]) continue;
      if (rules[r].some((alt) => alt.every((el) => el.kind === "ref" && nullable[el.rule]))) {
        nullable[r] = 1;
        changed = true;
      }
    }
  }
  // left[r]: rules r can enter before reading a byte.
  const left: number[][] = rules.map((alts) => {
    const out: number[] = [];
    for (const alt of alts) {
      for (const el of alt) {
        if (el.kind === "bytes") break;
        out.push(el.rule);
        if (!nullable[el.rule]) break;
      }
    }
    return out;
  });
  // Depth-first search for a cycle (0 = unseen, 1 = on the path, 2 = done), with an explicit stack.
  const mark = new Uint8Array(rules.length);
  for (let root = 0; root < rules.length; root++) {
    if (mark[root]) continue;
    const stack: [number, number][] = [[root, 0]];
    mark[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [r, i] = top;
      if (i >= left[r].length) {
        mark[r] = 2;
        stack.pop();
        continue;
      }
      top[1]++;
      const next = left[r][i];
      if (mark[next] === 1) {
        throw new GrammarError(`[grammar] rule '${names[next]}' refers to itself before any byte is written (left recursion), ` +
          "e.g. a schema whose $ref leads back to itself through allOf/anyOf without an object or array in between");
      }
      if (mark[next] === 0) {
        mark[next] = 1;
        stack.push([next, 0]);
      }
    }
  }
}

/** Fewest bytes each rule matches, by fixpoint (Infinity where no alternative ever finishes). */
function minimumLengths(rules: readonly Alternative[][]): Float64Array {
  const min = new Float64Array(rules.length).fill(Infinity);
  for (let changed = true, pass = 0; changed; pass++) {
    changed = false;
    for (let i = 0; i < rules.length; i++) {
      const r = pass % 2 === 0 ? rules.length - 1 - i : i;
      for (const alt of rules[r]) {
        let n = 0;
        for (const el of alt) n += el.kind === "bytes" ? 1 : min[el.rule];
        if (n < min[r]) {
          min[r] = n;
          changed = true;
        }
      }
    }
  }
  return min;
}
