// The sparse mixture-of-experts feed-forward shared by the MoE families (Qwen3-MoE, Mixtral): a router [E, D] scores
// every expert per token, softmax → top-k → (optionally) renormalised weights, and each token's output is the
// weighted sum of its k experts' SwiGLU MLPs. Inference groups the tokens of a step by expert, so each routed
// expert's matrices are read and multiplied once per step (prefill: one matmul over all its tokens; decode: only
// the experts the step's tokens chose are touched). Expert matrices stay in their file encoding (q8_0, q4_k, …).
// Also: reading llama.cpp's stacked expert tensors (`blk.N.ffn_{gate,up,down}_exps.weight`, [D|F, F|D, E] fastest
// first) as one weight per expert, each a view into the stacked bytes (no copy), with errors naming the tensor.
// Shared experts (Qwen2-MoE): one more SwiGLU MLP every token runs, scaled by sigmoid(gate_inp · x) and added to the
// routed experts' sum.
// Leaves out: autograd through the routing (training MoE models), expert-parallel threading.
import type { Backend } from "../backend/backend.js";
import { type GgufFile, readTensorBytes } from "../io/gguf.js";
import { ggmlRowSize } from "../io/ggml-types.js";
import { type Tensor, fromTypedArray, linear, swiglu, tidy } from "../tensor/index.js";
import type { Weight } from "./embed.js";
import { ModelLoadError, decodeToF32 } from "./weights.js";

export interface MoeShape {
  numExperts: number;
  /** Experts each token uses (num_experts_per_tok). */
  topK: number;
  /** Each expert's intermediate size. */
  expertFfn: number;
  /** Renormalise the k routing weights to sum to 1 (Qwen3-MoE's norm_topk_prob; Mixtral always does). */
  normTopK: boolean;
  /** Intermediate size of the shared expert every token also runs (Qwen2-MoE's shared_expert_intermediate_size);
   *  absent or null = none. */
  sharedExpertFfn?: number | null;
}

export interface MoeWeights {
  router: Weight;
  gate: readonly Weight[];
  up: readonly Weight[];
  down: readonly Weight[];
  /** The shared expert (when the shape has one): a SwiGLU MLP and its gate row gateInp [1, D]. */
  shared?: { gate: Weight; up: Weight; down: Weight; gateInp: Weight } | null;
}

/** How the step's tokens reach the experts: grouped by expert (one matmul per routed expert, the inference path), or
 *  token by token (each token's k experts separately: the specification the grouped path is tested against). */
export type MoeGrouping = "by-expert" | "per-token";

/** What MoE layers touched (for tests and memory-traffic reports): expert matmul groups run, token rows sent through
 *  experts, and bytes of expert matrices read (each expert's three matrices, once per group). */
export interface MoeTrace {
  expertRuns: number;
  rows: number;
  bytesRead: number;
}

/** Routing of n tokens: for each token its k experts and weights (softmax over all experts, then top-k). */
export function routeTokens(routerLogits: Float32Array, n: number, shape: MoeShape): { experts: Int32Array; weights: Float32Array } {
  const { numExperts: e, topK: k } = shape;
  const experts = new Int32Array(n * k), weights = new Float32Array(n * k);
  const p = new Float64Array(e);
  for (let t = 0; t < n; t++) {
    const row = routerLogits.subarray(t * e, (t + 1) * e);
    let max = -Infinity;
    for (let i = 0; i < e; i++) max = Math.max(max, row[i]);
    let sum = 0;
    for (let i = 0; i < e; i++) sum += (p[i] = Math.exp(row[i] - max));
    for (let i = 0; i < e; i++) p[i] = Math.fround(p[i] / sum);
    const taken = new Uint8Array(e);
    let kept = 0;
    for (let j = 0; j < k; j++) {
      let best = -1;
      for (let i = 0; i < e; i++) if (!taken[i] && (best < 0 || p[i] > p[best])) best = i;
      taken[best] = 1;
      experts[t * k + j] = best;
      weights[t * k + j] = p[best];
      kept += p[best];
    }
    if (shape.normTopK) for (let j = 0; j < k; j++) weights[t * k + j] = Math.fround(weights[t * k + j] / kept);
  }
  return { experts, weights };
}

