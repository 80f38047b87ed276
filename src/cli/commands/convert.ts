// `zhiyu convert --from PATH --to OUT [--type f32|f16|q8_0|q4_0]`: HF folder or GGUF → GGUF file (OUT ends in
// .gguf; llama Q/K rows permuted the way llama.cpp's converter does, tokenizer.* keys kept from a GGUF source), or
// GGUF/HF → Hugging Face folder (OUT is a directory; F32 safetensors + config.json, Q/K rows back in HF order).
// BERT-family encoders go through src/infer/encoder-export.ts (also --type bf16).
// Leaves out: k-quant output (quantize the f16 file with llama-quantize), writing tokenizer.json.
import { existsSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { UsageError } from "../errors.js";
import { createBackend } from "../../backend/index.js";
import { readGguf, getOptionalString, type GgufValue, type GgufValueType } from "../../io/gguf.js";
import { openSafetensorsFolder } from "../../io/safetensors.js";
import type { WeightSource } from "../../models/weights.js";
import { GgufSource, SafetensorsSource } from "../../infer/sources.js";
import { type ExportType, type ModelConfig, readParamF32, writeModelGguf, writeModelHf } from "../../infer/export.js";
import { readFileSync } from "node:fs";
import path from "node:path";
import { MODEL_REGISTRY } from "../../models/registry.js";
import { isEncoderPath, loadEncoder } from "../../infer/encoder.js";
import { setDefaultBackend } from "../../tensor/index.js";
import { type EncoderExportType, writeEncoderGguf, writeEncoderHf } from "../../infer/encoder-export.js";

export async function run(argv: string[]): Promise<number | void> {
  const { values } = parseArgs({
    args: argv,
    options: { from: { type: "string" }, to: { type: "string" }, type: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help || !values.from || !values.to) {
    console.log("usage: zhiyu convert --from MODEL(.gguf or HF folder) --to OUT(.gguf or folder) [--type f32|f16|q8_0|q4_0]");
    return values.help ? 0 : 2;
  }
  if (isEncoderPath(values.from)) return convertEncoder(values.from, values.to, values.type ?? "f16");
  const type = (values.type ?? "f16") as ExportType;
  if (!["f32", "f16", "q8_0", "q4_0"].includes(type)) throw new UsageError(`--type ${values.type}: expected f32, f16, q8_0 or q4_0`);
  if (!existsSync(values.from)) throw new UsageError(`--from ${values.from}: no such file or folder`);
  const backend = createBackend({ kind: "ref" }); // only dequantize is needed
  let config: ModelConfig;
  let source: WeightSource;
  let fromGguf = false;
  let extra: Array<readonly [string, GgufValue, GgufValueType?]> = [];
  if (statSync(values.from).isDirectory()) {
    const configPath = path.join(values.from, "config.json");
    const json = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
    const family = MODEL_REGISTRY.ofHfConfig(json, configPath);
    config = family.configFromHf(json, configPath);
    const folder = openSafetensorsFolder(values.from);
    const cfg = config;
    source = new SafetensorsSource(folder, family.hfTransposed,
      family.hfFileName ? (name) => family.hfFileName!(cfg, name, (f) => folder.has(f)) : null);
    extra = [["tokenizer.ggml.model", "no_vocab"]];
  } else {
    const file = readGguf(values.from);
    const family = MODEL_REGISTRY.ofGgufArchitecture(getOptionalString(file, "general.architecture"), values.from);
    config = family.configFromGguf(file);
    source = new GgufSource(file, (name) => family.ggufName(name));
    fromGguf = true;
    extra = [...file.metadata].filter(([k]) => k.startsWith("tokenizer.")).map(([k, v]) => [k, v, file.metadataTypes.get(k)] as const);
  }
  const getParam = (spec: Parameters<typeof readParamF32>[2]) => readParamF32(source, config, spec, backend, fromGguf);
  if (values.to.endsWith(".gguf")) {
    writeModelGguf(values.to, config, getParam, { type, name: path.basename(values.to, ".gguf"), extraMetadata: extra });
  } else {
    writeModelHf(values.to, config, getParam);
  }
  console.log(`wrote ${values.to} (${config.architecture}${values.to.endsWith(".gguf") ? `, ${type}` : ", HF F32"})`);
  return 0;
}

/** BERT-family encoders (src/infer/encoder-export.ts): HF ↔ GGUF `bert`, also f32/f16/bf16/q8_0/q4_0 → any. */
function convertEncoder(from: string, to: string, typeFlag: string): number {
  const type = typeFlag as EncoderExportType;
  if (!["f32", "f16", "bf16", "q8_0", "q4_0"].includes(type)) throw new UsageError(`--type ${typeFlag}: expected f32, f16, bf16, q8_0 or q4_0`);
  const backend = createBackend({ kind: "ref" }); // only decoding and cast are needed
  setDefaultBackend(backend);
  const encoder = loadEncoder(from, { backend, repack: false });
  if (to.endsWith(".gguf")) writeEncoderGguf(to, encoder, type, path.basename(to, ".gguf"));
  else writeEncoderHf(to, encoder);
  console.log(`wrote ${to} (bert ${encoder.config.variant}, head ${encoder.config.head}${to.endsWith(".gguf") ? `, ${type}` : ", HF F32"})`);
  return 0;
}
