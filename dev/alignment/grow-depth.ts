// Grows a LLaMA Hugging Face folder in depth without changing what it computes (docs/alignment.md "Session 12"):
// every layer is followed by factor − 1 copies of itself whose two output projections (self_attn.o_proj and
// mlp.down_proj) are zero, so each copy adds nothing to the residual stream and the grown model's logits equal the
// original's; training then moves the copies off zero (o_proj and down_proj get gradients at once, the copied
// q/k/v/gate/up start from features that already work). Tokenizer files and generation_config.json are copied, so
// the grown model tokenizes exactly as the original (the reward model scores its replies unchanged).
// Leaves out: growing width or heads, other architectures (GPT-2, BERT), sharded inputs, quantized tensors.
// Usage: node --import tsx dev/alignment/grow-depth.ts SRC_DIR OUT_DIR FACTOR
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openSafetensors, writeSafetensors, type SafetensorsDType, type SafetensorsWriteTensor } from "../../src/io/safetensors.js";

/** The files copied unchanged besides config.json and model.safetensors (those present in SRC_DIR). */
const COPIED = ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json", "vocab.json", "merges.txt"];
/** A layer's parameters (after "model.layers.N."); the ones a copy starts at zero are the residual outputs. */
const LAYER_PARAMS = ["input_layernorm.weight", "post_attention_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight",
  "self_attn.v_proj.weight", "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"];
const ZEROED_IN_COPIES = new Set(["self_attn.o_proj.weight", "mlp.down_proj.weight"]);

export interface GrowDepthResult { layers: number; tensors: number }

/** Writes OUT_DIR: SRC_DIR's LLaMA model with factor × its layers, computing the same logits (see the header). */
export function growDepth(srcDir: string, outDir: string, factor: number): GrowDepthResult {
  if (!Number.isInteger(factor) || factor < 2) throw new Error(`grow-depth: factor ${factor}: expected a whole number ≥ 2 (2 doubles the layers)`);
  const configFile = path.join(srcDir, "config.json");
  const weightsFile = path.join(srcDir, "model.safetensors");
  for (const f of [configFile, weightsFile]) {
    if (!existsSync(f)) throw new Error(`grow-depth: ${f} is missing; SRC_DIR must be a Hugging Face folder with config.json and one model.safetensors`);
  }
  if (existsSync(outDir) && readdirSync(outDir).length > 0) throw new Error(`grow-depth: ${outDir} exists and is not empty; give a new folder (nothing was written)`);
  const config = JSON.parse(readFileSync(configFile, "utf8")) as Record<string, unknown>;
  if (config.model_type !== "llama") throw new Error(`grow-depth: ${configFile}: model_type ${JSON.stringify(config.model_type)}; only "llama" folders can be grown`);
  const layers = config.num_hidden_layers;
  if (!Number.isInteger(layers) || (layers as number) < 1) throw new Error(`grow-depth: ${configFile}: num_hidden_layers ${JSON.stringify(layers)} is not a positive whole number`);
  const file = openSafetensors(weightsFile);
  const out: SafetensorsWriteTensor[] = [];
  const read = (name: string) => ({ info: file.info(name), bytes: file.readTensorBytes(name) });
  for (const name of file.tensors.keys()) {
    const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
    if (m) {
      if (Number(m[1]) >= (layers as number)) throw new Error(`grow-depth: ${weightsFile}: tensor ${name} names a layer past num_hidden_layers ${layers}`);
      if (!LAYER_PARAMS.includes(m[2]!)) throw new Error(`grow-depth: ${weightsFile}: tensor ${name} is not a plain LLaMA layer parameter (${LAYER_PARAMS.join(", ")}); biases and adapters are not supported`);
      continue;
    }
    const { info, bytes } = read(name);
    out.push({ name, dtype: info.dtype as SafetensorsDType, shape: info.shape, data: bytes });
  }
  for (let layer = 0; layer < (layers as number); layer++) {
    for (const param of LAYER_PARAMS) {
      const { info, bytes } = read(`model.layers.${layer}.${param}`);
      for (let copy = 0; copy < factor; copy++) {
        const data = copy > 0 && ZEROED_IN_COPIES.has(param) ? new Uint8Array(bytes.length) : bytes;
        out.push({ name: `model.layers.${layer * factor + copy}.${param}`, dtype: info.dtype as SafetensorsDType, shape: info.shape, data });
      }
    }
  }
  mkdirSync(outDir, { recursive: true });
  writeSafetensors(path.join(outDir, "model.safetensors"), out);
  writeFileSync(path.join(outDir, "config.json"), JSON.stringify({ ...config, num_hidden_layers: (layers as number) * factor }, null, 2) + "\n");
  for (const f of COPIED) if (existsSync(path.join(srcDir, f))) copyFileSync(path.join(srcDir, f), path.join(outDir, f));
  return { layers: (layers as number) * factor, tensors: out.length };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [src, dst, factor] = process.argv.slice(2);
  if (!src || !dst || !factor) throw new Error("usage: grow-depth.ts SRC_DIR OUT_DIR FACTOR");
  const r = growDepth(src, dst, Number(factor));
  console.log(`${dst}: ${r.layers} layers, ${r.tensors} tensors`);
}
