// Where a BERT-family parameter lives in a file. Zhiyu's canonical names are HF BertModel's (no prefix) plus
// BertFor*'s heads (cls.predictions.*, classifier.*). In a Hugging Face folder the encoder may sit under "bert.",
// "roberta." or no prefix, RoBERTa's heads have their own names (lm_head.*, classifier.dense / out_proj) and old
// TensorFlow-converted checkpoints spell LayerNorm's weight and bias gamma and beta. In a GGUF file the names are
// llama.cpp's `bert` ones (token_embd, blk.N.attn_q, …; pooler = cls, classifier = cls.output); the MLM head has no
// llama.cpp name, so Zhiyu writes it as mlm.* (llama.cpp refuses a file with tensors it does not know: export an
// MLM model without its head for llama.cpp).
// Leaves out: file access (the loaders wrap a source with these maps).
import type { BertConfig, BertVariant } from "./config.js";

const GGUF_NAME_MAP: ReadonlyArray<readonly [string, string]> = [
  ["embeddings.word_embeddings.weight", "token_embd.weight"],
  ["embeddings.position_embeddings.weight", "position_embd.weight"],
  ["embeddings.token_type_embeddings.weight", "token_types.weight"],
  ["embeddings.LayerNorm.weight", "token_embd_norm.weight"],
  ["embeddings.LayerNorm.bias", "token_embd_norm.bias"],
  ["encoder.layer.N.attention.self.query.weight", "blk.N.attn_q.weight"],
  ["encoder.layer.N.attention.self.query.bias", "blk.N.attn_q.bias"],
  ["encoder.layer.N.attention.self.key.weight", "blk.N.attn_k.weight"],
  ["encoder.layer.N.attention.self.key.bias", "blk.N.attn_k.bias"],
  ["encoder.layer.N.attention.self.value.weight", "blk.N.attn_v.weight"],
  ["encoder.layer.N.attention.self.value.bias", "blk.N.attn_v.bias"],
  ["encoder.layer.N.attention.output.dense.weight", "blk.N.attn_output.weight"],
  ["encoder.layer.N.attention.output.dense.bias", "blk.N.attn_output.bias"],
  ["encoder.layer.N.attention.output.LayerNorm.weight", "blk.N.attn_output_norm.weight"],
  ["encoder.layer.N.attention.output.LayerNorm.bias", "blk.N.attn_output_norm.bias"],
  ["encoder.layer.N.intermediate.dense.weight", "blk.N.ffn_up.weight"],
  ["encoder.layer.N.intermediate.dense.bias", "blk.N.ffn_up.bias"],
  ["encoder.layer.N.output.dense.weight", "blk.N.ffn_down.weight"],
  ["encoder.layer.N.output.dense.bias", "blk.N.ffn_down.bias"],
  ["encoder.layer.N.output.LayerNorm.weight", "blk.N.layer_output_norm.weight"],
  ["encoder.layer.N.output.LayerNorm.bias", "blk.N.layer_output_norm.bias"],
  ["pooler.dense.weight", "cls.weight"],
  ["pooler.dense.bias", "cls.bias"],
  ["classifier.weight", "cls.output.weight"],
  ["classifier.bias", "cls.output.bias"],
  ["cls.predictions.transform.dense.weight", "mlm.dense.weight"],
  ["cls.predictions.transform.dense.bias", "mlm.dense.bias"],
  ["cls.predictions.transform.LayerNorm.weight", "mlm.norm.weight"],
  ["cls.predictions.transform.LayerNorm.bias", "mlm.norm.bias"],
  ["cls.predictions.decoder.weight", "mlm.decoder.weight"],
  ["cls.predictions.bias", "mlm.bias"],
];

/** The GGUF name of a canonical parameter name, or null. */
export function bertGgufName(name: string): string | null {
  const layer = /^encoder\.layer\.(\d+)\./.exec(name);
  const generic = layer ? name.replace(`.${layer[1]}.`, ".N.") : name;
  for (const [hf, gguf] of GGUF_NAME_MAP) if (hf === generic) return layer ? gguf.replace(".N.", `.${layer[1]}.`) : gguf;
  return null;
}

/** How a Hugging Face folder spells the encoder: its prefix ("", "bert.", "roberta.") and whether the heads use
 *  RoBERTa's names. */
export interface BertHfLayout {
  prefix: string;
  robertaHeads: boolean;
}

const PREFIXES = ["", "bert.", "roberta.", "model."];

/** The layout of the folder whose tensor names `has` answers for, or null when no word-embedding table is found
 *  under any known prefix (the folder is not a BERT checkpoint, or its weights are missing). */
export function detectHfLayout(has: (name: string) => boolean, variant: BertVariant): BertHfLayout | null {
  const prefix = PREFIXES.find((p) => has(`${p}embeddings.word_embeddings.weight`));
  return prefix === undefined ? null : { prefix, robertaHeads: variant !== "bert" };
}

/** The layout save_pretrained writes for a config (BertModel: no prefix; heads: "bert." / "roberta."). */
export function hfLayoutFor(c: BertConfig): BertHfLayout {
  const roberta = c.variant !== "bert";
  return { prefix: c.head === "none" ? "" : roberta ? "roberta." : "bert.", robertaHeads: roberta };
}

const ROBERTA_MLM: ReadonlyArray<readonly [string, string]> = [
  ["cls.predictions.transform.dense.", "lm_head.dense."],
  ["cls.predictions.transform.LayerNorm.", "lm_head.layer_norm."],
  ["cls.predictions.decoder.", "lm_head.decoder."],
  ["cls.predictions.bias", "lm_head.bias"],
];

/** The names a canonical parameter may have in a HF folder of this layout, the modern spelling first. */
export function bertHfNames(name: string, layout: BertHfLayout, c: Pick<BertConfig, "head">): string[] {
  let n = name;
  if (/^(embeddings|encoder|pooler)\./.test(n)) {
    if (layout.robertaHeads && c.head === "sequence-classification" && n.startsWith("pooler.dense.")) {
      n = n.replace("pooler.dense.", "classifier.dense."); // RobertaClassificationHead: dense + tanh on <s>
    } else n = layout.prefix + n;
  } else if (layout.robertaHeads) {
    for (const [from, to] of ROBERTA_MLM) if (n.startsWith(from)) n = to + n.slice(from.length);
    if (c.head === "sequence-classification" && n.startsWith("classifier.")) n = n.replace("classifier.", "classifier.out_proj.");
  }
  const legacy = /LayerNorm\.(weight|bias)$/.exec(n);
  return legacy ? [n, n.replace(/(weight|bias)$/, legacy[1] === "weight" ? "gamma" : "beta")] : [n];
}
