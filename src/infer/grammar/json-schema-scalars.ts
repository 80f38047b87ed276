// Strings and numbers under their JSON Schema keywords, as grammar elements: minLength/maxLength (counted in
// code points, as JSON Schema counts), pattern (regex-to-grammar.ts), format (date, time, date-time, uuid, email,
// ipv4, hostname, as patterns), and minimum/maximum/exclusiveMinimum/exclusiveMaximum for integers (exact ranges)
// and numbers (decimals with a fixed number of fraction digits inside the bounds).
// Each generated text is valid under the keywords; some valid texts are never generated (a shorter subset for
// huge maxLength, no exponent in bounded numbers, Feb 29 never written, formats in their common shapes), which
// keeps the output valid while the grammar stays small.
// Leaves out (→ UnsupportedSchemaError): multipleOf, pattern or format together with length bounds, other formats.
import type { Element, GrammarBuilder } from "./grammar.js";
import { LARGEST, scaledRange, type JsonRules } from "./json-primitives.js";
import { PatternError, patternElement } from "./regex-to-grammar.js";

export class UnsupportedSchemaError extends Error {
  override name = "UnsupportedSchemaError";
  /** JSON pointer of the offending schema inside the root schema. */
  constructor(readonly pointer: string, detail: string) {
    super(`[json-schema] at ${pointer || "#"}: ${detail}`);
  }
}

type Schema = Record<string, unknown>;

/** Length bounds above this are generated up to this many characters (a valid, shorter subset). */
export const MAX_GENERATED_LENGTH = 1024;

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?";
const DATE = "\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))";
const TIME = "(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,6})?(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)";
const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
/** Formats as patterns (RFC 3339 dates and times with a zone, RFC 4122 UUIDs, dot-atom e-mail addresses). */
export const FORMAT_PATTERNS: Record<string, string> = {
  date: DATE,
  time: TIME,
  "date-time": `${DATE}T${TIME}`,
  uuid: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
  email: `[a-zA-Z0-9_+-]{1,32}(?:\\.[a-zA-Z0-9_+-]{1,32}){0,3}@${LABEL}(?:\\.${LABEL}){0,3}\\.[a-z]{2,10}`,
  ipv4: `${OCTET}(?:\\.${OCTET}){3}`,
  hostname: `${LABEL}(?:\\.${LABEL}){0,4}`,
};

export function count(v: unknown, pointer: string, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || (v as number) < 0) throw new UnsupportedSchemaError(pointer, `${name} must be an integer ≥ 0, got ${JSON.stringify(v)}`);
  return v as number;
}

/** A JSON string under minLength/maxLength/pattern/format. */
export function stringElement(g: GrammarBuilder, j: JsonRules, s: Schema, pointer: string): Element {
  const min = count(s.minLength, pointer, "minLength") ?? 0;
  const max = count(s.maxLength, pointer, "maxLength") ?? Infinity;
  if (min > max) throw new UnsupportedSchemaError(pointer, `minLength ${min} > maxLength ${max}`);
  const quoted = (inner: Element[]) => g.ref(g.rule(`${pointer}|string`, [[...g.literal('"'), ...inner, ...g.literal('"')]]));
  const lengths = s.minLength !== undefined || s.maxLength !== undefined;
  if (s.format !== undefined || s.pattern !== undefined) {
    const keyword = s.format !== undefined ? "format" : "pattern";
    if (lengths || (s.format !== undefined && s.pattern !== undefined)) {
      throw new UnsupportedSchemaError(pointer, `${keyword} together with ${s.format !== undefined && s.pattern !== undefined ? "pattern" : "minLength/maxLength"} cannot be enforced; keep one`);
    }
    let source: string;
    if (s.format !== undefined) {
      if (typeof s.format !== "string" || FORMAT_PATTERNS[s.format] === undefined) {
        throw new UnsupportedSchemaError(pointer, `format ${JSON.stringify(s.format)} cannot be enforced (supported: ${Object.keys(FORMAT_PATTERNS).join(", ")})`);
      }
      source = FORMAT_PATTERNS[s.format];
    } else {
      if (typeof s.pattern !== "string") throw new UnsupportedSchemaError(pointer, "pattern must be a string");
      source = s.pattern;
    }
    try {
      return quoted([patternElement(g, source, `${pointer}|${keyword}`)]);
    } catch (err) {
      if (err instanceof PatternError) throw new UnsupportedSchemaError(pointer, err.message);
      throw err;
    }
  }
  if (!lengths) return j.string;
  if (min > MAX_GENERATED_LENGTH) {
    throw new UnsupportedSchemaError(pointer, `minLength ${min} is above ${MAX_GENERATED_LENGTH}, more than constrained decoding writes`);
  }
  // Counted characters up to the bound; with no upper bound, any characters after the minimum.
  const inner = max === Infinity
    ? [...g.repeat(`${pointer}|len`, [j.countedChar], min, min), g.star(`${pointer}|more`, [j.char])]
    : g.repeat(`${pointer}|len`, [j.countedChar], min, Math.min(max, MAX_GENERATED_LENGTH));
  return quoted(inner);
}

