// Where one LoRA SFT step's time goes: wraps a cpu backend so every method call is timed, trains LoRA adapters over a
// model folder on random ids (batch × seq) with AdamW, and prints per step: forward, backward, optimizer (wall), each backend
// op's CPU milliseconds and calls, and the rest of the step's CPU time (JS: tensor bookkeeping, autograd, GC). Also the step's wall and
// process CPU time (under load, CPU time is the steadier figure).
// Usage: node --import tsx dev/alignment/lora-profile.ts [MODEL_DIR=models/zhiyu-mini, or a .gguf base: QLoRA] [batch=8] [seq=128] [steps=5] [threads=2]
// Leaves out: per-layer attribution, data loading (the ids are drawn once).
import { createBackend, type Backend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { LoraAdapter, parseLoraSpec } from "../../src/models/adapters/lora.js";
import { AdamW } from "../../src/optim/index.js";
import { setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { readFrozenBase } from "../../src/infer/frozen-base.js";
import { TrainModel } from "../../src/train/model.js";

const [dirArg, batchArg, seqArg, stepsArg, threadsArg] = process.argv.slice(2);
const dir = dirArg ?? "models/zhiyu-mini";
const B = Number(batchArg ?? 8), T = Number(seqArg ?? 128), steps = Number(stepsArg ?? 5), threads = Number(threadsArg ?? 2);

const inner = createBackend({ threads });
// Per-op time as process CPU time (all threads): under load, wall time mostly measures the wait for a core.
const clock = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};
const times = new Map<string, { ms: number; calls: number }>();
let on = false;
const timed = new Proxy(inner, {
  get(target, prop, receiver) {
    const v = Reflect.get(target, prop, receiver);
    if (typeof v !== "function") return v;
    return (...args: unknown[]) => {
      if (!on) return v.apply(target, args);
      const t0 = clock();
      const r = v.apply(target, args);
      let key = String(prop);
      if (prop === "matmul") {
        const p = args[3] as { m: number; n: number; k: number; batch: number; transA: boolean; transB: boolean };
        key = `matmul ${p.batch}×${p.m}×${p.k}·${p.n}${p.transA ? " tA" : ""}${p.transB ? " tB" : ""}`;
      }
      const e = times.get(key) ?? { ms: 0, calls: 0 };
      e.ms += clock() - t0;
      e.calls++;
      times.set(key, e);
      return r;
    };
  },
}) as Backend;
setDefaultBackend(timed);

const settings = parseLoraSpec("r=16,alpha=32,targets=q,k,v,o,gate,up,down");
let model: TrainModel;
if (dir.endsWith(".gguf")) { // QLoRA-style: the file's matrices stay encoded and frozen
  const base = readFrozenBase(dir, timed);
  model = TrainModel.withFrozenBase(base.hfConfig, base.params, "f32", LoraAdapter.create(TrainModel.specsOf(base.hfConfig, dir), settings, new Rng(1)));
} else {
  const base = TrainModel.fromHfFolder(dir, "f32");
  model = base.withLora(LoraAdapter.create(base.specs, settings, new Rng(1)));
}
const opt = new AdamW([...model.params], { lr: 1e-4 });
const rng = new Rng(2);
const ids = Int32Array.from({ length: B * T }, () => Math.floor(rng.nextFloat() * model.vocabSize));
const targets = Int32Array.from({ length: B * T }, (_, i) => ids[(i + 1) % ids.length]!);
const phase = { forward: 0, backward: 0, optimizer: 0 };
function step(): void {
  opt.zeroGrad();
  tidy(() => {
    const t0 = performance.now();
    const loss = model.loss(ids, targets, B, T);
    loss.item();
    const t1 = performance.now();
    loss.backward();
    phase.forward += t1 - t0;
    phase.backward += performance.now() - t1;
  });
  const t2 = performance.now();
  opt.step(1e-4);
  phase.optimizer += performance.now() - t2;
}
for (let i = 0; i < 3; i++) step();
// The same steps untimed first: the proxy's clock reads cost CPU of their own.
const u0 = process.cpuUsage();
const w0 = performance.now();
for (let i = 0; i < steps; i++) step();
const plainWall = performance.now() - w0, plain = process.cpuUsage(u0);
phase.forward = phase.backward = phase.optimizer = 0;
on = true;
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const wall = performance.now() - t0;
const cpu = process.cpuUsage(c0);
on = false;
const per = (x: number) => (x / steps).toFixed(2);
console.log(`${dir} B ${B} T ${T} threads ${threads}: ${per(wall)} ms/step wall (${Math.round((B * T * steps) / (wall / 1000))} tok/s), ` +
  `${per((cpu.user + cpu.system) / 1e3)} ms/step CPU`);
console.log(`  without the per-op clock: ${per(plainWall)} ms/step wall (${Math.round((B * T * steps) / (plainWall / 1000))} tok/s), ` +
  `${per((plain.user + plain.system) / 1e3)} ms/step CPU`);
console.log(`  forward ${per(phase.forward)}  backward ${per(phase.backward)}  optimizer ${per(phase.optimizer)}`);
let opMs = 0;
for (const [k, e] of [...times].sort((a, b) => b[1].ms - a[1].ms)) {
  opMs += e.ms;
  if (e.ms / steps >= 0.05) console.log(`  ${per(e.ms).padStart(8)} ms  ${String(e.calls / steps).padStart(5)}×  ${k}`);
}
console.log(`  ${per(opMs).padStart(8)} ms CPU in backend ops; ${per((cpu.user + cpu.system) / 1e3 - opMs)} ms CPU outside them (JS bookkeeping, autograd, GC)`);
