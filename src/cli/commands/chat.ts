// `zhiyu chat --model PATH`: an interactive conversation rendered with the model's chat template (or ChatML),
// streaming each reply. The command loads the model itself (no server needed). Works with stdin piped too: every
// input line is one user turn.
// - A conversation that outgrows the context loses its oldest turns (src/infer/history.ts, the policy the server
//   and the page use) with a line saying so; the system prompt stays; a turn that fails never ends the session.
// - Ctrl-C during a reply stops the reply; Ctrl-C at the prompt (or twice), Ctrl-D or /exit ends the session.
//   Lines starting with / are commands (/help lists them) and are never sent to the model.
// - --tools runs each turn through the agent loop (src/tools/agent.ts) that the server uses too; a model not
//   trained to call tools (src/infer/model-info.ts) gets a warning. --docs DIR without --tools is retrieval mode:
//   the best passages for each message go into the prompt (src/tools/retrieval.ts).
// - Replies stay valid UTF-8: a byte token that would split a character is never sampled (no U+FFFD; the
//   constraint the server puts on every request, src/infer/grammar/utf8-constraint.ts).
// Leaves out: prefix reuse of the KV cache between turns (each turn re-reads the conversation).
import { createInterface } from "node:readline";
import { UsageError } from "../errors.js";
import { modelOrDefault } from "../default-model.js";
import { intFlag, intFlagOr, listFlag, numberFlagOr, parseFlags } from "../flags.js";
import { loadModel } from "../../infer/load.js";
import { Generation } from "../../infer/generate.js";
import { encodeChat, type ChatMessage } from "../../infer/chat-template.js";
import { describeDropped, fitHistory, HistoryOverflowError, replyReserve } from "../../infer/history.js";
import { samplingDefaults } from "../../infer/sampling-defaults.js";
import { Utf8Constraint, Utf8Table } from "../../infer/grammar/utf8-constraint.js";
import { createToolset, openDocumentIndex, type Toolset } from "../../tools/toolset.js";
import { withRetrievedPassages } from "../../tools/retrieval.js";
import type { DocumentIndex } from "../../tools/search.js";
import { runAgent, type ChatClient } from "../../tools/agent.js";
import { localChatClient } from "../../serve/agent-client.js";

const HELP = `usage: zhiyu chat [--model PATH] [options]

Loads the model in this process and chats with it (no server needed; \`zhiyu serve\` is the server).

  --model PATH        a .gguf file or a Hugging Face folder (default: models/zhiyu-mini)
  --system TEXT       system prompt (always kept, however long the conversation grows)
  --max-tokens N      most tokens per reply (default 512)
  --temperature T     0 = greedy (default: the model's generation_config.json, else 0.7)
  --top-p P           default: the model's, else 0.95
  --seed S            RNG seed (default 0)
  --threads N         compute threads
  --docs DIR          documents: alone, the best passages for each message go into the prompt (retrieval mode);
                      with --tools search, the model searches them itself (index in DIR/.zhiyu/index.sqlite)
  --tools LIST        let the model call tools through function calling: calculator, search
                      (for models trained to call tools; small models do better with --docs alone)
  --user-dict FILE    extra words for Chinese segmentation in search (one per line)
  --plugins FILE      JSON file declaring HTTP plugins (see src/tools/plugins.ts)

Type a message and press Enter. Commands: /help, /reset, /exit. Ctrl-C stops a reply; Ctrl-C at the prompt or
Ctrl-D quits.`;

const COMMANDS = `commands:
  /help     this list
  /reset    forget the conversation (the system prompt stays)
  /exit     quit (also /quit, Ctrl-D, or Ctrl-C at the prompt)
  //text    send a message that starts with "/"
Ctrl-C during a reply stops the reply.`;

interface Session {
  messages: ChatMessage[];
  systemCount: number;
}

