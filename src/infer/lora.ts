// LoRA adapters on a loaded causal LM (generate --lora, serve --lora): reads PEFT folders or llama.cpp GGUF
// adapters, checks them against the loaded model (layers, shapes, architecture) and attaches them to its network's
// parameters, so every matmul of an adapted layer adds scale · B (A x) over the base weights, which stay as loaded
// (f32, or GGUF-encoded and never decoded). parseLoraArg reads "PATH[:scale]" and "NAME=PATH[:scale]".
// attachLora fixes adapters for every sequence (generate --lora); attachLoraSlots loads several for per-sequence
// choice (serve --lora NAME=PATH[:scale]; the per-row factors are set by lora-slots.ts).
// Leaves out: merging at load (use `zhiyu lora merge`), loading or unloading adapters while serving.
import { existsSync } from "node:fs";
import type { Weight } from "../models/embed.js";
import { LoraAdapter, LoraError, makeModule } from "../models/adapters/lora.js";
import { readLoraAdapter, reorderRows } from "../models/adapters/lora-files.js";
import { MODEL_REGISTRY } from "../models/registry.js";
import type { LoadedModel } from "./load.js";
import { LoraSlots } from "./lora-slots.js";
import { type LowRankAdapter, isAdaptedWeight } from "../tensor/index.js";

export interface LoraArg {
  name: string;
  path: string;
  scale: number;
}

/** "PATH[:scale]" or "NAME=PATH[:scale]" (a trailing ":<number>" is the scale; default 1). */
export function parseLoraArg(text: string, flag = "--lora"): LoraArg {
  let rest = text.trim();
  let name = "";
  const eq = rest.indexOf("=");
  if (eq > 0 && !existsSync(rest)) {
    name = rest.slice(0, eq);
    rest = rest.slice(eq + 1);
  }
  let scale = 1;
  const m = /^(.*):(-?[0-9]*\.?[0-9]+(?:e-?[0-9]+)?)$/.exec(rest);
  if (m && !existsSync(rest)) {
    rest = m[1]!;
    scale = Number(m[2]);
  }
  if (!rest) throw new LoraError(`${flag} '${text}': no adapter path (use PATH[:scale] or NAME=PATH[:scale])`);
  return { name: name || rest, path: rest, scale };
}

/** Reads an adapter and checks it against the loaded model. A model loaded from GGUF keeps llama.cpp's row order
 *  (LLaMA's Q/K rows permuted for its RoPE pairing): pass ggufLayout so B's rows are permuted the same way. */
export function readAdapterFor(model: LoadedModel, file: string, ggufLayout: boolean): LoraAdapter {
  const family = MODEL_REGISTRY.ofConfig(model.config);
  const specs = family.paramSpecs(model.config);
  const adapter = readLoraAdapter(file, { config: model.config, specs });
  if (!ggufLayout) return adapter;
  const byName = new Map(specs.map((s) => [s.name, s]));
  const modules = adapter.modules.map((m) => {
    const order = family.ggufRowOrder(model.config, byName.get(m.weight)!, true);
    if (!order) return m;
    const b = reorderRows(m.b.toFloat32Array(), adapter.settings.r, order);
    return makeModule(m.weight, m.inDim, m.outDim, m.a.toFloat32Array(), b, adapter.settings.r);
  });
  return new LoraAdapter(adapter.settings, modules);
}

/** Whether a model path is a GGUF file (its weights keep llama.cpp's row order). */
export const isGgufPath = (p: string): boolean => /\.gguf$/i.test(p);

/** The network's parameter map, which adapters are attached to in place. */
function networkParams(model: LoadedModel): Map<string, Weight> {
  const params = model.model.params;
  if (!(params instanceof Map)) throw new LoraError(`[lora] the ${model.architecture} network's parameters cannot take adapters`);
  return params as Map<string, Weight>;
}

/** Attaches adapters (each with its scale) to the model for every request (generate --lora). */
export function attachLora(model: LoadedModel, adapters: ReadonlyArray<{ adapter: LoraAdapter; scale: number }>): void {
  const params = networkParams(model);
  for (const { adapter, scale } of adapters) {
    for (const [k, v] of adapter.attach(params, { scale })) params.set(k, v);
  }
}

/** Attaches named adapters for per-sequence choice: each starts at scale 0 (off) and a forward item's `adapters`
 *  turn them on for its rows. Names must be unique. */
export function attachLoraSlots(model: LoadedModel, adapters: ReadonlyArray<{ name: string; adapter: LoraAdapter; scale: number }>): LoraSlots {
  if (model.loraSlots) throw new LoraError(`[lora] model '${model.id}' already has per-request adapters attached`);
  const seen = new Set<string>();
  const params = networkParams(model);
  const entries = adapters.map(({ name, adapter, scale }) => {
    if (seen.has(name)) throw new LoraError(`[lora] two adapters are named '${name}'; give each --lora NAME=PATH a different NAME`);
    seen.add(name);
    const layers: LowRankAdapter[] = [];
    for (const [k, v] of adapter.attach(params)) {
      if (params.get(k) === v) continue;
      params.set(k, v);
      if (isAdaptedWeight(v)) layers.push(v.adapters[v.adapters.length - 1]!);
    }
    return { name, baseScale: adapter.scale, defaultScale: scale, layers };
  });
  model.loraSlots = new LoraSlots(entries);
  return model.loraSlots;
}
