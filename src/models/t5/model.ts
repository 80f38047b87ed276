// The T5 network (T5 v1.0, v1.1 / Flan-T5, mT5), written once over the Tensor API so training runs it with
// autograd and inference under noGrad: an encoder of pre-norm blocks (T5's RMS LayerNorm without mean or bias,
// bidirectional self-attention, ReLU or gated-GELU feed-forward) and a decoder of pre-norm blocks (causal
// self-attention, cross-attention over the encoder output, feed-forward); relative position buckets whose bias is
// computed from the first layer's table and shared by every layer of its stack; no 1/√d attention scaling (T5 folds
// it into the init). v1.0 ties lm_head to the shared embedding and scales the decoder output by d_model^-0.5.
// Inference keeps, per target sequence, a self-attention KV cache and the cross-attention K/V of its source
// (computed once in createState), and decodes several sequences per step with their rows packed.
// Dims: B batch, S source length, T target length, D d_model, H heads, Dh d_kv, V vocab.
// Single-token decode steps go through the backend's fused "cross-decoder-layer-decode" op when it has one (one native
// call per layer instead of ~40 tensor ops); the tensor path of decodeStep is its specification.
// Leaves out: dropout, UMT5's per-layer bias tables.
import {
  type Tensor, add, concat, contiguous, fromTypedArray, gelu, isGradEnabled, isQuantWeight, keep, linear, matmul, mul, narrow, permute,
  relu, reshape, rmsNorm, silu, softmax, assign, noGrad, tidy,
} from "../../tensor/index.js";
import type { CrossDecoderLayerDecodeSpec, CrossDecoderLayerShape, LayerMatrix } from "../../backend/backend.js";
import { embedRows, type Weight } from "../embed.js";
import { KvCache } from "../kv-cache.js";
import type { DecoderState } from "../descriptor.js";
import type { T5Config } from "./config.js";

/** A padding mask's additive value: exp(-1e9 - max) is exactly 0 in f32, and a row never overflows to NaN. */
const MASKED = -1e9;

export class T5InputError extends RangeError {
  override name = "T5InputError";
}

