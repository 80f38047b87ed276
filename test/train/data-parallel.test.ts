// Data-parallel training over real Open MPI (mpirun from Debian's openmpi-bin; .ci/run installs it): two ranks give
// the per-step losses of one process that accumulates the same micro-batches (within 1e-6, f32) and end with
// bit-identical parameters on both ranks (each rank's parameters are written by the harness data-parallel/rank.ts
// and compared here byte for byte), plainly and with ZeRO-1; killing one rank ends the job non-zero within 30 s
// with its checkpoints intact, and `--resume` in one process continues the uninterrupted run's loss curve; a job
// told there is no MPI (ZHIYU_NO_MPI=1, as a build without it) trains once on rank 0 and says so once; an Open MPI
// --hostfile naming two loopback addresses runs the two ranks as two "hosts" talking TCP; ranks that start with
// different parameters stop with an error naming the rank.
// Skipped, saying why, where mpirun or the addon's MPI is missing. A tiny GPT-2 on byte-level Shakespeare.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeTokenFile } from "../../src/train/token-file.js";
import { listCheckpoints } from "../../src/train/checkpoint.js";
import { readTrainerState } from "../../src/train/loop-state.js";
import { mpiUnavailableReason } from "../../src/backend/mpi.js";

const hasMpirun = spawnSync("mpirun", ["--version"], { encoding: "utf8" }).status === 0;
const why = !hasMpirun ? "mpirun not found (install openmpi-bin and libopenmpi-dev; .ci/run does)" : mpiUnavailableReason();
const skip = why ? `data-parallel tests skipped: ${why}` : false;

/** Open MPI as root (CI containers), on any core count, without the cross-memory-attach that containers forbid. */
const MPI_ENV = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };
const MPIRUN = ["--oversubscribe", "--mca", "btl_vader_single_copy_mechanism", "none"];
const HARNESS = ["--import", "tsx", "test/train/data-parallel/rank.ts"];

function makeData(dir: string): string {
  const text = readFileSync(path.resolve("../shared/data/tinyshakespeare/input.txt"));
  const file = path.join(dir, "bytes.bin");
  writeTokenFile(file, Array.from(text.subarray(0, 20000)), 256);
  return file;
}

function run(cmd: string, args: string[], env = MPI_ENV): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (c: Buffer) => { stdout += c.toString(); });
    p.stderr.on("data", (c: Buffer) => { stderr += c.toString(); });
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function losses(jsonLog: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of jsonLog.split("\n")) {
    if (!line.startsWith("{")) continue;
    const rec = JSON.parse(line) as { step: number; loss?: number };
    if (typeof rec.loss === "number") out.set(rec.step, rec.loss);
  }
  return out;
}

