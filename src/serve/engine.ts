// The serving engine between the HTTP routes and the batching scheduler: turns a validated request into prompt ids
// (chat template, tool prompt), an output constraint (JSON schema / tool_choice grammar, failing closed with 400),
// and n scheduled sequences; then turns each sequence's tokens into text deltas (UTF-8-safe, stop strings held
// back), tool calls and log-probabilities, delivered to a sink as they happen. The routes only format them.
// Leaves out: HTTP and the wire shapes (routes.ts), the decode loop itself (infer/scheduler.ts).
import { renderChat, TEMPLATE_ENCODING } from "../infer/chat-template.js";
import { samplingDefaults } from "../infer/sampling-defaults.js";
import { StopStringMatcher } from "../infer/generate.js";
import { Grammar, GrammarError } from "../infer/grammar/grammar.js";
import { grammarFromJsonSchema, jsonObjectGrammar, UnsupportedSchemaError } from "../infer/grammar/json-schema.js";
import { GrammarConstraint, TokenTrie, type TokenConstraint } from "../infer/grammar/token-mask.js";
import { AllConstraints, Utf8Constraint, Utf8Table } from "../infer/grammar/utf8-constraint.js";
import type { GenerativeModel } from "../infer/model-api.js";
import type { EncodeOptions } from "../tokenizers/tokenizer.js";
import { Sampler, type SamplingParams } from "../infer/sampler.js";
import { EmbeddingCancelledError, QueueFullError, Scheduler, type SequenceResult, type TokenEvent } from "../infer/scheduler.js";
import { ApiError, invalid } from "./errors.js";
import { BoundedEncoder } from "./prompt-tokens.js";
import type { ChatRequest, GenerationParams, ToolDefinition } from "./protocol.js";
import { ReasoningSplitter } from "./reasoning.js";
import { toolCallGrammar, type ParsedToolCall, type ToolCallParser } from "./tool-calls.js";
import { toolCallFormatOf, type ToolCallFormat } from "./tool-formats.js";

export interface LogprobEntry {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export interface ChoiceDelta {
  text?: string;
  /** Text inside the reply's <think> block (chat replies of reasoning models), as reasoning_content. */
  reasoning?: string;
  toolCalls?: ParsedToolCall[];
  logprobs?: LogprobEntry[];
}

export type ChoiceFinish = "stop" | "length" | "tool_calls";

export interface ChoiceOutcome {
  index: number;
  text: string;
  toolCalls: ParsedToolCall[];
  /** The reply's <think> text ("" when it had none). */
  reasoning: string;
  finishReason: ChoiceFinish;
  completionTokens: number;
  /** Prompt tokens served from a reused KV cache. */
  cachedTokens: number;
  logprobs: LogprobEntry[];
}

export interface GenerationJob {
  promptIds: number[];
  params: GenerationParams;
  /** Fresh constraint per choice (grammar state is per sequence), closing the output within maxTokens. */
  makeConstraint?: (maxTokens: number) => TokenConstraint;
  /** A fresh tool-call parser per choice (the model's format, the request's tool names); none: no tool parsing. */
  toolParser?: () => ToolCallParser;
  signal?: AbortSignal;
  /** Request field named in a prompt-too-long error ("messages" or "prompt"). */
  promptParam?: string;
  /** Chat replies: split a leading <think> block off as reasoning (startsInside: the prompt already opened it). */
  reasoning?: { startsInside: boolean };
}

export interface GenerationSink {
  /** First token of any choice (for time-to-first-token). */
  onFirstToken?(): void;
  onDelta?(index: number, delta: ChoiceDelta): void;
}

export interface EngineOptions {
  /** Per-request wall-clock limit in ms; the sequence ends with finish_reason "length" past it. */
  requestTimeoutMs: number;
}

/** max_tokens when a request with constrained output (response_format json_object/json_schema, tool_choice
 *  required or a named function) sets none: enough for any reasonable JSON, and the grammar closes the JSON
 *  before the budget ends, so a weak model cannot run to the context limit. */
export const DEFAULT_CONSTRAINED_MAX_TOKENS = 1024;

export class Engine {
  private trie: TokenTrie | null = null;
  private utf8: Utf8Table | null = null;
  private readonly bounded: BoundedEncoder;
  readonly contextLength: number;
  /** How this model's template takes tools and how its replies write calls (read from the template text). */
  readonly toolFormat: ToolCallFormat;

