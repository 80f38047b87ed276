// The OpenAI wire format (../shared/docs/CONVENTIONS.md §3.1): request validation into typed, normalised requests
// for /v1/chat/completions, /v1/completions and /v1/embeddings. Wrong types and out-of-range values are 400s that
// name the field; unknown extension fields are accepted and ignored (clients send many).
// Leaves out: the response shapes (built where they are written, in routes.ts) and anything about models.
import type { ChatMessage } from "../infer/chat-template.js";
import type { SamplingParams } from "../infer/sampler.js";
import { invalid } from "./errors.js";
import type { ToolDefinition as AgentToolDefinition } from "../tools/tool.js";

/** A tool as the OpenAI request declares it: the agent's definition plus the wire-only `strict` flag. */
export interface ToolDefinition extends AgentToolDefinition {
  strict?: boolean;
}

export type ToolChoice = "none" | "auto" | "required" | { name: string };

export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; name: string; schema: unknown; strict: boolean };

/** What both completion endpoints share. */
export interface GenerationParams {
  model: string;
  stream: boolean;
  includeUsage: boolean;
  n: number;
  /** null: up to the context length. */
  maxTokens: number | null;
  stop: string[];
  sampling: SamplingParams;
  logitBias: Map<number, number>;
  /** null: no log-probabilities; otherwise how many alternatives per token. */
  topLogprobs: number | null;
  user?: string;
  /** llama.cpp extension: keep generating past EOS / end-of-turn (benchmarks use it for fixed lengths). */
  ignoreEos: boolean;
  /** llama-server extension `lora`: [{id, scale}] — adapters by index (--lora order) or name; null: not given. */
  lora: LoraRequest[] | null;
  /** The adapters this request runs with, resolved by the route from `model` and `lora` (serve/lora-select.ts). */
  adapters?: ReadonlyMap<string, number>;
}

export interface LoraRequest {
  id: number | string;
  /** Absent: the adapter's --lora scale. */
  scale?: number;
}

export interface ChatRequest extends GenerationParams {
  messages: ChatMessage[];
  tools: ToolDefinition[];
  toolChoice: ToolChoice;
  /** With tool_choice required: allow more than one call (default false; see parseChatRequest). */
  parallelToolCalls: boolean;
  responseFormat: ResponseFormat;
  /** Zhiyu extension `zhiyu_tools`: run the server's own tools (zhiyu serve --tools) in the agent loop — true for all
   *  of them, or an array naming the subset this request may use; false/absent: none. */
  serverTools: boolean | string[];
  /** Zhiyu extension `zhiyu_history`: "strict" (default: a prompt over the context is a 400) or "truncate" (drop the
   *  oldest turns to fit, src/infer/history.ts, and say how many in the response's `zhiyu_history`). */
  history: "strict" | "truncate";
  /** `chat_template_kwargs` (vLLM / llama-server): extra chat-template variables, e.g. {"enable_thinking": false}
   *  for Qwen3's non-thinking mode. */
  templateKwargs?: Record<string, unknown>;
}

export interface CompletionRequest extends GenerationParams {
  /** Each prompt is text or token ids. */
  prompts: (string | number[])[];
  echo: boolean;
  suffix: string | null;
}

export interface EmbeddingRequest {
  model: string;
  inputs: (string | number[])[];
  encodingFormat: "float" | "base64";
  dimensions: number | null;
}

type Json = Record<string, unknown>;

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/** JSON nesting a request may have: JSON.parse takes any depth, but every recursive walk after it (templates,
 *  schema compilers, error previews) would overflow the stack on a 10,000-deep array. */
export const MAX_JSON_DEPTH = 128;

