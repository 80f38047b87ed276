// The network of the shared decoder (config.ts says what each family switches on): embeddings (optionally scaled),
// then per layer RMSNorm → attention (separate or fused q/k/v with biases, per-head q/k RMSNorm, partial /
// interleaved / scaled RoPE, soft caps and sliding windows) → [output norm] → residual, RMSNorm → SwiGLU / GeGLU
// MLP or a sparse MoE → [output norm] → residual; final RMSNorm, LM head, optional final soft cap.
// Attention goes through llama's attendSegments (the backend's fused kernels) when the layer is plain (or windowed
// but no segment has outgrown the window yet), else through attendGeneral. Inference runs under noGrad with a KV cache (CausalLmNetwork); forward(ids) serves the trainer for
// families without MoE, soft caps or windows.
// Single-token decode steps of plain layers (no soft caps, windows, dynamic NTK, sandwich norms or GeGLU; default
// attention scale) with encoded weights go through the backend's fused "decoder-layer-decode" op (with Qwen3's q/k
// norms and MoE MLPs, whose routing stays routeTokens; Qwen2-MoE's shared expert too): block() is its specification.
// Leaves out: training MoE / capped layers.
import {
  type QuantWeight, type Tensor, add, affine, contiguous, copyOf, fromTypedArray, gelu, isGradEnabled, isQuantWeight, linear, mul, narrow, reshape, rmsNorm,
  prefillSwigluMlp, type PrefillLayerDims, type PrefillLayerWeights, swiglu, tanh, getDefaultBackend,
} from "../../tensor/index.js";
import type { Backend, DecoderHeadWeights, DecoderLayerShape, DecoderLayerWeights, DecoderMoeSpec } from "../../backend/backend.js";
import { type FusedLayerDims, type FusedLayerParts, PreparedLayers, fusedDecodeLogits, fusedLayerWeights, opFloats } from "../fused-decode.js";
import type { CausalLmNetwork } from "../descriptor.js";
import { embedRows, type Weight } from "../embed.js";
import type { KvCache, KvShape } from "../kv-cache.js";
import { type FusedProjections, type Segment, attendSegments, forwardPackedSegments, fuseProjections, inferenceLayers } from "../llama/model.js";
import { type MoeGrouping, type MoeTrace, type MoeWeights, moeFeedForward, routeTokens, traceRouted } from "../moe.js";
import { dynamicNtkTheta, ropeAttentionFactor, scaledRopeFrequencies } from "../rope-params.js";
import { type DecoderConfig, type DecoderNames, expertName } from "./config.js";
import { attendGeneral } from "./attention.js";

export class DecoderModel implements CausalLmNetwork {
  readonly freqs: Float32Array;
  /** Frequencies of the sliding-window layers when the config gives them their own RoPE (Gemma 3), else null. */
  private readonly localFreqs: Float32Array | null;
  private readonly moe: MoeWeights[] = [];
  /** How MoE layers reach their experts (tests compare the two). */
  moeGrouping: MoeGrouping = "by-expert";
  /** When set, MoE layers count the experts they run and the bytes they read into it. */
  moeTrace: MoeTrace | null = null;
  /** Per layer, the fused op's fields when the layer can run as the backend's "decoder-layer-decode" op (plain
   *  layer, encoded matrices), else null; computed on first use. */
  private fusedLayers: Array<DecoderLayerWeights | null> | undefined;
  private fusedHeadWeights: (DecoderHeadWeights & { weight: QuantWeight }) | null | undefined;
  /** Those layers prepared for the backend's op (all of them non-null). */
  private readonly prepared = new PreparedLayers(() => this.fusedWeights() as DecoderLayerWeights[], () => this.fusedHead());

  /** Each layer's q/k/v and gate/up as one stacked matrix where the loader read them side by side (llama's
   *  fuseProjections); a prompt's products use them when they run on f16 / bf16 panels (stackedForPrompt). */
  private readonly stacks: FusedProjections | null;

