// The shared decoder-only transformer the newer families are built from (Qwen3, Qwen3-MoE, Gemma 2, Phi-3, GLM-4):
// one config type that states, as data, how a family's layer differs from LLaMA's — per-head q/k norms, fused
// projections, sandwich norms (a norm on the attention and MLP outputs too), GeGLU, an MoE feed-forward, partial or
// interleaved rotary, soft-capped and sliding-window attention, scaled embeddings — plus the parameter list in each
// family's own HF names (DecoderNames) and small parsing helpers the family configs share.
// Each family folder parses its config.json / GGUF keys into this and owns its HF ↔ GGUF name table.
// Leaves out: the network (model.ts), family ids and descriptors (the family folders).
import type { FamilyConfig } from "../descriptor.js";
import type { GgufFile } from "../../io/gguf.js";
import { getOptionalNumber } from "../../io/gguf.js";
import { checkConfigCounts, type CountField } from "../config-limits.js";
import type { MoeShape } from "../moe.js";
import type { RopeParams } from "../rope-params.js";
import { ModelLoadError, type ParamSpec } from "../weights.js";

/** How one family's layer is wired, beyond LLaMA's pre-norm attention + SwiGLU. */
export interface DecoderLayerShape {
  /** q, k, v stored as one matrix (`qkv_proj`, rows q then k then v). */
  qkvFused: boolean;
  qkvBias: boolean;
  /** RMSNorm over each head's q and k (weight [headDim]) before RoPE (Qwen3). */
  qkNorm: boolean;
  /** "pre": LLaMA's two norms; "sandwich": also a norm on the attention output and on the MLP output (Gemma 2, GLM-4). */
  norms: "pre" | "sandwich";
  activation: "silu" | "gelu-tanh";
  /** gate and up stored as one matrix (`gate_up_proj`, gate rows first). */
  gateUpFused: boolean;
}

export interface DecoderConfig extends FamilyConfig {
  intermediateSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  rope: RopeParams;
  /** Dims of each head that rotate (head_dim × partial_rotary_factor). */
  rotaryDim: number;
  /** "neox" rotates (i, i + rotDim/2), "interleaved" (2i, 2i + 1). */
  ropeLayout: "neox" | "interleaved";
  tieWordEmbeddings: boolean;
  layer: DecoderLayerShape;
  moe: MoeShape | null;
  /** Score scale (Gemma 2: query_pre_attn_scalar^−½); null = headDim^−½. */
  attentionScale: number | null;
  /** cap·tanh(s / cap) on attention scores and on the final logits (Gemma 2); null = none. */
  attnSoftcap: number | null;
  finalSoftcap: number | null;
  /** Per layer: a query sees itself and the window − 1 positions before it; null = every earlier position. */
  slidingWindows: (number | null)[];
  /** Multiply the embeddings by this (Gemma: √hidden, rounded to f32); null = none. */
  embedScale: number | null;
  /** RoPE of the sliding-window layers when it differs from `rope` (Gemma 3: base 10,000 locally, 1,000,000 with
   *  linear scaling globally); absent or null = every layer uses `rope`. */
  localRope?: RopeParams | null;
}

/** Where a family's HF names differ between the layer pieces (relative to `model.layers.N.`). */
export interface DecoderNames {
  /** Sandwich norms: on the attention output, before the MLP, on the MLP output. */
  postAttnNorm: string | null;
  preFfnNorm: string;
  postFfnNorm: string | null;
  /** MoE: the router, and each expert's matrices with {e} for the expert index. */
  router: string;
  experts: { gate: string; up: string; down: string };
  /** MoE with a shared expert (Qwen2-MoE): its three matrices and its sigmoid gate row [1, D]. */
  sharedExpert?: { gate: string; up: string; down: string; gateInp: string };
}

export const LLAMA_STYLE_NAMES: DecoderNames = {
  postAttnNorm: null, preFfnNorm: "post_attention_layernorm", postFfnNorm: null,
  router: "mlp.gate", experts: { gate: "mlp.experts.{e}.gate_proj", up: "mlp.experts.{e}.up_proj", down: "mlp.experts.{e}.down_proj" },
};

export const expertName = (pattern: string, l: number, e: number) => `model.layers.${l}.${pattern.replace("{e}", String(e))}.weight`;

