// Scaling laws: a sweep that trains a grid of small LLaMA-style models (shapes × token budgets) on the same data
// with the pretraining trainer and records each run's final validation loss (one JSON per run), and the fit of
// Chinchilla's parametric law L(N, D) = E + A/N^α + B/D^β to those runs ("approach 3": Huber loss, δ = 1e-3, on
// log L with L written as logsumexp(a − α·ln N, b − β·ln D, e), minimised by Nelder–Mead from a grid of starts),
// with uncertainty from a bootstrap over runs, predictions, the compute-optimal split of a FLOP budget
// (C ≈ 6·N·D), and an SVG picture of the fit.
// N counts every parameter (tied embeddings once); D counts training tokens.
// Leaves out: IsoFLOP profiles (approaches 1 and 2), learning-rate tuning per size.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../backend/backend.js";
import { Rng } from "../core/rng.js";
import { writeFileAtomic } from "./atomic.js";
import { DEFAULT_OPTIONS, validateOptions, type TrainOptions } from "./options.js";
import type { ProgressSink } from "./progress.js";
import { runTraining } from "./trainer.js";

// ---------------------------------------------------------------- model shapes

export interface LlamaShape {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffn: number;
}

export function shapeName(s: LlamaShape): string {
  return `L${s.layers}-H${s.hidden}`;
}

/** A Hugging Face config.json for a LLaMA-style model of this shape (tied embeddings, RoPE θ = 10⁴). */
export function llamaHfConfig(s: LlamaShape, vocabSize: number, context: number, eosId: number | null = null): Record<string, unknown> {
  if (s.hidden % s.heads !== 0 || s.heads % s.kvHeads !== 0) {
    throw new RangeError(`shape ${JSON.stringify(s)}: hidden must divide by heads, and heads by kvHeads`);
  }
  return {
    architectures: ["LlamaForCausalLM"], model_type: "llama",
    num_hidden_layers: s.layers, hidden_size: s.hidden, num_attention_heads: s.heads, num_key_value_heads: s.kvHeads,
    intermediate_size: s.ffn, max_position_embeddings: context, vocab_size: vocabSize, rms_norm_eps: 1e-5,
    rope_theta: 10000.0, hidden_act: "silu", tie_word_embeddings: true, attention_bias: false, mlp_bias: false,
    initializer_range: 0.02, bos_token_id: null, eos_token_id: eosId,
  };
}

/** Parameters of the shape: tied embedding table + per layer attention, MLP and two norms + final norm. */
export function llamaParamCount(s: LlamaShape, vocabSize: number): number {
  const headDim = s.hidden / s.heads;
  const attn = 2 * s.hidden * s.hidden + 2 * s.hidden * s.kvHeads * headDim;
  const mlp = 3 * s.hidden * s.ffn;
  return vocabSize * s.hidden + s.layers * (attn + mlp + 2 * s.hidden) + s.hidden;
}

/** Training FLOPs per token, 6 × the parameters used in matmuls (the LM head included), plus attention. */
export function llamaTrainFlopsPerToken(s: LlamaShape, vocabSize: number, seq: number): number {
  const headDim = s.hidden / s.heads;
  const matmul = s.layers * (2 * s.hidden * s.hidden + 2 * s.hidden * s.kvHeads * headDim + 3 * s.hidden * s.ffn) + vocabSize * s.hidden;
  return 6 * matmul + 12 * s.layers * s.hidden * seq;
}

// ---------------------------------------------------------------- the sweep

export interface SweepConfig {
  /** Prepared token data (a folder from `zhiyu data prepare`, with train_* and val_* shards). */
  data: string;
  valData?: string | null;
  vocabSize: number;
  shapes: LlamaShape[];
  /** Training-token budgets; each shape trains once per budget. */
  tokens: number[];
  batch: number;
  seq: number;
  lr: number;
  minLrFraction?: number;
  /** Warmup steps as a fraction of each run's steps (at most maxWarmup). */
  warmupFraction?: number;
  maxWarmup?: number;
  evalBatches: number;
  seed: number;
  threads?: number | null;
  /** Runs with fewer training tokens per parameter are not trained (a fit that leaves them out gains nothing from them). */
  minTokensPerParam?: number;
}

export interface RunRecord {
  name: string;
  shape: LlamaShape;
  params: number;
  tokens: number;
  steps: number;
  batch: number;
  seq: number;
  valLoss: number;
  finalTrainLoss: number;
  tokensPerSecond: number;
  flopsPerToken: number;
  seconds: number;
}

