// Linear-layer products at prefill / batch-1 embedding shapes, three ways per weight type, rounds interleaved so a
// loaded machine slows each alike: the unpacked path (gemmF32 x·wᵀ for f32; quantMatmul for f16, which packs its
// f32 panels per call), weights packed once into f32 panels, and (f16) packed once into f16 panels widened in
// registers — the choice native/gemm_packed.c offers. Per way: the best wall time of the rounds and, with one
// thread, the median process CPU time (both load-robust proxies on a shared machine), and GFLOP/s of the best.
// usage: node --import tsx dev/bert/packed-gemm-bench.ts [--m 128] [--threads 2] [--rounds 15] [--shapes bert|llama110m|qwen1b]
// Leaves out: correctness (test/backend/gemm-packed.test.ts), whole passes (zhiyu bench embed / bench infer).
import { parseArgs } from "node:util";
import { createBackend } from "../../src/backend/index.js";
import { loadNative } from "../../src/backend/native.js";
import { f32ToF16 } from "../../src/core/dtype.js";

const { values } = parseArgs({ options: { m: { type: "string" }, threads: { type: "string" }, rounds: { type: "string" }, shapes: { type: "string" } } });
const m = Number(values.m ?? 128), rounds = Number(values.rounds ?? 15);
createBackend({ threads: Number(values.threads ?? 2) }); // sets the pool's thread count
const a = loadNative()!;
const SHAPES: Record<string, [number, number][]> = {
  bert: [[2304, 768], [768, 768], [3072, 768], [768, 3072]],
  llama110m: [[768, 768], [2048, 768], [768, 2048]],
  qwen1b: [[2048, 2048], [6144, 2048], [2048, 6144]],
};
const median = (v: number[]): number => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]!;
for (const [n, k] of SHAPES[values.shapes ?? "bert"]!) {
  const x = new Float32Array(m * k).map((_, i) => Math.sin(i)), w = new Float32Array(n * k).map((_, i) => Math.cos(i) * 0.1);
  const wh = Uint16Array.from(w, f32ToF16), y = new Float32Array(m * n);
  const wb = new Uint8Array(w.buffer), whb = new Uint8Array(wh.buffer);
  const p32 = a.gemmPackWeights!(wb, "f32", n, k, "f32")!, p16to32 = a.gemmPackWeights!(whb, "f16", n, k, "f32")!;
  const p16 = a.gemmPackWeights!(whb, "f16", n, k, "f16")!;
  const ways: [string, () => void][] = [
    ["f32 unpacked", () => a.gemmF32!(x, w, y, 1, m, n, k, false, true, 0, 0, 0, 1, 0)],
    ["f32 panels", () => a.gemmPacked!(x, m, p32, "f32", n, k, y)],
    ["f16 unpacked (quantMatmul)", () => a.quantMatmul!(whb, "f16", n, k, x, y, m)],
    ["f16 → f32 panels", () => a.gemmPacked!(x, m, p16to32, "f32", n, k, y)],
    ["f16 panels", () => a.gemmPacked!(x, m, p16, "f16", n, k, y)],
  ];
  const times = ways.map(() => [] as number[]), cpu = ways.map(() => [] as number[]);
  for (const [, f] of ways) f();
  for (let r = 0; r < rounds; r++)
    ways.forEach(([, f], i) => {
      const c0 = process.cpuUsage(), t0 = performance.now();
      f();
      times[i]!.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[i]!.push((c.user + c.system) / 1000);
    });
  console.log(`m ${m} n ${n} k ${k}: ` + ways.map(([name], i) => {
    const ms = Math.min(...times[i]!);
    return `${name} best ${ms.toFixed(3)} ms (${(2 * m * n * k / ms / 1e6).toFixed(0)} GF/s) cpu ${median(cpu[i]!).toFixed(2)} ms`;
  }).join(" | "));
}
