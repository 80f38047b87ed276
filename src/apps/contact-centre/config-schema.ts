// The contact-centre configuration's shape: TypeScript types and the JSON Schema (draft-07, checked by ajv) that a
// YAML/JSON configuration file must match. Every object is closed (additionalProperties: false), so a misspelt key
// is rejected with its path; cross-references (a rule naming an intent, an intent naming a slot) are checked in
// config.ts after the schema passes. To add a section (storage, users, roles, webhooks, rubric, ...), add its type
// to ContactCentreConfig, its schema to SECTION_SCHEMAS and, if it holds paths, its resolution in config.ts.
// Leaves out: defaults (config.ts fills them) and cross-field checks (config.ts).
import { RUBRIC_SCHEMA, type RubricConfig } from "./inspection/rubric.js";

/** The seven emotion classes of CLUE Emotion 2020, plus "neutral" for a turn with no evident emotion. */
export const EMOTIONS = ["like", "happiness", "sadness", "anger", "disgust", "fear", "surprise"] as const;
export type Emotion = (typeof EMOTIONS)[number] | "neutral";

export type Language = "zh" | "en";
/** Text per language; "zh" is the default reply language. */
export interface Bilingual<T> {
  zh?: T;
  en?: T;
}

export interface KnowledgeBaseConfig {
  /** Folders of .md/.txt/.html/.pdf/.docx documents and .csv/.jsonl FAQ files (relative to the config file). */
  folders: string[];
  /** Domain words jieba must keep whole (product names, 转人工). */
  user_words: string[];
  /** Largest file imported, in bytes; a larger one is reported and skipped. */
  max_file_bytes: number;
  /** Longest passage in characters (paragraphs are cut at sentence ends). */
  chunk_chars: number;
  /** Below this hybrid score (0..1) the KB says it does not know and offers a human. */
  confidence_threshold: number;
  /** Weight of the dense (embedding) score in the hybrid ranking; 0 = BM25 only. */
  dense_weight: number;
  /** Passages returned per query. */
  top_k: number;
  /** Slots that name the thing a question is about (places, products). A name of at least two characters that the
   *  customer writes in the turn must appear in the passage that answers (as its value or a synonym); a passage about
   *  another entity that merely shares the question's words is not an answer. Carried-over values do not count. */
  entity_slots: string[];
}

export interface SlotConfig {
  name: string;
  /** Canonical value → synonyms (zh and en); the canonical value is what the slot holds. */
  values?: Record<string, string[]>;
  /** A regular expression (JavaScript syntax) whose first group (or whole match) is the value. */
  pattern?: string;
  /** Whether a later turn that omits the entity inherits this slot from the dialogue state. */
  carry_over: boolean;
}

export interface IntentConfig {
  name: string;
  description?: string;
  /** Training examples; both languages recommended. */
  examples: Bilingual<string[]>;
  /** Slots this intent uses (names from `slots`). */
  slots: string[];
  /** Templates; `{slot}` is replaced with the slot's value. Absent → answered from the knowledge base. */
  responses?: Bilingual<string[]>;
  /** Answer from the knowledge base (FAQ and documents), with citations. */
  kb: boolean;
  /** Buying or consulting intent: the assistant offers to take contact details (留资). */
  lead: boolean;
  /** Words a knowledge-base passage must contain to answer this intent (a hotel booking is not answered with the
   *  ticket FAQ that shares "Forbidden City" and "book"); absent → any passage. */
  kb_topic?: Bilingual<string[]>;
}

export interface SmallTalkConfig {
  /** Small talk (闲聊寒暄) routes: greeting, thanks, goodbye, chit-chat; each with examples and short replies. */
  routes: { name: string; examples: Bilingual<string[]>; responses: Bilingual<string[]> }[];
}

export type HandoffRuleType =
  | "explicit_request" | "low_confidence" | "out_of_scope" | "emotion" | "negative_streak" | "intent" | "grounding_failed";
export type Priority = "low" | "normal" | "high" | "urgent";

export interface HandoffRule {
  type: HandoffRuleType;
  /** For type "intent": the sensitive intent (complaint, cancellation, fraud). */
  intent?: string;
  /** For "low_confidence", "out_of_scope" and "negative_streak": how many turns in a row. */
  consecutive?: number;
  /** For "emotion": which emotions count. */
  emotions?: Emotion[];
  /** For "emotion": the emotion's probability at or above which the rule fires; for "negative_streak": the
   *  sentiment (−1..1) at or below which a turn counts as negative. */
  threshold?: number;
  priority: Priority;
}

export interface HandoffConfig {
  /** Phrases that ask for a person (转人工, "talk to a person"); matched after normalisation, plus a trained model. */
  explicit_phrases: Bilingual<string[]>;
  rules: HandoffRule[];
  /** What the customer is told when handed off. */
  message: Bilingual<string>;
}

