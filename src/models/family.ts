// Which model family (one file each in src/models: llama.ts, which also runs Mistral and Qwen2, and gpt2.ts) a
// checkpoint describes, from a Hugging Face config.json (model_type, else architectures[0]) or a GGUF file's
// general.architecture. The one list of supported models, so loading, converting and training agree and refuse
// anything else by name.
// Leaves out: families not implemented here (Phi, Gemma, Falcon, ...): they are refused, never guessed.
import { ModelLoadError } from "./weights.js";

export type ModelFamily = "llama" | "gpt2";

const HF_MODEL_TYPES: Record<string, ModelFamily> = { llama: "llama", mistral: "llama", qwen2: "llama", gpt2: "gpt2" };
const HF_ARCHITECTURES: [RegExp, ModelFamily][] = [[/^(Llama|Mistral|Qwen2)ForCausalLM$/, "llama"], [/^GPT2LMHeadModel$/, "gpt2"]];
const GGUF_ARCHITECTURES: Record<string, ModelFamily> = { llama: "llama", qwen2: "llama", gpt2: "gpt2" };

/** The family of a config.json; `where` names the file in the error. */
export function familyOfHfConfig(json: Record<string, unknown>, where: string): ModelFamily {
  const type = typeof json.model_type === "string" ? json.model_type : "";
  const arch = Array.isArray(json.architectures) ? String(json.architectures[0] ?? "") : "";
  const family = Object.hasOwn(HF_MODEL_TYPES, type) ? HF_MODEL_TYPES[type] : HF_ARCHITECTURES.find(([re]) => re.test(arch))?.[1];
  if (!family) {
    throw new ModelLoadError(`${where}: model_type '${type}' / architectures '${arch}' is not supported ` +
      `(supported model_type: ${Object.keys(HF_MODEL_TYPES).join(", ")})`);
  }
  return family;
}

/** The family of a GGUF general.architecture (undefined when the key is missing). */
export function familyOfGgufArchitecture(arch: string | undefined, where: string): ModelFamily {
  const family = arch !== undefined && Object.hasOwn(GGUF_ARCHITECTURES, arch) ? GGUF_ARCHITECTURES[arch] : undefined;
  if (!family) {
    throw new ModelLoadError(`${where}: architecture '${arch ?? "(none)"}' is not supported ` +
      `(supported: ${Object.keys(GGUF_ARCHITECTURES).join(", ")})`);
  }
  return family;
}