/** Every parameter the config implies, in the family's HF names and Zhiyu's [out, in] layout. */
export function decoderParamSpecs(c: DecoderConfig, names: DecoderNames): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const mat = (name: string, shape: number[], role?: "residual") => specs.push({ name, shape, kind: "matrix", init: "normal", ...(role && { role }) });
  const vec = (name: string, n: number, init: "ones" | "zeros") => specs.push({ name, shape: [n], kind: "vector", init });
  const norm = (name: string, n: number) => vec(name, n, "ones");
  const D = c.hiddenSize, qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim, L = c.layer;
  specs.push({ name: "model.embed_tokens.weight", shape: [c.vocabSize, D], kind: "matrix", init: "normal", lookupOnly: !c.tieWordEmbeddings, role: "embedding" });
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    norm(`${p}.input_layernorm.weight`, D);
    if (L.qkvFused) mat(`${p}.self_attn.qkv_proj.weight`, [qDim + 2 * kvDim, D]);
    else {
      mat(`${p}.self_attn.q_proj.weight`, [qDim, D]);
      mat(`${p}.self_attn.k_proj.weight`, [kvDim, D]);
      mat(`${p}.self_attn.v_proj.weight`, [kvDim, D]);
    }
    if (L.qkvBias) {
      vec(`${p}.self_attn.q_proj.bias`, qDim, "zeros");
      vec(`${p}.self_attn.k_proj.bias`, kvDim, "zeros");
      vec(`${p}.self_attn.v_proj.bias`, kvDim, "zeros");
    }
    if (L.qkNorm) {
      norm(`${p}.self_attn.q_norm.weight`, c.headDim);
      norm(`${p}.self_attn.k_norm.weight`, c.headDim);
    }
    mat(`${p}.self_attn.o_proj.weight`, [D, qDim], "residual");
    if (L.norms === "sandwich") norm(`${p}.${names.postAttnNorm}.weight`, D);
    norm(`${p}.${names.preFfnNorm}.weight`, D);
    if (c.moe) {
      mat(`${p}.${names.router}.weight`, [c.moe.numExperts, D]);
      for (let e = 0; e < c.moe.numExperts; e++) {
        mat(expertName(names.experts.gate, l, e), [c.moe.expertFfn, D]);
        mat(expertName(names.experts.up, l, e), [c.moe.expertFfn, D]);
        mat(expertName(names.experts.down, l, e), [D, c.moe.expertFfn], "residual");
      }
      const sf = c.moe.sharedExpertFfn, se = names.sharedExpert;
      if (sf) {
        if (!se) throw new Error(`[decoder] ${c.architecture}: this family has no names for a shared expert`);
        mat(`${p}.${se.gate}.weight`, [sf, D]);
        mat(`${p}.${se.up}.weight`, [sf, D]);
        mat(`${p}.${se.down}.weight`, [D, sf], "residual");
        mat(`${p}.${se.gateInp}.weight`, [1, D]);
      }
    } else if (L.gateUpFused) {
      mat(`${p}.mlp.gate_up_proj.weight`, [2 * c.intermediateSize, D]);
      mat(`${p}.mlp.down_proj.weight`, [D, c.intermediateSize], "residual");
    } else {
      mat(`${p}.mlp.gate_proj.weight`, [c.intermediateSize, D]);
      mat(`${p}.mlp.up_proj.weight`, [c.intermediateSize, D]);
      mat(`${p}.mlp.down_proj.weight`, [D, c.intermediateSize], "residual");
    }
    if (L.norms === "sandwich") norm(`${p}.${names.postFfnNorm}.weight`, D);
  }
  norm("model.norm.weight", D);
  if (!c.tieWordEmbeddings) mat("lm_head.weight", [c.vocabSize, D]);
  return specs;
}

/** llama.cpp stores layer N's experts stacked in one tensor per matrix, `blk.N.ffn_{gate,up,down}_exps.weight`
 *  ([cols, rows, experts] fastest first): the stacked name and this expert's index, or null for other parameters. */
export function expertGgufStack(name: string, names: DecoderNames): { name: string; index: number } | null {
  for (const which of ["gate", "up", "down"] as const) {
    const pattern = names.experts[which].replace(/\./g, "\\.").replace("{e}", "(\\d+)");
    const m = new RegExp(`^model\\.layers\\.(\\d+)\\.${pattern}\\.weight$`).exec(name);
    if (m) return { name: `blk.${m[1]}.ffn_${which}_exps.weight`, index: Number(m[2]) };
  }
  return null;
}

export function isExpertParam(name: string, names: DecoderNames): boolean {
  return Object.values(names.experts).some((pattern) => new RegExp(`\\.${pattern.replace(/\./g, "\\.").replace("{e}", "\\d+")}\\.weight$`).test(name));
}

type Json = Record<string, unknown>;

/** A number from config.json: required (error naming the key and file) unless a fallback is given. */
export function hfNumber(json: Json, key: string, where: string, fallback?: number): number {
  const v = json[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelLoadError(`${where}: '${key}' is missing; this model's config needs it`);
  }
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ModelLoadError(`${where}: '${key}' is ${JSON.stringify(v)}, expected a number`);
  return v;
}

