// One side of dev/perf/checkout-ab.mjs: loads a model from the checkout ROOT (its own src/ and native addon), runs
// one pass per "go" line on stdin and answers each with {"wall": ms, "cpu": ms} (process CPU time, all threads).
// A pass is an embedding of BATCH sequences of TOKENS tokens ("embed", as zhiyu bench embed feeds it), or a
// TOKENS-token prefill of a fresh sequence ("prefill"). Two warm-up passes first (panels are packed there), then
// "ready". Leaves out: decode, llama.cpp.
// usage (by checkout-ab.mjs): tsx dev/perf/checkout-ab-pass.ts ROOT MODEL THREADS embed|prefill BATCH TOKENS
import readline from "node:readline";

const [root, model, threadsArg, kind, batchArg, tokensArg] = process.argv.slice(2);
if (!root || !model || (kind !== "embed" && kind !== "prefill")) throw new Error("usage: ROOT MODEL THREADS embed|prefill BATCH TOKENS");
const threads = Number(threadsArg), batch = Number(batchArg ?? 1), tokens = Number(tokensArg ?? 128);
const { createBackend } = await import(`${root}/src/backend/index.ts`);
const { setDefaultBackend } = await import(`${root}/src/tensor/index.ts`);
const backend = createBackend({ threads });
setDefaultBackend(backend);
let pass: () => void;
if (kind === "embed") {
  const { loadEncoder } = await import(`${root}/src/infer/encoder.ts`);
  const enc = loadEncoder(model, { backend });
  const word = enc.tokenize("hello").ids[1]!;
  const framing = enc.tokenize("x").ids;
  const seqs = Array.from({ length: batch }, () => ({ ids: [framing[0]!, ...new Array<number>(tokens - 2).fill(word), framing[2]!] }));
  pass = () => { enc.embedSequences(seqs); };
} else {
  const { loadModel } = await import(`${root}/src/infer/load.ts`);
  const m = await loadModel(model, { contextLength: tokens + 8 });
  const prompt = Array.from({ length: tokens }, (_, i) => 100 + ((i * 7919) % 5000));
  pass = () => { m.forward([{ seq: m.createSequence(), tokens: prompt }]); };
}
pass(); pass();
process.stdout.write("ready\n");
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line !== "go") break;
  const c0 = process.cpuUsage(), t0 = performance.now();
  pass();
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 }) + "\n");
}
process.exit(0);
