// What the `mpirun -np N zhiyu …` tests share: why they skip (no mpirun, or an addon built without MPI), the
// environment and flags that let Open MPI run as root and oversubscribe this machine's cores, a child-process runner
// that keeps stderr, and the per-step losses of a run's metrics.jsonl (event lines left out).
// Leaves out: each test's models, data and comparisons.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { mpiUnavailableReason } from "../../src/backend/mpi.js";

const hasMpirun = spawnSync("mpirun", ["--version"], { encoding: "utf8" }).status === 0;
/** Why MPI tests cannot run here, or null. */
export const mpiMissing: string | null = !hasMpirun ? "mpirun not found (install openmpi-bin and libopenmpi-dev; .ci/run does)" : mpiUnavailableReason();
export const MPI_ENV = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };
export const MPIRUN = ["--oversubscribe", "--mca", "btl_vader_single_copy_mechanism", "none"];
export const ZHIYU = path.resolve("bin/zhiyu.mjs");

export function run(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: MPI_ENV, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (c: Buffer) => { stderr += c.toString(); });
    p.on("close", (code) => resolve({ code, stderr }));
  });
}

export function stepLosses(runDir: string): number[] {
  return readFileSync(path.join(runDir, "metrics.jsonl"), "utf8").split("\n").filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { loss?: number; event?: string }).filter((r) => typeof r.loss === "number" && !r.event).map((r) => r.loss!);
}
