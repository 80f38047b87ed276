// LLaMA-family configuration (Llama 1–3, Mistral-style, SmolLM, TinyLlama, Qwen2 = LLaMA with Q/K/V biases, and
// Mixtral = LLaMA with a sparse MoE feed-forward): typed config parsed from config.json or GGUF metadata, RoPE
// frequencies with linear / llama3 scaling (YaRN and dynamic NTK are parsed here and run by the shared decoder, see
// family.ts), the parameter list a config implies, and the HF ↔ GGUF name map and Q/K row permutation, as data.
// Kept apart from model.ts (the model) so loaders, converters and init can use it without the tensor layer.
// Mistral-style sliding_window (HF configs; per layer from layer_types, or Qwen2's max_window_layers) runs on the
// shared decoder with a ring-buffer cache when the window is shorter than the context.
// Leaves out: sliding windows in GGUF files (llama.cpp's llama/qwen2 architectures store none and attend globally),
// training with a window (the trainer's LlamaModel attends globally).
import type { GgufFile } from "../../io/gguf.js";
import { getOptionalNumber, getOptionalString } from "../../io/gguf.js";
import { ModelLoadError, type ParamSpec, mapName } from "../weights.js";
import { checkConfigCounts, type CountField } from "../config-limits.js";
import type { MoeShape } from "../moe.js";
import { hfSlidingWindows } from "../decoder/config.js";
import { type RopeScalingSpec, ropeParamsFromGguf, ropeParamsFromHf, servedContextLength } from "../rope-params.js";
import { type DecoderConfig, type DecoderNames, checkDecoderConfig, decoderParamSpecs } from "../decoder/config.js";

export type RopeScaling = RopeScalingSpec;

/** Mixtral's HF names for the MoE pieces (its GGUF file is llama.cpp's `llama` architecture with experts). */
export const MIXTRAL_NAMES: DecoderNames = {
  postAttnNorm: null, preFfnNorm: "post_attention_layernorm", postFfnNorm: null, router: "block_sparse_moe.gate",
  experts: { gate: "block_sparse_moe.experts.{e}.w1", up: "block_sparse_moe.experts.{e}.w3", down: "block_sparse_moe.experts.{e}.w2" },
};

export interface LlamaConfig {
  /** "llama" or "qwen2": the GGUF architecture string and HF model_type. */
  architecture: "llama" | "qwen2";
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** Per-frequency divisors from a GGUF `rope_freqs.weight` (llama3 scaling baked in), or null. */
  ropeFreqFactors: Float32Array | null;
  /** How Q/K rows are ordered in the loaded weights: HF order rotates pairs (i, i + d/2) ("neox"); llama.cpp's
   *  converter permutes LLaMA rows so pairs are adjacent ("interleaved"). Qwen2 is "neox" in both. */
  ropeLayout: "neox" | "interleaved";
  contextLength: number;
  tieWordEmbeddings: boolean;
  /** Q/K/V projections have biases (Qwen2; HF Llama's attention_bias). */
  attentionBias: boolean;
  /** Mixtral: every layer's feed-forward is a sparse mixture of SwiGLU experts (intermediateSize is an expert's). */
  moe: MoeShape | null;
  /** Per layer, a sliding window (Mistral's sliding_window) or null; absent = none. */
  slidingWindows?: (number | null)[];
}

/** The same model in the shared decoder's terms (MoE, YaRN and dynamic-NTK configs run on DecoderModel). */
export function llamaAsDecoder(c: LlamaConfig): DecoderConfig {
  return {
    architecture: c.architecture, vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, contextLength: c.contextLength,
    intermediateSize: c.intermediateSize, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, rmsNormEps: c.rmsNormEps,
    rope: { theta: c.ropeTheta, scaling: c.ropeScaling, partialRotaryFactor: 1 }, rotaryDim: c.headDim, ropeLayout: c.ropeLayout,
    tieWordEmbeddings: c.tieWordEmbeddings,
    layer: { qkvFused: false, qkvBias: c.attentionBias, qkNorm: false, norms: "pre", activation: "silu", gateUpFused: false },
    moe: c.moe, attentionScale: null, attnSoftcap: null, finalSoftcap: null, slidingWindows: c.slidingWindows ?? Array(c.numLayers).fill(null), embedScale: null,
  };
}

