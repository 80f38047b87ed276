// Tool calling in model text, Hermes/Qwen style: the model writes
//   <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>
// one block per call. This file (1) renders tool definitions into the prompt when the chat template does not do it
// itself, (2) parses calls out of generated text, incrementally for streaming (text before a call streams at once;
// a call is emitted when its block closes), with a JSON fallback for models that answer with a bare
// {"name", "arguments"} object, and (3) builds the grammar that forces a call for tool_choice required / named.
// Leaves out: other families' markup (Llama 3.1 <|python_tag|>, Mistral [TOOL_CALLS]) — their templates still get
// `tools`, and the JSON fallback catches plain-JSON answers.
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

/** Incremental parser: push() text as it is generated, end() at the end; events come out in order. */
export class ToolCallStreamParser {
  private buffer = "";
  private inCall = false;
  /** True while the reply so far might be a bare-JSON call (held back until the end). */
  private maybeJson = true;
  private sawText = false;
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
    for (;;) {
      if (this.inCall) {
        const end = this.buffer.indexOf(TOOL_CALL_CLOSE);
        if (end < 0) {
          if (!final) return events;
          // Unclosed block at the end (EOS came first): accept it if it parses, else give the text back.
          const call = parseCallJson(this.buffer, this.toolNames);
          if (call) {
            this.calls.push(call);
            events.push({ kind: "call", call });
          } else this.emitText(events, TOOL_CALL_OPEN + this.buffer);
          this.buffer = "";
          this.inCall = false;
          return events;
        }
        const body = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + TOOL_CALL_CLOSE.length);
        this.inCall = false;
        const call = parseCallJson(body, this.toolNames);
        if (call) {
          this.calls.push(call);
          events.push({ kind: "call", call });
        } else this.emitText(events, TOOL_CALL_OPEN + body + TOOL_CALL_CLOSE);
        continue;
      }
      const start = this.buffer.indexOf(TOOL_CALL_OPEN);
      if (start >= 0) {
        this.emitText(events, this.buffer.slice(0, start));
        this.buffer = this.buffer.slice(start + TOOL_CALL_OPEN.length);
        this.inCall = true;
        continue;
      }
      // Hold back a tail that could be the start of "<tool_call>".
      let hold = 0;
      if (!final) {
        for (let len = Math.min(TOOL_CALL_OPEN.length - 1, this.buffer.length); len > 0; len--) {
          if (TOOL_CALL_OPEN.startsWith(this.buffer.slice(this.buffer.length - len))) {
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

  private emitText(events: ToolStreamEvent[], text: string): void {
    // Whitespace between or after calls is layout, not content.
    if (this.calls.length > 0 && text.trim().length === 0) return;
    if (text.length === 0) return;
    if (text.trim().length > 0) this.sawText = true;
    events.push({ kind: "text", text });
  }
}

/** Grammar forcing one call (or several when parallel) to the given tools, arguments valid under each schema.
 *  Throws UnsupportedSchemaError when a tool's parameters cannot be enforced. */
export function toolCallGrammar(tools: readonly ToolDefinition[], parallel: boolean): Grammar {
  const c = new JsonSchemaCompiler(new GrammarBuilder());
  const g = c.g;
  const perTool: Element[][] = tools.map((t) => [
    ...g.literal(`{"name": ${JSON.stringify(t.name)}, "arguments": `),
    c.value(t.parameters, t.parameters, `#/tools/${t.name}`),
    ...g.literal("}"),
  ]);
  const call = g.ref(g.rule("call", [[...g.literal(`${TOOL_CALL_OPEN}\n`), g.ref(g.rule("call-body", perTool)),
    ...g.literal(`\n${TOOL_CALL_CLOSE}`)]]));
  // At most 8 calls, so that a model that keeps calling still ends.
  const more = parallel ? g.repeat("more-calls", [...g.literal("\n"), call], 0, 7) : [];
  return g.build(g.rule("root", [[call, ...more]]));
}
