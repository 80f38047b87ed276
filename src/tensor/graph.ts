// The autograd graph's data types: a GradNode records which op made a tensor, its inputs and what the op saved
// for its derivative. Each op file declares its own saved-context type by augmenting `SavedByOp`, and provides
// its derivative in a table typed `DerivativeTable<its ops>`; autograd.ts merges the tables into one typed
// `DerivativeTable<GradOp>`, so an op without a derivative does not compile (STYLE lesson 6).
// Leaves out: the engine itself (autograd.ts) and higher-order gradients (derivatives run under noGrad).
import type { Tensor } from "./tensor.js";

/** Saved context per differentiable op; op files add their entries with `declare module "./graph.js"`. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface SavedByOp {}

export type GradOp = keyof SavedByOp;

export interface GradNode<K extends GradOp = GradOp> {
  op: K;
  /** The op's tensor inputs (null where an input is not differentiable, e.g. ids or masks). */
  inputs: readonly (Tensor | null)[];
  /** needs[i]: whether inputs[i] wants a gradient; derivatives skip work where false. */
  needs: readonly boolean[];
  /** Tensors and numbers the derivative needs; tensors here are private aliases released after backward. */
  saved: SavedByOp[K];
}

/** d(loss)/d(inputs) given d(loss)/d(output) `dy`: one entry per input (null where not needed). Returned
 *  tensors must be fresh handles (new tensors or aliases), never `dy` itself. */
export type Derivative<K extends GradOp> = (node: GradNode<K>, dy: Tensor) => (Tensor | null)[];

export type DerivativeTable<K extends GradOp> = { [P in K]: Derivative<P> };

/** Like a Derivative, but adds d(loss)/d(inputs[0]) into `acc`, the gradient inputs[0] already has from another
 *  use (private, dense f32), instead of returning a fresh one; returns the other inputs' gradients (entry 0 null).
 *  For ops whose kernel accumulates anyway (LayerNorm's dx) or touches few elements (an embedding's looked-up
 *  rows): a fresh gradient would be a zero-filled buffer summed into `acc` afterwards. */
export type Accumulator<K extends GradOp> = (node: GradNode<K>, dy: Tensor, acc: Tensor) => (Tensor | null)[];

export type AccumulatorTable<K extends GradOp> = { [P in K]: Accumulator<P> };
