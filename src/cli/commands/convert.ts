// `zhiyu convert --from PATH --to OUT [--type f32|f16|q8_0|q4_0]`: HF folder or GGUF → GGUF file (OUT ends in
// .gguf; llama Q/K rows permuted the way llama.cpp's converter does; tokenizer.* keys kept from a GGUF source, or
// written from an HF folder's tokenizer.json / tokenizer.model and chat template as llama.cpp's converter writes
// them — byte-level BPE as "gpt2", SentencePiece BPE as "llama", Unigram as "t5" — so the file needs no
// --tokenizer), or GGUF/HF → Hugging Face folder (OUT is a path without a file extension; F32 safetensors +
// config.json, Q/K rows back in HF order). Any other extension (--to x.bin) is an error.
// BERT-family encoders go through src/infer/encoder-export.ts (also --type bf16; the WordPiece vocabulary in
// llama.cpp's spelling).
// Leaves out: k-quant output (quantize the f16 file with llama-quantize), writing tokenizer.json, and GGUF
// vocabularies for other tokenizers (said on stderr; such files need --tokenizer).
import { existsSync, statSync } from "node:fs";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";
import { chatTemplateFromFolder } from "../../infer/chat-template.js";
import { ggufTokenizerMetadata, UnsupportedTokenizerExport } from "../../tokenizers/gguf-export.js";
import { SentencePieceModelError } from "../../tokenizers/sentencepiece-model.js";
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

const HELP = `usage: zhiyu convert --from MODEL --to OUT [--type f32|f16|q8_0|q4_0] [--drop-mlm-head]

  --from MODEL   a .gguf file or a Hugging Face folder
  --to OUT       OUT.gguf: a GGUF file (with the tokenizer and chat template of an HF folder);
                 a path without an extension: a Hugging Face folder (F32 safetensors + config.json)
  --type T       GGUF tensor type: f32, f16 (default), q8_0, q4_0
  --drop-mlm-head  BERT-family encoders: write the bare encoder without its masked-LM head (llama.cpp refuses
                 the head's tensors, which it has no names for)`;

