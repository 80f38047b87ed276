// Tokenizer regexes as Node 20 can run them. Hugging Face tokenizer.json patterns are written for Oniguruma
// (Rust `onig`), whose syntax JS does not fully share: inline `(?i:…)` groups (a SyntaxError before V8 12.5),
// possessive quantifiers (`++`, `*+`, `?+`, `{n,m}+`; never in JS), `\x{HHHH}`, `\A`/`\z`, script names such as
// `\p{Han}`, and identity escapes (`\'`) that the `u` flag rejects. `\s` also differs: onig's is Unicode
// White_Space (with U+0085, without U+FEFF). toJsRegex rewrites all of these into an equivalent `u` regex.
// Also here: Split's five behaviours over a regex or literal pattern.
// Leaves out: backreferences into rewritten patterns (tokenizer regexes have none), onig's \h/\R/\X, and
// case-insensitive matching of non-ASCII letters inside (?i:…) (only ASCII letters are expanded).

/** Unicode White_Space (onig/Rust `\s`), as class contents. */
const WHITE_SPACE = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/** Characters that may be escaped under the `u` flag (all others must appear unescaped). */
const SYNTAX_CHARS = new Set("^$\\.*+?()[]{}|/-".split(""));

const SCRIPT_NAMES = new Set([
  "Han", "Hiragana", "Katakana", "Hangul", "Latin", "Cyrillic", "Greek", "Arabic", "Hebrew", "Thai", "Devanagari",
  "Khmer", "Armenian", "Georgian", "Bengali", "Tamil", "Lao", "Tibetan", "Mongolian", "Ethiopic",
]);

export class TokenizerRegexError extends Error {
  override name = "TokenizerRegexError";
}

function caseExpand(ch: string, inClass: boolean): string {
  const lo = ch.toLowerCase();
  const up = ch.toUpperCase();
  if (lo === up) return ch;
  return inClass ? lo + up : `[${lo}${up}]`;
}

