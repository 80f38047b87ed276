// The reverse-mode autograd engine. Ops record a GradNode on their output when grad mode is on and an input
// requires grad (see record()); backward walks the nodes in reverse topological order, calls each op's
// derivative from the merged derivative table, sums gradients per tensor, adds them into leaves' .grad
// (accumulating across backward calls), and frees every node's saved buffers as soon as it has run. An op with an
// accumulator (embedding, norms, narrow) adds its first input's gradient into that input's existing one when there is
// one, instead of returning a fresh tensor to be summed.
// One hook: onLeafGrad(leaf) runs as soon as a leaf's gradient of this backward is complete (every consumer has
// run), so data-parallel training can start all-reducing early gradients while later ones are still computed.
// Leaves out: higher-order gradients (derivatives run under noGrad), retain_graph, per-tensor hooks.
import { OpError, fmtShape } from "../core/errors.js";
import { shapesEqual } from "../core/shape.js";
import type { Accumulator, AccumulatorTable, Derivative, DerivativeTable, GradNode, GradOp, SavedByOp } from "./graph.js";
import { Tensor, isGradEnabled, noGrad, tidy, untracked } from "./tensor.js";
import { elementwiseDerivatives } from "./elementwise.js";
import { viewAccumulators, viewDerivatives } from "./views.js";
import { reduceDerivatives } from "./reduce.js";
import { matmulDerivatives } from "./matmul.js";
import { loraLinearDerivatives } from "./lora-linear.js";
import { normAccumulators, normDerivatives } from "./norm.js";
import { softmaxDerivatives } from "./softmax.js";
import { attentionDerivatives } from "./attention.js";
import { embeddingAccumulators, embeddingDerivatives } from "./embedding.js";
import { add, copyOf, onesLike } from "./elementwise.js";

// Built on first use (op files import this module too, so nothing here may run at import time).
let table: DerivativeTable<GradOp> | null = null;
function derivatives(): DerivativeTable<GradOp> {
  // A GradOp missing from these tables is a compile error here.
  table ??= {
    ...elementwiseDerivatives, ...viewDerivatives, ...reduceDerivatives, ...matmulDerivatives, ...loraLinearDerivatives, ...normDerivatives,
    ...softmaxDerivatives, ...attentionDerivatives, ...embeddingDerivatives,
  };
  return table;
}

// Built on first use, like the derivative table.
let accumulators: Partial<AccumulatorTable<GradOp>> | null = null;

/** The accumulator to run instead of node's derivative, with the gradient it adds into: input 0's existing
 *  gradient when there is one and it is a private dense buffer (no other handle sees it change); else null. */
function accumulation(node: GradNode, grads: Map<Tensor, Tensor>): { into: Accumulator<GradOp>; acc: Tensor } | null {
  accumulators ??= { ...embeddingAccumulators, ...normAccumulators, ...viewAccumulators };
  const into = accumulators[node.op] as Accumulator<GradOp> | undefined;
  const input = node.inputs[0];
  if (!into || !input || !node.needs[0]) return null;
  const acc = grads.get(input);
  if (!acc || !isPrivateDense(acc) || !shapesEqual(acc.shape, input.shape)) return null;
  return { into, acc };
}

/** Whether an op on these inputs must record a node. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!isGradEnabled()) return false;
  for (const t of inputs) if (t?.requiresGrad) return true;
  return false;
}

/** Private, untracked alias of t for a node's saved context (keeps the storage alive until backward). */
export function save(t: Tensor): Tensor {
  return t.withLayout(t.shape, t.strides, t.offset, false);
}

/** Attaches a GradNode to out if any input requires grad (and grad mode is on). `saved` is built lazily so
 *  no alias is taken when no graph is recorded. Returns out. */
export function record<K extends GradOp>(out: Tensor, op: K, inputs: readonly (Tensor | null)[],
  saved: () => SavedByOp[K]): Tensor {
  if (!needsGrad(...inputs)) return out;
  out.requiresGrad = true;
  out.node = { op, inputs, needs: inputs.map((t) => !!t?.requiresGrad), saved: saved() } as GradNode;
  return out;
}

function releaseNode(node: GradNode): void {
  const walk = (v: unknown): void => {
    if (v instanceof Tensor) v.dispose();
    else if (Array.isArray(v)) v.forEach(walk);
  };
  for (const v of Object.values(node.saved as object)) walk(v);
}

/** Frees the graph under t without running backward (e.g. an evaluation loss computed with grad on). */
export function releaseGraph(t: Tensor): void {
  for (const n of topoOrder(t)) if (n.node) { releaseNode(n.node); n.node = null; consumed.add(n); }
}

