// The file targets of the fuzzing harness: each takes seeds from ../shared/testdata (and the shipped models/
// zhiyu-mini), mutates them with a structure-aware mutator, writes the input to the worker's temp folder and feeds it
// to the real loader or compiler: GGUF (reader, GGUF vocabulary, config, and every few inputs a full loadModel),
// safetensors (header JSON and bytes; full load of the folder), config.json (full load), tokenizer.json (build,
// encode, decode), chat templates (render), JSON schemas (compile to a grammar).
// An error is "clean" when it is one of the loaders' own error classes or names its op ("[op] …") or the file; any
// other exception (TypeError, a stack overflow, an allocation failure) is a finding.
// Leaves out: seeds from outside the project's data (the harness never downloads).
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FuzzRng, mutateBytes, mutateJson, mutateText } from "./mutate.js";
import { readGguf, getOptionalString } from "../../src/io/gguf.js";
import { openSafetensors } from "../../src/io/safetensors.js";
import { tokenizerFromGguf } from "../../src/tokenizers/gguf-vocab.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { llamaConfigFromGguf, llamaConfigFromHf, llamaParamSpecs } from "../../src/models/llama/config.js";
import { gpt2ConfigFromGguf, gpt2ConfigFromHf, gpt2ParamSpecs } from "../../src/models/gpt2/config.js";
import { loadModel } from "../../src/infer/load.js";
import { CHATML_TEMPLATE, renderChat } from "../../src/infer/chat-template.js";
import { grammarFromJsonSchema } from "../../src/infer/grammar/json-schema.js";

export type TargetName = "gguf" | "safetensors" | "config" | "tokenizer" | "template" | "schema";
export const TARGETS: readonly TargetName[] = ["gguf", "safetensors", "config", "tokenizer", "template", "schema"];

export interface Seed {
  name: string;
  data: Uint8Array;
  /** Header bytes (where counts and offsets live) for binary seeds. */
  hot?: number;
  json?: unknown;
}

export interface FileTarget {
  name: TargetName;
  ext: string;
  seeds(testdata: string, repoRoot: string): Seed[];
  mutate(seed: Seed, rng: FuzzRng): Uint8Array;
  /** Feeds the input (already written to `file`) to the real code; `deep` also runs the expensive full load. */
  run(file: string, input: Uint8Array, work: string, deep: boolean): Promise<void>;
}

const CLEAN_ERRORS = new Set(["GgufError", "ModelLoadError", "TokenizerFormatError", "SafetensorsError", "UnsupportedSchemaError",
  "UsageError", "GrammarError"]);

/** Unclean exceptions owned by other work (issue 14 item 6, serving-correctness): reported apart, not findings, until
 *  that work lands; remove an entry when its fix lands. */
export function knownOpen(_target: string, _err: unknown): string | null {
  return null; // no open findings: add an entry (target, error class → owner) while a fix is pending elsewhere
}

