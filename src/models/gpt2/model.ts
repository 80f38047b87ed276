// GPT-2: learned token + position embeddings, pre-LayerNorm blocks of causal multi-head attention (fused QKV
// projection) and a GELU(tanh) MLP, final LayerNorm, LM head tied to the token embedding by default.
// Written once over the Tensor API (training: forward(ids); inference: forwardSegments with KV caches, like
// llama/model.ts). Config, parameter specs and the HF ↔ GGUF name map live in config.ts; matrices are [out, in].
// `ggmlGelu` emulates ggml-cpu's GELU (input rounded to f16, f16 table of the tanh GELU) so GGUF F16 files match
// llama.cpp to ~1e-7; the exact GELU stays the default for training.
// Dims: B batch, T positions, N packed tokens, D hidden, V vocab.
// Leaves out: dropout, scale_attn_by_inverse_layer_idx, cross-attention.
import { type Tensor, add, contiguous, layerNorm, linear, narrow, reshape, gelu, to } from "../../tensor/index.js";
import type { Gpt2Config } from "./config.js";
import { embedRows, type Weight } from "../embed.js";
import { attendSegments, forwardPackedSegments, type Segment } from "../llama/model.js";
import type { KvCache, KvShape } from "../kv-cache.js";
import type { CausalLmNetwork } from "../descriptor.js";

export interface Gpt2Options {
  /** Round GELU's input and output to f16 as ggml-cpu's lookup table does (for GGUF parity). */
  ggmlGelu?: boolean;
  /** "bf16": projections multiply bf16-rounded operands with f32 accumulation (training mixed precision). */
  matmulDtype?: "f32" | "bf16";
}

export class Gpt2Model implements CausalLmNetwork {
  constructor(readonly config: Gpt2Config, readonly params: ReadonlyMap<string, Weight>,
    readonly options: Gpt2Options = {}) {}

  /** Every projection goes through here so mixed precision applies to all of them, the tied head included. */
  private lin(x: Tensor, w: Weight, bias?: Tensor | null): Tensor {
    return linear(x, w, bias, { dtype: this.options.matmulDtype ?? "f32" });
  }

  private w(name: string): Weight {
    const p = this.params.get(name);
    if (!p) throw new Error(`[gpt2] parameter '${name}' is missing`);
    return p;
  }
  private t(name: string): Tensor {
    return this.w(name) as Tensor;
  }

  /** Training / plain forward: ids [B, T] → logits [B, T, V]. */
  /** ids [B, T] → the final normalised hidden states [B, T, D] (what a sequence-classification head reads). */
  features(ids: Tensor): Tensor {
    const [b, t] = ids.shape;
    const x = this.trunk(Int32Array.from(ids.toArray()), [{ start: 0, b, t, pos0: 0, cache: null }]);
    return reshape(this.norm(x), [b, t, this.config.hiddenSize]);
  }

  forward(ids: Tensor): Tensor {
    const [b, t] = ids.shape;
    const x = this.trunk(Int32Array.from(ids.toArray()), [{ start: 0, b, t, pos0: 0, cache: null }]);
    return reshape(this.head(x), [b, t, this.config.vocabSize]);
  }

  forwardSegments(items: ReadonlyArray<{ ids: readonly number[]; cache: KvCache }>): Tensor {
    return forwardPackedSegments(this, items);
  }

  trunk(ids: Int32Array, segs: readonly Segment[]): Tensor {
    const c = this.config;
    const positions = new Int32Array(ids.length);
    for (const s of segs) {
      if (s.pos0 + s.t > c.contextLength) {
        throw new RangeError(`[gpt2] positions up to ${s.pos0 + s.t} exceed the ${c.contextLength} learned positions`);
      }
      for (let r = 0; r < s.b; r++) for (let i = 0; i < s.t; i++) positions[s.start + r * s.t + i] = s.pos0 + i;
    }
    let x = add(embedRows(this.w("transformer.wte.weight"), ids, c.hiddenSize),
      embedRows(this.w("transformer.wpe.weight"), positions, c.hiddenSize)); // [N, D]
    for (let l = 0; l < c.numLayers; l++) x = this.block(l, x, segs);
    return x;
  }

  /** The final LayerNorm: [n, D] → [n, D] (what embeddings average). */
  norm(x: Tensor): Tensor {
    return layerNorm(x, this.t("transformer.ln_f.weight"), this.t("transformer.ln_f.bias"), this.config.layerNormEps);
  }

  cacheShape(maxLength: number): KvShape {
    const c = this.config;
    return { numLayers: c.numLayers, numKvHeads: c.numHeads, headDim: c.hiddenSize / c.numHeads, maxLength };
  }

  hiddenStates(ids: Int32Array): Tensor {
    return this.norm(this.trunk(ids, [{ start: 0, b: 1, t: ids.length, pos0: 0, cache: null }]));
  }

  fusesDecodeSteps(): boolean {
    return false;
  }

  head(x: Tensor): Tensor {
    const c = this.config;
    return this.lin(this.norm(x), c.tieWordEmbeddings ? this.w("transformer.wte.weight") : this.w("lm_head.weight"));
  }

  private block(l: number, x: Tensor, segs: readonly Segment[]): Tensor {
    const c = this.config;
    const d = c.hiddenSize;
    const p = `transformer.h.${l}`;
    const h = layerNorm(x, this.t(`${p}.ln_1.weight`), this.t(`${p}.ln_1.bias`), c.layerNormEps);
    const qkv = this.lin(h, this.w(`${p}.attn.c_attn.weight`), this.t(`${p}.attn.c_attn.bias`)); // [N, 3D]
    const q = contiguous(narrow(qkv, 1, 0, d));
    const k = contiguous(narrow(qkv, 1, d, d));
    const v = contiguous(narrow(qkv, 1, 2 * d, d));
    const att = attendSegments(l, q, k, v, segs, {
      numHeads: c.numHeads, numKvHeads: c.numHeads, headDim: d / c.numHeads, freqs: null, ropeLayout: "neox",
    });
    x = add(x, this.lin(att, this.w(`${p}.attn.c_proj.weight`), this.t(`${p}.attn.c_proj.bias`)));
    const h2 = layerNorm(x, this.t(`${p}.ln_2.weight`), this.t(`${p}.ln_2.bias`), c.layerNormEps);
    const up = this.lin(h2, this.w(`${p}.mlp.c_fc.weight`), this.t(`${p}.mlp.c_fc.bias`));
    const act = this.options.ggmlGelu ? roundF16(gelu(roundF16(up), "tanh")) : gelu(up, "tanh");
    return add(x, this.lin(act, this.w(`${p}.mlp.c_proj.weight`), this.t(`${p}.mlp.c_proj.bias`)));
  }
}

function roundF16(x: Tensor): Tensor {
  return to(to(x, "f16"), "f32");
}
