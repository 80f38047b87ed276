// Chat templates: renders a conversation into the prompt text a model was trained on, with the model's own Jinja
// template (GGUF `tokenizer.chat_template`, tokenizer_config.json `chat_template`, or chat_template.jinja) through
// @huggingface/jinja, or a built-in ChatML template for models that ship none.
// Also finds the template in a Hugging Face folder. Leaves out: tokenizing the result (callers encode it with
// parseSpecial: true and addSpecialTokens: false, since templates write BOS themselves when they want it).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Template } from "@huggingface/jinja";
import type { Tokenizer } from "../tokenizers/tokenizer.js";

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

export interface RenderChatOptions {
  /** Append the assistant turn's opening so the model answers next (default true). */
  addGenerationPrompt?: boolean;
  /** JSON-schema tool list, passed to the template as `tools`. */
  tools?: unknown[];
  /** Extra template variables (e.g. enable_thinking for Qwen3). */
  extra?: Record<string, unknown>;
}

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

/** Renders messages with the model's template (or ChatML when chatTemplate is null). */
export function renderChat(model: { chatTemplate: string | null; tokenizer: Tokenizer | null },
  messages: readonly ChatMessage[], options: RenderChatOptions = {}): string {
  const template = compile(model.chatTemplate ?? CHATML_TEMPLATE);
  const tok = model.tokenizer;
  const tokenText = (id: number | null | undefined) => (id == null || !tok ? "" : tok.idToToken(id) ?? "");
  // HF templates expect tool-call arguments as objects; OpenAI clients send JSON strings.
  const normalised = messages.map((m) => {
    const out: Record<string, unknown> = { ...m };
    if (m.tool_calls) {
      out.tool_calls = m.tool_calls.map((c) => ({
        ...c,
        function: { ...c.function, arguments: parseArguments(c.function.arguments) },
      }));
    }
    return out;
  });
  // raise_exception and strftime_now are built into @huggingface/jinja.
  const context: Record<string, unknown> = {
    messages: normalised,
    add_generation_prompt: options.addGenerationPrompt ?? true,
    bos_token: tokenText(tok?.bosTokenId),
    eos_token: tokenText(tok?.eosTokenId),
    ...(options.tools && options.tools.length > 0 ? { tools: options.tools } : {}),
    ...options.extra,
  };
  try {
    return template.render(context);
  } catch (err) {
    // raise_exception (built into @huggingface/jinja) lands here too, e.g. "Conversation roles must alternate".
    throw new Error(`[renderChat] the chat template failed: ${(err as Error).message}`);
  }
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