  constructor(readonly model: GenerativeModel, readonly scheduler: Scheduler, readonly options: EngineOptions) {
    // What a prompt may hold: the context (causal) or the source limit (seq2seq, whose reply has its own room).
    this.contextLength = model.kind === "seq2seq" ? scheduler.promptLimit : scheduler.contextLength;
    this.bounded = new BoundedEncoder(model.tokenizer, model.vocabSize);
    this.toolFormat = toolCallFormatOf(model.chatTemplate);
  }

  /** Encodes client text with work bounded by the context (prompt-tokens.ts); a 400 when it cannot fit. */
  private encodeBounded(text: string, options: EncodeOptions, param: string): number[] {
    const ids = this.bounded.encode(text, options, this.contextLength);
    if (ids === null) throw this.tooLong(param, text.length);
    return ids;
  }

  private tooLong(param: string, chars: number): ApiError {
    return new ApiError(400, `This model's maximum context length is ${this.contextLength} tokens, but the ${param} has more ` +
      `(${chars} characters). Shorten the ${param}.`, "invalid_request_error", param, "context_length_exceeded");
  }

  /** The vocabulary trie for grammar masks, built on first use. */
  get tokenTrie(): TokenTrie {
    this.trie ??= new TokenTrie(this.model.tokenizer, this.model.vocabSize);
    return this.trie;
  }

  /** Per-token UTF-8 transitions, built on first use: every reply is kept valid UTF-8 (no U+FFFD from a model
   *  that follows a lead byte with something else). */
  get utf8Table(): Utf8Table {
    this.utf8 ??= new Utf8Table(this.model.tokenizer, this.model.vocabSize);
    return this.utf8;
  }

  /** The sampling constraint of one choice: valid UTF-8, plus the job's grammar if any. */
  private constraintFor(job: GenerationJob, maxTokens: number): TokenConstraint {
    const utf8 = new Utf8Constraint(this.utf8Table);
    const grammar = job.makeConstraint?.(maxTokens);
    return grammar ? new AllConstraints([utf8, grammar]) : utf8;
  }

  /** Prompt tokens of a chat request for the history policy; contextLength + 1 when the prompt certainly does not
   *  fit (counted with bounded work, like prepareChat). */
  chatPromptLength(req: ChatRequest): number {
    try {
      return this.prepareChat(req).promptIds.length;
    } catch (err) {
      if (err instanceof ApiError && err.code === "context_length_exceeded") return this.contextLength + 1;
      throw err;
    }
  }

  /** Prompt ids, constraint and tool parsing for a chat request (throws ApiError 400s). */
  prepareChat(req: ChatRequest): Omit<GenerationJob, "params" | "signal"> {
    // Before rendering: content that cannot fit is refused without copying it through the template.
    const chars = req.messages.reduce((n, m) => n + (m.content?.length ?? 0), 0);
    if (!this.bounded.mayFit(chars, this.contextLength)) throw this.tooLong("messages", chars);
    const useTools = req.toolChoice !== "none" && req.tools.length > 0;
    const tools: ToolDefinition[] = useTools ? req.tools : [];
    const format = this.toolFormat;
    const conversation = format.prepare(req.messages, tools);
    let text: string;
    try {
      // A system message for a template without a system role (Gemma) joins the first user turn, as in llama-server.
      text = renderChat(this.model, conversation.messages, { addGenerationPrompt: true, tools: conversation.tools,
        extra: req.templateKwargs, protectContent: true, mergeSystemIfUnsupported: true });
    } catch (err) {
      throw invalid("messages", (err as Error).message, "invalid_messages");
    }
    // Only the template's markers become special tokens; what the client wrote is plain text (no forged turns).
    const promptIds = this.encodeBounded(text, TEMPLATE_ENCODING, "messages");
    let grammar: Grammar | null = null;
    try {
      if (req.toolChoice === "required") grammar = toolCallGrammar(tools, req.parallelToolCalls && format.parallel, format.grammar);
      else if (typeof req.toolChoice === "object") {
        const name = req.toolChoice.name;
        grammar = toolCallGrammar(tools.filter((t) => t.name === name), false, format.grammar);
      } else if (req.responseFormat.type === "json_object") grammar = jsonObjectGrammar();
      else if (req.responseFormat.type === "json_schema") grammar = grammarFromJsonSchema(req.responseFormat.schema);
    } catch (err) {
      if (err instanceof UnsupportedSchemaError || err instanceof GrammarError) {
        const param = req.toolChoice === "required" || typeof req.toolChoice === "object" ? "tools" : "response_format.json_schema.schema";
        throw new ApiError(400, `${err.message}. The server enforces schemas by constrained decoding and refuses ` +
          "schemas it cannot enforce rather than return unconstrained output.", "invalid_request_error", param, "unsupported_schema");
      }
      throw err;
    }
    const stopIds = this.model.stopTokenIds;
    const makeConstraint = grammar ? (maxTokens: number) => new GrammarConstraint(grammar!, this.tokenTrie, stopIds, maxTokens) : undefined;
    const toolNames = new Set(tools.map((t) => t.name));
    return { promptIds, makeConstraint, toolParser: useTools ? () => format.parser(toolNames) : undefined,
      reasoning: { startsInside: /<think>\s*$/.test(text) } };
  }

