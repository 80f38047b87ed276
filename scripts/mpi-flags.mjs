// Compiler and linker flags for the MPI part of the native addon (native/mpi_napi.cc), for binding.gyp:
//   node scripts/mpi-flags.mjs cflags   → "-DZY_HAVE_MPI -I…" or nothing
//   node scripts/mpi-flags.mjs libs     → "-L… -Wl,-rpath,… -lmpi" or nothing
//   node scripts/mpi-flags.mjs describe → one line saying what was found (build-native.mjs prints it)
// MPI is used when Open MPI's compiler wrapper `mpicc` answers --showme and its mpi.h exists (Debian: openmpi-bin
// and libopenmpi-dev); ZHIYU_NO_MPI=1 turns it off (build-native.mjs retries that way when an MPI build fails).
// Leaves out: MPICH's wrapper options (-compile-info/-link-info) and any MPI other than one mpicc names.
import { execFileSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";

export function mpiFlags(env = process.env) {
  if (env.ZHIYU_NO_MPI === "1") return { found: false, why: "ZHIYU_NO_MPI=1", cflags: [], libs: [] };
  const showme = (what) => execFileSync("mpicc", [`--showme:${what}`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  let compile, link;
  try {
    compile = showme("compile").split(/\s+/).filter(Boolean);
    link = showme("link").split(/\s+/).filter(Boolean);
  } catch {
    return { found: false, why: "no Open MPI compiler wrapper (mpicc) on PATH; install openmpi-bin and libopenmpi-dev", cflags: [], libs: [] };
  }
  const includeDirs = compile.filter((f) => f.startsWith("-I")).map((f) => f.slice(2));
  if (!includeDirs.some((d) => existsSync(path.join(d, "mpi.h"))) && !existsSync("/usr/include/mpi.h")) {
    return { found: false, why: `mpicc found but no mpi.h under ${includeDirs.join(", ") || "its include paths"}; install libopenmpi-dev`, cflags: [], libs: [] };
  }
  const libDirs = link.filter((f) => f.startsWith("-L")).map((f) => f.slice(2));
  return {
    found: true, why: `Open MPI (mpicc: ${includeDirs.join(" ")})`,
    cflags: ["-DZY_HAVE_MPI", ...compile.filter((f) => f.startsWith("-I") || f.startsWith("-D") || f === "-pthread")],
    libs: [...link.filter((f) => f.startsWith("-L") || f.startsWith("-l") || f === "-pthread"), ...libDirs.map((d) => `-Wl,-rpath,${d}`)],
  };
}

// Run as a script (binding.gyp runs it through build/stage/scripts, a link: compare real paths).
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(new URL(import.meta.url).pathname)) {
  const f = mpiFlags();
  const what = process.argv[2];
  if (what === "cflags") process.stdout.write(f.cflags.join(" ") + "\n");
  else if (what === "libs") process.stdout.write(f.libs.join(" ") + "\n");
  else process.stdout.write((f.found ? `MPI: ${f.why}` : `MPI: none (${f.why})`) + "\n");
}
