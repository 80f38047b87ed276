// Loading and validating the contact-centre configuration (one YAML or JSON file, see config-schema.ts for the
// shape and default-config.yaml for the configuration `npm start` uses). Validation happens in two passes: the JSON
// Schema (closed objects: an unknown key is an error naming its path) and the cross-references (a rule's intent, an
// intent's slots, the lead-capture trigger intents, duplicate names, regular expressions that compile). Every error
// names the file and the path of the offending key, e.g. `desk.yaml: handoff.rules[2].intent: unknown intent "refnd"`.
// Paths inside the file (knowledge-base folders, model folder, catalogue) are resolved against the file's folder.
// Leaves out: watching the file for changes; secrets (none are read here).
import { Ajv, type ErrorObject } from "ajv";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { configSchema, type ContactCentreConfig } from "./config-schema.js";
import { checkRubric } from "./inspection/rubric.js";

export * from "./config-schema.js";

/** The configuration `npm start` and `zhiyu desk` use when no --config is given. */
export const DEFAULT_CONFIG_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), "default-config.yaml");

/** A configuration problem: `file: path: detail`, with the fields kept for programs. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly file: string, readonly keyPath: string, readonly detail: string) {
    super(`${file}: ${keyPath ? `${keyPath}: ` : ""}${detail}`);
  }
}

/** A validated configuration whose file paths are absolute. */
export interface LoadedConfig extends ContactCentreConfig {
  /** The file it came from (or "<inline>"). */
  source: string;
  /** Folder the relative paths were resolved against. */
  baseDir: string;
}

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validateSchema = ajv.compile(configSchema());

/** "/handoff/rules/2/intent" → "handoff.rules[2].intent". */
export function formatKeyPath(pointer: string): string {
  return pointer.split("/").slice(1).map((seg) => seg.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), "");
}

