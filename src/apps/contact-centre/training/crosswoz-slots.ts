// The CrossWOZ slot-tagging set (Apache-2.0, Zhu et al. 2020): user turns as words with BIO tags, built from each
// turn's dialog_act [intent, domain, slot, value]. Only val.json.zip and test.json.zip are here: the val dialogues
// are split by dialogue (a seeded 15% for validation) into train/validation, test.json.zip is the test set.
// Alignment rule (character spans): an Inform act of a kept (domain, slot) (understanding/slot-tagger.ts,
// CROSSWOZ_SLOT_TYPES) is a span where its value occurs in the turn exactly once and starts and ends on word
// boundaries (slotWords). Skipped and counted: a value absent from the text (paraphrased: "不要钱" for 免费), one
// that occurs twice or more (ambiguous), one whose occurrence cuts a word, and two acts whose spans overlap with
// different types (the same span and type twice — a 评分 shared by two domains — is one span). A turn with an
// ambiguous, cut or conflicting act is dropped whole (its value would otherwise be trained as O); a turn whose
// only problem is an absent value is kept. Hotel facilities (value 是/否), Select 源领域 and Request/General acts
// carry no span of the text and are not tagged.
// Leaves out: system turns, spans for Request acts, values normalised across surface forms.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Rng } from "../../../core/rng.js";
import { readSingleEntryZip } from "../../../io/zip.js";
import { CROSSWOZ_SLOT_TYPES, slotWords } from "../understanding/slot-tagger.js";

export interface SlotSentence {
  text: string;
  tokens: string[];
  tags: string[];
  dialogue: string;
}

export interface SlotSetCounts {
  userTurns: number;
  kept: number;
  droppedTurns: number;
  spans: Record<string, number>;
  skipped: { absent: number; ambiguous: number; cutsWord: number; overlap: number };
}

type Dialogues = Record<string, { messages: { role: string; content: string; dialog_act: [string, string, string, string][] }[] }>;

/** CrossWOZ's dialogues of one zip (val.json.zip or test.json.zip). */
export function readCrosswoz(dataRoot: string, file: "val.json.zip" | "test.json.zip"): Dialogues {
  const p = path.join(dataRoot, "crosswoz", file);
  if (!existsSync(p)) throw new Error(`[crosswoz-slots] ${p} not found: the data live in ../shared/data/crosswoz (see its README.md)`);
  return JSON.parse(readSingleEntryZip(readFileSync(p), p).toString("utf8")) as Dialogues;
}

/** The tagged user turns of some dialogues, in file order, and what was kept and skipped. */
export function slotSentences(dialogues: Dialogues): { sentences: SlotSentence[]; counts: SlotSetCounts } {
  const counts: SlotSetCounts = { userTurns: 0, kept: 0, droppedTurns: 0, spans: {}, skipped: { absent: 0, ambiguous: 0, cutsWord: 0, overlap: 0 } };
  const sentences: SlotSentence[] = [];
  for (const [dialogue, d] of Object.entries(dialogues)) {
    for (const m of d.messages) {
      if (m.role !== "usr") continue;
      counts.userTurns++;
      const text = m.content, w = slotWords(text);
      const wordAt = new Map(w.starts.map((s, i) => [s, i])), wordEnd = new Map(w.ends.map((e, i) => [e, i]));
      const spans: { type: string; first: number; last: number }[] = [];
      let drop = false;
      for (const [intent, domain, slot, value] of m.dialog_act) {
        const type = CROSSWOZ_SLOT_TYPES[`${domain}/${slot}`];
        if (intent !== "Inform" || type === undefined || !value) continue;
        const at = text.indexOf(value);
        if (at < 0) { counts.skipped.absent++; continue; }
        if (text.indexOf(value, at + 1) >= 0) { counts.skipped.ambiguous++; drop = true; continue; }
        const first = wordAt.get(at), last = wordEnd.get(at + value.length);
        if (first === undefined || last === undefined) { counts.skipped.cutsWord++; drop = true; continue; }
        if (spans.some((s) => s.first === first && s.last === last && s.type === type)) continue;
        if (spans.some((s) => s.first <= last && first <= s.last)) { counts.skipped.overlap++; drop = true; continue; }
        spans.push({ type, first, last });
      }
      if (drop) { counts.droppedTurns++; continue; }
      const tags = w.words.map(() => "O");
      for (const s of spans) {
        for (let i = s.first; i <= s.last; i++) tags[i] = `${i === s.first ? "B" : "I"}-${s.type}`;
        counts.spans[s.type] = (counts.spans[s.type] ?? 0) + 1;
      }
      if (w.words.length === 0) continue;
      counts.kept++;
      sentences.push({ text, tokens: w.words, tags, dialogue });
    }
  }
  return { sentences, counts };
}

/** The set as the recipe uses it: train / validation from val.json.zip (a seeded 15% of dialogues for validation),
 *  test from test.json.zip. */
export function crosswozSlotSet(dataRoot: string, seed = 16): {
  train: SlotSentence[]; val: SlotSentence[]; test: SlotSentence[]; counts: { val: SlotSetCounts; test: SlotSetCounts };
} {
  const v = slotSentences(readCrosswoz(dataRoot, "val.json.zip")), t = slotSentences(readCrosswoz(dataRoot, "test.json.zip"));
  const rng = new Rng(seed);
  const held = new Set<string>();
  for (const id of [...new Set(v.sentences.map((s) => s.dialogue))].sort()) if (rng.nextFloat() < 0.15) held.add(id);
  return {
    train: v.sentences.filter((s) => !held.has(s.dialogue)), val: v.sentences.filter((s) => held.has(s.dialogue)), test: t.sentences,
    counts: { val: v.counts, test: t.counts },
  };
}
