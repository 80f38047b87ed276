// The slot gazetteer beside the learned slot tagger (slot-tagger.ts): a list of (value, type) entries matched
// longest-first from each word start, left to right, on word boundaries (slotWords), and the rule that joins its
// spans to the model's — the gazetteer answers only for `types` (the entity types where it beat the model on
// validation: names from a database, dishes), the model for the rest, and one source wins where spans overlap.
// On disk: `gazetteer.json` in the tagger's folder (format `zhiyu-slot-gazetteer` v1), written by
// dev/bert/slots-compare.ts `hybrid --write`, which also chooses the types and the overlap rule on validation data.
// Leaves out: fuzzy or partial matches, value normalisation (a span is the text as written).
import { existsSync, readFileSync } from "node:fs";
import { slotWords, type SlotSpan } from "./slot-tagger.js";

export const GAZETTEER_FILE = "gazetteer.json";
const FORMAT = "zhiyu-slot-gazetteer";

export interface GazetteerDoc {
  format: typeof FORMAT;
  version: 1;
  /** The types the gazetteer answers for; the model answers for every other. */
  types: string[];
  /** Where a model span and a gazetteer span overlap, the model's stays (else the gazetteer's). */
  model_wins_overlaps: boolean;
  /** [value, type]: every entry is matched (a longer entry of a model type still blocks a shorter one there). */
  entries: [string, string][];
}

export class SlotGazetteer {
  private readonly entries: { value: string; type: string }[];
  readonly types: ReadonlySet<string>;

  constructor(readonly doc: GazetteerDoc) {
    this.entries = doc.entries.map(([value, type]) => ({ value, type })).filter((e) => e.value.length > 0)
      .sort((p, q) => q.value.length - p.value.length);
    this.types = new Set(doc.types);
  }

  static load(file: string): SlotGazetteer {
    const fail = (detail: string): never => {
      throw new Error(`[slot gazetteer] ${file}: ${detail} (write it again with \`node --import tsx dev/bert/slots-compare.ts hybrid --model DIR --write FILE\`, or delete it to use the model alone)`);
    };
    if (!existsSync(file)) fail("not found");
    let doc: GazetteerDoc;
    try {
      doc = JSON.parse(readFileSync(file, "utf8")) as GazetteerDoc;
    } catch {
      return fail("not valid JSON");
    }
    if (doc.format !== FORMAT || doc.version !== 1) fail(`unsupported format ${String(doc.format)} v${String(doc.version)} (expected ${FORMAT} v1)`);
    if (!Array.isArray(doc.types) || !doc.types.every((t) => typeof t === "string")) fail("field types must be a list of strings");
    if (typeof doc.model_wins_overlaps !== "boolean") fail("field model_wins_overlaps must be true or false");
    if (!Array.isArray(doc.entries)) fail("field entries must be a list of [value, type]");
    doc.entries.forEach((e, i) => {
      if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== "string" || typeof e[1] !== "string") fail(`entries[${i}] must be [value, type] strings`);
    });
    return new SlotGazetteer(doc);
  }

  /** Every match (all types), longest first from each word start, on word boundaries, left to right. */
  match(text: string): SlotSpan[] {
    const w = slotWords(text), endAt = new Map(w.ends.map((e, i) => [e, i]));
    const spans: SlotSpan[] = [];
    for (let i = 0; i < w.words.length; i++) {
      const at = w.starts[i]!;
      const hit = this.entries.find((e) => text.startsWith(e.value, at) && endAt.has(at + e.value.length));
      if (!hit) continue;
      spans.push({ type: hit.type, value: hit.value, start: at, end: at + hit.value.length });
      i = endAt.get(at + hit.value.length)!;
    }
    return spans;
  }

  /** The model's spans of the other types and the gazetteer's of `types`, the overlap rule's winner first; sorted. */
  join(text: string, model: readonly SlotSpan[]): SlotSpan[] {
    const fromModel = model.filter((s) => !this.types.has(s.type));
    const fromGazetteer = this.match(text).filter((s) => this.types.has(s.type));
    const [first, second] = this.doc.model_wins_overlaps ? [fromModel, fromGazetteer] : [fromGazetteer, fromModel];
    const out = [...first];
    for (const s of second) if (!out.some((o) => s.start < o.end && o.start < s.end)) out.push(s);
    return out.sort((p, q) => p.start - q.start);
  }
}
