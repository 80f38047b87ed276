// Run-time tuning of the decode matmul kernels (native/zy_tune.h): for each weight shape a decode step multiplies
// (one activation row), choose among the kernel variants the addon offers for its type — rows per kernel call,
// software-prefetch distance, row chunks per thread — by timing them on this CPU the first time the shape is seen,
// and keep the choice in a cache file (one per user, for one CPU model, ISA level and Zhiyu version; written
// atomically). Every variant gives the same bits (test/backend/tuning.test.ts checks each against the reference
// backend and against the fallback), so tuning changes speed only; `--no-tune` keeps variant 0, the fixed fallback.
// The timing streams a ring of copies of the real matrix as large as the model's weights (capped), so a variant
// that wins only while the matrix sits in cache loses where a decode step would read it from DRAM.
// Leaves out: prompt-sized products (m > 1 keep the fallback), GEMM tile shapes, attention; where the cache file
// lives (the entry point resolves it: XDG_CACHE_HOME or ~/.cache, see src/cli/tuning-flags.ts).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { EncodedMatrix } from "../backend.js";

/** What the entry point decides: whether to tune, the cache file, the version, where warnings go. */
export interface TuningOptions {
  /** false (`--no-tune`, ZHIYU_NO_TUNE=1): every shape runs the fixed fallback, nothing is measured or read. */
  enabled: boolean;
  /** The cache file (e.g. ~/.cache/zhiyu/tuning.json); null: measure every process, keep nothing. */
  cacheFile: string | null;
  /** Zhiyu's version: a cache written by another version is ignored. */
  version: string;
  /** Warnings (a corrupt or foreign cache file): one line each. */
  warn(message: string): void;
  /** Bytes of the calibration ring at most (default 128 MiB: 4× a large L3, so DRAM-bound shapes stay DRAM-bound; tests pass less). */
  maxRingBytes?: number;
  /** Timed rounds per variant (default 5; the best round counts). */
  rounds?: number;
}

/** A backend whose decode kernels can be tuned (the cpu backend; tunable() tells). */
export interface TunableBackend {
  /** From now on each weight shape a decode step multiplies runs the variant measured fastest on this CPU (all give
   *  the same bits); `workingSetBytes` is what a decode step streams. Disabled options restore the fallback. */
  configureTuning(options: TuningOptions, workingSetBytes: number): void;
  /** The choices made or read from the cache so far (for `zhiyu doctor`). */
  tuningChoices(): TuneChoice[];
}

/** The backend as a TunableBackend, or null when it cannot tune (the reference backend, an older addon). */
export function tunable(backend: object): TunableBackend | null {
  const b = backend as Partial<TunableBackend>;
  return typeof b.configureTuning === "function" && typeof b.tuningChoices === "function" ? (b as TunableBackend) : null;
}

/** The addon functions the tuner needs (native/tune_napi.cc). */
export interface TuningAddon {
  tuneVariants(type: string): string[];
  tuneSet(type: string, rows: number, cols: number, variant: number): void;
  tuneTime(ring: Uint8Array, type: string, rows: number, cols: number, copies: number, variant: number, passes: number): number;
}

/** The machine a cache belongs to. */
export interface TuningMachine {
  cpu: string;
  isa: string;
  threads: number;
  /** The addon's variant lists (a short hash): a rebuilt addon with other variants makes the cache foreign. */
  kernels: string;
  /** The run queue per core now (1-minute load average / cores): timings taken above BUSY_LOAD are provisional. */
  loadPerCore(): number;
}

/** One shape's choice: the variant, the measured ns per matrix of each variant, and why. */
export interface TuneChoice {
  key: string;
  type: string;
  rows: number;
  cols: number;
  variant: string;
  timesNs: Record<string, number>;
  reason: string;
  /** "measured" in this process, or "cached". */
  source: "measured" | "cached";
  /** Measured while other processes held the cores: used, but measured again by the first process on a quieter machine. */
  provisional: boolean;
}

const FORMAT = "zhiyu-tuning-1";
/** A variant must beat the fallback by this share to be chosen (timing noise on a busy machine is a few %). */
const MARGIN = 0.03;
/** Above this load per core a calibration is provisional (another process's share of the cores and memory bus
 *  makes the timings noise). */
