// LoRA adapter files: the PEFT folder (adapter_config.json + adapter_model.safetensors, tensors
// `base_model.model.<module>.lora_A.weight` [r, in] and `.lora_B.weight` [out, r]) and llama.cpp's GGUF adapter
// (general.type "adapter", adapter.type "lora", adapter.lora.alpha; tensors `<gguf weight name>.lora_a` with ggml
// dims [in, r] and `.lora_b` [r, out] — the torch shapes unchanged, as llama.cpp's convert_lora_to_gguf.py writes
// them; LLaMA's Q/K lora_b rows permuted like the base weights, since B's rows are the layer's output rows).
// Reading checks the adapter against the base model (layer names, shapes, rank, GGUF architecture) before anything
// is built, so a mismatched adapter fails with the file, the layer and both shapes.
// Leaves out: DoRA, rank/alpha patterns, modules_to_save, f16/bf16 adapter tensors on write (f32 only).
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { writeFileAtomicChunks } from "../../io/atomic-write.js";
import { openSafetensors, writeSafetensors } from "../../io/safetensors.js";
import { type GgufFile, getOptionalNumber, getOptionalString, readGguf, readTensorBytes } from "../../io/gguf.js";
import { writeGguf } from "../../io/gguf-writer.js";
import { bf16ToF32, f16ToF32 } from "../../core/dtype.js";
import type { FamilyConfig } from "../descriptor.js";
import { MODEL_REGISTRY } from "../registry.js";
import type { ParamSpec } from "../weights.js";
import { LoraAdapter, LoraError, type LoraModule, type LoraSettings, makeModule, peftName } from "./lora.js";

/** What an adapter file is checked against: the base model's config and parameter specs. */
export interface LoraBase {
  config: FamilyConfig;
  specs: readonly ParamSpec[];
}

/** Reads a PEFT folder or a GGUF adapter (by the path: a .gguf file or a folder) and checks it against the base. */
export function readLoraAdapter(file: string, base: LoraBase): LoraAdapter {
  if (!existsSync(file)) throw new LoraError(`LoRA adapter '${file}' does not exist (give a PEFT folder or a .gguf adapter)`);
  return statSync(file).isDirectory() ? readPeftAdapter(file, base) : readGgufLora(file, base);
}

export function readPeftAdapter(dir: string, base: LoraBase): LoraAdapter {
  const cfgFile = path.join(dir, "adapter_config.json");
  const stFile = path.join(dir, "adapter_model.safetensors");
  if (!existsSync(cfgFile) || !existsSync(stFile)) {
    throw new LoraError(`${dir}: not a PEFT LoRA folder (needs adapter_config.json and adapter_model.safetensors)`);
  }
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(cfgFile, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new LoraError(`${cfgFile}: not valid JSON (${(err as Error).message})`);
  }
  if (cfg.peft_type !== undefined && cfg.peft_type !== "LORA") throw new LoraError(`${cfgFile}: peft_type is '${String(cfg.peft_type)}'; only LORA adapters are supported`);
  if (cfg.use_dora === true) throw new LoraError(`${cfgFile}: use_dora is true; DoRA adapters are not supported`);
  for (const key of ["rank_pattern", "alpha_pattern"]) {
    const v = cfg[key];
    if (v && typeof v === "object" && Object.keys(v).length > 0) throw new LoraError(`${cfgFile}: ${key} is set; per-module ranks/alphas are not supported`);
  }
  const r = cfg.r, alpha = cfg.lora_alpha;
  if (typeof r !== "number" || !Number.isInteger(r) || r < 1) throw new LoraError(`${cfgFile}: 'r' must be a positive integer, got ${JSON.stringify(r)}`);
  if (typeof alpha !== "number" || !(alpha > 0)) throw new LoraError(`${cfgFile}: 'lora_alpha' must be a positive number, got ${JSON.stringify(alpha)}`);
  const settings: LoraSettings = {
    r, alpha, dropout: typeof cfg.lora_dropout === "number" ? cfg.lora_dropout : 0, rsLora: cfg.use_rslora === true,
    targets: Array.isArray(cfg.target_modules) ? cfg.target_modules.map(String) : [],
  };
  const st = openSafetensors(stFile);
  const read = (name: string): Float32Array => {
    const info = st.info(name);
    const raw = st.readTensor(name);
    if (info.dtype === "F32") return Float32Array.from(raw as Float32Array);
    if (info.dtype === "BF16") return Float32Array.from(raw as Uint16Array, (x) => bf16ToF32(x));
    if (info.dtype === "F16") return Float32Array.from(raw as Uint16Array, (x) => f16ToF32(x));
    throw new LoraError(`${stFile}: tensor '${name}' is ${info.dtype}; LoRA tensors must be F32, BF16 or F16`);
  };
  const modules: LoraModule[] = [];
  for (const name of st.tensors.keys()) {
    const m = /^base_model\.model\.(.+)\.lora_A(?:\.default)?\.weight$/.exec(name);
    if (!m) {
      if (!/\.lora_B(?:\.default)?\.weight$/.test(name)) throw new LoraError(`${stFile}: tensor '${name}' is not a LoRA A/B tensor in peft's naming`);
      continue;
    }
    const module = m[1]!;
    const bName = name.replace(".lora_A", ".lora_B");
    if (!st.tensors.has(bName)) throw new LoraError(`${stFile}: '${name}' has no matching '${bName}'`);
    const aShape = st.info(name).shape, bShape = st.info(bName).shape;
    if (aShape.length !== 2 || bShape.length !== 2 || aShape[0] !== r || bShape[1] !== r) {
      throw new LoraError(`${stFile}: '${module}' has lora_A [${aShape.join(", ")}] and lora_B [${bShape.join(", ")}]; ` +
        `adapter_config.json says r = ${r}, so expected [${r}, in] and [out, ${r}]`);
    }
    modules.push(makeModule(`${module}.weight`, aShape[1]!, bShape[0]!, read(name), read(bName), r));
  }
  if (modules.length === 0) throw new LoraError(`${stFile}: no LoRA tensors (base_model.model.<module>.lora_A.weight)`);
  const adapter = new LoraAdapter(settings, modules);
  adapter.checkBase(base.specs, dir);
  return adapter;
}

