// A steady load of prompt passes for `perf record -p` / `perf stat -p`: loads MODEL, warms up, prints "ready PID" on
// stderr, then runs pp passes until --seconds have passed and prints the median wall and CPU ms per pass.
// usage: node --import tsx dev/perf/prefill-loop.mts MODEL.gguf [--threads 2] [--tokens 128] [--seconds 20] [--tensor]
// --tensor: the prompt layer ops hidden (every layer through the tensor ops, the path before them).
// Leaves out: A/B arms (dev/perf/prefill-ab.mts has them).
import { createBackend } from "../../src/backend/index.js";
import { loadModel } from "../../src/infer/load.js";
import { setDefaultBackend } from "../../src/tensor/index.js";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const threads = Number(opt("threads", "2")), tokens = Number(opt("tokens", "128")), seconds = Number(opt("seconds", "20"));
const backend = createBackend({ threads });
setDefaultBackend(backend);
const model = await loadModel(args[0]!, { backend, contextLength: tokens + 8 });
if (args.includes("--tensor"))
  for (const name of ["prefillStackPanels", "prefillLayerPanels", "prefillMlpPanels"]) Object.defineProperty(backend, name, { value: undefined });
const prompt = Array.from({ length: tokens }, (_, i) => 100 + ((i * 7919) % 5000));
const pass = () => {
  const seq = model.createSequence();
  const c0 = process.cpuUsage(), t0 = performance.now();
  model.forward([{ seq, tokens: prompt }]);
  const wall = performance.now() - t0, c = process.cpuUsage(c0);
  seq.dispose();
  return { wall, cpu: (c.user + c.system) / 1000 };
};
for (let i = 0; i < 3; i++) pass();
console.error(`ready ${process.pid}`);
const walls: number[] = [], cpus: number[] = [];
const end = performance.now() + seconds * 1000;
while (performance.now() < end) { const p = pass(); walls.push(p.wall), cpus.push(p.cpu); }
const med = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1]!;
console.log(`${args[0]} pp${tokens}, ${threads} threads, ${walls.length} passes: median wall ${med(walls).toFixed(1)} ms (${(tokens / med(walls) * 1000).toFixed(0)} tok/s), cpu ${med(cpus).toFixed(1)} ms, min wall ${Math.min(...walls).toFixed(1)}`);
