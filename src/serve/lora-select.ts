// Which LoRA adapters a request runs with (zhiyu serve --lora NAME=PATH[:scale]). Two ways, as the servers users know:
// `model` set to an adapter's NAME (vLLM's --lora-modules: the adapter at its --lora scale), or the llama-server
// field `lora: [{"id": index or name, "scale": x}]` (ids index the adapters in --lora order; a missing scale is the
// adapter's --lora scale). The `lora` field wins over the model name; neither: the base model.
// Leaves out: loading adapters (infer/lora.ts), batching rows with different adapters (infer/lora-slots.ts).
import type { AdapterChoice, GenerativeModel } from "../infer/model-api.js";
import { ApiError, invalid } from "./errors.js";
import type { GenerationParams } from "./protocol.js";

/** Names of the adapters a model serves per request (in --lora order). */
export function adapterNames(model: GenerativeModel): string[] {
  return [...(loraAdapters(model)?.keys() ?? [])];
}

function loraAdapters(model: GenerativeModel): ReadonlyMap<string, number> | undefined {
  return model.kind === "seq2seq" ? undefined : model.loraAdapters;
}

/** Checks `model` (the served model's names or an adapter's) and sets params.adapters; 404/400 naming the field. */
export function selectAdapters(model: GenerativeModel, modelNames: readonly string[], params: GenerationParams): void {
  const loaded = loraAdapters(model) ?? new Map<string, number>();
  const names = [...loaded.keys()];
  if (!modelNames.includes(params.model) && !loaded.has(params.model)) {
    const adapters = names.length > 0 ? ` or one of its LoRA adapters (${names.join(", ")})` : "";
    throw new ApiError(404, `The model '${params.model}' does not exist; this server serves '${modelNames[0]}'${adapters} (see GET /v1/models).`,
      "invalid_request_error", "model", "model_not_found");
  }
  let choice: Map<string, number> | undefined;
  if (params.lora !== null) {
    if (params.lora.length > 0 && names.length === 0) {
      throw invalid("lora", "this server has no LoRA adapters; start it with zhiyu serve --lora NAME=PATH[:scale]");
    }
    choice = new Map();
    params.lora.forEach((entry, i) => {
      const name = typeof entry.id === "number" ? names[entry.id] : loaded.has(entry.id) ? entry.id : undefined;
      if (name === undefined) {
        throw invalid(`lora[${i}].id`, `no adapter ${JSON.stringify(entry.id)}; this server has ${names.map((n, k) => `${k} = ${n}`).join(", ")}`);
      }
      choice!.set(name, entry.scale ?? loaded.get(name)!);
    });
  } else if (loaded.has(params.model) && !modelNames.includes(params.model)) {
    choice = new Map([[params.model, loaded.get(params.model)!]]);
  }
  params.adapters = choice && choice.size > 0 ? (choice as AdapterChoice) : undefined;
}
