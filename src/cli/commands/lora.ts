// `zhiyu lora merge --model BASE --lora PATH[:scale]... --out OUT`: folds LoRA adapters (PEFT folders or llama.cpp
// GGUF adapters) into a base model (Hugging Face folder or GGUF file) and writes the merged model: a Hugging Face
// folder, or a GGUF file when OUT ends in .gguf (--type f32|f16|bf16|q8_0|q4_0).
// Leaves out: k-quant output (quantize the merged f16 file with llama-quantize).
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadModel } from "../../infer/load.js";
import { isGgufPath, parseLoraArg, readAdapterFor } from "../../infer/lora.js";
import { type ExportType, writeModelGguf } from "../../infer/export.js";
import { MODEL_REGISTRY } from "../../models/registry.js";
import type { Weight } from "../../models/embed.js";
import { mergeLoraWeights, writeMergedHfFolder } from "../../train/adapters/merge.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";

const HELP = `usage: zhiyu lora merge --model BASE --lora PATH[:scale] [--lora …] --out OUT [--type f32]

  --model BASE          the base model: a Hugging Face folder or a .gguf file
  --lora PATH[:scale]   a PEFT adapter folder or a llama.cpp GGUF adapter (repeatable; scale default 1)
  --out OUT             a folder (Hugging Face: config.json, model.safetensors, tokenizer files) or OUT.gguf
  --type T              GGUF tensor type for the matrices: f32 (default), f16, bf16, q8_0, q4_0`;

const TYPES = ["f32", "f16", "bf16", "q8_0", "q4_0"];

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "--help" || sub === "-h" || sub === undefined) {
    console.log(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "merge") throw new UsageError(`zhiyu lora: unknown sub-command '${sub}' (have: merge)\n\n${HELP}`);
  const s = { type: "string" } as const;
  const { values } = parseFlags({ args: rest, options: { model: s, lora: { type: "string", multiple: true }, out: s, type: s,
    help: { type: "boolean", short: "h" } } }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.model || !values.lora?.length || !values.out) throw new UsageError(`--model, --lora and --out are required\n\n${HELP}`);
  const type = values.type ?? "f32";
  if (!TYPES.includes(type)) throw new UsageError(`--type ${type}: use one of ${TYPES.join(", ")}`);
  const gguf = isGgufPath(values.model);
  // Encoded matrices in the file's own layout (no backend repacking), decoded once for the merge.
  const model = await loadModel(values.model, { repack: false });
  const family = MODEL_REGISTRY.ofConfig(model.config);
  const specs = family.paramSpecs(model.config);
  const adapters = values.lora.map((a) => {
    const l = parseLoraArg(a);
    return { adapter: readAdapterFor(model, l.path, gguf), scale: l.scale };
  });
  const merged = mergeLoraWeights(specs, model.model.params as ReadonlyMap<string, Weight>, adapters);
  // Back to Hugging Face row order (a GGUF base keeps llama.cpp's Q/K order); the writers take HF order.
  const hfOrder = (name: string): Float32Array => {
    const spec = specs.find((x) => x.name === name)!;
    const data = merged.get(name)!;
    const order = gguf ? family.ggufRowOrder(model.config, spec, false) : null;
    if (!order) return data;
    const cols = data.length / spec.shape[0]!;
    const out = new Float32Array(data.length);
    for (let r = 0; r < order.length; r++) out.set(data.subarray(order[r]! * cols, (order[r]! + 1) * cols), r * cols);
    return out;
  };
  if (isGgufPath(values.out)) {
    writeModelGguf(values.out, model.config, (spec) => hfOrder(spec.name), { type: type as ExportType });
  } else {
    const transposed = family.hfTransposed;
    const config = gguf ? family.hfConfigJson(model.config)
      : JSON.parse(readFileSync(path.join(values.model, "config.json"), "utf8")) as Record<string, unknown>;
    writeMergedHfFolder(values.out, config, specs, new Map(specs.map((x) => [x.name, hfOrder(x.name)])),
      (spec, data) => {
        if (!transposed?.test(spec.name)) return { shape: spec.shape, data };
        const [rows, cols] = spec.shape as [number, number];
        const t = new Float32Array(data.length);
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = data[r * cols + c]!;
        return { shape: [cols, rows], data: t };
      }, gguf ? null : values.model);
  }
  console.log(`merged ${adapters.length} adapter(s) (${adapters.reduce((n, a) => n + a.adapter.modules.length, 0)} layers) into ${path.resolve(values.out)}`);
  return 0;
}