/** adapter_config.json's text for an adapter (peft's keys). */
export function peftConfigJson(adapter: LoraAdapter, baseModel: string, taskType = "CAUSAL_LM"): string {
  const s = adapter.settings;
  const targets = [...new Set(adapter.modules.map((m) => m.module.split(".").pop()!))];
  return JSON.stringify({
    base_model_name_or_path: baseModel, bias: "none", fan_in_fan_out: false, inference_mode: true, init_lora_weights: true,
    lora_alpha: s.alpha, lora_dropout: s.dropout, modules_to_save: null, peft_type: "LORA", r: s.r, rank_pattern: {},
    alpha_pattern: {}, target_modules: targets, task_type: taskType, use_dora: false, use_rslora: s.rsLora,
  }, null, 2) + "\n";
}

/** Writes a PEFT folder that peft's PeftModel.from_pretrained loads (f32 tensors). */
export function writePeftAdapter(dir: string, adapter: LoraAdapter, baseModel: string, taskType = "CAUSAL_LM"): void {
  mkdirSync(dir, { recursive: true });
  const s = adapter.settings;
  writeSafetensors(path.join(dir, "adapter_model.safetensors"), adapter.modules.flatMap((m) => [
    { name: peftName(m.module, "A"), dtype: "F32" as const, shape: [s.r, m.inDim], data: m.a.toFloat32Array() },
    { name: peftName(m.module, "B"), dtype: "F32" as const, shape: [m.outDim, s.r], data: m.b.toFloat32Array() },
  ]), { format: "pt" });
  writeFileAtomicChunks(path.join(dir, "adapter_config.json"), (put) => put(Buffer.from(peftConfigJson(adapter, baseModel, taskType))));
}

/** B's rows in the GGUF order of its base weight (LLaMA's Q/K), or in HF order when reading (toGguf false). */
export function reorderRows(b: Float32Array, r: number, order: Int32Array | null): Float32Array {
  if (!order) return b;
  const out = new Float32Array(b.length);
  for (let dst = 0; dst < order.length; dst++) out.set(b.subarray(order[dst]! * r, order[dst]! * r + r), dst * r);
  return out;
}

