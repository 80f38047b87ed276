// The pipeline stages of a Hugging Face tokenizer.json, each built from its JSON: normalizers, pre-tokenizers,
// the decoder chain (as a per-token byte mapping) and the post-processor (special tokens added around a
// sequence). Malformed fields are reported by their JSON path.
// Leaves out: the model (BPE/WordPiece vocabulary and merges) and added tokens (hf-json.ts).

import { fromByteLevel, parseByteToken, utf8Encode } from "./byte-level.js";
import { describe, Field } from "./hf-json-field.js";
import {
  bertNormalizer, lowercaseNormalizer, prependNormalizer, replaceNormalizer, sequenceNormalizer, stripAccentsNormalizer,
  stripNormalizer, unicodeNormalizer, type Normalizer,
} from "./normalizers.js";
import {
  bertPreTokenizer, byteLevelPreTokenizer, digitsPreTokenizer, metaspacePreTokenizer, punctuationPreTokenizer,
  sequencePreTokenizer, splitPreTokenizer, whitespacePreTokenizer, whitespaceSplitPreTokenizer, type PreTokenizer,
} from "./pretokenizers.js";
import { compileTokenizerRegex, escapeRegex, type SplitBehavior } from "./regex.js";

function patternOf(f: Field): { regex: string } | { literal: string } {
  const p = f.get("pattern");
  if (p.get("Regex").present) return { regex: p.get("Regex").string() };
  if (p.get("String").present) return { literal: p.get("String").string() };
  return p.fail(`is ${describe(p.value)}, expected {"Regex": …} or {"String": …}`);
}

export function buildNormalizer(f: Field, markByteLevel: () => void): Normalizer {
  const type = f.type();
  switch (type) {
    case "NFC": case "NFD": case "NFKC": case "NFKD":
      return unicodeNormalizer(type);
    case "Precompiled":
      return unicodeNormalizer("NFKC");
    case "Lowercase":
      return lowercaseNormalizer;
    case "Strip":
      return stripNormalizer(f.get("strip_left").bool(true), f.get("strip_right").bool(true));
    case "StripAccents":
      return stripAccentsNormalizer;
    case "Prepend":
      return prependNormalizer(f.get("prepend").string());
    case "Replace": {
      const p = patternOf(f);
      const re = "regex" in p ? compileTokenizerRegex(p.regex, `${f.path}.pattern.Regex`) : new RegExp(escapeRegex(p.literal), "gu");
      return replaceNormalizer(re, f.get("content").string());
    }
    case "BertNormalizer": {
      const sa = f.get("strip_accents");
      return bertNormalizer(f.get("clean_text").bool(true), f.get("handle_chinese_chars").bool(true), sa.present ? sa.bool(false) : null, f.get("lowercase").bool(true));
    }
    case "ByteLevel":
      markByteLevel();
      return (t) => t;
    case "Sequence": {
      const list = f.get("normalizers");
      return sequenceNormalizer(list.array().map((_, i) => buildNormalizer(list.at(i), markByteLevel)));
    }
    default:
      return f.get("type").fail(`is ${describe(type)}, not a normalizer Zhiyu knows (NFC/NFD/NFKC/NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, BertNormalizer, Precompiled, Sequence)`);
  }
}