/** Throws a 400 when a parsed body nests deeper than MAX_JSON_DEPTH (checked without recursion). */
export function checkJsonDepth(body: unknown): void {
  const stack: [unknown, number][] = [[body, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > MAX_JSON_DEPTH) {
      throw invalid("", `the request body nests deeper than ${MAX_JSON_DEPTH} levels of arrays/objects`, "nesting_too_deep");
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
  }
}

/** A short, bounded preview of a client value for error messages (never stringifies a large or deep value). */
function preview(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return `of length ${v.length}`;
  if (v !== null && typeof v === "object") return "";
  return String(v);
}

function wrongType(param: string, want: string, v: unknown) {
  return invalid(param, `'${param}' must be ${want}, got ${typeName(v)} ${preview(v)}`.trim(), "invalid_type");
}

function optNumber(o: Json, key: string, min: number, max: number, opts: { integer?: boolean } = {}): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || (opts.integer && !Number.isInteger(v))) {
    throw wrongType(key, opts.integer ? "an integer" : "a number", v);
  }
  if (v < min || v > max) throw invalid(key, `'${key}' is ${v}; expected a value in [${min}, ${max}]`);
  return v;
}

function optBool(o: Json, key: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "boolean") throw wrongType(key, "a boolean", v);
  return v;
}

function optString(o: Json, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw wrongType(key, "a string", v);
  return v;
}

export function asObject(body: unknown, what: string): Json {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid("", `the ${what} request body must be a JSON object, got ${typeName(body)}`, "invalid_type");
  }
  return body as Json;
}

function modelField(o: Json): string {
  const v = o.model;
  if (v === undefined || v === null) throw invalid("model", "'model' is required (see GET /v1/models)", "missing_required_parameter");
  if (typeof v !== "string") throw wrongType("model", "a string", v);
  return v;
}

function generationParams(o: Json, maxN: number): GenerationParams {
  const stream = optBool(o, "stream", false);
  let includeUsage = false;
  const so = o.stream_options;
  if (so !== undefined && so !== null) {
    if (typeof so !== "object" || Array.isArray(so)) throw wrongType("stream_options", "an object", so);
    includeUsage = optBool(so as Json, "include_usage", false);
  }
  // 0 would admit a request that can only ever return nothing (and holds a slot for its prefill).
  const maxTokens = optNumber(o, "max_completion_tokens", 1, 1e9, { integer: true }) ??
    optNumber(o, "max_tokens", 1, 1e9, { integer: true }) ?? null;
  let stop: string[] = [];
  const s = o.stop;
  if (typeof s === "string") stop = [s];
  else if (Array.isArray(s)) {
    if (s.length > 16 || !s.every((x) => typeof x === "string")) throw invalid("stop", "'stop' must be a string or an array of up to 16 strings");
    stop = s as string[];
  } else if (s !== undefined && s !== null) throw wrongType("stop", "a string or an array of strings", s);
  stop = stop.filter((x) => x.length > 0);
  const sampling: SamplingParams = {
    temperature: optNumber(o, "temperature", 0, 2),
    topP: optNumber(o, "top_p", 0, 1),
    topK: optNumber(o, "top_k", 0, 1e6, { integer: true }),
    minP: optNumber(o, "min_p", 0, 1),
    presencePenalty: optNumber(o, "presence_penalty", -2, 2),
    frequencyPenalty: optNumber(o, "frequency_penalty", -2, 2),
    repetitionPenalty: optNumber(o, "repetition_penalty", 0.01, 10),
    seed: optNumber(o, "seed", -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, { integer: true }),
  };
  if (sampling.topP === 0) sampling.topP = 1e-9; // top_p 0 means "only the best token"; the sampler wants > 0
  const logitBias = new Map<number, number>();
  const lb = o.logit_bias;
  if (lb !== undefined && lb !== null) {
    if (typeof lb !== "object" || Array.isArray(lb)) throw wrongType("logit_bias", "an object mapping token ids to biases", lb);
    for (const [k, v] of Object.entries(lb as Json)) {
      if (!/^\d+$/.test(k)) throw invalid("logit_bias", `logit_bias key '${k}' is not a token id`);
      if (typeof v !== "number" || v < -100 || v > 100) throw invalid("logit_bias", `logit_bias[${k}] must be a number in [-100, 100]`);
      logitBias.set(Number(k), v);
    }
  }
  return {
    model: modelField(o),
    stream,
    includeUsage: stream && includeUsage,
    n: optNumber(o, "n", 1, maxN, { integer: true }) ?? 1,
    maxTokens,
    stop,
    sampling,
    logitBias,
    topLogprobs: null,
    user: optString(o, "user"),
    ignoreEos: optBool(o, "ignore_eos", false),
    lora: loraField(o.lora),
  };
}