  constructor(readonly config: DecoderConfig, readonly params: ReadonlyMap<string, Weight>, readonly names: DecoderNames) {
    this.stacks = config.moe ? null : fuseProjections(config, params);
    this.freqs = scaledRopeFrequencies(config.rotaryDim, config.rope.theta, config.rope.scaling);
    this.localFreqs = config.localRope ? scaledRopeFrequencies(config.rotaryDim, config.localRope.theta, config.localRope.scaling) : null;
    if (config.moe) {
      for (let l = 0; l < config.numLayers; l++) {
        const experts = (pattern: string) => Array.from({ length: config.moe!.numExperts }, (_, e) => this.w(expertName(pattern, l, e)));
        const se = config.moe.sharedExpertFfn ? names.sharedExpert : undefined;
        const shared = se && ((n: string) => this.w(`model.layers.${l}.${n}.weight`));
        this.moe.push({ router: this.w(`model.layers.${l}.${names.router}.weight`), gate: experts(names.experts.gate),
          up: experts(names.experts.up), down: experts(names.experts.down),
          shared: se && shared ? { gate: shared(se.gate), up: shared(se.up), down: shared(se.down), gateInp: shared(se.gateInp) } : null });
      }
    }
  }

  private w(name: string): Weight {
    const p = this.params.get(name);
    if (!p) throw new Error(`[decoder] parameter '${name}' is missing`);
    return p;
  }
  private t(name: string): Tensor {
    const p = this.w(name);
    if (!("shape" in p)) throw new Error(`[decoder] parameter '${name}' must be a dense f32 tensor (norms, biases)`);
    return p as Tensor;
  }
  private optional(name: string): Tensor | null {
    return (this.params.get(name) as Tensor | undefined) ?? null;
  }

  /** Plain forward: ids [B, T] (i32 tensor) → logits [B, T, V], positions 0 … T−1, no cache. */
  forward(ids: Tensor): Tensor {
    const [b, t] = ids.shape;
    const x = this.trunk(Int32Array.from(ids.toArray()), [{ start: 0, b, t, pos0: 0, cache: null }]);
    return reshape(this.head(x), [b, t, this.config.vocabSize]);
  }

  forwardSegments(items: ReadonlyArray<{ ids: readonly number[]; cache: KvCache }>): Tensor {
    return this.fusedDecodeForward(items) ?? forwardPackedSegments(this, items);
  }

  /** Single-token decode steps as one backend call, embedded tokens to logits (fusedDecodeLogits), when every layer
   *  runs fused (as nativeDecodeStack asks) and the head is a plain encoded matrix without a softcap; else null. */
  private fusedDecodeForward(items: ReadonlyArray<{ ids: readonly number[]; cache: KvCache }>): Tensor | null {
    const c = this.config, shape = this.layerShape(), head = this.fusedHead();
    // quantLinear takes a packed-panel matrix's panel GEMM from 16 rows on: the head's own product only below that.
    if (!shape || !head || head.weight !== this.params.get(this.headName()) || (head.weight.packPanels && items.length >= 16) ||
      this.moeGrouping !== "by-expert" || !this.fusedWeights().every((w) => w !== null)) return null;
    return fusedDecodeLogits(this.prepared, getDefaultBackend().fused?.("decoder-layer-decode", shape), items, (ids) => {
      const x = embedRows(this.w("model.embed_tokens.weight"), ids, c.hiddenSize);
      return c.embedScale === null ? x : mul(x, c.embedScale);
    }, c.vocabSize);
  }

  private headName(): string {
    return this.config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  }

  /** The output norm and head as the fused op takes them: a plain encoded matrix and no final softcap (else null). */
  private fusedHead(): (DecoderHeadWeights & { weight: QuantWeight }) | null {
    if (this.fusedHeadWeights !== undefined) return this.fusedHeadWeights;
    const out = this.params.get(this.headName());
    return (this.fusedHeadWeights = out && isQuantWeight(out) && this.config.finalSoftcap === null
      ? { norm: opFloats(this.t("model.norm.weight")), eps: this.config.rmsNormEps, weight: out } : null);
  }

