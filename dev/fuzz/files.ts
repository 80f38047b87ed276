// Runs file-fuzzing workers (worker.ts) for one target under a watchdog: an input that takes over HANG_MS is a
// hang (the worker is killed), a worker that dies is a crash (a V8 out-of-memory abort included: workers run with a
// capped heap), an input after which the worker's peak RSS passes RSS_BOUND_MIB is an allocation finding, and an
// unclean exception is reported by the worker. Each finding's input is saved to outDir as a reproducer, named by
// target, kind and content hash. Workers are restarted in batches so one input's peak does not mask the next.
// Leaves out: minimising reproducers.
import { fork } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TargetName } from "./targets.js";

export const HANG_MS = 5000;
/** Peak resident memory a worker may reach (its heap is capped at HEAP_CAP_MIB; past that V8 aborts: a crash). */
export const RSS_BOUND_MIB = 1024;
const HEAP_CAP_MIB = 768;
const EXT: Record<TargetName, string> = { gguf: "gguf", safetensors: "safetensors", config: "json", tokenizer: "json", template: "jinja", schema: "json" };

export interface Finding {
  target: TargetName;
  kind: "crash" | "hang" | "allocation" | "exception";
  index: number;
  detail: string;
  reproducer: string;
}

export interface FileFuzzResult {
  target: TargetName;
  inputs: number;
  findings: Finding[];
  peakRssMiB: number;
  seconds: number;
}

export interface FileFuzzOptions {
  target: TargetName;
  /** Stop after this many inputs or this many seconds, whichever first. */
  maxInputs: number;
  seconds: number;
  seed: number;
  workDir: string;
  outDir: string;
  testdata: string;
  /** Every deepEvery-th input also runs the full model load (0: never). */
  deepEvery?: number;
  batch?: number;
}

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), "worker.ts");

function save(outDir: string, target: TargetName, kind: string, file: string): string {
  mkdirSync(outDir, { recursive: true });
  const bytes = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
  const name = `${target}-${kind}-${createHash("sha256").update(bytes).digest("hex").slice(0, 12)}.${EXT[target]}`;
  const out = path.join(outDir, name);
  if (existsSync(file)) copyFileSync(file, out);
  else writeFileSync(out, "");
  return out;
}

/** One batch in a fresh worker; resolves with the index to continue from. */
function runBatch(o: FileFuzzOptions, first: number, count: number, result: FileFuzzResult, deadline: number): Promise<number> {
  const work = path.join(o.workDir, o.target);
  const current = path.join(work, `current.${EXT[o.target]}`);
  return new Promise((resolve) => {
    const child = fork(WORKER, [o.target, String(o.seed), String(first), String(count), String(o.deepEvery ?? 0), work, o.testdata], {
      execArgv: ["--import", "tsx", `--max-old-space-size=${HEAP_CAP_MIB}`], stdio: ["ignore", "ignore", "pipe", "ipc"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    let index = first; // the input running now (ends arrive in order)
    let finished = false;
    let hung = false;
    let timer: NodeJS.Timeout;
    const arm = (ms = HANG_MS) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        hung = true;
        child.kill("SIGKILL");
      }, ms);
    };
    const finding = (kind: Finding["kind"], detail: string, at = index) =>
      result.findings.push({ target: o.target, kind, index: at, detail, reproducer: save(o.outDir, o.target, kind, current) });
    child.on("message", (m: { index: number; finding: string | null; maxRssKiB: number }) => {
      result.inputs++;
      const rssMiB = m.maxRssKiB / 1024;
      if (rssMiB > RSS_BOUND_MIB && result.peakRssMiB <= RSS_BOUND_MIB) finding("allocation", `peak RSS ${rssMiB.toFixed(0)} MiB`, m.index);
      result.peakRssMiB = Math.max(result.peakRssMiB, rssMiB);
      // The worker has moved on (current.* holds a later input): it left this input as exception-<index>.*.
      if (m.finding) {
        const kept = path.join(work, `exception-${m.index}.${EXT[o.target]}`);
        result.findings.push({ target: o.target, kind: "exception", index: m.index, detail: m.finding, reproducer: save(o.outDir, o.target, "exception", kept) });
        rmSync(kept, { force: true });
      }
      index = m.index + 1;
      if (index >= first + count) finished = true;
      if (Date.now() > deadline) {
        finished = true;
        child.kill("SIGKILL");
      }
      arm();
    });
    arm(60_000); // the first input also waits for the worker to start (tsx, a loaded machine)
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (hung) finding("hang", `input ${index} ran over ${HANG_MS} ms (worker start included for the first)`);
      else if (!finished) finding("crash", `worker died (code ${code}, signal ${signal}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
      resolve(index + 1);
    });
  });
}

export async function runFileFuzz(o: FileFuzzOptions): Promise<FileFuzzResult> {
  const t0 = Date.now();
  const deadline = t0 + o.seconds * 1000;
  const result: FileFuzzResult = { target: o.target, inputs: 0, findings: [], peakRssMiB: 0, seconds: 0 };
  let next = 0;
  while (next < o.maxInputs && Date.now() < deadline) {
    const count = Math.min(o.batch ?? 2000, o.maxInputs - next);
    const after = await runBatch(o, next, count, result, deadline);
    next = Math.max(after, next + 1);
  }
  result.seconds = (Date.now() - t0) / 1000;
  return result;
}