function loraField(v: unknown): LoraRequest[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.length > 64) throw wrongType("lora", "an array of (at most 64) {\"id\": index or name, \"scale\": number}", v);
  return v.map((e, i) => {
    if (typeof e !== "object" || e === null || Array.isArray(e)) throw wrongType(`lora[${i}]`, "an object {\"id\", \"scale\"}", e);
    const id = (e as Json).id;
    if (!(typeof id === "string" && id.length > 0) && !(Number.isInteger(id) && (id as number) >= 0)) {
      throw wrongType(`lora[${i}].id`, "an adapter index (0, 1, … in --lora order) or name", id);
    }
    const scale = (e as Json).scale;
    if (scale !== undefined && scale !== null && (typeof scale !== "number" || !Number.isFinite(scale) || Math.abs(scale) > 100)) {
      throw invalid(`lora[${i}].scale`, `'lora[${i}].scale' is ${preview(scale)}; expected a number in [-100, 100]`);
    }
    return { id: id as number | string, scale: typeof scale === "number" ? scale : undefined };
  });
}

/** Text of a message content: a string, null, or an array of parts whose text parts are concatenated. */
function contentText(v: unknown, param: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    let text = "";
    v.forEach((part, i) => {
      if (typeof part !== "object" || part === null) throw wrongType(`${param}[${i}]`, "a content part object", part);
      const p = part as Json;
      if (p.type === "text") {
        if (typeof p.text !== "string") throw wrongType(`${param}[${i}].text`, "a string", p.text);
        text += p.text;
      } else if (p.type === "image_url" || p.type === "input_audio" || p.type === "file") {
        throw invalid(`${param}[${i}]`, `content part type '${String(p.type)}' is not supported by this text-only model`);
      } else throw invalid(`${param}[${i}].type`, `unknown content part type ${preview(p.type)}`);
    });
    return text;
  }
  throw wrongType(param, "a string, null or an array of content parts", v);
}

function parseMessages(v: unknown): ChatMessage[] {
  if (v === undefined) throw invalid("messages", "'messages' is required", "missing_required_parameter");
  if (!Array.isArray(v)) throw wrongType("messages", "an array", v);
  if (v.length === 0) throw invalid("messages", "'messages' must contain at least one message");
  return v.map((m, i): ChatMessage => {
    const p = `messages[${i}]`;
    if (typeof m !== "object" || m === null || Array.isArray(m)) throw wrongType(p, "an object", m);
    const o = m as Json;
    const role = o.role;
    if (typeof role !== "string") throw wrongType(`${p}.role`, "a string", role);
    if (!["system", "developer", "user", "assistant", "tool", "function"].includes(role)) {
      throw invalid(`${p}.role`, `unknown role '${role}'; expected system, developer, user, assistant or tool`);
    }
    const msg: ChatMessage = { role: role === "developer" ? "system" : role, content: contentText(o.content, `${p}.content`) };
    if (typeof o.name === "string") msg.name = o.name;
    if (role === "tool") {
      if (typeof o.tool_call_id !== "string") throw invalid(`${p}.tool_call_id`, "a tool message needs 'tool_call_id' (a string)");
      msg.tool_call_id = o.tool_call_id;
    }
    if (role === "assistant" && o.tool_calls !== undefined && o.tool_calls !== null) {
      if (!Array.isArray(o.tool_calls)) throw wrongType(`${p}.tool_calls`, "an array", o.tool_calls);
      msg.tool_calls = o.tool_calls.map((c, j) => {
        const cp = `${p}.tool_calls[${j}]`;
        const co = c as Json;
        const fn = co?.function as Json | undefined;
        if (typeof co !== "object" || co === null || typeof fn !== "object" || fn === null || typeof fn.name !== "string") {
          throw invalid(cp, "a tool call must be {id, type:'function', function:{name, arguments}}");
        }
        if (typeof fn.arguments !== "string") throw wrongType(`${cp}.function.arguments`, "a JSON string", fn.arguments);
        return { id: typeof co.id === "string" ? co.id : undefined, type: "function" as const,
          function: { name: fn.name, arguments: fn.arguments } };
      });
    } else if (msg.content === null && role !== "assistant") {
      throw invalid(`${p}.content`, `a ${role} message needs 'content'`, "missing_required_parameter");
    }
    return msg;
  });
}

