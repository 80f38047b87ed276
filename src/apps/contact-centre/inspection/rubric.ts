// The quality rubric (质检评分表) of the contact centre: its TypeScript shape, the JSON Schema of the configuration's
// `inspection` section (config-schema.ts mounts it), the cross-checks the schema cannot express (a key that does
// not belong to the item's type, two items that contradict each other, a phrase both required and forbidden, a
// pattern that does not compile) with the key path of the offending item, the default rubric that applies without
// one, and the rubric version (a label plus a hash of the items, so a changed rubric is never mistaken for an old
// one and re-inspection knows what to redo).
// Leaves out: the checks themselves (rules.ts, model-checks.ts) and scoring (engine.ts).
import { createHash } from "node:crypto";

export const RULE_TYPES = ["greeting", "closing", "forbidden_phrases", "policy_promise", "pii_readout", "response_sla", "unanswered_question"] as const;
export const MODEL_TYPES = ["rudeness", "sentiment_trajectory", "resolution", "kb_contradiction"] as const;
export type RuleType = (typeof RULE_TYPES)[number];
export type ModelType = (typeof MODEL_TYPES)[number];
export type ItemType = RuleType | ModelType;
export const PII_KINDS = ["mobile", "id_card", "email", "bank_card"] as const;

/** A known fact of the knowledge base: the price of an entity (ticket, room, product), in the KB's currency. */
export interface KbFact {
  entity: string;
  value: number;
  /** Other names the entity goes by. */
  aliases?: string[];
}

export interface RubricItem {
  /** Unique name of the item; marks carry it. */
  id: string;
  type: ItemType;
  /** Share of the score (the score is 100 × (1 − failed weight / total weight)). */
  weight: number;
  description?: string;
  /** Which speakers' turns are judged (default agent and bot). */
  roles?: ("agent" | "bot")[];
  /** greeting / closing: phrases one of which is required; forbidden_phrases / policy_promise: phrases that are marked. */
  phrases?: { zh?: string[]; en?: string[] };
  /** forbidden_phrases / policy_promise: regular expressions (JavaScript syntax, case-insensitive) that are marked. */
  patterns?: string[];
  /** greeting: within the first N agent/bot turns; closing: within the last N (default 1). */
  within_turns?: number;
  /** pii_readout: which kinds count (default all). */
  kinds?: (typeof PII_KINDS)[number][];
  /** response_sla: longest wait for a reply to a customer turn, in seconds. */
  max_seconds?: number;
  /** rudeness: probability of anger+disgust of an agent sentence at or above which it is marked;
   *  resolution: sentiment of the last customer turn at or below which the issue counts as unresolved (as −threshold). */
  threshold?: number;
  /** sentiment_trajectory: marked when the customer's sentiment falls by at least this much from first to last turn. */
  min_drop?: number;
  /** kb_contradiction: the facts (inline) or a CSV file `entity,value[,aliases separated by |]` relative to the config. */
  facts?: KbFact[] | string;
  /** kb_contradiction: relative difference allowed between a stated and a known value (default 0). */
  tolerance?: number;
}

export interface RubricConfig {
  /** A human label for this rubric (e.g. "2026-12"); the version adds a hash of the items. */
  version?: string;
  items: RubricItem[];
  /** Team of each agent (username → team), for the agent analysis. */
  teams?: Record<string, string[]>;
  /** Hours added to UTC for the day/hour breakdowns (e.g. 8 for Beijing time; default 0). */
  utc_offset_hours?: number;
}

/** The keys each item type may use besides id, type, weight, description and roles. */
const TYPE_KEYS: Record<ItemType, readonly string[]> = {
  greeting: ["phrases", "within_turns"],
  closing: ["phrases", "within_turns"],
  forbidden_phrases: ["phrases", "patterns"],
  policy_promise: ["phrases", "patterns"],
  pii_readout: ["kinds"],
  response_sla: ["max_seconds"],
  unanswered_question: [],
  rudeness: ["threshold"],
  sentiment_trajectory: ["min_drop"],
  resolution: ["threshold"],
  kb_contradiction: ["facts", "tolerance"],
};
const COMMON_KEYS = ["id", "type", "weight", "description", "roles"];
/** Types of which a rubric holds at most one (two would contradict each other). */
const SINGLETONS: readonly ItemType[] = ["greeting", "closing", "pii_readout", "response_sla", "unanswered_question", "rudeness", "sentiment_trajectory", "resolution", "kb_contradiction"];

