// The generation loop over any TextModel: prefill the prompt into a fresh sequence, then sample one token at a
// time, streaming text through the tokenizer's StreamDecoder (never splitting a UTF-8 character), until an EOS id,
// a stop string, max tokens or the context length.
// Stop strings may span token boundaries: text that could still become a stop string is held back until it is
// ruled out, and the stop string itself is never emitted (OpenAI semantics).
// A seq2seq model (T5) runs the same loop: the prompt is the encoder input (encoded once by createSequence), the
// first decoder step feeds the decoder start token, and the target limit is the model's contextLength.
// An optional sampling constraint masks the logits before each token (the CLI passes the UTF-8 constraint of
// grammar/utf8-constraint.ts so text never holds U+FFFD from byte tokens, as the server does for every request).
// Leaves out: batching several requests (src/infer/scheduler.ts does that with model.forward) and building
// grammars (the server's job).
import type { Seq2SeqModel, SequenceState, TextModel } from "./model-api.js";
import { Sampler, type SamplingParams } from "./sampler.js";
import type { TokenConstraint } from "./grammar/token-mask.js";

export interface GenerateOptions extends SamplingParams {
  /** Most tokens to generate (default 256). */
  maxTokens?: number;
  /** Strings that end generation; the text returned stops just before the first one. */
  stop?: readonly string[];
  /** Ids that end generation (default: model.stopTokenIds); the id itself adds no text. */
  stopTokenIds?: readonly number[];
  /** Receives text as it becomes final. */
  onText?: (text: string) => void;
  /** Receives each generated id with the logits it was sampled from (valid during the call: the generation reuses
   *  the buffer for the next step; copy to keep). */
  onToken?: (id: number, logits: Float32Array) => void;
  /** Receives the logits at the last prompt position (before any sampling; valid during the call, as onToken's). */
  onPromptLogits?: (logits: Float32Array) => void;
  /** Masks tokens that may not come next (e.g. valid UTF-8 only); sampling sees the masked logits. */
  constraint?: TokenConstraint;
}

export type FinishReason = "stop" | "length";

export interface GenerateResult {
  promptIds: number[];
  /** Generated ids, including a final EOS id or the token that completed a stop string. */
  ids: number[];
  text: string;
  finishReason: FinishReason;
}

/** Holds back the tail of streamed text that might still turn into a stop string. */
export class StopStringMatcher {
  private pending = "";
  private readonly maxLen: number;
  constructor(private readonly stops: readonly string[]) {
    this.maxLen = stops.reduce((m, s) => Math.max(m, s.length), 0);
  }
  /** Adds text; returns what is safe to emit and whether a stop string was found (text after it is dropped). */
  push(text: string): { emit: string; stopped: boolean } {
    if (this.stops.length === 0) return { emit: text, stopped: false };
    this.pending += text;
    let cut = -1;
    for (const s of this.stops) {
      if (s.length === 0) continue;
      const at = this.pending.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const emit = this.pending.slice(0, cut);
      this.pending = "";
      return { emit, stopped: true };
    }
    // Keep the longest suffix that is a proper prefix of some stop string.
    let hold = 0;
    for (let len = Math.min(this.maxLen - 1, this.pending.length); len > 0; len--) {
      const tail = this.pending.slice(this.pending.length - len);
      if (this.stops.some((s) => s.startsWith(tail))) {
        hold = len;
        break;
      }
    }
    const emit = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { emit, stopped: false };
  }
  /** The held-back text, once generation ends for another reason. */
  flush(): string {
    const rest = this.pending;
    this.pending = "";
    return rest;
  }
}

/** How many tokens past the prompt a generation's cache is sized for before its first step (SequenceState.reserve). */
const RESERVE_AHEAD = 4096;

/** Step-by-step generation, so callers can stream (yielding between steps) or run it to the end. */
export class Generation {
  readonly promptIds: number[];
  readonly ids: number[] = [];
  text = "";
  finishReason: FinishReason | null = null;
  private readonly seq: SequenceState;
  private readonly sampler: Sampler;
  private readonly decoder;
  private readonly matcher: StopStringMatcher;
  private readonly stopIds: Set<number>;
  private readonly maxTokens: number;
  private logits: Float32Array | null = null;
  /** Each step's logits, written in place (ForwardOptions.into): a decode step allocates no vocab-sized array. */
  private readonly logitsBuffer: Float32Array;
  /** Prompt + generated ids, for the sampler's penalties (grown in place, not re-concatenated each token). */
  private readonly history: number[];

  /** What the first forward pass feeds: the prompt, or (seq2seq) the decoder start token. */
  private readonly firstTokens: readonly number[];

