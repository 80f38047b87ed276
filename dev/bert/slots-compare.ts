// The CrossWOZ slot-tagging set and its side-by-side (issue 16 Build item 7, issue 17 Build item 2).
// `prepare`: writes train/val/test JSONL ({"tokens","tags"}, what `zhiyu finetune --task tag` reads) from
// ../shared/data/crosswoz (training/crosswoz-slots.ts: the alignment rule, the seeded split) and prints the counts.
// `compare`: in one run, on the test split, span precision / recall / F1 (seqeval's reading, micro; and per type) of
// the baseline a practitioner tries first — longest match over a gazetteer: CrossWOZ's database names (attraction,
// restaurant, hotel) and dishes, plus every span value of the training split with its most frequent type there —
// and of each --model (a `finetune --task tag` folder, read through the desk's SlotTagger).
// `hybrid --model DIR`: the gazetteer for the entity types where it wins and the model for the rest, each type's
// source chosen by its F1 on the validation split (and which source wins an overlap, also on val), then scored on
// test beside the two alone.
// usage: node --import tsx dev/bert/slots-compare.ts prepare --out DIR [--seed 16]
//        node --import tsx dev/bert/slots-compare.ts compare [--model DIR]… [--split test|val] [--decode bio|argmax] [--json FILE]
//        node --import tsx dev/bert/slots-compare.ts hybrid --model DIR [--json FILE] [--write DIR/gazetteer.json]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { crosswozSlotSet, type SlotSentence } from "../../src/apps/contact-centre/training/crosswoz-slots.js";
import { SlotGazetteer, type GazetteerDoc } from "../../src/apps/contact-centre/understanding/slot-gazetteer.js";
import { SlotTagger, slotWords, type SlotSpan } from "../../src/apps/contact-centre/understanding/slot-tagger.js";
import { bioSpans } from "../../src/train/objectives/tag.js";

const s = { type: "string" } as const;
const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: s, seed: s, model: { type: "string", multiple: true }, split: s, json: s, data: s, decode: s, write: s } });
const data = path.resolve(values.data ?? "../shared/data");
const set = crosswozSlotSet(data, Number(values.seed ?? 16));

if (positionals[0] === "prepare") {
  const out = values.out ?? "runs/slots/data";
  mkdirSync(out, { recursive: true });
  for (const split of ["train", "val", "test"] as const) {
    writeFileSync(path.join(out, `${split}.jsonl`), set[split].map((x) => JSON.stringify({ tokens: x.tokens, tags: x.tags })).join("\n") + "\n");
  }
  const spanCount = (xs: SlotSentence[]) => xs.reduce((n, x) => n + x.tags.filter((t) => t.startsWith("B-")).length, 0);
  console.log(JSON.stringify({ sentences: { train: set.train.length, val: set.val.length, test: set.test.length },
    spans: { train: spanCount(set.train), val: spanCount(set.val), test: spanCount(set.test) }, counts: set.counts }, null, 1));
} else if (positionals[0] === "compare") {
  const split = values.split === "val" ? set.val : set.test;
  const gold = split.map((x) => x.tags);
  const all = new SlotGazetteer({ format: "zhiyu-slot-gazetteer", version: 1, types: [], model_wins_overlaps: true, entries: gazetteerEntries(set.train) });
  const rows: Record<string, unknown>[] = [{ side: "gazetteer longest match (db names + dishes, training values)", ...scores(gold, split.map((x) => tagsOfSpans(x.text, all.match(x.text)))) }];
  for (const dir of values.model ?? []) {
    const decode = values.decode === "argmax" ? "argmax" : "bio";
    const tagger = new SlotTagger(dir, 128, decode); // with the folder's gazetteer.json when it has one
    const pred: string[][] = [];
    for (let i = 0; i < split.length; i += 64) {
      const chunk = split.slice(i, i + 64);
      tagger.tagMany(chunk.map((x) => x.text)).forEach((spans, k) => pred.push(tagsOfSpans(chunk[k]!.text, spans)));
    }
    tagger.dispose();
    rows.push({ side: dir, decode, ...scores(gold, pred) });
  }
  for (const r of rows) console.log(JSON.stringify(r));
  if (values.json) writeFileSync(values.json, JSON.stringify({ split: values.split ?? "test", sentences: split.length, rows }, null, 1) + "\n");
} else if (positionals[0] === "hybrid") {
  const dir = values.model?.[0];
  if (!dir) throw new Error("hybrid needs --model DIR");
  const entries = gazetteerEntries(set.train);
  const all = new SlotGazetteer({ format: "zhiyu-slot-gazetteer", version: 1, types: [], model_wins_overlaps: true, entries });
  const tagger = new SlotTagger(dir, 128, "bio", false);
  const modelSpans = (xs: readonly SlotSentence[]) => {
    const out: SlotSpan[][] = [];
    for (let i = 0; i < xs.length; i += 64) out.push(...tagger.tagMany(xs.slice(i, i + 64).map((x) => x.text)));
    return out;
  };
  const sides = (xs: readonly SlotSentence[]) => ({ xs, gold: xs.map((x) => x.tags), gaz: xs.map((x) => tagsOfSpans(x.text, all.match(x.text))), model: modelSpans(xs) });
  const val = sides(set.val), test = sides(set.test);
  tagger.dispose();
  const vg = scores(val.gold, val.gaz).per_type as Record<string, number>;
  const vm = scores(val.gold, val.model.map((sp, i) => tagsOfSpans(val.xs[i]!.text, sp))).per_type as Record<string, number>;
  const types = [...new Set([...Object.keys(vg), ...Object.keys(vm)])].sort().filter((t) => (vg[t] ?? 0) > (vm[t] ?? 0));
  const docOf = (modelWins: boolean): GazetteerDoc => ({ format: "zhiyu-slot-gazetteer", version: 1, types, model_wins_overlaps: modelWins, entries });
  const hybrid = (s: ReturnType<typeof sides>, doc: GazetteerDoc) => {
    const g = new SlotGazetteer(doc);
    return s.xs.map((x, i) => tagsOfSpans(x.text, g.join(x.text, s.model[i]!)));
  };
  const valF1 = { model_wins: scores(val.gold, hybrid(val, docOf(true))).f1, gazetteer_wins: scores(val.gold, hybrid(val, docOf(false))).f1 };
  const doc = docOf(valF1.model_wins >= valF1.gazetteer_wins);
  const rows = [
    { side: "gazetteer longest match (db names + dishes, training values)", ...scores(test.gold, test.gaz) },
    { side: `${dir} (model alone)`, ...scores(test.gold, test.model.map((sp, i) => tagsOfSpans(test.xs[i]!.text, sp))) },
    { side: `hybrid: gazetteer for ${types.join(", ")}; the model for the rest (chosen on val); ${doc.model_wins_overlaps ? "model" : "gazetteer"} wins overlaps`,
      ...scores(test.gold, hybrid(test, doc)), val_f1: valF1 },
  ];
  for (const r of rows) console.log(JSON.stringify(r));
  if (values.json) writeFileSync(values.json, JSON.stringify({ split: "test", sentences: set.test.length, val_per_type: { gazetteer: vg, model: vm }, rows }, null, 1) + "\n");
  if (values.write) writeFileSync(values.write, JSON.stringify(doc) + "\n");
} else {
  throw new Error("usage: slots-compare.ts prepare --out DIR | compare [--model DIR]… [--split test|val] [--json FILE]");
}

