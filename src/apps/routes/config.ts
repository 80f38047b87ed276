// The three-route experiment's recipe file (recipes/routes.json, `"experiment": "routes"`): model shapes of the
// GPT (gpt2), BERT (bert) and T5 routes, the shared tokenizer, the pretraining token budget, and the fine-tuning and
// evaluation settings. Every key is required, so a run is reproducible from the file alone.
// Leaves out: defaults, and the stages themselves (stages.ts).
import { readFileSync } from "node:fs";

/** A transformer stack's shape; an encoder-decoder adds its decoder layers. */
export interface RouteShape {
  hidden: number;
  heads: number;
  ffn: number;
  /** Decoder-only and encoder-only: the layer count; encoder-decoder: encoder layers. */
  layers: number;
  /** Encoder-decoder only. */
  decoderLayers?: number;
}

export type Route = "decoder" | "encoder" | "encoder-decoder";
export const ROUTES: readonly Route[] = ["decoder", "encoder", "encoder-decoder"];

/** A pretrained model of the experiment: its route and shape. */
export interface RouteModel {
  /** Folder and table name, e.g. "gpt", "t5-params" (lower-case letters, digits, '-'). */
  name: string;
  /** decoder: GPT-2 (causal LM); encoder: BERT (MLM); encoder-decoder: T5 (span corruption). */
  route: Route;
  shape: RouteShape;
  /** Which comparison arms the model belongs to ("params", "compute"). */
  arms: string[];
}

export interface RoutesConfig {
  experiment: "routes";
  name: string;
  seed: number;
  threads: number;
  /** Characters of pretraining text kept (a seeded sample of the licensed documents). */
  corpusChars: number;
  poetryMaxChars: number;
  tokenizer: { vocabSize: number; minFrequency: number; sentinels: number };
  /** Same text tokens for every route: steps × batch × seq. */
  pretrain: { steps: number; batch: number; seq: number; lr: number; warmup: number; checkpointEvery: number };
  models: RouteModel[];
  /** Single-task fine-tuning (a); evalLimit caps each test set (a seeded sample, the same for every model). */
  finetune: { steps: number; batch: number; lr: number; maxLen: number; evalLimit: number };
  /** Multi-task fine-tuning (d): rates of the tasks in the mixture. */
  multitask: { steps: number; batch: number; lr: number; rates: { intentZh: number; intentEn: number; reply: number } };
  /** Held-out dialogue replies per set for bits per byte (b); context and reply cut to these token counts. */
  replies: { perSet: number; contextTokens: number; replyTokens: number };
}

export class RoutesConfigError extends Error {
  override name = "RoutesConfigError";
}

const REQUIRED = ["name", "seed", "threads", "corpusChars", "poetryMaxChars", "tokenizer", "pretrain", "models", "finetune", "multitask", "replies"] as const;

/** True when a recipe file is the routes experiment (the CLI dispatches on it). */
export function isRoutesRecipe(json: unknown): boolean {
  return !!json && typeof json === "object" && (json as { experiment?: unknown }).experiment === "routes";
}

export function readRoutesConfig(file: string): RoutesConfig {
  let c: RoutesConfig;
  try {
    c = JSON.parse(readFileSync(file, "utf8")) as RoutesConfig;
  } catch (err) {
    throw new RoutesConfigError(`${file}: cannot read the recipe (${(err as Error).message})`);
  }
  for (const key of REQUIRED) if (c[key] === undefined) throw new RoutesConfigError(`${file}: missing "${key}"`);
  if (!Array.isArray(c.models) || c.models.length === 0) throw new RoutesConfigError(`${file}: "models" must list at least one model`);
  const names = new Set<string>();
  c.models.forEach((m, i) => {
    const where = `${file}: models[${i}]`;
    if (typeof m.name !== "string" || !/^[a-z0-9-]+$/.test(m.name)) throw new RoutesConfigError(`${where}: "name" must be lower-case letters, digits and '-'`);
    if (names.has(m.name)) throw new RoutesConfigError(`${where}: the name "${m.name}" is used twice`);
    names.add(m.name);
    if (!ROUTES.includes(m.route)) throw new RoutesConfigError(`${where}: "route" must be one of ${ROUTES.join(", ")}, got ${JSON.stringify(m.route)}`);
    const s = m.shape;
    for (const k of ["hidden", "heads", "ffn", "layers"] as const) {
      if (!Number.isInteger(s?.[k]) || s[k] < 1) throw new RoutesConfigError(`${where}: shape.${k} must be a positive integer`);
    }
    if (s.hidden % s.heads !== 0) throw new RoutesConfigError(`${where}: shape.hidden ${s.hidden} must be a multiple of shape.heads ${s.heads}`);
    if (m.route === "encoder-decoder" && !(Number.isInteger(s.decoderLayers) && s.decoderLayers! >= 1)) {
      throw new RoutesConfigError(`${where}: an encoder-decoder model needs shape.decoderLayers (a positive integer)`);
    }
  });
  if (c.tokenizer.sentinels < 4) throw new RoutesConfigError(`${file}: tokenizer.sentinels must be ≥ 4 (span corruption of a ${c.pretrain.seq}-token piece needs a few)`);
  return c;
}
