// The backends the fused decode-layer tests compare (decode-layer.test.ts, decode-layer-families.test.ts): the
// backend as it is, counting the steps its "decoder-layer-decode" op runs (a comparison means nothing if the op
// never ran); the same without the op's whole-stack call (a decode step then runs it layer by layer, and the head
// on the tensor path); and the same backend with its fused ops hidden, so the models take the tensor path (the
// op's specification).
import type { Backend, DecoderLayerRun } from "../../src/backend/backend.js";

export interface FusedOpBackends {
  native: Backend;
  /** `native` without DecoderLayerRun.stack: a decode step runs the op once per layer (the fallback). */
  perLayer: Backend;
  withoutOp: Backend;
  /** Layer steps the op has run so far through `native` or `perLayer` (one-call runs, prepared steps, and each
   *  layer of a stack call). */
  calls(): number;
  /** Whole-stack calls (DecoderLayerRun.stack) so far, those of them that ended with the output norm and head, and
   *  those the native step ran on its rows path (products split by rows inside one pool task: stack() said "rows"). */
  stackCalls(): number;
  headCalls(): number;
  rowsCalls(): number;
  /** MoE MLPs it has run alone over a prompt's rows (DecoderLayerRun.moe). */
  moeCalls(): number;
}

export function fusedOpBackends(base: Backend): FusedOpBackends {
  let calls = 0, moeCalls = 0, stackCalls = 0, headCalls = 0, rowsCalls = 0;
  // One counting wrapper per run object (and stack choice): models keep their prepared layers per run, so a fresh
  // wrapper on every fused() call would prepare every layer again each step.
  const wrapped = [new WeakMap<object, DecoderLayerRun>(), new WeakMap<object, DecoderLayerRun>()];
  const count = (run: DecoderLayerRun, withStack: boolean): DecoderLayerRun => {
    let w = wrapped[withStack ? 1 : 0]!.get(run);
    if (!w) {
      w = Object.assign((x: Float32Array, spec: Parameters<DecoderLayerRun>[1]) => { calls++; run(x, spec); }, {
        prepare: run.prepare,
        step: (...args: Parameters<DecoderLayerRun["step"]>) => { calls++; run.step(...args); },
        ...(run.moe ? { moe: (...args: Parameters<NonNullable<DecoderLayerRun["moe"]>>) => { moeCalls++; run.moe!(...args); } } : {}),
        ...(run.stack && withStack ? {
          stack: (...args: Parameters<NonNullable<DecoderLayerRun["stack"]>>) => {
            stackCalls++;
            if (args[5]) headCalls++;
            calls += args[1].length;
            const path = run.stack!(...args);
            if (path === "rows") rowsCalls++;
            return path;
          },
          ...(run.prepareHead ? { prepareHead: run.prepareHead } : {}),
        } : {}),
      });
      wrapped[withStack ? 1 : 0]!.set(run, w);
    }
    return w;
  };
  const counting = (withStack: boolean) => new Proxy(base, {
    get: (t, p, r) => {
      const v = Reflect.get(t, p, r) as unknown;
      if (p !== "fused" || typeof v !== "function") return v;
      return (...args: Parameters<NonNullable<Backend["fused"]>>) => {
        const run = (v as NonNullable<Backend["fused"]>).apply(t, args);
        return run && args[0] === "decoder-layer-decode" ? count(run as DecoderLayerRun, withStack) : run;
      };
    },
  }) as Backend;
  const withoutOp = new Proxy(base, { get: (t, p, r) => (p === "fused" ? undefined : Reflect.get(t, p, r)) }) as Backend;
  return { native: counting(true), perLayer: counting(false), withoutOp, calls: () => calls, stackCalls: () => stackCalls,
    headCalls: () => headCalls, rowsCalls: () => rowsCalls, moeCalls: () => moeCalls };
}
