// Reading a JSON file that must hold one object (config.json, tokenizer_config.json, adapter configs …).
// JSON.parse accepts `null`, numbers and arrays as readily as objects, and every caller would otherwise cast; this
// checks once and lets the caller choose its own error class so messages keep naming the op and the fix.
// Leaves out: schema checks of the object's fields (each config parser does those).
import { readFileSync } from "node:fs";

/** The object in `file`; unreadable, invalid or non-object JSON becomes `makeError(message)` naming the file. */
export function readJsonObject(file: string, makeError: (message: string) => Error): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw makeError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const got = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    throw makeError(`${file}: expected a JSON object, got ${got}`);
  }
  return value as Record<string, unknown>;
}
