// RoPE settings every rotary family reads the same way: the base θ, the rotary part of each head, and the scaling
// (linear, llama3, YaRN, dynamic NTK), parsed from either HF spelling — transformers 5's `rope_parameters`
// ({rope_type, rope_theta, factor, …}) or the Hub's top-level `rope_theta` + `rope_scaling` ({type | rope_type, …}) —
// or from GGUF `<arch>.rope.*` keys; and the inverse-frequency table plus YaRN's attention factor they imply,
// computed as transformers' rope-init functions do.
// Leaves out: LongRoPE/"su" (Phi-3 128k: rejected by name), per-request position interpolation.
import type { GgufFile } from "../io/gguf.js";
import { getOptionalNumber, getOptionalString } from "../io/gguf.js";
import { ModelLoadError } from "./weights.js";

export type RopeScalingSpec =
  | { type: "linear"; factor: number }
  | { type: "llama3"; factor: number; lowFreqFactor: number; highFreqFactor: number; originalContextLength: number }
  /** transformers' _compute_yarn_parameters: attentionFactor multiplies cos and sin (so scores by its square). */
  | { type: "yarn"; factor: number; originalContextLength: number; betaFast: number; betaSlow: number; attentionFactor: number; truncate: boolean }
  /** Dynamic NTK: θ grows with the sequence once it passes originalContextLength (see dynamicNtkTheta). */
  | { type: "dynamic"; factor: number; originalContextLength: number };

export interface RopeParams {
  theta: number;
  scaling: RopeScalingSpec | null;
  /** partial_rotary_factor when the config states one (1 = the whole head rotates). */
  partialRotaryFactor: number;
}

type Json = Record<string, unknown>;

function numberAt(obj: Json, key: string, where: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ModelLoadError(`${where}: '${key}' is ${JSON.stringify(v)}, expected a number`);
  return v;
}

/** yarn's default attention factor: 0.1·ln(factor) + 1 (1 when factor ≤ 1), optionally with DeepSeek's mscale pair. */
function yarnMscale(scale: number, mscale = 1): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

/** From config.json: `rope_parameters` (transformers 5) or `rope_theta` + `rope_scaling` (Hub). */
export function ropeParamsFromHf(json: Json, where: string): RopeParams {
  const params = (json.rope_parameters ?? null) as Json | null;
  const scaling = (json.rope_scaling ?? null) as Json | null;
  const src: Json = { ...(scaling ?? {}), ...(params ?? {}) };
  const at = params ? `${where} rope_parameters` : `${where} rope_scaling`;
  const theta = numberAt(src, "rope_theta", at) ?? numberAt(json, "rope_theta", where) ?? 10000;
  const partialRotaryFactor = numberAt(src, "partial_rotary_factor", at) ?? numberAt(json, "partial_rotary_factor", where) ?? 1;
  const type = String(src.rope_type ?? src.type ?? "default");
  const need = (key: string) => {
    const v = numberAt(src, key, at);
    if (v === undefined) throw new ModelLoadError(`${at}: rope type '${type}' needs '${key}'`);
    return v;
  };
  const maxPos = numberAt(json, "max_position_embeddings", where);
  let spec: RopeScalingSpec | null = null;
  if (type === "default") spec = null;
  else if (type === "linear") spec = { type, factor: need("factor") };
  else if (type === "llama3") {
    spec = { type, factor: need("factor"), lowFreqFactor: numberAt(src, "low_freq_factor", at) ?? 1,
      highFreqFactor: numberAt(src, "high_freq_factor", at) ?? 4, originalContextLength: numberAt(src, "original_max_position_embeddings", at) ?? 8192 };
  } else if (type === "yarn") {
    let factor = need("factor");
    const orig = numberAt(src, "original_max_position_embeddings", at);
    // transformers: with original_max_position_embeddings stated, the factor is max_position / original.
    if (orig !== undefined && maxPos !== undefined) factor = maxPos / orig;
    const originalContextLength = orig ?? maxPos ?? 2048;
    const mscale = numberAt(src, "mscale", at), mscaleAllDim = numberAt(src, "mscale_all_dim", at);
    const attentionFactor = numberAt(src, "attention_factor", at) ??
      (mscale && mscaleAllDim ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim) : yarnMscale(factor));
    spec = { type, factor, originalContextLength, betaFast: numberAt(src, "beta_fast", at) || 32, betaSlow: numberAt(src, "beta_slow", at) || 1,
      attentionFactor, truncate: src.truncate !== false };
  } else if (type === "dynamic") {
    spec = { type, factor: need("factor"), originalContextLength: numberAt(src, "original_max_position_embeddings", at) ?? maxPos ?? 2048 };
  } else {
    throw new ModelLoadError(`${at}: rope type '${type}' is not supported (supported: default, linear, llama3, yarn, dynamic)`);
  }
  return { theta, scaling: spec, partialRotaryFactor };
}