function parseTools(v: unknown): ToolDefinition[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw wrongType("tools", "an array", v);
  const names = new Set<string>();
  return v.map((t, i) => {
    const p = `tools[${i}]`;
    const o = t as Json;
    if (typeof o !== "object" || o === null || o.type !== "function") throw invalid(`${p}.type`, "each tool must be {type: 'function', function: {...}}");
    const fn = o.function as Json;
    if (typeof fn !== "object" || fn === null) throw wrongType(`${p}.function`, "an object", fn);
    if (typeof fn.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(fn.name)) {
      throw invalid(`${p}.function.name`, "a function name must be 1–64 characters of a-z, A-Z, 0-9, _ and -");
    }
    if (names.has(fn.name)) throw invalid(`${p}.function.name`, `duplicate tool name '${fn.name}'`);
    names.add(fn.name);
    const params = fn.parameters ?? { type: "object", properties: {} };
    if (typeof params !== "object" || params === null || Array.isArray(params)) throw wrongType(`${p}.function.parameters`, "a JSON Schema object", params);
    if (fn.description !== undefined && typeof fn.description !== "string") throw wrongType(`${p}.function.description`, "a string", fn.description);
    return { name: fn.name, description: fn.description as string | undefined, parameters: params as Json, strict: fn.strict === true };
  });
}

function parseToolChoice(v: unknown, tools: ToolDefinition[]): ToolChoice {
  if (v === undefined || v === null) return tools.length > 0 ? "auto" : "none";
  if (v === "none" || v === "auto" || v === "required") {
    if (v !== "none" && tools.length === 0) throw invalid("tool_choice", `tool_choice '${v}' needs a non-empty 'tools' list`);
    return v;
  }
  if (typeof v === "object" && v !== null) {
    const fn = (v as Json).function as Json | undefined;
    if ((v as Json).type === "function" && fn && typeof fn.name === "string") {
      if (!tools.some((t) => t.name === fn.name)) throw invalid("tool_choice", `tool_choice names '${fn.name}', which is not in 'tools'`);
      return { name: fn.name };
    }
  }
  throw invalid("tool_choice", "tool_choice must be 'none', 'auto', 'required' or {type:'function', function:{name}}");
}

function parseResponseFormat(v: unknown): ResponseFormat {
  if (v === undefined || v === null) return { type: "text" };
  if (typeof v !== "object" || Array.isArray(v)) throw wrongType("response_format", "an object", v);
  const o = v as Json;
  if (o.type === "text" || o.type === "json_object") return { type: o.type };
  if (o.type === "json_schema") {
    const js = o.json_schema as Json;
    if (typeof js !== "object" || js === null) throw invalid("response_format.json_schema", "json_schema must be {name, schema, strict?}");
    if (typeof js.name !== "string") throw invalid("response_format.json_schema.name", "json_schema.name (a string) is required");
    if (js.schema === undefined) throw invalid("response_format.json_schema.schema", "json_schema.schema is required");
    return { type: "json_schema", name: js.name, schema: js.schema, strict: js.strict === true };
  }
  throw invalid("response_format.type", `response_format.type must be 'text', 'json_object' or 'json_schema', got ${preview(o.type)}`);
}

function historyMode(o: Json): "strict" | "truncate" {
  const v = o.zhiyu_history;
  if (v === undefined || v === null || v === "strict") return "strict";
  if (v === "truncate") return "truncate";
  throw invalid("zhiyu_history", `zhiyu_history must be "strict" or "truncate", got ${JSON.stringify(v)}`);
}

