// A small deterministic TextModel for server, scheduler and agent tests: a byte-level tokenizer (ids 0–255 are
// bytes, then <|endoftext|>, <|im_start|>, <|im_end|>) and a "model" whose logits follow a scripted reply chosen
// from the prompt (ChatML, since chatTemplate is null). The scripted byte gets logit 10, and a few closing bytes
// have small preferences (" 3, } 2, ] 1; everything else 0), so sampling at low temperature follows the script, and
// when a grammar mask forbids the script (or it has ended) the fake closes strings and objects like a real model.
// Scripts (matched on the last user/tool turn): "weather" with tools → a get_weather <tool_call> (two calls with
// "parallel"); a <tool_response> → "The answer is <result>."; "json" → {"name": "Zhiyu", "age": 3};
// "calc <expr>" with tools → a calculator call; "long" → a long text; anything else → "Hello! You said: <text>".
// Every forward records its batch size in `batchSizes`, so tests can see continuous batching happen.
import type { ForwardItem, SequenceState, TextModel } from "../../src/infer/model-api.js";
import type { ModelInfo } from "../../src/infer/model-info.js";
import type { DecodeOptions, EncodeOptions, StreamDecoder, Tokenizer } from "../../src/tokenizers/tokenizer.js";
import { guardSpecialText, SPECIAL_TEXT_GUARD } from "../../src/tokenizers/special-text.js";

export const EOT = 256;
export const IM_START = 257;
export const IM_END = 258;
const SPECIALS: [string, number][] = [["<|endoftext|>", EOT], ["<|im_start|>", IM_START], ["<|im_end|>", IM_END]];

export class ByteTokenizer implements Tokenizer {
  readonly kind = "bpe" as const;
  readonly vocabSize = 259;
  readonly bosTokenId = null;
  readonly eosTokenId = EOT;
  readonly stopTokenIds = [EOT, IM_END];
  readonly padTokenId = null;

  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    let rest = text;
    let guarded = false;
    while (rest.length > 0) {
      if (options.protectedText && rest.startsWith(SPECIAL_TEXT_GUARD)) {
        guarded = true;
        rest = rest.slice(SPECIAL_TEXT_GUARD.length);
        continue;
      }
      const special = options.parseSpecial && !guarded ? SPECIALS.find(([s]) => rest.startsWith(s)) : undefined;
      guarded = false;
      if (special) {
        out.push(special[1]);
        rest = rest.slice(special[0].length);
        continue;
      }
      const cp = rest.codePointAt(0)!;
      const ch = String.fromCodePoint(cp);
      out.push(...new TextEncoder().encode(ch));
      rest = rest.slice(ch.length);
    }
    return out;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    let s = "";
    let bytes: number[] = [];
    const flush = () => {
      s += new TextDecoder().decode(new Uint8Array(bytes));
      bytes = [];
    };
    for (const id of ids) {
      if (id < 256) bytes.push(id);
      else {
        flush();
        if (!options.skipSpecialTokens) s += this.idToToken(id) ?? "";
      }
    }
    flush();
    return s;
  }

  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    const decoder = new TextDecoder("utf-8");
    return {
      push: (id: number) => (id < 256 ? decoder.decode(new Uint8Array([id]), { stream: true }) :
        options.skipSpecialTokens ? "" : decoder.decode() + (this.idToToken(id) ?? "")),
      flush: () => decoder.decode(),
    };
  }

  idToToken(id: number): string | undefined {
    if (id < 256) return `<0x${id.toString(16).toUpperCase().padStart(2, "0")}>`;
    return SPECIALS.find(([, i]) => i === id)?.[0];
  }

  tokenToId(token: string): number | undefined {
    return SPECIALS.find(([s]) => s === token)?.[1];
  }

  tokenBytes(id: number): Uint8Array {
    return id < 256 ? new Uint8Array([id]) : new Uint8Array(0);
  }

  isSpecial(id: number): boolean {
    return id >= 256;
  }

  protectSpecialText(text: string): string {
    return guardSpecialText(text, /<\|endoftext\|>|<\|im_start\|>|<\|im_end\|>/g);
  }
}

class FakeSequence implements SequenceState {
  tokens: number[] = [];
  reply: number[] | null = null;
  promptLength = 0;
  disposed = false;
  get length(): number {
    return this.tokens.length;
  }
  truncate(n: number): void {
    if (n > this.tokens.length) throw new Error(`[fake] truncate(${n}) beyond length ${this.tokens.length}`);
    this.tokens.length = n;
    this.reply = null; // the prompt changes: the script is chosen again at the next assistant header
  }
  dispose(): void {
    this.disposed = true;
  }
}

export interface FakeModelOptions {
  contextLength?: number;
  /** Busy-wait this many ms per forward call (to make streaming observable). */
  forwardDelayMs?: number;
  /** Replace the scripted reply picker. */
  script?: (lastTurn: string, prompt: string) => string;
  /** A Jinja chat template (default null: ChatML). */
  chatTemplate?: string;
  /** With a non-ChatML template: the text the prompt ends with (its assistant header), so a prompt fed in several
   *  prefill chunks gets its reply after the last one. Default: the reply follows the first forward. */
  replyAfter?: string;
  /** What the model says about itself (name, trained for tool calls); default none (the server then assumes it can). */
  info?: ModelInfo;
  /** Logits for the reply's token at position `pos` (0 = first generated token), replacing the script. */
  replyLogits?: (pos: number) => Float32Array;
  /** Busy-wait this many ms per token embedded (an embedding model's cost). */
  embedDelayMsPerToken?: number;
  /** Make embed() throw (a model failing mid-request). */
  embedThrows?: boolean;
}