/** Trainer options of one run of a sweep-like schedule (also used by the recipe's final run, so both match). */
export function sweepRunOptions(cfg: SweepConfig, modelConfigPath: string, tokens: number): TrainOptions {
  const steps = Math.max(1, Math.round(tokens / (cfg.batch * cfg.seq)));
  const warmup = Math.min(cfg.maxWarmup ?? 100, Math.round(steps * (cfg.warmupFraction ?? 0.05)));
  return validateOptions({
    ...DEFAULT_OPTIONS, modelConfig: modelConfigPath, data: cfg.data, valData: cfg.valData ?? null,
    batch: cfg.batch, seq: cfg.seq, steps, lr: cfg.lr, minLr: cfg.lr * (cfg.minLrFraction ?? 0.1), warmup,
    schedule: "cosine", seed: cfg.seed, threads: cfg.threads ?? null, evalEvery: steps, evalBatches: cfg.evalBatches,
    spikeGuard: false, logEvery: 50, jsonLog: true,
  });
}

/** A sink that keeps the JSON lines the trainer prints with --json-log. */
class JsonCapture implements ProgressSink {
  readonly isTTY = false;
  records: Record<string, number>[] = [];
  private partial = "";
  write(text: string): void {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop()!;
    for (const l of lines) if (l.startsWith("{")) this.records.push(JSON.parse(l) as Record<string, number>);
  }
}

const NULL_SINK: ProgressSink = { isTTY: false, write: () => {} };

/** Runs one training of a sweep; returns its record (the caller writes it). */
export async function runSweepPoint(cfg: SweepConfig, shape: LlamaShape, tokens: number, workDir: string,
  backend: Backend): Promise<RunRecord> {
  mkdirSync(workDir, { recursive: true });
  const configPath = path.join(workDir, `${shapeName(shape)}.config.json`);
  writeFileSync(configPath, JSON.stringify(llamaHfConfig(shape, cfg.vocabSize, cfg.seq), null, 2) + "\n");
  const o = sweepRunOptions(cfg, configPath, tokens);
  const capture = new JsonCapture();
  const t0 = performance.now();
  await runTraining({ options: o, backend, stdout: capture, stderr: NULL_SINK });
  const seconds = (performance.now() - t0) / 1000;
  const steps = capture.records.filter((r) => r.loss !== undefined);
  const val = capture.records.filter((r) => r.val_loss !== undefined).pop();
  if (!val) throw new Error(`sweep run ${shapeName(shape)} × ${tokens}: the trainer reported no validation loss`);
  const rates = steps.slice(1).map((r) => r.tokens_per_s!).sort((a, b) => a - b);
  return {
    name: `${shapeName(shape)}-D${tokens}`, shape, params: llamaParamCount(shape, cfg.vocabSize), tokens: o.steps * o.batch * o.seq,
    steps: o.steps, batch: o.batch, seq: o.seq, valLoss: val.val_loss!, finalTrainLoss: steps[steps.length - 1]?.loss ?? NaN,
    tokensPerSecond: rates.length > 0 ? rates[Math.floor(rates.length / 2)]! : 0,
    flopsPerToken: llamaTrainFlopsPerToken(shape, cfg.vocabSize, cfg.seq), seconds,
  };
}

/** Trains every (shape, budget) not yet recorded in runsDir; each finished run is written as <name>.json. */
export async function runSweep(cfg: SweepConfig, runsDir: string, backend: Backend, log: (line: string) => void): Promise<RunRecord[]> {
  mkdirSync(runsDir, { recursive: true });
  const out: RunRecord[] = [];
  for (const tokens of cfg.tokens) {
    for (const shape of cfg.shapes) {
      const file = path.join(runsDir, `${shapeName(shape)}-D${tokens}.json`);
      if (existsSync(file)) {
        out.push(JSON.parse(readFileSync(file, "utf8")) as RunRecord);
        continue;
      }
      const params = llamaParamCount(shape, cfg.vocabSize);
      if (tokens < (cfg.minTokensPerParam ?? 0) * params) {
        log(`sweep: ${shapeName(shape)} × ${tokens} tokens skipped (${(tokens / params).toFixed(1)} tokens per parameter < ${cfg.minTokensPerParam})`);
        continue;
      }
      log(`sweep: ${shapeName(shape)} (${llamaParamCount(shape, cfg.vocabSize)} parameters) × ${tokens} tokens`);
      const rec = await runSweepPoint(cfg, shape, tokens, path.join(runsDir, "configs"), backend);
      // atomic: the record appears whole or not at all (a killed sweep reruns only unfinished points)
      writeFileAtomic(file, JSON.stringify(rec, null, 2) + "\n");
      log(`sweep: ${rec.name}: val loss ${rec.valLoss.toFixed(4)} (${rec.seconds.toFixed(0)} s, ${rec.tokensPerSecond.toFixed(0)} tokens/s)`);
      out.push(rec);
    }
  }
  return out;
}

