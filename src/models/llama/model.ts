// The LLaMA family (Llama 1–3, Mistral-style, SmolLM, TinyLlama; Qwen2 = LLaMA + Q/K/V biases): pre-norm
// decoder blocks of RMSNorm → grouped-query attention with RoPE → residual, RMSNorm → SwiGLU MLP → residual.
// Written once over the Tensor API, so the trainer runs it with autograd (forward(ids) → logits) and inference
// runs it under noGrad with a KV cache (forwardSegments: several sequences packed into one activation matrix
// for the linear layers, attention per sequence against its own cache). Single-token decode steps with GGUF
// weights go through the backend's fused "decoder-layer-decode" op when it runs this layer shape: block() is its spec.
// Config parsing, parameter specs and the HF ↔ GGUF name map live in config.ts; the registry descriptor in family.ts.
// Dims: B batch, T positions, N = packed tokens, D hidden, H heads, Hkv KV heads, Dh head dim, V vocab.
// Leaves out: sliding-window attention, MoE, dropout.
import {
  type QuantWeight, type Tensor, add, attendCached, attention, concat, copyOf, linear, narrow, reshape, rmsNorm, rope, swiglu, assign, to,
  contiguous, fromTypedArray, isAdaptedWeight, isQuantWeight, isGradEnabled, prefillSwigluMlp, prefillDecoderLayer, prefillDecoderLayersOrWhy, promptRopeTable, type PrefillLayerDims, type PrefillLayerWeights, tidy, getDefaultBackend,
} from "../../tensor/index.js";
import { type LlamaConfig, ropeFrequencies } from "./config.js";
import { embedRows, type Weight } from "../embed.js";
import type { KvCache, KvShape } from "../kv-cache.js";
import type { Backend, DecoderHeadWeights, DecoderLayerShape, DecoderLayerWeights } from "../../backend/backend.js";
import { type FusedLayerDims, PreparedLayers, fusedDecodeLogits, fusedLayerWeights, opFloats } from "../fused-decode.js";
import type { CausalLmNetwork } from "../descriptor.js";

/** What block() computes, as the backend's fused decode op names it. */
const DECODER_LAYER: DecoderLayerShape = { norm: "pre-rms", attention: "rotary-gqa", mlp: "swiglu" };

/** A run of tokens sharing positions pos0 … pos0+t−1 (b rows of t each) and, in inference, one cache. */
export interface Segment {
  /** First row of the segment in the packed activation matrix. */
  start: number;
  b: number;
  t: number;
  pos0: number;
  cache: KvCache | null;
}

/** The layer loop of a pre-norm SwiGLU decoder's trunk without autograd (LlamaModel and the dense DecoderModel
 *  families). A one-sequence prompt runs every layer in one backend call (prefillDecoderLayers) when each layer's
 *  matrices allow it (prefillWeights, null where the model never takes that path), RoPE's rows computed once;
 *  otherwise layer by layer — the one-call layer (prefillDecoderLayer, the bits of block()) where it runs (not tried
 *  when the stack call declined for a reason every layer shares: PrefillDeclined.everyLayer), block() elsewhere — freeing each layer's intermediates and input as it goes, since nothing needs them after it (a
 *  128-token prompt holds one layer's activations, not all of them: ~100 MB less at 110M). */
export function inferenceLayers(x: Tensor, segs: readonly Segment[], net: {
  numLayers: number;
  freqs: Float32Array;
  dims: () => PrefillLayerDims;
  prefillWeights: ((l: number, rows: number) => PrefillLayerWeights | null) | null;
  block: (l: number, x: Tensor) => Tensor;
}): Tensor {
  const seg = segs.length === 1 && segs[0].cache && segs[0].b === 1 && segs[0].cache.dtype !== "q8_0" ? segs[0] : null;
  const cache = seg?.cache ?? null;
  const ws = seg && seg.t >= 16 && net.prefillWeights
    ? Array.from({ length: net.numLayers }, (_, l) => net.prefillWeights!(l, seg.t)) : null;
  const rope = seg && ws?.some((w) => w !== null) ? promptRopeTable(x.backend, net.freqs, seg.pos0, seg.t) : null;
  const dims = rope ? net.dims() : null;
  let layerCalls = true; // false once the stack call declined for a reason every layer shares
  if (seg && cache && rope && dims && ws && ws.every((w) => w !== null)) {
    const y = prefillDecoderLayersOrWhy(x, ws.map((w, l) => ({ w: w!, k: cache.k[l], v: cache.v[l] })), dims, seg.pos0, rope);
    if (!("why" in y)) {
      x.dispose();
      return y;
    }
    layerCalls = !y.everyLayer;
  }
  for (let l = 0; l < net.numLayers; l++) {
    const input = x, w = layerCalls ? ws?.[l] ?? null : null;
    x = tidy(() => (seg && cache && rope && dims && w && prefillDecoderLayer(input, w, dims, { k: cache.k[l], v: cache.v[l], pos0: seg.pos0 }, rope)) ||
      net.block(l, input));
    input.dispose();
  }
  return x;
}