export async function run(argv: string[]): Promise<number | void> {
  const { values } = parseFlags({
    args: argv,
    options: {
      model: { type: "string" }, system: { type: "string" }, "max-tokens": { type: "string" },
      temperature: { type: "string" }, "top-p": { type: "string" }, seed: { type: "string" },
      threads: { type: "string" }, tools: { type: "string" }, docs: { type: "string" }, "user-dict": { type: "string" },
      plugins: { type: "string" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const modelPath = modelOrDefault(values.model, HELP);
  const threads = intFlag("threads", values.threads, 1);
  const maxTokens = intFlagOr("max-tokens", values["max-tokens"], 512, 1);
  const seed = intFlagOr("seed", values.seed, 0, 0);
  const toolNames = listFlag(values.tools);
  // Check the sampling flags before loading (their defaults need the model, so parse twice).
  numberFlagOr("temperature", values.temperature, 0, { min: 0, what: "0 = greedy" });
  numberFlagOr("top-p", values["top-p"], 1, { min: 0, max: 1 });
  let toolset: Toolset | null = null;
  let retrieval: DocumentIndex | null = null;
  try {
    if (toolNames.length > 0 || values.plugins) {
      toolset = await createToolset({ names: toolNames, docs: values.docs, userDictionary: values["user-dict"], pluginsFile: values.plugins });
    } else if (values.docs) {
      const opened = openDocumentIndex(values.docs, values["user-dict"]);
      retrieval = opened.index;
      const r = opened.report;
      process.stderr.write(`zhiyu chat: retrieval over ${values.docs} (${r.passages} passages; ${r.added} files added, ` +
        `${r.updated} updated, ${r.unchanged} unchanged)\n`);
    }
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${HELP}`);
  }
  const model = await loadModel(modelPath, { threads });
  const info = model.info;
  if (toolset && !info.toolCalls) {
    process.stderr.write(`zhiyu chat: warning: ${info.name} was not trained to call tools (${info.toolCallsSource}); ` +
      `the tool definitions take part of its ${model.contextLength}-token context and it will rarely call them. ` +
      `To answer from documents, use --docs DIR without --tools.\n`);
  }
  const d = samplingDefaults(model);
  const sampling = {
    temperature: numberFlagOr("temperature", values.temperature, d.temperature, { min: 0, what: "0 = greedy" }),
    topP: numberFlagOr("top-p", values["top-p"], d.topP, { min: 0, max: 1 }),
    topK: d.topK, minP: d.minP, repetitionPenalty: d.repetitionPenalty, seed,
  };
  if (maxTokens >= model.contextLength) {
    process.stderr.write(`zhiyu chat: --max-tokens ${maxTokens} is more than the ${model.contextLength}-token context holds; ` +
      `a reply ends when the context is full\n`);
  }
  const say = (line: string) => process.stderr.write(`zhiyu chat: ${line}\n`);
  const utf8Table = new Utf8Table(model.tokenizer, model.vocabSize);
  const agentClient = toolset ? localChatClient(model, { ...sampling, maxTokens, history: "truncate",
    onHistoryDropped: (n) => say(describeDropped(n, model.contextLength)) }) : null;
  const interactive = process.stdin.isTTY === true;
  const base: ChatMessage[] = values.system ? [{ role: "system", content: values.system }] : [];
  const session: Session = { messages: [...base], systemCount: base.length };
  // ChatML and most templates end a turn with a special token; stop on its text too in case it is not one id.
  const stop = model.chatTemplate === null || model.chatTemplate.includes("<|im_end|>") ? ["<|im_end|>"] : [];
  if (interactive) say(`${info.name} (${model.architecture}, context ${model.contextLength}); /help lists commands`);
  const rl = createInterface({ input: process.stdin, terminal: false });
  let reply: AbortController | null = null;
  const onInterrupt = () => {
    if (reply && !reply.signal.aborted) {
      reply.abort();
      return;
    }
    if (reply) process.exit(130); // a second Ctrl-C while the reply is still stopping
    process.stderr.write("\n");
    rl.close();
  };
  process.on("SIGINT", onInterrupt);
  const prompt = () => {
    if (interactive) process.stdout.write("> ");
  };
  prompt();
  for await (const line of rl) {
    let text = line.trim();
    if (text.startsWith("/") && !text.startsWith("//")) {
      const command = text.split(/\s+/)[0]!;
      if (command === "/exit" || command === "/quit") break;
      if (command === "/help") console.log(COMMANDS);
      else if (command === "/reset") {
        session.messages = [...base];
        say("conversation cleared");
      } else say(`unknown command ${command}; /help lists the commands (start a message with // to send a "/")`);
      prompt();
      continue;
    }
    if (text.startsWith("//")) text = text.slice(1);
    if (text === "") {
      prompt();
      continue;
    }
    session.messages.push({ role: "user", content: text });
    reply = new AbortController();
    try {
      if (toolset && agentClient) await agentTurn(agentClient, toolset, session, reply.signal);
      else await plainTurn(model, session, { maxTokens, stop, sampling, retrieval, utf8Table, signal: reply.signal, say });
    } catch (err) {
      session.messages.pop(); // the turn did not happen; the conversation stays as it was
      if (!reply.signal.aborted) say((err as Error).message);
    }
    if (reply.signal.aborted) say("reply stopped");
    reply = null;
    process.stdout.write("\n");
    prompt();
  }
  process.off("SIGINT", onInterrupt);
  rl.close();
  toolset?.close();
  retrieval?.close();
  model.dispose();
  return 0;
}

interface PlainTurnOptions {
  maxTokens: number;
  stop: string[];
  sampling: { temperature: number; topP: number; topK: number; minP: number; repetitionPenalty: number; seed: number };
  retrieval: DocumentIndex | null;
  /** The vocabulary's UTF-8 transitions, built once per session. */
  utf8Table: Utf8Table;
  signal: AbortSignal;
  say: (line: string) => void;
}

/** One turn without tools: fit the history, generate with streaming, stop early when signalled. */
async function plainTurn(model: Awaited<ReturnType<typeof loadModel>>, session: Session, o: PlainTurnOptions): Promise<void> {
  let promptMessages = session.messages;
  if (o.retrieval) {
    const r = withRetrievedPassages(o.retrieval, session.messages);
    promptMessages = r.messages;
    o.say(r.hits.length > 0 ? `passages: ${r.hits.map((h) => `${h.path} §${h.passage + 1}`).join(", ")}` : "no passage matches this message");
  }
  // Template markers are special tokens; what the user typed (and retrieved passages) is plain text.
  const encode = (m: ChatMessage[]) => encodeChat(model, m, { addGenerationPrompt: true, mergeSystemIfUnsupported: true });
  let fit;
  try {
    fit = fitHistory(promptMessages, (m) => encode(m).length, model.contextLength, replyReserve(model.contextLength, o.maxTokens));
  } catch (err) {
    if (err instanceof HistoryOverflowError) throw new Error(`this message is too long: ${err.message}`);
    throw err;
  }
  if (fit.dropped > 0) {
    o.say(describeDropped(fit.dropped, model.contextLength));
    session.messages.splice(session.systemCount, fit.dropped);
  }
  const ids = encode(fit.messages);
  const g = new Generation(model, ids, {
    maxTokens: Math.min(o.maxTokens, model.contextLength - ids.length), stop: o.stop, ...o.sampling,
    constraint: new Utf8Constraint(o.utf8Table), // byte tokens never split a character (no U+FFFD), as in serve
    onText: (t) => process.stdout.write(t),
  });
  while (!o.signal.aborted && g.step()) await new Promise<void>((resolve) => setImmediate(resolve));
  g.cancel();
  session.messages.push({ role: "assistant", content: g.result().text });
}

/** One user turn through the agent loop: streams the reply, shows tool calls and results on stderr. */
async function agentTurn(client: ChatClient, toolset: Toolset, session: Session, signal: AbortSignal): Promise<void> {
  const result = await runAgent({
    client, messages: session.messages, tools: toolset.tools, signal,
    onText: (t) => process.stdout.write(t),
    onEvent: (e) => {
      if (e.kind === "tool_call") process.stderr.write(`\n[tool] ${e.call.name}(${e.call.arguments})\n`);
      else if (e.kind === "tool_result") process.stderr.write(`[tool] ${e.call.name} ${e.ok ? "→" : "failed:"} ${e.output.slice(0, 300)}\n`);
    },
  });
  session.messages = result.messages;
}
