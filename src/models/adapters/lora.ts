// LoRA adapters over any registered family's linear layers: the settings (rank, alpha, dropout, rsLoRA scaling,
// target modules by name), which of a model's parameters they apply to, fresh adapters (peft's init: A
// kaiming-uniform, B zero), attaching them to a network's parameter map (each targeted matrix becomes an
// AdaptedWeight: frozen base — f32 or still GGUF-encoded — plus trainable A [r, in] and B [out, r]; the linear op
// adds scale · B (A x)), and merging them into f32 weights (W' = W + scale · B A).
// Names follow peft: module `model.layers.0.self_attn.q_proj` has `base_model.model.<module>.lora_A.weight`.
// File formats (PEFT folder, llama.cpp GGUF adapter) are in lora-files.ts.
// Leaves out: adapters on embedding tables, DoRA, per-module rank/alpha patterns, bias training.
import type { Rng } from "../../core/rng.js";
import {
  type AdaptedWeight, type LowRankAdapter, type Tensor, fromTypedArray, isAdaptedWeight, isQuantWeight, mul,
} from "../../tensor/index.js";
import type { Weight } from "../embed.js";
import type { ParamSpec } from "../weights.js";

export class LoraError extends Error {
  override name = "LoraError";
}

/** Short names accepted in --lora targets=…, expanded to the HF module names LLaMA-style families use. */
export const TARGET_ALIASES: Readonly<Record<string, string>> = {
  q: "q_proj", k: "k_proj", v: "v_proj", o: "o_proj", gate: "gate_proj", up: "up_proj", down: "down_proj",
};

export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  /** rsLoRA: scale alpha/√r instead of alpha/r. */
  rsLora: boolean;
  /** Module names (last path component, e.g. "q_proj", "c_attn"). */
  targets: string[];
}

export const DEFAULT_LORA: LoraSettings = { r: 8, alpha: 16, dropout: 0, rsLora: false, targets: ["q_proj", "v_proj"] };

/** The adapter's output scale: alpha/r, or alpha/√r with rsLoRA. */
export function loraScale(s: Pick<LoraSettings, "r" | "alpha" | "rsLora">): number {
  return s.rsLora ? s.alpha / Math.sqrt(s.r) : s.alpha / s.r;
}

/** Parses "r=16,alpha=32,dropout=0.05,rslora=true,targets=q,k,v,o,gate,up,down" (values after targets= that have
 *  no "=" are more targets). */
export function parseLoraSpec(text: string, flag = "--lora"): LoraSettings {
  const s: LoraSettings = { ...DEFAULT_LORA, targets: [] };
  let inTargets = false;
  let sawAlpha = false;
  for (const raw of text.split(",").map((x) => x.trim()).filter((x) => x !== "")) {
    const eq = raw.indexOf("=");
    if (eq < 0) {
      if (!inTargets) throw new LoraError(`${flag}: '${raw}' is not key=value (keys: r, alpha, dropout, rslora, targets)`);
      s.targets.push(TARGET_ALIASES[raw] ?? raw);
      continue;
    }
    const key = raw.slice(0, eq).trim().toLowerCase();
    const value = raw.slice(eq + 1).trim();
    inTargets = key === "targets";
    const num = () => {
      const n = Number(value);
      if (value === "" || !Number.isFinite(n)) throw new LoraError(`${flag}: ${key}=${value} is not a number`);
      return n;
    };
    if (key === "r" || key === "rank") s.r = num();
    else if (key === "alpha") { s.alpha = num(); sawAlpha = true; }
    else if (key === "dropout") s.dropout = num();
    else if (key === "rslora") s.rsLora = value === "true" || value === "1";
    else if (key === "targets") { if (value) s.targets.push(TARGET_ALIASES[value] ?? value); }
    else throw new LoraError(`${flag}: unknown key '${key}' (keys: r, alpha, dropout, rslora, targets)`);
  }
  if (!Number.isInteger(s.r) || s.r < 1) throw new LoraError(`${flag}: r=${s.r}; the rank must be a positive integer`);
  if (!sawAlpha) s.alpha = 2 * s.r;
  if (!(s.alpha > 0)) throw new LoraError(`${flag}: alpha=${s.alpha}; it must be positive`);
  if (!(s.dropout >= 0 && s.dropout < 1)) throw new LoraError(`${flag}: dropout=${s.dropout}; it must be in [0, 1)`);
  if (s.targets.length === 0) s.targets = [...DEFAULT_LORA.targets];
  return s;
}