/** Writes llama.cpp's GGUF LoRA adapter (f32 tensors) for a base model with this config. */
export function writeGgufLora(file: string, adapter: LoraAdapter, base: LoraBase): void {
  const family = MODEL_REGISTRY.ofConfig(base.config);
  const specs = new Map(base.specs.map((x) => [x.name, x]));
  const r = adapter.settings.r;
  const tensors = adapter.modules.flatMap((m) => {
    const gname = family.ggufName(m.weight);
    if (!gname) throw new LoraError(`[writeGgufLora] '${m.weight}' has no GGUF name in the ${family.id} family`);
    const order = family.ggufRowOrder(base.config, specs.get(m.weight)!, true);
    const b = reorderRows(m.b.toFloat32Array(), r, order);
    return [
      { name: `${gname}.lora_a`, dims: [m.inDim, r], type: "f32" as const, data: bytes(m.a.toFloat32Array()) },
      { name: `${gname}.lora_b`, dims: [r, m.outDim], type: "f32" as const, data: bytes(b) },
    ];
  });
  writeGguf(file, {
    metadata: [
      ["general.architecture", base.config.architecture],
      ["general.type", "adapter"],
      ["adapter.type", "lora"],
      ["adapter.lora.alpha", adapter.settings.rsLora ? adapter.settings.alpha * Math.sqrt(r) : adapter.settings.alpha, "f32"],
    ],
    tensors,
  });
}

export function readGgufLora(file: string, base: LoraBase): LoraAdapter {
  let g: GgufFile;
  try {
    g = readGguf(file);
  } catch (err) {
    throw new LoraError(`${file}: not a readable GGUF LoRA adapter (${(err as Error).message})`);
  }
  const type = getOptionalString(g, "general.type"), atype = getOptionalString(g, "adapter.type");
  if (type !== "adapter" || atype !== "lora") {
    throw new LoraError(`${file}: general.type '${type}' / adapter.type '${atype}'; expected a LoRA adapter ("adapter" / "lora")`);
  }
  const arch = getOptionalString(g, "general.architecture");
  if (arch !== base.config.architecture) {
    throw new LoraError(`${file}: the adapter is for architecture '${arch}' but the base model is '${base.config.architecture}'`);
  }
  const family = MODEL_REGISTRY.ofConfig(base.config);
  const byGguf = new Map<string, ParamSpec>();
  for (const s of base.specs) {
    const n = family.ggufName(s.name);
    if (n) byGguf.set(n, s);
  }
  const modules: LoraModule[] = [];
  let rank = 0;
  for (const t of g.tensors) {
    if (!t.name.endsWith(".lora_a")) continue;
    const gname = t.name.slice(0, -".lora_a".length);
    const tb = g.tensorByName.get(`${gname}.lora_b`);
    if (!tb) throw new LoraError(`${file}: '${t.name}' has no matching '${gname}.lora_b'`);
    const spec = byGguf.get(gname);
    if (!spec) throw new LoraError(`${file}: the adapter has '${gname}', which the base model (${family.id}, ${base.config.numLayers} layers) does not have`);
    const [inDim, r] = t.dims as [number, number];
    const [rb, outDim] = tb.dims as [number, number];
    if (t.dims.length !== 2 || tb.dims.length !== 2 || r !== rb || (rank && r !== rank)) {
      throw new LoraError(`${file}: '${gname}' has lora_a dims [${t.dims.join(", ")}] and lora_b [${tb.dims.join(", ")}]; expected [in, r] and [r, out] with one r`);
    }
    rank = r;
    if (t.type !== "f32" || tb.type !== "f32") {
      const f = (x: typeof t) => x.type === "f32" ? null : x.type;
      throw new LoraError(`${file}: '${gname}' is stored as ${f(t) ?? f(tb)}; Zhiyu reads f32 GGUF adapters (convert with --outtype f32)`);
    }
    const read = (x: typeof t) => { const b = readTensorBytes(g, x); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };
    const order = family.ggufRowOrder(base.config, spec, false);
    modules.push(makeModule(spec.name, inDim, outDim, read(t), reorderRows(read(tb), r, order), r));
  }
  if (modules.length === 0) throw new LoraError(`${file}: no '.lora_a' tensors`);
  const alpha = getOptionalNumber(g, "adapter.lora.alpha") ?? rank;
  const adapter = new LoraAdapter({ r: rank, alpha, dropout: 0, rsLora: false, targets: [...new Set(modules.map((m) => m.module.split(".").pop()!))] }, modules);
  adapter.checkBase(base.specs, file);
  return adapter;
}

function bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