  trunk(ids: Int32Array, segs: readonly Segment[]): Tensor {
    const c = this.config;
    let x = embedRows(this.w("model.embed_tokens.weight"), ids, c.hiddenSize);
    if (c.embedScale !== null) x = mul(x, c.embedScale);
    if (isGradEnabled()) {
      for (let l = 0; l < c.numLayers; l++) x = this.block(l, x, segs);
      return x;
    }
    const native = this.nativeDecodeStack(x, segs);
    if (native) {
      // Single-token decode steps: the layer stack runs natively (one call) on a private copy of x, updated in place.
      const y = copyOf(x);
      x.dispose();
      native(y);
      return y;
    }
    return inferenceLayers(x, segs, {
      numLayers: c.numLayers, freqs: this.freqs, dims: () => this.prefillDims(),
      prefillWeights: this.promptLayerShape() ? (l, rows) => this.prefillWeights(l, rows) : null,
      block: (l, input) => this.block(l, input, segs),
    });
  }

  /** Whether this family's layers are what prefillDecoderLayer computes: pre-norm, separate q/k/v without biases
   *  (optionally Qwen3's per-head q/k norms), RoPE with the plain headDim^−½ scale, no soft-cap, window or dynamic
   *  scaling, and a dense SwiGLU MLP with separate gate/up. */
  private promptLayerShape(): boolean {
    const c = this.config, L = c.layer;
    const scale = (c.attentionScale ?? 1 / Math.sqrt(c.headDim)) * ropeAttentionFactor(c.rope.scaling) ** 2;
    return !c.moe && !L.qkvFused && !L.qkvBias && !L.gateUpFused && L.norms === "pre" && L.activation === "silu" &&
      c.attnSoftcap === null && c.rope.scaling?.type !== "dynamic" && c.slidingWindows.every((w) => w === null) &&
      Math.abs(scale * Math.sqrt(c.headDim) - 1) <= 1e-12 && this.freqs.length > 0;
  }

  /** Layer l's matrices and norms for prefillDecoderLayer(s) when its projections are stacked f16 / bf16 panels or
   *  repacked (r16) quantized matrices (stackedForPrompt) without biases; else null (block() runs it). */
  private prefillWeights(l: number, rows: number): PrefillLayerWeights | null {
    const p = `model.layers.${l}`;
    const qkv = this.stackedForPrompt("qkv", l, rows, true), gateUp = this.stackedForPrompt("gateUp", l, rows, true);
    const o = this.params.get(`${p}.self_attn.o_proj.weight`), down = this.params.get(`${p}.mlp.down_proj.weight`);
    if (!qkv || !gateUp || !isQuantWeight(o) || !isQuantWeight(down) ||
      ["q_proj", "k_proj", "v_proj"].some((n) => this.optional(`${p}.self_attn.${n}.bias`))) return null;
    const qk = this.config.layer.qkNorm;
    return {
      attnNorm: this.t(`${p}.input_layernorm.weight`), ffnNorm: this.t(`${p}.${this.names.preFfnNorm}.weight`),
      qNorm: qk ? this.t(`${p}.self_attn.q_norm.weight`) : null, kNorm: qk ? this.t(`${p}.self_attn.k_norm.weight`) : null,
      qkv, o, gateUp, down,
    };
  }

  private prefillDims(): PrefillLayerDims {
    const c = this.config;
    return { nHead: c.numHeads, nKv: c.numKvHeads, headDim: c.headDim, eps: c.rmsNormEps, interleaved: c.ropeLayout === "interleaved" };
  }

  norm(x: Tensor): Tensor {
    return rmsNorm(x, this.t("model.norm.weight"), this.config.rmsNormEps);
  }

