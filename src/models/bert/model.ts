// The BERT family (BERT, RoBERTa, XLM-RoBERTa; bge / e5 / MiniLM embedding models): learned absolute positions,
// token-type (segment) embeddings, post-LayerNorm encoder blocks of bidirectional multi-head attention and a GELU
// MLP, and the heads — masked LM (dense + GELU + LayerNorm, decoder tied to the word embeddings, bias), sequence
// classification (pooler tanh over the first token + linear) and token classification (linear per token).
// Written once over the Tensor API, so training runs it with autograd and inference under noGrad.
// Sequences are packed without padding: a batch is N real tokens in one activation matrix, the linear layers run
// once over all of them, and each sequence attends only to its own rows — exactly what a padded batch with an
// attention mask computes at the valid positions, without spending work on padding. packPadded() turns a padded
// [B, T] batch with a mask into that form (positions as HF computes them for the padded rows).
// Inference runs each layer as the backend's fused "encoder-layer-forward" op when it has one (native/encoder_layer.c,
// bit-identical to block(); with packWeights its matrices come packed once into GEMM panels); training and backends
// without it run block().
// Config parsing and parameter specs live in config.ts, file names in weights.ts.
// Dims: S sequences, N packed tokens, D hidden, H heads, Dh head dim, F intermediate, V vocab, L labels.
// Leaves out: dropout, cross-attention, relative / rotary / ALiBi positions.
import type { Backend, EncodedMatrix, EncoderLayerForwardSpec, EncoderLayerShape, PackedPanels } from "../../backend/backend.js";
import {
  type Tensor, add, attention, concat, contiguous, gelu, layerNorm, linear, mean, narrow, relu, reshape, tanh, tidy,
  isGradEnabled, isAdaptedWeight, isQuantWeight, zeros,
} from "../../tensor/index.js";
import { embedRows, type Weight } from "../embed.js";
import type { BertConfig } from "./config.js";

/** One sequence: token ids and optional segment ids (0 for the first segment, 1 for the second …). */
export interface EncoderSequence {
  ids: readonly number[];
  typeIds?: readonly number[] | null;
  /** The text the ids came from (a classifier with sparse n-gram features needs it). */
  text?: string;
}

/** Sequences packed row after row: N tokens, each with its id, segment id and position. */
export interface PackedBatch {
  ids: Int32Array;
  typeIds: Int32Array;
  positions: Int32Array;
  /** Each sequence's rows [start, start + length) of the packed matrix. */
  segments: ReadonlyArray<{ start: number; length: number }>;
}

export class BertInputError extends RangeError {
  override name = "BertInputError";
}

/** Positions of one row as HF computes them: BERT the index in the row; RoBERTa counts non-padding ids
 *  (create_position_ids_from_input_ids), so padding ids get the padding position. */
function rowPositions(c: BertConfig, ids: ArrayLike<number>): number[] {
  const out = new Array<number>(ids.length);
  if (c.variant === "bert") {
    for (let i = 0; i < ids.length; i++) out[i] = c.positionOffset + i;
    return out;
  }
  let seen = 0;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== c.padTokenId) out[i] = c.positionOffset + seen++;
    else out[i] = Math.max(0, c.positionOffset - 1);
  }
  return out;
}

function checkToken(c: BertConfig, id: number, typeId: number, position: number, where: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) {
    throw new BertInputError(`[bert] ${where}: token id ${id} is outside the vocabulary [0, ${c.vocabSize})`);
  }
  if (!Number.isInteger(typeId) || typeId < 0 || typeId >= Math.max(1, c.typeVocabSize)) {
    throw new BertInputError(`[bert] ${where}: token_type_ids value ${typeId}, but the model has ` +
      (c.typeVocabSize <= 1 ? "no segment embeddings for a second segment (type_vocab_size " + c.typeVocabSize + "): leave token_type_ids out or pass zeros"
        : `type_vocab_size ${c.typeVocabSize} (valid: 0 … ${c.typeVocabSize - 1})`));
  }
  if (position >= c.maxPositions) {
    throw new BertInputError(`[bert] ${where}: position ${position} is beyond the model's ${c.maxPositions} learned positions ` +
      `(at most ${c.maxPositions - c.positionOffset} tokens per sequence): truncate the input`);
  }
}