/** Per layer, the encoded projections that read the same input, as one matrix each (see fuseProjections);
 *  null for a layer whose group cannot be stacked (its matrices differ in type, e.g. a Q4_K_M file's q6_k v). */
export interface FusedProjections {
  /** q, k, v stacked by rows: [H·Dh + 2·Hkv·Dh, D]. */
  qkv: (QuantWeight | null)[];
  /** gate, up stacked by rows: [2·F, D]. */
  gateUp: (QuantWeight | null)[];
}

/** Inference only: views each layer's encoded q/k/v and gate/up matrices as one matrix, so a step runs one
 *  quantized matmul (one activation quantization, one thread-pool dispatch) where it ran three or two. The GGUF
 *  loader reads each group side by side into one buffer, so this is a view, never a copy. A group is stacked when
 *  its matrices are QuantWeights of one type laid out so, layer by layer; returns null when no group is (f32
 *  tensors, the trainer's case, are left alone). */
export function fuseProjections(config: { numLayers: number }, params: ReadonlyMap<string, Weight>): FusedProjections | null {
  const fused: FusedProjections = { qkv: [], gateUp: [] };
  const stack = (names: string[]): QuantWeight | null => {
    const ws = names.map((n) => params.get(n));
    if (!ws.every((w): w is QuantWeight => isQuantWeight(w) && w.type === (ws[0] as QuantWeight).type && w.cols === (ws[0] as QuantWeight).cols)) return null;
    const first = ws[0].data;
    let end = first.byteOffset;
    const adjacent = ws.every((w) => {
      const ok = w.data.buffer === first.buffer && w.data.byteOffset === end;
      end += w.data.length;
      return ok;
    });
    if (!adjacent) return null;
    const rows = ws.reduce((a, w) => a + w.rows, 0);
    return { type: ws[0].type, rows, cols: ws[0].cols, data: new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset),
      ...(ws.every((w) => w.packPanels) ? { packPanels: true } : {}) };
  };
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    const qkv = stack([`${p}.self_attn.q_proj.weight`, `${p}.self_attn.k_proj.weight`, `${p}.self_attn.v_proj.weight`]);
    const gateUp = stack([`${p}.mlp.gate_proj.weight`, `${p}.mlp.up_proj.weight`]);
    fused.qkv.push(qkv);
    fused.gateUp.push(gateUp);
  }
  return [...fused.qkv, ...fused.gateUp].some((w) => w !== null) ? fused : null;
}

/** Inference for any family with trunk + head: packs several sequences' new ids into one activation matrix
 *  (one pass through the weights for all of them), appends to each cache, and returns logits [segments, V] at each
 *  segment's last token. */
export function forwardPackedSegments(model: { trunk(ids: Int32Array, segs: readonly Segment[]): Tensor; head(x: Tensor): Tensor },
  items: ReadonlyArray<{ ids: readonly number[]; cache: KvCache }>): Tensor {
  const segs: Segment[] = [];
  const packed: number[] = [];
  for (const it of items) {
    it.cache.reserve(it.ids.length);
    segs.push({ start: packed.length, b: 1, t: it.ids.length, pos0: it.cache.length, cache: it.cache });
    for (const id of it.ids) packed.push(id);
  }
  const x = model.trunk(Int32Array.from(packed), segs);
  for (const s of segs) s.cache!.length += s.t;
  const last = segs.map((s) => narrow(x, 0, s.start + s.t - 1, 1));
  return model.head(last.length === 1 ? last[0] : concat(last, 0));
}

