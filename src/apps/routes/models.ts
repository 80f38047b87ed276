// The three routes' models: the shared tokenizer's special tokens (one vocabulary for all: GPT's end of text, BERT's
// [CLS]/[SEP]/[MASK], T5's <extra_id_N> sentinels and a pad), each route's Hugging Face config.json from the recipe's
// shape (through the model registry: gpt2, bert, t5 families), parameter counts, and the training-FLOP formula that
// the matched-compute arm is stated in.
// FLOP formula (per trained example of `seq` text tokens; forward = 2 FLOPs per multiply-add, training = 3 × forward):
//   a layer's matmuls per token: attention 4·h² (+ 4·h² cross-attention in a T5 decoder layer), FFN 2·h·f;
//   attention scores and mixing: 4·h per (query, key) pair; the output head 2·V·h per predicted token.
//   decoder (GPT):  3·[2·T·L·(4h² + 2hf) + 4h·L·T(T+1)/2 + 2·T·V·h]                       T = seq
//   encoder (BERT): 3·[2·T·L·(4h² + 2hf) + 4h·L·T² + 2·M·(h² + V·h)]                     M = masked tokens (15%)
//   T5:             3·[2·S·Le·(4h² + 2hf) + 4h·Le·S² + 2·R·Ld·(8h² + 2hf) + 4h·Ld·(R(R+1)/2 + R·S) + 2·R·V·h]
//                   S = source (kept tokens + sentinels + EOS), R = target (sentinels + noise + EOS)
// Embedding look-ups, norms and softmaxes are left out (small at these sizes).
// Leaves out: training (pretrain.ts), the tokenizer's training (stages.ts).
import { MODEL_REGISTRY } from "../../models/registry.js";
import type { RouteModel, RoutesConfig } from "./config.js";

export const BASE_SPECIALS = ["<|endoftext|>", "<|pad|>", "[CLS]", "[SEP]", "[MASK]"] as const;

export function specialTokens(sentinels: number): string[] {
  return [...BASE_SPECIALS, ...Array.from({ length: sentinels }, (_, i) => `<extra_id_${i}>`)];
}

/** Ids of the special tokens in a vocabulary (looked up, so any tokenizer that has them works). */
export interface SpecialIds {
  eos: number;
  pad: number;
  cls: number;
  sep: number;
  mask: number;
  sentinels: number[];
}

export function specialIds(tokenToId: (t: string) => number | undefined, sentinels: number, where: string): SpecialIds {
  const id = (t: string) => {
    const v = tokenToId(t);
    if (v === undefined) throw new Error(`${where}: the tokenizer has no '${t}' token; the routes recipe trains its own tokenizer with it`);
    return v;
  };
  return {
    eos: id("<|endoftext|>"), pad: id("<|pad|>"), cls: id("[CLS]"), sep: id("[SEP]"), mask: id("[MASK]"),
    sentinels: Array.from({ length: sentinels }, (_, i) => id(`<extra_id_${i}>`)),
  };
}

/** The registered variant each route's model is built with. */
const ROUTE_VARIANT = { decoder: "gpt2", encoder: "bert", "encoder-decoder": "t5" } as const;

/** config.json of a route's model (context: the longest sequence it will see). */
export function routeHfConfig(m: RouteModel, vocabSize: number, context: number, ids: SpecialIds): Record<string, unknown> {
  const variant = ROUTE_VARIANT[m.route];
  const family = MODEL_REGISTRY.ofVariant(variant);
  const base = family.presetConfig(variant, "tiny", vocabSize) as unknown as Record<string, unknown>;
  const s = m.shape;
  const common = { hiddenSize: s.hidden, intermediateSize: s.ffn, numLayers: s.layers, numHeads: s.heads, contextLength: context };
  let cfg: Record<string, unknown>;
  switch (m.route) {
    case "decoder":
      cfg = { ...base, ...common };
      break;
    case "encoder":
      cfg = { ...base, ...common, maxPositions: context, padTokenId: ids.pad };
      break;
    case "encoder-decoder":
      // T5 v1.0-style layers with GPT-2's activation (tanh GELU, not gated), tied embeddings as in v1.0.
      cfg = {
        ...base, ...common, numDecoderLayers: s.decoderLayers, headDim: s.hidden / s.heads, activation: "gelu_tanh", gated: false,
        tieWordEmbeddings: true, scaleDecoderOutput: true, padTokenId: ids.pad, eosTokenId: ids.eos, decoderStartTokenId: ids.pad,
        sourceLength: context,
      };
      break;
  }
  return family.hfConfigJson(cfg as never) as Record<string, unknown>;
}

