// JSON Schema → byte-level grammar (grammar.ts), so that constrained decoding can only produce JSON that validates.
// Fails closed: any keyword whose constraint the grammar cannot enforce throws UnsupportedSchemaError (the server
// turns it into a 400 naming the keyword), never a grammar that would let invalid output through.
// Supported: type (and type lists), properties/required (required names without a schema take any value),
// additionalProperties false/true/schema (declared properties are emitted in schema order; extra properties are
// never generated, which is valid whatever additionalProperties says; with no properties, a map under it), items,
// minItems/maxItems, enum, const, anyOf/oneOf (as alternatives, so oneOf's "exactly one" is only enforced when
// the branches are disjoint — the usual case of different types or const values), allOf with one member, local
// $ref (#/$defs/…, #/definitions/…, #; recursion through objects/arrays works, a cycle that writes nothing is
// refused), nullable, annotations; strings and numbers under their keywords in json-schema-scalars.ts (lengths,
// pattern, format, numeric bounds).
// Leaves out (→ UnsupportedSchemaError): multipleOf, uniqueItems, prefixItems, contains, not, if/then/else,
// patternProperties, propertyNames, min/maxProperties, dependent*, unevaluated*, remote $ref, allOf of several.
// Whitespace between tokens is bounded (as llama.cpp) and numbers have at most 16 digits; schemas nest at most
// MAX_SCHEMA_DEPTH levels.
import { GrammarBuilder, type Element, type Grammar } from "./grammar.js";
import { JsonRules } from "./json-primitives.js";
import { count, numberElement, stringElement, UnsupportedSchemaError } from "./json-schema-scalars.js";

export { UnsupportedSchemaError };

type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(["title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
  "readOnly", "writeOnly", "$defs", "definitions", "strict"]);
const HANDLED = new Set(["type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
  "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum", "const",
  "anyOf", "oneOf", "allOf", "$ref", "nullable"]);
const MAX_REPEAT = 512;
/** Schema nesting (through properties, items, unions and $ref chains) the compiler follows. */
export const MAX_SCHEMA_DEPTH = 64;

export interface CompileOptions {
  /** Grammar rule name prefix (several schemas can share one builder, e.g. one per tool). */
  prefix?: string;
}

/** Compiles schemas into rules of one GrammarBuilder; `value(schema)` returns an element matching the JSON. */
export class JsonSchemaCompiler {
  readonly json: JsonRules;
  private readonly refRules = new Map<string, number>();
  private depth = 0;

  constructor(readonly g: GrammarBuilder = new GrammarBuilder()) {
    this.json = new JsonRules(g);
  }

  /** An element matching exactly the JSON texts valid under `schema` (the root for its local $refs). */
  value(schema: unknown, root: unknown = schema, pointer = "#"): Element {
    return this.compile(schema, root, pointer);
  }

  private compile(schema: unknown, root: unknown, pointer: string): Element {
    if (this.depth >= MAX_SCHEMA_DEPTH) {
      throw new UnsupportedSchemaError(pointer, `the schema nests deeper than ${MAX_SCHEMA_DEPTH} levels (properties, items, unions and $ref chains)`);
    }
    this.depth++;
    try {
      return this.compileNode(schema, root, pointer);
    } finally {
      this.depth--;
    }
  }