export interface UnderstandingConfig {
  /** Folder holding the trained models (intent.json, emotion.json, ...), relative to the config file. */
  model_dir: string;
  /** Intent confidence below which a turn is out-of-scope. */
  oos_threshold: number;
  /** Also train on these data sets (licensed ones only for a shipped model): clinc150-oos adds an `oos` class. */
  extra_training: ("clinc150-oos" | "lccc-smalltalk" | "crosswoz")[];
  /** A small-talk route needs at least this confidence; below it the turn counts as out-of-scope. */
  small_talk_threshold: number;
  /** Examples borrowed from a licensed data set's intent for a configured intent, e.g. clinc150's report_fraud
   *  (kdconv-travel: dev-split questions by the relation their answer used, 门票/开放时间/地址). */
  borrow_examples: { set: "clinc150" | "banking77" | "kdconv-travel"; intent: string; as: string }[];
  /** A slot-tagging model folder (`zhiyu finetune --task tag`, e.g. models/zhiyu-slots-crosswoz), relative to the
   *  config file: its spans add the slots the configured matchers miss. Skipped (with a note) when the folder is absent. */
  slot_model?: string;
  /** The tagger's span type → the slot it fills (default: the slot of the same name, configured or not). */
  slot_model_map: Record<string, string>;
}

export interface ProductsConfig {
  /** Catalogue file (JSON array of {name, ...attributes} or CSV with a header), relative to the config file. */
  catalogue?: string;
  /** Most suggestions per reply. */
  max_suggestions: number;
}

export interface LeadCaptureConfig {
  enabled: boolean;
  /** Intents that trigger the offer (besides intents marked `lead: true`). */
  trigger_intents: string[];
  fields: ("name" | "phone" | "email" | "need")[];
  /** The polite, once-only request with consent. */
  prompt: Bilingual<string>;
  /** Asked at most this many times per conversation. */
  max_asks: number;
}

export interface ContactCentreConfig {
  version: 1;
  /** Default reply language when a turn's language is unclear. */
  language: Language;
  /** Assistant's name shown in replies. */
  assistant_name: string;
  knowledge_base: KnowledgeBaseConfig;
  understanding: UnderstandingConfig;
  slots: SlotConfig[];
  intents: IntentConfig[];
  small_talk: SmallTalkConfig;
  handoff: HandoffConfig;
  products: ProductsConfig;
  lead_capture: LeadCaptureConfig;
  /** Fallback replies when nothing matched. */
  fallback: Bilingual<string>;
  // Product-layer sections (desk server); optional, defaults in desk-settings.ts.
  storage?: DeskStorageConfig;
  access?: DeskAccessConfig;
  webhooks?: WebhookConfig[];
  widget?: WidgetConfig;
  replies?: RepliesConfig;
  /** The quality rubric (质检) for inspection and agent analysis (inspection/rubric.ts); default rubric when absent. */
  inspection?: RubricConfig;
}

// ---- Product layer (the desk server: storage, users and roles, webhooks, widget channel, reply phrasing) ----
// Defaults are filled by desk-settings.ts, not by config.ts, so the understanding side stays untouched by them.

export interface DeskStorageConfig {
  /** Data folder for desk.sqlite and the KB index, relative to the config file (--db overrides the database). */
  data_dir?: string;
}

export interface DeskUserConfig {
  username: string;
  role: "admin" | "supervisor" | "agent";
  display_name?: string;
  /** Name of the environment variable holding the initial password (read by the CLI, never stored in the file). */
  password_env: string;
}

export interface DeskAccessConfig {
  /** Users created at start-up when they do not exist yet. */
  users?: DeskUserConfig[];
  /** Roles that see phone numbers and e-mail addresses unmasked (default: admin). */
  unmasked_roles?: ("admin" | "supervisor" | "agent")[];
  /** Page session lifetime in hours (default 12). */
  session_hours?: number;
}

export interface WebhookConfig {
  url: string;
  events: ("message.created" | "handoff.requested" | "handoff.transferred" | "lead.created" | "conversation.closed")[];
  /** Environment variable holding the HMAC-SHA256 signing secret. */
  secret_env: string;
  /** Per-attempt timeout (default 5000 ms). */
  timeout_ms?: number;
  /** Attempts before a delivery is marked failed (default 8; back-off doubles from 1 s, capped at 10 min). */
  max_attempts?: number;
}

export interface WidgetConfig {
  /** Title of the chat panel. */
  title?: Bilingual<string>;
  /** Origins allowed to call the widget API from a browser (default ["*"]: the customer token is the credential). */
  allowed_origins?: string[];
  /** Longest customer message in characters (default 2000). */
  max_message_chars?: number;
}

export interface RepliesConfig {
  /** "passage": KB answers quote the cited passage; "model": the chat model phrases them (checked for grounding). */
  phrasing?: "passage" | "model";
}

const str = { type: "string" };
const strList = { type: "array", items: str };
const bilingual = (item: object) => ({ type: "object", additionalProperties: false, properties: { zh: item, en: item } });
const closed = (properties: Record<string, object>, required: string[] = []) =>
  ({ type: "object", additionalProperties: false, properties, required });
