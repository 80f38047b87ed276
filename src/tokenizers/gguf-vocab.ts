// GGUF vocabularies (`tokenizer.ggml.*` metadata) → Tokenizer, following llama.cpp's rules: `gpt2` is
// byte-level BPE with the regex list of its `tokenizer.ggml.pre`, `llama` is SentencePiece-style BPE over
// scores with `<0xXX>` byte fallback and a "▁" prefix, `bert` is WordPiece with "▁"-marked word starts, `t5` is
// SentencePiece Unigram as llama.cpp's UGM tokenizer runs it (unigram.ts; charsmap approximated by NFKC).
// Token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. Control tokens are matched in
// text only with parseSpecial; user-defined ones always (as llama.cpp does).
// Leaves out: `rwkv`/`plamo2` vocabularies (an error names tokenizer.ggml.model), and llama.cpp's per-model
// lstrip/rstrip hacks. One deliberate difference: `qwen2` vocabularies normalize to NFC as Qwen's tokenizer.json
// does (llama.cpp does not).
import { fromByteLevel, parseByteToken, utf8Encode } from "./byte-level.js";
import { BpeModel, MergeTable, type WordModel } from "./bpe.js";
import { END_OF_TURN_TOKENS, TokenizerFormatError } from "./hf-json.js";
import { bertNormalizer, unicodeNormalizer } from "./normalizers.js";
import { PipelineTokenizer, type AddedToken } from "./pipeline.js";
import { bertPreTokenizer, GGUF_PRE_REGEXES, regexListPreTokenizer, type PreTokenizer } from "./pretokenizers.js";
import { SpmModel } from "./spm.js";
import { WordPieceModel } from "./wordpiece.js";
import { UnigramModel } from "./unigram.js";

/** What the loader needs of a parsed GGUF file (src/io/gguf.ts's GgufFile fits). */
export interface GgufMetadataSource {
  path?: string;
  metadata: ReadonlyMap<string, unknown>;
}

const TYPE_NORMAL = 1;
const TYPE_UNKNOWN = 2;
const TYPE_CONTROL = 3;
const TYPE_USER_DEFINED = 4;
const TYPE_UNUSED = 5;
const TYPE_BYTE = 6;

class Meta {
  constructor(private readonly src: GgufMetadataSource) {}
  private fail(key: string, what: string): never {
    throw new TokenizerFormatError(`${this.src.path ?? "GGUF"}: ${key} ${what}`);
  }
  has(key: string): boolean {
    return this.src.metadata.has(key);
  }
  string(key: string, fallback?: string): string {
    const v = this.src.metadata.get(key);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "string") this.fail(key, v === undefined ? "is missing" : `is ${typeof v}, expected a string`);
    return v;
  }
  id(key: string, nVocab: number): number | null {
    const v = this.src.metadata.get(key);
    if (v === undefined) return null;
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n)) this.fail(key, `is ${String(v)}, expected a token id`);
    if (n < 0 || n >= nVocab) return null; // llama.cpp treats out-of-range ids (e.g. -1) as "none"
    return n;
  }
  bool(key: string): boolean | undefined {
    const v = this.src.metadata.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") this.fail(key, `is ${String(v)}, expected true or false`);
    return v;
  }
  strings(key: string, optional = false): string[] | undefined {
    const v = this.src.metadata.get(key);
    if (v === undefined && optional) return undefined;
    if (!Array.isArray(v)) this.fail(key, v === undefined ? "is missing" : `is ${typeof v}, expected an array of strings`);
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== "string") this.fail(`${key}[${i}]`, `is ${String(v[i])}, expected a string`);
    return v as string[];
  }
  numbers(key: string, length: number, optional = true): number[] | undefined {
    const v = this.src.metadata.get(key);
    if (v === undefined && optional) return undefined;
    if (!Array.isArray(v)) this.fail(key, v === undefined ? "is missing" : `is ${typeof v}, expected an array of numbers`);
    if (v.length !== length) this.fail(key, `has ${v.length} entries but tokenizer.ggml.tokens has ${length}`);
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== "number") this.fail(`${key}[${i}]`, `is ${String(v[i])}, expected a number`);
    return v as number[];
  }
  failMerge(i: number, what: string): never {
    this.fail(`tokenizer.ggml.merges[${i}]`, what);
  }
}