  /** Encodes a completion prompt (text or ids) and checks ids are in the vocabulary. */
  encodePrompt(prompt: string | number[], param: string): number[] {
    if (typeof prompt === "string") return this.encodeBounded(prompt, { addSpecialTokens: true }, param);
    for (const id of prompt) {
      if (id < 0 || id >= this.model.vocabSize) throw invalid(param, `token id ${id} is outside the vocabulary [0, ${this.model.vocabSize})`);
    }
    return prompt;
  }

  /** Checks that the prompt fits and returns the completion budget. */
  budget(promptIds: readonly number[], params: GenerationParams, param: string, constrained = false): number {
    if (promptIds.length === 0) throw invalid(param, "the prompt is empty after tokenization");
    if (promptIds.length > this.scheduler.promptLimit) {
      throw new ApiError(400, `This model's maximum context length is ${this.contextLength} tokens, but the prompt has ` +
        `${promptIds.length} tokens. Shorten the ${param}.`, "invalid_request_error", param, "context_length_exceeded");
    }
    const room = this.scheduler.replyRoom(promptIds.length);
    if (this.model.kind === "seq2seq" && params.maxTokens !== undefined && params.maxTokens !== null && params.maxTokens > room) {
      throw new ApiError(400, `max_tokens ${params.maxTokens}: this encoder-decoder model's decoder holds ${room + 1} positions (the start ` +
        `token takes one), so a reply has at most ${room} tokens. Ask for fewer.`, "invalid_request_error", "max_tokens", "context_length_exceeded");
    }
    const asked = params.maxTokens ?? (constrained ? DEFAULT_CONSTRAINED_MAX_TOKENS : room);
    return Math.min(asked, room);
  }

  /** Throws the 429 a request for `count` sequences would get now, so a stream is only started once it is admitted
   *  (nothing awaits between this check and the submit that follows it in the same turn). */
  admit(count: number): void {
    if (!this.scheduler.canAdmit(count)) throw busy(this.scheduler.busyError());
  }

  /** Embeds token sequences through the scheduler (queued, sliced per step, ended by the signal or the time limit). */
  async embed(inputs: readonly (readonly number[])[], signal?: AbortSignal): Promise<Float32Array[]> {
    let pending: Promise<Float32Array[]>;
    try {
      pending = this.scheduler.submitEmbedding({ inputs, signal, deadline: Date.now() + this.options.requestTimeoutMs });
    } catch (err) {
      throw err instanceof QueueFullError ? busy(err) : err;
    }
    try {
      return await pending;
    } catch (err) {
      if (err instanceof EmbeddingCancelledError && err.reason === "deadline") {
        // 408 rather than a 5xx: the remedy is the client's (fewer or shorter inputs), the server is healthy.
        throw new ApiError(408, `the embedding request did not finish within the server's time limit (${this.options.requestTimeoutMs / 1000} s); ` +
          "send fewer or shorter inputs per request, or retry later", "timeout_error", "input", "request_timeout", { "retry-after": "5" });
      }
      throw err;
    }
  }

