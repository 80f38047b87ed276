// The inspector: applies a rubric to a transcript and returns the report line — the score 0–100, the rubric
// version, and the marks on exact spans sorted by turn and position. Score = 100 × (1 − Σ weight of the items with
// at least one mark / Σ weight of the items judged), rounded to one decimal. Without an emotion scorer (rules-only)
// the items that need the classifier (rudeness, sentiment trajectory, resolution) are not judged and the version
// says so ("…+rules"), so a rules-only score is never taken for a full one. KB contradiction is a fact lookup and
// runs in both modes.
// Leaves out: reading files (batch.ts), storing results (store-inspections.ts).
import { createHash } from "node:crypto";
import { FactIndex, loadFacts, modelMarks, type EmotionScorer } from "./model-checks.js";
import { MODEL_TYPES, rubricVersion, type ItemType, type RubricConfig } from "./rubric.js";
import { ruleMarks, type Mark } from "./rules.js";
import { transcriptLanguage, type Transcript } from "./transcript.js";

export type { Mark } from "./rules.js";

export interface InspectionReport {
  id: string;
  score: number;
  rubric_version: string;
  marks: Mark[];
  /** Hash of the transcript, so re-inspection redoes a conversation whose turns changed. */
  transcript_hash: string;
}

const NEEDS_CLASSIFIER: ReadonlySet<ItemType> = new Set<ItemType>(["rudeness", "sentiment_trajectory", "resolution"]);

/** A transcript's content hash (turns and their times). */
export function transcriptHash(t: Transcript): string {
  return createHash("sha256").update(JSON.stringify([t.id, t.turns.map((x) => [x.role, x.text, x.ts ?? null])])).digest("hex").slice(0, 16);
}

export class Inspector {
  readonly version: string;
  private readonly facts: FactIndex | null;

  /** `scorer` null = rules only; `baseDir` resolves a facts file named in the rubric. */
  constructor(readonly rubric: RubricConfig, private readonly scorer: EmotionScorer | null, baseDir = ".") {
    const kb = rubric.items.find((i) => i.type === "kb_contradiction");
    const facts = kb ? loadFacts(kb.facts, baseDir) : null;
    this.facts = facts ? new FactIndex(facts) : null;
    const full = rubricVersion(rubric, kb && typeof kb.facts === "string" ? facts! : undefined);
    // The models' fingerprint too: retrained classifiers make the stored verdicts stale like a changed rubric.
    this.version = !scorer ? `${full}+rules` : scorer.fingerprint ? `${full}+m${scorer.fingerprint}` : full;
  }

  /** Whether this inspector judges the item (model items need the scorer). */
  judges(type: ItemType): boolean {
    return this.scorer !== null || !NEEDS_CLASSIFIER.has(type);
  }

  inspect(t: Transcript): InspectionReport {
    const lang = transcriptLanguage(t);
    const marks: Mark[] = [];
    let total = 0;
    let failed = 0;
    for (const item of this.rubric.items) {
      if (!this.judges(item.type)) continue;
      const found = (MODEL_TYPES as readonly string[]).includes(item.type)
        ? modelMarks(item, t, lang, this.scorer!, this.facts)
        : ruleMarks(item, t, lang);
      total += item.weight;
      if (found.length > 0) failed += item.weight;
      marks.push(...found);
    }
    marks.sort((a, b) => a.turn - b.turn || a.start - b.start || a.end - b.end);
    const score = total > 0 ? Math.round(1000 * (1 - failed / total)) / 10 : 100;
    return { id: t.id, score, rubric_version: this.version, marks, transcript_hash: transcriptHash(t) };
  }
}
