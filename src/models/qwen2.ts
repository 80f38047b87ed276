// Qwen2 (Qwen1.5/2/2.5 dense models): the LLaMA block with biases on the Q/K/V projections, NEOX-style RoPE in
// both HF and GGUF files (llama.cpp does not permute Qwen2's Q/K rows), θ usually 1e6, RMSNorm eps 1e-6, and
// tied embeddings on the small sizes. The blocks are exactly llama.ts's with `attentionBias`, so the model class
// is shared; this file pins down what is Qwen2-specific. The name map is llama-config.ts's (it includes the
// `blk.N.attn_{q,k,v}.bias` ↔ `model.layers.N.self_attn.{q,k,v}_proj.bias` rows).
// Leaves out: Qwen2-MoE, Qwen2-VL, sliding-window layers (use_sliding_window is false in released checkpoints).
import type { GgufFile } from "../io/gguf.js";
import { type LlamaConfig, llamaConfigFromGguf, llamaConfigFromHf } from "./llama-config.js";
import { LlamaModel } from "./llama.js";
import { ModelLoadError } from "./weights.js";

export type Qwen2Config = LlamaConfig & { architecture: "qwen2"; attentionBias: true; ropeLayout: "neox" };

function asQwen2(c: LlamaConfig, where: string): Qwen2Config {
  if (c.architecture !== "qwen2" || !c.attentionBias || c.ropeLayout !== "neox") {
    throw new ModelLoadError(`${where}: not a Qwen2 config (architecture ${c.architecture})`);
  }
  return c as Qwen2Config;
}

export function qwen2ConfigFromHf(json: Record<string, unknown>, where = "config.json"): Qwen2Config {
  return asQwen2(llamaConfigFromHf({ ...json, model_type: "qwen2" }, where), where);
}

export function qwen2ConfigFromGguf(file: GgufFile): Qwen2Config {
  return asQwen2(llamaConfigFromGguf(file), file.path);
}

/** Qwen2 runs on the LLaMA model class (attention biases switched on by the config). */
export const Qwen2Model = LlamaModel;
