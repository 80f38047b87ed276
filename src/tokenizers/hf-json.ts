// Hugging Face tokenizer.json (+ tokenizer_config.json) → Tokenizer. Reads models BPE (both merges spellings:
// "a b" and ["a","b"]; byte_fallback, ignore_merges,
// unk/fuse_unk, subword prefix/suffix), WordPiece and Unigram (unigram.ts: [piece, score] pairs, unk_id, byte_fallback); normalizers, pre-tokenizers, post-processors and
// decoders as listed in the issue. Every malformed field is reported by its JSON path, e.g.
// `tokenizer.json: model.merges[12] is not "a b" or ["a","b"]`.
// The JSON reading lives in hf-json-field.ts, the pipeline stages in hf-json-stages.ts.
// Leaves out: truncation/padding, and SentencePiece's Precompiled
// charsmap (approximated by NFKC).
import { utf8Encode } from "./byte-level.js";
import { BpeModel, MergeTable, type WordModel } from "./bpe.js";
import { describe, Field, type Json } from "./hf-json-field.js";
import { buildDecoder, buildNormalizer, buildPostProcessor, buildPreTokenizer } from "./hf-json-stages.js";
import { PipelineTokenizer, type AddedToken, type TokenizerParts } from "./pipeline.js";
import { identityPreTokenizer } from "./pretokenizers.js";
import { WordPieceModel } from "./wordpiece.js";
import { UnigramModel } from "./unigram.js";

export { TokenizerFormatError } from "./hf-json-field.js";

export interface HfLoadOptions {
  /** tokenizer_config.json's parsed content (bos/eos/pad, add_bos_token/add_eos_token, added_tokens_decoder). */
  config?: unknown;
  /** generation_config.json's parsed content (extra stop ids from eos_token_id). */
  generationConfig?: unknown;
  /** Name used in error messages. */
  source?: string;
}

