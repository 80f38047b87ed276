// `zhiyu doctor`: what Zhiyu runs on here — Node version, the backend in use (cpu or ref, and why), ISA level,
// thread count, which native kernel families the addon has — and a one-line self-test: a small matmul and a
// softmax run on both backends and must agree.
// Leaves out: benchmarks (zhiyu bench ...), model checks.

import type { Backend } from "../../backend/backend.js";
import { createBackend, nativeUnavailableReason } from "../../backend/index.js";
import { loadNative } from "../../backend/native.js";
import { Rng } from "../../core/rng.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";

const HELP = `usage: zhiyu doctor [--threads N]

Shows the backend Zhiyu will use (native cpu kernels or the pure-TypeScript reference, and why), the ISA
level, the thread count, and runs a small self-test comparing both backends.

  --threads N   native threads to use (default: all cores)`;

/** Max |difference| between the two backends on a 17×33·33×19 matmul and a 5×257 softmax (seeded inputs). */
function selfTest(a: Backend, b: Backend): number {
  const rng = new Rng(12345);
  const rand = () => rng.uniform(-1, 1);
  const x = Float32Array.from({ length: 17 * 33 }, rand), w = Float32Array.from({ length: 33 * 19 }, rand);
  const s = Float32Array.from({ length: 5 * 257 }, () => rand() * 8);
  let worst = 0;
  const outs = [a, b].map((be) => {
    const c = new Float32Array(17 * 19), y = new Float32Array(5 * 257);
    be.matmul(x, w, c, { batch: 1, m: 17, n: 19, k: 33, transA: false, transB: false, strideA: 0, strideB: 0, strideC: 0, alpha: 1, beta: 0 }, "f32");
    be.softmax(s, y, 5, 257);
    return [c, y];
  });
  for (let t = 0; t < 2; t++) {
    for (let i = 0; i < outs[0][t].length; i++) worst = Math.max(worst, Math.abs(outs[0][t][i] - outs[1][t][i]));
  }
  return worst;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({ args: argv, options: { threads: { type: "string" }, help: { type: "boolean", short: "h" } } }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let threads: number | undefined;
  if (values.threads !== undefined) {
    threads = Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`doctor: --threads must be a positive integer, got "${values.threads}"`);
  }
  const reason = nativeUnavailableReason();
  const backend = reason ? createBackend({ kind: "ref" }) : createBackend({ threads });
  const info = backend.info();
  const addon = loadNative();
  const families = addon
    ? [["ops", typeof addon.opsSoftmax === "function"], ["gemm", typeof addon.gemmF32 === "function"], ["quant", typeof addon.quantMatmul === "function"]]
      .map(([name, ok]) => `${name} ${ok ? "yes" : "no"}`).join(", ")
    : "none";
  const lines = [
    "zhiyu doctor",
    `  node      ${process.version}`,
    `  backend   ${info.name === "cpu" ? "cpu (native kernels)" : `ref (pure TypeScript): ${reason}`}`,
    `  isa       ${info.isa}`,
    `  threads   ${info.threads}`,
    `  kernels   ${families}`,
  ];
  let ok = true;
  if (info.name === "cpu") {
    const diff = selfTest(backend, createBackend({ kind: "ref" }));
    ok = diff < 1e-4;
    lines.push(`  selftest  ${ok ? "ok" : "FAILED"}: matmul 17×33·33×19 and softmax 5×257 agree on cpu and ref (max |diff| ${diff.toExponential(2)})`);
  } else {
    lines.push("  selftest  skipped: only the reference backend is available");
  }
  console.log(lines.join("\n"));
  return ok ? 0 : 1;
}
