// What the decoder families' descriptors share: building the DecoderModel from a LoadContext (a GGUF file's stacked
// expert tensors read per expert, everything else through the loader), the GGUF names every decoder family uses
// (LLaMA's, plus q/k norms, fused projections and the MoE router), and the GGUF keys of a DecoderConfig.
// Leaves out: family ids, config parsing and each family's own extra names (the family folders).
import type { FamilyNetwork, GgufMetadata, LoadContext } from "../descriptor.js";
import type { Weight } from "../embed.js";
import { isQuantWeight } from "../../tensor/index.js";
import { readStackedExperts } from "../moe.js";
import { type DecoderConfig, type DecoderNames, decoderParamSpecs, expertName, isExpertParam } from "./config.js";
import { DecoderModel } from "./model.js";

/** [HF pattern, GGUF pattern] rows every decoder family shares (N = layer index). */
export const DECODER_GGUF_NAMES: ReadonlyArray<readonly [string, string]> = [
  ["model.embed_tokens.weight", "token_embd.weight"],
  ["model.norm.weight", "output_norm.weight"],
  ["lm_head.weight", "output.weight"],
  ["model.layers.N.input_layernorm.weight", "blk.N.attn_norm.weight"],
  ["model.layers.N.self_attn.q_proj.weight", "blk.N.attn_q.weight"],
  ["model.layers.N.self_attn.k_proj.weight", "blk.N.attn_k.weight"],
  ["model.layers.N.self_attn.v_proj.weight", "blk.N.attn_v.weight"],
  ["model.layers.N.self_attn.qkv_proj.weight", "blk.N.attn_qkv.weight"],
  ["model.layers.N.self_attn.q_proj.bias", "blk.N.attn_q.bias"],
  ["model.layers.N.self_attn.k_proj.bias", "blk.N.attn_k.bias"],
  ["model.layers.N.self_attn.v_proj.bias", "blk.N.attn_v.bias"],
  ["model.layers.N.self_attn.q_norm.weight", "blk.N.attn_q_norm.weight"],
  ["model.layers.N.self_attn.k_norm.weight", "blk.N.attn_k_norm.weight"],
  ["model.layers.N.self_attn.o_proj.weight", "blk.N.attn_output.weight"],
  ["model.layers.N.mlp.gate_proj.weight", "blk.N.ffn_gate.weight"],
  ["model.layers.N.mlp.up_proj.weight", "blk.N.ffn_up.weight"],
  ["model.layers.N.mlp.gate_up_proj.weight", "blk.N.ffn_up.weight"],
  ["model.layers.N.mlp.down_proj.weight", "blk.N.ffn_down.weight"],
];

/** GGUF field names of the expert counts, for errors. */
export interface GgufMoeFields {
  experts: string;
  expertFfn: string;
  hidden: string;
}

/** q/k/v and gate/up of every layer whose file keeps them apart (the loader reads each group into one buffer). */
function projectionGroups(c: DecoderConfig): string[][] {
  return Array.from({ length: c.numLayers }, (_, l) => [
    ...(c.layer.qkvFused ? [] : [["q_proj", "k_proj", "v_proj"].map((n) => `model.layers.${l}.self_attn.${n}.weight`)]),
    ...(c.layer.gateUpFused ? [] : [["gate_proj", "up_proj"].map((n) => `model.layers.${l}.mlp.${n}.weight`)]),
  ]).flat();
}

/** Builds the network. GGUF: the experts of layer N come from `blk.N.ffn_{gate,up,down}_exps.weight`, one view per
 *  expert. `adjust` may rewrite parameters after loading (Gemma's HF norms: w → 1 + w). */
export function loadDecoder(config: DecoderConfig, ctx: LoadContext, names: DecoderNames, moeFields: GgufMoeFields,
  adjust?: (params: Map<string, Weight>) => void): FamilyNetwork {
  if (ctx.contextLength) config.contextLength = ctx.contextLength;
  const specs = decoderParamSpecs(config, names);
  const gguf = ctx.format === "gguf" ? ctx.gguf : null;
  // GGUF dense layers: each layer's q/k/v and gate/up read side by side, so a prompt's products can run on them
  // stacked (DecoderModel.stacked; f16 / bf16 panels only)
  const groups = gguf && !config.moe ? projectionGroups(config) : undefined;
  const params = ctx.loadParams(gguf ? specs.filter((s) => !isExpertParam(s.name, names)) : specs, groups ? { stackedGroups: groups } : {});
  if (gguf && config.moe) {
    const { numExperts, expertFfn } = config.moe;
    const D = config.hiddenSize;
    for (let l = 0; l < config.numLayers; l++) {
      for (const which of ["gate", "up", "down"] as const) {
        const [rows, cols] = which === "down" ? [D, expertFfn] : [expertFfn, D];
        const fields = which === "down" ? { rows: moeFields.hidden, cols: moeFields.expertFfn } : { rows: moeFields.expertFfn, cols: moeFields.hidden };
        const experts = readStackedExperts(gguf, `blk.${l}.ffn_${which}_exps.weight`, rows, cols, numExperts, ctx.backend,
          { experts: moeFields.experts, ...fields });
        const repack = ctx.repack ? ctx.backend.repackWeight : undefined;
        experts.forEach((w, e) => {
          // Each expert is its own view into the stacked bytes, so it repacks in place like any other matrix.
          if (repack && isQuantWeight(w)) w.type = repack(w.data, w.type, w.rows, w.cols) ?? w.type;
          params.set(expertName(names.experts[which], l, e), w);
        });
      }
    }
  }
  adjust?.(params);
  return { kind: "causal-lm", network: new DecoderModel(config, params, names) };
}

/** The `<arch>.*` keys llama.cpp reads for a decoder config (families add their own). */
export function decoderGgufMetadata(c: DecoderConfig, arch: string): GgufMetadata {
  const m: GgufMetadata = [
    [`${arch}.context_length`, c.contextLength, "u32"],
    [`${arch}.embedding_length`, c.hiddenSize, "u32"],
    [`${arch}.block_count`, c.numLayers, "u32"],
    [`${arch}.feed_forward_length`, c.intermediateSize, "u32"],
    [`${arch}.attention.head_count`, c.numHeads, "u32"],
    [`${arch}.attention.head_count_kv`, c.numKvHeads, "u32"],
    [`${arch}.attention.layer_norm_rms_epsilon`, c.rmsNormEps, "f32"],
    [`${arch}.attention.key_length`, c.headDim, "u32"],
    [`${arch}.attention.value_length`, c.headDim, "u32"],
    [`${arch}.rope.freq_base`, c.rope.theta, "f32"],
  ];
  m.push([`${arch}.rope.dimension_count`, c.rotaryDim, "u32"]);
  if (c.moe) {
    m.push([`${arch}.expert_count`, c.moe.numExperts, "u32"], [`${arch}.expert_used_count`, c.moe.topK, "u32"],
      [`${arch}.expert_feed_forward_length`, c.moe.expertFfn, "u32"]);
  }
  const s = c.rope.scaling;
  if (s?.type === "yarn") {
    m.push([`${arch}.rope.scaling.type`, "yarn"], [`${arch}.rope.scaling.factor`, s.factor, "f32"],
      [`${arch}.rope.scaling.original_context_length`, s.originalContextLength, "u32"]);
  } else if (s?.type === "linear") {
    m.push([`${arch}.rope.scaling.type`, "linear"], [`${arch}.rope.scaling.factor`, s.factor, "f32"]);
  }
  return m;
}
