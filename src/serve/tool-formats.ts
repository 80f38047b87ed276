// The tool-call format of a model, read from its chat template (as llama-server reads it from the template text, not
// from the model's name): how the tool list and a history of calls and results reach the template, which parser
// turns the model's text into OpenAI tool_calls, and what a forced call (tool_choice required / named) looks like.
//   hermes    the template renders `tools` itself and <tool_call>{json}</tool_call> (Qwen2.5/Qwen3, Hermes)
//   glm4      GLM-4-9B-chat: tools ride on a system message (`item['tools']`), a call is the assistant turn
//             `<|assistant|>{name}\n{arguments json}` (the turn's metadata is the function name), one call per
//             turn, results are `observation` turns
//   phi4mini  Phi-4-mini: tools are a JSON string on the system message (`message['tools']` → <|tool|>…<|/tool|>),
//             calls are <|tool_call|>[{"name", "arguments"}, …]<|/tool_call|>, results are `tool_response` turns
//   inline    templates that know nothing of tools (Gemma, Phi-3/3.5, Phi-4, ChatML): the Hermes tool prompt joins
//             the system message and history calls become <tool_call> text (tool-calls.ts)
// Leaves out: templates that render `tools` in another markup (Llama 3.1 <|python_tag|>, Mistral [TOOL_CALLS]) —
// they get `tools` and the Hermes/bare-JSON parser, as before.
import type { ChatMessage, ContentSegment } from "../infer/chat-template.js";
import type { ToolDefinition } from "./protocol.js";
import { HERMES_GRAMMAR, HERMES_MARKUP, inlineToolsIntoMessages, newToolCallId, templateHandlesTools, templateTools,
  ToolCallStreamParser, type CallGrammarShape, type CallMarkup, type ParsedToolCall, type ToolCallParser,
  type ToolStreamEvent } from "./tool-calls.js";

/** A message as a template sees it: the OpenAI fields plus a family's own (GLM's metadata, tools on a message). */
export type TemplateMessage = ChatMessage & { metadata?: string; tools?: unknown;
  /** Content assembled from text and the model's own markers; renderChat keeps the markers special. */
  content_segments?: ContentSegment[] };

export interface PreparedConversation {
  messages: TemplateMessage[];
  /** The template's `tools` variable (templates that read it), else undefined. */
  tools?: unknown[];
}

export interface ToolCallFormat {
  readonly name: "hermes" | "glm4" | "phi4mini" | "inline";
  /** The conversation in the template's own terms (called with tools = [] too: the history may hold calls). */
  prepare(messages: readonly ChatMessage[], tools: readonly ToolDefinition[]): PreparedConversation;
  parser(toolNames: ReadonlySet<string>): ToolCallParser;
  /** What a forced call is made of; it must parse back through parser(). */
  readonly grammar: CallGrammarShape;
  /** Whether a reply may carry several calls (GLM-4 makes one call per assistant turn). */
  readonly parallel: boolean;
}