  head(x: Tensor): Tensor {
    const c = this.config;
    const logits = linear(this.norm(x), this.w(this.headName()));
    return c.finalSoftcap === null ? logits : affine(tanh(affine(logits, 1 / c.finalSoftcap, 0)), c.finalSoftcap, 0);
  }

  cacheShape(maxLength: number): KvShape {
    const c = this.config;
    // Sliding-window layers keep a ring of their window (memory bounded by the window, not the context).
    const windows = c.slidingWindows.some((w) => w !== null) ? { windows: c.slidingWindows } : {};
    return { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, maxLength, ...windows };
  }

  hiddenStates(ids: Int32Array): Tensor {
    return this.norm(this.trunk(ids, [{ start: 0, b: 1, t: ids.length, pos0: 0, cache: null }]));
  }

  fusesDecodeSteps(backend: Backend): boolean {
    return this.layerShape() !== null && (backend.fused?.("decoder-layer-decode", this.layerShape()!) ?? null) !== null &&
      this.fusedWeights().every((w) => w !== null);
  }

  /** The fused op's layer shape for this config, or null when block() does something the op does not. */
  private layerShape(): DecoderLayerShape | null {
    const c = this.config, L = c.layer;
    const af = ropeAttentionFactor(c.rope.scaling);
    const scale = (c.attentionScale ?? 1 / Math.sqrt(c.headDim)) * af * af;
    const plain = c.attnSoftcap === null && c.finalSoftcap === null && c.slidingWindows.every((w) => w === null) &&
      c.rope.scaling?.type !== "dynamic" && Math.abs(scale * Math.sqrt(c.headDim) - 1) <= 1e-12 && L.norms !== "sandwich" &&
      L.activation === "silu";
    const mlp = c.moe ? (c.moe.sharedExpertFfn ? "moe-swiglu-shared" : "moe-swiglu") : "swiglu";
    return plain ? { norm: "pre-rms", attention: L.qkNorm ? "rotary-gqa-qk-norm" : "rotary-gqa", mlp } : null;
  }

