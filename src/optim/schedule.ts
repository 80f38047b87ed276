// Learning-rate schedules: linear warmup, then cosine, linear or constant decay down to minLr (llm.c's
// formula: step is 0-based, warmup gives lr·(step+1)/warmup, decay runs from warmup to totalSteps).
// Leaves out: restarts, step-wise schedules, inverse-sqrt.

export interface LrSchedule {
  /** Peak learning rate. */
  lr: number;
  /** Steps of linear warmup (0 = none). */
  warmupSteps: number;
  /** Total training steps; decay ends here (later steps stay at minLr). */
  totalSteps: number;
  kind: "cosine" | "linear" | "constant";
  /** Floor of the decay (default 0). */
  minLr?: number;
}

/** Learning rate at 0-based step. */
export function lrAt(step: number, s: LrSchedule): number {
  const minLr = s.minLr ?? 0;
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  if (s.kind === "constant") return s.lr;
  const span = s.totalSteps - s.warmupSteps;
  const ratio = span <= 0 ? 1 : Math.min(1, (step - s.warmupSteps) / span);
  const coeff = s.kind === "cosine" ? 0.5 * (1 + Math.cos(Math.PI * ratio)) : 1 - ratio;
  return minLr + coeff * (s.lr - minLr);
}
