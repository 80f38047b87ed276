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
const WALL_BACKSTOP_MS = 180_000;

/** User + system CPU time of a process in ms (Linux /proc; null elsewhere). */
function cpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in clock ticks (100 Hz)
  } catch {
    return null;
  }
}
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
  /** Unclean exceptions owned by other work (targets.ts knownOpen), by name: not findings. */
  knownOpen: Record<string, number>;
  peakRssMiB: number;
  seconds: number;
}

export interface FileFuzzOptions {
  /** Targets run in turn by one worker (one start). */
  targets: readonly TargetName[];
  /** Per target: stop after this many inputs or this many seconds of the worker's own time. */
  maxInputs: number;
  secondsPerTarget: number;
  seed: number;
  workDir: string;
  outDir: string;
  testdata: string;
  /** Every deepEvery-th input also runs the full model load (0: never). */
  deepEvery?: number;
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

/** Runs the targets in one worker under the watchdog; a crash or hang ends the run (its finding saved). */
export function runFileFuzz(o: FileFuzzOptions): Promise<FileFuzzResult[]> {
  const work = path.join(o.workDir, `w${process.pid}-${o.seed}`);
  const results = new Map<TargetName, FileFuzzResult>(o.targets.map((t) => [t, { target: t, inputs: 0, findings: [], knownOpen: {}, peakRssMiB: 0, seconds: 0 }]));
  let target = o.targets[0];
  let index = 0; // the input running now (ends arrive in order)
  const current = () => path.join(work, `current.${EXT[target]}`);
  return new Promise((resolve) => {
    const child = fork(WORKER, [o.targets.join(","), String(o.seed), "0", String(o.maxInputs), String(o.deepEvery ?? 0), work, o.testdata,
      String(o.secondsPerTarget)], { execArgv: ["--import", "tsx", `--max-old-space-size=${HEAP_CAP_MIB}`], stdio: ["ignore", "ignore", "pipe", "ipc"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    let hung = false;
    let targetStart = Date.now();
    // The hang bound is CPU time (the worker's, from /proc), so a niced run on a busy machine is not mistaken for a
    // hang; wall time only backs it up (WALL_BACKSTOP_MS), and where /proc is missing wall time is all there is.
    let cpuAtLast = 0;
    let wallAtLast = Date.now();
    let allowance = 20_000; // the first input also pays the worker's start (tsx)
    const arm = () => {
      cpuAtLast = cpuMs(child.pid) ?? 0;
      wallAtLast = Date.now();
      allowance = HANG_MS;
    };
    const timer = setInterval(() => {
      const cpu = cpuMs(child.pid);
      const overCpu = cpu !== null && cpu - cpuAtLast > allowance;
      const overWall = Date.now() - wallAtLast > (cpu === null ? allowance : WALL_BACKSTOP_MS);
      if (overCpu || overWall) {
        hung = true;
        child.kill("SIGKILL");
      }
    }, 250);
    const add = (kind: Finding["kind"], detail: string, at: number, file: string) =>
      results.get(target)!.findings.push({ target, kind, index: at, detail, reproducer: save(o.outDir, target, kind, file) });
    child.on("message", (m: { kind: "target" | "end"; target: TargetName; index: number; finding: string | null; open: string | null;
      maxRssKiB: number }) => {
      if (m.kind === "target") {
        if (results.has(target)) results.get(target)!.seconds = (Date.now() - targetStart) / 1000;
        target = m.target;
        targetStart = Date.now();
        index = 0;
        arm();
        return;
      }
      const r = results.get(m.target)!;
      r.inputs++;
      if (m.open) r.knownOpen[m.open] = (r.knownOpen[m.open] ?? 0) + 1;
      const rssMiB = m.maxRssKiB / 1024;
      if (rssMiB > RSS_BOUND_MIB && r.peakRssMiB <= RSS_BOUND_MIB) add("allocation", `peak RSS ${rssMiB.toFixed(0)} MiB`, m.index, current());
      r.peakRssMiB = Math.max(r.peakRssMiB, rssMiB);
      // The worker has moved on (current.* holds a later input): it left this input as exception-<index>.*.
      if (m.finding) {
        const kept = path.join(work, `exception-${m.index}.${EXT[m.target]}`);
        add("exception", m.finding, m.index, kept);
        rmSync(kept, { force: true });
      }
      index = m.index + 1;
      arm();
    });
    child.on("exit", (code, signal) => {
      clearInterval(timer);
      results.get(target)!.seconds = (Date.now() - targetStart) / 1000;
      if (hung) add("hang", `input ${index} ran over ${HANG_MS} ms`, index, current());
      else if (code !== 0) add("crash", `worker died (code ${code}, signal ${signal}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`, index, current());
      resolve([...results.values()]);
    });
  });
}