/** Rewrites an Oniguruma-flavoured pattern into JS source for `new RegExp(src, "gu")`. */
export function rewriteRegexSource(pattern: string): string {
  let out = "";
  let inClass = false;
  // A stack of open groups: where each group's text starts in `out`, and whether it is an (?i:…) group.
  const groups: { start: number; caseless: boolean }[] = [];
  let caselessDepth = 0;
  let lastAtomStart = -1; // where the most recent complete atom starts in `out` (for possessive rewrites)
  let atomicCount = 0;
  let i = 0;
  const n = pattern.length;
  while (i < n) {
    const ch = pattern[i];
    if (ch === "\\") {
      const next = pattern[i + 1];
      if (next === undefined) throw new TokenizerRegexError(`regex ${JSON.stringify(pattern)}: ends in a lone backslash`);
      const atomStart = out.length;
      let consumed = 2;
      if (next === "s") out += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (next === "S") out += inClass ? "\\S" : `[^${WHITE_SPACE}]`;
      else if (next === "A") out += "^";
      else if (next === "z" || next === "Z") out += "$";
      else if (next === "x" && pattern[i + 2] === "{") {
        const close = pattern.indexOf("}", i + 3);
        out += `\\u{${pattern.slice(i + 3, close)}}`;
        consumed = close + 1 - i;
      } else if ((next === "p" || next === "P") && pattern[i + 2] === "{") {
        const close = pattern.indexOf("}", i + 3);
        let name = pattern.slice(i + 3, close);
        if (name.startsWith("^")) throw new TokenizerRegexError(`regex ${JSON.stringify(pattern)}: \\p{^…} is not supported`);
        if (SCRIPT_NAMES.has(name)) name = `Script=${name}`;
        out += `\\${next}{${name}}`;
        consumed = close + 1 - i;
      } else if (/[0-9A-Za-z]/.test(next)) {
        out += caselessDepth > 0 && !/[dDwWbBnrtvf0-9pPuxck]/.test(next) ? caseExpand(next, inClass) : `\\${next}`;
      } else {
        // Identity escape: keep it only where `u` allows it.
        out += SYNTAX_CHARS.has(next) ? `\\${next}` : next === " " ? " " : next;
      }
      i += consumed;
      if (!inClass) lastAtomStart = atomStart;
      continue;
    }
    if (inClass) {
      if (ch === "]") inClass = false;
      out += caselessDepth > 0 && /[A-Za-z]/.test(ch) ? caseExpand(ch, true) : ch;
      i++;
      continue;
    }
    if (ch === "[") {
      lastAtomStart = out.length;
      inClass = true;
      out += ch;
      i++;
      // A leading "]" or "^]" is a literal in onig.
      if (pattern[i] === "^") { out += "^"; i++; }
      if (pattern[i] === "]") { out += "\\]"; i++; }
      continue;
    }
    if (ch === "(") {
      if (pattern.startsWith("(?i:", i)) {
        groups.push({ start: out.length, caseless: true });
        caselessDepth++;
        out += "(?:";
        i += 4;
        continue;
      }
      if (pattern.startsWith("(?i)", i)) throw new TokenizerRegexError(`regex ${JSON.stringify(pattern)}: a bare (?i) flag is not supported; use (?i:…)`);
      groups.push({ start: out.length, caseless: false });
      out += "(";
      i++;
      continue;
    }
    if (ch === ")") {
      const g = groups.pop();
      if (!g) throw new TokenizerRegexError(`regex ${JSON.stringify(pattern)}: unbalanced ")" at ${i}`);
      if (g.caseless) caselessDepth--;
      out += ")";
      lastAtomStart = g.start;
      i++;
      continue;
    }
    if (ch === "*" || ch === "+" || ch === "?" || ch === "{") {
      let q = ch;
      let j = i + 1;
      if (ch === "{") {
        const m = /^\{\d*(,\d*)?\}/.exec(pattern.slice(i));
        if (!m) {
          out += "\\{"; // a literal brace in onig
          lastAtomStart = out.length - 2;
          i++;
          continue;
        }
        q = m[0];
        j = i + q.length;
      }
      if (pattern[j] === "+" && lastAtomStart >= 0) {
        // Possessive: X*+ ≡ (?=(X*))\k — a lookahead captures greedily, the backreference makes it atomic.
        const name = `zyAtomic${atomicCount++}`;
        const atom = out.slice(lastAtomStart);
        out = out.slice(0, lastAtomStart) + `(?=(?<${name}>${atom}${q}))\\k<${name}>`;
        i = j + 1;
        lastAtomStart = -1;
        continue;
      }
      out += q;
      if (pattern[j] === "?") { out += "?"; j++; } // lazy
      i = j;
      lastAtomStart = -1;
      continue;
    }
    lastAtomStart = out.length;
    if (caselessDepth > 0 && /[A-Za-z]/.test(ch)) out += caseExpand(ch, false);
    else if (ch === "/") out += "\\/";
    else out += ch;
    i++;
  }
  if (inClass || groups.length > 0) throw new TokenizerRegexError(`regex ${JSON.stringify(pattern)}: unterminated class or group`);
  return out;
}