/** Packs unpadded sequences (each starts at position 0). */
export function packSequences(c: BertConfig, seqs: readonly EncoderSequence[]): PackedBatch {
  const n = seqs.reduce((a, s) => a + s.ids.length, 0);
  const ids = new Int32Array(n), typeIds = new Int32Array(n), positions = new Int32Array(n);
  const segments: { start: number; length: number }[] = [];
  let at = 0;
  seqs.forEach((s, i) => {
    if (s.ids.length === 0) throw new BertInputError(`[bert] sequence ${i} has no tokens`);
    if (s.typeIds && s.typeIds.length !== s.ids.length) {
      throw new BertInputError(`[bert] sequence ${i}: ${s.typeIds.length} token_type_ids for ${s.ids.length} ids (they must be equal)`);
    }
    const pos = rowPositions(c, s.ids);
    for (let t = 0; t < s.ids.length; t++) {
      const typeId = s.typeIds ? s.typeIds[t] : 0;
      checkToken(c, s.ids[t], typeId, pos[t], `sequence ${i} token ${t}`);
      ids[at + t] = s.ids[t];
      typeIds[at + t] = typeId;
      positions[at + t] = pos[t];
    }
    segments.push({ start: at, length: s.ids.length });
    at += s.ids.length;
  });
  return { ids, typeIds, positions, segments };
}

/** Packs a padded batch: ids [B][T] with attention mask [B][T] (1 = token, 0 = padding) and optional segment ids.
 *  Returns the packed batch and, for each packed row, its flat index b·T + t in the padded batch. */
export function packPadded(c: BertConfig, ids: readonly (readonly number[])[], mask: readonly (readonly number[])[],
  typeIds?: readonly (readonly number[])[] | null): { batch: PackedBatch; rows: Int32Array } {
  const t = ids[0]?.length ?? 0;
  const picked: number[] = [];
  const seqs: { ids: number[]; typeIds: number[]; positions: number[] }[] = [];
  ids.forEach((row, b) => {
    if (row.length !== t || mask[b]?.length !== t || (typeIds && typeIds[b]?.length !== t)) {
      throw new BertInputError(`[bert] row ${b}: input_ids, attention_mask${typeIds ? " and token_type_ids" : ""} must all have ${t} columns`);
    }
    const pos = rowPositions(c, row);
    const s = { ids: [] as number[], typeIds: [] as number[], positions: [] as number[] };
    for (let i = 0; i < t; i++) {
      if (mask[b][i] !== 1 && mask[b][i] !== 0) throw new BertInputError(`[bert] attention_mask[${b}][${i}] is ${mask[b][i]}, expected 0 or 1`);
      if (mask[b][i] === 0) continue;
      const typeId = typeIds ? typeIds[b][i] : 0;
      checkToken(c, row[i], typeId, pos[i], `row ${b} position ${i}`);
      s.ids.push(row[i]); s.typeIds.push(typeId); s.positions.push(pos[i]);
      picked.push(b * t + i);
    }
    if (s.ids.length === 0) throw new BertInputError(`[bert] row ${b}: the attention mask has no 1s`);
    seqs.push(s);
  });
  const batch: PackedBatch = {
    ids: Int32Array.from(seqs.flatMap((s) => s.ids)), typeIds: Int32Array.from(seqs.flatMap((s) => s.typeIds)),
    positions: Int32Array.from(seqs.flatMap((s) => s.positions)), segments: [],
  };
  let at = 0;
  batch.segments = seqs.map((s) => { const seg = { start: at, length: s.ids.length }; at += s.ids.length; return seg; });
  return { batch, rows: Int32Array.from(picked) };
}

export interface BertOptions {
  /** "bf16": projections multiply bf16-rounded operands with f32 accumulation (training mixed precision). */
  matmulDtype?: "f32" | "bf16";
  /** Inference (no autograd) runs each layer as the backend's fused "encoder-layer-forward" op when it has one
   *  (default true; false keeps the tensor path, the op's specification — for tests and profiles). */
  fusedLayers?: boolean;
  /** The fused op reads f32 / f16 / bf16 matrices from copies packed once into the backend's GEMM panels
   *  (Backend.packPanels; made on the first fused pass, kept for the model's life: same bits, no per-call weight
   *  packing, extra memory of one copy). Only for a model whose weights never change (the inference loaders). */
  packWeights?: boolean;
}

