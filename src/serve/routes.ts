// The OpenAI endpoints' handlers: validated request → engine → response JSON or SSE chunks, in exactly the shapes of
// ../shared/docs/CONVENTIONS.md §3.1 (ids and `created` fixed per response, `usage` only where asked for in streams,
// tool calls streamed by index, finish_reason null until the last chunk of each choice).
// Leaves out: HTTP plumbing (server.ts) and generation (engine.ts).
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { ChoiceDelta, ChoiceOutcome, Engine, LogprobEntry } from "./engine.js";
import { ApiError, invalid } from "./errors.js";
import type { Metrics } from "./metrics.js";
import { parseChatRequest, parseCompletionRequest, parseEmbeddingRequest, type ChatRequest, type GenerationParams } from "./protocol.js";
import { SseWriter } from "./sse.js";
import type { ParsedToolCall } from "./tool-calls.js";
import { runAgent } from "../tools/agent.js";
import type { Tool } from "../tools/tool.js";
import { engineChatClient } from "./agent-client.js";
import { fitChatRequest, historyNotice } from "./history-fit.js";
import { maskPii } from "../core/pii.js";
import { adapterNames, selectAdapters } from "./lora-select.js";

export interface RouteContext {
  engine: Engine;
  /** Tools the server runs itself for requests with `zhiyu_tools: true` (zhiyu serve --tools). */
  serverTools: readonly Tool[];
  metrics: Metrics;
  /** Names a request's `model` may use (the model id first). */
  modelNames: readonly string[];
  /** Unix seconds when the model was loaded (for /v1/models). */
  createdAt: number;
  /** When the request arrived (performance.now() ms), for time to first token. */
  arrivedAt: number;
  /** Aborted when the client disconnects. */
  signal: AbortSignal;
  /** Mask personal data (phone, ID-card, bank-card numbers, e-mails) in tool traces (default on). */
  maskPii?: boolean;
}

