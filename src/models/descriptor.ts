// What a model family tells the rest of Zhiyu about itself: the FamilyDescriptor each family folder exports
// (src/models/<family>/family.ts) and src/models/registry.ts lists. Loading, export, conversion, `zhiyu init` and the
// trainer read a family only through this interface, so a new family is one folder plus one registry line.
// Also: the runtime network interfaces of the three kinds (causal LM with a KV cache; encoder returning hidden
// states; seq2seq with an encoder pass and a decoder cache) that a descriptor's load() returns, tagged by kind.
// Leaves out: the lookup by id / architecture (registry.ts) and the serving-level models built on these networks
// (src/infer/model-api.ts): tokenizers, chat templates and sampling defaults are not the family's business.
import type { Backend } from "../backend/backend.js";
import type { GgufFile, GgufValue, GgufValueType } from "../io/gguf.js";
import type { Tensor } from "../tensor/index.js";
import type { Weight } from "./embed.js";
import type { KvCache, KvShape } from "./kv-cache.js";
import type { ParamSpec } from "./weights.js";

export type ModelKind = "causal-lm" | "encoder" | "seq2seq";

/** The fields every family's config has (a family's own config type extends this). */
export interface FamilyConfig {
  /** The variant: what GGUF general.architecture and HF model_type say on export (e.g. "llama", "qwen2", "gpt2"). */
  architecture: string;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  /** Longest sequence the model accepts (a seq2seq model: the longest target). */
  contextLength: number;
  /** seq2seq only: the longest source (default contextLength). */
  sourceLength?: number;
}

/** GGUF metadata entries: key, value, and the GGUF type when a number must not be written as the default. */
export type GgufMetadata = Array<readonly [string, GgufValue, GgufValueType?]>;

/** Tensor encodings Zhiyu writes into GGUF files. */
export type GgufExportType = "f32" | "f16" | "q8_0" | "q4_0";

/** What the loader hands a family's load(): where the weights come from and how to read them. */
export interface LoadContext {
  readonly backend: Backend;
  /** The file being loaded: a GGUF file (weights stay in their encoding) or a Hugging Face folder (f32 tensors). */
  readonly format: "gguf" | "hf";
  /** The GGUF file, for families that read extra tensors from it (e.g. LLaMA's rope_freqs.weight). */
  readonly gguf: GgufFile | null;
  /** The caller's context-length override, if any (the family decides whether its config can follow it). */
  readonly contextLength: number | undefined;
  /** Encoded matrices a family reads itself (MoE expert views) may be handed to the backend's repackWeight, as
   *  loadParams does for the rest (absent or false: keep the file's layout). */
  readonly repack?: boolean;
  /** Reads and checks every parameter of `specs` (missing or mis-shaped tensors are errors naming the file).
   *  `stackedGroups`: names a GGUF read places side by side in one buffer (for fused projections, no copy). */
  loadParams(specs: readonly ParamSpec[], options?: { stackedGroups?: readonly string[][] }): Map<string, Weight>;
}

/** A causal LM's network as inference runs it (the server wraps it into a TextModel). */
export interface CausalLmNetwork {
  readonly params: ReadonlyMap<string, Weight>;
  /** KV cache geometry for a sequence of at most maxLength tokens. */
  cacheShape(maxLength: number): KvShape;
  /** Appends each item's ids to its cache; returns logits [items, V] at each item's last new token. */
  forwardSegments(items: ReadonlyArray<{ ids: readonly number[]; cache: KvCache }>): Tensor;
  /** The final normalised hidden states [T, D] of one uncached sequence (what /v1/embeddings averages). */
  hiddenStates(ids: Int32Array): Tensor;
  /** True when single-token decode steps take a fused backend path, so a step that mixes them with prompt chunks
   *  runs faster as two passes. */
  fusesDecodeSteps(backend: Backend): boolean;
}

/** Input of an encoder pass: `batch` rows of `length` tokens, row-major. */
export interface EncoderInput {
  ids: Int32Array;
  /** Segment ids (BERT token_type_ids); zeros when absent. */
  tokenTypeIds?: Int32Array;
  /** 1 = attend, 0 = padding; all ones when absent. */
  attentionMask?: Uint8Array;
  batch: number;
  length: number;
}

