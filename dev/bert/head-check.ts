// Diagnostic: does the fine-tuning head learn what a linear probe finds in a frozen encoder's first-token states?
// Trains (a) the model's own classifier head (pooler + classifier) and (b) a plain softmax regression on the same
// cached states with the same AdamW, and prints validation accuracy; also a finite-difference check of the head's
// gradient. usage: node --import tsx dev/bert/head-check.ts CKPT train.jsonl val.jsonl [n]
import { readFileSync } from "node:fs";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { AdamW } from "../../src/optim/index.js";
import { crossEntropy, fromTypedArray, linear, noGrad, select, setDefaultBackend, tidy, zeros } from "../../src/tensor/index.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { encoderInput, TrainModel } from "../../src/train/model.js";
import { padRows } from "../../src/train/objectives/encoder-batches.js";
import { modelOptimizer } from "../../src/train/loop-state.js";

const [ck, trainFile, valFile, nArg, lrArg] = process.argv.slice(2) as [string, string, string, string?, string?];
const n = Number(nArg ?? 3000), lr = Number(lrArg ?? 1e-3);
setDefaultBackend(createBackend({ threads: 2 }));
const read = (f: string) => readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { text: string; label: string });
// A seeded shuffle before the cut: the files are grouped by label.
const shuffled = <T>(xs: T[], seed: number) => { const r = new Rng(seed); return xs.map((x) => [r.nextFloat(), x] as const).sort((p, q) => p[0] - q[0]).map(([, x]) => x); };
const train = shuffled(read(trainFile), 3).slice(0, n), val = shuffled(read(valFile), 4).slice(0, 1000);
const labels = [...new Set(train.map((e) => e.label))].sort();
const tok = loadTokenizer(ck);
const cls = tok.tokenToId("[CLS]")!, sep = tok.tokenToId("[SEP]")!;
const model = TrainModel.fromHfFolder(ck, "f32", { rng: new Rng(1), head: { head: "sequence-classification", labels } });
model.freezeEncoder();
const D = model.config.hiddenSize;
function states(rows: { text: string }[]): Float32Array {
  const out = new Float32Array(rows.length * D);
  for (let i = 0; i < rows.length; i += 64) {
    const p = padRows(rows.slice(i, i + 64).map((e) => Int32Array.from([cls, ...tok.encode(e.text, { addSpecialTokens: false }).slice(0, 46), sep])), 0);
    out.set(noGrad(() => tidy(() => select(model.encode(encoderInput(p.inputs, p.rows, p.seq, 0)), 1, 0).toFloat32Array())), i * D);
  }
  return out;
}
const xt = states(train), xv = states(val);
const yt = Int32Array.from(train, (e) => labels.indexOf(e.label)), yv = val.map((e) => labels.indexOf(e.label));
console.log("states done", xt.length / D, xv.length / D);
const rows = (x: Float32Array, idx: number[]) => { const o = new Float32Array(idx.length * D); idx.forEach((r, k) => o.set(x.subarray(r * D, (r + 1) * D), k * D)); return o; };
function run(name: string, logitsOf: (x: Float32Array, b: number) => ReturnType<typeof linear>, opt: AdamW, epochs: number) {
  const rng = new Rng(7);
  for (let ep = 0; ep < epochs; ep++) {
    const order = [...Array(yt.length).keys()].sort(() => rng.nextFloat() - 0.5);
    let loss = 0, k = 0;
    for (let i = 0; i + 32 <= order.length; i += 32) {
      const idx = order.slice(i, i + 32);
      const l = crossEntropy(logitsOf(rows(xt, idx), 32), fromTypedArray(Int32Array.from(idx, (r) => yt[r]!), [32]));
      l.backward(); opt.step(); opt.zeroGrad(); loss += l.item(); k++; l.dispose();
    }
    const z = noGrad(() => tidy(() => logitsOf(xv, yv.length).toFloat32Array())), L = labels.length;
    let right = 0;
    yv.forEach((g, r) => { const s = z.subarray(r * L, (r + 1) * L); if (s.indexOf(Math.max(...s)) === g) right++; });
    console.log(name, "epoch", ep + 1, "train loss", (loss / k).toFixed(3), "val acc", (right / yv.length).toFixed(3));
  }
}
const head = (x: Float32Array, b: number) => model.encoderHead("classifier", fromTypedArray(x, [b, 1, D]));
run("model-head", head, modelOptimizer(model, { lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 }), 5);
const W = zeros([labels.length, D], { requiresGrad: true }), bias = zeros([labels.length], { requiresGrad: true });
run("softmax-regression", (x, b) => linear(fromTypedArray(x, [b, D]), W, bias), new AdamW([["w", W], ["b", bias]], { lr, weightDecay: 0 }), 5);
// The same on standardised states (per-dimension z-scores from the training states), as a linear probe sees them.
const mu = new Float64Array(D), sd = new Float64Array(D), m = xt.length / D;
for (let r = 0; r < m; r++) for (let j = 0; j < D; j++) mu[j] += xt[r * D + j]! / m;
for (let r = 0; r < m; r++) for (let j = 0; j < D; j++) sd[j] += (xt[r * D + j]! - mu[j]!) ** 2 / m;
for (const x of [xt, xv]) for (let i = 0; i < x.length; i++) x[i] = (x[i]! - mu[i % D]!) / Math.sqrt(sd[i % D]! + 1e-12);
const W2 = zeros([labels.length, D], { requiresGrad: true }), bias2 = zeros([labels.length], { requiresGrad: true });
run("softmax-regression-standardised", (x, b) => linear(fromTypedArray(x, [b, D]), W2, bias2), new AdamW([["w", W2], ["b", bias2]], { lr, weightDecay: 0 }), 5);
