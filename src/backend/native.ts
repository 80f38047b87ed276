// Loads the native addon (build/Release/zhiyu_native.node) once per process and exposes it typed. Functions
// the backend's cpu kernels register (native/ops_napi.cc) are listed in NativeOps; functions other native
// files register (GEMM, quantized kernels) are typed loosely as optional members.
// Leaves out: choosing a backend (index.ts) and any computation.

import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import type { CrossDecoderLayerDecodeSpec, DecoderHeadWeights, DecoderLayerDecodeSpec, DecoderLayerWeights, EncoderLayerForwardSpec } from "./backend.js";

type F32 = Float32Array;
/** Element type of a packed weight's panels (gemmPackWeights): f32, or the weight's own 16-bit type. */
export type PanelType = "f32" | "f16" | "bf16";
type I32 = Int32Array;

/** native/decode_layer.h's zy_decode_options: KiB of each thread's next product range prefetched (0 off), attention
 *  inside the rows task up to this many keys per sequence (0: always between its dispatches), a profile printed
 *  every N steps (0 off). */
export interface DecodeRowsOptions {
  prefetchKb: number;
  attnInTaskKeys: number;
  profileEvery: number;
}

/** The element-wise and fused kernels of native/ops_*.c (op codes: see cpu/codes.ts). */
export interface NativeOps {
  opsCopyStrided(src: Float32Array | Uint16Array | Int32Array, srcOffset: number, srcStrides: readonly number[],
    dst: Float32Array | Uint16Array | Int32Array, dstOffset: number, dstStrides: readonly number[], shape: readonly number[]): void;
  opsAddStrided(src: F32, srcOffset: number, srcStrides: readonly number[], dst: F32, dstOffset: number,
    dstStrides: readonly number[], shape: readonly number[]): void;
  opsCast(src: Float32Array | Uint16Array | Int32Array, srcType: number, dst: Float32Array | Uint16Array | Int32Array,
    dstType: number, n: number): void;
  /** Optional (an addon built before session 12 lacks it): native/kv_memory.c's huge-page advice; true when advised. */
  opsAdviseHugePages?(x: Float32Array | Uint16Array | Int32Array): boolean;
  opsUnary(op: number, x: F32, out: F32, n: number): void;
  opsUnaryBackward(op: number, x: F32, dy: F32, dx: F32, n: number, accumulate: boolean): void;
  opsBinary(op: number, a: F32, aStrides: readonly number[], b: F32, bStrides: readonly number[], out: F32,
    shape: readonly number[]): void;
  opsScale(x: F32, out: F32, n: number, alpha: number, beta: number): void;
  opsAxpy(alpha: number, x: F32, y: F32, n: number): void;
  opsReduceSum(x: F32, out: F32, outer: number, size: number, inner: number, accumulate: boolean): void;
  opsReduceMax(x: F32, out: F32, outer: number, size: number, inner: number): void;
  opsSoftmax(x: F32, out: F32, rows: number, cols: number, log: boolean): void;
  opsSoftmaxBackward(y: F32, dy: F32, dx: F32, rows: number, cols: number, log: boolean): void;
  opsLayerNorm(x: F32, w: F32 | null, b: F32 | null, out: F32, mean: F32, rstd: F32, rows: number, cols: number,
    eps: number): void;
  opsLayerNormBackward(x: F32, w: F32 | null, mean: F32, rstd: F32, dy: F32, dx: F32, dw: F32 | null, db: F32 | null,
    rows: number, cols: number): void;
  opsRmsNorm(x: F32, w: F32 | null, out: F32, rstd: F32, rows: number, cols: number, eps: number): void;
  opsRmsNormBackward(x: F32, w: F32 | null, rstd: F32, dy: F32, dx: F32, dw: F32 | null, rows: number, cols: number): void;
  opsRope(x: F32, b: number, t: number, heads: number, headDim: number, rotDim: number, pos0: number, freqs: F32,
    interleaved: boolean, inverse: boolean): void;
  opsEmbedding(table: F32, ids: I32, out: F32, n: number, dim: number): void;
  opsEmbeddingBackward(ids: I32, dOut: F32, dTable: F32, n: number, dim: number): void;
  opsAttention(q: F32, k: F32 | Uint16Array | Uint8Array, v: F32 | Uint16Array | Uint8Array, out: F32, lse: F32, b: number, tq: number,
    tk: number, nHead: number, nKvHead: number, headDim: number, scale: number, causal: boolean, kvCapacity: number,
    kvType?: 0 | 1 | 2): void;
  opsAttentionBackward(q: F32, k: F32, v: F32, out: F32, lse: F32, dOut: F32, dq: F32, dk: F32, dv: F32, b: number,
    tq: number, tk: number, nHead: number, nKvHead: number, headDim: number, scale: number, causal: boolean,
    kvCapacity: number): void;
  opsCrossEntropy(logits: F32, targets: I32, losses: F32, rows: number, cols: number, ignoreIndex: number): number;
  opsCrossEntropyBackward(logits: F32, targets: I32, dLoss: F32, dLogits: F32, rows: number, cols: number,
    ignoreIndex: number): void;
  opsSwiglu(gate: F32, up: F32, out: F32, n: number): void;
  opsSwigluBackward(gate: F32, up: F32, dOut: F32, dGate: F32, dUp: F32, n: number): void;
  opsAdamw(param: F32, grad: F32, m: F32, v: F32, n: number, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, step: number, decay: boolean): void;
}