const BUSY_LOAD = 1.5;
/** Variants timed and shown but never chosen: the 4-row float kernels win alone on the calibration ring (up to 28%)
 *  yet lose 4–15% inside a real decode step (session 8, quiet, tuned vs --no-tune; equal once they are not picked). */
const NOT_CHOSEN = /^row4-/;

interface CacheFile {
  format: string;
  zhiyu: string;
  cpu: string;
  isa: string;
  kernels: string;
  entries: Record<string, Omit<TuneChoice, "source">>;
}

/** Working sets in power-of-two MiB classes: a 200 MB and a 220 MB model stream alike. */
function workingSetClass(bytes: number): number {
  return 2 ** Math.max(0, Math.round(Math.log2(Math.max(1, bytes / 2 ** 20))));
}

export class Tuner {
  private readonly entries = new Map<string, TuneChoice>();
  private readonly seen = new Set<string>();
  private workingSet = 0;
  private dirty = false;

  constructor(private readonly addon: TuningAddon, readonly machine: TuningMachine, readonly options: TuningOptions) {
    if (options.enabled && options.cacheFile) this.readCache(options.cacheFile);
  }

  /** The bytes a decode step streams (the model's weights): sets the calibration ring and the cache key. */
  setWorkingSet(bytes: number): void {
    this.workingSet = bytes;
  }

  private key(m: { type: string; rows: number; cols: number }): string {
    return `${m.type} ${m.rows}x${m.cols} t${this.machine.threads} ws${workingSetClass(this.workingSet)}MiB`;
  }

  /** Makes sure the addon runs the chosen variant for this matrix's shape (measuring it the first time). */
  ensure(m: EncodedMatrix): void {
    if (!this.options.enabled) return;
    const key = this.key(m);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const names = this.addon.tuneVariants(m.type);
    if (names.length <= 1) return;
    let choice = this.entries.get(key);
    const stale = choice !== undefined && choice.provisional && this.machine.loadPerCore() <= BUSY_LOAD;
    if (!choice || stale || !names.includes(choice.variant) || NOT_CHOSEN.test(choice.variant)) {
      choice = this.measure(m, names, key);
      this.entries.set(key, choice);
      this.dirty = true;
      if (this.options.cacheFile) this.writeCache(this.options.cacheFile);
    }
    this.addon.tuneSet(m.type, m.rows, m.cols, names.indexOf(choice.variant));
  }

