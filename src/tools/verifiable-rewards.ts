// Rewards a program can check, for RL from verifiable rewards (zhiyu grpo --reward …): each scores one completion
// text against its prompt's record (the JSONL line's fields) and returns 1 or 0, or null when the record gives it
// nothing to check (then it abstains; GRPO leaves a completion no function scored out of its group's statistics).
//   arithmetic   the last number in the reply equals the record's `answer`, or the value of its `expression` as
//                Zhiyu's calculator evaluates it (exact rationals: "0.5", "1/2" and "2/4" are the same answer)
//   json-schema  the reply (trimmed; a ```json fence is allowed) is JSON that validates against the record's
//                `schema` or the schema file given with the reward (ajv, all errors off: valid or not)
//   regex        the reply matches the pattern given with the reward, or the record's `pattern`
//   cite         the reply cites, as "[id]", one of the record's `sources` (KB passage ids) and no other id
// Leaves out: partial credit, format rewards for reasoning tags, model-judged rewards (use the reward model).
import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { CalculatorError, evaluate } from "./calculator.js";

export interface VerifiableReward {
  readonly name: string;
  score(completion: string, example: Readonly<Record<string, unknown>>): number | null;
}

export class RewardSpecError extends Error {
  override name = "RewardSpecError";
}

const NUMBER = /-?\d+(?:\.\d+)?(?:\s*\/\s*\d+)?/g;

/** The exact value of a number or fraction, or of an expression, as a canonical string (null: not a value). */
function exactValue(text: string): string | null {
  try {
    return evaluate(text.replace(/\s+/g, "")).toString();
  } catch (err) {
    if (err instanceof CalculatorError) return null;
    throw err;
  }
}

export const arithmeticReward: VerifiableReward = {
  name: "arithmetic",
  score(completion, example) {
    let want: string | null = null;
    if (typeof example.answer === "number" || typeof example.answer === "string") want = exactValue(String(example.answer));
    else if (typeof example.expression === "string") want = exactValue(example.expression);
    if (want === null) return null;
    const numbers = completion.match(NUMBER);
    if (!numbers || numbers.length === 0) return 0;
    return exactValue(numbers[numbers.length - 1]!) === want ? 1 : 0;
  },
};

/** JSON validity against a schema (the record's `schema`, else `schemaFile`'s). */
export function jsonSchemaReward(schemaFile?: string): VerifiableReward {
  const ajv = new Ajv({ allErrors: false, strict: false });
  let fixed: ValidateFunction | null = null;
  if (schemaFile) {
    try {
      fixed = ajv.compile(JSON.parse(readFileSync(schemaFile, "utf8")) as object);
    } catch (err) {
      throw new RewardSpecError(`--reward json-schema:${schemaFile}: ${(err as Error).message}`);
    }
  }
  const perRecord = new WeakMap<object, ValidateFunction>();
  return {
    name: "json-schema",
    score(completion, example) {
      let validate = fixed;
      const schema = example.schema;
      if (schema && typeof schema === "object") {
        validate = perRecord.get(schema) ?? ajv.compile(schema);
        perRecord.set(schema, validate);
      }
      if (!validate) return null;
      const body = completion.trim().replace(/^```(?:json)?\s*([\s\S]*?)\s*```$/, "$1");
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch {
        return 0;
      }
      return validate(value) ? 1 : 0;
    },
  };
}

/** A match of `pattern` (else the record's `pattern`). */
export function regexReward(pattern?: string): VerifiableReward {
  const compile = (p: string, where: string) => {
    try {
      return new RegExp(p, "u");
    } catch (err) {
      throw new RewardSpecError(`${where}: ${(err as Error).message}`);
    }
  };
  const fixed = pattern !== undefined ? compile(pattern, `--reward regex:${pattern}`) : null;
  return {
    name: "regex",
    score(completion, example) {
      const re = fixed ?? (typeof example.pattern === "string" ? compile(example.pattern, "the record's 'pattern'") : null);
      return re ? (re.test(completion) ? 1 : 0) : null;
    },
  };
}

export const citationReward: VerifiableReward = {
  name: "cite",
  score(completion, example) {
    const sources = example.sources;
    if (!Array.isArray(sources) || sources.length === 0) return null;
    const allowed = new Set(sources.map(String));
    const cited = [...completion.matchAll(/\[([^\][\s]{1,64})\]/g)].map((m) => m[1]!);
    return cited.length > 0 && cited.every((c) => allowed.has(c)) ? 1 : 0;
  },
};

/** Reward functions from a --reward list: "arithmetic", "json-schema[:FILE]", "regex:PATTERN", "cite". */
export function parseRewards(specs: readonly string[]): VerifiableReward[] {
  if (specs.length === 0) throw new RewardSpecError("give at least one --reward: arithmetic, json-schema[:FILE], regex:PATTERN or cite");
  return specs.map((spec) => {
    const at = spec.indexOf(":");
    const kind = at < 0 ? spec : spec.slice(0, at);
    const arg = at < 0 ? undefined : spec.slice(at + 1);
    switch (kind) {
      case "arithmetic": return arithmeticReward;
      case "json-schema": return jsonSchemaReward(arg);
      case "regex": return regexReward(arg);
      case "cite": return citationReward;
      default: throw new RewardSpecError(`--reward ${spec}: unknown reward; use arithmetic, json-schema[:FILE], regex:PATTERN or cite`);
    }
  });
}