export interface LlamaOptions {
  /** "bf16": projections multiply bf16-rounded operands with f32 accumulation (training mixed precision). */
  matmulDtype?: "f32" | "bf16";
}

export class LlamaModel implements CausalLmNetwork {
  readonly freqs: Float32Array;
  /** Every layer's fields for the fused decode op (null: some matrix is not a plain encoded one), known after the
   *  first decode step. */
  private fusedLayers: DecoderLayerWeights[] | null | undefined;
  private fusedHeadWeights: (DecoderHeadWeights & { weight: QuantWeight }) | null | undefined;
  /** Those layers (and the output norm and head) prepared for the backend's op. */
  private readonly prepared = new PreparedLayers(() => this.fusedWeights() ?? [], () => this.fusedHead());
  constructor(readonly config: LlamaConfig, readonly params: ReadonlyMap<string, Weight>,
    readonly fused: FusedProjections | null = null, readonly options: LlamaOptions = {}) {
    this.freqs = ropeFrequencies(config);
  }

  /** Every projection goes through here so mixed precision (bf16 matmuls, f32 weights) applies to all of them. */
  private lin(x: Tensor, w: Weight, bias?: Tensor | null): Tensor {
    return linear(x, w, bias, { dtype: this.options.matmulDtype ?? "f32" });
  }

  private w(name: string): Weight {
    const p = this.params.get(name);
    if (!p) throw new Error(`[llama] parameter '${name}' is missing`);
    return p;
  }
  private t(name: string): Tensor {
    const p = this.w(name);
    if (!("shape" in p)) throw new Error(`[llama] parameter '${name}' must be a dense f32 tensor (norms, biases)`);
    return p as Tensor;
  }
  private optional(name: string): Tensor | null {
    return (this.params.get(name) as Tensor | undefined) ?? null;
  }

  /** Training / plain forward: ids [B, T] (i32 tensor) → logits [B, T, V], positions 0 … T−1, no cache. */
  /** ids [B, T] → the final normalised hidden states [B, T, D] (what a sequence-classification head reads). */
  features(ids: Tensor): Tensor {
    const [b, t] = ids.shape;
    const x = this.trunk(Int32Array.from(ids.toArray()), [{ start: 0, b, t, pos0: 0, cache: null }]);
    return reshape(this.norm(x), [b, t, this.config.hiddenSize]);
  }

  forward(ids: Tensor): Tensor {
    const [b, t] = ids.shape;
    const flat = Int32Array.from(ids.toArray());
    const x = this.trunk(flat, [{ start: 0, b, t, pos0: 0, cache: null }]);
    return reshape(this.head(x), [b, t, this.config.vocabSize]);
  }

  /** Inference: each segment's ids are appended to its cache; returns logits [segments, V] at each segment's
   *  last token. */
  forwardSegments(items: ReadonlyArray<{ ids: readonly number[]; cache: KvCache }>): Tensor {
    return this.fusedDecodeForward(items) ?? forwardPackedSegments(this, items);
  }

  /** Single-token decode steps of cached sequences as one backend call from the embedded tokens to the logits (every
   *  layer, the output norm, the head) when the backend's op runs the whole stack with a head and every projection
   *  is a plain encoded matrix; else null (trunk() then head(): the same kernels on the same values). */
  private fusedDecodeForward(items: ReadonlyArray<{ ids: readonly number[]; cache: KvCache }>): Tensor | null {
    const c = this.config, head = this.fusedHead();
    // quantLinear takes a packed-panel matrix's panel GEMM from 16 rows on: the head's own product only below that.
    if (!head || head.weight !== this.params.get(this.headName()) || (head.weight.packPanels && items.length >= 16) || !this.fusedWeights()) return null;
    return fusedDecodeLogits(this.prepared, getDefaultBackend().fused?.("decoder-layer-decode", DECODER_LAYER), items,
      (ids) => embedRows(this.w("model.embed_tokens.weight"), ids, c.hiddenSize), c.vocabSize);
  }

  private headName(): string {
    return this.config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  }

  /** The output norm and head as the fused op takes them, when the head is a plain encoded matrix (else null). */
  private fusedHead(): (DecoderHeadWeights & { weight: QuantWeight }) | null {
    if (this.fusedHeadWeights !== undefined) return this.fusedHeadWeights;
    const out = this.params.get(this.headName());
    return (this.fusedHeadWeights = out && isQuantWeight(out) && this.options.matmulDtype !== "bf16"
      ? { norm: opFloats(this.t("model.norm.weight")), eps: this.config.rmsNormEps, weight: out } : null);
  }