/** A number from GGUF metadata `<arch>.<key>`: required unless a fallback is given. */
export function ggufNumber(file: GgufFile, arch: string, key: string, fallback?: number): number {
  const v = getOptionalNumber(file, `${arch}.${key}`);
  if (v !== undefined) return v;
  if (fallback !== undefined) return fallback;
  throw new ModelLoadError(`${file.path}: metadata '${arch}.${key}' is missing`);
}

const HF_FIELDS: Record<CountField, string> = { vocabSize: "vocab_size", hiddenSize: "hidden_size", intermediateSize: "intermediate_size",
  numLayers: "num_hidden_layers", numHeads: "num_attention_heads", numKvHeads: "num_key_value_heads", headDim: "head_dim",
  contextLength: "max_position_embeddings" };
export const ggufCountFields = (arch: string): Record<CountField, string> => ({ vocabSize: `${arch}.vocab_size`,
  hiddenSize: `${arch}.embedding_length`, intermediateSize: `${arch}.feed_forward_length`, numLayers: `${arch}.block_count`,
  numHeads: `${arch}.attention.head_count`, numKvHeads: `${arch}.attention.head_count_kv`, headDim: `${arch}.attention.key_length`,
  contextLength: `${arch}.context_length` });

/** Checks counts (before anything is allocated from them) and the head / rotary geometry; `moeFields` names the
 *  expert keys in the file's own spelling. */
export function checkDecoderConfig(c: DecoderConfig, where: string, fields: Record<CountField, string> = HF_FIELDS, tensorCount?: number,
  moeFields: { experts: string; topK: string; expertFfn: string; sharedExpertFfn?: string } = { experts: "num_experts", topK: "num_experts_per_tok", expertFfn: "moe_intermediate_size" }): DecoderConfig {
  const { vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, contextLength } = c;
  checkConfigCounts({ vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, contextLength }, fields, where, tensorCount);
  if (numHeads % numKvHeads !== 0) throw new ModelLoadError(`${where}: ${numHeads} attention heads are not a multiple of ${numKvHeads} KV heads`);
  if (c.rotaryDim % 2 !== 0 || c.rotaryDim <= 0 || c.rotaryDim > headDim) {
    throw new ModelLoadError(`${where}: the rotary part of each head (${c.rotaryDim} dims) must be even and at most head_dim ${headDim}`);
  }
  if (c.moe) {
    const { numExperts, topK, expertFfn } = c.moe;
    checkConfigCounts({ numHeads: numExperts, intermediateSize: expertFfn }, { numHeads: moeFields.experts, intermediateSize: moeFields.expertFfn }, where);
    const shared = c.moe.sharedExpertFfn;
    if (shared !== undefined && shared !== null) {
      checkConfigCounts({ intermediateSize: shared }, { intermediateSize: moeFields.sharedExpertFfn ?? "shared_expert_intermediate_size" }, where);
    }
    if (!Number.isInteger(topK) || topK < 1 || topK > numExperts) {
      throw new ModelLoadError(`${where}: '${moeFields.topK}' = ${topK} must be between 1 and ${moeFields.experts} = ${numExperts}`);
    }
  }
  if (c.slidingWindows.length !== numLayers) throw new ModelLoadError(`${where}: ${c.slidingWindows.length} layer types for ${numLayers} layers`);
  return c;
}

/** Per-layer sliding windows from `layer_types` (transformers 5) or the older alternating rule (`sliding_window_pattern`). */
export function hfSlidingWindows(json: Json, where: string, numLayers: number, defaultPattern: number | null): (number | null)[] {
  // One entry per layer: check the count before allocating from it (a hostile config may claim 2^31 layers).
  checkConfigCounts({ numLayers }, { numLayers: "num_hidden_layers" }, where);
  const window = json.sliding_window;
  if (window === null || window === undefined || json.use_sliding_window === false) return Array(numLayers).fill(null);
  if (typeof window !== "number" || !Number.isInteger(window) || window < 1) throw new ModelLoadError(`${where}: 'sliding_window' = ${JSON.stringify(window)} must be a positive integer`);
  const types = json.layer_types;
  if (Array.isArray(types)) {
    if (types.length !== numLayers) throw new ModelLoadError(`${where}: 'layer_types' has ${types.length} entries for ${numLayers} layers`);
    return types.map((t, l) => {
      if (t === "sliding_attention") return window;
      if (t === "full_attention") return null;
      throw new ModelLoadError(`${where}: layer_types[${l}] = ${JSON.stringify(t)}; expected "sliding_attention" or "full_attention"`);
    });
  }
  const pattern = typeof json.sliding_window_pattern === "number" ? json.sliding_window_pattern : defaultPattern;
  // Gemma 2: even layers slide; a pattern n means every n-th layer (1-based) is global.
  return Array.from({ length: numLayers }, (_, l) => (pattern && (l + 1) % pattern === 0 ? null : window));
}
