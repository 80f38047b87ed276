// Structure-aware mutators for the fuzzing harness: byte-level edits for binary files (bit flips, truncation,
// overwrites of 4/8-byte little-endian integers with boundary values — the counts, lengths and offsets of GGUF and
// safetensors headers), JSON edits that keep the document parseable but change what it says (a number becomes 0, −1,
// 2^31−1, 2^53, 1e308; a value changes type; an array grows or empties; a key disappears or is duplicated under a
// new name; nesting deepens), and text edits for chat templates (Jinja fragments spliced in).
// Leaves out: coverage feedback (this is a generation fuzzer with a seeded RNG: runs are reproducible by seed).
import { Rng } from "../../src/core/rng.js";

export class FuzzRng extends Rng {
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.nextFloat() < p;
  }
}

/** Integers that break length and count arithmetic. */
export const INTERESTING_INTS = [0, 1, -1, 2, 3, 7, 8, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32,
  2 ** 53 - 1, 2 ** 53, -(2 ** 31), 1e6, 1e8, 1e9];
const INTERESTING_JSON: unknown[] = [...INTERESTING_INTS, 0.5, -0.0, 1e308, -1e308, 1e-320, "", "x", "%E0", "\u0000", "\uD800",
  "<|im_start|>", "a".repeat(1000), null, true, false, [], {}, [[[]]], { type: "object" }];

