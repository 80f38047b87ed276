// Numeric command-line flags, parsed the same way by every command: one message shape
// ("--NAME VALUE: expected an integer ≥ MIN") instead of a helper per command.
// Leaves out: parseArgs itself, and ranges beyond a minimum (commands check those where they apply).
import { UsageError } from "./errors.js";

/** The integer value of --name (at least min), or undefined when the flag was not given. */
export function intFlag(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} ${value}: expected an integer ≥ ${min}`);
  }
  return n;
}

/** intFlag with a default for an absent flag. */
export function intFlagOr(name: string, value: string | undefined, fallback: number, min = 1): number {
  return intFlag(name, value, min) ?? fallback;
}