export function readRuns(runsDir: string): RunRecord[] {
  if (!existsSync(runsDir)) throw new Error(`runs folder ${runsDir} does not exist; run \`zhiyu scaling sweep\` first`);
  return readdirSync(runsDir).filter((f) => f.endsWith(".json")).sort()
    .map((f) => JSON.parse(readFileSync(path.join(runsDir, f), "utf8")) as RunRecord)
    .filter((r) => Number.isFinite(r.valLoss) && r.params > 0 && r.tokens > 0);
}

// ---------------------------------------------------------------- the fit

export interface LawConstants {
  E: number;
  A: number;
  alpha: number;
  B: number;
  beta: number;
}

export interface FitPoint {
  N: number;
  D: number;
  loss: number;
}

export function predictLoss(c: LawConstants, N: number, D: number): number {
  return c.E + c.A / N ** c.alpha + c.B / D ** c.beta;
}

function huber(r: number, delta: number): number {
  const a = Math.abs(r);
  return a <= delta ? 0.5 * r * r : delta * (a - 0.5 * delta);
}

function logSumExp3(x: number, y: number, z: number): number {
  const m = Math.max(x, y, z);
  return m + Math.log(Math.exp(x - m) + Math.exp(y - m) + Math.exp(z - m));
}

/** θ = [a, b, e, α, β] with A = e^a, B = e^b, E = e^e. */
function objective(theta: readonly number[], pts: readonly FitPoint[], delta: number): number {
  const [a, b, e, alpha, beta] = theta as [number, number, number, number, number];
  // Exponents stay non-negative: a law in which more parameters or more data raise the loss does not extrapolate
  // (noisy small runs, where a bigger model happens to trail a smaller one, otherwise pull α below zero).
  if (!(alpha >= 0) || !(beta >= 0) || alpha > 2 || beta > 2) return Infinity;
  let s = 0;
  for (const p of pts) s += huber(logSumExp3(a - alpha * Math.log(p.N), b - beta * Math.log(p.D), e) - Math.log(p.loss), delta);
  return s;
}

