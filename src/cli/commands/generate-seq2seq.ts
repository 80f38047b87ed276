// `zhiyu generate` for an encoder-decoder model (T5): the prompt (text or --prompt-ids) is the encoder input, the
// decoder starts from the model's decoder start token; greedy / sampled (streamed) or beam search (--beams N,
// --length-penalty, --early-stopping). --logits-out writes the decoder's logits of every generated position, one
// row per step (the first row: after the decoder start token), as little-endian float32 [steps, vocab].
// Leaves out: LoRA adapters on seq2seq models, beam search with --logits-out (beams have no single logits row).
import { writeFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import type { Seq2SeqModel } from "../../infer/model-api.js";
import { generateStreaming } from "../../infer/generate.js";
import { beamSearch } from "../../infer/beam-search.js";
import { samplingDefaults } from "../../infer/sampling-defaults.js";
import { tokenizerHasText } from "../../infer/tokenizer-source.js";
import { intFlagOr, numberFlagOr } from "../flags.js";

export interface Seq2SeqFlags {
  prompt?: string;
  "max-tokens"?: string;
  temperature?: string;
  "top-k"?: string;
  "top-p"?: string;
  "min-p"?: string;
  "repeat-penalty"?: string;
  seed?: string;
  stop?: string[];
  json?: boolean;
  "logits-out"?: string;
  beams?: string;
  "length-penalty"?: string;
  "early-stopping"?: string;
  lora?: string[];
}

export async function generateSeq2Seq(model: Seq2SeqModel, modelPath: string, promptIdsIn: number[] | null, values: Seq2SeqFlags,
  help: string): Promise<number> {
  if (values.lora?.length) throw new UsageError(`--lora: adapters on a seq2seq model (${model.architecture}) are not supported yet\n\n${help}`);
  const hasText = tokenizerHasText(model.tokenizer);
  let promptIds = promptIdsIn;
  if (promptIds === null) {
    if (!hasText) throw new UsageError(`${modelPath} has no tokenizer, so --prompt text cannot be read: pass token ids (--prompt-ids 1,2,3) or --tokenizer PATH`);
    promptIds = model.tokenizer.encode(values.prompt ?? "");
  }
  if (promptIds.length > model.sourceLength) {
    throw new UsageError(`the encoder input has ${promptIds.length} tokens but ${model.id} accepts at most ${model.sourceLength} source tokens: shorten the prompt`);
  }
  const limit = model.contextLength - 1; // the decoder start token takes one target position
  const asked = intFlagOr("max-tokens", values["max-tokens"], 128, 0);
  if (asked > limit) {
    throw new UsageError(`--max-tokens ${asked}: ${model.id}'s decoder holds ${model.contextLength} positions (the start token takes one), ` +
      `so at most ${limit} tokens can be generated; ask for fewer (or load with a larger --ctx)`);
  }
  const beams = intFlagOr("beams", values.beams, 1, 1, 64);
  if (beams > 1) {
    if (values["logits-out"]) throw new UsageError(`--logits-out is for greedy or sampled decoding, not --beams ${beams}\n\n${help}`);
    const early = values["early-stopping"] ?? "false";
    if (!["true", "false", "never"].includes(early)) throw new UsageError(`--early-stopping ${early}: expected true, false or never`);
    const out = beamSearch(model, promptIds, { numBeams: beams, maxTokens: asked,
      lengthPenalty: numberFlagOr("length-penalty", values["length-penalty"], 1, { what: "exponent of the length" }),
      earlyStopping: early === "never" ? "never" : early === "true" });
    const text = hasText ? model.tokenizer.decode(out.ids, { skipSpecialTokens: true }) : null;
    console.log(values.json ? JSON.stringify({ prompt_ids: promptIds, ids: out.ids, text, score: out.score }) : text ?? out.ids.join(" "));
    return 0;
  }
  const d = samplingDefaults(model);
  const rows: Float32Array[] = [];
  const result = await generateStreaming(model, promptIds, {
    maxTokens: asked,
    temperature: numberFlagOr("temperature", values.temperature, d.temperature, { min: 0, what: "0 = greedy" }),
    topK: intFlagOr("top-k", values["top-k"], d.topK, 0),
    topP: numberFlagOr("top-p", values["top-p"], d.topP, { min: 0, max: 1 }),
    minP: numberFlagOr("min-p", values["min-p"], d.minP, { min: 0, max: 1 }),
    repetitionPenalty: numberFlagOr("repeat-penalty", values["repeat-penalty"], d.repetitionPenalty, { min: 0, what: "1 = off" }),
    seed: intFlagOr("seed", values.seed, 0, 0),
    stop: values.stop,
    onToken: (id, logits) => {
      if (values["logits-out"]) rows.push(logits.slice()); // the generation reuses its buffer
      if (!values.json && !hasText) process.stdout.write(`${id} `);
    },
    onText: values.json || !hasText ? undefined : (t) => process.stdout.write(t),
  });
  if (values["logits-out"]) {
    const flat = new Float32Array(rows.length * model.vocabSize);
    rows.forEach((r, i) => flat.set(r, i * model.vocabSize));
    writeFileSync(values["logits-out"], new Uint8Array(flat.buffer));
  }
  if (values.json) console.log(JSON.stringify({ prompt_ids: result.promptIds, ids: result.ids, text: hasText ? result.text : null }));
  else process.stdout.write("\n");
  return 0;
}