export function scriptedReply(lastTurn: string, prompt: string): string {
  const hasTools = prompt.includes("<tools>");
  const toolResult = /<tool_response>\n([\s\S]*?)\n<\/tool_response>/.exec(lastTurn);
  if (toolResult) return `The answer is ${toolResult[1]}.`;
  if (hasTools && /weather/i.test(lastTurn)) {
    const call = (city: string) => `<tool_call>\n{"name": "get_weather", "arguments": {"city": "${city}"}}\n</tool_call>`;
    return /parallel/i.test(lastTurn) ? `${call("Paris")}\n${call("London")}` : call("Paris");
  }
  const calc = /calc (.+)$/.exec(lastTurn.trim());
  if (hasTools && calc) return `<tool_call>\n{"name": "calculator", "arguments": {"expression": ${JSON.stringify(calc[1])}}}\n</tool_call>`;
  if (/json/i.test(lastTurn)) return '{"name": "Zhiyu", "age": 3}';
  if (/long/i.test(lastTurn)) return "Once upon a time, ".repeat(60) + "the end.";
  return `Hello! You said: ${lastTurn.trim()}`;
}

export class FakeModel implements TextModel {
  readonly id = "fake-chatml";
  readonly architecture = "fake";
  readonly tokenizer = new ByteTokenizer();
  readonly vocabSize = 259;
  readonly contextLength: number;
  readonly embeddingDim = 8;
  readonly chatTemplate: string | null;
  readonly info: ModelInfo | undefined;
  readonly stopTokenIds = [EOT, IM_END];
  readonly generationDefaults = {};
  readonly batchSizes: number[] = [];
  readonly sequences: FakeSequence[] = [];

  constructor(private readonly options: FakeModelOptions = {}) {
    this.contextLength = options.contextLength ?? 4096;
    this.chatTemplate = options.chatTemplate ?? null;
    this.info = options.info;
  }

  createSequence(): SequenceState {
    const s = new FakeSequence();
    this.sequences.push(s);
    return s;
  }

  forward(batch: readonly ForwardItem[]): Float32Array[] {
    this.batchSizes.push(batch.length);
    if (this.options.forwardDelayMs) {
      const until = performance.now() + this.options.forwardDelayMs;
      while (performance.now() < until) { /* a model computing */ }
    }
    return batch.map((item) => {
      const seq = item.seq as FakeSequence;
      if (seq.disposed) throw new Error("[fake] forward on a disposed sequence");
      if (seq.tokens.length + item.tokens.length > this.contextLength) throw new Error("[fake] context exceeded");
      seq.tokens.push(...item.tokens);
      // The prompt ends at the assistant header (chat) — a chunked prefill arrives in pieces — or with the first
      // forward for raw completion prompts (no <|im_start|> at all).
      const header = [IM_START, ...this.tokenizer.encode("assistant\n")];
      const endsWithHeader = header.every((t, i) => seq.tokens[seq.tokens.length - header.length + i] === t);
      const promptDone = this.options.replyAfter !== undefined ? this.tokenizer.decode(seq.tokens).endsWith(this.options.replyAfter)
        : endsWithHeader || !seq.tokens.includes(IM_START);
      if (seq.reply === null && promptDone) {
        seq.promptLength = seq.tokens.length;
        const prompt = this.tokenizer.decode(seq.tokens);
        const turns = prompt.split("<|im_start|>");
        const last = [...turns].reverse().find((t) => t.startsWith("user\n") || t.startsWith("tool\n")) ?? prompt;
        const lastTurn = last.replace(/^(user|tool)\n/, "").replace(/<\|im_end\|>\s*$/, "");
        const text = (this.options.script ?? scriptedReply)(lastTurn, prompt);
        seq.reply = [...this.tokenizer.encode(text), IM_END];
      }
      const reply = seq.reply ?? [IM_END];
      const pos = seq.tokens.length - seq.promptLength;
      if (this.options.replyLogits && seq.reply !== null) return this.options.replyLogits(pos);
      const next = reply[Math.min(pos, reply.length - 1)];
      const logits = new Float32Array(this.vocabSize);
      logits[0x22] = 3;
      logits[0x7d] = 2;
      logits[0x5d] = 1;
      logits[next] = 10;
      return logits;
    });
  }

  embed(tokens: readonly number[]): Float32Array {
    if (this.options.embedThrows) throw new Error("[fake] embed failed");
    if (this.options.embedDelayMsPerToken) {
      const until = performance.now() + this.options.embedDelayMsPerToken * tokens.length;
      while (performance.now() < until) { /* a model computing */ }
    }
    // Deterministic features: counts of byte classes, so similar texts get similar vectors.
    const v = new Float32Array(this.embeddingDim);
    for (const t of tokens) v[t % this.embeddingDim] += 1;
    return v;
  }

  dispose(): void {}
}