/** Whether the config needs the shared decoder rather than LlamaModel (and the fused decode op built for it). */
export function llamaNeedsDecoder(c: LlamaConfig): boolean {
  return c.moe !== null || c.ropeScaling?.type === "yarn" || c.ropeScaling?.type === "dynamic" ||
    (c.slidingWindows ?? []).some((w) => w !== null && w < c.contextLength);
}

type Json = Record<string, unknown>;

function num(json: Json, key: string, where: string, fallback?: number): number {
  const v = json[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelLoadError(`${where}: '${key}' is missing; a LLaMA-style config needs it`);
  }
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ModelLoadError(`${where}: '${key}' is ${JSON.stringify(v)}, expected a number`);
  return v;
}

const HF_FIELDS: Record<CountField, string> = { vocabSize: "vocab_size", hiddenSize: "hidden_size", intermediateSize: "intermediate_size",
  numLayers: "num_hidden_layers", numHeads: "num_attention_heads", numKvHeads: "num_key_value_heads", headDim: "head_dim",
  contextLength: "max_position_embeddings" };
const ggufFields = (arch: string): Record<CountField, string> => ({ vocabSize: `${arch}.vocab_size`, hiddenSize: `${arch}.embedding_length`,
  intermediateSize: `${arch}.feed_forward_length`, numLayers: `${arch}.block_count`, numHeads: `${arch}.attention.head_count`,
  numKvHeads: `${arch}.attention.head_count_kv`, headDim: `${arch}.attention.key_length`, contextLength: `${arch}.context_length` });

function checkConfig(c: LlamaConfig, where: string, fields: Record<CountField, string> = HF_FIELDS, tensorCount?: number,
  moeFields = { experts: "num_local_experts", topK: "num_experts_per_tok", expertFfn: "intermediate_size" }): LlamaConfig {
  if (c.moe) checkDecoderConfig(llamaAsDecoder(c), where, fields, tensorCount, moeFields);
  const { vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, contextLength } = c;
  checkConfigCounts({ vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, contextLength }, fields, where, tensorCount);
  if (c.numHeads % c.numKvHeads !== 0) {
    throw new ModelLoadError(`${where}: ${c.numHeads} attention heads are not a multiple of ${c.numKvHeads} KV heads`);
  }
  if (c.headDim % 2 !== 0) throw new ModelLoadError(`${where}: head dim ${c.headDim} must be even for RoPE`);
  return c;
}

/** From a Hugging Face config.json (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM). */
export function llamaConfigFromHf(json: Json, where = "config.json"): LlamaConfig {
  const modelType = String(json.model_type ?? "llama");
  const isQwen2 = modelType === "qwen2";
  const isMixtral = modelType === "mixtral" || json.architectures?.toString() === "MixtralForCausalLM";
  const rope = ropeParamsFromHf(json, where);
  const hiddenSize = num(json, "hidden_size", where);
  const numHeads = num(json, "num_attention_heads", where);
  const c = checkConfig({
    architecture: isQwen2 ? "qwen2" : "llama",
    vocabSize: num(json, "vocab_size", where),
    hiddenSize,
    intermediateSize: num(json, "intermediate_size", where),
    numLayers: num(json, "num_hidden_layers", where),
    numHeads,
    numKvHeads: num(json, "num_key_value_heads", where, numHeads),
    headDim: num(json, "head_dim", where, hiddenSize / numHeads),
    rmsNormEps: num(json, "rms_norm_eps", where, 1e-6),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    ropeFreqFactors: null,
    ropeLayout: "neox",
    contextLength: servedContextLength(num(json, "max_position_embeddings", where, 2048), rope.scaling),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    attentionBias: isQwen2 || json.attention_bias === true,
    moe: isMixtral ? { numExperts: num(json, "num_local_experts", where), topK: num(json, "num_experts_per_tok", where, 2),
      expertFfn: num(json, "intermediate_size", where), normTopK: true } : null,
  }, where);
  // Per-layer windows once the layer count is checked. Qwen2 without layer_types (configs before transformers 5):
  // layers from max_window_layers on slide.
  const qwen2Legacy = isQwen2 && !Array.isArray(json.layer_types) && json.use_sliding_window === true;
  const windows = hfSlidingWindows(qwen2Legacy ? { ...json, layer_types: Array.from({ length: c.numLayers },
    (_, l) => (l >= num(json, "max_window_layers", where, 0) ? "sliding_attention" : "full_attention")) } : json, where, c.numLayers, null);
  if (windows.some((w) => w !== null)) c.slidingWindows = windows;
  return c;
}