/** One adapted linear layer. */
export interface LoraModule {
  /** HF module path, e.g. "model.layers.0.self_attn.q_proj". */
  module: string;
  /** The base parameter it adapts ("<module>.weight"). */
  weight: string;
  inDim: number;
  outDim: number;
  /** [r, in] */
  a: Tensor;
  /** [out, r] */
  b: Tensor;
}

export const peftName = (module: string, which: "A" | "B") => `base_model.model.${module}.lora_${which}.weight`;

/** The base parameters a target list selects: 2-D matrices (not embedding lookups) whose module name is listed.
 *  Throws naming a target that matches nothing, with the module names the model has. */
export function targetSpecs(specs: readonly ParamSpec[], targets: readonly string[], where: string): ParamSpec[] {
  const linear = specs.filter((s) => s.kind === "matrix" && s.shape.length === 2 && s.name.endsWith(".weight") && s.role !== "embedding");
  const moduleName = (s: ParamSpec) => s.name.slice(0, -".weight".length).split(".").pop()!;
  const out: ParamSpec[] = [];
  for (const t of targets) {
    const hits = linear.filter((s) => moduleName(s) === t);
    if (hits.length === 0) {
      const have = [...new Set(linear.map(moduleName))].join(", ");
      const emb = specs.some((s) => s.role === "embedding" && moduleName(s) === t);
      throw new LoraError(`${where}: LoRA target '${t}' ${emb ? "is an embedding table (LoRA on embeddings is not supported)" :
        "matches no linear layer"}; this model's linear layers are: ${have}`);
    }
    for (const h of hits) if (!out.includes(h)) out.push(h);
  }
  return out;
}

/** A set of LoRA modules with its settings. */
export class LoraAdapter {
  constructor(readonly settings: LoraSettings, readonly modules: readonly LoraModule[]) {}

  get scale(): number {
    return loraScale(this.settings);
  }

  /** Fresh adapters on the targeted layers of a model with these parameter specs: A ~ U(±1/√in) (peft's
   *  kaiming-uniform with a = √5), B = 0, so the adapted model starts equal to the base. */
  static create(specs: readonly ParamSpec[], settings: LoraSettings, rng: Rng, where = "LoRA"): LoraAdapter {
    const modules = targetSpecs(specs, settings.targets, where).map((s) => {
      const [outDim, inDim] = s.shape as [number, number];
      checkRank(settings.r, s.name, outDim, inDim, where);
      const bound = 1 / Math.sqrt(inDim);
      const a = Float32Array.from({ length: settings.r * inDim }, () => rng.uniform(-bound, bound));
      return makeModule(s.name, inDim, outDim, a, new Float32Array(outDim * settings.r), settings.r);
    });
    return new LoraAdapter(settings, modules);
  }

