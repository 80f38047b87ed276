// `zhiyu generate`: load a model (.gguf or HF folder), feed a prompt (text, or exact ids with --prompt-ids) and
// sample a continuation, streaming the text (or printing one JSON object with --json). A model without a
// tokenizer still runs on ids: ids in, ids out (text only when there is a vocabulary to decode with). With a text
// prompt, sampling keeps the reply valid UTF-8 (grammar/utf8-constraint.ts: no U+FFFD from byte tokens); with
// --prompt-ids it samples the model's distribution as it is (exact, comparable with llama.cpp).
import { writeFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { modelOrDefault } from "../default-model.js";
import { loadAnyModel, type LoadedModel } from "../../infer/load.js";
import { requireKind } from "../../infer/model-api.js";
import { generateSeq2Seq } from "./generate-seq2seq.js";
import { attachLora, isGgufPath, parseLoraArg, readAdapterFor } from "../../infer/lora.js";
import { generateStreaming } from "../../infer/generate.js";
import { Utf8Constraint, Utf8Table } from "../../infer/grammar/utf8-constraint.js";
import { samplingDefaults } from "../../infer/sampling-defaults.js";
import { tokenizerHasText } from "../../infer/tokenizer-source.js";
import { loadTokenizer } from "../../tokenizers/load.js";
import { intFlag, intFlagOr, kvTypeFlag, numberFlagOr, parseFlags } from "../flags.js";
import { capMaxTokens } from "../reply-budget.js";
import { isEncoderPath, loadEncoder } from "../../infer/encoder.js";
import { NO_TUNE_OPTION, tuningOptions } from "../tuning-flags.js";

const HELP = `usage: zhiyu generate --model PATH [--prompt TEXT | --prompt-ids 1,2,3] [options]

  --model PATH          a .gguf file or a Hugging Face folder (default: models/zhiyu-mini)
  --lora PATH[:scale]   apply a LoRA adapter (PEFT folder or llama.cpp .gguf adapter), scale default 1; repeatable
  --prompt TEXT         text, tokenized with the model's tokenizer (adds BOS when the tokenizer does); the reply is
                        kept valid UTF-8 (byte tokens never split a character)
  --prompt-ids LIST     comma-separated token ids, fed exactly (nothing added), sampled without that mask (ids
                        comparable with other engines); works without a tokenizer
  --max-tokens N        tokens to generate (default 128; capped to the room left in the context, with a note)
  --temperature T       0 = greedy (default: the model's generation_config.json, else 0.7)
  --top-k K             keep the K most likely tokens (default: model's, else 40; 0 = off)
  --top-p P             nucleus sampling (default: model's, else 0.95; 1 = off)
  --min-p P             drop tokens below P × the top probability (default: model's, else 0.05; 0 = off)
  --repeat-penalty R    repetition penalty over the last 64 tokens (default 1 = off)
  --seed S              RNG seed (default 0)
  --stop TEXT           stop string (repeatable)
  --threads N           compute threads
  --ctx N               override the context length from the model file
  --kv-type T           KV cache element type f32|f16|q8_0 (default f32; f16 halves its memory and long-context
                        reads, q8_0 stores 0.27× of f32)
  --no-tune             fixed decode kernels instead of the ones measured fastest on this CPU (same output; also
                        ZHIYU_NO_TUNE=1; measurements cached in $XDG_CACHE_HOME/zhiyu or ~/.cache/zhiyu)
  --tokenizer PATH      tokenizer to use instead of the model's own
  --json                print {"prompt_ids":[...],"ids":[...],"text":"..."} instead of streaming
                        ("text" is null for a model without a tokenizer)
  --logits-out FILE     write the logits at the last prompt position (little-endian float32); for an
                        encoder-decoder model (T5), the decoder logits of every generated step [steps, vocab]
  --beams N             encoder-decoder models: beam search with N beams (default 1 = sampling / greedy)
  --length-penalty L    beam search: hypotheses scored by log-prob / length^L (default 1)
  --early-stopping X    beam search: true, false (default) or never, as transformers' generate

A BERT-family masked-LM model (…ForMaskedLM) runs one bidirectional pass instead: each [MASK] is filled with its
most likely token, and --logits-out gets the MLM logits of every position ([positions, vocab] float32).`;

export async function run(argv: string[]): Promise<number | void> {
  const { values } = parseFlags({
    args: argv,
    options: {
      model: { type: "string" }, prompt: { type: "string" }, "prompt-ids": { type: "string" },
      "max-tokens": { type: "string" }, temperature: { type: "string" }, "top-k": { type: "string" },
      "top-p": { type: "string" }, "min-p": { type: "string" }, "repeat-penalty": { type: "string" },
      seed: { type: "string" }, stop: { type: "string", multiple: true }, threads: { type: "string" },
      ctx: { type: "string" }, tokenizer: { type: "string" }, json: { type: "boolean" }, "kv-type": { type: "string" },
      "logits-out": { type: "string" }, lora: { type: "string", multiple: true }, help: { type: "boolean", short: "h" },
      beams: { type: "string" }, "length-penalty": { type: "string" }, "early-stopping": { type: "string" },
      ...NO_TUNE_OPTION,
    },
    strict: true,
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const modelPath = modelOrDefault(values.model, HELP);
  if (values.prompt !== undefined && values["prompt-ids"] !== undefined) throw new UsageError(`give --prompt or --prompt-ids, not both\n\n${HELP}`);
  if (isEncoderPath(modelPath)) return fillMasks(modelPath, values);
  // Every flag is checked before the model loads, so a typo costs no loading time.
  const threads = intFlag("threads", values.threads, 1);
  const maxTokensAsked = intFlagOr("max-tokens", values["max-tokens"], 128, 0);
  const seed = intFlagOr("seed", values.seed, 0, 0);
  let promptIds: number[] | null = null;
  if (values["prompt-ids"] !== undefined) {
    promptIds = values["prompt-ids"].split(",").filter((s) => s.trim() !== "").map((s) => {
      const n = Number(s.trim());
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--prompt-ids: '${s}' is not a token id\n\n${HELP}`);
      return n;
    });
    if (promptIds.length === 0) throw new UsageError(`--prompt-ids: no ids given\n\n${HELP}`);
  }
  const kvCacheType = kvTypeFlag(values["kv-type"], HELP);
  const loaded = await loadAnyModel(modelPath, {
    threads,
    kvCacheType,
    tuning: tuningOptions(values["no-tune"]),
    contextLength: intFlag("ctx", values.ctx, 1),
    tokenizer: values.tokenizer ? loadTokenizer(values.tokenizer) : undefined,
  });
  if (loaded.kind === "seq2seq") {
    try { return await generateSeq2Seq(loaded, modelPath, promptIds, values, HELP); } finally { loaded.dispose(); }
  }
  if (values.beams !== undefined) throw new UsageError(`--beams: beam search runs on encoder-decoder models; ${loaded.id} is ${loaded.kind ?? "causal-lm"}`);
  const model = requireKind(loaded, ["causal-lm", "seq2seq"], "generate") as LoadedModel;
  // --lora PATH[:scale] (repeatable): PEFT folders or llama.cpp GGUF adapters over the base weights.
  const loras = (values.lora ?? []).map((a) => parseLoraArg(a));
  attachLora(model, loras.map((l) => ({ adapter: readAdapterFor(model, l.path, isGgufPath(modelPath)), scale: l.scale })));
  const hasText = tokenizerHasText(model.tokenizer);
  const textPrompt = promptIds === null;
  if (promptIds === null) {
    if (!hasText) {
      throw new UsageError(`${modelPath} has no tokenizer, so --prompt text cannot be read: pass token ids ` +
        `(--prompt-ids 1,2,3) or a tokenizer (--tokenizer PATH)`);
    }
    promptIds = model.tokenizer.encode(values.prompt ?? "");
    if (promptIds.length === 0 && model.tokenizer.bosTokenId != null) promptIds = [model.tokenizer.bosTokenId];
  }
  const maxTokens = capMaxTokens("generate", maxTokensAsked, promptIds.length, model.contextLength);
  const d = samplingDefaults(model);
  let promptLogits: Float32Array | null = null;
  const result = await generateStreaming(model, promptIds, {
    maxTokens,
    temperature: numberFlagOr("temperature", values.temperature, d.temperature, { min: 0, what: "0 = greedy" }),
    topK: intFlagOr("top-k", values["top-k"], d.topK, 0),
    topP: numberFlagOr("top-p", values["top-p"], d.topP, { min: 0, max: 1 }),
    minP: numberFlagOr("min-p", values["min-p"], d.minP, { min: 0, max: 1 }),
    repetitionPenalty: numberFlagOr("repeat-penalty", values["repeat-penalty"], d.repetitionPenalty, { min: 0, what: "1 = off" }),
    seed,
    stop: values.stop,
    onPromptLogits: (l) => { promptLogits = l.slice(); },
    // Text in, text out: byte tokens may not break a UTF-8 character (no U+FFFD). Exact ids in (--prompt-ids)
    // sample the model's own distribution unmasked, so ids can be compared with other engines.
    constraint: textPrompt ? new Utf8Constraint(new Utf8Table(model.tokenizer, model.vocabSize)) : undefined,
    onText: values.json || !hasText ? undefined : (t) => process.stdout.write(t),
    onToken: values.json || hasText ? undefined : (id) => process.stdout.write(`${id} `),
  });
  if (values["logits-out"] && promptLogits) {
    const l = promptLogits as Float32Array;
    writeFileSync(values["logits-out"], new Uint8Array(l.buffer, l.byteOffset, l.byteLength));
  }
  if (values.json) {
    console.log(JSON.stringify({ prompt_ids: result.promptIds, ids: result.ids, text: hasText ? result.text : null }));
  } else {
    process.stdout.write("\n");
  }
  model.dispose();
  return 0;
}

/** The encoder branch: a masked-LM pass over the prompt; prints the prompt with each [MASK] filled by its argmax. */
function fillMasks(modelPath: string, values: { prompt?: string; "prompt-ids"?: string; threads?: string; tokenizer?: string;
  json?: boolean; "logits-out"?: string }): number {
  const encoder = loadEncoder(modelPath, {
    threads: intFlag("threads", values.threads, 1), tokenizer: values.tokenizer ? loadTokenizer(values.tokenizer) : undefined,
  });
  if (encoder.config.head !== "mlm") {
    throw new UsageError(`--model ${modelPath}: an encoder without a masked-LM head (head: ${encoder.config.head}) cannot generate; ` +
      "use a …ForMaskedLM checkpoint, or zhiyu embed / zhiyu classify");
  }
  const seq = values["prompt-ids"] !== undefined
    ? encoder.sequenceFromJson({ ids: values["prompt-ids"].split(",").filter((s) => s.trim() !== "").map((s) => Number(s.trim())) }, "--prompt-ids")
    : encoder.sequenceFromJson({ text: values.prompt ?? "" }, "--prompt");
  const logits = encoder.mlmLogits([seq])[0];
  const v = encoder.config.vocabSize;
  const maskId = encoder.tokenizer.tokenToId(encoder.maskToken);
  const ids = seq.ids.map((id, t) => {
    if (id !== maskId) return id;
    let best = 0;
    for (let k = 1; k < v; k++) if (logits[t * v + k] > logits[t * v + best]) best = k;
    return best;
  });
  if (values["logits-out"]) writeFileSync(values["logits-out"], new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength));
  let text = "";
  try {
    text = encoder.tokenizer.decode(ids, { skipSpecialTokens: true });
  } catch { /* an ids-only tokenizer: the ids say it all */ }
  console.log(values.json ? JSON.stringify({ prompt_ids: seq.ids, ids, text }) : text);
  encoder.dispose();
  return 0;
}
