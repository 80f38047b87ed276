// Zhiyu's own shipped encoders (models/zhiyu-encoder*, issue 16 Build item 7) load from models/ and still measure
// what their model cards state, on held-out slices of licensed data the recipe never trained on (gold labels from
// the data sets, not from the code under test): the pretrained encoder's masked-LM top-1 accuracy on the middle
// word piece of banking77 test texts (no test split is in its pretraining text), the clinc150 intent classifier's
// in-scope accuracy and out-of-scope recall on clinc150's test split, the CrossWOZ slot tagger's span F1 on CrossWOZ's
// test split (gold spans from its dialog acts). Each floor is the card's figure on the slice
// less a margin, written in the card. Also: a classifier sharing the encoder's weights (index + symlink) loads
// exactly the encoder's trunk, and models/ stays within its 40 MB budget.
// Leaves out: the full test splits (BENCHMARKS.md and the cards' ship-check.json hold those figures).
import { test } from "node:test";
import assert from "node:assert/strict";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { loadBanking77, loadClinc150 } from "../../src/apps/contact-centre/training/datasets.js";
import { crosswozSlotSet } from "../../src/apps/contact-centre/training/crosswoz-slots.js";
import { SlotTagger, slotWords } from "../../src/apps/contact-centre/understanding/slot-tagger.js";
import { bioSpans } from "../../src/train/objectives/tag.js";
import { loadEncoder } from "../../src/infer/encoder.js";

const MODELS = path.resolve("models");
const DATA = path.resolve("../shared/data");
const every = <T>(xs: readonly T[], k: number) => xs.filter((_, i) => i % k === 0);

/** The floor a card states for the test: a line "test floor: NAME ≥ 0.xx". */
function cardFloor(dir: string, name: string): number {
  const card = readFileSync(path.join(MODELS, dir, "MODEL_CARD.md"), "utf8");
  const m = new RegExp(`test floor: ${name} ≥ ([0-9.]+)`).exec(card);
  assert.ok(m, `${dir}/MODEL_CARD.md states no "test floor: ${name} ≥ …"`);
  return Number(m[1]);
}

function classifyAll(dir: string, rows: readonly { text: string }[]): string[] {
  const enc = loadEncoder(path.join(MODELS, dir), { threads: 2 });
  try {
    const out: string[] = [];
    for (let i = 0; i < rows.length; i += 64) {
      out.push(...enc.classify(rows.slice(i, i + 64).map((r) => ({ ids: enc.tokenize(r.text).ids, text: r.text }))).map((c) => c.label));
    }
    return out;
  } finally {
    enc.dispose();
  }
}

test("models/zhiyu-encoder: masked-LM top-1 on held-out banking77 test texts is at its card's floor", () => {
  const enc = loadEncoder(path.join(MODELS, "zhiyu-encoder"), { threads: 2 });
  try {
    const mask = enc.tokenizer.tokenToId("[MASK]")!;
    const seqs = every(loadBanking77(DATA).test, 8).map((r) => enc.tokenize(r.text).ids).filter((ids) => ids.length >= 3 && ids.length <= 48);
    let right = 0;
    for (let i = 0; i < seqs.length; i += 64) {
      const chunk = seqs.slice(i, i + 64), at = chunk.map((ids) => Math.floor(ids.length / 2));
      enc.mlmLogits(chunk.map((ids, k) => ({ ids: ids.map((t, j) => (j === at[k] ? mask : t)) }))).forEach((z, k) => {
        const v = enc.config.vocabSize, row = z.subarray(at[k]! * v, (at[k]! + 1) * v);
        if (row.indexOf(Math.max(...row)) === chunk[k]![at[k]!]) right++;
      });
    }
    assert.ok(seqs.length > 300, `${seqs.length} texts`);
    assert.ok(right / seqs.length >= cardFloor("zhiyu-encoder", "mlm_top1"), `top-1 ${(right / seqs.length).toFixed(3)}`);
  } finally {
    enc.dispose();
  }
});

test("models/zhiyu-intent-clinc150: in-scope accuracy and out-of-scope recall on a clinc150 test slice are at the card's floors", () => {
  const c = loadClinc150(DATA);
  const inScope = every(c.test, 10), oos = every(c.oosTest, 10);
  const pred = classifyAll("zhiyu-intent-clinc150", [...inScope, ...oos]);
  const acc = inScope.filter((r, i) => pred[i] === r.label).length / inScope.length;
  const recall = oos.filter((_, i) => pred[inScope.length + i] === "oos").length / oos.length;
  assert.ok(acc >= cardFloor("zhiyu-intent-clinc150", "accuracy"), `in-scope accuracy ${acc.toFixed(3)}`);
  assert.ok(recall >= cardFloor("zhiyu-intent-clinc150", "oos_recall"), `out-of-scope recall ${recall.toFixed(3)}`);
});

test("models/zhiyu-slots-crosswoz: span F1 on a CrossWOZ test slice, the model alone and with its gazetteer, at the card's floors", () => {
  // Gold spans: CrossWOZ's own dialog_act values (crosswoz-slots.ts), test split, every 8th tagged user turn.
  const slice = every(crosswozSlotSet(DATA).test, 8);
  const f1Of = (tagger: SlotTagger) => {
    let tp = 0, predicted = 0, gold = 0;
    try {
      for (const x of slice) {
        const w = slotWords(x.text);
        const want = new Set(bioSpans(x.tags).map((sp) => {
          const [type, a, b] = sp.split(":");
          return `${type}:${w.starts[Number(a)]}:${w.ends[Number(b) - 1]}`;
        }));
        const got = tagger.tag(x.text).map((sp) => `${sp.type}:${sp.start}:${sp.end}`);
        gold += want.size; predicted += got.length; tp += got.filter((g) => want.has(g)).length;
      }
    } finally {
      tagger.dispose();
    }
    assert.ok(gold > 300, `${gold} gold spans`);
    const p = tp / predicted, r = tp / gold;
    return { f1: (2 * p * r) / (p + r), p, r };
  };
  const dir = path.join(MODELS, "zhiyu-slots-crosswoz");
  const alone = f1Of(new SlotTagger(dir, 128, "bio", false)), joined = f1Of(new SlotTagger(dir));
  assert.ok(alone.f1 >= cardFloor("zhiyu-slots-crosswoz", "span_f1"), `model alone: span F1 ${alone.f1.toFixed(3)} (precision ${alone.p.toFixed(3)}, recall ${alone.r.toFixed(3)})`);
  assert.ok(joined.f1 >= cardFloor("zhiyu-slots-crosswoz", "span_f1_with_gazetteer"), `with gazetteer.json: span F1 ${joined.f1.toFixed(3)} (precision ${joined.p.toFixed(3)}, recall ${joined.r.toFixed(3)})`);
});

test("a shipped classifier's trunk is the shipped encoder's (shared weights), and models/ is within 40 MB", () => {
  const enc = loadEncoder(path.join(MODELS, "zhiyu-encoder")), cls = loadEncoder(path.join(MODELS, "zhiyu-intent-clinc150"));
  try {
    const ids = enc.tokenize("I want to move money to my savings account").ids;
    const [a] = enc.hidden([{ ids }]), [b] = cls.hidden([{ ids }]);
    assert.deepEqual(b, a);
  } finally {
    enc.dispose();
    cls.dispose();
  }
  let bytes = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name), st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) bytes += st.size;
    }
  };
  walk(MODELS);
  assert.ok(bytes <= 40e6, `models/ holds ${(bytes / 1e6).toFixed(1)} MB`);
});