// Non-leaf tensors whose node backward already consumed: reaching one again means a second backward through a
// freed graph, which would otherwise silently treat it as a leaf. (A WeakSet only for this check.)
const consumed = new WeakSet<Tensor>();

function topoOrder(root: Tensor): Tensor[] {
  // Iterative DFS post-order (deep graphs would overflow a recursive one).
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const inputs = top[0].node?.inputs ?? [];
    if (top[1] < inputs.length) {
      const next = inputs[top[1]++];
      if (next && next.requiresGrad && !seen.has(next)) {
        if (!next.node && consumed.has(next)) {
          throw new OpError("backward", "part of this graph was already freed by an earlier backward(); recompute the " +
            "forward pass (gradients accumulate across backward calls on fresh graphs)");
        }
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  return order;
}

export function runBackward(root: Tensor, grad?: Tensor, onLeafGrad?: (leaf: Tensor) => void): void {
  root.assertAlive("backward");
  if (!root.requiresGrad) {
    throw new OpError("backward", "tensor does not require grad: no parameter with requiresGrad=true took part in " +
      "computing it (or it was computed under noGrad)");
  }
  if (!grad && root.size !== 1) {
    throw new OpError("backward", `a gradient is needed for non-scalar output of shape ${fmtShape(root.shape)}; pass one or reduce to a scalar`);
  }
  if (grad && !shapesEqual(grad.shape, root.shape)) {
    throw new OpError("backward", `gradient shape ${fmtShape(grad.shape)} does not match output shape ${fmtShape(root.shape)}`);
  }
  if (!root.node && consumed.has(root)) {
    throw new OpError("backward", "this graph was already freed by an earlier backward(); recompute the forward pass");
  }
  const order = topoOrder(root);
  untracked(() => noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, grad ? copyOf(grad) : onesLike(root));
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const dy = grads.get(t);
      grads.delete(t);
      const node = t.node;
      if (!node) {
        if (dy) {
          accumulateLeafGrad(t, dy);
          onLeafGrad?.(t);
        }
        continue;
      }
      t.node = null;
      consumed.add(t);
      try {
        if (!dy) continue;
        const fn = derivatives()[node.op] as Derivative<GradOp>;
        const accumulate = accumulation(node, grads);
        const inputGrads = tidy(() => accumulate ? accumulate.into(node, dy, accumulate.acc) : fn(node, dy));
        dy.dispose();
        node.inputs.forEach((input, k) => {
          const g = inputGrads[k];
          if (!g) return;
          if (!input || !node.needs[k]) { g.dispose(); return; }
          if (!shapesEqual(g.shape, input.shape)) {
            throw new OpError("backward", `derivative of '${node.op}' returned shape ${fmtShape(g.shape)} for input ${k} ` +
              `of shape ${fmtShape(input.shape)} (bug in the op's derivative)`);
          }
          const prev = grads.get(input);
          if (!prev) grads.set(input, g);
          else if (isPrivateDense(prev) && g.dtype === "f32") {
            // Sum in place: no new buffer the size of the input (a tied embedding's gradient is 38M floats).
            addInto(prev, g);
            g.dispose();
          } else {
            grads.set(input, add(prev, g));
            prev.dispose();
            g.dispose();
          }
        });
      } finally {
        releaseNode(node);
      }
    }
    for (const g of grads.values()) g.dispose();
  }));
}

/** A gradient buffer nobody else sees: f32, contiguous, at offset 0, its storage's only handle. */
function isPrivateDense(t: Tensor): boolean {
  return t.ownsStorage && t.isContiguous && t.offset === 0 && t.dtype === "f32";
}

/** acc += g elementwise (acc contiguous f32 of g's shape). */
function addInto(acc: Tensor, g: Tensor): void {
  const src = g.isContiguous ? g : copyOf(g);
  const n = acc.size;
  acc.backend.axpy(1, src.storage("backward").subarray(src.offset, src.offset + n) as Float32Array,
    acc.storage("backward").subarray(acc.offset, acc.offset + n) as Float32Array, n);
  if (src !== g) src.dispose();
}

function accumulateLeafGrad(leaf: Tensor, dy: Tensor): void {
  if (!leaf.grad) {
    // The leaf keeps dy as its grad only if dy is a private dense buffer; otherwise copy.
    if (isPrivateDense(dy)) leaf.grad = dy;
    else {
      leaf.grad = copyOf(dy);
      dy.dispose();
    }
    return;
  }
  addInto(leaf.grad, dy);
  dy.dispose();
}