/** T5's relative position bucket of (key − query), as transformers computes it (float32 log for long distances). */
export function relativeBucket(relative: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let bucket = 0;
  let n = numBuckets;
  let rel = relative;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (rel > 0) bucket += n;
    rel = Math.abs(rel);
  } else {
    rel = -Math.min(rel, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (rel < maxExact) return bucket + rel;
  const f = Math.fround;
  const ratio = f(Math.log(f(rel / maxExact)));
  const large = maxExact + Math.trunc(f(f(ratio / f(Math.log(maxDistance / maxExact))) * (n - maxExact)));
  return bucket + Math.min(large, n - 1);
}

export interface T5Options {
  matmulDtype?: "f32" | "bf16";
}

/** The cross-attention K/V of one source, shared by the forks of its decoder state (freed with the last one). */
class SharedCross {
  private users = 1;
  constructor(readonly k: Tensor[], readonly v: Tensor[]) {}
  acquire(): this {
    this.users++;
    return this;
  }
  release(): void {
    if (--this.users > 0) return;
    for (const t of [...this.k, ...this.v]) t.dispose();
  }
}

/** One target sequence's decoder state (the Seq2SeqNetwork contract): self-attention cache and cross K/V. */
class T5DecoderState implements DecoderState {
  private disposed = false;
  constructor(readonly selfCache: KvCache, private readonly cross: SharedCross) {}
  get crossK(): readonly Tensor[] {
    return this.cross.k;
  }
  get crossV(): readonly Tensor[] {
    return this.cross.v;
  }
  fork(): DecoderState {
    return new T5DecoderState(this.selfCache.clone(), this.cross.acquire());
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.selfCache.dispose();
    this.cross.release();
  }
}

/** The per-layer part of the fused op's spec (weights, norms, dims): fixed for the model's life. */
type LayerSpec = Omit<CrossDecoderLayerDecodeSpec, "m" | "kCaches" | "vCaches" | "capacities" | "positions" | "crossK" | "crossV" | "sourceLengths">;

/** A contiguous f32 tensor's elements (the fused op reads and writes them in place). */
function f32Data(t: Tensor): Float32Array {
  if (t.dtype !== "f32" || !t.isContiguous) throw new Error(`[t5] fused decode: expected a contiguous f32 tensor, got ${t.dtype} ${JSON.stringify(t.shape)}`);
  return (t.storage("cross-decoder-layer-decode") as Float32Array).subarray(t.offset, t.offset + t.size);
}

export class T5Model {
  private readonly inner: number;
  /** The fused decode op's per-layer specs; null: the model cannot use it (LoRA adapters, bf16 tensors); undefined:
   *  not yet looked at. */
  private layerSpecs: LayerSpec[] | null | undefined;
  /** The LM head for the fused op's last layer (null: the head matrix cannot go to it; the tensor path runs it). */
  private headSpec: { head: LayerMatrix; outNorm: Float32Array; outScale: number } | null = null;

  constructor(readonly config: T5Config, readonly params: ReadonlyMap<string, Weight>, readonly options: T5Options = {}) {
    this.inner = config.numHeads * config.headDim;
  }

  private w(name: string): Weight {
    const p = this.params.get(name);
    if (!p) throw new Error(`[t5] parameter '${name}' is missing`);
    return p;
  }
  private t(name: string): Tensor {
    const p = this.w(name);
    if (!("shape" in p)) throw new Error(`[t5] parameter '${name}' must be a dense f32 tensor (norm weights)`);
    return p as Tensor;
  }
  private lin(x: Tensor, name: string): Tensor {
    return linear(x, this.w(name), null, { dtype: this.options.matmulDtype ?? "f32" });
  }
  private norm(x: Tensor, name: string): Tensor {
    return rmsNorm(x, this.t(name), this.config.layerNormEps);
  }
  private act(x: Tensor): Tensor {
    const a = this.config.activation;
    return a === "relu" ? relu(x) : a === "silu" ? silu(x) : gelu(x, a === "gelu" ? "none" : "tanh");
  }
  private ffn(x: Tensor, p: string): Tensor {
    const h = this.norm(x, `${p}.layer_norm.weight`);
    const up = this.config.gated
      ? mul(this.act(this.lin(h, `${p}.DenseReluDense.wi_0.weight`)), this.lin(h, `${p}.DenseReluDense.wi_1.weight`))
      : this.act(this.lin(h, `${p}.DenseReluDense.wi.weight`));
    return add(x, this.lin(up, `${p}.DenseReluDense.wo.weight`));
  }

  /** The relative position bias [1, H, tq, tk] of queries at q0 … q0+tq−1 over keys 0 … tk−1 (decoder: causal
   *  mask included), from the stack's first-layer table; differentiable in the table. */
  positionBias(stack: "encoder" | "decoder", q0: number, tq: number, tk: number): Tensor {
    const c = this.config;
    const causal = stack === "decoder";
    const buckets = new Int32Array(tq * tk);
    for (let i = 0; i < tq; i++) {
      for (let j = 0; j < tk; j++) buckets[i * tk + j] = relativeBucket(j - (q0 + i), !causal, c.relativeBuckets, c.relativeMaxDistance);
    }
    const table = this.w(`${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`);
    const rows = embedRows(table, buckets, c.numHeads); // [tq·tk, H]
    const bias = reshape(permute(reshape(rows, [tq, tk, c.numHeads]), [2, 0, 1]), [1, c.numHeads, tq, tk]);
    if (!causal || tk <= q0 + 1) return bias;
    const mask = new Float32Array(tq * tk);
    for (let i = 0; i < tq; i++) for (let j = q0 + i + 1; j < tk; j++) mask[i * tk + j] = MASKED;
    return add(bias, fromTypedArray(mask, [1, 1, tq, tk]));
  }

  /** softmax(q·kᵀ + bias)·v, no scaling: q [B, Tq, H, Dh], k, v [B, Tk, H, Dh], bias broadcast to [B, H, Tq, Tk]
   *  → [B, Tq, H·Dh]. */
  private attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | null): Tensor {
    const [b, tq] = q.shape as [number, number];
    let scores = matmul(permute(q, [0, 2, 1, 3]), permute(k, [0, 2, 3, 1])); // [B, H, Tq, Tk]
    if (bias) scores = add(scores, bias);
    const out = matmul(softmax(scores), permute(v, [0, 2, 1, 3])); // [B, H, Tq, Dh]
    return reshape(permute(out, [0, 2, 1, 3]), [b, tq, this.inner]);
  }

  private heads(x: Tensor, b: number, t: number): Tensor {
    return reshape(x, [b, t, this.config.numHeads, this.config.headDim]);
  }

  /** A padding mask [B, 1, 1, S] (0 where attended, MASKED at padding), or null when nothing is padded. */
  static keyMask(mask: Uint8Array | null | undefined, b: number, s: number): Tensor | null {
    if (!mask || mask.every((m) => m === 1)) return null;
    const m = new Float32Array(b * s);
    for (let i = 0; i < b * s; i++) m[i] = mask[i] ? 0 : MASKED;
    return fromTypedArray(m, [b, 1, 1, s]);
  }

  private checkIds(ids: Int32Array, what: string): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= this.config.vocabSize) throw new T5InputError(`[t5] ${what}[${i}]: token id ${id} is outside the vocabulary [0, ${this.config.vocabSize})`);
    }
  }

  /** The encoder: ids [B·S] row-major with an optional mask (1 = token) → last hidden state [B, S, D]. */
  encode(ids: Int32Array, batch: number, length: number, mask?: Uint8Array | null): Tensor {
    const c = this.config;
    if (ids.length !== batch * length) throw new T5InputError(`[t5] encode: ${ids.length} ids for batch ${batch} × length ${length}`);
    this.checkIds(ids, "encoder input");
    let x = reshape(embedRows(this.w("shared.weight"), ids, c.hiddenSize), [batch, length, c.hiddenSize]);
    const keyMask = T5Model.keyMask(mask, batch, length);
    const rel = this.positionBias("encoder", 0, length, length);
    const bias = keyMask ? add(rel, keyMask) : rel;
    for (let l = 0; l < c.numLayers; l++) {
      const p = `encoder.block.${l}.layer`;
      const h = this.norm(x, `${p}.0.layer_norm.weight`);
      const a = `${p}.0.SelfAttention`;
      const att = this.attend(this.heads(this.lin(h, `${a}.q.weight`), batch, length), this.heads(this.lin(h, `${a}.k.weight`), batch, length),
        this.heads(this.lin(h, `${a}.v.weight`), batch, length), bias);
      x = add(x, this.lin(att, `${a}.o.weight`));
      x = this.ffn(x, `${p}.1`);
    }
    return this.norm(x, "encoder.final_layer_norm.weight");
  }

  /** The decoder output → logits (v1.0: tied head, output scaled by d_model^-0.5). */
  private lmHead(h: Tensor): Tensor {
    const c = this.config;
    const scaled = c.scaleDecoderOutput ? mul(h, Math.pow(c.hiddenSize, -0.5)) : h;
    return this.lin(scaled, c.tieWordEmbeddings ? "shared.weight" : "lm_head.weight");
  }

  /** Teacher forcing: decoder ids [B·T] row-major over the encoder output [B, S, D] (sourceMask 1 = token) →
   *  logits [B, T, V]. What training and the exactness tests run. */
  decodeAll(decoderIds: Int32Array, batch: number, length: number, encoderOutput: Tensor, sourceMask?: Uint8Array | null): Tensor {
    const c = this.config;
    this.checkIds(decoderIds, "decoder input");
    const s = encoderOutput.shape[1]!;
    let x = reshape(embedRows(this.w("shared.weight"), decoderIds, c.hiddenSize), [batch, length, c.hiddenSize]);
    const selfBias = this.positionBias("decoder", 0, length, length);
    const crossMask = T5Model.keyMask(sourceMask, batch, s);
    for (let l = 0; l < c.numDecoderLayers; l++) {
      const p = `decoder.block.${l}.layer`;
      let h = this.norm(x, `${p}.0.layer_norm.weight`);
      let a = `${p}.0.SelfAttention`;
      let att = this.attend(this.heads(this.lin(h, `${a}.q.weight`), batch, length), this.heads(this.lin(h, `${a}.k.weight`), batch, length),
        this.heads(this.lin(h, `${a}.v.weight`), batch, length), selfBias);
      x = add(x, this.lin(att, `${a}.o.weight`));
      h = this.norm(x, `${p}.1.layer_norm.weight`);
      a = `${p}.1.EncDecAttention`;
      att = this.attend(this.heads(this.lin(h, `${a}.q.weight`), batch, length), this.heads(this.lin(encoderOutput, `${a}.k.weight`), batch, s),
        this.heads(this.lin(encoderOutput, `${a}.v.weight`), batch, s), crossMask);
      x = add(x, this.lin(att, `${a}.o.weight`));
      x = this.ffn(x, `${p}.2`);
    }
    return this.lmHead(this.norm(x, "decoder.final_layer_norm.weight"));
  }

  /** A decoder state for one source: encoder output [1, S, D] → cross K/V per layer (kept past the caller's tidy). */
  createState(encoderOutput: Tensor, maxLength: number): DecoderState {
    const c = this.config;
    if (encoderOutput.shape[0] !== 1) throw new T5InputError(`[t5] createDecoderState: encoder output ${JSON.stringify(encoderOutput.shape)} must hold one source`);
    const s = encoderOutput.shape[1]!;
    const crossK: Tensor[] = [], crossV: Tensor[] = [];
    if (s > c.sourceLength) throw new T5InputError(`[t5] the source has ${s} tokens; the model accepts at most ${c.sourceLength} (n_positions): shorten it`);
    for (let l = 0; l < c.numDecoderLayers; l++) {
      const a = `decoder.block.${l}.layer.1.EncDecAttention`;
      crossK.push(keep(this.heads(this.lin(encoderOutput, `${a}.k.weight`), 1, s)));
      crossV.push(keep(this.heads(this.lin(encoderOutput, `${a}.v.weight`), 1, s)));
    }
    const selfCache = new KvCache({ numLayers: c.numDecoderLayers, numKvHeads: c.numHeads, headDim: c.headDim, maxLength }, 16);
    return new T5DecoderState(selfCache, new SharedCross(crossK, crossV));
  }

  /** One decoder step for several sequences: each item's ids are appended to its state; → logits [items, V] at each
   *  item's last new token. Inference only (writes the caches). */
  decodeStep(items: ReadonlyArray<{ ids: readonly number[]; state: DecoderState }>): Tensor {
    const c = this.config;
    const all = Int32Array.from(items.flatMap((it) => it.ids));
    this.checkIds(all, "decoder input");
    const starts: number[] = [];
    let n = 0;
    for (const it of items) {
      if (it.ids.length === 0) throw new T5InputError("[t5] decode: an item has no tokens");
      it.state.selfCache.reserve(it.ids.length); // throws past the target limit
      starts.push(n);
      n += it.ids.length;
    }
    let x = embedRows(this.w("shared.weight"), all, c.hiddenSize); // [N, D]
    if (n === items.length && !isGradEnabled()) {
      const run = x.backend.fused?.("cross-decoder-layer-decode", this.layerShape());
      const specs = run ? this.fusedLayerSpecs() : null;
      if (run && specs) {
        x = contiguous(x);
        const xs = f32Data(x);
        const logits = new Float32Array(n * c.vocabSize);
        for (let l = 0; l < c.numDecoderLayers; l++) {
          const last = l === c.numDecoderLayers - 1 && this.headSpec;
          run(xs, {
            ...specs[l]!, m: n, ...(last ? { ...this.headSpec, vocab: c.vocabSize, logits } : {}),
            kCaches: items.map((it) => f32Data(it.state.selfCache.k[l]!)), vCaches: items.map((it) => f32Data(it.state.selfCache.v[l]!)),
            capacities: items.map((it) => it.state.selfCache.capacity), positions: items.map((it) => it.state.selfCache.length),
            crossK: items.map((it) => f32Data(it.state.crossK[l]!)), crossV: items.map((it) => f32Data(it.state.crossV[l]!)),
            sourceLengths: items.map((it) => it.state.crossK[l]!.shape[1]!),
          });
        }
        for (const it of items) it.state.selfCache.length += 1;
        return this.headSpec ? fromTypedArray(logits, [n, c.vocabSize]) : this.lmHead(this.norm(x, "decoder.final_layer_norm.weight"));
      }
    }
    const biases = items.map((it) => this.positionBias("decoder", it.state.selfCache.length, it.ids.length, it.state.selfCache.length + it.ids.length));
    const rowsOf = (t: Tensor, i: number) => (items.length === 1 ? t : narrow(t, 0, starts[i]!, items[i]!.ids.length));
    for (let l = 0; l < c.numDecoderLayers; l++) {
      const p = `decoder.block.${l}.layer`;
      let h = this.norm(x, `${p}.0.layer_norm.weight`);
      let a = `${p}.0.SelfAttention`;
      const q = this.lin(h, `${a}.q.weight`), k = this.lin(h, `${a}.k.weight`), v = this.lin(h, `${a}.v.weight`);
      const selfOut = items.map((it, i) => {
        const t = it.ids.length, cache = it.state.selfCache, pos0 = cache.length;
        noGrad(() => {
          assign(narrow(cache.k[l]!, 1, pos0, t), this.heads(rowsOf(k, i), 1, t));
          assign(narrow(cache.v[l]!, 1, pos0, t), this.heads(rowsOf(v, i), 1, t));
        });
        const keys = narrow(cache.k[l]!, 1, 0, pos0 + t), values = narrow(cache.v[l]!, 1, 0, pos0 + t);
        return reshape(this.attend(this.heads(rowsOf(q, i), 1, t), keys, values, biases[i]!), [t, this.inner]);
      });
      x = add(x, this.lin(selfOut.length === 1 ? selfOut[0]! : concat(selfOut, 0), `${a}.o.weight`));
      h = this.norm(x, `${p}.1.layer_norm.weight`);
      a = `${p}.1.EncDecAttention`;
      const cq = this.lin(h, `${a}.q.weight`);
      const crossOut = items.map((it, i) => {
        const t = it.ids.length;
        return reshape(this.attend(this.heads(rowsOf(cq, i), 1, t), it.state.crossK[l]!, it.state.crossV[l]!, null), [t, this.inner]);
      });
      x = add(x, this.lin(crossOut.length === 1 ? crossOut[0]! : concat(crossOut, 0), `${a}.o.weight`));
      x = this.ffn(x, `${p}.2`);
    }
    for (const it of items) it.state.selfCache.length += it.ids.length;
    const last = items.map((it, i) => narrow(x, 0, starts[i]! + it.ids.length - 1, 1));
    const h = this.norm(last.length === 1 ? last[0]! : concat(last, 0), "decoder.final_layer_norm.weight");
    return this.lmHead(h);
  }

  private layerShape(): CrossDecoderLayerShape {
    return { norm: "pre-rms", attention: "biased-unscaled", mlp: this.config.gated ? "gated" : "plain" };
  }

  /** The fused op's per-layer specs, made once: every matrix f32 or encoded (no adapters), the decoder's position
   *  bias by key distance for the whole target length. Null when some weight cannot go to the op. */
  private fusedLayerSpecs(): LayerSpec[] | null {
    if (this.layerSpecs !== undefined) return this.layerSpecs;
    const c = this.config;
    if ((this.options.matmulDtype ?? "f32") !== "f32") return (this.layerSpecs = null); // the op multiplies in f32
    const matrix = (name: string): LayerMatrix | null => {
      const w = this.w(name);
      if (isQuantWeight(w)) return { data: w.data, type: w.type, rows: w.rows, cols: w.cols };
      if (!("shape" in w) || w.rank !== 2 || w.dtype !== "f32" || !w.isContiguous) return null;
      const d = f32Data(w);
      return { data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength), type: "f32", rows: w.shape[0]!, cols: w.shape[1]! };
    };
    const distances = Int32Array.from({ length: c.contextLength }, (_, d) => relativeBucket(-d, false, c.relativeBuckets, c.relativeMaxDistance));
    const relBias = noGrad(() => tidy(() =>
      embedRows(this.w("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"), distances, c.numHeads).toFloat32Array()));
    const act = c.activation === "relu" ? "relu" : c.activation === "silu" ? "silu" : c.activation === "gelu" ? "gelu_erf" : "gelu_tanh";
    const specs: LayerSpec[] = [];
    for (let l = 0; l < c.numDecoderLayers; l++) {
      const p = `decoder.block.${l}.layer`, sa = `${p}.0.SelfAttention`, ca = `${p}.1.EncDecAttention`, ff = `${p}.2.DenseReluDense`;
      const ms = [matrix(`${sa}.q.weight`), matrix(`${sa}.k.weight`), matrix(`${sa}.v.weight`), matrix(`${sa}.o.weight`),
        matrix(`${ca}.q.weight`), matrix(`${ca}.o.weight`), matrix(c.gated ? `${ff}.wi_0.weight` : `${ff}.wi.weight`),
        c.gated ? matrix(`${ff}.wi_1.weight`) : null, matrix(`${ff}.wo.weight`)];
      if (ms.some((m, i) => m === null && (i !== 7 || c.gated))) return (this.layerSpecs = null);
      const [q, k, v, o, crossQ, crossO, wi0, wi1, wo] = ms;
      specs.push({
        hidden: c.hiddenSize, nHead: c.numHeads, headDim: c.headDim, ffn: c.intermediateSize, eps: c.layerNormEps, act, gated: c.gated,
        selfNorm: f32Data(this.t(`${p}.0.layer_norm.weight`)), crossNorm: f32Data(this.t(`${p}.1.layer_norm.weight`)),
        ffnNorm: f32Data(this.t(`${p}.2.layer_norm.weight`)),
        q: q!, k: k!, v: v!, o: o!, crossQ: crossQ!, crossO: crossO!, wi0: wi0!, wi1, wo: wo!, relBias,
      });
    }
    const head = matrix(c.tieWordEmbeddings ? "shared.weight" : "lm_head.weight");
    // The scale is the f32 value mul(h, d_model^-0.5) multiplies by.
    this.headSpec = head && { head, outNorm: f32Data(this.t("decoder.final_layer_norm.weight")), outScale: c.scaleDecoderOutput ? Math.fround(Math.pow(c.hiddenSize, -0.5)) : 1 };
    return (this.layerSpecs = specs);
  }
}