type GemmFn<T> = (a: T, b: T, c: Float32Array, batch: number, m: number, n: number, k: number, transA: boolean,
  transB: boolean, strideA: number, strideB: number, strideC: number, alpha: number, beta: number) => void;

/** Everything the addon may export. Always present: the pool and CPU queries of native/addon.cc. */
export interface NativeAddon extends Partial<NativeOps> {
  setThreads(n: number): number;
  threads(): number;
  isa(): string;
  /** 0 portable, 1 AVX2, 2 AVX-512 (capped to what the CPU has); noBf16 true also treats AVX512_BF16 as absent
   *  (the emulated bf16 paths of AVX-512 CPUs without vdpbf16ps). Returns the resulting ISA name. */
  limitIsa(level: number, noBf16?: boolean): string;
  /** The read-bandwidth probe (native/ops_read.c; absent in older addons): Σ x mod 2^32, variant 0/1/2. */
  opsReadChecksum?: (x: Int32Array, n: number, variant: number) => number;
  // GEMM kernels (native/gemm_napi.cc).
  gemmF32?: GemmFn<Float32Array>;
  gemmBf16?: GemmFn<Uint16Array>;
  /** f32 operands, each rounded to bf16 (nearest even) before the product: gemmBf16's numerics, gemmF32's speed. */
  gemmF32RoundBf16?: GemmFn<Float32Array>;
  /** The "decoder-layer-decode" fused op (native/decode_layer.c; absent in addons built before it): see FusedOps. */
  decoderLayerDecode?(x: Float32Array, spec: DecoderLayerDecodeSpec): void;
  /** The same op in two parts (absent in older addons): a layer's fields read once into a handle, then steps. */
  decoderLayerPrepare?(weights: DecoderLayerWeights): object;
  decoderLayerStep?(x: Float32Array, layer: object, kCaches: Float32Array[] | Uint16Array[] | Uint8Array[],
    vCaches: Float32Array[] | Uint16Array[] | Uint8Array[],
    capacities: number[], positions: number[]): void;
  decoderLayerMoe?(h: Float32Array, out: Float32Array, layer: object, m: number): void;
  /** Every prepared layer of one decode step in one call (absent in older addons): caches layer-major, entry l·m + i
   *  layer l of sequence i, each its whole buffer (its length gives the capacity). */
  decoderStackStep?(x: Float32Array, layers: readonly object[], kCaches: Float32Array[] | Uint16Array[] | Uint8Array[],
    vCaches: Float32Array[] | Uint16Array[] | Uint8Array[], positions: readonly number[], head?: object, logits?: Float32Array,
    rows?: boolean | "always", state?: object): "rows" | "calls" | undefined;
  /** What one model's decoderStackStep calls keep between steps (scratch, the rows path's step-aside counters), freed
   *  when the handle is collected (absent in addons before session 13: each step then keeps its own). */
  decoderStackState?(): object;
  /** The rows path's process-wide development knobs (native/decode_layer.h: ZHIYU_DECODE_* read once): sets the fields
   *  given and returns all of them (absent in addons before session 13). For in-process A/B in dev/perf/. */
  decoderOptions?(options?: Partial<DecodeRowsOptions>): DecodeRowsOptions;
  /** The output norm and head a decoderStackStep may end with, read once into a handle (absent in older addons). */
  decoderHeadPrepare?(head: DecoderHeadWeights): object;
  /** Present when the decoder layer op reads moe.shared (Qwen2-MoE's shared expert); the same function as decoderLayerMoe. */
  decoderLayerMoeShared?(h: Float32Array, out: Float32Array, layer: object, m: number): void;
  /** The "cross-decoder-layer-decode" fused op (native/cross_decode_layer.c; absent in older addons): see FusedOps. */
  crossDecoderLayerDecode?(x: Float32Array, spec: CrossDecoderLayerDecodeSpec): void;
  /** The "encoder-layer-forward" fused op (native/encoder_layer.c; absent in older addons): see FusedOps. */
  encoderLayerForward?(x: Float32Array, spec: EncoderLayerForwardSpec): void;
  /** Name of the GEMM kernel the dispatcher picks on this CPU ("avx512", "avx512-bf16", "avx2", "portable"). */
  gemmImpl?: (bf16: boolean) => string;
  /** A weight [rows, cols] (f32, f16 or bf16 bytes) packed once into GEMM panels of `panel` elements (native/gemm_packed.c);
   *  null on CPUs without AVX-512 (absent in older addons). */
  gemmPackWeights?: (w: Uint8Array, type: PanelType, rows: number, cols: number, panel: PanelType) => Uint8Array | null;
  /** out [m, rows] = x [m, cols] · wᵀ on the packed panels of w. */
  gemmPacked?: (x: Float32Array, m: number, panels: Uint8Array, panel: PanelType, rows: number, cols: number, out: Float32Array) => void;
  /** Row-range products run on packed panels since the addon loaded (tests check that the packed path ran). */
  gemmPackedCalls?: () => number;
  /** quantMatmul of an f16 / bf16 matrix on its packed panels where that gives quantMatmul's bits, else on w. */
  quantMatmulPanels?: (w: Uint8Array, type: string, rows: number, cols: number, x: Float32Array, out: Float32Array, m: number,
    panels: { data: Uint8Array; type: PanelType }) => void;
  /** A decoder prompt's SwiGLU MLP sublayer in place on packed panels (native/prefill_mlp.c); false: not this shape. */
  prefillMlpPanels?: (x: Float32Array, m: number, hidden: number, ffn: number, normW: Float32Array, eps: number, type: string,
    gateUp: { data: Uint8Array; type: PanelType }, down: { data: Uint8Array; type: PanelType }) => boolean;
  /** A decoder prompt's whole layer in place on packed panels (native/prefill_layer.c); false: not this shape. */
  prefillLayerPanels?: (x: Float32Array, m: number, spec: object) => boolean;
  /** Every layer of a prompt in turn, one call (native/prefill_layer.c zy_prefill_stack). */
  prefillStackPanels?: (x: Float32Array, m: number, specs: object[]) => boolean;
  /** RoPE's cos | sin rows for positions pos0 … (native/ops_rope.c zy_rope_table). */
  ropeTable?: (freqs: Float32Array, pos0: number, t: number, out: Float32Array) => void;
  // Quantized kernels (native/quant_napi.cc).
  quantMatmul?: (w: Uint8Array, type: string, rows: number, cols: number, x: Float32Array, out: Float32Array, m: number) => void;
  dequantize?: (w: Uint8Array, type: string, out: Float32Array, n: number) => void;
  quantize?: (x: Float32Array, type: string, out: Uint8Array, n: number) => void;
  /** In-place r16 repacking of a q8_0 / q4_0 matrix; the new type name, or null when not repackable. */
  quantRepack?: (w: Uint8Array, type: string, rows: number, cols: number) => string | null;
  /** The decode kernels' variant table (native/tune_napi.cc; src/backend/cpu/tuning.ts). */
  tuneVariants?: (type: string) => string[];
  tuneSet?: (type: string, rows: number, cols: number, variant: number) => void;
  tuneGet?: (type: string, rows: number, cols: number) => number;
  tuneClear?: () => void;
  tuneTime?: (ring: Uint8Array, type: string, rows: number, cols: number, copies: number, variant: number, passes: number) => number;
  [name: string]: unknown;
}

