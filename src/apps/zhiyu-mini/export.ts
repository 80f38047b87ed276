// The zhiyu-mini recipe's shipped folder: a Hugging Face folder with bf16 weights, the recipe's tokenizer, the
// ChatML template and the end-of-turn stop ids, written beside what was put there by hand (MODEL_CARD.md, pictures).
// Leaves out: GGUF export (`zhiyu convert` does that from this folder).
import { copyFileSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { f32ArrayToBf16 } from "../../core/dtype.js";
import { CHATML_TEMPLATE } from "../../infer/chat-template.js";
import { writeSafetensors } from "../../io/safetensors.js";
import { loadTokenizer } from "../../tokenizers/load.js";
import { TrainModel } from "../../train/model.js";
import { RecipeError } from "./config.js";

export const EXPORT_CONTEXT = 1024;

/** Writes the shipped Hugging Face folder: bf16 weights, tokenizer, ChatML template, end-of-turn stop ids. */
export function exportModel(checkpointDir: string, tokenizerDir: string, outDir: string): { bytes: number } {
  const model = TrainModel.fromHfFolder(checkpointDir, "f32");
  const tok = loadTokenizer(tokenizerDir);
  const imEnd = tok.tokenToId("<|im_end|>");
  const eot = tok.tokenToId("<|endoftext|>");
  if (imEnd === undefined || eot === undefined) throw new RecipeError(`${tokenizerDir}: the tokenizer lacks <|im_end|> or <|endoftext|>`);
  const tmp = `${outDir}.tmp-export`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const tensors = model.hfTensors().map((t) => {
    const src = t.data as Float32Array;
    const dst = new Uint16Array(src.length);
    f32ArrayToBf16(src, dst, src.length);
    return { name: t.name, dtype: "BF16" as const, shape: t.shape, data: dst };
  });
  writeSafetensors(path.join(tmp, "model.safetensors"), tensors, { format: "pt" });
  // RoPE has no learned positions: allow replies past the 256 trained positions (quality degrades there).
  const trainedContext = Number(model.configJson().max_position_embeddings);
  const config = {
    ...model.configJson(), max_position_embeddings: Math.max(trainedContext, EXPORT_CONTEXT), torch_dtype: "bfloat16",
    eos_token_id: [imEnd, eot], bos_token_id: null,
  };
  writeFileSync(path.join(tmp, "config.json"), JSON.stringify(config, null, 2) + "\n");
  writeFileSync(path.join(tmp, "generation_config.json"), JSON.stringify({
    eos_token_id: [imEnd, eot], pad_token_id: tok.padTokenId, do_sample: true, temperature: 0.7, top_p: 0.9,
  }, null, 2) + "\n");
  copyFileSync(path.join(tokenizerDir, "tokenizer.json"), path.join(tmp, "tokenizer.json"));
  const tc = JSON.parse(readFileSync(path.join(tokenizerDir, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(path.join(tmp, "tokenizer_config.json"), JSON.stringify({ ...tc, chat_template: CHATML_TEMPLATE }, null, 2) + "\n");
  // Keep what was written by hand (MODEL_CARD.md, pictures) and replace the model files.
  mkdirSync(outDir, { recursive: true });
  let bytes = 0;
  for (const name of readdirSync(tmp)) {
    renameSync(path.join(tmp, name), path.join(outDir, name));
    bytes += statSync(path.join(outDir, name)).size;
  }
  rmSync(tmp, { recursive: true, force: true });
  return { bytes };
}
