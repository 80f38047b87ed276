// Sentence embeddings from a decoder (causal LM) behind the TextEmbedder interface (text-embedder.ts): the mean of
// the final hidden states over the text's tokens, L2-normalised — exactly what POST /v1/embeddings returns for a
// decoder (src/serve/routes.ts embeddings: the tokenizer's special tokens added, mean-pooled, unit length). The
// contact-centre desk uses it for the KB's dense ranking when no sentence encoder is shipped or given, so its
// vectors are the served chat model's own. Texts longer than the model's context keep their first tokens.
// Leaves out: batching (one forward pass per text; a KB of a few thousand passages embeds once and is cached by id),
// instruction prefixes (decoders used as embedders often want one; the served model is used as it is).
import type { TextModel } from "./model-api.js";
import type { TextEmbedder } from "./text-embedder.js";

export function decoderTextEmbedder(model: Pick<TextModel, "id" | "embeddingDim" | "contextLength" | "tokenizer" | "embed">): TextEmbedder {
  return {
    id: `decoder:${model.id}:mean:l2`,
    dim: model.embeddingDim,
    async embed(texts) {
      return texts.map((text) => {
        const ids = model.tokenizer.encode(text, { addSpecialTokens: true }).slice(0, model.contextLength);
        if (ids.length === 0) return new Float32Array(model.embeddingDim); // nothing to pool: scores 0 against anything
        const v = model.embed(ids);
        let norm = 0;
        for (let i = 0; i < v.length; i++) norm += v[i] * v[i];
        norm = Math.sqrt(norm);
        const unit = new Float32Array(v.length);
        for (let i = 0; i < v.length; i++) unit[i] = norm > 0 ? v[i] / norm : 0;
        return unit;
      });
    },
  };
}