function describeSchemaError(e: ErrorObject): { keyPath: string; detail: string } {
  const at = formatKeyPath(e.instancePath);
  const join = (extra: string) => (at ? `${at}.${extra}` : extra);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "additionalProperties": {
      const known = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
      return { keyPath: join(String(p.additionalProperty)), detail: `unknown key (allowed here: ${known.join(", ")})` };
    }
    case "required":
      return { keyPath: join(String(p.missingProperty)), detail: "missing (required)" };
    case "enum":
      return { keyPath: at, detail: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}` };
    default:
      return { keyPath: at, detail: e.message ?? "invalid" };
  }
}

/** Fills the defaults of every optional section, so the rest of the app can read fields without `??`. */
function withDefaults(raw: Record<string, unknown>): ContactCentreConfig {
  const r = raw as Partial<ContactCentreConfig> & Record<string, unknown>;
  const kb = (r.knowledge_base ?? {}) as Partial<ContactCentreConfig["knowledge_base"]>;
  const und = (r.understanding ?? {}) as Partial<ContactCentreConfig["understanding"]>;
  const ho = (r.handoff ?? {}) as Partial<ContactCentreConfig["handoff"]>;
  const lead = (r.lead_capture ?? {}) as Partial<ContactCentreConfig["lead_capture"]>;
  return {
    ...r,
    version: 1,
    language: r.language ?? "zh",
    assistant_name: r.assistant_name ?? "智语客服",
    knowledge_base: {
      folders: kb.folders ?? [], user_words: kb.user_words ?? [], max_file_bytes: kb.max_file_bytes ?? 8 * 1024 * 1024,
      chunk_chars: kb.chunk_chars ?? 400, confidence_threshold: kb.confidence_threshold ?? 0.35,
      dense_weight: kb.dense_weight ?? 0.2, top_k: kb.top_k ?? 3, entity_slots: kb.entity_slots ?? [],
    },
    understanding: {
      model_dir: und.model_dir ?? "models", oos_threshold: und.oos_threshold ?? 0.4, extra_training: und.extra_training ?? [],
      small_talk_threshold: und.small_talk_threshold ?? 0.55, borrow_examples: und.borrow_examples ?? [],
      ...(und.slot_model !== undefined ? { slot_model: und.slot_model } : {}), slot_model_map: und.slot_model_map ?? {},
    },
    slots: (r.slots ?? []).map((s) => ({ ...s, carry_over: s.carry_over ?? true })),
    intents: (r.intents ?? []).map((i) => ({ ...i, slots: i.slots ?? [], kb: i.kb ?? !i.responses, lead: i.lead ?? false })),
    small_talk: { routes: r.small_talk?.routes ?? [] },
    handoff: {
      explicit_phrases: ho.explicit_phrases ?? {},
      rules: (ho.rules ?? []).map((rule) => ({ ...rule, priority: rule.priority ?? "normal" })),
      message: ho.message ?? { zh: "正在为您转接人工客服，请稍候。", en: "I'm connecting you to a human agent, please wait." },
    },
    products: { catalogue: r.products?.catalogue, max_suggestions: r.products?.max_suggestions ?? 3 },
    lead_capture: {
      enabled: lead.enabled ?? false, trigger_intents: lead.trigger_intents ?? [], fields: lead.fields ?? ["name", "phone", "need"],
      prompt: lead.prompt ?? {}, max_asks: lead.max_asks ?? 1,
    },
    fallback: r.fallback ?? { zh: "抱歉，这个问题我还不太确定。需要为您转人工客服吗？", en: "Sorry, I'm not sure about that. Would you like to talk to a person?" },
  };
}

/** The cross-reference errors of a schema-valid configuration (empty when it is consistent). */
function crossCheck(c: ContactCentreConfig): { keyPath: string; detail: string }[] {
  const errors: { keyPath: string; detail: string }[] = [];
  const intents = new Set<string>();
  const slots = new Set<string>();
  const near = (name: string, known: Set<string>) => `(known: ${[...known].join(", ") || "none"})`;
  c.slots.forEach((s, i) => {
    if (slots.has(s.name)) errors.push({ keyPath: `slots[${i}].name`, detail: `duplicate slot "${s.name}"` });
    slots.add(s.name);
    if (s.pattern !== undefined) {
      try {
        new RegExp(s.pattern, "u");
      } catch (err) {
        errors.push({ keyPath: `slots[${i}].pattern`, detail: `not a valid regular expression: ${(err as Error).message}` });
      }
    }
    if (!s.values && s.pattern === undefined) errors.push({ keyPath: `slots[${i}]`, detail: "a slot needs `values` or `pattern`" });
  });
  const smallTalk = new Set(c.small_talk.routes.map((r) => r.name));
  c.intents.forEach((intent, i) => {
    if (intents.has(intent.name)) errors.push({ keyPath: `intents[${i}].name`, detail: `duplicate intent "${intent.name}"` });
    if (intent.name === "oos" || smallTalk.has(intent.name)) {
      errors.push({ keyPath: `intents[${i}].name`, detail: `"${intent.name}" is reserved (out-of-scope or a small-talk route)` });
    }
    intents.add(intent.name);
    const n = (intent.examples.zh?.length ?? 0) + (intent.examples.en?.length ?? 0);
    if (n < 2) errors.push({ keyPath: `intents[${i}].examples`, detail: `intent "${intent.name}" needs at least 2 examples, has ${n}` });
    intent.slots.forEach((s, j) => {
      if (!slots.has(s)) errors.push({ keyPath: `intents[${i}].slots[${j}]`, detail: `unknown slot "${s}" ${near(s, slots)}` });
    });
  });
  c.handoff.rules.forEach((rule, i) => {
    const at = `handoff.rules[${i}]`;
    if (rule.type === "intent") {
      if (rule.intent === undefined) errors.push({ keyPath: `${at}.intent`, detail: 'missing (required for type "intent")' });
      else if (!intents.has(rule.intent)) errors.push({ keyPath: `${at}.intent`, detail: `unknown intent "${rule.intent}" ${near(rule.intent, intents)}` });
    } else if (rule.intent !== undefined) {
      errors.push({ keyPath: `${at}.intent`, detail: `only rules of type "intent" name an intent (this one is "${rule.type}")` });
    }
    if (rule.type === "emotion" && !(rule.emotions?.length)) errors.push({ keyPath: `${at}.emotions`, detail: 'missing (required for type "emotion")' });
    if (rule.type === "emotion" && rule.threshold !== undefined && rule.threshold < 0) {
      errors.push({ keyPath: `${at}.threshold`, detail: "an emotion probability threshold must be in [0, 1]" });
    }
  });
  c.understanding.borrow_examples.forEach((b, i) => {
    if (!intents.has(b.as)) errors.push({ keyPath: `understanding.borrow_examples[${i}].as`, detail: `unknown intent "${b.as}" ${near(b.as, intents)}` });
  });
  c.lead_capture.trigger_intents.forEach((name, i) => {
    if (!intents.has(name)) errors.push({ keyPath: `lead_capture.trigger_intents[${i}]`, detail: `unknown intent "${name}" ${near(name, intents)}` });
  });
  if (c.inspection) errors.push(...checkRubric(c.inspection));
  return errors;
}

function resolvePaths(c: ContactCentreConfig, baseDir: string): ContactCentreConfig {
  const abs = (p: string) => path.resolve(baseDir, p);
  return {
    ...c,
    knowledge_base: { ...c.knowledge_base, folders: c.knowledge_base.folders.map(abs) },
    understanding: { ...c.understanding, model_dir: abs(c.understanding.model_dir),
      ...(c.understanding.slot_model !== undefined ? { slot_model: abs(c.understanding.slot_model) } : {}) },
    products: { ...c.products, catalogue: c.products.catalogue === undefined ? undefined : abs(c.products.catalogue) },
  };
}

/** Parses and validates configuration text (YAML, which includes JSON). Throws a ConfigError naming the first
 *  problems (up to 10, one per line) with their key paths. */
export function parseConfig(text: string, options: { source?: string; baseDir?: string } = {}): LoadedConfig {
  const source = options.source ?? "<inline>";
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(source, "", `not valid YAML/JSON: ${(err as Error).message.split("\n")[0]}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(source, "", "the configuration must be a mapping (an object) at the top level");
  }
  let problems: { keyPath: string; detail: string }[] = [];
  if (!validateSchema(raw)) problems = (validateSchema.errors ?? []).map(describeSchemaError);
  else problems = crossCheck(withDefaults(raw as Record<string, unknown>));
  if (problems.length > 0) {
    const first = problems[0];
    const err = new ConfigError(source, first.keyPath, first.detail);
    if (problems.length > 1) {
      err.message += "\n" + problems.slice(1, 10).map((p) => `${source}: ${p.keyPath}: ${p.detail}`).join("\n");
    }
    throw err;
  }
  const baseDir = options.baseDir ?? process.cwd();
  return { ...resolvePaths(withDefaults(raw as Record<string, unknown>), baseDir), source, baseDir };
}

/** Reads and validates a configuration file (.yaml, .yml or .json); the default one when no path is given. */
export function loadConfig(file: string = DEFAULT_CONFIG_PATH): LoadedConfig {
  if (!existsSync(file)) throw new ConfigError(file, "", "file not found (give --config FILE with a YAML or JSON configuration)");
  const bytes = readFileSync(file);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  if (text.includes("\uFFFD")) throw new ConfigError(file, "", "not UTF-8 text (save the file as UTF-8)");
  return parseConfig(text, { source: file, baseDir: path.dirname(path.resolve(file)) });
}
