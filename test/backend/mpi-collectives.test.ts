// The MPI communicator's collectives under real Open MPI (mpirun; .ci/run installs it): 2 and 3 ranks through the
// shared-memory window that ranks on one host use (native/mpi_napi.cc), and 2 ranks through MPI's own transport
// (--no-shared-memory). Each rank (mpi/collectives.ts) checks allreduce (f32, f64, empty, odd sizes, a size that
// grows the window, many in a row), the parts form, reduce-scatter and all-gather (queued and blocking), and — shared memory only — reduceSlice and a
// shared array read after a barrier, against sums known in closed form. Skipped, saying why, where mpirun or the addon's MPI is missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mpiUnavailableReason } from "../../src/backend/mpi.js";

const hasMpirun = spawnSync("mpirun", ["--version"], { encoding: "utf8" }).status === 0;
const why = !hasMpirun ? "mpirun not found (install openmpi-bin and libopenmpi-dev; .ci/run does)" : mpiUnavailableReason();
const skip = why ? `MPI collective tests skipped: ${why}` : false;
const MPI_ENV = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };
const MPIRUN = ["--oversubscribe", "--mca", "btl_vader_single_copy_mechanism", "none"];

function collectives(ranks: number, extra: string[], transport: RegExp): void {
  const r = spawnSync("mpirun", [...MPIRUN, "-np", String(ranks), process.execPath, "--import", "tsx", "test/backend/mpi/collectives.ts", ...extra],
    { env: MPI_ENV, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as {
    rank: number; size: number; transport: string; report: { check: string; bad: number; first: string | null }[];
  });
  assert.deepEqual(lines.map((l) => l.rank).sort(), Array.from({ length: ranks }, (_, i) => i));
  for (const l of lines) {
    assert.equal(l.size, ranks);
    assert.match(l.transport, transport);
    assert.ok(l.report.length >= 17, `rank ${l.rank} ran ${l.report.length} checks`);
    for (const c of l.report) assert.equal(c.bad, 0, `rank ${l.rank} of ${ranks}, ${c.check}: ${c.bad} wrong, first ${c.first}`);
  }
}

test("2 ranks on one host: collectives through the shared-memory window", { skip }, () => {
  collectives(2, [], /shared-memory window/);
});

test("3 ranks (slices of unequal length) through the shared-memory window", { skip }, () => {
  collectives(3, [], /shared-memory window/);
});

test("--no-shared-memory: the same collectives through MPI's transport", { skip }, () => {
  collectives(2, ["--no-shared-memory"], /MPI collectives \(turned off\)/);
});
