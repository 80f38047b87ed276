// Chat templates: renders a conversation into the prompt text a model was trained on, with the model's own Jinja
// template (GGUF `tokenizer.chat_template`, tokenizer_config.json `chat_template`, or chat_template.jinja) through
// @huggingface/jinja, or a built-in ChatML template for models that ship none.
// Also finds the template in a Hugging Face folder, and encodes a conversation (encodeChat): the template's own
// markers become special tokens, while message content, tool definitions and tool results are protected
// (tokenizers/special-text.ts) so that special-token text inside them stays plain text.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Template } from "@huggingface/jinja";
import type { EncodeOptions, Tokenizer } from "../tokenizers/tokenizer.js";

export interface ToolCall {
  id?: string;
  type?: "function";
  function: { name: string; arguments: string | Record<string, unknown> };
}

export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool" | (string & {});
  content: string | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

/** A piece of assembled content: the model's own marker, or text (protected like any content). */
export interface ContentSegment {
  text: string;
  marker: boolean;
}

export interface RenderChatOptions {
  /** Append the assistant turn's opening so the model answers next (default true). */
  addGenerationPrompt?: boolean;
  /** JSON-schema tool list, passed to the template as `tools`. */
  tools?: unknown[];
  /** Extra template variables (e.g. enable_thinking for Qwen3). */
  extra?: Record<string, unknown>;
  /** Protect special-token text in every client-supplied string (messages, tool calls, tools); encode the result
   *  with TEMPLATE_ENCODING. Needs the model's tokenizer. */
  protectContent?: boolean;
  /** A leading system message, for a template that has no system role (Gemma's raises on one): joined to the next
   *  message's content with "\n", or dropped when it is alone, as llama.cpp's chat code does. */
  mergeSystemIfUnsupported?: boolean;
}

/** How rendered (protected) template text is encoded: markers special, content plain, no extra BOS/EOS (templates
 *  write BOS themselves when they want it). */
export const TEMPLATE_ENCODING: EncodeOptions = { addSpecialTokens: false, parseSpecial: true, protectedText: true };

/** The built-in fallback, as Qwen2 and many fine-tunes use it. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + (message['content'] or '') + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const compiled = new Map<string, Template>();

function compile(source: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (err) {
      throw new Error(`[renderChat] the chat template does not parse: ${(err as Error).message}`);
    }
    compiled.set(source, t);
  }
  return t;
}

/** The chat template of a text-to-text (seq2seq) model: the messages' contents, space-separated, as the encoder input
 *  (a system message first acts as the task prefix), ending in EOS as T5's tokenizer ends a source; the reply is the
 *  decoder's output, so no roles or turn markers. */
export const TEXT_TO_TEXT_TEMPLATE = "{% for message in messages %}{% if message.content is string %}{{ message.content }}{% endif %}" +
  "{% if not loop.last %}{{ ' ' }}{% endif %}{% endfor %}{{ eos_token }}";

/** Renders messages with the model's template (or ChatML when chatTemplate is null). */
export function renderChat(model: { chatTemplate: string | null; tokenizer: Tokenizer | null },
  messages: readonly ChatMessage[], options: RenderChatOptions = {}): string {
  const template = compile(model.chatTemplate ?? CHATML_TEMPLATE);
  const tok = model.tokenizer;
  const tokenText = (id: number | null | undefined) => (id == null || !tok ? "" : tok.idToToken(id) ?? "");
  if (options.protectContent && !tok) throw new Error("[renderChat] protectContent needs the model's tokenizer");
  if (options.mergeSystemIfUnsupported && messages[0]?.role === "system" && !templateHasSystemRole(model.chatTemplate ?? CHATML_TEMPLATE)) {
    messages = mergeSystemMessage(messages);
  }
  const protect = options.protectContent && tok ? (v: unknown) => protectStrings(v, tok) : (v: unknown) => v;
  // HF templates expect tool-call arguments as objects; OpenAI clients send JSON strings.
  const normalised = messages.map((m) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(m)) {
      if (key !== "content_segments") out[key] = key === "role" ? value : protect(value);
    }
    // Content a server assembled from text and the model's own markers (a history call written in the model's
    // format, e.g. Phi-4-mini's <|tool_call|>[…]<|/tool_call|>): the markers stay markers, the text is protected.
    const segments = (m as { content_segments?: ContentSegment[] }).content_segments;
    if (segments) out.content = segments.map((x) => (x.marker ? x.text : protect(x.text))).join("");
    if (m.tool_calls) {
      out.tool_calls = m.tool_calls.map((c) => protect({
        ...c,
        function: { ...c.function, arguments: parseArguments(c.function.arguments) },
      }));
    }
    return out;
  });
  const tools = options.tools && options.tools.length > 0 ? protect(options.tools) : undefined;
  // raise_exception and strftime_now are built into @huggingface/jinja.
  const context: Record<string, unknown> = {
    messages: normalised,
    add_generation_prompt: options.addGenerationPrompt ?? true,
    bos_token: tokenText(tok?.bosTokenId),
    eos_token: tokenText(tok?.eosTokenId),
    ...(tools ? { tools } : {}),
    ...options.extra,
  };
  try {
    return template.render(context);
  } catch (err) {
    // raise_exception (built into @huggingface/jinja) lands here too, e.g. "Conversation roles must alternate".
    throw new Error(`[renderChat] the chat template failed: ${(err as Error).message}`);
  }
}

