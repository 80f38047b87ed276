// `zhiyu bench decode --model PATH --threads N [--tokens N] [--json]`: tokens per second generating one token at
// a time (greedy, KV cache) after a short prompt. Prints {"tokens_per_s": n, ...} with --json.
import { runDecodeOrPrefill } from "./bench-prefill.js";

export async function run(argv: string[]): Promise<number | void> {
  return runDecodeOrPrefill("decode", argv);
}