/** From GGUF metadata (`llama.*` or `qwen2.*` keys). tieWordEmbeddings is true when output.weight is absent. */
export function llamaConfigFromGguf(file: GgufFile): LlamaConfig {
  const arch = getOptionalString(file, "general.architecture") ?? "llama";
  if (arch !== "llama" && arch !== "qwen2") throw new ModelLoadError(`${file.path}: architecture '${arch}' is not LLaMA-style`);
  const where = file.path;
  const need = (key: string, fallback?: number) => {
    const v = getOptionalNumber(file, `${arch}.${key}`);
    if (v !== undefined) return v;
    if (fallback !== undefined) return fallback;
    throw new ModelLoadError(`${where}: metadata '${arch}.${key}' is missing`);
  };
  const embd = file.tensorByName.get("token_embd.weight");
  if (!embd) throw new ModelLoadError(`${where}: tensor 'token_embd.weight' is missing`);
  const hiddenSize = need("embedding_length");
  const numHeads = need("attention.head_count");
  const rope = ropeParamsFromGguf(file, arch);
  const experts = getOptionalNumber(file, `${arch}.expert_count`) ?? 0;
  return checkConfig({
    architecture: arch,
    vocabSize: need("vocab_size", embd.dims[1]),
    hiddenSize,
    intermediateSize: need("feed_forward_length"),
    numLayers: need("block_count"),
    numHeads,
    numKvHeads: need("attention.head_count_kv", numHeads),
    headDim: need("attention.key_length", need("rope.dimension_count", hiddenSize / numHeads)),
    rmsNormEps: need("attention.layer_norm_rms_epsilon", 1e-5),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    ropeFreqFactors: null, // the loader fills it from rope_freqs.weight when present
    ropeLayout: arch === "llama" ? "interleaved" : "neox",
    contextLength: need("context_length", 2048),
    tieWordEmbeddings: !file.tensorByName.has("output.weight"),
    attentionBias: arch === "qwen2",
    moe: experts > 0 ? { numExperts: experts, topK: need("expert_used_count"), expertFfn: need("feed_forward_length"), normTopK: true } : null,
  }, where, ggufFields(arch), file.tensors.length, { experts: `${arch}.expert_count`, topK: `${arch}.expert_used_count`,
    expertFfn: `${arch}.feed_forward_length` });
}

/** RoPE inverse frequencies θ^(−2i/d) for i < d/2, with the config's scaling applied. */
export function ropeFrequencies(c: LlamaConfig): Float32Array {
  const half = c.headDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    let f = Math.pow(c.ropeTheta, (-2 * i) / c.headDim);
    const s = c.ropeScaling;
    if (s?.type === "linear") f /= s.factor;
    else if (s?.type === "llama3") {
      // HF _compute_llama3_parameters: long wavelengths are divided by factor, short ones kept, smooth between.
      const old = s.originalContextLength ?? 8192;
      const lowWavelen = old / (s.lowFreqFactor ?? 1);
      const highWavelen = old / (s.highFreqFactor ?? 4);
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) f /= s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (old / wavelen - (s.lowFreqFactor ?? 1)) / ((s.highFreqFactor ?? 4) - (s.lowFreqFactor ?? 1));
        f = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
    if (c.ropeFreqFactors) f /= c.ropeFreqFactors[i];
    out[i] = f;
  }
  return out;
}

