// GPT-2 configuration: typed config from config.json or GGUF `gpt2.*` metadata, the parameter list it implies,
// and the HF ↔ GGUF name map, as data. HF stores the four projection matrices in Conv1D layout [in, out]; Zhiyu
// keeps every matrix as nn.Linear / GGUF rows [out, in], so HF import and export transpose them (see
// GPT2_CONV1D_WEIGHT). Kept apart from model.ts so loaders and init can use it without the tensor layer.
// Leaves out: GPT-2 variants with other activations or scale_attn_by_inverse_layer_idx.
import type { GgufFile } from "../../io/gguf.js";
import { getOptionalNumber, getOptionalString } from "../../io/gguf.js";
import { ModelLoadError, type ParamSpec, mapName } from "../weights.js";
import { checkConfigCounts } from "../config-limits.js";

export interface Gpt2Config {
  architecture: "gpt2";
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  /** Learned positions: also the longest context. */
  contextLength: number;
  layerNormEps: number;
  tieWordEmbeddings: boolean;
}

type Json = Record<string, unknown>;

function check(c: Gpt2Config, where: string, gguf = false, tensorCount?: number): Gpt2Config {
  const { vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, contextLength } = c;
  const fields = gguf
    ? { vocabSize: "gpt2.vocab_size", hiddenSize: "gpt2.embedding_length", intermediateSize: "gpt2.feed_forward_length",
      numLayers: "gpt2.block_count", numHeads: "gpt2.attention.head_count", contextLength: "gpt2.context_length" }
    : { vocabSize: "vocab_size", hiddenSize: "n_embd", intermediateSize: "n_inner", numLayers: "n_layer", numHeads: "n_head",
      contextLength: "n_positions" };
  checkConfigCounts({ vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, contextLength }, fields, where, tensorCount);
  if (c.hiddenSize % c.numHeads !== 0) throw new ModelLoadError(`${where}: n_embd ${c.hiddenSize} is not a multiple of n_head ${c.numHeads}`);
  return c;
}

export function gpt2ConfigFromHf(json: Json, where = "config.json"): Gpt2Config {
  const get = (key: string, fallback?: number): number => {
    const v = json[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ModelLoadError(`${where}: '${key}' is missing; a GPT-2 config needs it`);
    }
    if (typeof v !== "number") throw new ModelLoadError(`${where}: '${key}' is ${JSON.stringify(v)}, expected a number`);
    return v;
  };
  const act = json.activation_function;
  if (act !== undefined && act !== "gelu_new" && act !== "gelu_pytorch_tanh") {
    throw new ModelLoadError(`${where}: activation_function '${String(act)}' is not supported (gelu_new only)`);
  }
  const hiddenSize = get("n_embd");
  return check({
    architecture: "gpt2",
    vocabSize: get("vocab_size"),
    hiddenSize,
    intermediateSize: get("n_inner", 4 * hiddenSize),
    numLayers: get("n_layer"),
    numHeads: get("n_head"),
    contextLength: get("n_positions", get("n_ctx", 1024)),
    layerNormEps: get("layer_norm_epsilon", 1e-5),
    tieWordEmbeddings: json.tie_word_embeddings !== false,
  }, where);
}

export function gpt2ConfigFromGguf(file: GgufFile): Gpt2Config {
  const arch = getOptionalString(file, "general.architecture");
  if (arch !== "gpt2") throw new ModelLoadError(`${file.path}: architecture '${arch}' is not gpt2`);
  const need = (key: string, fallback?: number) => {
    const v = getOptionalNumber(file, `gpt2.${key}`);
    if (v !== undefined) return v;
    if (fallback !== undefined) return fallback;
    throw new ModelLoadError(`${file.path}: metadata 'gpt2.${key}' is missing`);
  };
  const embd = file.tensorByName.get("token_embd.weight");
  if (!embd) throw new ModelLoadError(`${file.path}: tensor 'token_embd.weight' is missing`);
  const hiddenSize = need("embedding_length");
  return check({
    architecture: "gpt2",
    vocabSize: need("vocab_size", embd.dims[1]),
    hiddenSize,
    intermediateSize: need("feed_forward_length", 4 * hiddenSize),
    numLayers: need("block_count"),
    numHeads: need("attention.head_count"),
    contextLength: need("context_length", 1024),
    layerNormEps: need("attention.layer_norm_epsilon", 1e-5),
    tieWordEmbeddings: !file.tensorByName.has("output.weight"),
  }, file.path, true, file.tensors.length);
}