  /** Per layer, its op fields when every matrix is encoded (GGUF blocks, f16, bf16), else null. */
  private fusedWeights(): NonNullable<DecoderModel["fusedLayers"]> {
    if (this.fusedLayers) return this.fusedLayers;
    const c = this.config, L = c.layer;
    const enc = (w: Weight | undefined): QuantWeight | null => (w !== undefined && isQuantWeight(w) ? w : null);
    const m = (l: number, name: string) => enc(this.params.get(`model.layers.${l}.${name}.weight`));
    const dims: FusedLayerDims = { hidden: c.hiddenSize, nHead: c.numHeads, nKv: c.numKvHeads, headDim: c.headDim,
      ffn: c.intermediateSize, eps: c.rmsNormEps, freqs: this.freqs, ropeInterleaved: c.ropeLayout === "interleaved" };
    this.fusedLayers = Array.from({ length: c.numLayers }, (_, l) => {
      const p = `model.layers.${l}`;
      const qkv = L.qkvFused ? m(l, "self_attn.qkv_proj") : null;
      const [q, k, v, o] = ["q_proj", "k_proj", "v_proj", "o_proj"].map((n) => m(l, `self_attn.${n}`));
      const attention = L.qkvFused ? (qkv && o ? { qkv, o } : null) : (q && k && v && o ? { q, k, v, o } : null);
      if (!attention) return null;
      let mlp: FusedLayerParts["mlp"] | null = null;
      if (c.moe) {
        const w = this.moe[l]!, router = enc(w.router);
        const [gate, up, down] = [w.gate, w.up, w.down].map((list) => list.map(enc));
        if (!router || ![gate, up, down].every((list) => list.every((x) => x !== null))) return null;
        const shape = c.moe;
        // Qwen2-MoE's shared expert: encoded matrices, and its gate row encoded or f32 (GGUF keeps the 1-D row f32).
        let shared: DecoderMoeSpec["shared"] = null;
        if (w.shared) {
          const [sg, su, sd] = [w.shared.gate, w.shared.up, w.shared.down].map(enc);
          const gi = w.shared.gateInp;
          const dense = isQuantWeight(gi) ? null : gi as Tensor;
          const gateInp = enc(gi) ?? (dense && dense.dtype === "f32" && dense.isContiguous ? opFloats(dense) : null);
          if (!sg || !su || !sd || !gateInp || !shape.sharedExpertFfn) return null;
          shared = { ffn: shape.sharedExpertFfn, gate: sg, up: su, down: sd, gateInp };
        }
        mlp = { moe: { numExperts: shape.numExperts, topK: shape.topK, expertFfn: shape.expertFfn, router,
          gate: stacked(gate as QuantWeight[]), up: stacked(up as QuantWeight[]), down: stacked(down as QuantWeight[]), shared,
          route: (logits: Float32Array, n: number) => {
            const routed = routeTokens(logits, n, shape);
            if (this.moeTrace) traceRouted(this.moeTrace, w, routed.experts);
            return routed;
          } } };
      } else {
        const gateUp = L.gateUpFused ? m(l, "mlp.gate_up_proj") : null, down = m(l, "mlp.down_proj");
        const [gate, up] = [m(l, "mlp.gate_proj"), m(l, "mlp.up_proj")];
        if (down && L.gateUpFused && gateUp) mlp = { gateUp, down };
        else if (down && !L.gateUpFused && gate && up) mlp = { gate, up, down };
      }
      if (!mlp) return null;
      return fusedLayerWeights(dims, { attention, mlp, attnNorm: this.t(`${p}.input_layernorm.weight`),
        ffnNorm: this.t(`${p}.${this.names.preFfnNorm}.weight`), bq: this.optional(`${p}.self_attn.q_proj.bias`),
        bk: this.optional(`${p}.self_attn.k_proj.bias`), bv: this.optional(`${p}.self_attn.v_proj.bias`),
        qNorm: L.qkNorm ? this.t(`${p}.self_attn.q_norm.weight`) : null, kNorm: L.qkNorm ? this.t(`${p}.self_attn.k_norm.weight`) : null });
    });
    return this.fusedLayers;
  }

  /** When the backend runs this layer shape as one op and this step is single-token decoding of cached sequences
   *  with encoded weights in every layer, a function that runs every layer on x [N, D] in place; else null. */
  private nativeDecodeStack(x: Tensor, segs: readonly Segment[]): ((x: Tensor) => void) | null {
    const shape = this.layerShape();
    const run = shape && x.backend.fused?.("decoder-layer-decode", shape);
    if (!run || this.moeGrouping !== "by-expert" || !segs.every((s) => s.cache && s.b === 1 && s.t === 1)) return null;
    if (!this.fusedWeights().every((w) => w !== null)) return null;
    return this.prepared.decodeStep(run, segs);
  }

  /** The MoE MLP of layer l over h [N, D] through the backend's op (each routed expert's matrices once over all its
   *  rows, in one native call) when it has it for this model's layers; else null (moeFeedForward, its specification). */
  private nativeMoe(l: number, h: Tensor): Tensor | null {
    const shape = this.layerShape();
    const run = shape && h.backend.fused?.("decoder-layer-decode", shape);
    if (!run?.moe || this.moeGrouping !== "by-expert" || !this.fusedWeights().every((w) => w !== null)) return null;
    const [n, d] = h.shape;
    const out = new Float32Array(n * d);
    run.moe(h.isContiguous && h.dtype === "f32" ? opFloats(h) : h.toFloat32Array(), out, n, this.prepared.for(run)[l]!);
    return fromTypedArray(out, [n, d]);
  }

