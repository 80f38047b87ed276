// Why `zhiyu bench embed` and dev/perf/checkout-ab-pass.ts disagree on a batch-1 pass: in one process, on one
// encoder loaded as bench embed loads it, passes alternate between the inputs bench embed feeds (random ordinary
// ids, `random`), the ones checkout-ab-pass feeds (T − 2 copies of "hello", `hello`), and the encoder alone on the
// random ids without pooling (`encode`), and the random ids after the process sat idle for --idle-ms (`idle`: what a
// pass meets when llama.cpp's process ran between two of Zhiyu's, as in bench embed's side-by-side rounds); prints the first passes after load (the warm-up each tool discards) and the
// median wall and process CPU time of each kind.
// usage: node --import tsx dev/bert/bench-path-ab.ts --model FILE.gguf [--threads 2] [--tokens 128] [--rounds 9] [--idle-ms 1500]
// Leaves out: batches above 1, llama.cpp.
import { parseArgs } from "node:util";
import { Rng } from "../../src/core/rng.js";
import { loadEncoder } from "../../src/infer/encoder.js";
import { packSequences } from "../../src/models/bert/model.js";
import { noGrad, tidy } from "../../src/tensor/index.js";

const { values } = parseArgs({ options: { model: { type: "string" }, threads: { type: "string" }, tokens: { type: "string" },
  rounds: { type: "string" }, "idle-ms": { type: "string" } } });
if (!values.model) throw new Error("--model FILE is required");
const tokens = Number(values.tokens ?? 128), rounds = Number(values.rounds ?? 9), idleMs = Number(values["idle-ms"] ?? 1500);
const enc = loadEncoder(values.model, { threads: Number(values.threads ?? 2) });
const tok = enc.tokenizer;
const framing = enc.tokenize("x").ids;
const ordinary: number[] = [];
for (let id = 0; id < Math.min(tok.vocabSize, enc.vocabSize); id++) if (!tok.isSpecial(id) && !/^\[unused|^\[/.test(tok.idToToken(id) ?? "[")) ordinary.push(id);
const rng = new Rng(16);
const random = [{ ids: [framing[0]!, ...Array.from({ length: tokens - 2 }, () => ordinary[rng.int(ordinary.length)]!), framing[2]!] }];
const word = enc.tokenize("hello").ids[1]!;
const hello = [{ ids: [framing[0]!, ...new Array<number>(tokens - 2).fill(word), framing[2]!] }];
const kinds: Record<string, () => void> = {
  random: () => { enc.embedSequences(random); },
  hello: () => { enc.embedSequences(hello); },
  idle: () => { enc.embedSequences(random); },
  encode: () => { noGrad(() => tidy(() => { enc.model.encode(packSequences(enc.config, random)).toFloat32Array(); })); },
};
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const timed = (fn: () => void, idle = false) => {
  if (idle) Atomics.wait(sleeper, 0, 0, idleMs); // the pool's workers go to sleep, the caches to other processes
  const c0 = process.cpuUsage(), t0 = performance.now();
  fn();
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
};
const first = Array.from({ length: Number(process.env.FIRST ?? 4) }, () => timed(kinds.random!));
console.log(`first passes after load (random): ${first.map((t) => `${t.wall.toFixed(1)} ms wall / ${t.cpu.toFixed(1)} ms CPU`).join(", ")}`);
const names = Object.keys(kinds);
const got = new Map(names.map((n) => [n, [] as Array<{ wall: number; cpu: number }>]));
for (let r = 0; r < rounds; r++) for (const n of r % 2 ? [...names].reverse() : names) got.get(n)!.push(timed(kinds[n]!, n === "idle"));
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const n of names) {
  const t = got.get(n)!;
  console.log(`${n.padEnd(7)} wall median ${med(t.map((x) => x.wall)).toFixed(1)} ms (min ${Math.min(...t.map((x) => x.wall)).toFixed(1)}), ` +
    `CPU median ${med(t.map((x) => x.cpu)).toFixed(1)} ms (min ${Math.min(...t.map((x) => x.cpu)).toFixed(1)})`);
}
enc.dispose();