/** extra: flags for the mpirun job only; both: training flags for it and for the one-process reference. */
async function equivalence(extra: string[], gradAccum: number, mpirunArgs: (dir: string) => string[] = () => [], ranks = 2,
  both: string[] = [], wrap: (cmd: string, args: string[]) => [string, string[]] = (cmd, args) => [cmd, args]): Promise<{ stderr: string; path: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-dp-"));
  try {
    const flags = ["--preset", "tiny", "--data", makeData(dir), "--batch", "2", "--seq", "32", "--steps", "20",
      "--grad-accum", String(gradAccum), "--lr", "3e-3", "--warmup", "4", "--seed", "7", "--threads", "1", ...both];
    const one = path.join(dir, "one");
    const two = path.join(dir, "two");
    for (const d of [one, two]) spawnSync("mkdir", ["-p", d]);
    const solo = await run(process.execPath, [...HARNESS, one, ...flags]);
    assert.equal(solo.code, 0, solo.stderr);
    const dp = await run(...wrap("mpirun", [...MPIRUN, ...mpirunArgs(dir), "-np", String(ranks), process.execPath, ...HARNESS, two, ...flags, ...extra, "--checksum-every", "5"]));
    assert.equal(dp.code, 0, dp.stderr);
    const ref = JSON.parse(readFileSync(path.join(one, "rank-0.json"), "utf8")) as { losses: number[] };
    assert.equal(ref.losses.length, 20);
    let how = "";
    for (let rank = 0; rank < ranks; rank++) {
      const got = JSON.parse(readFileSync(path.join(two, `rank-${rank}.json`), "utf8")) as { losses: number[]; dataParallel: string | null };
      if (rank === 0) how = got.dataParallel ?? ""; // only rank 0 logs
      assert.equal(got.losses.length, 20);
      got.losses.forEach((l, i) => assert.ok(Math.abs(l - ref.losses[i]!) <= 1e-6, `rank ${rank} step ${i}: loss ${l} vs one process ${ref.losses[i]}`));
    }
    // Identical final parameters on every rank, bit for bit, and the single-process run's to float rounding.
    const p0 = readFileSync(path.join(two, "rank-0.bin"));
    for (let rank = 1; rank < ranks; rank++) {
      assert.ok(p0.length > 0 && p0.equals(readFileSync(path.join(two, `rank-${rank}.bin`))), `rank 0 and rank ${rank} end with different parameters`);
    }
    const a = new Float32Array(p0.buffer, p0.byteOffset, p0.length / 4);
    const refBytes = readFileSync(path.join(one, "rank-0.bin"));
    const b = new Float32Array(refBytes.buffer, refBytes.byteOffset, refBytes.length / 4);
    assert.equal(a.length, b.length);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst < 1e-5, `parameters differ from one process by up to ${worst}`);
    return { stderr: dp.stderr, path: how };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("mpirun -np 2: 20 steps give one process's losses (same micro-batches, within 1e-6) and identical parameters on both ranks", { skip, timeout: 120_000 }, async () => {
  // Ranks on one host: one shared copy of the parameters, each rank updating its slice of every bucket.
  const { path: how } = await equivalence([], 2);
  assert.match(how, /parameters and AdamW state in one shared-memory array .* each summed and updated 1\/2 per rank/);
});

test("mpirun -np 3 on one host: each rank updates only its third of every bucket (unequal slices, several buckets), one process's losses", { skip, timeout: 120_000 }, async () => {
  // Small buckets (0.05 MiB: tiny's 0.13M parameters make eight) so slices start and end inside parameters. A
  // rank that updated another's slice, or none, would leave part of the model un- or twice-updated: the losses part.
  const { path: how } = await equivalence(["--bucket-mb", "0.05"], 3, () => [], 3);
  assert.match(how, /over 3 ranks .*shared-memory array .*, ([2-9]|\d{2,}) gradient bucket\(s\)/);
});

test("mpirun -np 3 without clipping or spike guard: AdamW runs inside each bucket's sum (fused), one process's losses", { skip, timeout: 120_000 }, async () => {
  // Nothing needs the global gradient before the update, so each rank updates its slices as their sums complete.
  const { path: how } = await equivalence(["--bucket-mb", "0.05"], 3, () => [], 3, ["--grad-clip", "0", "--no-spike-guard"]);
  assert.match(how, /shared-memory array/);
});

// A container's /dev/shm is often 64 MB, smaller than a real model's shared parameters: emulated by a private mount
// namespace whose /dev/shm is a 1 MiB tmpfs (the tiny model's array needs 1.5 MiB; Open MPI's own segments go to /tmp).
// Before the memory was reserved up front, the first write past the tmpfs's end killed rank 0 with SIGBUS.
const smallShm = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs -o size=1M tmpfs /dev/shm"]).status === 0;
test("a /dev/shm too small for the shared parameters: the ranks keep their own copies, say why, and give one process's losses",
  { skip: skip || (smallShm ? false : "needs unshare -m and mount (root or CAP_SYS_ADMIN) to give the job a 1 MiB /dev/shm"), timeout: 120_000 }, async () => {
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  const { path: how } = await equivalence([], 2, () => ["--mca", "btl_vader_backing_directory", os.tmpdir(), "--mca", "osc_sm_backing_directory", os.tmpdir()],
    2, [], (cmd, args) => ["unshare", ["-m", "--propagation", "private", "sh", "-c",
      `mount -t tmpfs -o size=1M tmpfs /dev/shm && exec ${[cmd, ...args].map(quote).join(" ")}`]]);
  assert.match(how, /parameters not shared \(mpiSharedArray: rank 0: reserving \d+ bytes of shared memory \(\/dev\/shm\): No space left on device\)/);
  assert.doesNotMatch(how, /shared-memory array/);
});

test("mpirun -np 2 --zero1: the same losses and identical parameters with AdamW state sharded across ranks", { skip, timeout: 120_000 }, async () => {
  const { path: how } = await equivalence(["--zero1"], 4);
  assert.match(how, /ZeRO-1: per rank AdamW state/);
});

test("mpirun -np 2 --no-shared-memory: the all-reduce path through MPI's transport gives the same losses", { skip, timeout: 120_000 }, async () => {
  const { path: how } = await equivalence(["--no-shared-memory"], 2);
  assert.match(how, /MPI collectives \(turned off\).*gradient bucket/);
  assert.doesNotMatch(how, /shared-memory array/);
});

test("mpirun --hostfile with two loopback addresses as two hosts (TCP between them): the same losses and parameters", { skip, timeout: 120_000 }, async () => {
  const { stderr, path: how } = await equivalence([], 2, (dir) => {
    const hosts = path.join(dir, "hosts");
    writeFileSync(hosts, "# Open MPI hostfile: one slot on each of two \"hosts\"\n127.0.0.1 slots=1\n127.0.0.2 slots=1\n");
    return ["--hostfile", hosts, "--mca", "plm_rsh_agent", path.resolve("test/train/data-parallel/loopback-agent.sh"),
      "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"];
  });
  // Rank 1 ran under a daemon Open MPI started for the second host (through the agent, as it would over ssh).
  assert.match(stderr, /loopback-agent: starting the daemon of host 127\.0\.0\.2/);
  // Two hosts: no shared memory between them, so the all-reduce path (each rank its own parameters).
  assert.match(how, /the ranks span several hosts/);
});

/** Processes under pid (any depth), read from /proc. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let tasks: string[] = [];
    try { tasks = readdirSync(`/proc/${p}/task`); } catch { return; }
    for (const t of tasks) {
      let kids = "";
      try { kids = readFileSync(`/proc/${p}/task/${t}/children`, "utf8"); } catch { continue; }
      for (const k of kids.split(/\s+/).filter(Boolean).map(Number)) { out.push(k); walk(k); }
    }
  };
  walk(pid);
  return out;
}

function rankOf(pid: number): number | null {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    const hit = env.find((e) => e.startsWith("OMPI_COMM_WORLD_RANK="));
    return hit ? Number(hit.split("=")[1]) : null;
  } catch {
    return null;
  }
}

test("killing one rank ends the job within 30 s, non-zero, checkpoints intact; --resume with 1 rank continues the same loss curve", { skip, timeout: 180_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-dp-kill-"));
  try {
    const STEPS = 80;
    const common = ["--preset", "tiny", "--data", makeData(dir), "--batch", "2", "--seq", "32", "--steps", String(STEPS),
      "--grad-accum", "2", "--lr", "3e-3", "--warmup", "4", "--seed", "7", "--threads", "1", "--checkpoint-every", "4",
      "--keep-last", "2", "--json-log"];
    const cli = [process.execPath, "bin/zhiyu.mjs", "train"];
    // The uninterrupted run, in one process.
    const ref = await run(cli[0]!, [...cli.slice(1), ...common, "--out", path.join(dir, "ref")]);
    assert.equal(ref.code, 0, ref.stderr);
    const refLosses = losses(ref.stdout);
    assert.equal(refLosses.size, STEPS);

    const runDir = path.join(dir, "dp");
    const job = spawn("mpirun", [...MPIRUN, "-np", "2", ...cli, ...common, "--out", runDir], { env: MPI_ENV, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    job.stderr.on("data", (c: Buffer) => { stderr += c.toString(); });
    const ended = new Promise<number | null>((resolve) => job.on("close", (code) => resolve(code)));
    let exitCode: number | null | undefined;
    void ended.then((c) => { exitCode = c; });
    await new Promise<void>((resolve) => {
      job.stdout.on("data", (c: Buffer) => {
        stdout += c.toString();
        if (losses(stdout).size >= 10) resolve();
      });
      void ended.then(() => resolve());
    });
    assert.equal(exitCode, undefined, `the job ended before the kill: ${stderr}`);
    const victim = descendants(job.pid!).find((p) => rankOf(p) === 1);
    assert.ok(victim, "rank 1's process not found under mpirun");
    const killedAt = performance.now();
    process.kill(victim, "SIGKILL");
    const timer = setTimeout(() => job.kill("SIGKILL"), 60_000);
    const code = await ended;
    clearTimeout(timer);
    const seconds = (performance.now() - killedAt) / 1000;
    assert.ok(seconds < 30, `the job took ${seconds.toFixed(1)} s to end after rank 1 was killed`);
    assert.notEqual(code, 0, "mpirun exited 0 after a rank was killed");
    const seenBeforeKill = losses(stdout);
    for (const [step, l] of seenBeforeKill) assert.ok(Math.abs(l - refLosses.get(step)!) <= 1e-6, `step ${step}: ${l} vs ${refLosses.get(step)}`);

    // Every checkpoint left is complete; the newest is where --resume starts.
    const cks = listCheckpoints(runDir);
    assert.ok(cks.length > 0, "no checkpoint survived");
    for (const ck of cks) {
      assert.deepEqual(readdirSync(ck.dir).sort(), ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"]);
      assert.equal(readTrainerState(ck.dir).step, ck.step);
    }
    const from = cks.at(-1)!.step;
    assert.ok(from < STEPS, `the job got to step ${from} of ${STEPS}: the kill came too late to test anything`);
    const resumed = await run(cli[0]!, [...cli.slice(1), "--resume", runDir]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const after = losses(resumed.stdout);
    assert.equal(after.size, STEPS - from);
    for (const [step, l] of after) {
      assert.ok(Math.abs(l - refLosses.get(step)!) <= 1e-6, `resumed step ${step}: ${l} vs uninterrupted ${refLosses.get(step)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an mpirun job without MPI (ZHIYU_NO_MPI=1, as a build without it) trains once on rank 0 and says so once", { skip: hasMpirun ? false : "mpirun not found", timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-dp-nompi-"));
  try {
    const r = await run("mpirun", [...MPIRUN, "-np", "2", "-x", "ZHIYU_NO_MPI=1", process.execPath, "bin/zhiyu.mjs", "train",
      "--preset", "tiny", "--data", makeData(dir), "--batch", "2", "--seq", "32", "--steps", "3", "--threads", "1", "--json-log"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.split("training in this process alone").length - 1, 1, r.stderr);
    assert.deepEqual([...losses(r.stdout).keys()], [0, 1, 2]);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("{") && l.includes('"loss"')).length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("ranks whose parameters differ (here: two seeds, via mpirun's MPMD syntax) stop the job with an error naming the rank", { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-dp-diverge-"));
  try {
    const flags = ["--preset", "tiny", "--data", makeData(dir), "--batch", "2", "--seq", "32", "--steps", "3", "--grad-accum", "2", "--threads", "1"];
    const cli = [process.execPath, "bin/zhiyu.mjs", "train", ...flags];
    const t0 = performance.now();
    const r = await run("mpirun", [...MPIRUN, "-np", "1", ...cli, "--seed", "1", ":", "-np", "1", ...cli, "--seed", "2"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /data-parallel ranks diverged at step 0: the parameters of rank\(s\) 1 \(checksum [0-9a-f]{16}\) differ from rank 0's/);
    assert.ok(performance.now() - t0 < 30_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
