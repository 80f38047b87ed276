// Continuous batching: every active sequence advances by one token per step, and one model.forward() call per step
// carries all of them (new sequences bring their whole prompt as their item, so prefill rides along with the
// others' decode). New requests join between steps, cancelled ones (client gone, time limit) leave between steps
// and free their slot and KV cache at once. A bounded queue holds requests waiting for a slot; past it submit()
// throws QueueFullError (the server answers 429).
// Text is not this file's business: callers get token ids (with log-probabilities when asked) through onToken and
// decide there whether a stop string ended the sequence.
// Long prompts are fed in chunks of at most prefillChunk tokens per step, so one long prompt does not stall everyone
// else's decoding for its whole prefill.
// Prefix reuse: a finished sequence's KV cache is kept (up to `parallel` of them, least recently used evicted); a new
// request whose prompt starts with the same tokens — the next turn of a chat, an agent's next step — takes it over,
// truncated to the common prefix, and only feeds the rest.
// Embedding requests share the slots, the queue and the loop: an admitted request holds one slot and embeds a slice
// of its inputs per step (at most prefillChunk tokens, at least one input) through the model's batch embedder, so a
// request with thousands of long inputs never holds the event loop for more than one step, and a disconnect or the
// deadline ends it between slices.
// LoRA: a request may name adapters (SequenceRequest.adapters); rows with different adapters share a step (the model
// sets per-row adapter factors), and a kept cache is reused only by a request with the same adapters.
// A seq2seq model (T5) runs through the same loop: an admitted request's prompt is its source, encoded once when
// its sequence is created; the sequence then feeds the decoder start token and one sampled token per step, batched
// with every other sequence's decoder step. Its prompt is checked against the source limit, its reply against the
// target limit (promptLimit, replyRoom); no prefix reuse (a decoder cache depends on the whole source).
// Leaves out: sharing one prefix between several live sequences (copy-on-write caches), priorities.
import { batchEmbedderOf, requireKind, type AdapterChoice, type BatchEmbedder, type GenerativeModel, type Seq2SeqModel, type SequenceState, type ForwardItem } from "./model-api.js";
import { adapterKey } from "./lora-slots.js";
import type { Sampler } from "./sampler.js";
import type { TokenConstraint } from "./grammar/token-mask.js";

export type FinishReason = "stop" | "length" | "cancelled" | "error";

export interface TokenLogprob {
  id: number;
  logprob: number;
}

export interface TokenEvent {
  id: number;
  /** Log-probability of id under the (biased, constrained) distribution at temperature 1; present when asked. */
  logprob?: number;
  /** The most likely alternatives, best first; present when topLogprobs > 0. */
  top?: TokenLogprob[];
}

export interface SequenceRequest {
  promptIds: readonly number[];
  maxTokens: number;
  sampler: Sampler;
  /** Added to the logits before sampling (OpenAI logit_bias, already range-checked). */
  logitBias?: ReadonlyMap<number, number>;
  constraint?: TokenConstraint;
  /** Ids that end the sequence (the id itself is reported through onToken, then finish "stop"). */
  stopTokenIds: ReadonlySet<number>;
  /** null: no log-probabilities; k ≥ 0: the chosen token's and the k best. */
  topLogprobs?: number | null;
  /** Called with each sampled token; return true to end the sequence with "stop" (e.g. a stop string matched). */
  onToken(event: TokenEvent): boolean | void;
  signal?: AbortSignal;
  /** Wall-clock deadline (Date.now() ms); past it the sequence ends with "length". */
  deadline?: number;
  /** LoRA adapters this sequence runs with (TextModel.loraAdapters names); rides in the same steps as the others. */
  adapters?: AdapterChoice;
}

export interface SequenceResult {
  finishReason: FinishReason;
  promptTokens: number;
  /** Prompt tokens whose KV cache was reused from an earlier sequence (not recomputed). */
  cachedTokens: number;
  completionTokens: number;
  /** Set when finishReason is "error". */
  error?: Error;
  /** Whether the deadline ended the sequence. */
  timedOut: boolean;
}

