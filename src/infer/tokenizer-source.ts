// How inference gets a model's tokenizer: src/tokenizers/load.ts for GGUF vocabularies and tokenizer.json, with
// an ids-only stand-in when a model has no usable tokenizer (an HF folder without tokenizer.json, a GGUF written
// with tokenizer.ggml.model = "no_vocab", a vocabulary type the loader rejects), so such models still run on
// token ids (--prompt-ids) and say clearly why text does not work.
import type { GgufFile } from "../io/gguf.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { tokenizerFromGguf } from "../tokenizers/load.js";

/** A stand-in for a model without a usable tokenizer: ids work, text does not. */
export function idsOnlyTokenizer(where: string, vocabSize: number, reason: string): Tokenizer {
  const fail = (): never => {
    throw new Error(`${where}: no tokenizer (${reason}); pass token ids (--prompt-ids) or a tokenizer (--tokenizer PATH)`);
  };
  return {
    kind: "bpe", vocabSize, bosTokenId: null, eosTokenId: null, stopTokenIds: [], padTokenId: null,
    encode: fail, decode: fail, idToToken: () => undefined, tokenToId: () => undefined,
    tokenBytes: () => new Uint8Array(0), isSpecial: () => false, protectSpecialText: (text) => text,
    createStreamDecoder: () => ({ push: fail, flush: () => "" }),
  };
}

export function tokenizerForGguf(file: GgufFile, vocabSize: number): Tokenizer {
  if (!file.metadata.has("tokenizer.ggml.model") || file.metadata.get("tokenizer.ggml.model") === "no_vocab") {
    return idsOnlyTokenizer(file.path, vocabSize, "the file has no vocabulary");
  }
  try {
    return tokenizerFromGguf(file);
  } catch (err) {
    return idsOnlyTokenizer(file.path, vocabSize, (err as Error).message);
  }
}