/** The format for a chat template (null: the built-in ChatML). */
export function toolCallFormatOf(template: string | null): ToolCallFormat {
  if (template !== null && template.includes("[gMASK]<sop>") && /\bmetadata\b/.test(template)) return GLM4;
  if (template !== null && template.includes("<|tool|>") && /message\[['"]tools['"]\]/.test(template)) return PHI4_MINI;
  return templateHandlesTools(template) ? HERMES : INLINE;
}

/** Python's json.dumps text (", " and ": " separators; ensure_ascii escapes non-ASCII as \uXXXX), the spelling
 *  the Python-side tooling of these models writes tool lists and arguments in. */
export function pythonJson(value: unknown, ensureAscii: boolean): string {
  const text = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(text).join(", ")}]`;
    if (v !== null && typeof v === "object") {
      return `{${Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => `${text(k)}: ${text(x)}`).join(", ")}}`;
    }
    const s = JSON.stringify(v) ?? "null";
    return ensureAscii ? s.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) : s;
  };
  return text(value);
}

function argumentsObject(args: string | Record<string, unknown>): unknown {
  if (typeof args !== "string") return args;
  try {
    return JSON.parse(args);
  } catch {
    return args;
  }
}

/** Many templates test or search message.content as a string ('</think>' in content); null breaks them. */
function nonNullContent(m: ChatMessage): ChatMessage {
  return m.content === null ? { ...m, content: "" } : m;
}

const HERMES: ToolCallFormat = {
  name: "hermes",
  prepare: (messages, tools) => ({ messages: messages.map(nonNullContent), tools: tools.length > 0 ? templateTools(tools) : undefined }),
  parser: (toolNames) => new ToolCallStreamParser(toolNames),
  grammar: HERMES_GRAMMAR,
  parallel: true,
};

const INLINE: ToolCallFormat = {
  name: "inline",
  prepare: (messages, tools) => ({ messages: inlineToolsIntoMessages(messages, tools) }),
  parser: (toolNames) => new ToolCallStreamParser(toolNames),
  grammar: HERMES_GRAMMAR,
  parallel: true,
};

// ---- GLM-4 ----

/** The GLM-4 turn marker between two calls when a reply runs on into another assistant turn. */
const GLM_ASSISTANT = "<|assistant|>";

const GLM4: ToolCallFormat = {
  name: "glm4",
  prepare(messages, tools) {
    const out: TemplateMessage[] = [];
    // GLM-4's own server puts the tool list on a system message of its own; the template writes the tool header there.
    if (tools.length > 0) out.push({ role: "system", content: "", tools: templateTools(tools) });
    for (const m of messages) {
      if (m.role === "assistant" && m.tool_calls && m.tool_calls.length > 0) {
        if (m.content) out.push({ role: "assistant", content: m.content });
        for (const c of m.tool_calls) {
          out.push({ role: "assistant", metadata: c.function.name, content: pythonJson(argumentsObject(c.function.arguments), false) });
        }
      } else if (m.role === "tool") out.push({ role: "observation", content: m.content ?? "" });
      else out.push(nonNullContent(m));
    }
    return { messages: out };
  },
  parser: (toolNames) => new Glm4CallParser(toolNames),
  grammar: { open: "", close: "", separator: "", callOpen: (name) => `${name}\n`, callClose: "" },
  parallel: false,
};

/** One GLM-4 call, "name\n{arguments}"; null when it is not a call to a known tool with an object of arguments. */
export function parseGlm4Call(text: string, toolNames: ReadonlySet<string>): ParsedToolCall | null {
  const nl = text.indexOf("\n");
  if (nl < 0) return null;
  const name = text.slice(0, nl);
  if (!toolNames.has(name)) return null;
  let args: unknown;
  try {
    args = JSON.parse(text.slice(nl + 1));
  } catch {
    return null;
  }
  if (typeof args !== "object" || args === null || Array.isArray(args)) return null;
  return { id: newToolCallId(), name, arguments: JSON.stringify(args) };
}

/** GLM-4 replies: a reply whose first line is a known tool's name is a call, held back until it is complete (the
 *  end of the reply, or a further <|assistant|> turn with another call); any other reply streams as text at once.
 *  A call whose arguments do not parse comes back as text. */
export class Glm4CallParser implements ToolCallParser {
  private buffer = "";
  private mode: "undecided" | "text" | "call" = "undecided";
  readonly calls: ParsedToolCall[] = [];

  constructor(private readonly toolNames: ReadonlySet<string>) {}

  push(text: string): ToolStreamEvent[] {
    this.buffer += text;
    return this.drain(false);
  }

  end(): ToolStreamEvent[] {
    return this.drain(true);
  }

  private drain(final: boolean): ToolStreamEvent[] {
    if (this.mode === "undecided") {
      const nl = this.buffer.indexOf("\n");
      const head = nl < 0 ? this.buffer : this.buffer.slice(0, nl);
      if (nl >= 0 ? this.toolNames.has(head) : [...this.toolNames].some((n) => n.startsWith(head))) {
        if (nl < 0 && !final) return [];
        this.mode = nl >= 0 ? "call" : "text";
      } else this.mode = "text";
    }
    if (this.mode === "text") {
      const text = this.buffer;
      this.buffer = "";
      return text.length > 0 ? [{ kind: "text", text }] : [];
    }
    const events: ToolStreamEvent[] = [];
    for (;;) {
      const next = this.buffer.indexOf(GLM_ASSISTANT);
      if (next < 0 && !final) return events;
      const segment = next < 0 ? this.buffer : this.buffer.slice(0, next);
      this.buffer = next < 0 ? "" : this.buffer.slice(next + GLM_ASSISTANT.length);
      const call = parseGlm4Call(segment.trimEnd(), this.toolNames);
      if (call) {
        this.calls.push(call);
        events.push({ kind: "call", call });
      } else if (segment.trim().length > 0) {
        events.push({ kind: "text", text: (this.calls.length > 0 ? GLM_ASSISTANT : "") + segment });
      }
      if (next < 0) return events;
    }
  }
}

// ---- Phi-4-mini ----

/** Phi-4-mini's call block: a JSON list of {"name", "arguments"} (a lone object, or objects without the brackets,
 *  accepted too, as the Berkeley function-calling harness accepts them). */
export const PHI4_MINI_MARKUP: CallMarkup = {
  open: "<|tool_call|>",
  close: "<|/tool_call|>",
  parseBlock(body, toolNames) {
    const t = body.trim();
    let v: unknown;
    try {
      v = JSON.parse(t.startsWith("[") ? t : `[${t}]`);
    } catch {
      return null;
    }
    if (!Array.isArray(v) || v.length === 0) return null;
    const calls: ParsedToolCall[] = [];
    for (const item of v) {
      const call = HERMES_MARKUP.parseBlock(JSON.stringify(item), toolNames);
      if (!call) return null;
      calls.push(...call);
    }
    return calls;
  },
};

/** The system text Microsoft's Phi-4-mini card uses when tools come without a system message. */
const PHI4_MINI_DEFAULT_SYSTEM = "You are a helpful assistant with some tools.";

const PHI4_MINI: ToolCallFormat = {
  name: "phi4mini",
  prepare(messages, tools) {
    const out: TemplateMessage[] = messages.map((m) => {
      if (m.role === "assistant" && m.tool_calls && m.tool_calls.length > 0) {
        const list = m.tool_calls.map((c) => ({ name: c.function.name, arguments: argumentsObject(c.function.arguments) }));
        const segments: ContentSegment[] = [{ text: m.content ?? "", marker: false }, { text: PHI4_MINI_MARKUP.open, marker: true },
          { text: pythonJson(list, true), marker: false }, { text: PHI4_MINI_MARKUP.close, marker: true }];
        return { role: "assistant", content: segments.map((x) => x.text).join(""), content_segments: segments };
      }
      // Microsoft documents no tool-result turn; the vocabulary's <|tool_response|> marker is what the model knows.
      if (m.role === "tool") return { role: "tool_response", content: m.content ?? "" };
      return nonNullContent(m);
    });
    if (tools.length > 0) {
      const list = pythonJson(tools.map((t) => ({ name: t.name, description: t.description ?? "", parameters: t.parameters })), true);
      if (out[0]?.role === "system") out[0] = { ...out[0], tools: list };
      else out.unshift({ role: "system", content: PHI4_MINI_DEFAULT_SYSTEM, tools: list });
    }
    return { messages: out };
  },
  parser: (toolNames) => new ToolCallStreamParser(toolNames, PHI4_MINI_MARKUP),
  // The markers are control tokens, which a grammar never allows: a forced call is the bare JSON list, which the
  // parser's JSON fallback reads.
  grammar: { open: "[", close: "]", separator: ", ", callOpen: (name) => `{"name": ${JSON.stringify(name)}, "arguments": `, callClose: "}" },
  parallel: true,
};