function id(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString("hex")}`;
}

const FINGERPRINT = "fp_zhiyu";

/** The fields every response and chunk of one request shares (id and `created` fixed per response). */
function responseBase(prefix: string, model: string) {
  return { id: id(prefix), created: Math.floor(Date.now() / 1000), model, system_fingerprint: FINGERPRINT };
}

/** The model name (the served model's or a LoRA adapter's) and the request's adapters (lora-select.ts). */
function checkModel(ctx: RouteContext, params: GenerationParams): void {
  selectAdapters(ctx.engine.model, ctx.modelNames, params);
}

function usage(promptTokens: number, completionTokens: number, cachedTokens = 0) {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

function toolCallsJson(calls: ParsedToolCall[]) {
  return calls.map((c) => ({ id: c.id, type: "function" as const, function: { name: c.name, arguments: c.arguments } }));
}

/** The model, then its LoRA adapters (as vLLM lists them, with `parent`). */
export function listModels(ctx: Pick<RouteContext, "modelNames" | "createdAt"> & { engine?: Engine }) {
  const adapters = ctx.engine ? adapterNames(ctx.engine.model) : [];
  return { object: "list", data: [modelObject(ctx, ctx.modelNames[0]), ...adapters.map((n) => ({ ...modelObject(ctx, n), parent: ctx.modelNames[0] }))] };
}

export function modelObject(ctx: Pick<RouteContext, "modelNames" | "createdAt">, name: string) {
  return { id: name, object: "model", created: ctx.createdAt, owned_by: "zhiyu" };
}

/** Once a stream has started, an error travels as a last `{"error":…}` event before [DONE]. */
function endStreamWithError(sse: SseWriter, err: unknown): null {
  const e = err instanceof ApiError ? err : new ApiError(500, (err as Error).message, "server_error");
  sse.send(e.body());
  sse.done();
  return null;
}

function observeFirstToken(ctx: RouteContext): () => void {
  return () => ctx.metrics.observeTimeToFirstToken((performance.now() - ctx.arrivedAt) / 1000);
}

/** POST /v1/chat/completions. Returns the JSON body, or null when it streamed the response itself. */
export async function chatCompletions(ctx: RouteContext, body: unknown, res: ServerResponse): Promise<unknown | null> {
  const parsed = parseChatRequest(body);
  checkModel(ctx, parsed);
  if (parsed.serverTools && parsed.adapters) throw invalid("zhiyu_tools", "zhiyu_tools runs the base model; it cannot be combined with LoRA adapters");
  if (parsed.serverTools) return agentCompletion(ctx, parsed, res);
  const { req, dropped } = fitChatRequest(ctx.engine, parsed);
  const notice = dropped > 0 ? historyNotice(dropped, ctx.engine.contextLength) : {};
  const prepared = ctx.engine.prepareChat(req);
  const job = { ...prepared, params: req, signal: ctx.signal, promptParam: "messages" };
  ctx.engine.budget(prepared.promptIds, req, "messages"); // a 400 before any stream starts
  const base = responseBase("chatcmpl", req.model);
  const promptTokens = prepared.promptIds.length;
  ctx.metrics.promptTokens += promptTokens * req.n;
  if (!req.stream) {
    const outcomes = await ctx.engine.run(job, { onFirstToken: observeFirstToken(ctx) });
    const completion = outcomes.reduce((s, o) => s + o.completionTokens, 0);
    ctx.metrics.completionTokens += completion;
    return {
      ...base,
      object: "chat.completion",
      choices: outcomes.map((o) => ({
        index: o.index,
        message: {
          role: "assistant",
          content: o.toolCalls.length > 0 && o.text.trim().length === 0 ? null : o.text,
          refusal: null,
          ...(o.reasoning.length > 0 ? { reasoning_content: o.reasoning } : {}),
          ...(o.toolCalls.length > 0 ? { tool_calls: toolCallsJson(o.toolCalls) } : {}),
        },
        logprobs: req.topLogprobs === null ? null : { content: o.logprobs, refusal: null },
        finish_reason: o.finishReason,
      })),
      usage: usage(promptTokens, completion, Math.max(...outcomes.map((o) => o.cachedTokens))),
      ...notice,
    };
  }
  ctx.engine.admit(req.n); // a 429 before the 200 of a stream; engine.run below submits in this same turn
  const sse = new SseWriter(res);
  const chunkBase = { ...base, object: "chat.completion.chunk" };
  const extra = req.includeUsage ? { usage: null } : {};
  const chunk = (index: number, delta: object, logprobs: unknown = null, finish: string | null = null) =>
    sse.send({ ...chunkBase, choices: [{ index, delta, logprobs, finish_reason: finish }], ...extra });
  for (let i = 0; i < req.n; i++) chunk(i, { role: "assistant", content: "" });
  if (dropped > 0) sse.send({ ...chunkBase, choices: [], ...extra, ...notice });
  const toolIndex = new Array<number>(req.n).fill(0);
  const lp = (entries: LogprobEntry[] | undefined) => (req.topLogprobs === null || !entries ? null : { content: entries, refusal: null });
  let outcomes: ChoiceOutcome[];
  try {
    outcomes = await ctx.engine.run(job, {
      onFirstToken: observeFirstToken(ctx),
      onDelta: (index: number, d: ChoiceDelta) => {
        if (d.reasoning !== undefined) chunk(index, { reasoning_content: d.reasoning });
        if (d.text !== undefined || (d.logprobs && !d.toolCalls)) chunk(index, { content: d.text ?? "" }, lp(d.logprobs));
        for (const call of d.toolCalls ?? []) {
          const k = toolIndex[index]++;
          chunk(index, { tool_calls: [{ index: k, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] });
          chunk(index, { tool_calls: [{ index: k, function: { arguments: call.arguments } }] });
        }
      },
    });
  } catch (err) {
    return endStreamWithError(sse, err);
  }
  const completion = outcomes.reduce((s, o) => s + o.completionTokens, 0);
  ctx.metrics.completionTokens += completion;
  for (const o of outcomes) chunk(o.index, {}, null, o.finishReason);
  if (req.includeUsage) sse.send({ ...chunkBase, choices: [], usage: usage(promptTokens, completion, Math.max(...outcomes.map((o) => o.cachedTokens))) });
  sse.done();
  return null;
}

/** `zhiyu_tools: true`: the agent loop with the server's tools. The stream carries the model's text as content,
 *  each tool call as a tool_calls delta (by index) and each result as a `zhiyu_tool_result` delta (an extension only
 *  sent to clients that asked for it); the final answer ends with finish_reason "stop". */
async function agentCompletion(ctx: RouteContext, req: ChatRequest, res: ServerResponse): Promise<unknown | null> {
  if (ctx.serverTools.length === 0) {
    throw invalid("zhiyu_tools", "this server runs no tools of its own; start it with zhiyu serve --tools calculator,search");
  }
  const tools = selectServerTools(ctx.serverTools, req.serverTools as true | string[]);
  const mask = ctx.maskPii === false ? (s: string) => s : maskPii;
  if (req.n !== 1) throw invalid("n", "zhiyu_tools supports n = 1 only");
  if (req.tools.length > 0) throw invalid("tools", "send either client 'tools' or zhiyu_tools, not both");
  let dropped = 0;
  let announce: ((n: number) => void) | null = null; // streams say it as soon as it happens
  const client = engineChatClient(ctx.engine, { temperature: req.sampling.temperature, topP: req.sampling.topP,
    seed: req.sampling.seed, maxTokens: req.maxTokens ?? 512, history: req.history,
    onHistoryDropped: (n) => {
      if (n > dropped) announce?.(n);
      dropped = Math.max(dropped, n);
    } });
  const base = responseBase("chatcmpl", req.model);
  const trace: { id: string; name: string; arguments: string; ok?: boolean; output?: string }[] = [];
  if (!req.stream) {
    const r = await runAgent({ client, messages: req.messages, tools, signal: ctx.signal,
      onEvent: (e) => {
        if (e.kind === "tool_call") trace.push({ ...e.call, arguments: mask(e.call.arguments) });
        if (e.kind === "tool_result") Object.assign(trace.find((t) => t.id === e.call.id) ?? {}, { ok: e.ok, output: mask(e.output) });
      } });
    ctx.metrics.promptTokens += r.usage.promptTokens;
    ctx.metrics.completionTokens += r.usage.completionTokens;
    return { ...base, object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content: r.answer, refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage: usage(r.usage.promptTokens, r.usage.completionTokens), zhiyu_tool_trace: trace,
      ...(dropped > 0 ? historyNotice(dropped, ctx.engine.contextLength) : {}) };
  }
  // The stream (and its 200) starts with the first event, after the first generation step was admitted: a full
  // queue before that is a plain 429.
  ctx.engine.admit(1);
  const sse = new SseWriter(res);
  const chunkBase = { ...base, object: "chat.completion.chunk" };
  const extra = req.includeUsage ? { usage: null } : {};
  let started = false;
  const chunk = (delta: object, finish: string | null = null) => {
    if (!started) {
      started = true;
      sse.send({ ...chunkBase, choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }], ...extra });
    }
    sse.send({ ...chunkBase, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
  };
  announce = (n) => {
    if (!started) {
      started = true;
      sse.send({ ...chunkBase, choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }], ...extra });
    }
    sse.send({ ...chunkBase, choices: [], ...extra, ...historyNotice(n, ctx.engine.contextLength) });
  };
  let k = 0;
  let firstText = true;
  try {
    const r = await runAgent({ client, messages: req.messages, tools, signal: ctx.signal,
      onText: (text) => {
        if (firstText) observeFirstToken(ctx)();
        firstText = false;
        chunk({ content: text });
      },
      onEvent: (e) => {
        if (e.kind === "tool_call") {
          chunk({ tool_calls: [{ index: k, id: e.call.id, type: "function", function: { name: e.call.name, arguments: "" } }] });
          chunk({ tool_calls: [{ index: k++, function: { arguments: mask(e.call.arguments) } }] });
        } else if (e.kind === "tool_result") {
          chunk({ zhiyu_tool_result: { tool_call_id: e.call.id, name: e.call.name, ok: e.ok, content: mask(e.output) } });
        }
      } });
    ctx.metrics.promptTokens += r.usage.promptTokens;
    ctx.metrics.completionTokens += r.usage.completionTokens;
    chunk({}, "stop");
    if (req.includeUsage) sse.send({ ...chunkBase, choices: [], usage: usage(r.usage.promptTokens, r.usage.completionTokens) });
  } catch (err) {
    if (!started) throw err;
    return endStreamWithError(sse, err);
  }
  sse.done();
  return null;
}

/** The server's tools a request may use: all for `zhiyu_tools: true`, else the named subset (400 for a name the
 *  server does not run, so a client cannot reach a tool the operator did not enable). */
function selectServerTools(enabled: readonly Tool[], wanted: true | string[]): readonly Tool[] {
  if (wanted === true) return enabled;
  const byName = new Map(enabled.map((t) => [t.definition.name, t]));
  const unknown = wanted.filter((n) => !byName.has(n));
  if (unknown.length > 0) {
    throw invalid("zhiyu_tools", `this server does not run ${unknown.map((n) => JSON.stringify(n)).join(", ")}; it runs ` +
      `${[...byName.keys()].join(", ")}`, "unknown_tool");
  }
  if (wanted.length === 0) throw invalid("zhiyu_tools", "name at least one tool, or send false");
  return [...new Set(wanted)].map((n) => byName.get(n)!);
}

function legacyLogprobs(entries: LogprobEntry[], startOffset: number) {
  const text_offset: number[] = [];
  let offset = startOffset;
  for (const e of entries) {
    text_offset.push(offset);
    offset += e.token.length;
  }
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => Object.fromEntries(e.top_logprobs.map((t) => [t.token, t.logprob]))),
    text_offset,
  };
}

/** POST /v1/completions. */
export async function completions(ctx: RouteContext, body: unknown, res: ServerResponse): Promise<unknown | null> {
  const req = parseCompletionRequest(body);
  checkModel(ctx, req);
  if (req.suffix !== null && req.suffix.length > 0) throw invalid("suffix", "'suffix' (fill-in-the-middle) is not supported");
  const prompts = req.prompts.map((p, i) => ctx.engine.encodePrompt(p, req.prompts.length > 1 ? `prompt[${i}]` : "prompt"));
  prompts.forEach((ids, i) => ctx.engine.budget(ids, req, req.prompts.length > 1 ? `prompt[${i}]` : "prompt"));
  const promptTexts = req.prompts.map((p) => (typeof p === "string" ? p : ctx.engine.model.tokenizer.decode(p)));
  const promptTokens = prompts.reduce((s, p) => s + p.length, 0) * req.n;
  ctx.metrics.promptTokens += promptTokens;
  const base = responseBase("cmpl", req.model);
  const runAll = (onDelta?: (index: number, d: ChoiceDelta) => void) => {
    let first = false;
    const onFirstToken = () => {
      if (!first) observeFirstToken(ctx)();
      first = true;
    };
    return Promise.all(prompts.map((ids, p) => ctx.engine.run({ promptIds: ids, params: req as GenerationParams, signal: ctx.signal,
      promptParam: "prompt" }, { onFirstToken, onDelta: onDelta ? (i, d) => onDelta(p * req.n + i, d) : undefined })));
  };
  if (!req.stream) {
    const perPrompt = await runAll();
    let completion = 0;
    const choices = perPrompt.flatMap((outs, p) => outs.map((o) => {
      completion += o.completionTokens;
      const prefix = req.echo ? promptTexts[p] : "";
      return {
        text: prefix + o.text,
        index: p * req.n + o.index,
        logprobs: req.topLogprobs === null ? null : legacyLogprobs(o.logprobs, prefix.length),
        finish_reason: o.finishReason === "tool_calls" ? "stop" : o.finishReason,
      };
    }));
    ctx.metrics.completionTokens += completion;
    return { ...base, object: "text_completion", choices, usage: usage(promptTokens, completion) };
  }
  ctx.engine.admit(prompts.length * req.n); // a 429 before the 200 of a stream; runAll submits in this same turn
  const sse = new SseWriter(res);
  const extra = req.includeUsage ? { usage: null } : {};
  const chunk = (index: number, text: string, logprobs: unknown, finish: string | null) =>
    sse.send({ ...base, object: "text_completion", choices: [{ text, index, logprobs, finish_reason: finish }], ...extra });
  const offsets = new Map<number, number>();
  if (req.echo) prompts.forEach((_, p) => { for (let i = 0; i < req.n; i++) chunk(p * req.n + i, promptTexts[p], null, null); });
  let perPrompt: ChoiceOutcome[][];
  try {
    perPrompt = await runAll((index, d) => {
      const off = offsets.get(index) ?? 0;
      offsets.set(index, off + (d.text?.length ?? 0));
      chunk(index, d.text ?? "", req.topLogprobs === null || !d.logprobs ? null : legacyLogprobs(d.logprobs, off), null);
    });
  } catch (err) {
    return endStreamWithError(sse, err);
  }
  let completion = 0;
  perPrompt.forEach((outs, p) => outs.forEach((o) => {
    completion += o.completionTokens;
    chunk(p * req.n + o.index, "", null, o.finishReason === "tool_calls" ? "stop" : o.finishReason);
  }));
  ctx.metrics.completionTokens += completion;
  if (req.includeUsage) sse.send({ ...base, object: "text_completion", choices: [], usage: usage(promptTokens, completion) });
  sse.done();
  return null;
}

/** Little-endian float32 bytes, base64 (what openai-node asks for by default and decodes). */
export function float32ToBase64(v: Float32Array): string {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i], i * 4);
  return buf.toString("base64");
}

/** POST /v1/embeddings: mean-pooled final hidden states, L2-normalised (as llama.cpp's server does by default). */
export async function embeddings(ctx: RouteContext, body: unknown): Promise<unknown> {
  const req = parseEmbeddingRequest(body);
  if (!ctx.modelNames.includes(req.model)) { // embeddings come from the base model only
    throw new ApiError(404, `The model '${req.model}' does not exist for embeddings; this server embeds with '${ctx.modelNames[0]}' (see GET /v1/models).`,
      "invalid_request_error", "model", "model_not_found");
  }
  const model = ctx.engine.model;
  if (req.dimensions !== null && req.dimensions !== model.embeddingDim) {
    throw invalid("dimensions", `this model's embeddings have ${model.embeddingDim} dimensions; 'dimensions' = ${req.dimensions} is not supported`);
  }
  let total = 0;
  const encoded = req.inputs.map((input, index) => {
    const param = req.inputs.length > 1 ? `input[${index}]` : "input";
    const ids = ctx.engine.encodePrompt(input, param);
    if (ids.length > ctx.engine.contextLength) {
      throw new ApiError(400, `input has ${ids.length} tokens; the maximum is ${ctx.engine.contextLength}`, "invalid_request_error",
        param, "context_length_exceeded");
    }
    if (ids.length === 0) throw invalid(param, "the input is empty after tokenization");
    total += ids.length;
    return ids;
  });
  // Through the scheduler: queued with the other requests, embedded a slice per step, ended by disconnect/time limit.
  const vectors = await ctx.engine.embed(encoded, ctx.signal);
  const data = vectors.map((v, index) => {
    let norm = 0;
    for (let i = 0; i < v.length; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    const unit = new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) unit[i] = norm > 0 ? v[i] / norm : 0;
    return { object: "embedding", index, embedding: req.encodingFormat === "base64" ? float32ToBase64(unit) : Array.from(unit) };
  });
  ctx.metrics.promptTokens += total;
  return { object: "list", data, model: req.model, usage: { prompt_tokens: total, total_tokens: total } };
}
