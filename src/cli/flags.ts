// Command-line flags, parsed the same way by every command: parseArgs with its errors turned into a UsageError
// that ends with the command's help, a negative number accepted as a flag's value (`--temperature -1` reaches the
// range check instead of Node's "argument is ambiguous"), and numbers with one message shape ("--NAME VALUE:
// expected …") instead of a helper per command.
// Leaves out: cross-flag rules (commands check those where they apply).
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.js";
import { KV_CACHE_TYPES, type KvCacheType } from "../models/kv-cache.js";

const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/** `--name -1` → `--name=-1` for string options, so parseArgs takes the number as the value. */
function joinNegativeValues(args: readonly string[], options: ParseArgsConfig["options"]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    const name = a.startsWith("--") && !a.includes("=") ? a.slice(2) : null;
    if (name !== null && options?.[name]?.type === "string" && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** parseArgs(config); an unknown flag or a missing value throws a UsageError followed by `help`. */
export function parseFlags<T extends ParseArgsConfig>(config: T, help: string): ReturnType<typeof parseArgs<T>> {
  try {
    const args = config.args ? joinNegativeValues(config.args, config.options) : config.args;
    return parseArgs({ ...config, args } as T);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${help}`);
  }
}

/** The integer value of --name (at least min, at most max), or undefined when the flag was not given. */
export function intFlag(name: string, value: string | undefined, min = 1, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} ${value}: expected an integer ${range}`);
  }
  return n;
}

/** --kv-type: the KV cache element type (LoadModelOptions.kvCacheType), undefined when absent. */
export function kvTypeFlag(value: string | undefined, help = ""): KvCacheType | undefined {
  if (value === undefined) return undefined;
  if (!KV_CACHE_TYPES.includes(value as KvCacheType)) {
    throw new UsageError(`--kv-type ${value}: expected one of ${KV_CACHE_TYPES.join(", ")}${help ? `\n\n${help}` : ""}`);
  }
  return value as KvCacheType;
}

/** intFlag with a default for an absent flag. */
export function intFlagOr(name: string, value: string | undefined, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  return intFlag(name, value, min, max) ?? fallback;
}

/** The number value of --name within [min, max] (with `what` saying what the value means), or the fallback. */
export function numberFlagOr(name: string, value: string | undefined, fallback: number,
  range: { min?: number; max?: number; what?: string } = {}): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  const min = range.min ?? -Infinity;
  const max = range.max ?? Infinity;
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    const bounds = min > -Infinity && max < Infinity ? `from ${min} to ${max}` : min > -Infinity ? `≥ ${min}` : max < Infinity ? `≤ ${max}` : "";
    throw new UsageError(`--${name} ${value}: expected a number${bounds ? ` ${bounds}` : ""}${range.what ? ` (${range.what})` : ""}`);
  }
  return n;
}

/** A comma-separated list flag: trimmed, empty entries dropped. */
export function listFlag(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}