export interface EmbeddingRequest {
  /** Token ids of each input (each non-empty). */
  inputs: readonly (readonly number[])[];
  signal?: AbortSignal;
  /** Wall-clock deadline (Date.now() ms); past it the request ends with EmbeddingCancelledError("deadline"). */
  deadline?: number;
}

/** An embedding request that ended before all its inputs were embedded (client gone or past its deadline). */
export class EmbeddingCancelledError extends Error {
  override name = "EmbeddingCancelledError";
  constructor(readonly reason: "cancelled" | "deadline") {
    super(`[scheduler] the embedding request ended early: ${reason === "deadline" ? "past its time limit" : "cancelled"}`);
  }
}

interface EmbedActive {
  kind: "embed";
  req: EmbeddingRequest;
  next: number;
  vectors: Float32Array[];
  resolve: (v: Float32Array[]) => void;
  reject: (e: Error) => void;
  finished: boolean;
}

export class QueueFullError extends Error {
  override name = "QueueFullError";
  constructor(readonly queued: number, readonly retryAfterSeconds: number) {
    super(`[scheduler] the queue is full (${queued} requests waiting); retry after ${retryAfterSeconds} s`);
  }
}

export interface SchedulerOptions {
  /** Most sequences decoding at once (slots). */
  parallel: number;
  /** Most sequences waiting for a slot; beyond it submit() throws QueueFullError. */
  maxQueue: number;
  /** Context length cap (≤ model.contextLength). */
  contextLength?: number;
  /** Most prompt tokens one sequence feeds per step (default 512). */
  prefillChunk?: number;
  /** Keep finished sequences' caches for prompts that share their prefix (default true). */
  prefixReuse?: boolean;
  /** What embedding requests run on (default: the model's own embed(), one input at a time). */
  embedder?: BatchEmbedder;
}

interface Active {
  kind?: undefined;
  req: SequenceRequest;
  seq: SequenceState | null;
  /** Tokens in seq's cache, in order (what a later prompt can share). */
  cached: number[];
  reused: number;
  /** Tokens to feed at the next step: the prompt first, then the last sampled token. */
  pending: number[];
  history: number[];
  generated: number;
  timedOut: boolean;
  resolve: (r: SequenceResult) => void;
  finished: boolean;
}

export class Scheduler {
  readonly parallel: number;
  readonly maxQueue: number;
  readonly contextLength: number;
  readonly prefillChunk: number;
  readonly prefixReuse: boolean;
  private readonly queue: (Active | EmbedActive)[] = [];
  private readonly embedding: EmbedActive[] = [];
  private readonly embedder: BatchEmbedder;
  /** Finished sequences kept for prefix reuse, most recently finished first. */
  private idle: { seq: SequenceState; tokens: number[]; adapters: string }[] = [];
  private readonly active: Active[] = [];
  private running = false;
  /** Each step's logits, written in place (ForwardOptions.into; grown to the batch): a step allocates no vocab-sized
   *  arrays. A row is sampled from before the next step and never kept (advance copies it where it writes). */
  private logitsBuffer = new Float32Array(0);
  /** Steps run and sequences they carried since start (batching efficiency = batchedItems / steps). */
  stats = { steps: 0, batchedItems: 0 };

  /** The model when it is seq2seq (prompts are sources), else null. */
  private readonly seq2seq: Seq2SeqModel | null;

  constructor(private readonly model: GenerativeModel, options: SchedulerOptions) {
    requireKind(model, ["causal-lm", "seq2seq"], "the batching scheduler (completions, chat)"); // an encoder passed in by a cast
    this.seq2seq = model.kind === "seq2seq" ? model : null;
    if (!Number.isInteger(options.parallel) || options.parallel < 1) {
      throw new RangeError(`[scheduler] parallel = ${options.parallel}; expected an integer ≥ 1`);
    }
    this.parallel = options.parallel;
    this.maxQueue = Math.max(0, options.maxQueue);
    this.contextLength = Math.min(options.contextLength ?? model.contextLength, model.contextLength);
    this.prefillChunk = options.prefillChunk ?? 512;
    this.prefixReuse = (options.prefixReuse ?? true) && this.seq2seq === null;
    this.embedder = options.embedder ?? batchEmbedderOf(model);
    if (!Number.isInteger(this.prefillChunk) || this.prefillChunk < 1) {
      throw new RangeError(`[scheduler] prefillChunk = ${options.prefillChunk}; expected an integer ≥ 1`);
    }
  }

