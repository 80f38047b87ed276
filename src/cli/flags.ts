// Command-line flags, parsed the same way by every command: parseArgs with its errors turned into a UsageError
// that ends with the command's help, and integers with one message shape ("--NAME VALUE: expected an integer
// ≥ MIN") instead of a helper per command.
// Leaves out: ranges beyond a minimum (commands check those where they apply).
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.js";

/** parseArgs(config); an unknown flag or a missing value throws a UsageError followed by `help`. */
export function parseFlags<T extends ParseArgsConfig>(config: T, help: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${help}`);
  }
}

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