/** Builds the tokenizer a GGUF file's metadata describes. */
export function tokenizerFromGguf(file: GgufMetadataSource): PipelineTokenizer {
  const meta: Meta = new Meta(file);
  const model = meta.string("tokenizer.ggml.model");
  const tokens = meta.strings("tokenizer.ggml.tokens")!;
  const n = tokens.length;
  const types = meta.numbers("tokenizer.ggml.token_type", n) ?? new Array<number>(n).fill(TYPE_NORMAL);
  for (let i = 0; i < n; i++) {
    if (!(types[i] >= 1 && types[i] <= 6)) throw new TokenizerFormatError(`${file.path ?? "GGUF"}: tokenizer.ggml.token_type[${i}] is ${types[i]}, expected 1..6`);
  }
  const tokenToId = new Map<string, number>();
  for (let i = 0; i < n; i++) if (!tokenToId.has(tokens[i])) tokenToId.set(tokens[i], i);

  const special = new Uint8Array(n);
  const added: AddedToken[] = [];
  for (let i = 0; i < n; i++) {
    const t = types[i];
    if (t === TYPE_CONTROL || t === TYPE_UNKNOWN || t === TYPE_UNUSED) special[i] = 1;
    if (t === TYPE_CONTROL || t === TYPE_UNKNOWN) added.push({ id: i, content: tokens[i], special: true });
    if (t === TYPE_USER_DEFINED) added.push({ id: i, content: tokens[i], special: false });
  }

  const bos = meta.id("tokenizer.ggml.bos_token_id", n);
  const eos = meta.id("tokenizer.ggml.eos_token_id", n);
  const unk = meta.id("tokenizer.ggml.unknown_token_id", n);
  const pad = meta.id("tokenizer.ggml.padding_token_id", n);
  const stop = new Set<number>();
  for (const key of ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]) {
    const id = meta.id(key, n);
    if (id !== null) stop.add(id);
  }
  for (const name of END_OF_TURN_TOKENS) {
    const id = tokenToId.get(name);
    if (id !== undefined && types[id] === TYPE_CONTROL) stop.add(id);
  }

  let kind: PipelineTokenizer["kind"];
  let wordModel: WordModel;
  let preTokenize: PreTokenizer;
  let normalize: ((t: string) => string) | null = null;
  let decodeToken: (id: number) => Uint8Array;
  let stripLeadingSpace = false;
  let firstAfterAddedToken = false;
  let addBos: boolean;
  let addEos: boolean;
  let prefixIds: number[] = [];
  let suffixIds: number[] = [];
  let bosTokenId = bos;
  let eosTokenId = eos;

  if (model === "gpt2") {
    kind = "bpe";
    const pre = meta.string("tokenizer.ggml.pre", "default");
    const regexes = GGUF_PRE_REGEXES[pre];
    if (!regexes) {
      throw new TokenizerFormatError(`${file.path ?? "GGUF"}: tokenizer.ggml.pre is ${JSON.stringify(pre)}, not one Zhiyu knows (${Object.keys(GGUF_PRE_REGEXES).join(", ")})`);
    }
    preTokenize = regexListPreTokenizer(regexes, "tokenizer.ggml.pre");
    // Qwen2's tokenizer.json normalizes to NFC; llama.cpp skips that step, which only matters for text holding
    // non-NFC characters (e.g. CJK compatibility ideographs). Follow the model's own tokenizer here.
    if (pre === "qwen2" || pre === "deepseek-r1-qwen" || pre === "zhiyu") normalize = unicodeNormalizer("NFC");
    const merges = meta.strings("tokenizer.ggml.merges")!;
    const triples: [number, number, number][] = new Array(merges.length);
    for (let r = 0; r < merges.length; r++) {
      const m = merges[r];
      const sp = m.indexOf(" ", 1);
      if (sp < 0) meta.failMerge(r, `is ${JSON.stringify(m)}, not "a b"`);
      const a = m.slice(0, sp);
      const b = m.slice(sp + 1);
      const ia = tokenToId.get(a);
      const ib = tokenToId.get(b);
      const im = tokenToId.get(a + b);
      if (ia === undefined || ib === undefined || im === undefined) {
        meta.failMerge(r, `merges ${JSON.stringify(a)} + ${JSON.stringify(b)}, but ${JSON.stringify(ia === undefined ? a : ib === undefined ? b : a + b)} is not in tokenizer.ggml.tokens`);
      }
      triples[r] = [ia!, ib!, im!];
    }
    const llama3 = pre === "llama-bpe" || pre === "llama3" || pre === "llama-v3";
    wordModel = new BpeModel({ tokens, tokenToId, merges: new MergeTable(triples), byteLevel: true, ignoreMerges: llama3, unkId: unk });
    decodeToken = (id) => (types[id] === TYPE_USER_DEFINED ? utf8Encode(tokens[id]) : fromByteLevel(tokens[id]));
    addBos = meta.bool("tokenizer.ggml.add_bos_token") ?? llama3;
    addEos = meta.bool("tokenizer.ggml.add_eos_token") ?? false;
  } else if (model === "llama") {
    kind = "spm";
    const scores = meta.numbers("tokenizer.ggml.scores", n) ?? new Array<number>(n).fill(0);
    wordModel = new SpmModel({ tokenToId, scores, unkId: unk });
    const addSpacePrefix = meta.bool("tokenizer.ggml.add_space_prefix") ?? true;
    preTokenize = (text, isFirst, emit) => emit(((addSpacePrefix && isFirst ? " " : "") + text).replace(/ /g, "\u2581"));
    firstAfterAddedToken = true;
    stripLeadingSpace = addSpacePrefix;
    decodeToken = (id) => {
      if (types[id] === TYPE_BYTE) {
        const b = parseByteToken(tokens[id]);
        if (b >= 0) return Uint8Array.of(b);
      }
      if (types[id] === TYPE_USER_DEFINED) return utf8Encode(tokens[id]);
      return utf8Encode(tokens[id].replace(/\u2581/g, " "));
    };
    addBos = meta.bool("tokenizer.ggml.add_bos_token") ?? true;
    addEos = meta.bool("tokenizer.ggml.add_eos_token") ?? false;
  } else if (model === "bert") {
    kind = "wordpiece";
    if (unk === null) throw new TokenizerFormatError(`${file.path ?? "GGUF"}: tokenizer.ggml.unknown_token_id is missing; a bert vocabulary needs one`);
    wordModel = new WordPieceModel({ tokenToId, unkId: unk, prefix: "", wordStart: "\u2581" });
    normalize = bertNormalizer(true, true, null, true);
    preTokenize = bertPreTokenizer;
    stripLeadingSpace = true;
    decodeToken = (id) => utf8Encode(tokens[id].replace(/^\u2581/, " "));
    const cls = meta.id("tokenizer.ggml.cls_token_id", n) ?? bos;
    const sep = meta.id("tokenizer.ggml.seperator_token_id", n) ?? eos;
    bosTokenId = cls;
    eosTokenId = sep;
    addBos = meta.bool("tokenizer.ggml.add_bos_token") ?? true;
    addEos = meta.bool("tokenizer.ggml.add_eos_token") ?? true;
  } else if (model === "t5") {
    // llama.cpp's UGM tokenizer: the whole normalized text is one Viterbi lattice over normal, user-defined (score 0)
    // and unused pieces; unknown runs fuse into one <unk> (no byte fallback). Its precompiled charsmap is
    // approximated by NFKC, as for tokenizer.json's Precompiled normalizer.
    kind = "spm";
    const scores = meta.numbers("tokenizer.ggml.scores", n) ?? new Array<number>(n).fill(0);
    const pieces = tokens.map((t, id) => [t, types[id] === TYPE_USER_DEFINED ? 0 : scores[id]!] as const);
    wordModel = new UnigramModel({
      pieces, unkId: unk, byteFallback: false, lookUpUnknownText: false,
      matchable: (id) => types[id] === TYPE_NORMAL || types[id] === TYPE_USER_DEFINED || types[id] === TYPE_UNUSED,
      scoredForUnknown: (id) => types[id] === TYPE_NORMAL,
    });
    const addSpacePrefix = meta.bool("tokenizer.ggml.add_space_prefix") ?? true;
    const mergeSpaces = meta.bool("tokenizer.ggml.remove_extra_whitespaces") ?? true;
    normalize = (text) => ugmWhitespace(text.normalize("NFKC"), addSpacePrefix, mergeSpaces);
    preTokenize = (text, _isFirst, emit) => emit(text);
    stripLeadingSpace = addSpacePrefix;
    decodeToken = (id) => {
      if (types[id] === TYPE_BYTE) {
        const b = parseByteToken(tokens[id]);
        if (b >= 0) return Uint8Array.of(b);
      }
      return utf8Encode(tokens[id].replace(/\u2581/g, " "));
    };
    addBos = meta.bool("tokenizer.ggml.add_bos_token") ?? false;
    addEos = meta.bool("tokenizer.ggml.add_eos_token") ?? true;
  } else {
    throw new TokenizerFormatError(`${file.path ?? "GGUF"}: tokenizer.ggml.model is ${JSON.stringify(model)}; Zhiyu reads "gpt2", "llama", "bert" and "t5" vocabularies`);
  }
  if (addBos && bosTokenId !== null) prefixIds = [bosTokenId];
  if (addEos && eosTokenId !== null) suffixIds = [eosTokenId];

  return new PipelineTokenizer({
    kind,
    tokens,
    tokenToId,
    special,
    added,
    normalize,
    preTokenize,
    firstAfterAddedToken,
    model: wordModel,
    prefixIds,
    suffixIds,
    decodeToken,
    stripLeadingSpace,
    bosTokenId,
    eosTokenId,
    padTokenId: pad,
    stopTokenIds: [...stop],
  });
}

/** llama.cpp's UGM whitespace rule: spaces become ▁; merging drops leading/trailing spaces and puts one ▁ before
 *  each run of non-space characters; otherwise one ▁ goes before the first non-space character (add_space_prefix). */
function ugmWhitespace(text: string, addSpacePrefix: boolean, mergeSpaces: boolean): string {
  if (mergeSpaces) return text.split(" ").filter((w) => w.length > 0).map((w) => "\u2581" + w).join("");
  let out = "", prepended = false, inWord = false;
  for (const ch of text) {
    if (ch === " ") {
      inWord = false;
      out += "\u2581";
      continue;
    }
    if (!inWord && addSpacePrefix && !prepended) {
      out += "\u2581";
      prepended = true;
    }
    inWord = true;
    out += ch;
  }
  return out;
}
