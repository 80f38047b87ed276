// Picks a backend: the native cpu backend when the addon loads with all its kernels, else the pure-TypeScript
// reference backend (with one warning per process on stderr saying why). `kind: "ref"` forces the reference.
// Leaves out: the backends themselves (cpu/, ref/), a registry of other devices.

import type { Backend } from "./backend.js";
import { CpuBackend } from "./cpu/cpu-backend.js";
import { hasAllOps, loadNative, missingOps, nativeLoadError } from "./native.js";
import { BufferPool } from "./pool.js";
import { RefBackend } from "./ref/ref-backend.js";

export type { Backend } from "./backend.js";
export { BackendError } from "./backend.js";
export { BufferPool } from "./pool.js";
export { RefBackend } from "./ref/ref-backend.js";
export { CpuBackend } from "./cpu/cpu-backend.js";
export type { TuneChoice, TunableBackend, TuningOptions } from "./cpu/tuning.js";
export { tunable } from "./cpu/tuning.js";

export interface CreateBackendOptions {
  /** "cpu" (default): native kernels if available, else the reference; "ref": always the reference. */
  kind?: "cpu" | "ref";
  /** Native threads (0 or absent: all cores, or whatever was set before). Ignored by the reference backend. */
  threads?: number;
  /** Storage pool to allocate from (default: a new one per backend). */
  pool?: BufferPool;
}

let warnedNoNative = false;

/** Why the native backend is unavailable ("" when it is available). */
export function nativeUnavailableReason(): string {
  const addon = loadNative();
  if (!addon) return nativeLoadError();
  const missing = missingOps(addon);
  if (missing.length > 0) return `the addon lacks ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", …" : ""}; rebuild with npm run build:native`;
  return "";
}

export function createBackend(options: CreateBackendOptions = {}): Backend {
  // The reference backend, when asked for by name, poisons uninitialized outputs so tests catch ops that read them.
  if (options.kind === "ref") return new RefBackend(options.pool ?? new BufferPool(2 ** 31, true));
  const pool = options.pool ?? new BufferPool();
  if (options.kind !== undefined && options.kind !== "cpu") {
    throw new Error(`createBackend: kind must be "cpu" or "ref", got ${String(options.kind)}`);
  }
  const addon = loadNative();
  if (addon && hasAllOps(addon)) {
    const backend = new CpuBackend(addon, pool);
    if (options.threads !== undefined) backend.setThreads(options.threads);
    return backend;
  }
  if (!warnedNoNative) {
    warnedNoNative = true;
    process.stderr.write(`zhiyu: native addon not available (${nativeUnavailableReason()}); using the pure-TypeScript reference backend\n`);
  }
  return new RefBackend(pool);
}
