// Tool calling in model text, Hermes/Qwen style: the model writes
//   <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>
// one block per call. This file (1) renders tool definitions into the prompt when the chat template does not do it
// itself, (2) parses calls out of generated text, incrementally for streaming (text before a call streams at once;
// a call is emitted when its block closes), with a JSON fallback for models that answer with a bare
// {"name", "arguments"} object, and (3) builds the grammar that forces a call for tool_choice required / named.
// The block markers and what a block holds are a CallMarkup, so other families' tagged formats (Phi-4-mini's
// <|tool_call|>[…]<|/tool_call|>, tool-formats.ts) reuse the same streaming parser.
// Leaves out: choosing the format for a model (tool-formats.ts); Llama 3.1 <|python_tag|> and Mistral [TOOL_CALLS]
// markup — their templates still get `tools`, and the JSON fallback catches plain-JSON answers.
import type { ChatMessage } from "../infer/chat-template.js";
import { GrammarBuilder, type Element, type Grammar } from "../infer/grammar/grammar.js";
import { JsonSchemaCompiler } from "../infer/grammar/json-schema.js";
import type { ToolDefinition } from "./protocol.js";
import type { ChatToolCall } from "../tools/agent.js";

export const TOOL_CALL_OPEN = "<tool_call>";
export const TOOL_CALL_CLOSE = "</tool_call>";

/** A tool call parsed from the model's text: the agent loop's call type (arguments as JSON text). */
export type ParsedToolCall = ChatToolCall;