/** Nelder–Mead minimisation (standard coefficients); returns the best vertex. */
export function nelderMead(f: (x: number[]) => number, x0: readonly number[], step: readonly number[], iterations = 4000,
  tolerance = 1e-14): { x: number[]; value: number } {
  const n = x0.length;
  let simplex = [x0.slice()];
  for (let i = 0; i < n; i++) {
    const v = x0.slice();
    v[i]! += step[i]!;
    simplex.push(v);
  }
  let values = simplex.map(f);
  for (let it = 0; it < iterations; it++) {
    const order = values.map((v, i) => i).sort((i, j) => values[i]! - values[j]!);
    simplex = order.map((i) => simplex[i]!);
    values = order.map((i) => values[i]!);
    if (Math.abs(values[n]! - values[0]!) <= tolerance * (Math.abs(values[0]!) + 1e-30) && it > 50) break;
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j]! += simplex[i]![j]! / n;
    const along = (t: number) => centroid.map((c, j) => c + t * (simplex[n]![j]! - c));
    const xr = along(-1);
    const fr = f(xr);
    if (fr < values[0]!) {
      const xe = along(-2);
      const fe = f(xe);
      if (fe < fr) { simplex[n] = xe; values[n] = fe; } else { simplex[n] = xr; values[n] = fr; }
    } else if (fr < values[n - 1]!) {
      simplex[n] = xr;
      values[n] = fr;
    } else {
      const xc = fr < values[n]! ? along(-0.5) : along(0.5);
      const fc = f(xc);
      if (fc < Math.min(fr, values[n]!)) {
        simplex[n] = xc;
        values[n] = fc;
      } else {
        for (let i = 1; i <= n; i++) {
          simplex[i] = simplex[i]!.map((v, j) => simplex[0]![j]! + 0.5 * (v - simplex[0]![j]!));
          values[i] = f(simplex[i]!);
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i <= n; i++) if (values[i]! < values[best]!) best = i;
  return { x: simplex[best]!, value: values[best]! };
}

export interface FitOptions {
  /** Huber δ on residuals of log L. Chinchilla's 10⁻³ suits hundreds of runs; with a dozen, every residual exceeds it
   *  and the fit becomes least absolute deviations (five constants pass through five runs and ignore the rest).
   *  δ ≥ 0.1 is plain least squares here (log residuals are a few hundredths). */
  delta?: number;
  /** Starting values tried for each of a, b, e, α, β (the grid of starts is their product). */
  starts?: { a: number[]; b: number[]; e: number[]; alpha: number[]; beta: number[] };
}

const DEFAULT_STARTS = { a: [0, 5, 10], b: [0, 5, 10], e: [-1, 0, 1], alpha: [0.1, 0.4, 0.8], beta: [0.1, 0.4, 0.8] };

export function fitLaw(pts: readonly FitPoint[], options: FitOptions = {}): { constants: LawConstants; objective: number } {
  if (pts.length < 5) throw new RangeError(`the fit has 5 constants and needs at least 5 runs, got ${pts.length}`);
  const delta = options.delta ?? 1e-3;
  const s = options.starts ?? DEFAULT_STARTS;
  const f = (x: number[]) => objective(x, pts, delta);
  let best: { x: number[]; value: number } | null = null;
  for (const a of s.a) for (const b of s.b) for (const e of s.e) for (const alpha of s.alpha) for (const beta of s.beta) {
    const r = nelderMead(f, [a, b, e, alpha, beta], [1, 1, 0.5, 0.1, 0.1], 1500);
    if (!best || r.value < best.value) best = r;
  }
  // polish the winner with restarts (Nelder–Mead can stall on a flat ridge)
  for (let k = 0; k < 4; k++) best = nelderMead(f, best!.x, [0.3, 0.3, 0.1, 0.03, 0.03], 6000);
  const [a, b, e, alpha, beta] = best!.x as [number, number, number, number, number];
  return { constants: { A: Math.exp(a), B: Math.exp(b), E: Math.exp(e), alpha, beta }, objective: best!.value };
}

export interface BootstrapResult {
  samples: LawConstants[];
  /** Standard deviation of each constant over the samples. */
  std: LawConstants;
}

/** Refits on `count` resamples (with replacement) of the runs, starting from the full fit's constants. */
export function bootstrapFit(pts: readonly FitPoint[], full: LawConstants, count: number, seed: number, delta = 1e-3): BootstrapResult {
  const rng = new Rng(seed);
  const start = { a: [Math.log(full.A)], b: [Math.log(full.B)], e: [Math.log(full.E)], alpha: [full.alpha], beta: [full.beta] };
  const samples: LawConstants[] = [];
  for (let i = 0; i < count; i++) {
    const resample = pts.map(() => pts[rng.int(pts.length)]!);
    if (new Set(resample).size < 5) continue;
    samples.push(fitLaw(resample, { starts: start, delta }).constants);
  }
  const std = (key: keyof LawConstants) => {
    const v = samples.map((s) => s[key]);
    const m = v.reduce((x, y) => x + y, 0) / Math.max(1, v.length);
    return Math.sqrt(v.reduce((x, y) => x + (y - m) ** 2, 0) / Math.max(1, v.length - 1));
  };
  return { samples, std: { E: std("E"), A: std("A"), alpha: std("alpha"), B: std("B"), beta: std("beta") } };
}

/** Compute-optimal N and D for C = 6·N·D: N = G·(C/6)^(β/(α+β)), G = (αA / (βB))^(1/(α+β)). */
export function computeOptimal(c: LawConstants, flops: number): { N: number; D: number; loss: number } {
  const G = ((c.alpha * c.A) / (c.beta * c.B)) ** (1 / (c.alpha + c.beta));
  const N = G * (flops / 6) ** (c.beta / (c.alpha + c.beta));
  const D = flops / (6 * N);
  return { N, D, loss: predictLoss(c, N, D) };
}

/** 5th and 95th percentiles of a prediction over the bootstrap samples. */
export function predictionInterval(samples: readonly LawConstants[], N: number, D: number): [number, number] {
  const v = samples.map((s) => predictLoss(s, N, D)).sort((a, b) => a - b);
  if (v.length === 0) return [NaN, NaN];
  return [v[Math.floor(0.05 * (v.length - 1))]!, v[Math.ceil(0.95 * (v.length - 1))]!];
}

// ---------------------------------------------------------------- the picture

export interface FitPlotInput {
  runs: readonly FitPoint[];
  constants: LawConstants;
  /** The predicted target run, and (once trained) its measured loss. */
  target?: { N: number; D: number; predicted: number; actual?: number | null } | null;
  title?: string;
}

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/** Loss against training tokens (log x), one colour per model size: measured runs as dots, the fit as lines. */
export function renderFitSvg(p: FitPlotInput): string {
  const W = 720;
  const H = 440;
  const m = { l: 60, r: 170, t: 36, b: 48 };
  const sizes = [...new Set(p.runs.map((r) => r.N))].sort((a, b) => a - b);
  if (p.target && !sizes.includes(p.target.N)) sizes.push(p.target.N);
  const ds = [...p.runs.map((r) => r.D), ...(p.target ? [p.target.D] : [])];
  const x0 = Math.log10(Math.min(...ds)) - 0.1;
  const x1 = Math.log10(Math.max(...ds)) + 0.1;
  const ls = [...p.runs.map((r) => r.loss), ...(p.target ? [p.target.predicted, p.target.actual ?? p.target.predicted] : [])];
  const y0 = Math.min(...ls) - 0.1;
  const y1 = Math.max(...ls) + 0.1;
  const X = (d: number) => m.l + ((Math.log10(d) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (l: number) => H - m.b - ((l - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.l}" y="20" font-size="14">${p.title ?? "scaling fit: L(N, D) = E + A/N^α + B/D^β"}</text>`);
  out.push(`<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`);
  out.push(`<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`);
  for (let e = Math.ceil(x0 * 2) / 2; e <= x1; e += 0.5) {
    const x = X(10 ** e);
    out.push(`<line x1="${x}" y1="${H - m.b}" x2="${x}" y2="${H - m.b + 4}" stroke="black"/>`);
    out.push(`<text x="${x}" y="${H - m.b + 16}" text-anchor="middle">${formatCount(10 ** e)}</text>`);
  }
  const yStep = (y1 - y0) > 2 ? 0.5 : (y1 - y0) > 0.8 ? 0.2 : 0.1;
  for (let v = Math.ceil(y0 / yStep) * yStep; v <= y1; v += yStep) {
    out.push(`<line x1="${m.l - 4}" y1="${Y(v)}" x2="${m.l}" y2="${Y(v)}" stroke="black"/>`);
    out.push(`<text x="${m.l - 6}" y="${Y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">training tokens D (log scale)</text>`);
  out.push(`<text x="16" y="${(m.t + H - m.b) / 2}" transform="rotate(-90 16 ${(m.t + H - m.b) / 2})" text-anchor="middle">validation loss (nats/token)</text>`);
  sizes.forEach((N, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const pts: string[] = [];
    for (let k = 0; k <= 60; k++) {
      const d = 10 ** (x0 + ((x1 - x0) * k) / 60);
      const l = predictLoss(p.constants, N, d);
      if (l >= y0 && l <= y1) pts.push(`${X(d).toFixed(1)},${Y(l).toFixed(1)}`);
    }
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${pts.join(" ")}"/>`);
    for (const r of p.runs.filter((q) => q.N === N)) out.push(`<circle cx="${X(r.D)}" cy="${Y(r.loss)}" r="4" fill="${colour}"/>`);
    out.push(`<rect x="${W - m.r + 12}" y="${m.t + i * 18}" width="12" height="3" fill="${colour}"/>`);
    out.push(`<text x="${W - m.r + 30}" y="${m.t + i * 18 + 5}">N = ${formatCount(N)}${p.target && p.target.N === N ? " (target)" : ""}</text>`);
  });
  if (p.target) {
    const t = p.target;
    const ly = m.t + sizes.length * 18 + 10;
    out.push(`<path d="M ${X(t.D) - 6} ${Y(t.predicted)} l 6 -6 l 6 6 l -6 6 z" fill="none" stroke="black" stroke-width="1.5"/>`);
    out.push(`<text x="${W - m.r + 12}" y="${ly}">◇ predicted ${t.predicted.toFixed(3)}</text>`);
    if (t.actual != null) {
      out.push(`<circle cx="${X(t.D)}" cy="${Y(t.actual)}" r="5" fill="black"/>`);
      out.push(`<text x="${W - m.r + 12}" y="${ly + 16}">● measured ${t.actual.toFixed(3)}</text>`);
    }
  }
  const c = p.constants;
  out.push(`<text x="${W - m.r + 12}" y="${H - m.b - 40}" font-size="11">E=${c.E.toFixed(3)} α=${c.alpha.toFixed(3)}</text>`);
  out.push(`<text x="${W - m.r + 12}" y="${H - m.b - 24}" font-size="11">A=${c.A.toPrecision(3)} β=${c.beta.toFixed(3)}</text>`);
  out.push(`<text x="${W - m.r + 12}" y="${H - m.b - 8}" font-size="11">B=${c.B.toPrecision(3)}</text>`);
  out.push("</svg>");
  return out.join("\n") + "\n";
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${+(n / 1e9).toPrecision(3)}G`;
  if (n >= 1e6) return `${+(n / 1e6).toPrecision(3)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toPrecision(3)}k`;
  return `${+n.toPrecision(3)}`;
}
