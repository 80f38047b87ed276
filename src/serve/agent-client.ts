// The in-process ChatClient for the agent loop (src/tools/agent.ts): the same engine the HTTP server uses — chat
// template, tool prompt, tool-call parsing, batching scheduler — without HTTP. `zhiyu chat --tools …` and the server's
// own tool runs use it, so the CLI and the server share one loop.
// Text streams through ChatClientRequest.onText as it is generated.
// Each turn re-renders the whole conversation; the scheduler's prefix reuse keeps the earlier turns' KV cache.
// With history "truncate" a conversation that outgrew the context loses its oldest turns (src/infer/history.ts)
// instead of failing, and onHistoryDropped hears how many messages were left out.
import type { TextModel } from "../infer/model-api.js";
import { Scheduler } from "../infer/scheduler.js";
import type { ChatClient, ChatClientRequest, ChatTurn } from "../tools/agent.js";
import { Engine } from "./engine.js";
import type { ChatRequest } from "./protocol.js";
import { fitHistory, HistoryOverflowError, replyReserve } from "../infer/history.js";
import { ApiError } from "./errors.js";

export interface LocalChatOptions {
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Per-turn completion limit (default 512). */
  maxTokens?: number;
  /** "strict" (default): a prompt over the context is an error; "truncate": drop the oldest turns to fit. */
  history?: "strict" | "truncate";
  /** Called with the number of messages left out whenever a turn had to drop some. */
  onHistoryDropped?: (dropped: number) => void;
}

/** A ChatClient over an existing engine (shares its scheduler with other requests). */
export function engineChatClient(engine: Engine, options: LocalChatOptions = {}): ChatClient {
  return {
    async complete(req: ChatClientRequest): Promise<ChatTurn> {
      const chat: ChatRequest = {
        model: engine.model.id,
        messages: req.messages,
        stream: false,
        includeUsage: false,
        n: 1,
        maxTokens: options.maxTokens ?? 512,
        stop: [],
        sampling: { temperature: options.temperature, topP: options.topP, seed: options.seed },
        logitBias: new Map(),
        topLogprobs: null,
        ignoreEos: false,
        lora: null,
        tools: req.tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters })),
        toolChoice: req.tools.length > 0 ? req.toolChoice : "none",
        parallelToolCalls: true,
        responseFormat: { type: "text" },
        serverTools: false,
        history: "strict",
      };
      if (options.history === "truncate") {
        let fit;
        try {
          fit = fitHistory(req.messages, (messages) => engine.chatPromptLength({ ...chat, messages }),
            engine.contextLength, replyReserve(engine.contextLength, chat.maxTokens));
        } catch (err) {
          if (err instanceof HistoryOverflowError) throw new ApiError(400, err.message, "invalid_request_error", "messages", "context_length_exceeded");
          throw err;
        }
        if (fit.dropped > 0) options.onHistoryDropped?.(fit.dropped);
        chat.messages = fit.messages;
      }
      const prepared = engine.prepareChat(chat);
      const onText = req.onText;
      const [out] = await engine.run({ ...prepared, params: chat, signal: req.signal },
        onText ? { onDelta: (_i, d) => d.text && onText(d.text) } : {});
      return {
        content: out.toolCalls.length > 0 && out.text.trim() === "" ? null : out.text,
        toolCalls: out.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })),
        usage: { promptTokens: prepared.promptIds.length, completionTokens: out.completionTokens },
      };
    },
  };
}

/** A ChatClient with its own one-slot engine, for a single user (e.g. the `zhiyu chat` command). */
export function localChatClient(model: TextModel, options: LocalChatOptions & { contextLength?: number } = {}): ChatClient {
  const scheduler = new Scheduler(model, { parallel: 1, maxQueue: 4, contextLength: options.contextLength });
  return engineChatClient(new Engine(model, scheduler, { requestTimeoutMs: 10 * 60 * 1000 }), options);
}