function decimals(x: number): number {
  const [mantissa, exponent] = x.toString().split("e");
  const places = (mantissa.split(".")[1] ?? "").length - Number(exponent ?? 0);
  return Math.max(0, places);
}

const LIMIT = 1e16;

/** x·10^k as an exact integer (x has at most k decimals); values beyond ±1e16 are clamped there. */
function scaled(x: number, k: number): bigint {
  if (Math.abs(x) >= LIMIT) return BigInt(Math.sign(x)) * 10n ** BigInt(16 + k);
  return BigInt(x.toFixed(k).replace(".", ""));
}

function bound(s: Schema, pointer: string, key: string): number | undefined {
  const v = s[key];
  if (v === undefined || typeof v === "boolean") return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new UnsupportedSchemaError(pointer, `${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** An integer or number under minimum/maximum/exclusiveMinimum/exclusiveMaximum (draft-4 boolean forms too). */
export function numberElement(g: GrammarBuilder, j: JsonRules, s: Schema, type: "integer" | "number", pointer: string): Element {
  if (s.multipleOf !== undefined) throw new UnsupportedSchemaError(pointer, "multipleOf cannot be enforced by constrained decoding");
  const minimum = bound(s, pointer, "minimum");
  const maximum = bound(s, pointer, "maximum");
  let exMin = bound(s, pointer, "exclusiveMinimum");
  let exMax = bound(s, pointer, "exclusiveMaximum");
  if (s.exclusiveMinimum === true && minimum !== undefined) exMin = minimum;
  if (s.exclusiveMaximum === true && maximum !== undefined) exMax = maximum;
  if ([minimum, maximum, exMin, exMax].every((v) => v === undefined)) return type === "integer" ? j.integer : j.number;
  const k = type === "integer" ? 0 : Math.max(1, ...[minimum, maximum, exMin, exMax].map((v) => (v === undefined ? 0 : decimals(v))));
  if (k > 8) throw new UnsupportedSchemaError(pointer, "numeric bounds with more than 8 decimals cannot be enforced");
  // Lower bound on n (value = n·10^-k): the tighter of minimum (inclusive) and exclusiveMinimum.
  let lo: bigint | null = null;
  let hi: bigint | null = null;
  const raise = (v: bigint) => (lo = lo === null || v > lo ? v : lo);
  const lower = (v: bigint) => (hi = hi === null || v < hi ? v : hi);
  if (type === "integer") {
    if (minimum !== undefined && s.exclusiveMinimum !== true) raise(BigInt(Math.ceil(Math.max(-LIMIT, minimum))));
    if (exMin !== undefined) raise(BigInt(Math.floor(Math.max(-LIMIT, exMin))) + 1n);
    if (maximum !== undefined && s.exclusiveMaximum !== true) lower(BigInt(Math.floor(Math.min(LIMIT, maximum))));
    if (exMax !== undefined) lower(BigInt(Math.ceil(Math.min(LIMIT, exMax))) - 1n);
  } else {
    if (minimum !== undefined && s.exclusiveMinimum !== true) raise(scaled(minimum, k));
    if (exMin !== undefined) raise(scaled(exMin, k) + 1n);
    if (maximum !== undefined && s.exclusiveMaximum !== true) lower(scaled(maximum, k));
    if (exMax !== undefined) lower(scaled(exMax, k) - 1n);
  }
  if ((lo !== null && hi !== null && lo > hi) || (lo !== null && lo > LARGEST) || (hi !== null && hi < -LARGEST)) {
    throw new UnsupportedSchemaError(pointer, `no ${type} of at most 16 digits satisfies the bounds`);
  }
  return scaledRange(g, `${pointer}|${type}-range`, lo, hi, k);
}