const PRIORITY = { enum: ["low", "normal", "high", "urgent"] };
const EMOTION = { enum: [...EMOTIONS, "neutral"] };

/** One JSON Schema per top-level section; the product layer adds its own sections here. */
export const SECTION_SCHEMAS: Record<string, object> = {
  version: { const: 1 },
  language: { enum: ["zh", "en"] },
  assistant_name: str,
  knowledge_base: closed({
    folders: strList, user_words: strList, max_file_bytes: { type: "integer", minimum: 1 },
    chunk_chars: { type: "integer", minimum: 50, maximum: 4000 }, confidence_threshold: { type: "number", minimum: 0, maximum: 1 },
    dense_weight: { type: "number", minimum: 0, maximum: 1 }, top_k: { type: "integer", minimum: 1, maximum: 50 },
    entity_slots: strList,
  }),
  understanding: closed({
    model_dir: str, oos_threshold: { type: "number", minimum: 0, maximum: 1 },
    extra_training: { type: "array", items: { enum: ["clinc150-oos", "lccc-smalltalk", "crosswoz"] } },
    small_talk_threshold: { type: "number", minimum: 0, maximum: 1 },
    borrow_examples: { type: "array", items: closed({ set: { enum: ["clinc150", "banking77", "kdconv-travel"] }, intent: str, as: str }, ["set", "intent", "as"]) },
    slot_model: str, slot_model_map: { type: "object", additionalProperties: { type: "string", pattern: "^[a-z][a-z0-9_]*$" } },
  }),
  slots: {
    type: "array",
    items: closed({
      name: { type: "string", pattern: "^[a-z][a-z0-9_]*$" },
      values: { type: "object", additionalProperties: strList }, pattern: str, carry_over: { type: "boolean" },
    }, ["name"]),
  },
  intents: {
    type: "array",
    items: closed({
      name: { type: "string", pattern: "^[a-z][a-z0-9_]*$" }, description: str, examples: bilingual(strList),
      slots: strList, responses: bilingual(strList), kb: { type: "boolean" }, lead: { type: "boolean" },
      kb_topic: bilingual(strList),
    }, ["name", "examples"]),
  },
  small_talk: closed({
    routes: {
      type: "array",
      items: closed({ name: { type: "string", pattern: "^[a-z][a-z0-9_]*$" }, examples: bilingual(strList), responses: bilingual(strList) },
        ["name", "examples", "responses"]),
    },
  }),
  handoff: closed({
    explicit_phrases: bilingual(strList),
    rules: {
      type: "array",
      items: closed({
        type: { enum: ["explicit_request", "low_confidence", "out_of_scope", "emotion", "negative_streak", "intent", "grounding_failed"] },
        intent: str, consecutive: { type: "integer", minimum: 1, maximum: 20 }, emotions: { type: "array", items: EMOTION },
        threshold: { type: "number", minimum: -1, maximum: 1 }, priority: PRIORITY,
      }, ["type"]),
    },
    message: bilingual(str),
  }),
  products: closed({ catalogue: str, max_suggestions: { type: "integer", minimum: 1, maximum: 10 } }),
  lead_capture: closed({
    enabled: { type: "boolean" }, trigger_intents: strList,
    fields: { type: "array", items: { enum: ["name", "phone", "email", "need"] } },
    prompt: bilingual(str), max_asks: { type: "integer", minimum: 0, maximum: 5 },
  }),
  fallback: bilingual(str),
  // Product layer (desk server).
  storage: closed({ data_dir: str }),
  access: closed({
    users: { type: "array", items: closed({ username: { type: "string", pattern: "^[A-Za-z0-9_.-]{2,64}$" }, role: { enum: ["admin", "supervisor", "agent"] },
      display_name: str, password_env: { type: "string", pattern: "^[A-Z_][A-Z0-9_]*$" } }, ["username", "role", "password_env"]) },
    unmasked_roles: { type: "array", items: { enum: ["admin", "supervisor", "agent"] } },
    session_hours: { type: "number", minimum: 0.1, maximum: 720 },
  }),
  webhooks: {
    type: "array",
    items: closed({
      url: { type: "string", pattern: "^https?://" },
      events: { type: "array", minItems: 1, items: { enum: ["message.created", "handoff.requested", "handoff.transferred", "lead.created", "conversation.closed"] } },
      secret_env: { type: "string", pattern: "^[A-Z_][A-Z0-9_]*$" }, timeout_ms: { type: "integer", minimum: 100, maximum: 120000 },
      max_attempts: { type: "integer", minimum: 1, maximum: 50 },
    }, ["url", "events", "secret_env"]),
  },
  widget: closed({ title: bilingual(str), allowed_origins: strList, max_message_chars: { type: "integer", minimum: 10, maximum: 100000 } }),
  replies: closed({ phrasing: { enum: ["passage", "model"] } }),
  inspection: RUBRIC_SCHEMA,
};

/** The whole file's schema: the sections above, nothing else. */
export function configSchema(): object {
  return { type: "object", additionalProperties: false, properties: SECTION_SCHEMAS, required: ["version"] };
}
