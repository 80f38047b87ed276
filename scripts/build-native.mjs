// Builds the native addon with npm's own node-gyp (no download: headers come from the local Node install).
// A failed build is not fatal: Zhiyu falls back to the pure-TypeScript reference backend and says so once.
// - Never rewrites a loaded addon: node-gyp builds in build/stage/ (binding.gyp beside links to native/ and
//   scripts/), and the result is copied to a temporary name and renamed over build/Release/zhiyu_native.node, so a
//   running server keeps the file it mapped and a new process gets the whole new one.
// - Skips the build when build/Release/zhiyu_native.stamp says the sources, binding.gyp and Node are unchanged
//   (so `npx zhiyu`, which installs the checkout into npm's cache and reruns this script, costs a second).
// - Says what it does: one line per compiled file, and that it takes a few minutes on two cores.
// - Links Open MPI when scripts/mpi-flags.mjs finds it (native/mpi_napi.cc: collectives for data-parallel training);
//   a build with MPI that fails is retried without it, so a broken MPI install never costs the native backend.
// Flags: --verbose (node-gyp's own output), --incremental (recompile only what changed; development), --force.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { mpiFlags } from "./mpi-flags.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const verbose = process.argv.includes("--verbose");
const incremental = process.argv.includes("--incremental");
const force = process.argv.includes("--force");
const require = createRequire(import.meta.url);
const release = path.join(root, "build", "Release");
const addon = path.join(release, "zhiyu_native.node");
const stampFile = path.join(release, "zhiyu_native.stamp");
const stage = path.join(root, "build", "stage");

function nodeGypPath() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const npmDir = path.dirname(path.dirname(process.execPath));
  const candidates = [
    path.join(npmDir, "lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"),
    "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    "/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
  ];
  for (const c of candidates) if (existsSync(c)) return c;
  try { return require.resolve("node-gyp/bin/node-gyp.js"); } catch { return null; }
}

/** What the addon is built from: binding.gyp, the source lister, every file under native/, the Node ABI and the MPI
 *  flags (installing or removing Open MPI rebuilds the addon). */
function sourceStamp() {
  const h = createHash("sha256");
  h.update(`${process.version} ${process.arch} ${process.versions.modules}\n`);
  const mpi = mpiFlags();
  h.update(`mpi ${mpi.cflags.join(" ")} ${mpi.libs.join(" ")}\n`);
  for (const f of ["binding.gyp", "scripts/native-sources.mjs", "scripts/mpi-flags.mjs"]) h.update(f).update(readFileSync(path.join(root, f)));
  for (const f of readdirSync(path.join(root, "native")).sort()) h.update(f).update(readFileSync(path.join(root, "native", f)));
  return h.digest("hex");
}

/** (Re)creates build/stage: a copy of binding.gyp beside links to native/ and scripts/, for node-gyp to build in. */
function prepareStage() {
  mkdirSync(stage, { recursive: true });
  copyFileSync(path.join(root, "binding.gyp"), path.join(stage, "binding.gyp"));
  for (const dir of ["native", "scripts"]) {
    rmSync(path.join(stage, dir), { recursive: true, force: true });
    symlinkSync(path.join("..", "..", dir), path.join(stage, dir), "dir");
  }
}

/** Copies file to dest through a temporary name and a rename (atomic on one file system). */
export function replaceAtomically(file, dest) {
  const tmp = `${dest}.tmp-${process.pid}`;
  copyFileSync(file, tmp);
  renameSync(tmp, dest);
}

/** Whether a freshly built addon loads in a new Node process (an MPI library that links but does not load must not
 *  replace a working addon). */
function loads(file) {
  const r = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(file)})`], { encoding: "utf8" });
  if (r.status !== 0) process.stderr.write(r.stderr.split("\n").slice(0, 6).join("\n") + "\n");
  return r.status === 0;
}

function runNodeGyp(gyp, command, env = process.env) {
  const args = [gyp, command, "-j", "max"];
  if (!process.env.npm_config_nodedir && existsSync("/usr/include/node/node_api.h")) args.push("--nodedir=/usr");
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: stage, env, stdio: verbose ? "inherit" : ["ignore", "pipe", "pipe"] });
    let tail = "";
    const keep = (chunk) => {
      tail = (tail + chunk.toString()).slice(-8000);
    };
    if (!verbose) {
      let pending = "";
      child.stdout.on("data", (chunk) => {
        keep(chunk);
        pending += chunk.toString();
        const lines = pending.split("\n");
        pending = lines.pop();
        for (const line of lines) {
          const m = /\b(?:CC|CXX)\(target\)\s+\S*?obj\.target\/zhiyu_native\/(\S+)\.o\b/.exec(line);
          if (m) console.log(`zhiyu:   compiling ${m[1]}`);
        }
      });
      child.stderr.on("data", keep);
    }
    child.on("close", (code) => resolve({ code, tail }));
  });
}

async function main() {
  const stamp = sourceStamp();
  if (!force && !incremental && existsSync(addon) && existsSync(stampFile) && readFileSync(stampFile, "utf8").trim() === stamp) {
    console.log("zhiyu: native addon up to date (build/Release/zhiyu_native.node); not rebuilt");
    // Same sources (a checkout may touch native/ without changing it): mark the addon current for bin/zhiyu.mjs's check.
    const now = new Date();
    utimesSync(addon, now, now);
    return;
  }
  const gyp = nodeGypPath();
  if (!gyp) {
    console.warn("zhiyu: node-gyp not found; the native backend was not built (the reference backend will be used).");
    return;
  }
  const files = readdirSync(path.join(root, "native")).filter((f) => /\.(c|cc)$/.test(f)).length;
  console.log(`zhiyu: compiling the native kernels (${files} C/C++ files under native/) — a few minutes on two cores…`);
  const t0 = performance.now();
  prepareStage();
  const again = incremental && existsSync(path.join(stage, "build", "Makefile"));
  const mpi = mpiFlags();
  console.log(`zhiyu: ${mpi.found ? `with MPI for data-parallel training — ${mpi.why}` : `without MPI (${mpi.why}); training runs in one process`}`);
  let { code, tail } = await runNodeGyp(gyp, again ? "build" : "rebuild");
  const built = path.join(stage, "build", "Release", "zhiyu_native.node");
  if (code === 0 && existsSync(built) && mpi.found && !loads(built)) {
    code = 1;
    tail = `${built} was built but does not load (see above)\n`;
  }
  if ((code !== 0 || !existsSync(built)) && mpi.found) {
    // An MPI installation that does not compile or link must not cost the whole native backend.
    if (!verbose) process.stderr.write(tail);
    console.warn("zhiyu: the build with MPI failed; building again without MPI (training will run in one process)");
    ({ code, tail } = await runNodeGyp(gyp, "rebuild", { ...process.env, ZHIYU_NO_MPI: "1" }));
  }
  if (code !== 0 || !existsSync(built)) {
    if (!verbose) process.stderr.write(tail);
    console.warn("zhiyu: the native addon failed to build; Zhiyu will run on the pure-TypeScript reference backend.");
    return;
  }
  mkdirSync(release, { recursive: true });
  replaceAtomically(built, addon);
  writeFileSync(`${stampFile}.tmp-${process.pid}`, stamp + "\n");
  renameSync(`${stampFile}.tmp-${process.pid}`, stampFile);
  console.log(`zhiyu: native addon built in ${((performance.now() - t0) / 1000).toFixed(0)} s (build/Release/zhiyu_native.node)`);
}

// Run as a script (npm install, npm run build:native); importing it (the tests) only gets replaceAtomically.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
