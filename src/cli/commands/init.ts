// `zhiyu init --arch VARIANT --preset NAME --out PATH [--seed S] [--type f32|f16|q8_0|q4_0]
// [--vocab-from FILE.gguf]` (VARIANT: a registered family's, e.g. llama, qwen2, gpt2): a randomly initialised model
// (normal(0, 0.02) matrices, unit norms, zero biases) for benchmarks and tests, written as a Hugging Face folder
// or, when PATH ends in .gguf, a GGUF file llama.cpp loads.
// --vocab-from copies the tokenizer.* keys of a GGUF vocabulary (and its size) so text works end to end.
import { parseFlags } from "../flags.js";
import { UsageError } from "../errors.js";
import { Rng } from "../../core/rng.js";
import { paramSpecs, presetConfig, randomParam } from "../../models/presets.js";
import { MODEL_REGISTRY } from "../../models/registry.js";
import { readGguf, type GgufValue, type GgufValueType } from "../../io/gguf.js";
import { type ExportType, type ModelConfig, writeModelGguf, writeModelHf } from "../../infer/export.js";

function initUsage(): string {
  const presets = MODEL_REGISTRY.all.map((f) => `\n  ${f.variants.join("/")} presets: ${f.presets.join(", ")}`).join("");
  return `usage: zhiyu init --arch ${MODEL_REGISTRY.variants().join("|")} --preset NAME --out PATH(.gguf or folder) ` +
    `[--seed S] [--type f32|f16|q8_0|q4_0] [--vocab-from FILE.gguf] [--std 0.02]${presets}`;
}

export async function run(argv: string[]): Promise<number | void> {
  const { values } = parseFlags({
    args: argv,
    options: {
      arch: { type: "string" }, preset: { type: "string" }, out: { type: "string" }, seed: { type: "string" },
      type: { type: "string" }, "vocab-from": { type: "string" }, std: { type: "string" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  }, initUsage());
  if (values.help || !values.arch || !values.preset || !values.out) {
    console.log(initUsage());
    return values.help ? 0 : 2;
  }
  const type = (values.type ?? "f32") as ExportType;
  if (!["f32", "f16", "q8_0", "q4_0"].includes(type)) throw new UsageError(`--type ${values.type}: expected f32, f16, q8_0 or q4_0`);
  const seed = Number(values.seed ?? 0);
  const std = Number(values.std ?? 0.02);
  let extra: Array<readonly [string, GgufValue, GgufValueType?]> = [];
  let vocabSize: number | undefined;
  if (values["vocab-from"]) {
    const v = readGguf(values["vocab-from"]);
    extra = [...v.metadata].filter(([k]) => k.startsWith("tokenizer.")).map(([k, val]) => [k, val, v.metadataTypes.get(k)] as const);
    const tokens = v.metadata.get("tokenizer.ggml.tokens");
    if (Array.isArray(tokens)) vocabSize = tokens.length;
  }
  let config: ModelConfig;
  try {
    config = presetConfig(values.arch, values.preset, vocabSize);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const getParam = randomParam(new Rng(seed), std);
  const t0 = Date.now();
  if (values.out.endsWith(".gguf")) {
    if (extra.length === 0) extra = [["tokenizer.ggml.model", "no_vocab"]];
    writeModelGguf(values.out, config, getParam, { type, name: `zhiyu-${values.arch}-${values.preset}`, extraMetadata: extra });
  } else {
    if (type !== "f32") throw new UsageError("--type applies to .gguf output; HF folders are written in f32");
    writeModelHf(values.out, config, getParam);
  }
  const params = paramSpecs(config).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  console.log(`wrote ${values.out}: ${values.arch} ${values.preset}, ${(params / 1e6).toFixed(1)}M parameters, ${type}, seed ${seed} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return 0;
}