/** Every parameter the config implies, HF names and torch shapes, in a stable order. */
export function llamaParamSpecs(c: LlamaConfig): ParamSpec[] {
  if (c.moe) return decoderParamSpecs(llamaAsDecoder(c), MIXTRAL_NAMES);
  const specs: ParamSpec[] = [];
  const mat = (name: string, shape: number[], role?: "residual") => specs.push({ name, shape, kind: "matrix", init: "normal", ...(role && { role }) });
  const vec = (name: string, n: number, init: "ones" | "zeros") => specs.push({ name, shape: [n], kind: "vector", init });
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  specs.push({ name: "model.embed_tokens.weight", shape: [c.vocabSize, c.hiddenSize], kind: "matrix", init: "normal",
    lookupOnly: !c.tieWordEmbeddings, role: "embedding" });
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    vec(`${p}.input_layernorm.weight`, c.hiddenSize, "ones");
    mat(`${p}.self_attn.q_proj.weight`, [qDim, c.hiddenSize]);
    mat(`${p}.self_attn.k_proj.weight`, [kvDim, c.hiddenSize]);
    mat(`${p}.self_attn.v_proj.weight`, [kvDim, c.hiddenSize]);
    if (c.attentionBias) {
      vec(`${p}.self_attn.q_proj.bias`, qDim, "zeros");
      vec(`${p}.self_attn.k_proj.bias`, kvDim, "zeros");
      vec(`${p}.self_attn.v_proj.bias`, kvDim, "zeros");
    }
    mat(`${p}.self_attn.o_proj.weight`, [c.hiddenSize, qDim], "residual");
    vec(`${p}.post_attention_layernorm.weight`, c.hiddenSize, "ones");
    mat(`${p}.mlp.gate_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    mat(`${p}.mlp.up_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    mat(`${p}.mlp.down_proj.weight`, [c.hiddenSize, c.intermediateSize], "residual");
  }
  vec("model.norm.weight", c.hiddenSize, "ones");
  if (!c.tieWordEmbeddings) mat("lm_head.weight", [c.vocabSize, c.hiddenSize]);
  return specs;
}

// HF → GGUF names, as data: [HF pattern, GGUF pattern] with N for the layer index.
const LLAMA_NAME_MAP: ReadonlyArray<readonly [string, string]> = [
  ["model.embed_tokens.weight", "token_embd.weight"],
  ["model.norm.weight", "output_norm.weight"],
  ["lm_head.weight", "output.weight"],
  ["model.layers.N.input_layernorm.weight", "blk.N.attn_norm.weight"],
  ["model.layers.N.self_attn.q_proj.weight", "blk.N.attn_q.weight"],
  ["model.layers.N.self_attn.k_proj.weight", "blk.N.attn_k.weight"],
  ["model.layers.N.self_attn.v_proj.weight", "blk.N.attn_v.weight"],
  ["model.layers.N.self_attn.q_proj.bias", "blk.N.attn_q.bias"],
  ["model.layers.N.self_attn.k_proj.bias", "blk.N.attn_k.bias"],
  ["model.layers.N.self_attn.v_proj.bias", "blk.N.attn_v.bias"],
  ["model.layers.N.self_attn.o_proj.weight", "blk.N.attn_output.weight"],
  ["model.layers.N.post_attention_layernorm.weight", "blk.N.ffn_norm.weight"],
  ["model.layers.N.mlp.gate_proj.weight", "blk.N.ffn_gate.weight"],
  ["model.layers.N.mlp.up_proj.weight", "blk.N.ffn_up.weight"],
  ["model.layers.N.mlp.down_proj.weight", "blk.N.ffn_down.weight"],
  ["model.layers.N.block_sparse_moe.gate.weight", "blk.N.ffn_gate_inp.weight"],
];

export function llamaGgufName(hfName: string): string | null {
  return mapName(LLAMA_NAME_MAP, hfName);
}

/** Row order llama.cpp's converter gives Q (nHead) and K (nKvHead) weights: within each head, HF row
 *  (half, j) moves to GGUF row (j, half), so RoPE pairs become adjacent. Returns src row for each dst row. */
export function ggufQkRowOrder(rows: number, nHead: number, toGguf: boolean): Int32Array {
  const headDim = rows / nHead;
  const half = headDim / 2;
  const order = new Int32Array(rows);
  for (let h = 0; h < nHead; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const hfRow = h * headDim + s * half + j;
        const ggufRow = h * headDim + j * 2 + s;
        if (toGguf) order[ggufRow] = hfRow;
        else order[hfRow] = ggufRow;
      }
    }
  }
  return order;
}
