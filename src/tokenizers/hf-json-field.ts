// Reading tokenizer.json safely: Field, a JSON value that knows the path it was read from, so every malformed
// field is reported as e.g. `tokenizer.json: model.merges[12] is not "a b" or ["a","b"]`; and the error type.
// Leaves out: what the fields mean (hf-json.ts, hf-json-stages.ts).

export class TokenizerFormatError extends Error {
  override name = "TokenizerFormatError";
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** A JSON value with the path it was read from, for error messages. */
export class Field {
  constructor(readonly file: string, readonly path: string, readonly value: Json | undefined) {}
  fail(what: string): never {
    throw new TokenizerFormatError(`${this.file}: ${this.path || "(top level)"} ${what}`);
  }
  get(key: string): Field {
    const v = this.value;
    const sub = v !== null && typeof v === "object" && !Array.isArray(v) ? v[key] : undefined;
    return new Field(this.file, this.path ? `${this.path}.${key}` : key, sub);
  }
  at(i: number): Field {
    const v = this.value;
    return new Field(this.file, `${this.path}[${i}]`, Array.isArray(v) ? v[i] : undefined);
  }
  get present(): boolean {
    return this.value !== undefined && this.value !== null;
  }
  object(): JsonObject {
    const v = this.value;
    if (v === null || typeof v !== "object" || Array.isArray(v)) this.fail(`is ${describe(v)}, expected an object`);
    return v;
  }
  array(): Json[] {
    if (!Array.isArray(this.value)) this.fail(`is ${describe(this.value)}, expected an array`);
    return this.value;
  }
  string(): string {
    if (typeof this.value !== "string") this.fail(`is ${describe(this.value)}, expected a string`);
    return this.value;
  }
  optString(fallback: string): string {
    return this.present ? this.string() : fallback;
  }
  bool(fallback: boolean): boolean {
    if (!this.present) return fallback;
    if (typeof this.value !== "boolean") this.fail(`is ${describe(this.value)}, expected true or false`);
    return this.value;
  }
  int(): number {
    if (typeof this.value !== "number" || !Number.isInteger(this.value) || this.value < 0) {
      this.fail(`is ${describe(this.value)}, expected a non-negative integer`);
    }
    return this.value;
  }
  type(): string {
    return this.get("type").string();
  }
}
export function describe(v: Json | undefined): string {
  if (v === undefined) return "missing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