  /** Runs n choices through the scheduler; deltas go to the sink as they are produced. */
  async run(job: GenerationJob, sink: GenerationSink = {}): Promise<ChoiceOutcome[]> {
    const p = job.params;
    const maxTokens = this.budget(job.promptIds, p, job.promptParam ?? "messages", job.makeConstraint !== undefined);
    for (const id of p.logitBias.keys()) {
      if (id >= this.model.vocabSize) throw invalid("logit_bias", `logit_bias token id ${id} is outside the vocabulary [0, ${this.model.vocabSize})`);
    }
    const sampling = this.samplingFor(p.sampling);
    let firstSeen = false;
    const deadline = Date.now() + this.options.requestTimeoutMs;
    const choices = Array.from({ length: p.n }, (_, index) => new ChoiceState(index, this.model, p.stop, job.toolParser?.() ?? null, p.ignoreEos,
      job.reasoning && !job.makeConstraint ? new ReasoningSplitter(job.reasoning.startsInside) : null));
    const runs: Promise<SequenceResult>[] = [];
    // One signal for all choices, so a refused choice (queue full) cancels its siblings too.
    const cancel = new AbortController();
    if (job.signal?.aborted) cancel.abort();
    job.signal?.addEventListener("abort", () => cancel.abort(), { once: true });
    try {
      for (const choice of choices) {
        const seed = sampling.seed !== undefined ? sampling.seed + choice.index : Math.floor(Math.random() * 2 ** 31);
        runs.push(this.scheduler.submit({
          promptIds: job.promptIds,
          maxTokens,
          sampler: new Sampler({ ...sampling, seed }),
          logitBias: p.logitBias.size > 0 ? p.logitBias : undefined,
          constraint: this.constraintFor(job, maxTokens),
          stopTokenIds: new Set(p.ignoreEos ? [] : this.model.stopTokenIds),
          topLogprobs: p.topLogprobs,
          adapters: p.adapters,
          signal: cancel.signal,
          deadline,
          onToken: (event) => {
            if (!firstSeen) {
              firstSeen = true;
              sink.onFirstToken?.();
            }
            const { delta, stopped } = choice.push(event);
            if (delta) sink.onDelta?.(choice.index, delta);
            return stopped;
          },
        }));
      }
    } catch (err) {
      cancel.abort();
      throw err instanceof QueueFullError ? busy(err) : err;
    }
    const results = await Promise.all(runs);
    const outcomes: ChoiceOutcome[] = [];
    for (let i = 0; i < choices.length; i++) {
      const r = results[i];
      if (r.finishReason === "error") {
        throw new ApiError(500, `generation failed: ${r.error?.message ?? "unknown error"}`, "server_error", null, "generation_failed",
          { "x-should-retry": "false" });
      }
      const { delta, outcome } = choices[i].finish(r);
      if (delta) sink.onDelta?.(i, delta);
      outcomes.push(outcome);
    }
    return outcomes;
  }

  /** Request sampling settings over the defaults shared with the CLI (infer/sampling-defaults.ts). */
  private samplingFor(req: SamplingParams): SamplingParams {
    const d = samplingDefaults(this.model);
    return {
      temperature: req.temperature ?? d.temperature,
      topP: req.topP ?? d.topP,
      topK: req.topK ?? d.topK,
      minP: req.minP ?? d.minP,
      repetitionPenalty: req.repetitionPenalty ?? d.repetitionPenalty,
      presencePenalty: req.presencePenalty,
      frequencyPenalty: req.frequencyPenalty,
      seed: req.seed,
    };
  }
}

/** The 429 for a full queue, with Retry-After. */
function busy(err: QueueFullError): ApiError {
  return new ApiError(429, `The server is busy (${err.queued} requests queued); retry in ${err.retryAfterSeconds} s.`,
    "rate_limit_error", null, "queue_full", { "retry-after": String(err.retryAfterSeconds) });
}

/** One choice's text assembly: stream decoder → stop strings → tool-call parser, plus log-probabilities. */
class ChoiceState {
  private readonly decoder;
  private readonly matcher: StopStringMatcher;
  private readonly tools: ToolCallParser | null;
  private readonly stopIds: Set<number>;
  private pendingLogprobs: LogprobEntry[] = [];
  private stoppedByString = false;
  text = "";
  reasoning = "";
  toolCalls: ParsedToolCall[] = [];
  logprobs: LogprobEntry[] = [];