/** Whether an exception is a clean refusal (the loader's own error) rather than a crash. */
export function isCleanError(err: unknown, file: string): boolean {
  if (!(err instanceof Error)) return false;
  if (/Maximum call stack|Invalid array length|Array buffer allocation|Invalid typed array length|out of memory/i.test(err.message)) return false;
  if (CLEAN_ERRORS.has(err.name)) return true;
  if (err.name === "TypeError" || err.name === "ReferenceError") return false;
  return /^\[[\w .:/-]+\]/.test(err.message) || /^[A-Za-z][\w.]*: /.test(err.message) || err.message.includes(file) || err.message.includes(path.basename(file));
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const readJson = (p: string) => JSON.parse(readFileSync(p, "utf8")) as unknown;
function parsedOrNull(b: Uint8Array): unknown {
  try {
    return JSON.parse(text(b));
  } catch {
    return null;
  }
}

function jsonSeeds(files: string[]): Seed[] {
  return files.filter((f) => existsSync(f)).map((f) => ({ name: f, data: readFileSync(f), json: readJson(f) }));
}

function hfTokenizerFiles(testdata: string, repoRoot: string): string[] {
  const hf = path.join(testdata, "hf");
  const out = [path.join(repoRoot, "models/zhiyu-mini/tokenizer.json")];
  if (existsSync(hf)) {
    for (const d of readdirSync(hf)) {
      for (const sub of ["model", "base"]) {
        const f = path.join(hf, d, sub, "tokenizer.json");
        if (existsSync(f) && readFileSync(f).length < 200_000) out.push(f);
      }
    }
  }
  return out;
}

function mutateJsonBytes(seed: Seed, rng: FuzzRng): Uint8Array {
  // Mostly structural edits (the document parses, its content lies); sometimes raw bytes (it does not parse).
  if (rng.chance(0.85)) return utf8(JSON.stringify(mutateJson(seed.json, rng)));
  return mutateBytes(seed.data, rng, seed.data.length);
}

const LLAMA_HF = "gguf/dev-llama-tok512-f32.hf";

function modelFolder(work: string, testdata: string, config: Uint8Array | null, weights: Uint8Array | null): string {
  const dir = path.join(work, "model");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "config.json"), config ?? readFileSync(path.join(testdata, LLAMA_HF, "config.json")));
  const st = path.join(dir, "model.safetensors");
  if (weights) writeFileSync(st, weights);
  else if (!existsSync(st)) symlinkSync(path.resolve(testdata, LLAMA_HF, "model.safetensors"), st);
  const tok = path.join(dir, "tokenizer.json");
  if (!existsSync(tok)) copyFileSync(path.resolve("models/zhiyu-mini/tokenizer.json"), tok);
  return dir;
}

async function fullLoad(p: string): Promise<void> {
  const m = await loadModel(p, { contextLength: 64 });
  try {
    const seq = m.createSequence();
    m.forward([{ seq, tokens: [1, 2, 3] }]);
    seq.dispose();
  } finally {
    m.dispose();
  }
}