/** Byte-level mutation of a binary file; `hot` is the header range most edits aim at (counts and offsets live there). */
export function mutateBytes(seed: Uint8Array, rng: FuzzRng, hot = Math.min(seed.length, 4096)): Uint8Array {
  let out: Uint8Array = new Uint8Array(seed);
  const edits = 1 + rng.int(4);
  for (let e = 0; e < edits; e++) {
    const at = rng.chance(0.85) ? rng.int(Math.max(1, hot)) : rng.int(Math.max(1, out.length));
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    switch (rng.int(7)) {
      case 0: if (at < out.length) out[at] ^= 1 << rng.int(8); break;
      case 1: if (at < out.length) out[at] = rng.int(256); break;
      case 2: if (at + 4 <= out.length) view.setUint32(at & ~3, rng.pick(INTERESTING_INTS) >>> 0, true); break;
      case 3: if (at + 8 <= out.length) view.setBigUint64(at & ~7, BigInt.asUintN(64, BigInt(Math.trunc(rng.pick(INTERESTING_INTS)))), true); break;
      case 4: if (at + 8 <= out.length) view.setBigUint64(at, BigInt.asUintN(64, BigInt(rng.pick(INTERESTING_INTS))), true); break;
      case 5: out = out.slice(0, rng.chance(0.5) ? at : rng.int(out.length + 1)); break; // truncation
      case 6: { // duplicate or delete a run of bytes
        const len = 1 + rng.int(64);
        const p = Math.min(at, out.length);
        out = rng.chance(0.5) ? concat(out.subarray(0, p), out.subarray(Math.min(out.length, p + len)))
          : concat(out.subarray(0, p), out.subarray(p, p + len), out.subarray(p));
        break;
      }
    }
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

type Json = unknown;

function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = [], limit = 4000): (string | number)[][] {
  if (out.length >= limit) return out;
  out.push(at);
  if (Array.isArray(v)) {
    // Long arrays (vocabularies, merges): sample a few elements, not all.
    const idx = v.length <= 16 ? v.map((_, i) => i) : [0, 1, v.length - 1, ...Array.from({ length: 8 }, (_, k) => Math.floor((k * 7919) % v.length))];
    for (const i of idx) paths(v[i], [...at, i], out, limit);
  } else if (v !== null && typeof v === "object") {
    const keys = Object.keys(v as object);
    const sample = keys.length <= 64 ? keys : [...keys.slice(0, 16), ...keys.slice(-16)];
    for (const k of sample) paths((v as Record<string, Json>)[k], [...at, k], out, limit);
  }
  return out;
}

function getAt(v: Json, p: (string | number)[]): Json {
  let cur = v;
  for (const k of p) cur = (cur as Record<string | number, Json>)?.[k];
  return cur;
}

function setAt(root: Json, p: (string | number)[], value: Json): Json {
  if (p.length === 0) return value;
  const parent = getAt(root, p.slice(0, -1)) as Record<string | number, Json>;
  if (parent !== null && typeof parent === "object") parent[p[p.length - 1]] = value;
  return root;
}

/** A JSON document mutated in place of a deep copy: 1–4 edits at random paths. */
export function mutateJson(seed: Json, rng: FuzzRng): Json {
  let doc = structuredClone(seed);
  const edits = 1 + rng.int(4);
  for (let e = 0; e < edits; e++) {
    const all = paths(doc);
    const p = rng.pick(all);
    const cur = getAt(doc, p);
    switch (rng.int(9)) {
      case 0: case 1: doc = setAt(doc, p, rng.pick(INTERESTING_JSON)); break;
      case 2: if (typeof cur === "number") doc = setAt(doc, p, rng.pick(INTERESTING_INTS)); break;
      case 3: { // delete a key / element
        const parent = getAt(doc, p.slice(0, -1));
        if (Array.isArray(parent)) parent.splice(p[p.length - 1] as number, 1);
        else if (parent && typeof parent === "object" && p.length > 0) delete (parent as Record<string, Json>)[p[p.length - 1] as string];
        break;
      }
      case 4: if (Array.isArray(cur)) cur.push(...Array.from({ length: 1 + rng.int(3) }, () => structuredClone(rng.pick(cur.length > 0 ? cur : INTERESTING_JSON)))); break;
      case 5: if (Array.isArray(cur)) cur.length = rng.int(cur.length + 1); break;
      case 6: { // deepen: wrap in itself a few times
        let v = cur;
        for (let d = 0, n = 1 + rng.int(rng.chance(0.1) ? 2000 : 6); d < n; d++) v = rng.chance(0.5) ? [v] : { [rng.pick(["type", "items", "anyOf", "x"])]: v };
        doc = setAt(doc, p, v);
        break;
      }
      case 7: if (cur && typeof cur === "object" && !Array.isArray(cur)) {
        const keys = Object.keys(cur);
        if (keys.length > 0) (cur as Record<string, Json>)[`${rng.pick(keys)}${rng.pick(["", "_", "$"])}`] = rng.pick(INTERESTING_JSON);
      } break;
      case 8: if (typeof cur === "string") doc = setAt(doc, p, mutateText(cur, rng)); break;
    }
  }
  return doc;
}

const TEXT_FRAGMENTS = ["{{", "}}", "{%", "%}", "{% for m in messages %}", "{% endfor %}", "{% if %}", "{{ messages }}",
  "{{ raise_exception('x') }}", "{% for i in range(1000) %}x{% endfor %}", "{{ 'a' * 1000 }}", "{% set x = x %}",
  "{{ messages[0]['content'] * 1000 }}", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "\u0000", "<|im_end|>", "%", "'", "\""];

/** Text mutation (chat templates, strings inside JSON): splice Jinja fragments, delete or repeat a span. */
export function mutateText(s: string, rng: FuzzRng): string {
  let out = s;
  for (let e = 0, n = 1 + rng.int(3); e < n; e++) {
    const at = rng.int(out.length + 1);
    switch (rng.int(4)) {
      case 0: out = out.slice(0, at) + rng.pick(TEXT_FRAGMENTS) + out.slice(at); break;
      case 1: out = out.slice(0, at) + out.slice(at + 1 + rng.int(20)); break;
      case 2: out = out.slice(0, at) + out.slice(at, at + 1 + rng.int(30)).repeat(2 + rng.int(4)) + out.slice(at); break;
      case 3: out = out.slice(0, at) + String.fromCharCode(rng.int(0x10000)) + out.slice(at); break;
    }
  }
  return out;
}