const FUSED_LAYER_SHAPE: EncoderLayerShape = { norm: "post-layernorm", attention: "bidirectional-mha", mlp: "dense" };

/** A contiguous f32 tensor's elements (the fused op reads them, and writes x's in place). */
function f32Data(t: Tensor): Float32Array {
  return (t.storage("encoder-layer-forward") as Float32Array).subarray(t.offset, t.offset + t.size);
}

export class BertModel {
  /** Packed copies of the matrices (packWeights), by parameter name; null: this backend or type has none. */
  private readonly panels = new Map<string, PackedPanels | null>();

  constructor(readonly config: BertConfig, readonly params: ReadonlyMap<string, Weight>, readonly options: BertOptions = {}) {}

  private w(name: string): Weight {
    const p = this.params.get(name);
    if (!p) throw new Error(`[bert] parameter '${name}' is missing`);
    return p;
  }
  private t(name: string): Tensor {
    const p = this.w(name);
    if (!("shape" in p)) throw new Error(`[bert] parameter '${name}' must be a dense f32 tensor (norms, biases)`);
    return p as Tensor;
  }
  /** A dense layer `prefix`.weight / .bias. */
  private dense(x: Tensor, prefix: string): Tensor {
    return linear(x, this.w(`${prefix}.weight`), this.t(`${prefix}.bias`), { dtype: this.options.matmulDtype ?? "f32" });
  }
  private norm(x: Tensor, prefix: string): Tensor {
    return layerNorm(x, this.t(`${prefix}.weight`), this.t(`${prefix}.bias`), this.config.layerNormEps);
  }
  private act(x: Tensor): Tensor {
    const a = this.config.hiddenAct;
    return a === "relu" ? relu(x) : gelu(x, a === "gelu" ? "none" : "tanh");
  }

  /** The encoder: packed sequences → final hidden states [N, D] (BertModel's last_hidden_state, valid rows). */
  encode(batch: PackedBatch): Tensor {
    const c = this.config;
    const d = c.hiddenSize;
    let x = embedRows(this.w("embeddings.word_embeddings.weight"), batch.ids, d);
    if (c.typeVocabSize > 0) x = add(x, embedRows(this.w("embeddings.token_type_embeddings.weight"), batch.typeIds, d));
    x = add(x, embedRows(this.w("embeddings.position_embeddings.weight"), batch.positions, d));
    x = this.norm(x, "embeddings.LayerNorm");
    if (isGradEnabled()) {
      for (let l = 0; l < c.numLayers; l++) x = this.block(l, x, batch);
      return x;
    }
    const run = this.options.fusedLayers === false ? null : x.backend.fused?.("encoder-layer-forward", FUSED_LAYER_SHAPE);
    const specs = run ? this.fusedLayerSpecs(batch, x.backend) : null;
    if (run && specs) {
      const xs = f32Data(x); // the LayerNorm's fresh contiguous output, updated in place layer by layer
      for (const spec of specs) run(xs, spec);
      return x;
    }
    // Without autograd no layer's intermediates are needed after it: free them layer by layer.
    for (let l = 0; l < c.numLayers; l++) {
      const input = x;
      x = tidy(() => this.block(l, input, batch));
      input.dispose();
    }
    return x;
  }