export function makeTargets(testdata: string): Record<TargetName, FileTarget> {
  return {
    gguf: {
      name: "gguf", ext: "gguf",
      seeds: (td) => ["dev-llama-tok512-q4_0-pure.gguf", "dev-llama-tok512-q8_0.gguf", "stories260K.gguf", "dev-llama-tok512-e256-q4_k_m-pure.gguf"]
        .map((f) => path.join(td, "gguf", f)).filter((f) => existsSync(f))
        .map((f) => ({ name: f, data: readFileSync(f), hot: readGguf(f).dataStart })),
      mutate: (seed, rng) => mutateBytes(seed.data, rng, seed.hot),
      run: async (file, _input, _work, deep) => {
        const g = readGguf(file);
        const arch = getOptionalString(g, "general.architecture");
        const tok = tokenizerFromGguf(g);
        tok.decode(tok.encode("Hello, 世界 <|im_start|>", { parseSpecial: true }));
        if (arch === "gpt2") gpt2ParamSpecs(gpt2ConfigFromGguf(g));
        else llamaParamSpecs(llamaConfigFromGguf(g));
        if (deep) await fullLoad(file);
      },
    },
    safetensors: {
      name: "safetensors", ext: "safetensors",
      seeds: (td) => {
        const f = path.join(td, LLAMA_HF, "model.safetensors");
        if (!existsSync(f)) return [];
        const data = readFileSync(f);
        const n = Number(data.readBigUInt64LE(0));
        return [{ name: f, data, hot: 8 + n, json: JSON.parse(data.subarray(8, 8 + n).toString("utf8")) }];
      },
      mutate: (seed, rng) => {
        if (rng.chance(0.3)) return mutateBytes(seed.data, rng, seed.hot);
        const header = utf8(JSON.stringify(mutateJson(seed.json, rng)));
        const body = seed.data.subarray(seed.hot!);
        const out = new Uint8Array(8 + header.length + body.length);
        new DataView(out.buffer).setBigUint64(0, BigInt(rng.chance(0.9) ? header.length : rng.int(2 * header.length + 16)), true);
        out.set(header, 8);
        out.set(body, 8 + header.length);
        return out;
      },
      run: async (file, input, work, deep) => {
        const f = openSafetensors(file);
        for (const name of [...f.tensors.keys()].slice(0, 4)) f.readTensor(name);
        if (deep) await fullLoad(modelFolder(work, testdata, null, input));
      },
    },
    config: {
      name: "config", ext: "json",
      seeds: (td, root) => jsonSeeds([path.join(td, LLAMA_HF, "config.json"), path.join(root, "models/zhiyu-mini/config.json"),
        path.join(td, "gguf/dev-gpt2-e32-f16.hf/config.json")]),
      mutate: (seed, rng) => mutateJsonBytes(seed, rng),
      run: async (_file, input, work, deep) => {
        const json = parsedOrNull(input) as Record<string, unknown> | null; // unparseable: only the loader sees it
        if (json !== null && typeof json === "object") {
          try {
            if (json.model_type === "gpt2") gpt2ParamSpecs(gpt2ConfigFromHf(json));
            else llamaParamSpecs(llamaConfigFromHf(json));
          } catch (err) {
            if (!(err instanceof Error && err.name === "ModelLoadError")) throw err;
          }
        }
        if (deep) await fullLoad(modelFolder(work, testdata, input, null));
      },
    },
    tokenizer: {
      name: "tokenizer", ext: "json",
      seeds: (td, root) => jsonSeeds(hfTokenizerFiles(td, root)),
      mutate: (seed, rng) => mutateJsonBytes(seed, rng),
      run: async (file) => {
        const tok = loadTokenizer(file);
        const ids = tok.encode("Hello, world! 你好，世界。 <|im_start|>user\n  \t123 ", { parseSpecial: true });
        tok.decode(ids);
        tok.decode([0, 1, 2, tok.vocabSize - 1].filter((id) => id >= 0));
      },
    },
    template: {
      name: "template", ext: "jinja",
      seeds: (td, root) => {
        const out: Seed[] = [{ name: "chatml", data: utf8(CHATML_TEMPLATE) }];
        for (const f of hfTokenizerFiles(td, root).map((t) => path.join(path.dirname(t), "tokenizer_config.json"))) {
          if (!existsSync(f)) continue;
          const t = (readJson(f) as { chat_template?: unknown }).chat_template;
          if (typeof t === "string") out.push({ name: f, data: utf8(t) });
        }
        return out;
      },
      mutate: (seed, rng) => utf8(mutateText(text(seed.data), rng)),
      run: async (_file, input) => {
        renderChat({ chatTemplate: text(input), tokenizer: null }, [
          { role: "system", content: "Be brief." }, { role: "user", content: "Hi {{ 7*7 }} <|im_end|>" },
          { role: "assistant", content: "Hello", tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{\"a\":1}" } }] },
          { role: "tool", content: "42", tool_call_id: "c1" }, { role: "user", content: "Thanks" },
        ], { addGenerationPrompt: true, tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }] });
      },
    },
    schema: {
      name: "schema", ext: "json",
      seeds: () => SCHEMA_SEEDS.map((s, i) => ({ name: `schema-${i}`, data: utf8(JSON.stringify(s)), json: s })),
      mutate: (seed, rng) => mutateJsonBytes(seed, rng),
      run: async (_file, input) => {
        const schema = parsedOrNull(input); // the server parses request JSON before any schema reaches the compiler
        if (schema !== null) grammarFromJsonSchema(schema);
      },
    },
  };
}

const SCHEMA_SEEDS: unknown[] = [
  { type: "object", properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } }, required: ["name"], additionalProperties: false },
  { type: "array", items: { type: "number" }, minItems: 1, maxItems: 5 },
  { anyOf: [{ type: "string", enum: ["a", "b"] }, { type: "null" }, { const: 3 }] },
  { $defs: { node: { type: "object", properties: { v: { type: "integer" }, next: { anyOf: [{ $ref: "#/$defs/node" }, { type: "null" }] } } } }, $ref: "#/$defs/node" },
  { type: "string", pattern: "^[a-z]{2,5}-\\d+$" },
  { type: "string", format: "date-time" },
  { allOf: [{ type: "object", properties: { a: { type: "boolean" } } }, { required: ["a"] }] },
  { type: "object", properties: { tags: { type: "array", items: { type: "string", minLength: 1, maxLength: 8 }, uniqueItems: true } } },
];