/** Compiles an Oniguruma-flavoured tokenizer pattern for Node 20 (flags "gu"). `field` names where it came from. */
export function compileTokenizerRegex(pattern: string, field: string): RegExp {
  let src: string;
  try {
    src = rewriteRegexSource(pattern);
    return new RegExp(src, "gu");
  } catch (err) {
    throw new TokenizerRegexError(`${field}: cannot compile regex ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

export function escapeRegex(literal: string): string {
  return literal.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

export type SplitBehavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";

/** Longest stretch a regex is run over once V8's regex engine has run out of stack on a giant match. */
const REGEX_WINDOW = 1 << 16;

/** Calls found(start, end) for each non-empty match of the "g" regex `re`, left to right. A single match of
 *  millions of characters (an 8-million-letter "word") overflows V8's backtracking stack (RangeError); from there
 *  on the text is matched in windows of REGEX_WINDOW characters, so such a word is cut into window-sized pieces
 *  instead of failing the request. Ordinary text never reaches the fallback, and its pieces are unchanged. */
export function forEachMatch(text: string, re: RegExp, found: (start: number, end: number) => void): void {
  let pos = 0;
  let windowed = false;
  while (pos <= text.length) {
    let start: number;
    let end: number;
    if (!windowed) {
      re.lastIndex = pos;
      let m: RegExpExecArray | null;
      try {
        m = re.exec(text);
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        windowed = true;
        continue;
      }
      if (m === null) return;
      start = m.index;
      end = start + m[0].length;
    } else {
      if (pos >= text.length) return;
      let stop = Math.min(text.length, pos + REGEX_WINDOW);
      if (stop < text.length && /[\ud800-\udbff]/.test(text[stop - 1])) stop--; // never split a surrogate pair
      re.lastIndex = 0;
      const m = re.exec(text.slice(pos, stop));
      if (m === null) {
        pos = stop;
        continue;
      }
      start = pos + m.index;
      end = start + m[0].length;
    }
    if (end === start) {
      pos = start + 1;
      continue;
    }
    found(start, end);
    pos = end;
  }
}

/** Hugging Face Split: cut `text` at the matches of `re` (a "g" regex) and emit the non-empty pieces the
 *  behaviour asks for. `invert` swaps the roles of matches and the text between them. */
export function splitByRegex(text: string, re: RegExp, behavior: SplitBehavior, invert: boolean, emit: (piece: string) => void): void {
  // Fast path for the overwhelmingly common case.
  if (behavior === "Isolated" && !invert) {
    let prev = 0;
    forEachMatch(text, re, (s, e) => {
      if (s > prev) emit(text.slice(prev, s));
      emit(text.slice(s, e));
      prev = e;
    });
    if (prev < text.length) emit(prev === 0 ? text : text.slice(prev));
    return;
  }
  // General case: list (start, end, isMatch) spans, then combine by behaviour.
  const spans: [number, number, boolean][] = [];
  let prev = 0;
  forEachMatch(text, re, (s, e) => {
    if (s > prev) spans.push([prev, s, invert]);
    spans.push([s, e, !invert]);
    prev = e;
  });
  if (prev < text.length) spans.push([prev, text.length, invert]);
  let pendingStart = -1; // for merges: where the piece being built starts
  for (let k = 0; k < spans.length; k++) {
    const [s, e, isMatch] = spans[k];
    switch (behavior) {
      case "Removed":
        if (!isMatch) emit(text.slice(s, e));
        break;
      case "Isolated":
        emit(text.slice(s, e));
        break;
      case "MergedWithPrevious":
        // A match joins the piece before it.
        if (isMatch && pendingStart >= 0) {
          emit(text.slice(pendingStart, e));
          pendingStart = -1;
        } else {
          if (pendingStart >= 0) emit(text.slice(pendingStart, s));
          if (isMatch) emit(text.slice(s, e));
          else pendingStart = s;
        }
        break;
      case "MergedWithNext":
        // A match starts the piece after it.
        if (isMatch) {
          if (pendingStart >= 0) emit(text.slice(pendingStart, s));
          pendingStart = s;
        } else if (pendingStart < 0) {
          emit(text.slice(s, e));
        } else {
          emit(text.slice(pendingStart, e));
          pendingStart = -1;
        }
        break;
      case "Contiguous":
        if (isMatch) {
          if (pendingStart < 0) pendingStart = s;
          const nextIsMatch = k + 1 < spans.length && spans[k + 1][2];
          if (!nextIsMatch) {
            emit(text.slice(pendingStart, e));
            pendingStart = -1;
          }
        } else {
          emit(text.slice(s, e));
        }
        break;
    }
  }
  if (pendingStart >= 0) emit(text.slice(pendingStart));
}
