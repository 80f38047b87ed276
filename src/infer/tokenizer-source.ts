// Adapter to the TOKENIZERS engineer's src/tokenizers/load.ts (loadTokenizer / tokenizerFromGguf), imported
// lazily so model loading works (with token ids only) while that module is absent or a vocabulary is
// unsupported. Remove once load.ts is settled: then import it directly.
import type { GgufFile } from "../io/gguf.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";

interface TokenizerLoaders {
  loadTokenizer(path: string): Tokenizer;
  tokenizerFromGguf(file: GgufFile): Tokenizer;
}

let loaders: TokenizerLoaders | null | undefined;

async function getLoaders(): Promise<TokenizerLoaders | null> {
  if (loaders !== undefined) return loaders;
  const modulePath = "../tokenizers/load.js";
  try {
    loaders = (await import(modulePath)) as TokenizerLoaders;
  } catch {
    loaders = null;
  }
  return loaders;
}

/** A stand-in for a model without a usable tokenizer: ids work, text does not. */
export function idsOnlyTokenizer(where: string, vocabSize: number, reason: string): Tokenizer {
  const fail = (): never => {
    throw new Error(`${where}: no tokenizer (${reason}); pass token ids (--prompt-ids) or a tokenizer (--tokenizer PATH)`);
  };
  return {
    kind: "bpe", vocabSize, bosTokenId: null, eosTokenId: null, stopTokenIds: [], padTokenId: null,
    encode: fail, decode: fail, idToToken: () => undefined, tokenToId: () => undefined,
    tokenBytes: () => new Uint8Array(0), isSpecial: () => false,
    createStreamDecoder: () => ({ push: fail, flush: () => "" }),
  };
}

export async function tokenizerForGguf(file: GgufFile, vocabSize: number): Promise<Tokenizer> {
  const l = await getLoaders();
  if (!l) return idsOnlyTokenizer(file.path, vocabSize, "src/tokenizers/load.ts is not available");
  try {
    return l.tokenizerFromGguf(file);
  } catch (err) {
    return idsOnlyTokenizer(file.path, vocabSize, (err as Error).message);
  }
}

export async function tokenizerForPath(p: string, vocabSize: number): Promise<Tokenizer> {
  const l = await getLoaders();
  if (!l) return idsOnlyTokenizer(p, vocabSize, "src/tokenizers/load.ts is not available");
  return l.loadTokenizer(p);
}
