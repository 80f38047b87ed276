// The generation loop on a scripted fake model: stop strings across token boundaries, EOS, max tokens, the
// context-length error, and UTF-8-safe streaming with a byte-level tokenizer (one token per byte); on a shipped GGUF,
// the KV cache sized once before the loop (SequenceState.reserve) rather than doubled inside it.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { loadModel } from "../../src/infer/load.js";
import type { KvCache } from "../../src/models/kv-cache.js";
import { generate, StopStringMatcher } from "../../src/infer/generate.js";
import type { ForwardItem, SequenceState, TextModel } from "../../src/infer/model-api.js";
import type { StreamDecoder, Tokenizer } from "../../src/tokenizers/tokenizer.js";

const EOS = 256;

/** Ids 0..255 are bytes, 256 is EOS. */
function byteTokenizer(): Tokenizer {
  const decode = (ids: readonly number[]) => new TextDecoder().decode(Uint8Array.from(ids.filter((i) => i < 256)));
  return {
    kind: "bpe", vocabSize: 257, bosTokenId: null, eosTokenId: EOS, stopTokenIds: [EOS], padTokenId: null,
    encode: (text) => Array.from(new TextEncoder().encode(text)),
    decode,
    createStreamDecoder(): StreamDecoder {
      const td = new TextDecoder("utf-8");
      return {
        push: (id) => (id < 256 ? td.decode(Uint8Array.of(id), { stream: true }) : ""),
        flush: () => td.decode(),
      };
    },
    idToToken: (id) => String(id),
    tokenToId: (t) => Number(t),
    tokenBytes: (id) => (id < 256 ? Uint8Array.of(id) : new Uint8Array(0)),
    isSpecial: (id) => id === EOS,
    protectSpecialText: (text) => text,
  };
}

/** A model that emits `script` token by token (whatever the prompt), then EOS. */
function scriptedModel(script: number[], contextLength = 1000): TextModel & { forwards: number[][] } {
  const forwards: number[][] = [];
  return {
    id: "fake", architecture: "fake", vocabSize: 257, contextLength, embeddingDim: 1,
    tokenizer: byteTokenizer(), chatTemplate: null, stopTokenIds: [EOS], generationDefaults: {}, forwards,
    createSequence(): SequenceState {
      const s = { length: 0, generated: 0, truncate(n: number) { s.length = n; }, dispose() {} };
      return s;
    },
    forward(batch: readonly ForwardItem[]) {
      return batch.map((item) => {
        const seq = item.seq as SequenceState & { length: number; generated: number };
        if (seq.length + item.tokens.length > contextLength) throw new Error("context exceeded");
        forwards.push([...item.tokens]);
        const step = seq.length === 0 ? 0 : ++seq.generated;
        seq.length += item.tokens.length;
        const logits = new Float32Array(257);
        logits[step < script.length ? script[step] : EOS] = 10;
        return logits;
      });
    },
    embed: () => new Float32Array(1),
    dispose() {},
  };
}

const bytes = (s: string) => Array.from(new TextEncoder().encode(s));

test("stop string across token boundaries is cut and never streamed", () => {
  const model = scriptedModel(bytes("Hello <|end|> world"));
  const chunks: string[] = [];
  const r = generate(model, [1], { temperature: 0, stop: ["<|end|>"], onText: (t) => chunks.push(t) });
  assert.equal(r.text, "Hello ");
  assert.equal(chunks.join(""), "Hello ");
  assert.equal(r.finishReason, "stop");
  assert.equal(r.ids.length, bytes("Hello <|end|>").length);
});

test("a partial stop string at the end is released", () => {
  const model = scriptedModel(bytes("abc<|en"));
  const r = generate(model, [1], { temperature: 0, stop: ["<|end|>"] });
  assert.equal(r.text, "abc<|en");
  assert.equal(r.finishReason, "stop"); // EOS
  assert.equal(r.ids.at(-1), EOS);
});

test("max tokens and the context length end generation with 'length'", () => {
  const r = generate(scriptedModel(bytes("abcdef")), [1], { temperature: 0, maxTokens: 3 });
  assert.deepEqual(r.ids, bytes("abc"));
  assert.equal(r.finishReason, "length");
  const m = scriptedModel(bytes("abcdef"), 4);
  const c = generate(m, [1, 2], { temperature: 0, maxTokens: 10 });
  assert.equal(c.finishReason, "length");
  assert.equal(c.ids.length, 3); // 2 prompt + 2 fed back = 4 positions, + 1 last sample not fed
  assert.throws(() => generate(scriptedModel([], 4), [1, 2, 3, 4, 5]), /context length is 4/);
  assert.throws(() => generate(scriptedModel([]), []), /prompt is empty/);
  assert.throws(() => generate(scriptedModel([]), [999]), /outside the vocabulary/);
});

test("streaming never splits a UTF-8 character and custom stop ids work", () => {
  const text = "你好, 世界 🙂!";
  const chunks: string[] = [];
  const r = generate(scriptedModel(bytes(text)), [1], { temperature: 0, onText: (t) => chunks.push(t) });
  assert.equal(r.text, text);
  for (const c of chunks) assert.ok(!c.includes("\uFFFD"), `chunk ${JSON.stringify(c)} has a broken character`);
  assert.ok(chunks.length > 1);
  const s = generate(scriptedModel(bytes("ab,cd")), [1], { temperature: 0, stopTokenIds: [bytes(",")[0]] });
  assert.equal(s.text, "ab");
});

test("the prompt goes through one forward, then one token per forward", () => {
  const model = scriptedModel(bytes("xy"));
  generate(model, [5, 6, 7], { temperature: 0 });
  assert.deepEqual(model.forwards, [[5, 6, 7], [bytes("x")[0]], [bytes("y")[0]]]);
});

test("StopStringMatcher holds back only possible prefixes", () => {
  const m = new StopStringMatcher(["STOP", "\n\n"]);
  assert.deepEqual(m.push("abc S"), { emit: "abc ", stopped: false });
  assert.deepEqual(m.push("x\n"), { emit: "Sx", stopped: false });
  assert.deepEqual(m.push("\nrest"), { emit: "", stopped: true });
});

test("a generation sizes the cache once, before its prompt, for the prompt and maxTokens (clamped at the context)", async () => {
  const model = await loadModel(path.resolve("../shared/testdata/gguf/dev-llama-tok512-q8_0.gguf"));
  try {
    const capacities: number[] = [], forward = model.forward.bind(model);
    model.forward = (items, options) => {
      capacities.push((items[0]!.seq as unknown as { cache: KvCache }).cache.capacity);
      return forward(items, options);
    };
    // No stop: 80 tokens after a 3-token prompt pass the cache's first size (64 positions) inside the loop.
    const r = generate(model, [1, 15, 27], { temperature: 0, maxTokens: 80, stopTokenIds: [] });
    assert.equal(r.ids.length, 80);
    assert.equal(capacities.length, 80);
    assert.ok(capacities[0]! >= 3 + 80, `capacity ${capacities[0]} at the prompt`);
    assert.deepEqual(new Set(capacities), new Set([capacities[0]]), "the cache grew inside the decode loop");
    const seq = model.createSequence();
    seq.reserve!(10 * model.contextLength); // past the context: up to it, no error
    assert.equal((seq as unknown as { cache: KvCache }).cache.capacity, model.contextLength);
    seq.dispose();
  } finally {
    model.dispose();
  }
});