/** Reads an optional JSON file of an HF folder. */
function jsonIn(dir: string, name: string): unknown {
  const file = path.join(dir, name);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** The tokenizer.* metadata for a GGUF written from an HF folder, or a no_vocab marker with a note saying why. */
function tokenizerMetadataOf(dir: string): Array<readonly [string, GgufValue, GgufValueType?]> {
  const why = (reason: string) => {
    process.stderr.write(`zhiyu convert: the GGUF gets no vocabulary (${reason}); use it with --tokenizer ${dir}\n`);
    return [["tokenizer.ggml.model", "no_vocab"] as const];
  };
  const tokenizerJson = jsonIn(dir, "tokenizer.json");
  const spmFile = path.join(dir, "tokenizer.model");
  const sentencePieceModel = existsSync(spmFile) ? new Uint8Array(readFileSync(spmFile)) : undefined;
  if (tokenizerJson === undefined && !sentencePieceModel) return why(`${dir} has no tokenizer.json and no tokenizer.model`);
  try {
    return ggufTokenizerMetadata({ tokenizerJson, tokenizerConfig: jsonIn(dir, "tokenizer_config.json"), sentencePieceModel,
      addedTokens: jsonIn(dir, "added_tokens.json"), modelConfig: jsonIn(dir, "config.json"), chatTemplate: chatTemplateFromFolder(dir) });
  } catch (err) {
    if (err instanceof UnsupportedTokenizerExport) return why(`writing ${err.message} as GGUF is not supported yet`);
    if (err instanceof SentencePieceModelError) throw new UsageError(`${spmFile}: ${err.message}`);
    throw err;
  }
}

export async function run(argv: string[]): Promise<number | void> {
  const { values } = parseFlags({
    args: argv,
    options: { from: { type: "string" }, to: { type: "string" }, type: { type: "string" }, "drop-mlm-head": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" } },
    strict: true,
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.from || !values.to) throw new UsageError(`--from and --to are required\n\n${HELP}`);
  const ext = path.extname(values.to);
  const toGguf = ext.toLowerCase() === ".gguf";
  if (!toGguf && /^\.[A-Za-z][A-Za-z0-9]*$/.test(ext) && !(existsSync(values.to) && statSync(values.to).isDirectory())) {
    throw new UsageError(`--to ${values.to}: '${ext}' is not an output format; write a GGUF file (--to ` +
      `${values.to.slice(0, -ext.length)}.gguf) or a Hugging Face folder (a path without an extension)\n\n${HELP}`);
  }
  if (isEncoderPath(values.from)) return convertEncoder(values.from, values.to, values.type ?? "f16", values["drop-mlm-head"] === true);
  if (values["drop-mlm-head"]) throw new UsageError(`--drop-mlm-head applies to BERT-family encoders; ${values.from} is not one`);
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
    extra = toGguf ? tokenizerMetadataOf(values.from) : [];
  } else {
    const file = readGguf(values.from);
    const family = MODEL_REGISTRY.ofGgufArchitecture(getOptionalString(file, "general.architecture"), values.from);
    config = family.configFromGguf(file);
    source = new GgufSource(file, (name) => family.ggufName(name), family.ggufStack ? (name) => family.ggufStack!(name) : null);
    fromGguf = true;
    extra = [...file.metadata].filter(([k]) => k.startsWith("tokenizer.")).map(([k, v]) => [k, v, file.metadataTypes.get(k)] as const);
  }
  const getParam = (spec: Parameters<typeof readParamF32>[2]) => readParamF32(source, config, spec, backend, fromGguf);
  if (toGguf) {
    writeModelGguf(values.to, config, getParam, { type, name: path.basename(values.to, ".gguf"), extraMetadata: extra });
  } else {
    writeModelHf(values.to, config, getParam);
  }
  const vocab = extra.find(([k]) => k === "tokenizer.ggml.model")?.[1];
  console.log(`wrote ${values.to} (${config.architecture}${toGguf ? `, ${type}, tokenizer ${vocab ?? "none"}` : ", HF F32"})`);
  return 0;
}

/** BERT-family encoders (src/infer/encoder-export.ts): HF ↔ GGUF `bert`, also f32/f16/bf16/q8_0/q4_0 → any. */
function convertEncoder(from: string, to: string, typeFlag: string, dropMlmHead: boolean): number {
  const type = typeFlag as EncoderExportType;
  if (!["f32", "f16", "bf16", "q8_0", "q4_0"].includes(type)) throw new UsageError(`--type ${typeFlag}: expected f32, f16, bf16, q8_0 or q4_0`);
  const backend = createBackend({ kind: "ref" }); // only decoding and cast are needed
  setDefaultBackend(backend);
  const encoder = loadEncoder(from, { backend, repack: false });
  if (!to.endsWith(".gguf") && dropMlmHead) throw new UsageError("--drop-mlm-head applies to GGUF output (--to FILE.gguf)");
  if (to.endsWith(".gguf")) writeEncoderGguf(to, encoder, type, path.basename(to, ".gguf"), { dropMlmHead });
  else writeEncoderHf(to, encoder);
  if (to.endsWith(".gguf") && encoder.config.head === "mlm" && !dropMlmHead) {
    process.stderr.write("zhiyu convert: the GGUF keeps the masked-LM head as mlm.* tensors, which llama.cpp refuses; " +
      "add --drop-mlm-head for a file llama-embedding loads\n");
  }
  const head = dropMlmHead && encoder.config.head === "mlm" ? "none" : encoder.config.head;
  console.log(`wrote ${to} (bert ${encoder.config.variant}, head ${head}${to.endsWith(".gguf") ? `, ${type}` : ", HF F32"})`);
  return 0;
}