const BEHAVIORS = new Set(["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]);

function behaviorOf(f: Field, fallback: SplitBehavior): SplitBehavior {
  const b = f.get("behavior");
  if (!b.present) return fallback;
  const s = b.string();
  if (!BEHAVIORS.has(s)) b.fail(`is ${describe(s)}, expected one of ${[...BEHAVIORS].join(", ")}`);
  return s as SplitBehavior;
}

export function buildPreTokenizer(f: Field, markByteLevel: () => void): PreTokenizer {
  const type = f.type();
  switch (type) {
    case "Split": {
      const p = patternOf(f);
      return splitPreTokenizer(p, behaviorOf(f, "Isolated"), f.get("invert").bool(false), `${f.file}: ${f.path}.pattern`);
    }
    case "ByteLevel":
      markByteLevel();
      return byteLevelPreTokenizer(f.get("add_prefix_space").bool(true), f.get("use_regex").bool(true));
    case "Metaspace": {
      const scheme = f.get("prepend_scheme");
      let prepend: "always" | "first" | "never";
      if (scheme.present) {
        const s = scheme.string();
        if (s !== "always" && s !== "first" && s !== "never") scheme.fail(`is ${describe(s)}, expected "always", "first" or "never"`);
        prepend = s as "always" | "first" | "never";
      } else {
        prepend = f.get("add_prefix_space").bool(true) ? "always" : "never";
      }
      return metaspacePreTokenizer(f.get("replacement").optString("▁"), prepend, f.get("split").bool(true));
    }
    case "Digits":
      return digitsPreTokenizer(f.get("individual_digits").bool(false));
    case "Whitespace":
      return whitespacePreTokenizer;
    case "WhitespaceSplit":
      return whitespaceSplitPreTokenizer;
    case "BertPreTokenizer":
      return bertPreTokenizer;
    case "Punctuation":
      return punctuationPreTokenizer(behaviorOf(f, "Isolated"));
    case "Sequence": {
      const list = f.get("pretokenizers");
      return sequencePreTokenizer(list.array().map((_, i) => buildPreTokenizer(list.at(i), markByteLevel)));
    }
    default:
      return f.get("type").fail(`is ${describe(type)}, not a pre-tokenizer Zhiyu knows (Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation, Sequence)`);
  }
}

export interface DecoderPlan {
  decodeToken: (token: string) => Uint8Array;
  stripLeadingSpace: boolean;
  /** SentencePiece-style (▁ for spaces, byte fallback). */
  spmLike: boolean;
}

/** Turns the decoder chain into a per-token byte mapping plus a "drop one leading space" flag. */
export function buildDecoder(f: Field, tokens: readonly (string | undefined)[], byteLevel: boolean): DecoderPlan {
  const steps: ((t: string) => string)[] = [];
  let byteFallback = false;
  let byteLevelDecode = false;
  let strip = false;
  let spmLike = false;
  let wordPiecePrefix: string | null = null;
  const visit = (d: Field): void => {
    const type = d.type();
    switch (type) {
      case "ByteLevel":
        byteLevelDecode = true;
        break;
      case "ByteFallback":
        byteFallback = true;
        spmLike = true;
        break;
      case "Fuse":
        break;
      case "Replace": {
        const p = patternOf(d);
        const re = "regex" in p ? compileTokenizerRegex(p.regex, `${d.path}.pattern.Regex`) : new RegExp(escapeRegex(p.literal), "gu");
        const content = d.get("content").string();
        steps.push((t) => t.replace(re, () => content));
        if ("literal" in p && p.literal === "▁") spmLike = true;
        break;
      }
      case "Strip": {
        const content = d.get("content").optString(" ");
        const start = d.get("start").present ? d.get("start").int() : 0;
        if (content === " " && start > 0) strip = true;
        break;
      }
      case "Metaspace": {
        const replacement = d.get("replacement").optString("▁");
        steps.push((t) => t.split(replacement).join(" "));
        const scheme = d.get("prepend_scheme");
        strip = scheme.present ? scheme.string() !== "never" : d.get("add_prefix_space").bool(true);
        spmLike = true;
        break;
      }
      case "WordPiece":
        wordPiecePrefix = d.get("prefix").optString("##");
        strip = true;
        break;
      case "BPEDecoder": {
        const suffix = d.get("suffix").optString("</w>");
        steps.push((t) => (t.endsWith(suffix) ? t.slice(0, -suffix.length) + " " : t));
        break;
      }
      case "Sequence": {
        const list = d.get("decoders");
        list.array().forEach((_, i) => visit(list.at(i)));
        break;
      }
      default:
        d.get("type").fail(`is ${describe(type)}, not a decoder Zhiyu knows (ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace, WordPiece, BPEDecoder, Sequence)`);
    }
  };
  if (f.present) visit(f);
  else if (byteLevel) byteLevelDecode = true;
  void tokens;
  const wp = wordPiecePrefix as string | null;
  return {
    stripLeadingSpace: strip,
    spmLike,
    decodeToken: (token) => {
      if (byteFallback) {
        const b = parseByteToken(token);
        if (b >= 0) return Uint8Array.of(b);
      }
      if (wp !== null) token = token.startsWith(wp) ? token.slice(wp.length) : " " + token;
      for (const s of steps) token = s(token);
      return byteLevelDecode ? fromByteLevel(token) : utf8Encode(token);
    },
  };
}

export interface PostPlan {
  prefix: number[];
  suffix: number[];
}

export function buildPostProcessor(f: Field, tokenToId: ReadonlyMap<string, number>): PostPlan {
  if (!f.present) return { prefix: [], suffix: [] };
  const type = f.type();
  const pairId = (p: Field): number => {
    const arr = p.array();
    if (arr.length !== 2) p.fail(`is ${describe(p.value)}, expected ["token", id]`);
    return p.at(1).int();
  };
  switch (type) {
    case "ByteLevel":
      return { prefix: [], suffix: [] };
    case "BertProcessing":
    case "RobertaProcessing":
      return { prefix: [pairId(f.get("cls"))], suffix: [pairId(f.get("sep"))] };
    case "TemplateProcessing": {
      const single = f.get("single");
      const prefix: number[] = [];
      const suffix: number[] = [];
      let seenSequence = false;
      single.array().forEach((_, i) => {
        const item = single.at(i);
        if (item.get("Sequence").present) {
          seenSequence = true;
          return;
        }
        const st = item.get("SpecialToken");
        if (!st.present) item.fail(`is ${describe(item.value)}, expected {"SpecialToken": …} or {"Sequence": …}`);
        const name = st.get("id").string();
        const spec = f.get("special_tokens").get(name);
        let ids: number[];
        if (spec.present) {
          const idsF = spec.get("ids");
          ids = idsF.array().map((_, k) => idsF.at(k).int());
        } else {
          const id = tokenToId.get(name);
          if (id === undefined) return st.get("id").fail(`is ${describe(name)}, which is neither in special_tokens nor in the vocabulary`);
          ids = [id];
        }
        (seenSequence ? suffix : prefix).push(...ids);
      });
      return { prefix, suffix };
    }
    case "Sequence": {
      const list = f.get("processors");
      const out: PostPlan = { prefix: [], suffix: [] };
      list.array().forEach((_, i) => {
        const p = buildPostProcessor(list.at(i), tokenToId);
        out.prefix.push(...p.prefix);
        out.suffix.push(...p.suffix);
      });
      return out;
    }
    default:
      return f.get("type").fail(`is ${describe(type)}, not a post-processor Zhiyu knows (ByteLevel, TemplateProcessing, BertProcessing, RobertaProcessing, Sequence)`);
  }
}