  /** The final hidden states [N, D] (before the output norm). */
  trunk(ids: Int32Array, segs: readonly Segment[]): Tensor {
    const c = this.config;
    let x = embedRows(this.w("model.embed_tokens.weight"), ids, c.hiddenSize); // [N, D]
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
      prefillWeights: (this.options.matmulDtype ?? "f32") === "f32" ? (l) => this.prefillWeights(l) : null,
      block: (l, input) => this.block(l, input, segs),
    });
  }

  /** When the backend has the composite decode op and this step is single-token decoding of cached sequences
   *  with encoded (GGUF) weights, a function that runs every layer on x [N, D] in place; else null (the tensor path,
   *  block(), is the op's specification). */
  private nativeDecodeStack(x: Tensor, segs: readonly Segment[]): ((x: Tensor) => void) | null {
    const run = x.backend.fused?.("decoder-layer-decode", DECODER_LAYER);
    if (!run || !segs.every((s) => s.cache && s.b === 1 && s.t === 1)) return null;
    const layers = this.fusedWeights();
    if (!layers) return null; // dense f32 weights (or adapters): the tensor path
    return this.prepared.decodeStep(run, segs);
  }

  /** Every layer's op fields when every projection is a plain encoded matrix (no f32 weights, no adapters), else
   *  null; computed on first use. q/k/v and gate/up go as one stacked matrix where fuseProjections made one. */
  private fusedWeights(): DecoderLayerWeights[] | null {
    if (this.fusedLayers !== undefined) return this.fusedLayers;
    const c = this.config;
    const matrix = (l: number, name: string): QuantWeight | null => {
      const w = this.params.get(`model.layers.${l}.${name}.weight`);
      return w !== undefined && isQuantWeight(w) ? w : null;
    };
    const names = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
    const layers = Array.from({ length: c.numLayers }, (_, l) => l);
    if (!layers.every((l) => names.every((n) => matrix(l, n)))) return (this.fusedLayers = null);
    const dims: FusedLayerDims = { hidden: c.hiddenSize, nHead: c.numHeads, nKv: c.numKvHeads, headDim: c.headDim,
      ffn: c.intermediateSize, eps: c.rmsNormEps, freqs: this.freqs, ropeInterleaved: c.ropeLayout === "interleaved" };
    return (this.fusedLayers = layers.map((l) => {
      const p = `model.layers.${l}`, o = matrix(l, "self_attn.o_proj")!, down = matrix(l, "mlp.down_proj")!;
      const qkv = this.fused?.qkv[l], gateUp = this.fused?.gateUp[l];
      return fusedLayerWeights(dims, {
        attnNorm: this.t(`${p}.input_layernorm.weight`), ffnNorm: this.t(`${p}.post_attention_layernorm.weight`),
        bq: this.optional(`${p}.self_attn.q_proj.bias`), bk: this.optional(`${p}.self_attn.k_proj.bias`),
        bv: this.optional(`${p}.self_attn.v_proj.bias`),
        attention: qkv ? { qkv, o } : { q: matrix(l, "self_attn.q_proj")!, k: matrix(l, "self_attn.k_proj")!, v: matrix(l, "self_attn.v_proj")!, o },
        mlp: gateUp ? { gateUp, down } : { gate: matrix(l, "mlp.gate_proj")!, up: matrix(l, "mlp.up_proj")!, down },
      });
    }));
  }

  /** The output norm: final hidden states [n, D] → [n, D] (what embeddings average). */
  norm(x: Tensor): Tensor {
    return rmsNorm(x, this.t("model.norm.weight"), this.config.rmsNormEps);
  }

  cacheShape(maxLength: number): KvShape {
    const c = this.config;
    return { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, maxLength };
  }

  hiddenStates(ids: Int32Array): Tensor {
    return this.norm(this.trunk(ids, [{ start: 0, b: 1, t: ids.length, pos0: 0, cache: null }]));
  }

  fusesDecodeSteps(backend: Backend): boolean {
    return (backend.fused?.("decoder-layer-decode", DECODER_LAYER) ?? null) !== null;
  }

  /** Output norm and LM head: [n, D] → [n, V]. */
  head(x: Tensor): Tensor {
    const c = this.config;
    return this.lin(this.norm(x), this.w(this.headName()));
  }

  /** Layer l's matrices and norms for prefillDecoderLayer(s) when its projections are stacked f16 / bf16 matrices
   *  that pack into panels or repacked (r16) quantized ones, without biases or adapters (the op checks the rest);
   *  else null (block() runs it). */
  private prefillWeights(l: number): PrefillLayerWeights | null {
    const p = `model.layers.${l}`;
    const plain = (names: string[]) => names.every((n) => isQuantWeight(this.params.get(`${p}.${n}.weight`)));
    const qkv = this.fused?.qkv[l], gateUp = this.fused?.gateUp[l], o = this.params.get(`${p}.self_attn.o_proj.weight`);
    const down = this.params.get(`${p}.mlp.down_proj.weight`);
    const panels = (qkv?.type === "f16" || qkv?.type === "bf16") && !!qkv.packPanels, repacked = !!qkv?.type.endsWith("_r16");
    if (!qkv || !gateUp || (!panels && !repacked) || !isQuantWeight(o) || !isQuantWeight(down) ||
      !plain(["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj"]) ||
      ["q_proj", "k_proj", "v_proj"].some((n) => this.optional(`${p}.self_attn.${n}.bias`))) return null;
    return { attnNorm: this.t(`${p}.input_layernorm.weight`), ffnNorm: this.t(`${p}.post_attention_layernorm.weight`), qNorm: null, kNorm: null,
      qkv, o, gateUp, down };
  }

  private prefillDims(): PrefillLayerDims {
    const c = this.config;
    return { nHead: c.numHeads, nKv: c.numKvHeads, headDim: c.headDim, eps: c.rmsNormEps, interleaved: c.ropeLayout === "interleaved" };
  }

  private block(l: number, x: Tensor, segs: readonly Segment[]): Tensor {
    const c = this.config;
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, this.t(`${p}.input_layernorm.weight`), c.rmsNormEps);
    let q: Tensor, k: Tensor, v: Tensor; // [N, H·Dh], [N, Hkv·Dh], [N, Hkv·Dh]
    // A fused matrix stands for its parts only while none of them carries a LoRA adapter.
    const plain = (names: string[]) => names.every((n) => !isAdaptedWeight(this.params.get(`${p}.${n}.weight`)));
    const qkvW = plain(["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"]) ? this.fused?.qkv[l] : null;
    if (qkvW) {
      const qkv = this.lin(h, qkvW);
      const qd = c.numHeads * c.headDim, kd = c.numKvHeads * c.headDim;
      const withBias = (y: Tensor, name: string) => {
        const b = this.optional(name);
        return b ? add(y, b) : y;
      };
      q = withBias(narrow(qkv, 1, 0, qd), `${p}.self_attn.q_proj.bias`);
      k = withBias(narrow(qkv, 1, qd, kd), `${p}.self_attn.k_proj.bias`);
      v = withBias(narrow(qkv, 1, qd + kd, kd), `${p}.self_attn.v_proj.bias`);
    } else {
      q = this.lin(h, this.w(`${p}.self_attn.q_proj.weight`), this.optional(`${p}.self_attn.q_proj.bias`));
      k = this.lin(h, this.w(`${p}.self_attn.k_proj.weight`), this.optional(`${p}.self_attn.k_proj.bias`));
      v = this.lin(h, this.w(`${p}.self_attn.v_proj.weight`), this.optional(`${p}.self_attn.v_proj.bias`));
    }
    const att = attendSegments(l, q, k, v, segs, {
      numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, freqs: this.freqs, ropeLayout: c.ropeLayout,
    });
    x = add(x, this.lin(att, this.w(`${p}.self_attn.o_proj.weight`)));
    const gateUpW = plain(["mlp.gate_proj", "mlp.up_proj"]) ? this.fused?.gateUp[l] : null;
    const downW = this.w(`${p}.mlp.down_proj.weight`);
    if (gateUpW && isQuantWeight(downW) && (this.options.matmulDtype ?? "f32") === "f32") { // a prompt's MLP as one backend call where it has one (the same bits)
      const y = prefillSwigluMlp(x, this.t(`${p}.post_attention_layernorm.weight`), c.rmsNormEps, gateUpW, downW);
      if (y) return y;
    }
    const h2 = rmsNorm(x, this.t(`${p}.post_attention_layernorm.weight`), c.rmsNormEps);
    let gate: Tensor, up: Tensor; // [N, F]
    if (gateUpW) {
      const gu = this.lin(h2, gateUpW);
      gate = narrow(gu, 1, 0, c.intermediateSize);
      up = narrow(gu, 1, c.intermediateSize, c.intermediateSize);
    } else {
      gate = this.lin(h2, this.w(`${p}.mlp.gate_proj.weight`));
      up = this.lin(h2, this.w(`${p}.mlp.up_proj.weight`));
    }
    return add(x, this.lin(swiglu(gate, up), downW));
  }
}