  private compileNode(schema: unknown, root: unknown, pointer: string): Element {
    const g = this.g;
    if (schema === true) return this.json.value;
    if (schema === false) throw new UnsupportedSchemaError(pointer, "the schema `false` matches nothing");
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
      throw new UnsupportedSchemaError(pointer, `a schema must be an object or a boolean, got ${JSON.stringify(schema)}`);
    }
    const s = schema as Schema;
    for (const key of Object.keys(s)) {
      if (ANNOTATIONS.has(key) || HANDLED.has(key) || key.startsWith("x-")) continue;
      throw new UnsupportedSchemaError(pointer, `keyword '${key}' cannot be enforced by constrained decoding; ` +
        `remove it (supported: ${[...HANDLED].join(", ")})`);
    }
    if (s.nullable === true) {
      const { nullable: _, ...rest } = s;
      return g.ref(g.rule(`${pointer}|nullable`, [[this.compile(rest, root, pointer)], [this.json.null]]));
    }
    if (s.$ref !== undefined) return this.ref(s, root, pointer);
    if (s.const !== undefined) return this.checkedLiteral([s.const], s, pointer);
    if (s.enum !== undefined) {
      if (!Array.isArray(s.enum) || s.enum.length === 0) throw new UnsupportedSchemaError(pointer, "enum must be a non-empty array");
      return this.checkedLiteral(s.enum, s, pointer);
    }
    if (s.allOf !== undefined) {
      if (!Array.isArray(s.allOf) || s.allOf.length !== 1 || Object.keys(s).some((k) => k !== "allOf" && !ANNOTATIONS.has(k))) {
        throw new UnsupportedSchemaError(pointer, "allOf is supported only with a single member and no sibling keywords");
      }
      return this.compile(s.allOf[0], root, `${pointer}/allOf/0`);
    }
    const union = s.anyOf ?? s.oneOf;
    if (union !== undefined) {
      const key = s.anyOf !== undefined ? "anyOf" : "oneOf";
      if (s.anyOf !== undefined && s.oneOf !== undefined) throw new UnsupportedSchemaError(pointer, "anyOf together with oneOf");
      if (!Array.isArray(union) || union.length === 0) throw new UnsupportedSchemaError(pointer, `${key} must be a non-empty array`);
      const { anyOf: _a, oneOf: _o, ...siblings } = s;
      const hasSiblings = Object.keys(siblings).some((k) => !ANNOTATIONS.has(k));
      const alts = union.map((sub, i) => [this.compile(hasSiblings ? mergeSiblings(siblings, sub, `${pointer}/${key}/${i}`) : sub,
        root, `${pointer}/${key}/${i}`)]);
      return g.ref(g.rule(`${pointer}|${key}`, alts));
    }
    let types: string[];
    if (s.type === undefined) types = inferTypes(s);
    else if (typeof s.type === "string") types = [s.type];
    else if (Array.isArray(s.type) && s.type.length > 0 && s.type.every((t) => typeof t === "string")) types = s.type as string[];
    else throw new UnsupportedSchemaError(pointer, `type must be a string or a non-empty array of strings, got ${JSON.stringify(s.type)}`);
    const alts = types.map((t) => [this.typed(t, s, root, pointer)]);
    return alts.length === 1 ? alts[0][0] : g.ref(g.rule(`${pointer}|types`, alts));
  }

  private typed(type: string, s: Schema, root: unknown, pointer: string): Element {
    const g = this.g;
    const j = this.json;
    switch (type) {
      case "null":
        return j.null;
      case "boolean":
        return j.boolean;
      case "integer":
      case "number":
        return numberElement(g, j, s, type, pointer);
      case "string":
        return stringElement(g, j, s, pointer);
      case "array": {
        const itemSchema = s.items === undefined ? true : s.items;
        if (Array.isArray(itemSchema)) throw new UnsupportedSchemaError(pointer, "tuple-form items (an array) is not supported");
        const item = this.compile(itemSchema, root, `${pointer}/items`);
        const min = count(s.minItems, pointer, "minItems") ?? 0;
        const asked = count(s.maxItems, pointer, "maxItems") ?? Infinity;
        if (min > asked) throw new UnsupportedSchemaError(pointer, `minItems ${min} > maxItems ${asked}`);
        if (min > MAX_REPEAT) throw new UnsupportedSchemaError(pointer, `minItems ${min} is above ${MAX_REPEAT}, more than constrained decoding writes`);
        // A huge maxItems is generated up to MAX_REPEAT items (fewer items are still valid).
        const max = asked === Infinity ? Infinity : Math.min(asked, MAX_REPEAT);
        const first = [item, j.ws];
        const next = [...g.literal(","), j.ws, item, j.ws];
        const alts: Element[][] = [];
        if (min === 0) alts.push([]);
        if (max >= 1) alts.push([...first, ...g.repeat(`${pointer}|items`, next, Math.max(0, min - 1), max - 1)]);
        const body = g.ref(g.rule(`${pointer}|array-body`, alts));
        return g.ref(g.rule(`${pointer}|array`, [[...g.literal("["), j.ws, body, ...g.literal("]")]]));
      }
      case "object":
        return this.object(s, root, pointer);
      default:
        throw new UnsupportedSchemaError(pointer, `unknown type '${type}'`);
    }
  }

  private object(s: Schema, root: unknown, pointer: string): Element {
    const g = this.g;
    const j = this.json;
    const props = (s.properties ?? {}) as Record<string, unknown>;
    if (typeof props !== "object" || props === null || Array.isArray(props)) {
      throw new UnsupportedSchemaError(pointer, "properties must be an object");
    }
    const required = new Set<string>();
    if (s.required !== undefined) {
      if (!Array.isArray(s.required) || !s.required.every((r) => typeof r === "string")) {
        throw new UnsupportedSchemaError(pointer, "required must be an array of strings");
      }
      for (const r of s.required as string[]) required.add(r);
    }
    // A required name without a schema under properties takes any value.
    const allProps: Record<string, unknown> = { ...props };
    for (const r of required) if (!Object.prototype.hasOwnProperty.call(allProps, r)) allProps[r] = true;
    const names = Object.keys(allProps);
    const extra = s.additionalProperties;
    if (names.length === 0 && extra !== false) {
      // A map: any keys, values under additionalProperties (or any JSON).
      if (extra === undefined || extra === true) return j.object;
      const value = this.compile(extra, root, `${pointer}/additionalProperties`);
      const member = [j.string, j.ws, ...g.literal(":"), j.ws, value, j.ws];
      return g.ref(g.rule(`${pointer}|map`, [[...g.literal("{"), j.ws, ...g.repeat(`${pointer}|members`, [...member,
        g.star(`${pointer}|more`, [...g.literal(","), j.ws, ...member])], 0, 1), ...g.literal("}")]]));
    }
    if (extra !== undefined && typeof extra !== "boolean") {
      // Extra keys are never generated, but the schema must still be valid.
      this.compile(extra, root, `${pointer}/additionalProperties`);
    }
    const member = names.map((name, i) => [...g.literal(JSON.stringify(name)), j.ws, ...g.literal(":"), j.ws,
      this.compile(allProps[name], root, `${pointer}/properties/${escapePointer(name)}`), j.ws]);
    // after[i]: what may follow once some member up to index i−1 was written: ("," member_k after[k+1]) for any k ≥ i
    // reachable by skipping only optional members, or the end if every member from i on is optional.
    const after: number[] = names.map((_, i) => g.declare(`${pointer}|after${i}`));
    after.push(g.rule(`${pointer}|after-end`, [[]]));
    for (let i = names.length - 1; i >= 0; i--) {
      const alts: Element[][] = [];
      for (let k = i; k < names.length; k++) {
        alts.push([...g.literal(","), j.ws, ...member[k], g.ref(after[k + 1])]);
        if (required.has(names[k])) break;
      }
      if (names.slice(i).every((n) => !required.has(n))) alts.push([]);
      g.define(after[i], alts);
    }
    const firstAlts: Element[][] = [];
    for (let k = 0; k < names.length; k++) {
      firstAlts.push([...member[k], g.ref(after[k + 1])]);
      if (required.has(names[k])) break;
    }
    if (required.size === 0) firstAlts.push([]);
    const body = g.ref(g.rule(`${pointer}|members`, firstAlts));
    return g.ref(g.rule(`${pointer}|object`, [[...g.literal("{"), j.ws, body, ...g.literal("}")]]));
  }

  private ref(s: Schema, root: unknown, pointer: string): Element {
    const ref = s.$ref;
    if (typeof ref !== "string" || !(ref === "#" || ref.startsWith("#/"))) {
      throw new UnsupportedSchemaError(pointer, `only local $ref (#/...) is supported, got ${JSON.stringify(ref)}`);
    }
    if (Object.keys(s).some((k) => k !== "$ref" && !ANNOTATIONS.has(k))) {
      throw new UnsupportedSchemaError(pointer, "$ref with sibling keywords is not supported");
    }
    let rule = this.refRules.get(ref);
    if (rule === undefined) {
      rule = this.g.declare(`ref:${ref}`);
      this.refRules.set(ref, rule);
      const target = resolvePointer(root, ref, pointer);
      this.g.define(rule, [[this.compile(target, root, ref)]]);
    }
    return this.g.ref(rule);
  }

  /** enum/const: literal JSON texts; sibling keywords must not narrow them further (we would not check them). */
  private checkedLiteral(values: unknown[], s: Schema, pointer: string): Element {
    const narrowing = Object.keys(s).filter((k) => !ANNOTATIONS.has(k) && k !== "enum" && k !== "const" && k !== "type");
    if (narrowing.length > 0) {
      throw new UnsupportedSchemaError(pointer, `enum/const together with ${narrowing.join(", ")} is not supported`);
    }
    const types = s.type === undefined ? null : Array.isArray(s.type) ? s.type : [s.type];
    const kept = types ? values.filter((v) => types.some((t) => jsonType(v, t as string))) : values;
    if (kept.length === 0) throw new UnsupportedSchemaError(pointer, "no enum/const value has the declared type");
    return this.g.literalSet(`${pointer}|enum`, kept.map((v) => JSON.stringify(v)));
  }
}

