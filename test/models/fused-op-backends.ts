// The two backends the fused decode-layer tests compare (decode-layer.test.ts, decode-layer-families.test.ts): the
// backend as it is, counting the steps its "decoder-layer-decode" op runs (a comparison means nothing if the op
// never ran), and the same backend with its fused ops hidden, so the models take the tensor path (the op's
// specification).
import type { Backend, DecoderLayerRun } from "../../src/backend/backend.js";

export interface FusedOpBackends {
  native: Backend;
  withoutOp: Backend;
  /** Layer steps the op has run so far through `native` (one-call runs and prepared steps). */
  calls(): number;
  /** MoE MLPs it has run alone over a prompt's rows (DecoderLayerRun.moe). */
  moeCalls(): number;
}

export function fusedOpBackends(base: Backend): FusedOpBackends {
  let calls = 0, moeCalls = 0;
  // One counting wrapper per run object: models keep their prepared layers per run, so a fresh wrapper on every
  // fused() call would prepare every layer again each step.
  const wrapped = new WeakMap<object, DecoderLayerRun>();
  const count = (run: DecoderLayerRun): DecoderLayerRun => {
    let w = wrapped.get(run);
    if (!w) {
      w = Object.assign((x: Float32Array, spec: Parameters<DecoderLayerRun>[1]) => { calls++; run(x, spec); }, {
        prepare: run.prepare,
        step: (...args: Parameters<DecoderLayerRun["step"]>) => { calls++; run.step(...args); },
        ...(run.moe ? { moe: (...args: Parameters<NonNullable<DecoderLayerRun["moe"]>>) => { moeCalls++; run.moe!(...args); } } : {}),
      });
      wrapped.set(run, w);
    }
    return w;
  };
  const native = new Proxy(base, {
    get: (t, p, r) => {
      const v = Reflect.get(t, p, r) as unknown;
      if (p !== "fused" || typeof v !== "function") return v;
      return (...args: Parameters<NonNullable<Backend["fused"]>>) => {
        const run = (v as NonNullable<Backend["fused"]>).apply(t, args);
        return run && args[0] === "decoder-layer-decode" ? count(run as DecoderLayerRun) : run;
      };
    },
  }) as Backend;
  const withoutOp = new Proxy(base, { get: (t, p, r) => (p === "fused" ? undefined : Reflect.get(t, p, r)) }) as Backend;
  return { native, withoutOp, calls: () => calls, moeCalls: () => moeCalls };
}
