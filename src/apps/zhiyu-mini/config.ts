// The zhiyu-mini recipe file (recipes/zhiyu-mini.json): its settings and their check on reading. The keys are
// documented on RecipeConfig; stages.ts and model-card.ts read them.
// Leaves out: defaults (a recipe file states every setting, so a run is reproducible from the file alone).
import { readFileSync } from "node:fs";
import type { LlamaShape } from "../../train/scaling.js";

export interface RecipeConfig {
  name: string;
  seed: number;
  threads: number;
  /** Wall-clock budget of the whole recipe; the final run's size and tokens follow from it. */
  budgetMinutes: number;
  /** Shares of the budget for pretraining and SFT (the rest covers data, sweep, eval). */
  pretrainShare: number;
  sftShare: number;
  /** Assumed training speed (FLOP/s, 6·N per token plus attention) on `threads` threads, used for sizing. */
  trainFlopsPerSecond: number;
  /** Every valEvery-th document of each set is held out (validation loss and bits per byte). */
  valEvery: number;
  /** Cap on the classical-Chinese poetry text (characters), so it does not dominate the Chinese data. */
  poetryMaxChars: number;
  tokenizer: { vocabSize: number; minFrequency: number };
  train: { batch: number; seq: number; lr: number; evalBatches: number; warmupFraction: number; maxWarmup: number };
  /** fitMinTokensPerParam: runs with fewer training tokens per parameter are neither trained nor fitted (they are in
   *  the early transient, where a bigger model can trail a smaller one at the same tokens); 0 keeps all.
   *  fitDelta: the fit's Huber δ on log-loss residuals (default 10⁻³ as in Chinchilla; 1 = least squares). */
  sweep: { shapes: LlamaShape[]; tokens: number[]; fitMinTokensPerParam?: number; fitDelta?: number };
  /** Shapes the final model may take; the fit picks the one with the lowest predicted loss in the budget. */
  candidates: LlamaShape[];
  /** Largest shipped size in bytes (bf16 weights + tokenizer). */
  maxModelBytes: number;
  /** replayChars: characters of pretraining text (a seeded sample of training documents) mixed into SFT. */
  sft: { batch: number; seq: number; lr: number; maxEpochs: number; replayChars?: number };
  /** Where the shipped model goes (relative to the repository root). */
  exportDir: string;
}

export class RecipeError extends Error {
  override name = "RecipeError";
}

export function readRecipeConfig(file: string): RecipeConfig {
  let c: RecipeConfig;
  try {
    c = JSON.parse(readFileSync(file, "utf8")) as RecipeConfig;
  } catch (err) {
    throw new RecipeError(`${file}: cannot read the recipe (${(err as Error).message})`);
  }
  for (const key of ["name", "seed", "threads", "budgetMinutes", "tokenizer", "train", "sweep", "candidates", "sft", "exportDir"] as const) {
    if (c[key] === undefined) throw new RecipeError(`${file}: missing "${key}"`);
  }
  return c;
}