/** x [N, D] → [N, D]: the MoE feed-forward (inference: call under noGrad). */
export function moeFeedForward(x: Tensor, w: MoeWeights, shape: MoeShape, grouping: MoeGrouping = "by-expert", trace?: MoeTrace): Tensor {
  const [n, d] = x.shape;
  const xs = x.toFloat32Array();
  const { experts, weights } = routeTokens(linear(x, w.router).toFloat32Array(), n, shape);
  const out = new Float32Array(n * d);
  const k = shape.topK;
  // One expert over some rows: y = down(silu(gate·x) ⊙ up·x); out[row] += weight · y.
  const runExpert = (e: number, rows: number[], rowWeights: number[]) => tidy(() => {
    if (trace) {
      trace.expertRuns++;
      trace.rows += rows.length;
      trace.bytesRead += routedExpertBytes(w, [e]);
    }
    const xe = new Float32Array(rows.length * d);
    rows.forEach((r, i) => xe.set(xs.subarray(r * d, (r + 1) * d), i * d));
    const xt = fromTypedArray(xe, [rows.length, d]);
    const y = linear(swiglu(linear(xt, w.gate[e]), linear(xt, w.up[e])), w.down[e]).toFloat32Array();
    rows.forEach((r, i) => {
      const wt = rowWeights[i];
      for (let j = 0; j < d; j++) out[r * d + j] += Math.fround(wt * y[i * d + j]);
    });
  });
  if (grouping === "per-token") {
    for (let t = 0; t < n; t++) for (let j = 0; j < k; j++) runExpert(experts[t * k + j], [t], [weights[t * k + j]]);
  } else {
    const rows: number[][] = Array.from({ length: shape.numExperts }, () => []);
    const rowWeights: number[][] = Array.from({ length: shape.numExperts }, () => []);
    for (let t = 0; t < n; t++) {
      for (let j = 0; j < k; j++) {
        rows[experts[t * k + j]].push(t);
        rowWeights[experts[t * k + j]].push(weights[t * k + j]);
      }
    }
    for (let e = 0; e < shape.numExperts; e++) if (rows[e].length > 0) runExpert(e, rows[e], rowWeights[e]);
  }
  if (w.shared) addSharedExpert(x, w.shared, out, trace);
  return fromTypedArray(out, [n, d]);
}

/** out [N, D] += sigmoid(x · gateInp) ⊙ down(silu(gate·x) ⊙ up·x): Qwen2-MoE's shared expert, every row. */
function addSharedExpert(x: Tensor, s: NonNullable<MoeWeights["shared"]>, out: Float32Array, trace?: MoeTrace): void {
  const [n, d] = x.shape;
  tidy(() => {
    const y = linear(swiglu(linear(x, s.gate), linear(x, s.up)), s.down).toFloat32Array();
    const z = linear(x, s.gateInp).toFloat32Array();
    for (let r = 0; r < n; r++) {
      const g = Math.fround(1 / (1 + Math.exp(-z[r])));
      for (let j = 0; j < d; j++) out[r * d + j] += Math.fround(g * y[r * d + j]);
    }
  });
  if (trace) trace.bytesRead += weightBytes(s.gate) + weightBytes(s.up) + weightBytes(s.down) + weightBytes(s.gateInp);
}

const weightBytes = (m: Weight) => ("data" in m && m.data instanceof Uint8Array ? m.data.length : (m as Tensor).size * 4);

/** Counts into `trace` what a by-expert step with this routing runs (each routed expert once, over its rows, and the
 *  shared expert): for paths that run the experts elsewhere (the backend's fused decode layer). */
export function traceRouted(trace: MoeTrace, w: MoeWeights, experts: Int32Array): void {
  const routed = new Set(experts);
  trace.expertRuns += routed.size;
  trace.rows += experts.length;
  trace.bytesRead += routedExpertBytes(w, routed);
  // The shared expert (Qwen2-MoE) runs in the same step, as addSharedExpert counts it on the tensor path.
  if (w.shared) trace.bytesRead += weightBytes(w.shared.gate) + weightBytes(w.shared.up) + weightBytes(w.shared.down) + weightBytes(w.shared.gateInp);
}

/** Bytes of expert matrices a step over these tokens reads (each routed expert once): for memory-traffic reports. */
export function routedExpertBytes(w: MoeWeights, routed: Iterable<number>): number {
  let n = 0;
  for (const e of new Set(routed)) n += weightBytes(w.gate[e]) + weightBytes(w.up[e]) + weightBytes(w.down[e]);
  return n;
}

/** One expert matrix per expert from llama.cpp's stacked tensor `name` ([cols, rows, E] fastest first): encoded ones
 *  as views into the tensor's bytes, f32 ones as tensors. `fields` names the config keys the dims come from. */
export function readStackedExperts(file: GgufFile, name: string, rows: number, cols: number, numExperts: number,
  backend: Pick<Backend, "dequantize" | "cast">, fields: { experts: string; rows: string; cols: string }): Weight[] {
  const t = file.tensorByName.get(name);
  if (!t) {
    throw new ModelLoadError(`${file.path}: missing tensor '${name}' (the experts of this layer, expected [${cols}, ${rows}, ${numExperts}] ` +
      `fastest first); the file does not match its ${fields.experts} = ${numExperts}`);
  }
  const want = [cols, rows, numExperts];
  if (t.dims.length !== 3 || t.dims.some((v, i) => v !== want[i])) {
    const what = t.dims.length === 3 && t.dims[2] !== numExperts ? `${t.dims[2]} experts, but ${fields.experts} = ${numExperts}`
      : `expected [${want.join(", ")}] from ${fields.cols}, ${fields.rows} and ${fields.experts}`;
    throw new ModelLoadError(`${file.path}: tensor '${name}' has shape [${t.dims.join(", ")}]: ${what}`);
  }
  const bytes = readTensorBytes(file, t);
  const per = ggmlRowSize(t.type, cols) * rows;
  return Array.from({ length: numExperts }, (_, e) => {
    const data = bytes.subarray(e * per, (e + 1) * per);
    if (t.type === "f32" || t.type === "f16" || t.type === "bf16") {
      return fromTypedArray(decodeToF32({ fileName: name, shape: [rows, cols], type: t.type, data }, backend), [rows, cols]);
    }
    return { type: t.type as Extract<Weight, { type: unknown }>["type"], rows, cols, data };
  });
}