  /** Longest prompt a request may bring: the context minus one (causal), the source limit (seq2seq). */
  get promptLimit(): number {
    return this.seq2seq ? this.seq2seq.sourceLength : this.contextLength - 1;
  }

  /** Most tokens a reply to a prompt of this length can have. */
  replyRoom(promptTokens: number): number {
    return this.seq2seq ? this.contextLength - 1 : Math.max(0, this.contextLength - promptTokens);
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get activeCount(): number {
    return this.active.length + this.embedding.length;
  }

  /** Whether `count` more requests would be accepted now (a slot or queue room for each). */
  canAdmit(count: number): boolean {
    const freeSlots = Math.max(0, this.parallel - this.activeCount);
    return this.queue.length + count <= this.maxQueue + freeSlots;
  }

  /** The error a full queue answers with (its Retry-After grows with the queue). */
  busyError(): QueueFullError {
    return new QueueFullError(this.queue.length, 1 + Math.ceil(this.queue.length / this.parallel));
  }

  /** Queues an embedding request; resolves with one vector per input. Throws QueueFullError like submit(). */
  submitEmbedding(req: EmbeddingRequest): Promise<Float32Array[]> {
    if (req.inputs.some((t) => t.length === 0)) throw new Error("[scheduler] an embedding input is empty; give at least one token id");
    if (!this.canAdmit(1)) throw this.busyError();
    return new Promise<Float32Array[]>((resolve, reject) => {
      const e: EmbedActive = { kind: "embed", req, next: 0, vectors: [], resolve, reject, finished: false };
      if (req.signal?.aborted) return reject(new EmbeddingCancelledError("cancelled"));
      req.signal?.addEventListener("abort", () => {
        const i = this.queue.indexOf(e);
        if (i >= 0) {
          this.queue.splice(i, 1);
          this.endEmbedding(e, new EmbeddingCancelledError("cancelled"));
        }
      }, { once: true });
      this.queue.push(e);
      this.kick();
    });
  }

  private endEmbedding(e: EmbedActive, err?: Error): void {
    if (e.finished) return;
    e.finished = true;
    const i = this.embedding.indexOf(e);
    if (i >= 0) this.embedding.splice(i, 1);
    if (err) e.reject(err);
    else e.resolve(e.vectors);
  }

  /** One slice of every active embedding request: inputs up to prefillChunk tokens (at least one) per request. */
  private embedStep(now: number): void {
    for (const e of [...this.embedding]) {
      if (e.req.signal?.aborted) this.endEmbedding(e, new EmbeddingCancelledError("cancelled"));
      else if (e.req.deadline !== undefined && now > e.req.deadline) this.endEmbedding(e, new EmbeddingCancelledError("deadline"));
    }
    for (const e of [...this.embedding]) {
      const slice: (readonly number[])[] = [];
      let tokens = 0;
      while (e.next + slice.length < e.req.inputs.length) {
        const t = e.req.inputs[e.next + slice.length];
        if (slice.length > 0 && tokens + t.length > this.prefillChunk) break;
        slice.push(t);
        tokens += t.length;
      }
      try {
        const out = this.embedder.embedBatch(slice);
        if (out.length !== slice.length) throw new Error(`[scheduler] the embedder returned ${out.length} vectors for ${slice.length} inputs`);
        e.vectors.push(...out);
      } catch (err) {
        this.endEmbedding(e, err as Error);
        continue;
      }
      e.next += slice.length;
      if (e.next >= e.req.inputs.length) this.endEmbedding(e);
    }
  }

  /** Queues a sequence; resolves when it ends. Throws QueueFullError when no slot and no queue room is left. */
  submit(req: SequenceRequest): Promise<SequenceResult> {
    if (req.promptIds.length === 0) throw new Error("[scheduler] the prompt is empty; give at least one token id");
    if (req.promptIds.length > this.promptLimit) {
      throw new RangeError(`[scheduler] the prompt has ${req.promptIds.length} tokens but the ${this.seq2seq ? "source limit" : "context length"} is ` +
        `${this.seq2seq ? this.promptLimit : this.contextLength}`);
    }
    if (!this.canAdmit(1)) throw this.busyError();
    return new Promise<SequenceResult>((resolve) => {
      const a: Active = { req, seq: null, cached: [], reused: 0, pending: [...req.promptIds], history: [...req.promptIds],
        generated: 0, timedOut: false, resolve, finished: false };
      if (req.signal?.aborted) {
        resolve(this.result(a, "cancelled"));
        return;
      }
      req.signal?.addEventListener("abort", () => this.cancelQueued(a), { once: true });
      this.queue.push(a);
      this.kick();
    });
  }

  private cancelQueued(a: Active): void {
    // (Embedding requests leave the queue through their own abort listener.)
    const i = this.queue.indexOf(a);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.finish(a, "cancelled");
    }
    // An active sequence is dropped at the next step boundary (see step()).
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.activeCount > 0) {
        // Let I/O run between steps: new requests arrive, disconnects are noticed, streamed text goes out. With free
        // slots, give I/O a few more turns (microseconds when idle): a new connection is accepted in one poll and
        // read in later ones, and without them a burst of clients would be admitted one per step, each step then
        // paying a prefill alone.
        const turns = this.activeCount < this.parallel ? 4 : 1;
        for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
        this.step();
      }
    } finally {
      this.running = false;
    }
  }

  /** One decode step over every active sequence (admitting queued ones first). */
  private step(): void {
    const now = Date.now();
    for (const a of [...this.active]) {
      if (a.req.signal?.aborted) this.finish(a, "cancelled");
      else if (a.req.deadline !== undefined && now > a.req.deadline) {
        a.timedOut = true;
        this.finish(a, "length");
      }
    }
    while (this.activeCount < this.parallel && this.queue.length > 0) {
      const a = this.queue.shift()!;
      if (a.kind === "embed") {
        this.embedding.push(a);
        continue;
      }
      try {
        this.attach(a);
      } catch (err) {
        this.finish(a, "error", err as Error); // e.g. the encoder refused the source
        continue;
      }
      this.active.push(a);
    }
    if (this.embedding.length > 0) this.embedStep(now);
    if (this.active.length === 0) return;
    const batch = [...this.active];
    // A prompt longer than one chunk feeds its next chunk; the logits of a partial prefill are not sampled from.
    const fed = batch.map((a) => (a.pending.length > this.prefillChunk ? a.pending.slice(0, this.prefillChunk) : a.pending));
    batch.forEach((a, i) => a.cached.push(...fed[i]));
    const items: ForwardItem[] = batch.map((a, i) => ({ seq: a.seq!, tokens: fed[i], adapters: a.req.adapters }));
    let logits: Float32Array[];
    try {
      const need = items.length * this.model.vocabSize;
      if (this.logitsBuffer.length < need) this.logitsBuffer = new Float32Array(need);
      logits = this.model.forward(items, { into: this.logitsBuffer });
    } catch (err) {
      for (const a of batch) this.finish(a, "error", err as Error);
      return;
    }
    this.stats.steps++;
    this.stats.batchedItems += batch.length;
    for (let i = 0; i < batch.length; i++) {
      const a = batch[i];
      if (fed[i].length < a.pending.length) {
        a.pending = a.pending.slice(fed[i].length);
        continue;
      }
      try {
        this.advance(a, logits[i]);
      } catch (err) {
        this.finish(a, "error", err as Error);
      }
    }
  }

  private advance(a: Active, rawLogits: Float32Array): void {
    const req = a.req;
    if (a.generated >= req.maxTokens) return this.finish(a, "length");
    // Bias and masks write into the row: copy it then only (the model's row may be shared or reused).
    const logits = req.logitBias || req.constraint ? new Float32Array(rawLogits) : rawLogits;
    if (req.logitBias) for (const [id, bias] of req.logitBias) if (id < logits.length) logits[id] += bias;
    req.constraint?.mask(logits);
    const id = req.sampler.sample(logits, a.history);
    if (!Number.isFinite(logits[id])) {
      // Every token was masked out: the grammar and the vocabulary cannot agree on a continuation.
      throw new Error("[scheduler] no token is allowed by the output constraint at this point");
    }
    req.constraint?.accept(id);
    const event: TokenEvent = { id };
    if (req.topLogprobs !== undefined && req.topLogprobs !== null) Object.assign(event, logprobsOf(logits, id, req.topLogprobs));
    a.generated++;
    a.history.push(id);
    const stopByCaller = req.onToken(event) === true;
    if (a.finished) return;
    if (req.stopTokenIds.has(id) || stopByCaller || req.constraint?.finished) return this.finish(a, "stop");
    if (a.generated >= req.maxTokens) return this.finish(a, "length");
    if (a.seq!.length + 1 > this.contextLength) return this.finish(a, "length");
    a.pending = [id];
  }

  /** Gives a newly admitted sequence a cache: the idle one sharing the longest prompt prefix, or a fresh one. */
  private attach(a: Active): void {
    const prompt = a.req.promptIds;
    if (this.seq2seq) {
      a.seq = this.seq2seq.createSequence(prompt);
      a.pending = [this.seq2seq.decoderStartTokenId];
      a.history = [this.seq2seq.decoderStartTokenId]; // penalties look at the target side, as transformers does
      return;
    }
    const adapters = adapterKey(a.req.adapters);
    let best = -1;
    let bestLen = 0;
    this.idle.forEach((entry, i) => {
      if (entry.adapters !== adapters) return; // a cache computed with other adapters holds other keys and values
      const t = entry.tokens;
      let n = 0;
      while (n < t.length && n < prompt.length && t[n] === prompt[n]) n++;
      // A ring-buffer (sliding-window) cache cannot go back past what it still holds.
      if (Math.min(n, prompt.length - 1) < (entry.seq.minTruncate ?? 0)) return;
      if (n > bestLen) {
        best = i;
        bestLen = n;
      }
    });
    if (best < 0) {
      a.seq = this.model.kind === "seq2seq" ? this.model.createSequence(prompt) : this.model.createSequence();
      return;
    }
    const [entry] = this.idle.splice(best, 1);
    // At least one prompt token must be fed, to get logits for the first sampled token.
    const keep = Math.min(bestLen, prompt.length - 1);
    entry.seq.truncate(keep);
    a.seq = entry.seq;
    a.cached = prompt.slice(0, keep);
    a.pending = prompt.slice(keep);
    a.reused = keep;
  }

  private finish(a: Active, reason: FinishReason, error?: Error): void {
    if (a.finished) return;
    a.finished = true;
    const i = this.active.indexOf(a);
    if (i >= 0) this.active.splice(i, 1);
    if (a.seq) {
      // A cache is worth keeping only if every fed token is in it (not after an error mid-forward).
      if (this.prefixReuse && (reason === "stop" || reason === "length") && a.seq.length === a.cached.length) {
        this.idle.unshift({ seq: a.seq, tokens: a.cached, adapters: adapterKey(a.req.adapters) });
        while (this.idle.length > this.parallel) this.idle.pop()!.seq.dispose();
      } else a.seq.dispose();
    }
    a.seq = null;
    a.resolve(this.result(a, reason, error));
  }

  private result(a: Active, reason: FinishReason, error?: Error): SequenceResult {
    return { finishReason: reason, promptTokens: a.req.promptIds.length, cachedTokens: a.reused, completionTokens: a.generated,
      error, timedOut: a.timedOut };
  }

  /** Frees the caches kept for prefix reuse (active sequences are untouched). */
  releaseIdle(): void {
    for (const e of this.idle) e.seq.dispose();
    this.idle = [];
  }
}

/** Log-softmax value of `id` and the k best tokens (temperature 1). */
export function logprobsOf(logits: Float32Array, id: number, k: number): { logprob: number; top?: TokenLogprob[] } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  const out: { logprob: number; top?: TokenLogprob[] } = { logprob: logits[id] - logZ };
  if (k > 0) {
    const best: TokenLogprob[] = [];
    for (let i = 0; i < logits.length; i++) {
      const v = logits[i];
      if (v === -Infinity) continue;
      if (best.length < k || v - logZ > best[best.length - 1].logprob) {
        best.push({ id: i, logprob: v - logZ });
        best.sort((x, y) => y.logprob - x.logprob || x.id - y.id);
        if (best.length > k) best.pop();
      }
    }
    out.top = best;
  }
  return out;
}
