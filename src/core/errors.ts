// Error helpers shared by every layer: one error class whose message reads `[op] what went wrong`, naming the
// shapes/values involved and what was expected or how to fix it (STYLE lesson 19).
// Leaves out: error codes and localisation; backend kernels have their own BackendError with the same format.

/** An error raised by a named operation; `message` is `[op] detail`. */
export class OpError extends Error {
  override name = "OpError";
  constructor(readonly op: string, readonly detail: string) {
    super(`[${op}] ${detail}`);
  }
}

/** Formats a shape the way errors print it: [2, 3, 4] (a scalar prints as []). */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Throws OpError(op, detail) unless cond holds. */
export function check(cond: unknown, op: string, detail: () => string): asserts cond {
  if (!cond) throw new OpError(op, detail());
}