  /** RMSNorm over each head's Dh values: x [N, heads·Dh] → same shape. */
  private headNorm(x: Tensor, heads: number, weight: Tensor): Tensor {
    const n = x.shape[0];
    const c = this.config;
    return reshape(rmsNorm(reshape(contiguous(x), [n * heads, c.headDim]), weight, c.rmsNormEps), [n, heads * c.headDim]);
  }

  private attend(l: number, q: Tensor, k: Tensor, v: Tensor, segs: readonly Segment[]): Tensor {
    const c = this.config;
    const af = ropeAttentionFactor(c.rope.scaling);
    const scale = (c.attentionScale ?? 1 / Math.sqrt(c.headDim)) * af * af;
    const window = c.slidingWindows[l];
    const dynamic = c.rope.scaling?.type === "dynamic" ? c.rope.scaling : null;
    // A window no segment has outgrown yet masks nothing (and a ring cache still holds position p in slot p).
    const unmasked = window === null || segs.every((seg) => seg.pos0 + seg.t <= window);
    if (c.attnSoftcap === null && unmasked && !dynamic) {
      // The fused kernels scale by headDim^−½: fold any other scale into q (RoPE is linear, so before or after is one).
      const qs = Math.abs(scale * Math.sqrt(c.headDim) - 1) > 1e-12 ? mul(q, scale * Math.sqrt(c.headDim)) : q;
      return attendSegments(l, qs, k, v, segs, { numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim,
        freqs: window !== null && this.localFreqs ? this.localFreqs : this.freqs, ropeLayout: c.ropeLayout });
    }
    if (isGradEnabled()) throw new Error(`[decoder] ${c.architecture}: training through soft-capped, windowed or dynamic-NTK attention is not supported`);
    return attendGeneral(l, q, k, v, segs, {
      numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeLayout: c.ropeLayout, scale,
      softcap: c.attnSoftcap, window,
      freqsFor: dynamic ? (len) => scaledRopeFrequencies(c.rotaryDim, dynamicNtkTheta(c.rope.theta, c.rotaryDim, dynamic, len), null)
        : window !== null && this.localFreqs ? () => this.localFreqs! : () => this.freqs,
    });
  }

  /** The stacked matrix of layer l's group for a prompt of n rows without gradients, when it is f16 / bf16 packed
   *  into panels (whose products give each output the same sum as the separate matrices': the same bits), else null. */
  private stackedForPrompt(group: "qkv" | "gateUp", l: number, n: number, repackedToo = false): QuantWeight | null {
    const w = this.stacks?.[group][l];
    const panels = !!w?.packPanels && (w.type === "f16" || w.type === "bf16"), repacked = repackedToo && !!w && w.type.endsWith("_r16");
    if (!w || (!panels && !repacked) || n < 16 || isGradEnabled()) return null;
    // a part that now carries an adapter (LoRA) or was replaced takes the separate products
    const parts = group === "qkv" ? ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"] : ["mlp.gate_proj", "mlp.up_proj"];
    return parts.every((part) => isQuantWeight(this.params.get(`model.layers.${l}.${part}.weight`))) ? w : null;
  }