  /** Each layer's spec for the fused op (views of the weights, made per call: cheap, and never stale after a
   *  training step; with packWeights, plus the packed copies made once), or null when some weight cannot go to it
   *  (LoRA adapters, bf16 products, non-f32 tensors). */
  private fusedLayerSpecs(batch: PackedBatch, backend: Backend): EncoderLayerForwardSpec[] | null {
    const c = this.config;
    if ((this.options.matmulDtype ?? "f32") !== "f32") return null;
    const pack = this.options.packWeights ? backend.packPanels : undefined;
    const withPanels = (name: string, m: EncodedMatrix): EncodedMatrix => {
      if (!pack || (m.type !== "f32" && m.type !== "f16" && m.type !== "bf16")) return m;
      if (!this.panels.has(name)) this.panels.set(name, pack.call(backend, m.data, m.type, m.rows, m.cols));
      const panels = this.panels.get(name);
      return panels ? { ...m, panels } : m;
    };
    const matrix = (name: string): EncodedMatrix | null => {
      const w = this.w(name);
      if (isAdaptedWeight(w)) return null;
      if (isQuantWeight(w)) return withPanels(name, { data: w.data, type: w.type, rows: w.rows, cols: w.cols });
      if (w.rank !== 2 || w.dtype !== "f32" || !w.isContiguous) return null;
      const d = f32Data(w);
      return withPanels(name, { data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength), type: "f32", rows: w.shape[0]!, cols: w.shape[1]! });
    };
    const vector = (name: string): Float32Array | null => {
      const t = this.w(name);
      return "shape" in t && t.dtype === "f32" && t.isContiguous ? f32Data(t as Tensor) : null;
    };
    const seqStarts = Int32Array.from(batch.segments, (s) => s.start), seqLengths = Int32Array.from(batch.segments, (s) => s.length);
    const act = c.hiddenAct === "gelu" ? "gelu_erf" : c.hiddenAct === "gelu_tanh" ? "gelu_tanh" : "relu";
    const specs: EncoderLayerForwardSpec[] = [];
    for (let l = 0; l < c.numLayers; l++) {
      const p = `encoder.layer.${l}`, a = `${p}.attention`;
      const ms = [`${a}.self.query`, `${a}.self.key`, `${a}.self.value`, `${a}.output.dense`, `${p}.intermediate.dense`, `${p}.output.dense`]
        .map((n) => [matrix(`${n}.weight`), vector(`${n}.bias`)] as const);
      const norms = [`${a}.output.LayerNorm`, `${p}.output.LayerNorm`].map((n) => [vector(`${n}.weight`), vector(`${n}.bias`)] as const);
      if (ms.some(([w, b]) => !w || !b) || norms.some(([w, b]) => !w || !b)) return null;
      const [q, k, v, o, up, down] = ms as unknown as [EncodedMatrix, Float32Array][];
      specs.push({
        n: batch.ids.length, hidden: c.hiddenSize, nHead: c.numHeads, headDim: c.hiddenSize / c.numHeads, ffn: c.intermediateSize,
        eps: c.layerNormEps, attnScale: 1 / Math.sqrt(c.hiddenSize / c.numHeads), act, seqStarts, seqLengths,
        q: q[0], k: k[0], v: v[0], o: o[0], up: up[0], down: down[0], bq: q[1], bk: k[1], bv: v[1], bo: o[1], bUp: up[1], bDown: down[1],
        ln1Weight: norms[0]![0]!, ln1Bias: norms[0]![1]!, ln2Weight: norms[1]![0]!, ln2Bias: norms[1]![1]!,
      });
    }
    return specs;
  }

  private block(l: number, x: Tensor, batch: PackedBatch): Tensor {
    const p = `encoder.layer.${l}`;
    const q = this.dense(x, `${p}.attention.self.query`);
    const k = this.dense(x, `${p}.attention.self.key`);
    const v = this.dense(x, `${p}.attention.self.value`);
    const att = this.attend(q, k, v, batch);
    const h = this.norm(add(this.dense(att, `${p}.attention.output.dense`), x), `${p}.attention.output.LayerNorm`);
    const up = this.act(this.dense(h, `${p}.intermediate.dense`));
    return this.norm(add(this.dense(up, `${p}.output.dense`), h), `${p}.output.LayerNorm`);
  }

  /** Bidirectional attention of each sequence over its own rows: q, k, v [N, D] → [N, D]. */
  private attend(q: Tensor, k: Tensor, v: Tensor, batch: PackedBatch): Tensor {
    const c = this.config;
    const dh = c.hiddenSize / c.numHeads;
    const one = batch.segments.length === 1;
    // Rows of one length back to back (an unpadded batch, as MLM pretraining reads): one batched call instead of a
    // call per sequence — the same arithmetic, without the per-sequence narrow/concat graph.
    const len = batch.segments[0]!.length;
    if (!one && batch.segments.every((s, i) => s.length === len && s.start === i * len)) {
      const shape = [batch.segments.length, len, c.numHeads, dh];
      const o = attention(reshape(q, shape), reshape(k, shape), reshape(v, shape), { causal: false, scale: 1 / Math.sqrt(dh) });
      return reshape(o, [batch.segments.length * len, c.hiddenSize]);
    }
    const outs = batch.segments.map((s) => {
      const pick = (x: Tensor) => reshape(contiguous(one ? x : narrow(x, 0, s.start, s.length)), [1, s.length, c.numHeads, dh]);
      const o = attention(pick(q), pick(k), pick(v), { causal: false, scale: 1 / Math.sqrt(dh) });
      return reshape(o, [s.length, c.hiddenSize]);
    });
    return one ? outs[0] : concat(outs, 0);
  }

  /** A padded batch (HF's calling convention): ids, attention mask (1 = token) and segment ids, each [B][T] →
   *  hidden states [B, T, D] with zeros at the padded positions. Differentiable (the padding is concatenated in). */
  encodePadded(ids: readonly (readonly number[])[], mask: readonly (readonly number[])[], typeIds?: readonly (readonly number[])[] | null): Tensor {
    const { batch, rows } = packPadded(this.config, ids, mask, typeIds);
    const d = this.config.hiddenSize;
    const b = ids.length, t = ids[0].length;
    const hidden = this.encode(batch);
    if (rows.length === b * t) return reshape(hidden, [b, t, d]); // no padding: packed rows are already row-major
    // Runs of consecutive packed rows that are consecutive in the padded batch, with zero blocks between them.
    const pieces: Tensor[] = [];
    let flat = 0, i = 0;
    while (i < rows.length) {
      if (rows[i] > flat) { pieces.push(zeros([rows[i] - flat, d])); flat = rows[i]; }
      let j = i;
      while (j + 1 < rows.length && rows[j + 1] === rows[j] + 1) j++;
      pieces.push(narrow(hidden, 0, i, j - i + 1));
      flat = rows[j] + 1;
      i = j + 1;
    }
    if (flat < b * t) pieces.push(zeros([b * t - flat, d]));
    return reshape(concat(pieces, 0), [b, t, d]);
  }

  /** Each sequence's first row (the [CLS] / <s> token): hidden [N, D] → [S, D]. */
  firstTokens(hidden: Tensor, batch: PackedBatch): Tensor {
    const rows = batch.segments.map((s) => narrow(hidden, 0, s.start, 1));
    return rows.length === 1 ? contiguous(rows[0]) : concat(rows, 0);
  }

  /** Mean of each sequence's rows: hidden [N, D] → [S, D]. */
  meanTokens(hidden: Tensor, batch: PackedBatch): Tensor {
    const rows = batch.segments.map((s) => mean(narrow(hidden, 0, s.start, s.length), 0, true));
    return rows.length === 1 ? rows[0] : concat(rows, 0);
  }

  /** BertModel's pooler_output: tanh(W·h[first] + b) → [S, D]. */
  pooler(hidden: Tensor, batch: PackedBatch): Tensor {
    if (!this.config.hasPooler) throw new Error("[bert] this model has no pooler (its weights hold no pooler.dense); use mean or CLS pooling");
    return tanh(this.dense(this.firstTokens(hidden, batch), "pooler.dense"));
  }

  /** The masked-LM head: hidden [n, D] → logits [n, V]. */
  mlmLogits(hidden: Tensor): Tensor {
    const c = this.config;
    if (c.head !== "mlm") throw new Error(`[bert] this model has no masked-LM head (head: ${c.head}); load a *ForMaskedLM checkpoint`);
    const h = this.norm(this.act(this.dense(hidden, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm");
    const decoder = c.tieWordEmbeddings ? this.w("embeddings.word_embeddings.weight") : this.w("cls.predictions.decoder.weight");
    return linear(h, decoder, this.t("cls.predictions.bias"), { dtype: this.options.matmulDtype ?? "f32" });
  }

  /** Sequence classification: pooler, then the classifier → logits [S, L]. */
  sequenceLogits(hidden: Tensor, batch: PackedBatch): Tensor {
    if (this.config.head !== "sequence-classification") {
      throw new Error(`[bert] this model has no sequence-classification head (head: ${this.config.head})`);
    }
    return this.dense(this.pooler(hidden, batch), "classifier");
  }

  /** Token classification: the classifier on every row → logits [N, L]. */
  tokenLogits(hidden: Tensor): Tensor {
    if (this.config.head !== "token-classification") {
      throw new Error(`[bert] this model has no token-classification head (head: ${this.config.head})`);
    }
    return this.dense(hidden, "classifier");
  }
}