/** BIO tags over the text's words for character spans (a span not on word boundaries is dropped). */
function tagsOfSpans(text: string, spans: readonly { type: string; start: number; end: number }[]): string[] {
  const w = slotWords(text), tags = w.words.map(() => "O");
  for (const sp of spans) {
    const first = w.starts.indexOf(sp.start), last = w.ends.indexOf(sp.end);
    if (first < 0 || last < first) continue;
    for (let i = first; i <= last; i++) tags[i] = `${i === first ? "B" : "I"}-${sp.type}`;
  }
  return tags;
}

/** The baseline's entries: CrossWOZ's database names and dishes, and every span value of the training split, each
 *  with its most voted type (a database entry counts half a training occurrence, so a name the users use as a taxi
 *  endpoint keeps that type); matched by SlotGazetteer (longest first from each word start, on word boundaries). */
function gazetteerEntries(train: readonly SlotSentence[]): [string, string][] {
  const votes = new Map<string, Map<string, number>>();
  const vote = (value: string, type: string, n = 1) => {
    const m = votes.get(value) ?? new Map<string, number>();
    m.set(type, (m.get(type) ?? 0) + n);
    votes.set(value, m);
  };
  const db = (file: string) => JSON.parse(readFileSync(path.join(data, "crosswoz", "database", file), "utf8")) as [string, Record<string, unknown>][];
  for (const [name] of db("attraction_db.json")) vote(name, "attraction", 0.5);
  for (const [name] of db("hotel_db.json")) vote(name, "hotel", 0.5);
  for (const [name, entry] of db("restaurant_db.json")) {
    vote(name, "restaurant", 0.5);
    for (const dish of (entry["推荐菜"] as string[] | undefined) ?? []) vote(dish, "dish", 0.5);
  }
  for (const x of train) {
    for (const sp of bioSpans(x.tags)) {
      const [type, a, b] = sp.split(":");
      const w = slotWords(x.text);
      vote(x.text.slice(w.starts[Number(a)]!, w.ends[Number(b) - 1]!), type!);
    }
  }
  return [...votes].map(([value, m]) => [value, [...m].sort((p, q) => q[1] - p[1])[0]![0]] as [string, string]).filter(([v]) => v.length > 0);
}

/** Micro span precision / recall / F1 over all types, and F1 per type. */
function scores(gold: readonly string[][], pred: readonly string[][]) {
  const per = new Map<string, { tp: number; np: number; ng: number }>();
  const get = (t: string) => per.get(t) ?? (per.set(t, { tp: 0, np: 0, ng: 0 }), per.get(t)!);
  gold.forEach((g, i) => {
    const gs = new Set(bioSpans(g)), ps = bioSpans(pred[i]!);
    for (const sp of gs) get(sp.split(":")[0]!).ng++;
    for (const sp of ps) { const c = get(sp.split(":")[0]!); c.np++; if (gs.has(sp)) c.tp++; }
  });
  const prf = (c: { tp: number; np: number; ng: number }) => {
    const p = c.np ? c.tp / c.np : 0, r = c.ng ? c.tp / c.ng : 0;
    return { precision: round(p), recall: round(r), f1: round(p + r > 0 ? (2 * p * r) / (p + r) : 0), gold: c.ng };
  };
  const all = [...per.values()].reduce((a, c) => ({ tp: a.tp + c.tp, np: a.np + c.np, ng: a.ng + c.ng }), { tp: 0, np: 0, ng: 0 });
  return { ...prf(all), per_type: Object.fromEntries([...per].sort().map(([t, c]) => [t, prf(c).f1])) };
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
