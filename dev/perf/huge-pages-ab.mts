// A/B of the model weights on 2 MiB pages inside one process: the same GGUF loaded twice on one backend, once with
// LoadModelOptions.hugePages (the encoded matrices in one buffer advised onto huge pages before it is filled, the
// default) and once without (the same buffer on 4 KiB pages), then interleaved rounds of greedy decode tokens (the
// order alternates by round). Prints per arm the median wall and process-CPU ms per token and the 10th percentile
// of the per-token wall ms (the least loaded tokens), the process's AnonHugePages after each load, and checks both
// arms' logits agree bit for bit (the advice never changes a value).
// usage: node --import tsx dev/perf/huge-pages-ab.mts MODEL.gguf [--threads 2] [--rounds 8] [--tokens 32] [--4k-first]
// --4k-first: load the ordinary-pages arm first (the load order is the other thing the two arms differ in).
// Leaves out: the KV cache (both arms' caches are advised, src/models/kv-cache.ts) and prefill.
import { readFileSync } from "node:fs";
import { createBackend } from "../../src/backend/index.js";
import { loadModel } from "../../src/infer/load.js";
import { argmax } from "../../src/infer/sampler.js";
import { setDefaultBackend } from "../../src/tensor/index.js";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const threads = Number(opt("threads", "2")), rounds = Number(opt("rounds", "8")), tokens = Number(opt("tokens", "32"));
const backend = createBackend({ threads });
setDefaultBackend(backend);

/** MB of this process's memory on transparent huge pages, null off Linux. */
function anonHugeMb(): number | null {
  try {
    const m = /AnonHugePages:\s+(\d+) kB/.exec(readFileSync("/proc/self/smaps_rollup", "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

const huge0 = anonHugeMb();
const arms = [] as Array<{ name: string; model: Awaited<ReturnType<typeof loadModel>>; wall: number[]; cpu: number[]; steps: number[]; hugeMbAfterLoad: number | null }>;
for (const hugePages of args.includes("--4k-first") ? [false, true] : [true, false]) {
  const model = await loadModel(args[0]!, { backend, hugePages, contextLength: tokens + 16 });
  arms.push({ name: hugePages ? "huge" : "4k", model, wall: [], cpu: [], steps: [], hugeMbAfterLoad: anonHugeMb() });
}

function decode(arm: (typeof arms)[number], timed: boolean): Float32Array[] {
  const seq = arm.model.createSequence();
  let logits = arm.model.forward([{ seq, tokens: [1, 2, 3, 4] }])[0]!;
  const all: Float32Array[] = [];
  const s0 = performance.now(), c0 = process.cpuUsage();
  for (let i = 0; i < tokens; i++) {
    const t = performance.now();
    logits = arm.model.forward([{ seq, tokens: [argmax(logits)] }])[0]!;
    if (timed) arm.steps.push(performance.now() - t);
    all.push(logits.slice());
  }
  const c = process.cpuUsage(c0);
  if (timed) arm.wall.push((performance.now() - s0) / tokens), arm.cpu.push((c.user + c.system) / 1000 / tokens);
  seq.dispose();
  return all;
}

const warm = arms.map((a) => decode(a, false));
for (let i = 0; i < warm[0]!.length; i++) {
  if (!warm[0]![i]!.every((v, j) => Object.is(v, warm[1]![i]![j]))) throw new Error(`token ${i}: the arms' logits differ`);
}
for (let r = 0; r < rounds; r++) for (const a of r % 2 ? [...arms].reverse() : arms) decode(a, true);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const p10 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 10)]!;
const huge = arms.find((a) => a.name === "huge")!, four = arms.find((a) => a.name === "4k")!;
console.log(JSON.stringify({
  model: args[0]!.split("/").pop(), threads, rounds, tokens, logits_bit_identical: true, anon_huge_mb_before_load: huge0,
  arms: arms.map((a) => ({ arm: a.name, anon_huge_mb_after_load: a.hugeMbAfterLoad, wall_ms_per_token: +median(a.wall).toFixed(2),
    cpu_ms_per_token: +median(a.cpu).toFixed(2), step_p10_ms: +p10(a.steps).toFixed(2) })),
  huge_over_4k_wall: +(median(four.wall) / median(huge.wall)).toFixed(3),
  huge_over_4k_cpu: +(median(four.cpu) / median(huge.cpu)).toFixed(3),
  huge_over_4k_p10: +(p10(four.steps) / p10(huge.steps)).toFixed(3),
  anon_huge_mb_end: anonHugeMb(),
}));
