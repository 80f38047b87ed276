// Checks `zhiyu export --to deepspeed` against Python (a dev script, never in npm test): for a GPT-2 and a
// LLaMA-style run, Zhiyu trains 12 steps with checkpoints, exports the step-6 checkpoint, then
//   1. the exported model/ folder loads in transformers (AutoModelForCausalLM.from_pretrained);
//   2. launch.sh (plain PyTorch here: no DeepSpeed/GPU) runs 3 steps, and its losses at steps 6, 7, 8 match the
//      losses Zhiyu logged at those steps within 1e-3 (f32): the same weights, data order, AdamW moments, schedule.
// Usage: PYTHON=/path/to/python-with-torch-and-transformers node --import tsx dev/scaling/check-deepspeed-export.ts
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeTokenFile } from "../../src/train/token-file.js";

const python = process.env.PYTHON ?? "python3";
const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-ds-export-"));
const text = readFileSync(path.resolve("../shared/data/tinyshakespeare/input.txt"));
const data = path.join(dir, "bytes.bin");
writeTokenFile(data, Array.from(text.subarray(0, 40000)), 256);
let failed = false;
for (const preset of ["tiny", "llama-tiny"]) {
  const run = path.join(dir, preset);
  const t = spawnSync(process.execPath, ["bin/zhiyu.mjs", "train", "--preset", preset, "--data", data, "--batch", "4", "--seq", "32",
    "--steps", "12", "--grad-accum", "2", "--lr", "3e-3", "--warmup", "3", "--seed", "5", "--checkpoint-every", "6", "--keep-last", "0",
    "--out", run, "--json-log"], { encoding: "utf8" });
  if (t.status !== 0) throw new Error(t.stderr);
  const zhiyu = new Map<number, number>();
  for (const line of t.stdout.split("\n")) if (line.startsWith("{")) { const r = JSON.parse(line); if (typeof r.loss === "number") zhiyu.set(r.step, r.loss); }
  const out = path.join(dir, `${preset}-torch`);
  const e = spawnSync(process.execPath, ["bin/zhiyu.mjs", "export", "--from", path.join(run, "checkpoints", "step-00000006"), "--to", "deepspeed", out], { encoding: "utf8" });
  if (e.status !== 0) throw new Error(e.stderr);
  const load = spawnSync(python, ["-c", `from transformers import AutoModelForCausalLM as A; m = A.from_pretrained(${JSON.stringify(path.join(out, "model"))}); print(type(m).__name__, sum(p.numel() for p in m.parameters()))`], { encoding: "utf8" });
  console.log(`${preset}: transformers loads the exported folder: ${load.status === 0 ? load.stdout.trim() : "NO\n" + load.stderr}`);
  if (load.status !== 0) { failed = true; continue; }
  const py = spawnSync("sh", [path.join(out, "launch.sh"), "--steps", "3"], { encoding: "utf8", env: { ...process.env, PATH: `${path.dirname(python)}:${process.env.PATH}` } });
  if (py.status !== 0) { console.log(py.stderr); failed = true; continue; }
  for (const line of py.stdout.split("\n").filter((l) => l.startsWith("{"))) {
    const r = JSON.parse(line) as { step: number; loss: number };
    const ref = zhiyu.get(r.step)!;
    const ok = Math.abs(r.loss - ref) <= 1e-3;
    failed ||= !ok;
    console.log(`${preset} step ${r.step}: PyTorch ${r.loss.toFixed(6)}  Zhiyu ${ref.toFixed(6)}  |Δ| ${Math.abs(r.loss - ref).toExponential(2)} ${ok ? "ok" : "FAIL (> 1e-3)"}`);
  }
}
console.log(failed ? "FAILED" : "all within 1e-3");
process.exitCode = failed ? 1 : 0;