/** Builds a tokenizer from a parsed tokenizer.json. */
export function tokenizerFromHfJson(json: unknown, options: HfLoadOptions = {}): PipelineTokenizer {
  const file = options.source ?? "tokenizer.json";
  const root = new Field(file, "", json as Json);
  root.object();
  const cfg = new Field(options.source ? `${options.source.replace(/tokenizer\.json$/, "")}tokenizer_config.json` : "tokenizer_config.json", "", (options.config ?? null) as Json);

  const modelF = root.get("model");
  modelF.object();
  const modelType = modelF.get("type").present ? modelF.type() : "BPE";

  // Vocabulary: model.vocab, then added tokens (which may extend it).
  const tokens: (string | undefined)[] = [];
  const tokenToId = new Map<string, number>();
  const vocabF = modelF.get("vocab");
  if (modelType !== "BPE" && modelType !== "WordPiece" && modelType !== "Unigram") {
    modelF.get("type").fail(`is ${describe(modelType)}, expected "BPE", "WordPiece" or "Unigram"`);
  }
  // Unigram: model.vocab is [[piece, score], …] in id order; BPE / WordPiece: { piece: id }.
  const unigramPieces: Array<[string, number]> = [];
  let idLimit: number;
  if (modelType === "Unigram") {
    const list = vocabF.array();
    idLimit = tokenIdLimit(list.length, root, cfg);
    list.forEach((_, id) => {
      const f = vocabF.at(id);
      const pair = f.array();
      if (pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "number" || !Number.isFinite(pair[1])) {
        f.fail(`is ${describe(pair)}, expected [piece, score]`);
      }
      unigramPieces.push([pair[0] as string, pair[1] as number]);
      tokens[id] = pair[0] as string;
      if (!tokenToId.has(pair[0] as string)) tokenToId.set(pair[0] as string, id);
    });
  } else {
    const vocab = vocabF.object();
    // Ids index dense arrays below: bound them by the entries the files hold before any slot is allocated, so an id
    // of 2^31−1 is an error naming its field, not an out-of-memory abort.
    idLimit = tokenIdLimit(Object.keys(vocab).length, root, cfg);
    for (const tok of Object.keys(vocab)) {
      const id = vocabF.get(tok).int();
      if (id >= idLimit) vocabF.get(tok).fail(`is ${id}, beyond the ${idLimit} ids a vocabulary of this size can use`);
      tokens[id] = tok;
      tokenToId.set(tok, id);
    }
  }

  const added = readAddedTokens(root, cfg, idLimit);
  for (const t of added) {
    if (tokens[t.id] === undefined || tokens[t.id] === t.content) {
      tokens[t.id] = t.content;
      if (!tokenToId.has(t.content)) tokenToId.set(t.content, t.id);
    }
  }
  for (let i = 0; i < tokens.length; i++) if (!(i in tokens)) tokens[i] = undefined;
  const special = new Uint8Array(tokens.length);
  for (const t of added) if (t.special) special[t.id] = 1;

  const normalizerF = root.get("normalizer");
  let byteLevel = false;
  const normalize = normalizerF.present ? buildNormalizer(normalizerF, () => (byteLevel = true)) : null;
  const preF = root.get("pre_tokenizer");
  const preTokenize = preF.present ? buildPreTokenizer(preF, () => (byteLevel = true)) : identityPreTokenizer;
  const decoderF = root.get("decoder");
  if (decoderF.present && decoderF.type() === "ByteLevel") byteLevel = true;

  let model: WordModel;
  if (modelType === "Unigram") {
    const unk = modelF.get("unk_id");
    const unkId = unk.present ? unk.int() : null;
    if (unkId !== null && unkId >= unigramPieces.length) unk.fail(`is ${unkId}, beyond the ${unigramPieces.length} pieces of model.vocab`);
    model = new UnigramModel({ pieces: unigramPieces, unkId, byteFallback: modelF.get("byte_fallback").bool(false) });
  } else if (modelType === "BPE") {
    model = buildBpe(modelF, tokens, tokenToId, byteLevel);
  } else {
    const unk = modelF.get("unk_token").optString("[UNK]");
    const unkId = tokenToId.get(unk);
    if (unkId === undefined) modelF.get("unk_token").fail(`is ${describe(unk)}, which is not in model.vocab`);
    model = new WordPieceModel({
      tokenToId,
      unkId: unkId!,
      prefix: modelF.get("continuing_subword_prefix").optString("##"),
      maxInputChars: modelF.get("max_input_chars_per_word").present ? modelF.get("max_input_chars_per_word").int() : 100,
    });
  }

  const decoded = buildDecoder(decoderF, tokens, byteLevel);
  const addedById = new Map(added.map((t) => [t.id, t]));
  const decodeToken = (id: number): Uint8Array => {
    const a = addedById.get(id);
    return a ? utf8Encode(a.content) : decoded.decodeToken(tokens[id] ?? "");
  };

  // BOS/EOS: the post-processor's template, overridden by tokenizer_config's add_bos_token/add_eos_token.
  const post = buildPostProcessor(root.get("post_processor"), tokenToId);
  const specialId = (key: string): number | null => {
    const f = cfg.get(key);
    if (!f.present) return null;
    const content = typeof f.value === "string" ? f.string() : f.get("content").string();
    const id = tokenToId.get(content);
    if (id === undefined) f.fail(`is ${describe(content)}, which is not a token of ${file}`);
    return id!;
  };
  const bosTokenId = specialId("bos_token") ?? post.prefix[0] ?? null;
  const eosTokenId = specialId("eos_token") ?? post.suffix[post.suffix.length - 1] ?? firstPresent(tokenToId, ["</s>", "<|endoftext|>", "<|end_of_text|>"]);
  const padTokenId = specialId("pad_token");
  let prefixIds = post.prefix;
  let suffixIds = post.suffix;
  const addBos = cfg.get("add_bos_token");
  const addEos = cfg.get("add_eos_token");
  if (addBos.present) prefixIds = addBos.bool(false) && bosTokenId !== null ? [bosTokenId] : [];
  if (addEos.present) suffixIds = addEos.bool(false) && eosTokenId !== null ? [eosTokenId] : [];

  const stop = new Set<number>();
  if (eosTokenId !== null) stop.add(eosTokenId);
  const gen = new Field("generation_config.json", "", (options.generationConfig ?? null) as Json).get("eos_token_id");
  if (gen.present) for (const v of Array.isArray(gen.value) ? gen.value : [gen.value]) if (typeof v === "number") stop.add(v);
  for (const name of END_OF_TURN_TOKENS) {
    const id = tokenToId.get(name);
    if (id !== undefined && special[id] === 1) stop.add(id);
  }

  const parts: TokenizerParts = {
    kind: modelType === "WordPiece" ? "wordpiece" : decoded.spmLike || modelType === "Unigram" ? "spm" : "bpe",
    tokens,
    tokenToId,
    special,
    added,
    normalize,
    preTokenize,
    model,
    prefixIds,
    suffixIds,
    decodeToken,
    stripLeadingSpace: decoded.stripLeadingSpace,
    bosTokenId,
    eosTokenId,
    padTokenId,
    stopTokenIds: [...stop],
  };
  return new PipelineTokenizer(parts);
}