export interface AttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** RoPE frequencies, or null for models with learned positions (GPT-2). */
  freqs: Float32Array | null;
  ropeLayout: "neox" | "interleaved";
}

/** Causal self-attention over packed rows q [N, H·Dh], k, v [N, Hkv·Dh]: each segment gets RoPE at its own
 *  positions, appends k/v to its cache (if any) and attends to everything cached before it. → [N, H·Dh]. */
export function attendSegments(layer: number, q: Tensor, k: Tensor, v: Tensor, segs: readonly Segment[],
  s: AttentionShape): Tensor {
  if (!isGradEnabled() && segs.every((seg) => seg.cache && seg.b === 1)) {
    // Inference steps (decode and prefill): one pass of backend calls per sequence, no per-op tensors.
    return attendCached(q, k, v, segs.map((seg) => ({
      start: seg.start, t: seg.t, pos0: seg.pos0, k: seg.cache!.k[layer], v: seg.cache!.v[layer], q8: seg.cache!.dtype === "q8_0",
    })), { numHeads: s.numHeads, numKvHeads: s.numKvHeads, headDim: s.headDim, freqs: s.freqs, layout: s.ropeLayout });
  }
  const outs: Tensor[] = [];
  for (const seg of segs) {
    const rows = seg.b * seg.t;
    const pick = (x: Tensor, heads: number) =>
      reshape(contiguous(segs.length === 1 ? x : narrow(x, 0, seg.start, rows)), [seg.b, seg.t, heads, s.headDim]);
    let qs = pick(q, s.numHeads); // [B, T, H, Dh]
    let ks = pick(k, s.numKvHeads); // [B, T, Hkv, Dh]
    let vs = pick(v, s.numKvHeads);
    if (s.freqs) {
      qs = rope(qs, { pos0: seg.pos0, freqs: s.freqs, layout: s.ropeLayout });
      ks = rope(ks, { pos0: seg.pos0, freqs: s.freqs, layout: s.ropeLayout });
    }
    if (seg.cache) {
      const cache = seg.cache;
      const kt = cache.k[layer], vt = cache.v[layer], dt = kt.dtype; // an f16 cache stores rounded values
      if (cache.dtype === "q8_0") { // quantized as written, the filled part decoded
        const n = seg.pos0 + seg.t, shape = [1, n, s.numKvHeads, s.headDim];
        cache.writeQ8(layer, seg.pos0, contiguous(ks).toFloat32Array(), contiguous(vs).toFloat32Array(), seg.t);
        const rows = cache.readQ8(layer, 0, n);
        ks = fromTypedArray(rows.k, shape, { backend: kt.backend }), vs = fromTypedArray(rows.v, shape, { backend: kt.backend });
      } else {
        assign(narrow(kt, 1, seg.pos0, seg.t), dt === "f32" ? ks : to(ks, dt));
        assign(narrow(vt, 1, seg.pos0, seg.t), dt === "f32" ? vs : to(vs, dt));
        ks = narrow(kt, 1, 0, seg.pos0 + seg.t); // [1, pos0+T, Hkv, Dh]
        vs = narrow(vt, 1, 0, seg.pos0 + seg.t);
        if (dt !== "f32") ks = to(ks, "f32"), vs = to(vs, "f32");
      }
    }
    const o = attention(qs, ks, vs, { causal: true, scale: 1 / Math.sqrt(s.headDim) }); // [B, T, H, Dh]
    outs.push(reshape(o, [rows, s.numHeads * s.headDim]));
  }
  return outs.length === 1 ? outs[0] : concat(outs, 0);
}
