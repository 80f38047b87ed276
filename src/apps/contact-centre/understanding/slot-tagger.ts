// The learned slot tagger of the desk (issue 16 Build item 7, issue 17 Build item 2): a BIO token classifier
// (`zhiyu finetune --task tag`, shipped as models/zhiyu-slots-crosswoz) read back into character spans of the turn,
// and how its CrossWOZ slot types become the configuration's slots. The words it tags are the ones the training set
// was built from (`slotWords`): one word per Han character, per run of other letters and digits, per other
// non-space character — the split BERT's own pre-tokenizer makes, so a word is never cut inside by the tokenizer.
// A sentence's tags are read by `decodeBio` (the most probable sequence in which every I-x continues an x), so a name
// is one span of one type, not "北" + "京欢" + "乐谷" of changing types as per-word argmax reads it.
// The model is loaded on the first turn that needs it, not at start-up. A `gazetteer.json` in the folder
// (slot-gazetteer.ts) answers for the entity types where it beat the model on validation data; the model for the rest.
// Leaves out: value normalisation (a span is the text as written), nested or overlapping spans.
import { existsSync } from "node:fs";
import path from "node:path";
import { loadEncoder, type BertEncoder } from "../../../infer/encoder.js";
import { frameWords, wordTagIds } from "../../../train/objectives/tag.js";
import { GAZETTEER_FILE, SlotGazetteer } from "./slot-gazetteer.js";

export interface SlotWords {
  words: string[];
  /** Character offset (UTF-16) of each word's first character, and one past its last. */
  starts: number[];
  ends: number[];
}

const HAN = /\p{Script=Han}/u;
const WORD = /[\p{Script=Han}]|[\p{L}\p{N}\p{M}]+|[^\s\p{L}\p{N}\p{M}]/gu;

/** The words a turn is tagged as (Han characters one by one, Latin/digit runs whole, punctuation one by one). */
export function slotWords(text: string): SlotWords {
  const out: SlotWords = { words: [], starts: [], ends: [] };
  for (const m of text.matchAll(WORD)) {
    // A run of letters may hold Han characters only if \p{L} caught them: split those out.
    if (m[0].length > 1 && HAN.test(m[0])) {
      let at = m.index;
      for (const piece of m[0].match(/\p{Script=Han}|[^\p{Script=Han}]+/gu) ?? []) {
        out.words.push(piece); out.starts.push(at); out.ends.push(at + piece.length);
        at += piece.length;
      }
      continue;
    }
    out.words.push(m[0]); out.starts.push(m.index); out.ends.push(m.index + m[0].length);
  }
  return out;
}

/** CrossWOZ's (domain, slot) of an Inform act → the span type the tagger learns. Only slots whose value is written
 *  in the user's turn (names, dishes, prices, ratings, durations, hotel types, taxi/metro endpoints); the three
 *  domains' 评分 share one type (the span does not say which domain it rates). */
export const CROSSWOZ_SLOT_TYPES: Readonly<Record<string, string>> = {
  "景点/名称": "attraction", "餐馆/名称": "restaurant", "酒店/名称": "hotel",
  "餐馆/推荐菜": "dish", "景点/游玩时间": "duration", "景点/门票": "ticket_price", "餐馆/人均消费": "price_per_person",
  "酒店/价格": "room_price", "景点/评分": "rating", "餐馆/评分": "rating", "酒店/评分": "rating", "酒店/酒店类型": "hotel_type",
  "出租/出发地": "departure", "地铁/出发地": "departure", "出租/目的地": "destination", "地铁/目的地": "destination",
};

export interface SlotSpan {
  type: string;
  value: string;
  /** Character offsets in the turn's text (end exclusive). */
  start: number;
  end: number;
}

/** Spans of a BIO tag sequence over words (seqeval's reading: a span starts at B-x or at an I-x that does not
 *  continue an x), as character spans of the text. */
export function spansFromTags(text: string, w: SlotWords, tags: readonly string[]): SlotSpan[] {
  const spans: SlotSpan[] = [];
  let type: string | null = null, first = 0;
  const close = (last: number) => {
    if (type !== null) spans.push({ type, start: w.starts[first]!, end: w.ends[last]!, value: text.slice(w.starts[first]!, w.ends[last]!) });
    type = null;
  };
  tags.forEach((t, i) => {
    if (t === "O") { close(i - 1); return; }
    const ty = t.slice(2);
    if (t[0] === "B" || type !== ty) { close(i - 1); type = ty; first = i; }
  });
  close(tags.length - 1);
  return spans;
}

/** A token-classification model folder read as a slot tagger. */
export class SlotTagger {
  private encoder: BertEncoder | null = null;
  private readonly gazetteer: SlotGazetteer | null;

  /** `decode` "argmax": per-word argmax instead of the BIO-constrained reading; `useGazetteer` false: the model
   *  alone even when the folder has a gazetteer.json (both for side-by-side figures). */
  constructor(readonly dir: string, private readonly maxLen = 128, private readonly decode: "bio" | "argmax" = "bio", useGazetteer = true) {
    const file = path.join(dir, GAZETTEER_FILE);
    this.gazetteer = useGazetteer && existsSync(file) ? SlotGazetteer.load(file) : null;
  }

  /** Whether the folder holds a model (config.json); the desk then uses it. */
  static present(dir: string): boolean {
    return existsSync(path.join(dir, "config.json"));
  }

  /** The spans the model finds in a text. */
  tag(text: string): SlotSpan[] {
    return this.tagMany([text])[0]!;
  }

  /** The spans of each text, the texts run as one packed batch. A word is read at its first word piece; words past
   *  the length limit are O. */
  tagMany(texts: readonly string[]): SlotSpan[][] {
    const enc = this.load();
    const cls = enc.tokenizer.tokenToId("[CLS]")!, sep = enc.tokenizer.tokenToId("[SEP]")!;
    const framed = texts.map((text) => {
      const w = slotWords(text);
      const { ids, firstPiece: first } = frameWords(w.words, (word) => enc.tokenizer.encode(word, { addSpecialTokens: false }),
        cls, sep, this.maxLen, "skip", this.dir);
      return { text, w, ids, first };
    });
    const perToken = enc.tagTokens(framed.map((f) => ({ ids: f.ids })));
    const labels = enc.config.labels;
    return framed.map((f, i) => {
      const ids = wordTagIds(f.w.words.length, (k) => (f.first[k]! >= 0 ? perToken[i]![f.first[k]!]!.logits : null),
        -1, this.decode === "bio" ? labels : undefined);
      const tags = ids.map((id) => (id < 0 ? "O" : labels[id]!));
      const spans = spansFromTags(f.text, f.w, tags);
      return this.gazetteer ? this.gazetteer.join(f.text, spans) : spans;
    });
  }

  private load(): BertEncoder {
    if (!this.encoder) {
      const enc = loadEncoder(this.dir, { threads: 1 });
      if (enc.config.head !== "token-classification") {
        enc.dispose();
        throw new Error(`${this.dir}: a ${enc.config.head} model; understanding.slot_model must name a token-classification folder (zhiyu finetune --task tag)`);
      }
      this.encoder = enc;
    }
    return this.encoder;
  }

  dispose(): void {
    this.encoder?.dispose();
    this.encoder = null;
  }
}