function jsonType(v: unknown, t: string): boolean {
  switch (t) {
    case "null": return v === null;
    case "boolean": return typeof v === "boolean";
    case "integer": return Number.isInteger(v);
    case "number": return typeof v === "number";
    case "string": return typeof v === "string";
    case "array": return Array.isArray(v);
    case "object": return typeof v === "object" && v !== null && !Array.isArray(v);
    default: return false;
  }
}

function inferTypes(s: Schema): string[] {
  if (s.properties !== undefined || s.required !== undefined || s.additionalProperties !== undefined) return ["object"];
  if (s.items !== undefined || s.minItems !== undefined || s.maxItems !== undefined) return ["array"];
  if (["minLength", "maxLength", "pattern", "format"].some((k) => s[k] !== undefined)) return ["string"];
  if (["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"].some((k) => s[k] !== undefined)) return ["number"];
  return ["object", "array", "string", "number", "boolean", "null"];
}

function mergeSiblings(siblings: Schema, sub: unknown, pointer: string): unknown {
  if (typeof sub !== "object" || sub === null) throw new UnsupportedSchemaError(pointer, "a union member must be an object");
  for (const k of Object.keys(siblings)) {
    if (!ANNOTATIONS.has(k) && k in (sub as Schema)) {
      throw new UnsupportedSchemaError(pointer, `'${k}' both beside the union and inside a member is not supported`);
    }
  }
  return { ...siblings, ...(sub as Schema) };
}

