// Which embedder the desk's knowledge base ranks with when `zhiyu desk` gets no --embedder (Build 1: "BM25 plus dense
// embeddings — the encoder of the BERT-route issue once it lands; until then the served model's embeddings"):
// a sentence encoder shipped under models/ (the first folder, by name, whose config.json is an encoder family's and
// whose architecture has no task head: a classifier or tagger folder shares the encoder's weights but is not the
// embedder — zhiyu-intent-clinc150 and zhiyu-slots-crosswoz sit beside zhiyu-encoder),
// else the chat model the desk serves or phrases with (the default model when none is given): its mean-pooled
// final hidden states, as /v1/embeddings returns them for a decoder. `--embedder none` keeps BM25 alone.
// Leaves out: GGUF encoders under models/ (ship an HF folder, or pass --embedder FILE.gguf).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { MODEL_REGISTRY } from "../../../models/registry.js";
import { DEFAULT_MODEL_DIR } from "../../default-model.js";

/** Whether a Hugging Face architecture name carries a task head (…ForSequenceClassification, …ForTokenClassification,
 *  …ForQuestionAnswering, …ForMultipleChoice), i.e. the folder is a fine-tuned task model, not a sentence encoder. */
function hasTaskHead(architecture: string): boolean {
  return /For(Sequence|Token)Classification$|ForQuestionAnswering$|ForMultipleChoice$/.test(architecture);
}

/** The folder of a sentence encoder shipped under models/, or undefined. */
export function shippedEncoderDir(modelsDir = path.dirname(DEFAULT_MODEL_DIR)): string | undefined {
  if (!existsSync(modelsDir)) return undefined;
  for (const entry of readdirSync(modelsDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    const file = path.join(modelsDir, entry, "config.json");
    if (!existsSync(file)) continue;
    try {
      const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
      const family = MODEL_REGISTRY.ofHfConfig(config, file);
      const architectures = Array.isArray(config.architectures) ? config.architectures.map(String) : [];
      if (family.kind === "encoder" && !architectures.some(hasTaskHead)) return path.join(modelsDir, entry);
    } catch {
      // Not a model folder the registry knows (or unreadable JSON): not an encoder to use by default.
    }
  }
  return undefined;
}