/** An encoder (BERT-style): hidden states for every token, plus optional heads over them. */
export interface EncoderNetwork {
  readonly params: ReadonlyMap<string, Weight>;
  /** → hidden states [batch, length, D]. */
  encode(input: EncoderInput): Tensor;
  /** Heads the checkpoint has, by name (e.g. "pooler", "mlm", "classifier"): hidden states → head output. */
  readonly heads: Readonly<Record<string, (hidden: Tensor) => Tensor>>;
}

/** One target sequence's decoder state: the self-attention cache and the cross-attention K/V of its source. */
export interface DecoderState {
  readonly selfCache: KvCache;
  /** Per layer, cross-attention K and V computed once from the encoder output. */
  readonly crossK: readonly Tensor[];
  readonly crossV: readonly Tensor[];
  /** A copy of the self-attention cache sharing the cross K/V (beam search); absent: the family cannot fork. */
  fork?(): DecoderState;
  dispose(): void;
}

/** An encoder-decoder (T5-style): encode the source once, then decoder steps against cached states. */
export interface Seq2SeqNetwork {
  readonly params: ReadonlyMap<string, Weight>;
  /** The id a decoder sequence starts with (T5: the pad id). */
  readonly decoderStartTokenId: number;
  /** → encoder hidden states [batch, length, D]. */
  encode(input: EncoderInput): Tensor;
  /** A decoder state for one source (encoder output [1, S, D]; the cross K/V are computed here). Its tensors must
   *  outlive the caller's tidy scope (keep() them, as KvCache does); dispose() frees them. */
  createDecoderState(encoderOutput: Tensor, maxLength: number): DecoderState;
  /** Appends each item's ids to its decoder state; returns logits [items, V] at each item's last new token. */
  decode(items: ReadonlyArray<{ ids: readonly number[]; state: DecoderState }>): Tensor;
}

/** What load() returns: the network, tagged with its kind. */
export type FamilyNetwork =
  | { kind: "causal-lm"; network: CausalLmNetwork }
  | { kind: "encoder"; network: EncoderNetwork }
  | { kind: "seq2seq"; network: Seq2SeqNetwork };

/** A seq2seq training batch: right-padded sources (mask 1 = token) and decoder inputs, each row-major. */
export interface Seq2SeqTrainBatch {
  batch: number;
  sourceIds: Int32Array;
  sourceMask: Uint8Array;
  sourceLength: number;
  /** Decoder inputs: the decoder start token, then the target shifted right. */
  decoderIds: Int32Array;
  targetLength: number;
}

/** A model over trainable f32 parameters (autograd), as the trainer's objectives call it. */
export interface TrainableNetwork {
  /** ids [B, T] (i32) → logits [B, T, V] for a causal LM (an encoder: its head's output; a seq2seq model refuses). */
  forward(ids: Tensor): Tensor;
  /** seq2seq kind: teacher forcing → decoder logits [B, T, V]. */
  seq2seq?(batch: Seq2SeqTrainBatch): Tensor;
  /** ids [B, T] → final normalised hidden states [B, T, D], for heads other than the LM head (reward models). */
  features?(ids: Tensor): Tensor;
  /** Encoders: a padded batch (attention mask, segment ids) → hidden states [B, T, D], and the checkpoint's heads
   *  over them (as EncoderNetwork's: "pooler", "mlm", "classifier"), differentiable. */
  encoder?: { encode(input: EncoderInput): Tensor; readonly heads: Readonly<Record<string, (hidden: Tensor) => Tensor>> };
}

/** The task heads an encoder checkpoint can carry (HF's BertModel / ForMaskedLM / ForSequenceClassification /
 *  ForTokenClassification). */
export type TaskHead = "none" | "mlm" | "sequence-classification" | "token-classification";

/** How a family keeps task heads in its own parameters (BERT: pooler + `classifier.*`). */
export interface TaskHeads<C extends FamilyConfig = FamilyConfig> {
  /** The head a config has, and its label names (index = class id). */
  headOf(config: C): { head: TaskHead; labels: readonly string[] };
  /** The parameters that belong to the head (initialised afresh when a checkpoint is given another head). */
  headParamNames(config: C): string[];
  /** config.json for the same trunk with another head (labels for the classification heads); other keys kept. */
  withHead(json: Record<string, unknown>, head: TaskHead, labels: readonly string[], where: string): Record<string, unknown>;
}