/** Tokens that end a chat turn in common templates; counted as stop tokens when the vocabulary marks them special. */
export const END_OF_TURN_TOKENS = ["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<|endoftext|>", "<end_of_turn>", "<|end_of_text|>"];

function firstPresent(map: ReadonlyMap<string, number>, names: readonly string[]): number | null {
  for (const n of names) {
    const id = map.get(n);
    if (id !== undefined) return id;
  }
  return null;
}

/** Largest token id + 1 accepted: twice the entries in model.vocab, added_tokens and added_tokens_decoder, plus
 *  room for sparse reserved ranges (real files are dense: ids 0..entries−1). */
function tokenIdLimit(vocabEntries: number, root: Field, cfg: Field): number {
  const added = root.get("added_tokens");
  const dec = cfg.get("added_tokens_decoder");
  const entries = vocabEntries + (added.present && Array.isArray(added.value) ? added.value.length : 0) +
    (dec.present && dec.value !== null && typeof dec.value === "object" ? Object.keys(dec.value).length : 0);
  return 2 * entries + 65_536;
}

function readAddedTokens(root: Field, cfg: Field, idLimit: number): AddedToken[] {
  const out = new Map<number, AddedToken>();
  const read = (f: Field, id: number): AddedToken => ({
    id,
    content: f.get("content").string(),
    special: f.get("special").bool(false),
    lstrip: f.get("lstrip").bool(false),
    rstrip: f.get("rstrip").bool(false),
    singleWord: f.get("single_word").bool(false),
  });
  const list = root.get("added_tokens");
  if (list.present) {
    list.array().forEach((_, i) => {
      const f = list.at(i);
      const id = f.get("id").int();
      if (id >= idLimit) f.get("id").fail(`is ${id}, beyond the ${idLimit} ids a vocabulary of this size can use`);
      const t = read(f, id);
      out.set(t.id, t);
    });
  }
  const dec = cfg.get("added_tokens_decoder");
  if (dec.present) {
    for (const key of Object.keys(dec.object())) {
      const id = Number(key);
      if (!Number.isInteger(id) || id < 0) dec.get(key).fail("has a key that is not a token id");
      if (id >= idLimit) dec.get(key).fail(`has the id ${id}, beyond the ${idLimit} ids a vocabulary of this size can use`);
      if (!out.has(id)) out.set(id, read(dec.get(key), id));
    }
  }
  return [...out.values()];
}

function buildBpe(modelF: Field, tokens: (string | undefined)[], tokenToId: Map<string, number>, byteLevel: boolean): BpeModel {
  const mergesF = modelF.get("merges");
  const list = mergesF.present ? mergesF.array() : [];
  const triples: [number, number, number][] = new Array(list.length);
  const prefix = modelF.get("continuing_subword_prefix").optString("");
  for (let r = 0; r < list.length; r++) {
    const m = list[r];
    let a: string | undefined;
    let b: string | undefined;
    if (typeof m === "string") {
      const sp = m.indexOf(" ", 1);
      if (sp > 0 && m.indexOf(" ", sp + 1) < 0) {
        a = m.slice(0, sp);
        b = m.slice(sp + 1);
      }
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") {
      a = m[0];
      b = m[1];
    }
    if (a === undefined || b === undefined) return mergesF.at(r).fail(`is ${describe(m)}, not "a b" or ["a","b"]`);
    const ia = tokenToId.get(a);
    const ib = tokenToId.get(b);
    const merged = a + (prefix && b.startsWith(prefix) ? b.slice(prefix.length) : b);
    const im = tokenToId.get(merged);
    if (ia === undefined || ib === undefined || im === undefined) {
      const missing = ia === undefined ? a : ib === undefined ? b : merged;
      return mergesF.at(r).fail(`merges ${describe(a)} + ${describe(b)}, but ${describe(missing)} is not in model.vocab`);
    }
    triples[r] = [ia, ib, im];
  }
  const unk = modelF.get("unk_token");
  let unkId: number | null = null;
  if (unk.present) {
    const id = tokenToId.get(unk.string());
    if (id === undefined) return unk.fail(`is ${describe(unk.value)}, which is not in model.vocab`);
    unkId = id;
  }
  return new BpeModel({
    tokens: tokens.map((t) => t ?? ""),
    tokenToId,
    merges: new MergeTable(triples),
    byteLevel,
    byteFallback: modelF.get("byte_fallback").bool(false),
    unkId,
    fuseUnk: modelF.get("fuse_unk").bool(false),
    ignoreMerges: modelF.get("ignore_merges").bool(false),
    continuingSubwordPrefix: prefix,
    endOfWordSuffix: modelF.get("end_of_word_suffix").optString(""),
  });
}