const strList = { type: "array", items: { type: "string", minLength: 1 } };
const bilingualList = { type: "object", additionalProperties: false, properties: { zh: strList, en: strList } };

/** JSON Schema of the `inspection` section. */
export const RUBRIC_SCHEMA: object = {
  type: "object", additionalProperties: false, required: ["items"],
  properties: {
    version: { type: "string", minLength: 1, maxLength: 64 },
    utc_offset_hours: { type: "number", minimum: -12, maximum: 14 },
    teams: { type: "object", additionalProperties: strList },
    items: {
      type: "array", minItems: 1, maxItems: 100,
      items: {
        type: "object", additionalProperties: false, required: ["id", "type", "weight"],
        properties: {
          id: { type: "string", pattern: "^[a-z][a-z0-9_]{0,39}$" },
          type: { enum: [...RULE_TYPES, ...MODEL_TYPES] },
          weight: { type: "number", minimum: 0, maximum: 1000 },
          description: { type: "string" },
          roles: { type: "array", minItems: 1, items: { enum: ["agent", "bot"] } },
          phrases: bilingualList,
          patterns: strList,
          within_turns: { type: "integer", minimum: 1, maximum: 20 },
          kinds: { type: "array", minItems: 1, items: { enum: [...PII_KINDS] } },
          max_seconds: { type: "number", exclusiveMinimum: 0, maximum: 86400 },
          threshold: { type: "number", minimum: 0, maximum: 1 },
          min_drop: { type: "number", exclusiveMinimum: 0, maximum: 2 },
          facts: {
            oneOf: [{ type: "string", minLength: 1 }, { type: "array", items: {
              type: "object", additionalProperties: false, required: ["entity", "value"],
              properties: { entity: { type: "string", minLength: 1 }, value: { type: "number", minimum: 0 }, aliases: strList },
            } }],
          },
          tolerance: { type: "number", minimum: 0, maximum: 1 },
        },
      },
    },
  },
};

export interface RubricProblem {
  keyPath: string;
  detail: string;
}

function phrasesOf(item: RubricItem): string[] {
  return [...(item.phrases?.zh ?? []), ...(item.phrases?.en ?? [])];
}

/** The problems of a schema-valid rubric, each with the key path under `inspection` (empty when consistent). */
export function checkRubric(r: RubricConfig, at = "inspection"): RubricProblem[] {
  const out: RubricProblem[] = [];
  const ids = new Map<string, number>();
  const firstOfType = new Map<ItemType, number>();
  r.items.forEach((item, i) => {
    const p = `${at}.items[${i}]`;
    if (ids.has(item.id)) out.push({ keyPath: `${p}.id`, detail: `duplicate item id "${item.id}" (also items[${ids.get(item.id)}])` });
    ids.set(item.id, i);
    const allowed = new Set([...COMMON_KEYS, ...TYPE_KEYS[item.type]]);
    for (const key of Object.keys(item)) {
      if (!allowed.has(key)) out.push({ keyPath: `${p}.${key}`, detail: `not used by an item of type "${item.type}" (its keys: ${[...allowed].join(", ")})` });
    }
    if (SINGLETONS.includes(item.type)) {
      if (firstOfType.has(item.type)) {
        out.push({ keyPath: `${p}.type`, detail: `contradicts items[${firstOfType.get(item.type)}]: a rubric has at most one "${item.type}" item (merge them)` });
      } else firstOfType.set(item.type, i);
    }
    if ((item.type === "greeting" || item.type === "closing") && phrasesOf(item).length === 0) {
      out.push({ keyPath: `${p}.phrases`, detail: `missing (a "${item.type}" item needs the phrases one of which is required)` });
    }
    if ((item.type === "forbidden_phrases" || item.type === "policy_promise") && phrasesOf(item).length === 0 && !(item.patterns?.length)) {
      out.push({ keyPath: `${p}.phrases`, detail: `missing (a "${item.type}" item needs phrases or patterns)` });
    }
    (item.patterns ?? []).forEach((pattern, k) => {
      try {
        new RegExp(pattern, "iu");
      } catch (err) {
        out.push({ keyPath: `${p}.patterns[${k}]`, detail: `not a valid regular expression: ${(err as Error).message}` });
      }
    });
    if (item.type === "kb_contradiction" && item.facts === undefined) out.push({ keyPath: `${p}.facts`, detail: "missing (the known prices: a CSV file or a list of {entity, value})" });
  });
  // A phrase that one item requires and another forbids cannot be satisfied.
  const required = new Map<string, string>();
  r.items.forEach((item, i) => {
    if (item.type === "greeting" || item.type === "closing") for (const ph of phrasesOf(item)) required.set(ph.toLowerCase(), `items[${i}] (${item.type})`);
  });
  r.items.forEach((item, i) => {
    if (item.type !== "forbidden_phrases") return;
    for (const lang of ["zh", "en"] as const) {
      (item.phrases?.[lang] ?? []).forEach((ph, k) => {
        const other = required.get(ph.toLowerCase());
        if (other) out.push({ keyPath: `${at}.items[${i}].phrases.${lang}[${k}]`, detail: `"${ph}" is forbidden here but required by ${other}` });
      });
    }
  });
  if (r.items.length > 0 && r.items.every((item) => item.weight === 0)) out.push({ keyPath: `${at}.items`, detail: "every weight is 0 (give at least one item a positive weight)" });
  const seenAgents = new Map<string, string>();
  for (const [team, agents] of Object.entries(r.teams ?? {})) {
    agents.forEach((a, k) => {
      const other = seenAgents.get(a);
      if (other !== undefined && other !== team) out.push({ keyPath: `${at}.teams.${team}[${k}]`, detail: `agent "${a}" is already in team "${other}"` });
      seenAgents.set(a, team);
    });
  }
  return out;
}