  /** Every choice this process knows (cached or measured), for `zhiyu doctor`. */
  choices(): TuneChoice[] {
    return [...this.entries.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  private measure(m: EncodedMatrix, names: string[], key: string): TuneChoice {
    const bytes = m.data.length, cap = this.options.maxRingBytes ?? 128 * 2 ** 20;
    const copies = Math.max(1, Math.floor(Math.min(Math.max(this.workingSet, bytes), cap) / bytes));
    const ring = new Uint8Array(copies * bytes);
    for (let c = 0; c < copies; c++) ring.set(m.data, c * bytes);
    const best = names.map(() => Infinity), ratios: number[][] = names.map(() => []);
    const rounds = this.options.rounds ?? 7;
    const provisional = this.machine.loadPerCore() > BUSY_LOAD;
    // Variants interleaved round by round, so load drifting during the calibration hits them alike; one warm pass first.
    this.addon.tuneTime(ring, m.type, m.rows, m.cols, copies, 0, 1);
    for (let r = 0; r < rounds; r++) {
      const t = names.map((_, v) => this.addon.tuneTime(ring, m.type, m.rows, m.cols, copies, v, 1));
      t.forEach((x, v) => { best[v] = Math.min(best[v], x); ratios[v].push(x / t[0]); });
    }
    let pick = 0;
    for (let v = 1; v < names.length; v++) if (!NOT_CHOSEN.test(names[v]) && best[v] < best[pick]) pick = v;
    const gain = 1 - best[pick] / best[0];
    // The winner must also beat the fallback in most rounds (its best round alone can be luck on a busy machine).
    const sorted = [...ratios[pick]].sort((a, b) => a - b), medianRatio = sorted[Math.floor(sorted.length / 2)];
    const ringMiB = (ring.length / 2 ** 20).toFixed(1);
    let reason: string;
    if (pick !== 0 && provisional) {
      // Another process's share of the cores makes single rounds noise (a 10× spread was seen at load 12 per core):
      // the fallback runs until a quieter machine measures again.
      reason = `fastest ${names[pick]} ${(gain * 100).toFixed(1)}% under the fallback, but measured under load: fallback kept for now`;
      pick = 0;
    } else if (pick !== 0 && gain < MARGIN) {
      reason = `fastest ${names[pick]} only ${(gain * 100).toFixed(1)}% under the fallback (< ${MARGIN * 100}%): fallback kept`;
      pick = 0;
    } else if (pick !== 0 && medianRatio >= 1) {
      reason = `${names[pick]}'s best round was ${(gain * 100).toFixed(1)}% under the fallback but its median round was not faster: fallback kept`;
      pick = 0;
    } else if (pick === 0) {
      reason = "the fallback was fastest";
    } else {
      reason = `${(gain * 100).toFixed(1)}% faster than the fallback ${names[0]}`;
    }
    const timesNs: Record<string, number> = {};
    names.forEach((n, v) => { timesNs[n] = Math.round(best[v]); });
    const load = this.machine.loadPerCore().toFixed(1);
    return { key, type: m.type, rows: m.rows, cols: m.cols, variant: names[pick], timesNs, provisional,
      reason: `${reason} (best of ${rounds} rounds over a ${ringMiB} MiB ring of ${copies} copies; load ${load} per core` +
        `${provisional ? ": provisional, measured again on a quieter machine" : ""})`, source: "measured" };
  }

  private readCache(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      return; // no cache yet
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      this.options.warn(`zhiyu: tuning cache ${file} is not valid JSON (${(e as Error).message}); ignoring it (it will be rewritten)`);
      return;
    }
    const c = parsed as Partial<CacheFile>;
    if (typeof c !== "object" || c === null || c.format !== FORMAT || typeof c.entries !== "object" || c.entries === null ||
      typeof c.cpu !== "string" || typeof c.isa !== "string" || typeof c.zhiyu !== "string" || typeof c.kernels !== "string") {
      this.options.warn(`zhiyu: tuning cache ${file} is not a ${FORMAT} file (format, zhiyu, cpu, isa, kernels, entries); ` +
        "ignoring it (it will be rewritten)");
      return;
    }
    if (c.cpu !== this.machine.cpu || c.isa !== this.machine.isa || c.zhiyu !== this.options.version || c.kernels !== this.machine.kernels) {
      this.options.warn(`zhiyu: tuning cache ${file} was written for CPU "${c.cpu}" (${c.isa}) by zhiyu ${c.zhiyu} (kernels ${c.kernels}); ` +
        `this is "${this.machine.cpu}" (${this.machine.isa}), zhiyu ${this.options.version} (kernels ${this.machine.kernels}): ` +
        "ignoring it (it will be rewritten)");
      return;
    }
    for (const [key, e] of Object.entries(c.entries)) {
      const ok = typeof e === "object" && e !== null && typeof e.variant === "string" && typeof e.type === "string" &&
        Number.isInteger(e.rows) && Number.isInteger(e.cols) && typeof e.timesNs === "object" && typeof e.reason === "string" &&
        typeof e.provisional === "boolean";
      if (!ok) {
        this.options.warn(`zhiyu: tuning cache ${file}: entry "${key}" is malformed; ignoring the file (it will be rewritten)`);
        this.entries.clear();
        return;
      }
      this.entries.set(key, { ...e, key, source: "cached" });
    }
  }

  private writeCache(file: string): void {
    if (!this.dirty) return;
    const entries: CacheFile["entries"] = {};
    for (const e of this.entries.values()) {
      const { source: _source, ...rest } = e;
      entries[e.key] = rest;
    }
    const body: CacheFile = { format: FORMAT, zhiyu: this.options.version, cpu: this.machine.cpu, isa: this.machine.isa,
      kernels: this.machine.kernels, entries };
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(body, null, 1) + "\n");
      renameSync(tmp, file);
      this.dirty = false;
    } catch (e) {
      this.options.warn(`zhiyu: could not write the tuning cache ${file} (${(e as Error).message}); the choices hold for this process only`);
      this.options.cacheFile = null;
    }
  }
}
