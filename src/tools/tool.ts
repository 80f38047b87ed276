// What the agent loop runs: a Tool is an OpenAI function definition plus a function from validated arguments to
// text. Adapters here turn the calculator and the document index into Tools; plugins.ts makes HTTP plugins Tools.
// Arguments are validated against the tool's JSON schema with Ajv before the tool runs.
// Leaves out: the loop itself (agent.ts).
import { Ajv, type ValidateFunction } from "ajv";
import { calculate, calculatorTool } from "./calculator.js";
import { searchTool, type DocumentIndex } from "./search.js";

export interface ToolDefinition {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
}

export interface Tool {
  definition: ToolDefinition;
  /** Runs the tool; throw to report an error to the model. Returns text (JSON for structured results). */
  run(args: Record<string, unknown>, signal?: AbortSignal): Promise<string>;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new WeakMap<object, ValidateFunction>();

/** Checks args against the tool's schema; returns an error message for the model, or null when valid. */
export function validateArguments(tool: Tool, args: unknown): string | null {
  let v = validators.get(tool.definition.parameters);
  if (!v) {
    v = ajv.compile(tool.definition.parameters);
    validators.set(tool.definition.parameters, v);
  }
  if (v(args)) return null;
  return (v.errors ?? []).map((e) => `${e.instancePath || "(arguments)"} ${e.message ?? "is invalid"}`).join("; ");
}

export function calculatorAsTool(): Tool {
  return {
    definition: calculatorTool,
    run: async (args) => JSON.stringify(calculate(String(args.expression))),
  };
}

export function searchAsTool(index: DocumentIndex, defaultK = 3): Tool {
  return {
    definition: searchTool,
    run: async (args) => {
      const k = typeof args.top_k === "number" ? Math.max(1, Math.min(10, Math.floor(args.top_k))) : defaultK;
      const hits = index.search(String(args.query), k);
      if (hits.length === 0) return JSON.stringify({ results: [], note: "no matching passages" });
      return JSON.stringify({ results: hits.map((h) => ({ source: `${h.path}#${h.passage}`, text: h.text })) });
    },
  };
}