/** Parameters in HF names, with matrices in [out, in] layout (the Conv1D ones transposed from HF). */
export function gpt2ParamSpecs(c: Gpt2Config): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const mat = (name: string, shape: number[], role?: "residual") => specs.push({ name, shape, kind: "matrix", init: "normal", ...(role && { role }) });
  const vec = (name: string, n: number, init: "ones" | "zeros") => specs.push({ name, shape: [n], kind: "vector", init });
  const d = c.hiddenSize;
  specs.push({ name: "transformer.wte.weight", shape: [c.vocabSize, d], kind: "matrix", init: "normal", lookupOnly: !c.tieWordEmbeddings,
    role: "embedding" });
  specs.push({ name: "transformer.wpe.weight", shape: [c.contextLength, d], kind: "matrix", init: "normal", lookupOnly: true, role: "embedding" });
  for (let l = 0; l < c.numLayers; l++) {
    const p = `transformer.h.${l}`;
    vec(`${p}.ln_1.weight`, d, "ones");
    vec(`${p}.ln_1.bias`, d, "zeros");
    mat(`${p}.attn.c_attn.weight`, [3 * d, d]);
    vec(`${p}.attn.c_attn.bias`, 3 * d, "zeros");
    mat(`${p}.attn.c_proj.weight`, [d, d], "residual");
    vec(`${p}.attn.c_proj.bias`, d, "zeros");
    vec(`${p}.ln_2.weight`, d, "ones");
    vec(`${p}.ln_2.bias`, d, "zeros");
    mat(`${p}.mlp.c_fc.weight`, [c.intermediateSize, d]);
    vec(`${p}.mlp.c_fc.bias`, c.intermediateSize, "zeros");
    mat(`${p}.mlp.c_proj.weight`, [d, c.intermediateSize], "residual");
    vec(`${p}.mlp.c_proj.bias`, d, "zeros");
  }
  vec("transformer.ln_f.weight", d, "ones");
  vec("transformer.ln_f.bias", d, "zeros");
  if (!c.tieWordEmbeddings) mat("lm_head.weight", [c.vocabSize, d]);
  return specs;
}

/** HF weights stored [in, out] (Conv1D) that Zhiyu and GGUF keep as [out, in]. */
export const GPT2_CONV1D_WEIGHT = /\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

const GPT2_NAME_MAP: ReadonlyArray<readonly [string, string]> = [
  ["transformer.wte.weight", "token_embd.weight"],
  ["transformer.wpe.weight", "position_embd.weight"],
  ["transformer.ln_f.weight", "output_norm.weight"],
  ["transformer.ln_f.bias", "output_norm.bias"],
  ["lm_head.weight", "output.weight"],
  ["transformer.h.N.ln_1.weight", "blk.N.attn_norm.weight"],
  ["transformer.h.N.ln_1.bias", "blk.N.attn_norm.bias"],
  ["transformer.h.N.attn.c_attn.weight", "blk.N.attn_qkv.weight"],
  ["transformer.h.N.attn.c_attn.bias", "blk.N.attn_qkv.bias"],
  ["transformer.h.N.attn.c_proj.weight", "blk.N.attn_output.weight"],
  ["transformer.h.N.attn.c_proj.bias", "blk.N.attn_output.bias"],
  ["transformer.h.N.ln_2.weight", "blk.N.ffn_norm.weight"],
  ["transformer.h.N.ln_2.bias", "blk.N.ffn_norm.bias"],
  ["transformer.h.N.mlp.c_fc.weight", "blk.N.ffn_up.weight"],
  ["transformer.h.N.mlp.c_fc.bias", "blk.N.ffn_up.bias"],
  ["transformer.h.N.mlp.c_proj.weight", "blk.N.ffn_down.weight"],
  ["transformer.h.N.mlp.c_proj.bias", "blk.N.ffn_down.bias"],
];

export function gpt2GgufName(hfName: string): string | null {
  return mapName(GPT2_NAME_MAP, hfName);
}