const systemRoleProbe = new Map<string, boolean>();

/** Whether a template renders a system message: it neither raises on one nor drops its text (llama.cpp probes
 *  templates the same way). */
export function templateHasSystemRole(source: string): boolean {
  let known = systemRoleProbe.get(source);
  if (known === undefined) {
    const needle = "<System Needle>";
    try {
      known = renderChat({ chatTemplate: source, tokenizer: null }, [{ role: "system", content: needle }, { role: "user", content: "Hey" }],
        { addGenerationPrompt: true }).includes(needle);
    } catch {
      known = false;
    }
    systemRoleProbe.set(source, known);
  }
  return known;
}

/** The system message joined to the next message ("system\nnext"), or dropped when nothing follows it. */
export function mergeSystemMessage<M extends ChatMessage>(messages: readonly M[]): M[] {
  if (messages[0]?.role !== "system") return [...messages];
  if (messages.length === 1) return [];
  const [system, next, ...rest] = messages;
  return [{ ...next, content: `${system.content ?? ""}\n${next.content ?? ""}` }, ...rest];
}

/** Renders and encodes a conversation: the template's markers are special tokens, everything the client wrote is
 *  plain text. */
export function encodeChat(model: { chatTemplate: string | null; tokenizer: Tokenizer }, messages: readonly ChatMessage[],
  options: Omit<RenderChatOptions, "protectContent"> = {}): number[] {
  return model.tokenizer.encode(renderChat(model, messages, { ...options, protectContent: true }), TEMPLATE_ENCODING);
}

/** Every string inside a JSON-like value, protected (depth-limited: client values are already parsed JSON). */
function protectStrings(value: unknown, tok: Tokenizer, depth = 0): unknown {
  if (typeof value === "string") return tok.protectSpecialText(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > 128) throw new Error("[renderChat] a message or tool value is nested deeper than 128 levels");
  if (Array.isArray(value)) return value.map((v) => protectStrings(v, tok, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[tok.protectSpecialText(k)] = protectStrings(v, tok, depth + 1);
  return out;
}

function parseArguments(args: string | Record<string, unknown>): unknown {
  if (typeof args !== "string") return args;
  try {
    return JSON.parse(args);
  } catch {
    return args;
  }
}

/** The chat template of a Hugging Face folder: chat_template.jinja if present, else tokenizer_config.json's
 *  chat_template (a string, or a list of {name, template} where "default" wins). null when there is none. */
export function chatTemplateFromFolder(dir: string): string | null {
  const jinjaPath = path.join(dir, "chat_template.jinja");
  if (existsSync(jinjaPath)) return readFileSync(jinjaPath, "utf8");
  const configPath = path.join(dir, "tokenizer_config.json");
  if (!existsSync(configPath)) return null;
  let config: { chat_template?: unknown };
  try {
    config = JSON.parse(readFileSync(configPath, "utf8")) as { chat_template?: unknown };
  } catch (err) {
    throw new Error(`[chatTemplateFromFolder] ${configPath} is not valid JSON: ${(err as Error).message}`);
  }
  const t = config.chat_template;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const entries = t as Array<{ name?: unknown; template?: unknown }>;
    const chosen = entries.find((e) => e.name === "default") ?? entries[0];
    if (chosen && typeof chosen.template === "string") return chosen.template;
    throw new Error(`[chatTemplateFromFolder] ${configPath}: chat_template is a list without a {name, template} entry`);
  }
  return null;
}
