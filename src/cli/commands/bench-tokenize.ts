// `zhiyu bench tokenize --tokenizer PATH --file FILE [--json] [--compare-hf] [--rounds N]`: encode throughput,
// line by line (no BOS/EOS), in MB of UTF-8 input per second (median of rounds). With --compare-hf the same
// tokenizer.json also runs on @huggingface/tokenizers (a dev dependency) in the same process, rounds
// alternating, and the ids of every line are compared.
// Leaves out: decode throughput and batch/parallel encoding.
import { readFileSync, existsSync, statSync } from "node:fs";
import path from "node:path";
import { loadTokenizer } from "../../tokenizers/load.js";
import type { Tokenizer } from "../../tokenizers/tokenizer.js";
import { UsageError } from "../errors.js";
import { median } from "../bench-stats.js";
import { parseFlags } from "../flags.js";

const USAGE = "usage: zhiyu bench tokenize --tokenizer PATH --file FILE [--json] [--compare-hf] [--rounds N]";

interface HfLike {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
}


function timeEncode(lines: string[], encode: (line: string) => number[]): { seconds: number; ids: number[][] } {
  const ids: number[][] = new Array(lines.length);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < lines.length; i++) ids[i] = encode(lines[i]);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, ids };
}

async function loadHf(tokPath: string): Promise<HfLike> {
  const isDir = statSync(tokPath).isDirectory();
  const dir = isDir ? tokPath : path.dirname(tokPath);
  const jsonPath = isDir ? path.join(tokPath, "tokenizer.json") : tokPath;
  if (!jsonPath.endsWith(".json")) throw new UsageError(`--compare-hf needs a tokenizer.json (or a folder with one), not ${tokPath}`);
  let mod: { Tokenizer: new (json: object, config: object) => HfLike };
  try {
    mod = (await import("@huggingface/tokenizers")) as unknown as typeof mod;
  } catch {
    throw new UsageError("--compare-hf needs the dev dependency @huggingface/tokenizers (npm install)");
  }
  const cfgPath = path.join(dir, "tokenizer_config.json");
  const cfg = existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, "utf8")) : {};
  return new mod.Tokenizer(JSON.parse(readFileSync(jsonPath, "utf8")), cfg);
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      tokenizer: { type: "string" },
      file: { type: "string" },
      json: { type: "boolean", default: false },
      "compare-hf": { type: "boolean", default: false },
      rounds: { type: "string", default: "3" },
      help: { type: "boolean", default: false },
    },
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.tokenizer || !values.file) throw new UsageError(`--tokenizer and --file are required\n${USAGE}`);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds must be a positive integer, got ${values.rounds}`);
  const text = readFileSync(values.file, "utf8");
  const lines = text.split("\n").filter((l) => l.length > 0);
  const mb = lines.reduce((n, l) => n + Buffer.byteLength(l), 0) / 1e6;

  const tok: Tokenizer = loadTokenizer(values.tokenizer);
  const ours = (line: string): number[] => tok.encode(line, { addSpecialTokens: false });
  const hf = values["compare-hf"] ? await loadHf(values.tokenizer) : null;
  const theirs = hf ? (line: string): number[] => hf.encode(line, { add_special_tokens: false }).ids : null;

  // Warm-up (JIT, caches start cold in every round below only for the first round of each).
  timeEncode(lines.slice(0, 200), ours);
  if (theirs) timeEncode(lines.slice(0, 200), theirs);
  const oursRates: number[] = [];
  const theirRates: number[] = [];
  let mismatched = 0;
  let firstMismatch = -1;
  for (let r = 0; r < rounds; r++) {
    const a = timeEncode(lines, ours);
    oursRates.push(mb / a.seconds);
    if (theirs) {
      const b = timeEncode(lines, theirs);
      theirRates.push(mb / b.seconds);
      if (r === 0) {
        for (let i = 0; i < lines.length; i++) {
          const x = a.ids[i];
          const y = b.ids[i];
          if (x.length !== y.length || x.some((v, k) => v !== y[k])) {
            mismatched++;
            if (firstMismatch < 0) firstMismatch = i;
          }
        }
      }
    }
  }
  const result: Record<string, number> = { mb_per_s: round3(median(oursRates)) };
  if (theirs) {
    result.hf_mb_per_s = round3(median(theirRates));
    result.speedup = round3(result.mb_per_s / result.hf_mb_per_s);
    result.mismatched_lines = mismatched;
  }
  if (values.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`tokenizer ${values.tokenizer}\nfile      ${values.file} (${lines.length} lines, ${mb.toFixed(2)} MB)`);
    console.log(`zhiyu     ${result.mb_per_s} MB/s (median of ${rounds})`);
    if (theirs) {
      console.log(`hf        ${result.hf_mb_per_s} MB/s  (@huggingface/tokenizers)`);
      console.log(`speedup   ${result.speedup}x   mismatched lines: ${mismatched}${firstMismatch >= 0 ? ` (first: line ${firstMismatch + 1})` : ""}`);
    }
  }
  return mismatched > 0 ? 1 : 0;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
