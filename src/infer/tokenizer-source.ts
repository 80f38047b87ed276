// How inference gets a model's tokenizer: src/tokenizers/load.ts for GGUF vocabularies and tokenizer.json, with
// an ids-only stand-in when a model has no usable tokenizer (an HF folder without tokenizer.json, a GGUF written
// with tokenizer.ggml.model = "no_vocab", a vocabulary type the loader rejects), so such models still run on
// token ids (--prompt-ids) and say clearly why text does not work.
import type { GgufFile } from "../io/gguf.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { tokenizerFromGguf } from "../tokenizers/load.js";

const idsOnly = new WeakSet<Tokenizer>();

/** A stand-in for a model without a usable tokenizer: ids work, text does not. Generation still runs on ids:
 *  its stream decoder yields no text (there is none to give), while encode/decode name the reason and the fix. */
export function idsOnlyTokenizer(where: string, vocabSize: number, reason: string): Tokenizer {
  const fail = (): never => {
    throw new Error(`${where}: no tokenizer (${reason}); pass token ids (--prompt-ids) or a tokenizer (--tokenizer PATH)`);
  };
  const tokenizer: Tokenizer = {
    kind: "bpe", vocabSize, bosTokenId: null, eosTokenId: null, stopTokenIds: [], padTokenId: null,
    encode: fail, decode: fail, idToToken: () => undefined, tokenToId: () => undefined,
    tokenBytes: () => new Uint8Array(0), isSpecial: () => false, protectSpecialText: (text) => text,
    createStreamDecoder: () => ({ push: () => "", flush: () => "" }),
  };
  idsOnly.add(tokenizer);
  return tokenizer;
}

/** False for the ids-only stand-in: the model has no vocabulary to turn ids into text. */
export function tokenizerHasText(tokenizer: Tokenizer): boolean {
  return !idsOnly.has(tokenizer);
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