  constructor(private readonly model: TextModel | Seq2SeqModel, promptIds: readonly number[], private readonly options: GenerateOptions = {}) {
    if (promptIds.length === 0) throw new Error("[generate] the prompt is empty; give at least one token id (e.g. BOS)");
    for (const id of promptIds) {
      if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
        throw new RangeError(`[generate] prompt id ${id} is outside the vocabulary [0, ${model.vocabSize})`);
      }
    }
    const seq2seq = model.kind === "seq2seq";
    const limit = seq2seq ? model.sourceLength : model.contextLength;
    if (promptIds.length > limit) {
      throw new RangeError(`[generate] the prompt has ${promptIds.length} tokens but the model's ${seq2seq ? "source (encoder input) limit" : "context length"} is ` +
        `${limit}; shorten the prompt (or load the model with a larger contextLength)`);
    }
    const maxTokens = options.maxTokens ?? 256;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new RangeError(`[generate] maxTokens = ${maxTokens}; expected an integer ≥ 0`);
    this.maxTokens = maxTokens;
    this.promptIds = [...promptIds];
    // Penalties look at what the decoder has seen: for seq2seq the target side only (as transformers does).
    this.history = seq2seq ? [model.decoderStartTokenId] : [...promptIds];
    this.firstTokens = seq2seq ? [model.decoderStartTokenId] : this.promptIds;
    this.sampler = new Sampler(options);
    this.decoder = model.tokenizer.createStreamDecoder();
    this.matcher = new StopStringMatcher(options.stop ?? []);
    this.stopIds = new Set(options.stopTokenIds ?? model.stopTokenIds);
    this.seq = model.kind === "seq2seq" ? model.createSequence(promptIds) : model.createSequence();
    this.logitsBuffer = new Float32Array(model.vocabSize);
  }

  get done(): boolean {
    return this.finishReason !== null;
  }

  /** Runs the next forward pass (the prompt first) and samples one token. Returns false once finished. */
  step(): boolean {
    if (this.done) return false;
    if (this.logits === null) {
      // The cache sized for the whole generation at once (the prompt and up to maxTokens), not doubled mid-loop; at most
      // RESERVE_AHEAD tokens ahead (a huge maxTokens on a long-context model would otherwise allocate its whole context).
      this.seq.reserve?.(this.firstTokens.length + Math.min(this.maxTokens, RESERVE_AHEAD));
      this.logits = this.model.forward([{ seq: this.seq, tokens: this.firstTokens }], { into: this.logitsBuffer })[0];
      this.options.onPromptLogits?.(this.logits);
    }
    if (this.ids.length >= this.maxTokens) return this.finish("length");
    const constraint = this.options.constraint;
    // The mask writes into a copy: the model's row is left as it came.
    const logits = constraint ? new Float32Array(this.logits) : this.logits;
    constraint?.mask(logits);
    const id = this.sampler.sample(logits, this.history);
    if (constraint) {
      if (!Number.isFinite(logits[id])) throw new Error("[generate] no token is allowed by the sampling constraint at this point");
      constraint.accept(id);
    }
    this.ids.push(id);
    this.history.push(id);
    this.options.onToken?.(id, logits);
    if (this.stopIds.has(id) || constraint?.finished) return this.finish("stop");
    const { emit, stopped } = this.matcher.push(this.decoder.push(id));
    this.emit(emit);
    if (stopped) return this.finish("stop", false);
    if (this.ids.length >= this.maxTokens) return this.finish("length");
    if (this.seq.length >= this.model.contextLength) return this.finish("length");
    this.logits = this.model.forward([{ seq: this.seq, tokens: [id] }], { into: this.logitsBuffer })[0];
    return true;
  }

  private emit(text: string): void {
    if (text.length === 0) return;
    this.text += text;
    this.options.onText?.(text);
  }

  private finish(reason: FinishReason, flush = true): false {
    if (flush) {
      // Text cut by the token limit can end inside a character: drop those bytes rather than emit U+FFFD.
      const { emit, stopped } = this.matcher.push(this.decoder.flush({ dropIncomplete: reason === "length" }));
      this.emit(emit);
      if (!stopped) this.emit(this.matcher.flush());
      else reason = "stop";
    }
    this.finishReason = reason;
    this.seq.dispose();
    return false;
  }

  result(): GenerateResult {
    return { promptIds: this.promptIds, ids: this.ids, text: this.text, finishReason: this.finishReason ?? "length" };
  }

  /** Stops early (e.g. the client went away) and frees the sequence. */
  cancel(): void {
    if (!this.done) {
      this.finishReason = "stop";
      this.seq.dispose();
    }
  }
}

/** Generates to the end synchronously. */
export function generate(model: TextModel | Seq2SeqModel, promptIds: readonly number[], options: GenerateOptions = {}): GenerateResult {
  const g = new Generation(model, promptIds, options);
  while (g.step());
  return g.result();
}

/** Generates to the end, yielding to the event loop between tokens so streamed text reaches the terminal. */
export async function generateStreaming(model: TextModel | Seq2SeqModel, promptIds: readonly number[],
  options: GenerateOptions = {}): Promise<GenerateResult> {
  const g = new Generation(model, promptIds, options);
  while (g.step()) await new Promise<void>((resolve) => setImmediate(resolve));
  return g.result();
}