  private block(l: number, x: Tensor, segs: readonly Segment[]): Tensor {
    const c = this.config, L = c.layer, p = `model.layers.${l}`;
    const rows = x.shape[0];
    const qd = c.numHeads * c.headDim, kd = c.numKvHeads * c.headDim;
    const h = rmsNorm(x, this.t(`${p}.input_layernorm.weight`), c.rmsNormEps);
    let q: Tensor, k: Tensor, v: Tensor;
    const bias = (y: Tensor, name: string) => {
      const b = this.optional(`${p}.self_attn.${name}.bias`);
      return b ? add(y, b) : y;
    };
    const qkvStack = L.qkvFused ? null : this.stackedForPrompt("qkv", l, rows);
    if (L.qkvFused || qkvStack) {
      const qkv = linear(h, qkvStack ?? this.w(`${p}.self_attn.qkv_proj.weight`));
      q = narrow(qkv, 1, 0, qd);
      k = narrow(qkv, 1, qd, kd);
      v = narrow(qkv, 1, qd + kd, kd);
    } else {
      q = linear(h, this.w(`${p}.self_attn.q_proj.weight`));
      k = linear(h, this.w(`${p}.self_attn.k_proj.weight`));
      v = linear(h, this.w(`${p}.self_attn.v_proj.weight`));
    }
    q = bias(q, "q_proj");
    k = bias(k, "k_proj");
    v = bias(v, "v_proj");
    if (L.qkNorm) {
      q = this.headNorm(q, c.numHeads, this.t(`${p}.self_attn.q_norm.weight`));
      k = this.headNorm(k, c.numKvHeads, this.t(`${p}.self_attn.k_norm.weight`));
    }
    let a = linear(this.attend(l, q, k, v, segs), this.w(`${p}.self_attn.o_proj.weight`));
    if (L.norms === "sandwich") a = rmsNorm(a, this.t(`${p}.${this.names.postAttnNorm}.weight`), c.rmsNormEps);
    x = add(x, a);
    const gateUpStack = c.moe || L.gateUpFused ? null : this.stackedForPrompt("gateUp", l, rows);
    const down = this.params.get(`${p}.mlp.down_proj.weight`);
    if (gateUpStack && L.activation === "silu" && L.norms !== "sandwich" && isQuantWeight(down)) {
      // a prompt's MLP as one backend call where it has one (the same bits as the ops below)
      const y = prefillSwigluMlp(x, this.t(`${p}.${this.names.preFfnNorm}.weight`), c.rmsNormEps, gateUpStack, down);
      if (y) return y;
    }
    const h2 = rmsNorm(x, this.t(`${p}.${this.names.preFfnNorm}.weight`), c.rmsNormEps);
    let m: Tensor;
    if (c.moe) {
      if (isGradEnabled()) throw new Error(`[decoder] ${c.architecture}: training MoE layers is not supported`);
      m = this.nativeMoe(l, h2) ?? moeFeedForward(h2, this.moe[l], c.moe, this.moeGrouping, this.moeTrace ?? undefined);
    } else {
      let gate: Tensor, up: Tensor;
      if (L.gateUpFused || gateUpStack) {
        const gu = linear(h2, gateUpStack ?? this.w(`${p}.mlp.gate_up_proj.weight`));
        gate = narrow(gu, 1, 0, c.intermediateSize);
        up = narrow(gu, 1, c.intermediateSize, c.intermediateSize);
      } else {
        gate = linear(h2, this.w(`${p}.mlp.gate_proj.weight`));
        up = linear(h2, this.w(`${p}.mlp.up_proj.weight`));
      }
      const act = L.activation === "silu" ? swiglu(gate, up) : mul(gelu(gate, "tanh"), up);
      m = linear(act, this.w(`${p}.mlp.down_proj.weight`));
    }
    if (L.norms === "sandwich") m = rmsNorm(m, this.t(`${p}.${this.names.postFfnNorm}.weight`), c.rmsNormEps);
    return add(x, m);
  }
}

/** Experts that lie back to back in one buffer (views into a GGUF stack) as one matrix of all their rows (fewer
 *  fields for the op to read per call), else the list as it is. */
function stacked(experts: QuantWeight[]): QuantWeight | QuantWeight[] {
  const [first] = experts, per = first!.data.byteLength;
  const together = experts.every((w, e) => w.type === first!.type && w.rows === first!.rows && w.cols === first!.cols &&
    w.data.buffer === first!.data.buffer && w.data.byteOffset === first!.data.byteOffset + e * per && w.data.byteLength === per);
  return together ? { type: first!.type, rows: first!.rows * experts.length, cols: first!.cols,
    data: new Uint8Array(first!.data.buffer, first!.data.byteOffset, per * experts.length) } : experts;
}