  /** The trainable tensors by peft name, in module order (A then B). */
  tensors(): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    for (const mod of this.modules) {
      m.set(peftName(mod.module, "A"), mod.a);
      m.set(peftName(mod.module, "B"), mod.b);
    }
    return m;
  }

  /** ParamSpecs of the trainable tensors (the trainer's view: names, shapes, no weight-decay exemption). */
  paramSpecs(): ParamSpec[] {
    return this.modules.flatMap((m) => [
      { name: peftName(m.module, "A"), shape: [this.settings.r, m.inDim], kind: "matrix" as const, init: "normal" as const },
      { name: peftName(m.module, "B"), shape: [m.outDim, this.settings.r], kind: "matrix" as const, init: "zeros" as const },
    ]);
  }

  /** Checks that every module fits a base model with these specs (names and shapes) and rank ≤ the layer. */
  checkBase(specs: readonly ParamSpec[], where: string): void {
    const byName = new Map(specs.map((s) => [s.name, s]));
    for (const m of this.modules) {
      const s = byName.get(m.weight);
      if (!s || s.shape.length !== 2) {
        throw new LoraError(`${where}: the adapter has a layer '${m.module}' that the base model does not have; ` +
          `the adapter was made for another model (base linear layers look like ${specs.find((x) => x.kind === "matrix" && /layers\.0\./.test(x.name))?.name ?? specs[0]?.name})`);
      }
      if (s.shape[0] !== m.outDim || s.shape[1] !== m.inDim) {
        throw new LoraError(`${where}: the adapter's '${m.module}' is [out ${m.outDim}, in ${m.inDim}] but the base model's ` +
          `'${m.weight}' is [${s.shape.join(", ")}]; the adapter was made for a model of another size`);
      }
      checkRank(this.settings.r, m.weight, m.outDim, m.inDim, where);
    }
  }

  /** A copy of `params` in which each adapted matrix is an AdaptedWeight over the same base (kept as it is: f32
   *  or encoded). Several adapters may be stacked on one base by attaching to an already adapted map.
   *  `dequantizeBase` (training): an encoded base is multiplied as its f32 decode (see AdaptedWeight). */
  attach(params: ReadonlyMap<string, Weight>, options: { scale?: number; dropout?: (x: Tensor) => Tensor; dequantizeBase?: boolean } = {}): Map<string, Weight> {
    const out = new Map(params);
    for (const m of this.modules) {
      const w = out.get(m.weight);
      if (w === undefined) throw new LoraError(`LoRA attach: the model has no parameter '${m.weight}'`);
      const adapter: LowRankAdapter = { a: m.a, b: m.b, scale: this.scale * (options.scale ?? 1), dropout: options.dropout };
      const dequantizeBase = options.dequantizeBase ?? (isAdaptedWeight(w) ? w.dequantizeBase : undefined);
      const adapted: AdaptedWeight = isAdaptedWeight(w) ? { base: w.base, adapters: [...w.adapters, adapter], dequantizeBase }
        : { base: w, adapters: [adapter], dequantizeBase };
      out.set(m.weight, adapted);
    }
    return out;
  }

  /** W + scale · B A for one module, with W given as f32 [out, in] (returns a new array). */
  mergedWeight(m: LoraModule, base: Float32Array, scale = 1): Float32Array {
    const r = this.settings.r;
    const a = m.a.toFloat32Array();
    const b = m.b.toFloat32Array();
    const s = this.scale * scale;
    const out = Float32Array.from(base);
    const ba = new Float64Array(m.inDim);
    for (let o = 0; o < m.outDim; o++) {
      ba.fill(0);
      for (let k = 0; k < r; k++) {
        const bk = b[o * r + k]!;
        if (bk === 0) continue;
        for (let i = 0; i < m.inDim; i++) ba[i]! += bk * a[k * m.inDim + i]!;
      }
      for (let i = 0; i < m.inDim; i++) out[o * m.inDim + i] = Math.fround(base[o * m.inDim + i]! + Math.fround(s * ba[i]!));
    }
    return out;
  }
}

export function makeModule(weight: string, inDim: number, outDim: number, a: Float32Array, b: Float32Array, r: number): LoraModule {
  const ta = fromTypedArray(a, [r, inDim]);
  const tb = fromTypedArray(b, [outDim, r]);
  ta.requiresGrad = true;
  tb.requiresGrad = true;
  return { module: weight.slice(0, -".weight".length), weight, inDim, outDim, a: ta, b: tb };
}

function checkRank(r: number, name: string, out: number, inDim: number, where: string): void {
  if (r > Math.min(out, inDim)) {
    throw new LoraError(`${where}: LoRA rank ${r} is larger than the layer '${name}' [${out}, ${inDim}] allows ` +
      `(at most min(out, in) = ${Math.min(out, inDim)}); use a smaller r`);
  }
}

/** Inverted dropout on x with probability p, drawing from rng (training only). */
export function loraDropout(p: number, rng: Rng): ((x: Tensor) => Tensor) | undefined {
  if (p <= 0) return undefined;
  return (x) => {
    const mask = new Float32Array(x.size);
    for (let i = 0; i < mask.length; i++) mask[i] = rng.nextFloat() < p ? 0 : 1 / (1 - p);
    return mul(x, fromTypedArray(mask, [...x.shape]));
  };
}

/** Whether a parameter is an encoded (quantized GGUF) matrix — QLoRA keeps those frozen and encoded. */
export const isEncoded = (w: Weight): boolean => isQuantWeight(isAdaptedWeight(w) ? w.base : w);