export const ADDON_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../build/Release/zhiyu_native.node");

let loaded: { addon: NativeAddon | null; reason: string } | null = null;

function load(): { addon: NativeAddon | null; reason: string } {
  if (loaded) return loaded;
  if (!existsSync(ADDON_PATH)) {
    loaded = { addon: null, reason: `${path.relative(process.cwd(), ADDON_PATH)} not found; build it with npm run build:native` };
    return loaded;
  }
  try {
    const require = createRequire(import.meta.url);
    loaded = { addon: require(ADDON_PATH) as NativeAddon, reason: "" };
  } catch (err) {
    loaded = { addon: null, reason: `loading ${ADDON_PATH} failed: ${(err as Error).message.split("\n")[0]}` };
  }
  return loaded;
}

/** The addon, or null when it is not built or fails to load (then nativeLoadError() says why). Loaded once. */
export function loadNative(): NativeAddon | null {
  return load().addon;
}

/** Why loadNative() returned null ("" when it loaded). */
export function nativeLoadError(): string {
  return load().reason;
}

const OPS_FUNCTIONS: readonly (keyof NativeOps)[] = [
  "opsCopyStrided", "opsAddStrided", "opsCast", "opsUnary", "opsUnaryBackward", "opsBinary", "opsScale", "opsAxpy", "opsReduceSum",
  "opsReduceMax", "opsSoftmax", "opsSoftmaxBackward", "opsLayerNorm", "opsLayerNormBackward", "opsRmsNorm",
  "opsRmsNormBackward", "opsRope", "opsEmbedding", "opsEmbeddingBackward", "opsAttention", "opsAttentionBackward",
  "opsCrossEntropy", "opsCrossEntropyBackward", "opsSwiglu", "opsSwigluBackward", "opsAdamw",
];

/** Names of the NativeOps functions this addon lacks (a stale build), [] when complete. */
export function missingOps(addon: NativeAddon): string[] {
  return OPS_FUNCTIONS.filter((name) => typeof addon[name] !== "function");
}

export function hasAllOps(addon: NativeAddon): addon is NativeAddon & NativeOps {
  return missingOps(addon).length === 0;
}