export interface FamilyDescriptor<C extends FamilyConfig = FamilyConfig> {
  /** The family's id and folder name under src/models/ (e.g. "llama", which also serves Mistral and Qwen2). */
  readonly id: string;
  readonly kind: ModelKind;
  /** HF config.json model_type values this family reads (e.g. "llama", "mistral", "qwen2"). */
  readonly hfModelTypes: readonly string[];
  /** HF config.json architectures[0] values, used when model_type is absent (e.g. "LlamaForCausalLM"). */
  readonly hfArchitectures: readonly string[];
  /** GGUF general.architecture values this family reads. */
  readonly ggufArchitectures: readonly string[];
  /** The config.architecture values it produces (also the names `zhiyu init --arch` accepts). */
  readonly variants: readonly string[];

  configFromHf(json: Record<string, unknown>, where: string): C;
  configFromGguf(file: GgufFile): C;
  /** config.json for a HF export of this config. */
  hfConfigJson(config: C): Record<string, unknown>;
  /** The `<arch>.*` GGUF keys llama.cpp needs (general.* keys are the writer's). */
  ggufMetadata(config: C): GgufMetadata;
  /** Every parameter the config implies: HF names, Zhiyu layout ([out, in] matrices), stable order. */
  paramSpecs(config: C): ParamSpec[];
  /** The GGUF tensor name of a HF parameter name, or null when it has none. */
  ggufName(hfName: string): string | null;
  /** A parameter stored as one slice of a stacked GGUF tensor (llama.cpp's MoE experts): the stacked tensor's name
   *  and the slice index along its slowest dimension; null (or absent) when the parameter has a tensor of its own. */
  ggufStack?(hfName: string): { name: string; index: number } | null;
  /** HF parameters stored transposed ([in, out], GPT-2's Conv1D) relative to Zhiyu/GGUF's [out, in]; null if none. */
  readonly hfTransposed: RegExp | null;
  /** The tensor name a parameter has in a HF folder, when the family's spelling depends on the files (BERT: "bert.",
   *  "roberta." or no prefix; gamma/beta); `has` answers for the folder's tensors. Absent: the parameter's own name. */
  hfFileName?(config: C, name: string, has: (fileName: string) => boolean): string;
  /** The row order a parameter takes in a GGUF file of this config (LLaMA Q/K: llama.cpp's RoPE pairing), as source
   *  row per destination row, HF → GGUF when toGguf, else back; null when rows keep HF order. */
  ggufRowOrder(config: C, spec: ParamSpec, toGguf: boolean): Int32Array | null;
  /** The GGUF encoding of a parameter when the requested one does not suit it (e.g. GPT-2 positions stay f32). */
  ggufTensorType(config: C, spec: ParamSpec, requested: GgufExportType): GgufExportType;
  /** Extra GGUF tensors that copy another one: [new name, copied name] (GPT-2: llama.cpp wants output.weight). */
  ggufCopies(config: C): Array<readonly [string, string]>;
  /** A constant a GGUF file adds to a parameter's HF values (Gemma's norms: llama.cpp stores 1 + w); 0 or absent: none. */
  ggufValueOffset?(config: C, spec: ParamSpec): number;

  /** Preset names for `zhiyu init`, and the config of one (vocabSize overrides the preset's). */
  readonly presets: readonly string[];
  presetConfig(variant: string, preset: string, vocabSize?: number): C;

  /** Builds the kind-tagged inference network from a weight source (GGUF: encoded matrices; HF: f32). */
  load(config: C, ctx: LoadContext): FamilyNetwork;
  /** Task heads held in the family's own parameters and networks (encoders). Absent: a `…ForSequenceClassification`
   *  checkpoint of this family is the trunk plus transformers' `score.weight` [labels, hidden] over the final hidden
   *  states, read at the last non-pad token (decoders; the trainer adds that head). */
  readonly taskHeads?: TaskHeads<C>;
  /** The training model over f32 tensors with autograd; matmulDtype "bf16" = mixed-precision projections. */
  trainable(config: C, params: ReadonlyMap<string, Tensor>, options: { matmulDtype: "f32" | "bf16" }): TrainableNetwork;
}

/** The layout hooks of a family whose HF matrices are already [out, in] and whose GGUF tensors need no row
 *  permutation, type override or copies: spread it into a descriptor and override what differs. */
export const PLAIN_LAYOUT = {
  hfTransposed: null,
  ggufRowOrder: (): Int32Array | null => null,
  ggufTensorType: (_config: FamilyConfig, _spec: ParamSpec, requested: GgufExportType): GgufExportType => requested,
  ggufCopies: (): Array<readonly [string, string]> => [],
} as const;