function escapePointer(name: string): string {
  return name.replace(/~/g, "~0").replace(/\//g, "~1");
}

function resolvePointer(root: unknown, ref: string, at: string): unknown {
  let node = root;
  for (const part of ref.slice(2).split("/").filter((p) => p.length > 0)) {
    let key: string;
    try {
      key = decodeURIComponent(part).replace(/~1/g, "/").replace(/~0/g, "~");
    } catch {
      throw new UnsupportedSchemaError(at, `$ref ${JSON.stringify(ref)} has a malformed percent-escape`);
    }
    if (typeof node !== "object" || node === null || !(key in (node as Schema))) {
      throw new UnsupportedSchemaError(at, `$ref ${ref} does not resolve inside the schema`);
    }
    node = (node as Schema)[key];
  }
  return node;
}

/** A grammar for exactly the JSON texts valid under the schema (throws UnsupportedSchemaError). */
export function grammarFromJsonSchema(schema: unknown): Grammar {
  const c = new JsonSchemaCompiler();
  const root = c.g.rule("root", [[c.value(schema)]]);
  return c.g.build(root);
}

/** A grammar for any JSON object (response_format json_object). */
export function jsonObjectGrammar(): Grammar {
  const c = new JsonSchemaCompiler();
  return c.g.build(c.g.rule("root", [[c.json.object]]));
}
