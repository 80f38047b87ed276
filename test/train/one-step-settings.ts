// Loop settings of the preference tests that replay a reference optimiser step: a constant learning rate, no
// clipping, no spike guard, no checkpoints or evaluation, a log line per step.
import type { LoopSettings } from "../../src/train/loop.js";

export function constantLrSettings(steps: number, lr = 1e-2): LoopSettings {
  return {
    steps, schedule: { lr, warmupSteps: 0, totalSteps: steps, kind: "constant" }, gradAccum: 1, gradClip: 0,
    spikeGuard: false, spikeWindow: 2, spikeZscore: 6, maxRollbacks: 0, spikeLrFactor: 1, spikeSkip: 0,
    checkpointEvery: 0, keepLast: 1, evalEvery: 0, evalAtEnd: false, logEvery: 1, mfu: null,
  };
}
