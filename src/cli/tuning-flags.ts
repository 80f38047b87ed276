// The entry points' side of decode-kernel tuning (src/backend/cpu/tuning.ts): where the cache file lives
// ($XDG_CACHE_HOME/zhiyu/tuning.json, else ~/.cache/zhiyu/tuning.json), whether tuning is on (`--no-tune` or
// ZHIYU_NO_TUNE=1 turn it off: the fixed fallback kernels), Zhiyu's version, and warnings to stderr.
// Leaves out: the measuring and the cache format (tuning.ts).
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import type { TuningOptions } from "../backend/index.js";

/** The --no-tune flag's parseArgs option, for commands that load a model for generation. */
export const NO_TUNE_OPTION = { "no-tune": { type: "boolean" } } as const;

export const NO_TUNE_HELP =
  "  --no-tune     run the fixed decode kernels instead of the ones measured fastest on this CPU (same results;\n" +
  "                also ZHIYU_NO_TUNE=1); the measurements are cached in $XDG_CACHE_HOME/zhiyu or ~/.cache/zhiyu";

/** The cache file for this user (resolved here, the entry point, from the environment). */
export function tuningCacheFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(homedir(), ".cache");
  return path.join(base, "zhiyu", "tuning.json");
}

function zhiyuVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

/** Tuning options from a command's --no-tune flag and the environment. */
export function tuningOptions(noTune: boolean | undefined, env: NodeJS.ProcessEnv = process.env): TuningOptions {
  const off = noTune === true || (env.ZHIYU_NO_TUNE !== undefined && env.ZHIYU_NO_TUNE !== "" && env.ZHIYU_NO_TUNE !== "0");
  return { enabled: !off, cacheFile: tuningCacheFile(env), version: zhiyuVersion(), warn: (m) => process.stderr.write(m + "\n") };
}
