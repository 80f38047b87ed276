// Where resident memory goes when a model loads: RSS / peak RSS (VmHWM) after the imports, after loadModel, and
// after a short decode. Usage: node --import tsx dev/perf/rss-probe.ts MODEL.gguf
import { readFileSync } from "node:fs";
import { loadModel } from "../../src/infer/load.js";
import { argmax } from "../../src/infer/sampler.js";

const mem = (what: string) => {
  const s = readFileSync("/proc/self/status", "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024;
  console.log(`${what.padEnd(14)} RSS ${kb("VmRSS").toFixed(1)} MB (anon ${kb("RssAnon").toFixed(1)}, file ${kb("RssFile").toFixed(1)}), peak ${kb("VmHWM").toFixed(1)} MB`);
};
mem("imports");
const model = await loadModel(process.argv[2], { threads: 2 });
mem("loaded");
const seq = model.createSequence();
let logits = model.forward([{ seq, tokens: [1, 2, 3, 4] }])[0];
for (let i = 0; i < 32; i++) {
  logits = model.forward([{ seq, tokens: [argmax(logits)] }])[0];
}
mem("decoded 36");
seq.dispose();
const seq2 = model.createSequence();
model.forward([{ seq: seq2, tokens: Array.from({ length: 128 }, (_, i) => (i * 7919 + 13) % model.vocabSize) }]);
mem("prefill 128");
seq2.dispose();
console.log(`weights ${(model.weightBytes / 2 ** 20).toFixed(1)} MB`);
