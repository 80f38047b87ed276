// The model registry: the one list of families Zhiyu implements (one descriptor per folder under src/models/), and
// the lookups that pick a family from a HF config.json (model_type, else architectures[0]), a GGUF file's
// general.architecture, a config's architecture or a `zhiyu init --arch` name. Loading, export, conversion, init
// and the trainer dispatch through here, so they agree and refuse anything else by name, listing what is supported.
// The registry is built explicitly from the list below and frozen: importing a family registers nothing.
// Leaves out: what a family is (descriptor.ts) and how each one works (its folder).
import type { FamilyConfig, FamilyDescriptor } from "./descriptor.js";
import { ModelLoadError } from "./weights.js";
import { llamaFamily } from "./llama/family.js";
import { gpt2Family } from "./gpt2/family.js";
import { qwen3Family } from "./qwen3/family.js";
import { qwen2moeFamily } from "./qwen2moe/family.js";
import { gemma2Family } from "./gemma2/family.js";
import { gemma3Family } from "./gemma3/family.js";
import { phi3Family } from "./phi3/family.js";
import { glm4Family } from "./glm4/family.js";
import { bertFamily } from "./bert/family.js";
import { t5Family } from "./t5/family.js";

/** A descriptor of any family (each method takes that family's own config). */
export type AnyFamily = FamilyDescriptor<FamilyConfig>;

export class ModelRegistry {
  private readonly families: readonly AnyFamily[];

  constructor(families: readonly AnyFamily[]) {
    const seen = new Map<string, string>();
    const claim = (what: string, name: string, owner: string) => {
      const key = `${what} '${name}'`;
      const prev = seen.get(key);
      if (prev) throw new Error(`[ModelRegistry] ${key} is claimed by both ${prev} and ${owner}`);
      seen.set(key, owner);
    };
    for (const f of families) {
      claim("id", f.id, f.id);
      for (const t of f.hfModelTypes) claim("HF model_type", t, f.id);
      for (const a of f.hfArchitectures) claim("HF architecture", a, f.id);
      for (const a of f.ggufArchitectures) claim("GGUF architecture", a, f.id);
      for (const v of f.variants) claim("variant", v, f.id);
    }
    this.families = Object.freeze([...families]);
    Object.freeze(this);
  }

  get all(): readonly AnyFamily[] {
    return this.families;
  }

  /** The family with this id (e.g. "llama"), or an error listing the ids. */
  byId(id: string): AnyFamily {
    const f = this.families.find((x) => x.id === id);
    if (!f) throw new ModelLoadError(`model family '${id}' is not registered (registered: ${this.families.map((x) => x.id).join(", ")})`);
    return f;
  }

  /** The family of a config.json; `where` names the file in the error. */
  ofHfConfig(json: Record<string, unknown>, where: string): AnyFamily {
    // JSON.parse gives null, numbers, strings and arrays as readily as objects; every caller casts, so check here.
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      throw new ModelLoadError(`${where}: config.json must be a JSON object (got ${json === null ? "null" : Array.isArray(json) ? "an array" : typeof json})`);
    }
    const type = typeof json.model_type === "string" ? json.model_type : "";
    const arch = Array.isArray(json.architectures) ? String(json.architectures[0] ?? "") : "";
    const family = this.families.find((f) => f.hfModelTypes.includes(type)) ?? this.families.find((f) => f.hfArchitectures.includes(arch));
    if (!family) {
      throw new ModelLoadError(`${where}: model_type '${type}' / architectures '${arch}' is not supported ` +
        `(supported model_type: ${this.families.flatMap((f) => f.hfModelTypes).join(", ")})`);
    }
    return family;
  }

  /** The family of a GGUF general.architecture (undefined when the key is missing); `where` names the file. */
  ofGgufArchitecture(arch: string | undefined, where: string): AnyFamily {
    const family = arch === undefined ? undefined : this.families.find((f) => f.ggufArchitectures.includes(arch));
    if (!family) {
      throw new ModelLoadError(`${where}: architecture '${arch ?? "(none)"}' is not supported ` +
        `(supported: ${this.families.flatMap((f) => f.ggufArchitectures).join(", ")})`);
    }
    return family;
  }

  /** The family a parsed config belongs to (by its architecture / variant). */
  ofConfig(config: FamilyConfig): AnyFamily {
    const family = this.families.find((f) => f.variants.includes(config.architecture));
    if (!family) throw new ModelLoadError(`config architecture '${config.architecture}' belongs to no registered family`);
    return family;
  }

  /** The family of a `zhiyu init --arch` name; the error lists every accepted name. */
  ofVariant(variant: string): AnyFamily {
    const family = this.families.find((f) => f.variants.includes(variant));
    if (!family) throw new RangeError(`--arch ${variant}: expected ${this.variants().join(", ")}`);
    return family;
  }

  /** Every `--arch` name, in registry order. */
  variants(): string[] {
    return this.families.flatMap((f) => [...f.variants]);
  }
}

/** The families Zhiyu implements. A new family: its folder, and one line here. */
export const MODEL_REGISTRY = new ModelRegistry([
  llamaFamily,
  gpt2Family,
  qwen3Family,
  qwen2moeFamily,
  gemma2Family,
  gemma3Family,
  phi3Family,
  glm4Family,
  bertFamily,
  t5Family,
]);