/** From GGUF `<arch>.rope.freq_base` and `<arch>.rope.scaling.*` (llama.cpp's keys). */
export function ropeParamsFromGguf(file: GgufFile, arch: string, fallbackTheta = 10000): RopeParams {
  const theta = getOptionalNumber(file, `${arch}.rope.freq_base`) ?? fallbackTheta;
  const type = getOptionalString(file, `${arch}.rope.scaling.type`) ?? "none";
  const factor = getOptionalNumber(file, `${arch}.rope.scaling.factor`);
  const orig = getOptionalNumber(file, `${arch}.rope.scaling.original_context_length`);
  const need = (v: number | undefined, key: string) => {
    if (v === undefined) throw new ModelLoadError(`${file.path}: ${arch}.rope.scaling.type '${type}' needs '${arch}.${key}'`);
    return v;
  };
  let scaling: RopeScalingSpec | null = null;
  if (type === "linear") scaling = { type, factor: need(factor, "rope.scaling.factor") };
  else if (type === "yarn") {
    const f = need(factor, "rope.scaling.factor");
    const attn = getOptionalNumber(file, `${arch}.rope.scaling.attn_factor`);
    scaling = { type, factor: f, originalContextLength: need(orig, "rope.scaling.original_context_length"),
      betaFast: getOptionalNumber(file, `${arch}.rope.scaling.yarn_beta_fast`) ?? 32,
      betaSlow: getOptionalNumber(file, `${arch}.rope.scaling.yarn_beta_slow`) ?? 1,
      attentionFactor: attn ?? yarnMscale(f), truncate: true };
  } else if (type !== "none") {
    throw new ModelLoadError(`${file.path}: ${arch}.rope.scaling.type '${type}' is not supported (supported: none, linear, yarn)`);
  }
  return { theta, scaling, partialRotaryFactor: 1 };
}

/** Inverse frequencies for the rotary dims (rotDim/2 entries), as transformers computes them for the scaling. */
export function scaledRopeFrequencies(rotDim: number, theta: number, scaling: RopeScalingSpec | null): Float32Array {
  const half = rotDim / 2;
  const out = new Float32Array(half);
  const s = scaling;
  // YaRN's ramp between the dims that keep extrapolated frequencies and those interpolated by 1/factor.
  let low = 0, high = 0;
  if (s?.type === "yarn") {
    const corr = (rot: number) => (rotDim * Math.log(s.originalContextLength / (rot * 2 * Math.PI))) / (2 * Math.log(theta));
    low = corr(s.betaFast);
    high = corr(s.betaSlow);
    if (s.truncate) { low = Math.floor(low); high = Math.ceil(high); }
    low = Math.max(low, 0);
    high = Math.min(high, rotDim - 1);
    if (low === high) high += 0.001;
  }
  for (let i = 0; i < half; i++) {
    // transformers: 1 / base^(arange(0, dim, 2) / dim) in float32.
    let f = 1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / rotDim)));
    if (s?.type === "linear") f /= s.factor;
    else if (s?.type === "llama3") {
      const lowWavelen = s.originalContextLength / s.lowFreqFactor;
      const highWavelen = s.originalContextLength / s.highFreqFactor;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) f /= s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (s.originalContextLength / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        f = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    } else if (s?.type === "yarn") {
      const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
      const extrapolation = 1 - ramp;
      f = (f / s.factor) * (1 - extrapolation) + f * extrapolation;
    }
    out[i] = f;
  }
  return out;
}

/** The factor YaRN multiplies cos and sin by (1 for every other scaling): scores scale by its square. */
export function ropeAttentionFactor(scaling: RopeScalingSpec | null): number {
  return scaling?.type === "yarn" ? scaling.attentionFactor : 1;
}

/** The context a model serves: max_position_embeddings, or factor × the original length for dynamic NTK, whose θ is
 *  made to grow past the original length (transformers sets no limit; the factor is the length it was scaled for). */
export function servedContextLength(maxPositions: number, scaling: RopeScalingSpec | null): number {
  return scaling?.type === "dynamic" ? Math.max(maxPositions, Math.round(scaling.factor * scaling.originalContextLength)) : maxPositions;
}

/** Dynamic NTK's θ for a sequence of seqLen positions (transformers' _compute_dynamic_ntk_parameters). */
export function dynamicNtkTheta(theta: number, rotDim: number, s: { factor: number; originalContextLength: number }, seqLen: number): number {
  const len = Math.max(seqLen, s.originalContextLength);
  return theta * Math.pow((s.factor * len) / s.originalContextLength - (s.factor - 1), rotDim / (rotDim - 2));
}
