// Which embedder the desk's knowledge base ranks with when `zhiyu desk` gets no --embedder (Build 1: "BM25 plus dense
// embeddings — the encoder of the BERT-route issue once it lands; until then the served model's embeddings"):
// a sentence encoder shipped under models/ (the first folder, by name, whose config.json is an encoder family's),
// else the chat model the desk serves or phrases with (the default model when none is given): its mean-pooled
// final hidden states, as /v1/embeddings returns them for a decoder. `--embedder none` keeps BM25 alone.
// Leaves out: GGUF encoders under models/ (ship an HF folder, or pass --embedder FILE.gguf).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { MODEL_REGISTRY } from "../../../models/registry.js";
import { DEFAULT_MODEL_DIR } from "../../default-model.js";

/** The folder of a sentence encoder shipped under models/, or undefined. */
export function shippedEncoderDir(modelsDir = path.dirname(DEFAULT_MODEL_DIR)): string | undefined {
  if (!existsSync(modelsDir)) return undefined;
  for (const entry of readdirSync(modelsDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    const file = path.join(modelsDir, entry, "config.json");
    if (!existsSync(file)) continue;
    try {
      const family = MODEL_REGISTRY.ofHfConfig(JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>, file);
      if (family.kind === "encoder") return path.join(modelsDir, entry);
    } catch {
      // Not a model folder the registry knows (or unreadable JSON): not an encoder to use by default.
    }
  }
  return undefined;
}