  constructor(readonly index: number, private readonly model: GenerativeModel, stop: readonly string[], tools: ToolCallParser | null,
    ignoreEos = false, private readonly thinking: ReasoningSplitter | null = null) {
    this.decoder = model.tokenizer.createStreamDecoder({ skipSpecialTokens: ignoreEos });
    this.matcher = new StopStringMatcher(stop);
    this.tools = tools;
    this.stopIds = new Set(ignoreEos ? [] : model.stopTokenIds);
  }

  push(event: TokenEvent): { delta: ChoiceDelta | null; stopped: boolean } {
    if (this.stopIds.has(event.id)) return { delta: null, stopped: true };
    if (event.logprob !== undefined) this.pendingLogprobs.push(this.entry(event));
    const { emit, stopped } = this.matcher.push(this.decoder.push(event.id));
    if (stopped) this.stoppedByString = true;
    return { delta: this.deliver(emit, false), stopped };
  }

  finish(r: SequenceResult): { delta: ChoiceDelta | null; outcome: ChoiceOutcome } {
    let tail = "";
    if (!this.stoppedByString) {
      // A reply cut by max_tokens can end inside a character: drop those bytes rather than send U+FFFD.
      const { emit, stopped } = this.matcher.push(this.decoder.flush({ dropIncomplete: r.finishReason === "length" }));
      tail = emit + (stopped ? "" : this.matcher.flush());
    }
    const delta = this.deliver(tail, true);
    const finishReason: ChoiceFinish = this.toolCalls.length > 0 ? "tool_calls" : r.finishReason === "length" ? "length" : "stop";
    return {
      delta,
      outcome: { index: this.index, text: this.text, toolCalls: this.toolCalls, reasoning: this.reasoning, finishReason, completionTokens: r.completionTokens,
        cachedTokens: r.cachedTokens, logprobs: this.logprobs },
    };
  }

  private deliver(text: string, final: boolean): ChoiceDelta | null {
    const delta: ChoiceDelta = {};
    let out = "";
    if (this.thinking) {
      const part = this.thinking.push(text);
      const tail = final ? this.thinking.end() : { reasoning: "", content: "" };
      const reasoning = part.reasoning + tail.reasoning;
      text = part.content + tail.content;
      if (reasoning.length > 0) {
        delta.reasoning = reasoning;
        this.reasoning += reasoning;
      }
    }
    if (this.tools) {
      const events = final ? [...this.tools.push(text), ...this.tools.end()] : this.tools.push(text);
      const calls: ParsedToolCall[] = [];
      for (const e of events) {
        if (e.kind === "text") out += e.text;
        else calls.push(e.call);
      }
      if (calls.length > 0) {
        delta.toolCalls = calls;
        this.toolCalls.push(...calls);
      }
    } else out = text;
    if (out.length > 0) {
      delta.text = out;
      this.text += out;
    }
    // Log-probabilities travel with the text they produced (or with the last delta).
    if (this.pendingLogprobs.length > 0 && (out.length > 0 || delta.toolCalls || delta.reasoning || final)) {
      delta.logprobs = this.pendingLogprobs;
      this.logprobs.push(...this.pendingLogprobs);
      this.pendingLogprobs = [];
    }
    return delta.text !== undefined || delta.reasoning !== undefined || delta.toolCalls || delta.logprobs ? delta : null;
  }

  private entry(e: TokenEvent): LogprobEntry {
    const info = (id: number) => {
      const bytes = this.model.tokenizer.tokenBytes(id);
      const token = bytes.length > 0 ? new TextDecoder().decode(bytes) : this.model.tokenizer.idToToken(id) ?? "";
      return { token, bytes: Array.from(bytes) };
    };
    return { ...info(e.id), logprob: e.logprob!, top_logprobs: (e.top ?? []).map((t) => ({ ...info(t.id), logprob: t.logprob })) };
  }
}