/** The rubric applied without a configured one: greeting, closing, forbidden phrases, personal data read out in
 *  full, rudeness, resolution (the list), with phrases for Chinese and English. */
export const DEFAULT_RUBRIC: RubricConfig = {
  version: "default-1",
  items: [
    { id: "greeting", type: "greeting", weight: 15, within_turns: 1, phrases: {
      zh: ["您好", "你好", "欢迎", "很高兴为您服务", "早上好", "下午好", "晚上好"],
      en: ["hello", "hi", "hey", "good morning", "good afternoon", "good evening", "welcome", "thanks for contacting", "thank you for contacting"] } },
    { id: "closing", type: "closing", weight: 10, within_turns: 2, phrases: {
      zh: ["再见", "祝您", "感谢您", "谢谢您", "欢迎再次", "还有其他", "还有什么", "感谢来电", "不客气"],
      en: ["goodbye", "bye", "have a great", "have a nice", "have a good", "have a wonderful", "anything else", "thank you for", "thanks for", "take care", "you're welcome"] } },
    { id: "forbidden", type: "forbidden_phrases", weight: 25, phrases: {
      zh: ["不归我管", "爱买不买", "你自己看着办", "这不是我的问题", "我也没办法", "随便你", "跟我说没用", "你听不懂吗"],
      en: ["not my problem", "not my job", "deal with it", "whatever", "i don't care", "that's your problem", "calm down"] } },
    { id: "pii", type: "pii_readout", weight: 20 },
    { id: "rudeness", type: "rudeness", weight: 20, threshold: 0.8 },
    { id: "resolution", type: "resolution", weight: 10, threshold: 0.3 },
  ],
};

/** Revision of the checks' own logic (rules.ts, model-checks.ts): bump it when a change there can change a verdict,
 *  so results stored under the old logic are redone. 2: the resolution check of session 6 (resolution.zdcm). */
export const CHECKS_REVISION = 2;

/** The rubric's version: its label and a hash of everything that changes a verdict — the checks' revision, the
 *  items and the facts read from a kb_contradiction item's CSV file (so a changed file is a new version) — e.g.
 *  "default-1@3fa2c1d09b7e". */
export function rubricVersion(r: RubricConfig, factsFromFile?: readonly KbFact[]): string {
  const what = `${CHECKS_REVISION}:` + (factsFromFile ? JSON.stringify({ items: r.items, facts: factsFromFile }) : JSON.stringify(r.items));
  const hash = createHash("sha256").update(what).digest("hex").slice(0, 12);
  return `${r.version ?? "rubric"}@${hash}`;
}