export function parseChatRequest(body: unknown): ChatRequest {
  const o = asObject(body, "chat completion");
  const messages = parseMessages(o.messages);
  const params = generationParams(o, 16);
  const logprobs = optBool(o, "logprobs", false);
  const top = optNumber(o, "top_logprobs", 0, 20, { integer: true });
  if (top !== undefined && !logprobs) throw invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  params.topLogprobs = logprobs ? top ?? 0 : null;
  const tools = parseTools(o.tools);
  return {
    ...params,
    messages,
    tools,
    toolChoice: parseToolChoice(o.tool_choice, tools),
    // As llama-server: a forced call (tool_choice required / named) is one call unless the client asks for more, so a
    // small model ends as soon as the call's object closes instead of adding calls up to max_tokens.
    parallelToolCalls: optBool(o, "parallel_tool_calls", false),
    responseFormat: parseResponseFormat(o.response_format),
    serverTools: serverToolsField(o.zhiyu_tools),
    history: historyMode(o),
    templateKwargs: templateKwargsField(o.chat_template_kwargs),
  };
}

function templateKwargsField(v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw wrongType("chat_template_kwargs", "an object", v);
  const reserved = ["messages", "tools", "add_generation_prompt", "bos_token", "eos_token"].filter((k) => k in v);
  if (reserved.length > 0) throw invalid("chat_template_kwargs", `'${reserved[0]}' is set by the server, not by chat_template_kwargs`);
  return v as Record<string, unknown>;
}

function serverToolsField(v: unknown): boolean | string[] {
  if (v === undefined || v === null) return false;
  if (typeof v === "boolean") return v;
  if (Array.isArray(v) && v.length <= 64 && v.every((x) => typeof x === "string" && x.length > 0 && x.length <= 128)) return v as string[];
  throw wrongType("zhiyu_tools", "true, false, or an array of (at most 64) tool names", v);
}

/** A `prompt` / `input` field: a string, strings, one token-id array or several, as a list of texts or id arrays. */
function textsOrIds(o: Json, key: string, want: string): (string | number[])[] {
  const v = o[key];
  if (typeof v === "string") return [v];
  if (Array.isArray(v) && v.length > 0) {
    if (v.every((x) => typeof x === "string")) return v as string[];
    if (v.every((x) => Number.isInteger(x))) return [v as number[]];
    if (v.every((x) => Array.isArray(x) && x.every((y) => Number.isInteger(y)))) return v as number[][];
  }
  if (v === undefined) throw invalid(key, `'${key}' is required`, "missing_required_parameter");
  throw wrongType(key, want, v);
}

export function parseCompletionRequest(body: unknown): CompletionRequest {
  const o = asObject(body, "completion");
  const params = generationParams(o, 16);
  const lp = optNumber(o, "logprobs", 0, 5, { integer: true });
  params.topLogprobs = lp ?? null;
  const prompts = textsOrIds(o, "prompt", "a string, an array of strings, or token ids");
  if (prompts.length * params.n > 16) throw invalid("n", "at most 16 choices (prompts × n) per request");
  return { ...params, prompts, echo: optBool(o, "echo", false), suffix: optString(o, "suffix") ?? null };
}

export function parseEmbeddingRequest(body: unknown): EmbeddingRequest {
  const o = asObject(body, "embedding");
  const model = modelField(o);
  const inputs = textsOrIds(o, "input", "a non-empty string, array of strings, or token ids");
  if (inputs.length > 2048) throw invalid("input", `at most 2048 inputs per request, got ${inputs.length}`);
  inputs.forEach((x, i) => {
    if (x.length === 0) throw invalid(`input[${i}]`, "an input must not be empty");
  });
  const fmt = o.encoding_format ?? "float";
  if (fmt !== "float" && fmt !== "base64") throw invalid("encoding_format", `encoding_format must be 'float' or 'base64', got ${preview(fmt)}`);
  return { model, inputs, encodingFormat: fmt, dimensions: optNumber(o, "dimensions", 1, 1e6, { integer: true }) ?? null };
}
