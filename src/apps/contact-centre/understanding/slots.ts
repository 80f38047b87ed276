// Slot filling from the configuration: value slots match their canonical value or a synonym (longest match first,
// case- and width-insensitive, whole words for Latin script), pattern slots take the regular expression's first
// group. Also detects the references that make a turn a follow-up ("它", "那里", "it", "there") and guesses the
// turn's language.
// Leaves out: learned slot tagging (issue 16's token classifier), value normalisation beyond synonyms (dates stay
// as written).
import type { Language, SlotConfig } from "../config-schema.js";
import { normaliseText } from "./features.js";

interface Matcher {
  slot: string;
  phrase: string;
  value: string;
}

export class SlotExtractor {
  private readonly matchers: Matcher[];
  private readonly patterns: { slot: string; re: RegExp }[];

  constructor(slots: readonly SlotConfig[]) {
    this.matchers = [];
    this.patterns = [];
    for (const s of slots) {
      for (const [value, synonyms] of Object.entries(s.values ?? {})) {
        for (const phrase of [value, ...synonyms]) this.matchers.push({ slot: s.name, phrase: normaliseText(phrase), value });
      }
      if (s.pattern !== undefined) this.patterns.push({ slot: s.name, re: new RegExp(s.pattern, "iu") });
    }
    this.matchers.sort((a, b) => b.phrase.length - a.phrase.length);
  }

  /** Slot values stated in the text (first match per slot, longest phrase wins). */
  extract(text: string): Record<string, string> {
    return this.match(text).found;
  }

  /** Whether the turn names only entities ("那颐和园呢?", "and the summer palace?"): without the slot phrases and
   *  filler words, at most two letters are left. */
  isEntityOnly(text: string): boolean {
    const { found, rest } = this.match(text);
    if (Object.keys(found).length === 0) return false;
    const left = rest.replace(FILLER, " ").replace(/[^\p{L}\p{N}]/gu, "");
    return left.length <= 2;
  }

  private match(text: string): { found: Record<string, string>; rest: string } {
    const found: Record<string, string> = {};
    let norm = normaliseText(text);
    for (const m of this.matchers) {
      if (found[m.slot] !== undefined) continue;
      const at = norm.indexOf(m.phrase);
      if (at < 0) continue;
      const latin = /^[a-z0-9]/.test(m.phrase);
      if (latin) {
        const before = norm[at - 1];
        const after = norm[at + m.phrase.length];
        if ((before && /[a-z0-9]/.test(before)) || (after && /[a-z0-9]/.test(after))) continue;
      }
      found[m.slot] = m.value;
      // Blank the match so a shorter synonym inside it cannot fill another slot.
      norm = norm.slice(0, at) + " ".repeat(m.phrase.length) + norm.slice(at + m.phrase.length);
    }
    for (const { slot, re } of this.patterns) {
      if (found[slot] !== undefined) continue;
      const m = re.exec(text.normalize("NFKC"));
      if (m) {
        found[slot] = (m[1] ?? m[0]).trim();
        norm = norm.replace(normaliseText(m[0]), " ");
      }
    }
    return { found, rest: norm };
  }
}

const FILLER = /(那么|那|还有|另外|的|呢|吗|啊|呀|怎么样|如何|what about|how about|and|the|about|what|how)/gu;
const FOLLOW_UP_ZH = /(它|那里|那儿|这里|这儿|那个地方|这个地方|那家|这家|该景点|那边|它们)/u;
const FOLLOW_UP_EN = /\b(it|its|there|that place|this place|they|them|that one)\b/i;
const LEADING_ZH = /^(那|那么|还有|另外|再问一下)/u;
const LEADING_EN = /^(and|what about|how about|also)\b/i;

/** Whether the turn refers back to something said earlier (a pronoun, or a leading "那…"/"and …"). */
export function isFollowUp(text: string): boolean {
  const t = normaliseText(text);
  return FOLLOW_UP_ZH.test(t) || FOLLOW_UP_EN.test(t) || LEADING_ZH.test(t) || LEADING_EN.test(t);
}

/** Slot values as the knowledge base should see them in a conversation's language: a carried-over canonical
 *  value written in Han ("故宫") becomes its first Latin synonym ("forbidden city") in an English conversation,
 *  and a Latin value its first Han synonym in a Chinese one (one form: several would outweigh the question), so a follow-up is searched in the language
 *  the customer reads. A value with no synonym in that script stays as it is. */
export function slotValuesForSearch(slots: Record<string, string>, config: readonly SlotConfig[], language: Language): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(slots)) {
    const synonyms = config.find((s) => s.name === name)?.values?.[value] ?? [];
    const inScript = (t: string) => (language === "zh" ? /\p{Script=Han}/u.test(t) : !/\p{Script=Han}/u.test(t) && /[A-Za-z]/.test(t));
    out[name] = inScript(value) ? value : synonyms.find(inScript) ?? value;
  }
  return out;
}

/** The entities a turn itself names (not carried over) in the given slots, each as its spellings: the value and its
 *  configured synonyms. A configured slot counts only when the turn's intent uses it (`intentSlots`; null = unknown
 *  intent): "a hotel near the Forbidden City" is about hotels. A slot only the tagger fills always counts. Values
 *  shorter than two characters are left out (a tagger's stray "天" names nothing). */
export function namedEntities(slots: Record<string, string>, carried: readonly string[], entitySlots: readonly string[],
  config: readonly SlotConfig[], intentSlots: readonly string[] | null): string[][] {
  const out: string[][] = [];
  for (const name of entitySlots) {
    const value = slots[name]?.trim();
    if (!value || [...value].length < 2 || carried.includes(name)) continue;
    if (intentSlots && config.some((s) => s.name === name) && !intentSlots.includes(name)) continue;
    out.push([value, ...(config.find((s) => s.name === name)?.values?.[value] ?? [])]);
  }
  return out;
}

/** "zh" when the text has Han characters, "en" when it has Latin letters and no Han, else the fallback. */
export function detectLanguage(text: string, fallback: Language): Language {
  if (/\p{Script=Han}/u.test(text)) return "zh";
  if (/[A-Za-z]/.test(text)) return "en";
  return fallback;
}
