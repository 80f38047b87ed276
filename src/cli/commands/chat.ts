// `zhiyu chat --model PATH`: an interactive conversation rendered with the model's chat template (or ChatML),
// streaming each reply. Works with stdin piped too: every input line is one user turn.
// With --tools it runs each turn through the agent loop (src/tools/agent.ts) that the server uses too: the model
// may call the calculator, document search over --docs, or plugins, and the calls are shown as they happen.
// Leaves out: prefix reuse of the KV cache between turns (each turn re-reads the conversation).
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { UsageError } from "../errors.js";
import { modelOrDefault } from "../default-model.js";
import { loadModel } from "../../infer/load.js";
import { generateStreaming } from "../../infer/generate.js";
import { encodeChat, type ChatMessage } from "../../infer/chat-template.js";
import { createToolset, type Toolset } from "../../tools/toolset.js";
import { runAgent, type ChatClient } from "../../tools/agent.js";
import { localChatClient } from "../../serve/agent-client.js";


const HELP = `usage: zhiyu chat --model PATH [options]

  --model PATH        a .gguf file or a Hugging Face folder (default: models/zhiyu-mini)
  --system TEXT       system prompt
  --max-tokens N      most tokens per reply (default 512)
  --temperature T     default 0.7 (0 = greedy)
  --top-p P           default 0.9
  --seed S            RNG seed (default 0)
  --threads N         compute threads
  --tools LIST        let the model call tools through function calling: calculator, search
  --docs DIR          documents for the search tool (indexed into DIR/.zhiyu/index.sqlite, incrementally)
  --user-dict FILE    extra words for Chinese segmentation in search (one per line)
  --plugins FILE      JSON file declaring HTTP plugins (see src/tools/plugins.ts)

Type a message and press Enter; /reset clears the conversation, /exit (or end of input) quits.`;

export async function run(argv: string[]): Promise<number | void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" }, system: { type: "string" }, "max-tokens": { type: "string" },
      temperature: { type: "string" }, "top-p": { type: "string" }, seed: { type: "string" },
      threads: { type: "string" }, tools: { type: "string" }, docs: { type: "string" }, "user-dict": { type: "string" },
      plugins: { type: "string" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  values.model = modelOrDefault(values.model, HELP);
  const num = (name: string, v: string | undefined, fallback: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} ${v}: expected a number ≥ 0`);
    return n;
  };
  const model = await loadModel(values.model, { threads: values.threads ? num("threads", values.threads, 1) : undefined });
  const toolNames = (values.tools ?? "").split(",").map((t) => t.trim()).filter((t) => t.length > 0);
  const toolset: Toolset | null = toolNames.length > 0 || values.plugins
    ? await createToolset({ names: toolNames, docs: values.docs, userDictionary: values["user-dict"], pluginsFile: values.plugins })
    : null;
  const sampling = {
    temperature: num("temperature", values.temperature, model.generationDefaults.temperature ?? 0.7),
    topP: num("top-p", values["top-p"], model.generationDefaults.topP ?? 0.9),
    seed: num("seed", values.seed, 0),
  };
  const maxTokens = num("max-tokens", values["max-tokens"], 512);
  const agentClient = toolset ? localChatClient(model, { ...sampling, maxTokens }) : null;
  const interactive = process.stdin.isTTY === true;
  const base: ChatMessage[] = values.system ? [{ role: "system", content: values.system }] : [];
  let messages: ChatMessage[] = [...base];
  // ChatML and most templates end a turn with a special token; stop on its text too in case it is not one id.
  const stop = model.chatTemplate === null || model.chatTemplate.includes("<|im_end|>") ? ["<|im_end|>"] : [];
  if (interactive) console.error(`zhiyu chat: ${model.id} (${model.architecture}); /exit to quit`);
  const rl = createInterface({ input: process.stdin, terminal: false });
  if (interactive) process.stdout.write("> ");
  for await (const line of rl) {
    const text = line.trim();
    if (text === "/exit" || text === "/quit") break;
    if (text === "/reset") {
      messages = [...base];
      if (interactive) process.stdout.write("(conversation cleared)\n> ");
      continue;
    }
    if (text === "") {
      if (interactive) process.stdout.write("> ");
      continue;
    }
    messages.push({ role: "user", content: text });
    if (toolset && agentClient) {
      messages = await agentTurn(agentClient, toolset, messages);
      process.stdout.write(interactive ? "\n> " : "\n");
      continue;
    }
    let ids = encodeChat(model, messages, { addGenerationPrompt: true });
    // Keep the most recent part of a conversation that outgrew the context.
    if (ids.length + 1 > model.contextLength) ids = ids.slice(ids.length - Math.max(1, model.contextLength - maxTokens));
    const result = await generateStreaming(model, ids, {
      maxTokens, stop, ...sampling,
      onText: (t) => process.stdout.write(t),
    });
    process.stdout.write(interactive ? "\n> " : "\n");
    messages.push({ role: "assistant", content: result.text });
  }
  rl.close();
  toolset?.close();
  model.dispose();
  return 0;
}

/** One user turn through the agent loop: streams the reply, shows tool calls and results on stderr. */
async function agentTurn(client: ChatClient, toolset: Toolset, messages: ChatMessage[]): Promise<ChatMessage[]> {
  const result = await runAgent({
    client, messages, tools: toolset.tools,
    onText: (t) => process.stdout.write(t),
    onEvent: (e) => {
      if (e.kind === "tool_call") process.stderr.write(`\n[tool] ${e.call.name}(${e.call.arguments})\n`);
      else if (e.kind === "tool_result") process.stderr.write(`[tool] ${e.call.name} ${e.ok ? "→" : "failed:"} ${e.output.slice(0, 300)}\n`);
    },
  });
  return result.messages;
}
