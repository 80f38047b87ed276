// The optimizer layer's public API: AdamW (with a decay mask and exportable state), learning-rate schedules
// and global-norm gradient clipping. The trainer (src/train) drives them.
// Leaves out: SGD/Adafactor/Lion; gradient accumulation is just several backward() calls before step().
export { AdamW, defaultDecay, type AdamWOptions, type AdamWState, type DecayPredicate } from "./adamw.js";
export { lrAt, type LrSchedule } from "./schedule.js";
export { clipGradNorm, gradNorm } from "./clip.js";