/** Parameters of a config: all, and without embedding tables (token, position, token-type and relative-position
 *  look-ups; a tied token table counts as embedding). BERT's MLM head transform counts as non-embedding. */
export function parameterCounts(hfConfig: Record<string, unknown>): { total: number; nonEmbedding: number } {
  const family = MODEL_REGISTRY.ofHfConfig(hfConfig, "config.json");
  const specs = family.paramSpecs(family.configFromHf(hfConfig, "config.json"));
  let total = 0, nonEmbedding = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    total += n;
    const table = s.role === "embedding" || s.lookupOnly === true || (s.shape.length === 2 && s.shape[0] === family.configFromHf(hfConfig, "config.json").vocabSize && /embed/.test(s.name));
    if (!table) nonEmbedding += n;
  }
  return { total, nonEmbedding };
}

/** Expected span-corruption source and target lengths of a piece of n tokens (T5's rounding, objectives/seq2seq.ts). */
export function spanLengths(n: number, density = 0.15, meanSpan = 3): { source: number; target: number } {
  const noise = Math.min(Math.max(Math.round(n * density), 1), n - 1);
  const spans = Math.max(Math.round(noise / meanSpan), 1);
  return { source: n - noise + spans + 1, target: noise + spans + 1 };
}

/** Training FLOPs of one pretraining example of `seq` text tokens (the formula in this file's header). */
export function pretrainFlopsPerExample(m: RouteModel, vocabSize: number, seq: number): number {
  const { hidden: h, ffn: f, layers: L } = m.shape;
  const layer = 4 * h * h + 2 * h * f;
  switch (m.route) {
    case "decoder":
      return 3 * (2 * seq * L * layer + 4 * h * L * seq * (seq + 1) / 2 + 2 * seq * vocabSize * h);
    case "encoder": {
      const masked = Math.round(seq * 0.15);
      return 3 * (2 * seq * L * layer + 4 * h * L * seq * seq + 2 * masked * (h * h + vocabSize * h));
    }
    case "encoder-decoder": {
      const { source: S, target: R } = spanLengths(seq);
      const Ld = m.shape.decoderLayers ?? 0;
      return 3 * (2 * S * L * layer + 4 * h * L * S * S + 2 * R * Ld * (layer + 4 * h * h) + 4 * h * Ld * (R * (R + 1) / 2 + R * S) + 2 * R * vocabSize * h);
    }
  }
}

/** The table of models the recipe records: parameters, FLOPs per text token and in total. */
export function modelTable(c: RoutesConfig, vocabSize: number, ids: SpecialIds) {
  return c.models.map((m) => {
    const counts = parameterCounts(routeHfConfig(m, vocabSize, 2 * c.pretrain.seq, ids));
    const perExample = pretrainFlopsPerExample(m, vocabSize, c.pretrain.seq);
    return {
      name: m.name, route: m.route, arms: m.arms, shape: m.shape, parameters: counts.total, nonEmbeddingParameters: counts.nonEmbedding,
      flopsPerToken: perExample / c.pretrain.seq, trainingFlops: perExample * c.pretrain.batch * c.pretrain.steps,
      tokens: c.pretrain.steps * c.pretrain.batch * c.pretrain.seq,
    };
  });
}