export function newToolCallId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  let s = "call_";
  for (let i = 0; i < 24; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

/** Whether a Jinja chat template renders `tools` itself. */
export function templateHandlesTools(template: string | null): boolean {
  return template !== null && /\btools\b/.test(template);
}

function toolSpec(t: ToolDefinition): unknown {
  return { type: "function", function: { name: t.name, description: t.description ?? "", parameters: t.parameters } };
}

/** The OpenAI tool list as chat templates expect it in their `tools` variable. */
export function templateTools(tools: readonly ToolDefinition[]): unknown[] {
  return tools.map(toolSpec);
}

/** The Hermes-style system text for templates that ignore `tools`. */
export function toolSystemPrompt(tools: readonly ToolDefinition[]): string {
  return [
    "# Tools",
    "",
    "You may call one or more functions to assist with the user query.",
    "",
    "You are provided with function signatures within <tools></tools> XML tags:",
    "<tools>",
    ...tools.map((t) => JSON.stringify(toolSpec(t))),
    "</tools>",
    "",
    "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:",
    "<tool_call>",
    '{"name": <function-name>, "arguments": <args-json-object>}',
    "</tool_call>",
  ].join("\n");
}

/** Rewrites a conversation for a template that knows nothing of tools: the tool list joins the system message,
 *  assistant tool calls become <tool_call> text, and tool results become user turns in <tool_response> tags. */
export function inlineToolsIntoMessages(messages: readonly ChatMessage[], tools: readonly ToolDefinition[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  const system = tools.length > 0 ? toolSystemPrompt(tools) : null;
  let i = 0;
  if (messages[0]?.role === "system") {
    out.push({ role: "system", content: system ? `${messages[0].content ?? ""}\n\n${system}` : messages[0].content });
    i = 1;
  } else if (system) out.push({ role: "system", content: system });
  for (; i < messages.length; i++) {
    const m = messages[i];
    if (m.role === "assistant" && m.tool_calls && m.tool_calls.length > 0) {
      const calls = m.tool_calls.map((c) => {
        const args = typeof c.function.arguments === "string" ? c.function.arguments : JSON.stringify(c.function.arguments);
        return `${TOOL_CALL_OPEN}\n{"name": ${JSON.stringify(c.function.name)}, "arguments": ${args}}\n${TOOL_CALL_CLOSE}`;
      });
      out.push({ role: "assistant", content: [m.content ?? "", ...calls].filter((s) => s.length > 0).join("\n") });
    } else if (m.role === "tool") {
      const text = `<tool_response>\n${m.content ?? ""}\n</tool_response>`;
      const prev = out[out.length - 1];
      // Consecutive tool results share one user turn, as Qwen's template does.
      if (prev && prev.role === "user" && prev.content?.startsWith("<tool_response>")) prev.content += `\n${text}`;
      else out.push({ role: "user", content: text });
    } else out.push({ ...m });
  }
  return out;
}

/** Parses the JSON inside one <tool_call> block (or a bare JSON call); null if it is not a call to a known tool. */
export function parseCallJson(text: string, toolNames: ReadonlySet<string>): ParsedToolCall | null {
  let v: unknown;
  try {
    v = JSON.parse(text.trim());
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const fn = (typeof o.function === "object" && o.function !== null ? o.function : o) as Record<string, unknown>;
  const name = fn.name;
  let args = fn.arguments ?? fn.parameters ?? {};
  if (typeof name !== "string" || !toolNames.has(name)) return null;
  if (typeof args === "string") {
    try {
      args = JSON.parse(args);
    } catch {
      return null;
    }
  }
  if (typeof args !== "object" || args === null || Array.isArray(args)) return null;
  return { id: newToolCallId(), name, arguments: JSON.stringify(args) };
}

/** JSON fallback over a whole reply: a bare call object, a list of them, or {"tool_calls": [...]}, maybe fenced. */
export function parseJsonFallback(text: string, toolNames: ReadonlySet<string>): ParsedToolCall[] | null {
  const t = text.trim().replace(/^```(?:json)?\s*/, "").replace(/\s*```$/, "");
  if (!t.startsWith("{") && !t.startsWith("[")) return null;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return null;
  }
  const list = Array.isArray(v) ? v : typeof v === "object" && v !== null && Array.isArray((v as { tool_calls?: unknown }).tool_calls)
    ? (v as { tool_calls: unknown[] }).tool_calls : [v];
  const calls: ParsedToolCall[] = [];
  for (const item of list) {
    const c = parseCallJson(JSON.stringify(item), toolNames);
    if (!c) return null;
    calls.push(c);
  }
  return calls.length > 0 ? calls : null;
}

export type ToolStreamEvent = { kind: "text"; text: string } | { kind: "call"; call: ParsedToolCall };

/** A streaming tool-call parser: push() text as it is generated, end() at the end; events come out in order. */
export interface ToolCallParser {
  push(text: string): ToolStreamEvent[];
  end(): ToolStreamEvent[];
}

/** A tagged call format: the block's opening and closing text and the calls one block holds (null: not a call,
 *  given back as text). */
export interface CallMarkup {
  open: string;
  close: string;
  parseBlock(body: string, toolNames: ReadonlySet<string>): ParsedToolCall[] | null;
}

/** Hermes/Qwen: one {"name", "arguments"} object per <tool_call> block. */
export const HERMES_MARKUP: CallMarkup = {
  open: TOOL_CALL_OPEN,
  close: TOOL_CALL_CLOSE,
  parseBlock: (body, toolNames) => {
    const call = parseCallJson(body, toolNames);
    return call ? [call] : null;
  },
};

/** Incremental parser of a tagged format (Hermes by default), with the bare-JSON fallback at the reply's start. */
export class ToolCallStreamParser implements ToolCallParser {
  private buffer = "";
  private inCall = false;
  /** True while the reply so far might be a bare-JSON call (held back until the end). */
  private maybeJson = true;
  private sawText = false;
  readonly calls: ParsedToolCall[] = [];

  constructor(private readonly toolNames: ReadonlySet<string>, private readonly markup: CallMarkup = HERMES_MARKUP) {}

  push(text: string): ToolStreamEvent[] {
    this.buffer += text;
    return this.drain(false);
  }

  end(): ToolStreamEvent[] {
    return this.drain(true);
  }

  private drain(final: boolean): ToolStreamEvent[] {
    const events: ToolStreamEvent[] = [];
    if (this.maybeJson && !this.sawText && this.calls.length === 0) {
      const t = this.buffer.trimStart();
      if (t.length === 0 && !final) return events;
      if (t.startsWith("{") || t.startsWith("[") || t.startsWith("```")) {
        if (!final) return events;
        const calls = parseJsonFallback(this.buffer, this.toolNames);
        if (calls) {
          this.buffer = "";
          for (const call of calls) {
            this.calls.push(call);
            events.push({ kind: "call", call });
          }
          return events;
        }
      }
      this.maybeJson = false;
    }
    const { open, close } = this.markup;
    for (;;) {
      if (this.inCall) {
        const end = this.buffer.indexOf(close);
        if (end < 0) {
          if (!final) return events;
          // Unclosed block at the end (EOS came first): accept it if it parses, else give the text back.
          const calls = this.markup.parseBlock(this.buffer, this.toolNames);
          if (calls) this.pushCalls(events, calls);
          else this.emitText(events, open + this.buffer);
          this.buffer = "";
          this.inCall = false;
          return events;
        }
        const body = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + close.length);
        this.inCall = false;
        const calls = this.markup.parseBlock(body, this.toolNames);
        if (calls) this.pushCalls(events, calls);
        else this.emitText(events, open + body + close);
        continue;
      }
      const start = this.buffer.indexOf(open);
      if (start >= 0) {
        this.emitText(events, this.buffer.slice(0, start));
        this.buffer = this.buffer.slice(start + open.length);
        this.inCall = true;
        continue;
      }
      // Hold back a tail that could be the start of the opening tag.
      let hold = 0;
      if (!final) {
        for (let len = Math.min(open.length - 1, this.buffer.length); len > 0; len--) {
          if (open.startsWith(this.buffer.slice(this.buffer.length - len))) {
            hold = len;
            break;
          }
        }
      }
      this.emitText(events, this.buffer.slice(0, this.buffer.length - hold));
      this.buffer = this.buffer.slice(this.buffer.length - hold);
      return events;
    }
  }

  private pushCalls(events: ToolStreamEvent[], calls: ParsedToolCall[]): void {
    for (const call of calls) {
      this.calls.push(call);
      events.push({ kind: "call", call });
    }
  }

  private emitText(events: ToolStreamEvent[], text: string): void {
    // Whitespace between or after calls is layout, not content.
    if (this.calls.length > 0 && text.trim().length === 0) return;
    if (text.length === 0) return;
    if (text.trim().length > 0) this.sawText = true;
    events.push({ kind: "text", text });
  }
}

/** The text a forced call is made of: around all calls (open/close), between two calls, and around one call's
 *  JSON arguments. The markers must be plain text: the grammar never allows control tokens. */
export interface CallGrammarShape {
  open: string;
  close: string;
  separator: string;
  callOpen(name: string): string;
  callClose: string;
}

/** <tool_call>\n{"name": …, "arguments": …}\n</tool_call>, one block per call. */
export const HERMES_GRAMMAR: CallGrammarShape = {
  open: "", close: "", separator: "\n",
  callOpen: (name) => `${TOOL_CALL_OPEN}\n{"name": ${JSON.stringify(name)}, "arguments": `,
  callClose: `}\n${TOOL_CALL_CLOSE}`,
};

/** Grammar forcing one call (or several when parallel) to the given tools, arguments valid under each schema.
 *  Throws UnsupportedSchemaError when a tool's parameters cannot be enforced. */
export function toolCallGrammar(tools: readonly ToolDefinition[], parallel: boolean, shape: CallGrammarShape = HERMES_GRAMMAR): Grammar {
  const c = new JsonSchemaCompiler(new GrammarBuilder());
  const g = c.g;
  const perTool: Element[][] = tools.map((t) => [
    ...g.literal(shape.callOpen(t.name)),
    c.value(t.parameters, t.parameters, `#/tools/${t.name}`),
    ...g.literal(shape.callClose),
  ]);
  const call = g.ref(g.rule("call", perTool));
  // At most 8 calls, so that a model that keeps calling still ends.
  const more = parallel ? g.repeat("more-calls", [...g.literal(shape.separator), call], 0, 7) : [];
  return g.build(g.rule("root", [[...g.literal(shape.open), call, ...more, ...g.literal(shape.close)]]));
}
