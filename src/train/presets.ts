// Model presets for `zhiyu train --preset NAME`: Hugging Face config.json objects for GPT-2-style and LLaMA-style
// decoders, from a 2-layer toy up to GPT-2 124M. A preset fixes the shape; the vocabulary size is replaced by the
// data's (or --vocab-size) when the trainer builds the model, so tiny models train on any tokenizer.
// Each preset's family is the one the model registry reads its config.json as, so a preset can only name a
// registered family.
// Leaves out: models larger than ~124M (CPU training); use --init DIR for any Hugging Face folder.
import { MODEL_REGISTRY } from "../models/registry.js";

/** A registered family's id (src/models/registry.ts). */
export type PresetFamily = string;

function preset(name: string, description: string, config: Record<string, unknown>): Preset {
  return { name, family: MODEL_REGISTRY.ofHfConfig(config, `preset '${name}'`).id, description, config };
}

export interface Preset {
  name: string;
  family: PresetFamily;
  description: string;
  config: Record<string, unknown>;
}

function gpt2(name: string, nLayer: number, nEmbd: number, nHead: number, nPositions: number, description: string): Preset {
  return preset(name, description, {
    architectures: ["GPT2LMHeadModel"], model_type: "gpt2",
    n_layer: nLayer, n_embd: nEmbd, n_head: nHead, n_positions: nPositions, n_ctx: nPositions, n_inner: null,
    vocab_size: 50257, layer_norm_epsilon: 1e-5, activation_function: "gelu_new", tie_word_embeddings: true,
    scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false, reorder_and_upcast_attn: false,
    attn_pdrop: 0.0, embd_pdrop: 0.0, resid_pdrop: 0.0, initializer_range: 0.02,
    bos_token_id: 50256, eos_token_id: 50256,
  });
}

function llama(name: string, nLayer: number, hidden: number, nHead: number, nKvHead: number, ffn: number, ctx: number,
  description: string): Preset {
  return preset(name, description, {
    architectures: ["LlamaForCausalLM"], model_type: "llama",
    num_hidden_layers: nLayer, hidden_size: hidden, num_attention_heads: nHead, num_key_value_heads: nKvHead,
    intermediate_size: ffn, max_position_embeddings: ctx, vocab_size: 32000, rms_norm_eps: 1e-5,
    rope_theta: 10000.0, hidden_act: "silu", tie_word_embeddings: true, attention_bias: false, mlp_bias: false,
    initializer_range: 0.02, bos_token_id: 1, eos_token_id: 2,
  });
}

function bert(name: string, nLayer: number, hidden: number, nHead: number, ffn: number, positions: number, description: string): Preset {
  return preset(name, description, {
    architectures: ["BertForMaskedLM"], model_type: "bert",
    num_hidden_layers: nLayer, hidden_size: hidden, num_attention_heads: nHead, intermediate_size: ffn,
    max_position_embeddings: positions, type_vocab_size: 2, vocab_size: 21128, layer_norm_eps: 1e-12, hidden_act: "gelu",
    pad_token_id: 0, initializer_range: 0.02, tie_word_embeddings: true,
  });
}

export const PRESETS: readonly Preset[] = [
  gpt2("tiny", 2, 64, 4, 256, "GPT-2 style, 2 layers × 64 wide (tests, smoke runs)"),
  gpt2("mini", 4, 128, 4, 512, "GPT-2 style, 4 layers × 128 wide"),
  gpt2("small", 6, 384, 6, 1024, "GPT-2 style, 6 layers × 384 wide (~11M + embeddings)"),
  gpt2("gpt2-124m", 12, 768, 12, 1024, "GPT-2 124M (12 layers × 768, 12 heads, context 1024)"),
  llama("llama-tiny", 2, 64, 4, 2, 176, 256, "LLaMA style, 2 layers × 64, GQA 4/2 heads (tests)"),
  llama("llama-mini", 4, 128, 4, 2, 344, 512, "LLaMA style, 4 layers × 128, GQA 4/2 heads"),
  llama("llama-small", 6, 384, 6, 2, 1024, 1024, "LLaMA style, 6 layers × 384, GQA 6/2 heads"),
  llama("llama-110m", 12, 768, 12, 12, 2048, 1024, "LLaMA style, 12 layers × 768 (~110M with a 32k vocabulary)"),
  bert("bert-tiny", 2, 64, 4, 256, 512, "BERT encoder with an MLM head, 2 layers × 64 (tests; --objective mlm)"),
  bert("bert-small", 4, 256, 4, 1024, 512, "BERT encoder with an MLM head, 4 layers × 256"),
  bert("bert-base", 12, 768, 12, 3072, 512, "BERT-base shape (12 layers × 768, 12 heads; ~102M with a 21k vocabulary)"),
];

export function findPreset(name: string): Preset {
  const p = PRESETS.find((q) => q.name === name);
  if (!p) {
    throw new Error(`unknown preset '${name}'; available presets: ${PRESETS.map((q) => q.name).join(", ")} ` +
      "(or pass --init DIR for a Hugging Face folder, or --model-config FILE for a config.json)");
  }
  return { ...p, config: { ...p.config } };
}
