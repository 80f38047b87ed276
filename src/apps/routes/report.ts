// The experiment's report stage: collects every stage's figures into <work>/results.json, writes the tables as
// Markdown (<work>/results.md, pasted into docs/routes.md) and static SVG plots (<work>/plots/: pretraining loss
// curves per model, and grouped bars of accuracy and bits per byte).
// Leaves out: interactivity (the plots are plain SVG, no script).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { readMetrics } from "../../train/metrics.js";
import { niceTicks } from "../../train/plot.js";
import type { RoutesConfig } from "./config.js";

type Row = { name: string; route: string; arms: string[]; parameters: number; nonEmbeddingParameters: number; flopsPerToken: number; trainingFlops: number; tokens: number };
type Done = Record<string, unknown> | null;

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function fmt(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || Number.isNaN(v) ? "n/a" : v.toFixed(digits);
}

/** A line chart: one series per model (x: steps, y: training loss). */
export function lineSvg(title: string, series: { name: string; points: [number, number][] }[], xLabel: string, yLabel: string): string {
  const W = 800, H = 360, L = 60, R = 230, T = 30, B = 45;
  const xs = series.flatMap((s) => s.points.map((p) => p[0])), ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const px = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R), py = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>`];
  for (const t of niceTicks(y0, y1)) out.push(`<line x1="${L}" x2="${W - R}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/><text x="${L - 5}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  for (const t of niceTicks(x0, x1)) out.push(`<text x="${px(t)}" y="${H - B + 15}" text-anchor="middle">${t}</text>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const d = s.points.map(([x, y], k) => `${k ? "L" : "M"}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join("");
    out.push(`<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.3"/>`,
      `<rect x="${W - R + 10}" y="${T + i * 18}" width="12" height="3" fill="${COLORS[i % COLORS.length]}"/><text x="${W - R + 27}" y="${T + i * 18 + 5}">${esc(s.name)}</text>`);
  });
  return out.join("\n") + "\n</svg>\n";
}

/** Grouped bars: one group per category, one bar per model (null values are left out and marked n/a). */
export function barsSvg(title: string, categories: string[], series: { name: string; values: (number | null)[] }[], yLabel: string): string {
  const W = 800, H = 340, L = 60, R = 230, T = 30, B = 45;
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const ticks = niceTicks(0, max);
  const top = ticks[ticks.length - 1]! >= max ? ticks[ticks.length - 1]! : max;
  const py = (y: number) => H - B - (y / top) * (H - T - B);
  const groupW = (W - L - R) / categories.length, barW = (groupW * 0.8) / series.length;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>`];
  for (const t of ticks) out.push(`<line x1="${L}" x2="${W - R}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/><text x="${L - 5}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  out.push(`<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">${esc(yLabel)}</text>`);
  categories.forEach((c, g) => {
    const gx = L + g * groupW + groupW * 0.1;
    out.push(`<text x="${gx + groupW * 0.4}" y="${H - B + 15}" text-anchor="middle">${esc(c)}</text>`);
    series.forEach((s, i) => {
      const v = s.values[g];
      const x = gx + i * barW;
      if (v === null || v === undefined) out.push(`<text x="${x + barW / 2}" y="${H - B - 3}" text-anchor="middle" font-size="8">n/a</text>`);
      else out.push(`<rect x="${x.toFixed(1)}" y="${py(v).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${(H - B - py(v)).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"/>`);
    });
  });
  series.forEach((s, i) => out.push(`<rect x="${W - R + 10}" y="${T + i * 18}" width="12" height="8" fill="${COLORS[i % COLORS.length]}"/><text x="${W - R + 27}" y="${T + i * 18 + 8}">${esc(s.name)}</text>`));
  return out.join("\n") + "\n</svg>\n";
}

function readDone(work: string, stage: string): Done {
  const f = path.join(work, `${stage}.done.json`);
  return existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) as Record<string, unknown> : null;
}

/** Training loss per step of a run folder, as a moving mean over `window` steps (the last record of a step wins). */
export function lossCurve(runDir: string, window = 10): [number, number][] {
  const file = path.join(runDir, "metrics.jsonl");
  if (!existsSync(file)) return [];
  const byStep = new Map<number, number>();
  for (const r of readMetrics(file)) if ("loss" in r && typeof r.loss === "number") byStep.set(r.step, r.loss);
  const steps = [...byStep.entries()].sort((a, b) => a[0] - b[0]);
  return steps.map(([step], i) => {
    const w = steps.slice(Math.max(0, i - window + 1), i + 1);
    return [step, w.reduce((a, x) => a + x[1], 0) / w.length] as [number, number];
  });
}

const SETS = ["smp2017", "banking77"], REPLY_SETS = ["lccc-toy", "crosswoz"];

/** results.json, results.md and plots/*.svg from the finished stages (missing stages show as n/a). */
export function writeReport(work: string, config: RoutesConfig, models: Row[],
  baselines: Record<string, { majority: number; chance: number }>, unigramBits: Record<string, number>): Record<string, unknown> {
  const results = models.map((m) => {
    const pre = readDone(work, `pretrain-${m.name}`) as { objective?: string } | null;
    const ev = readDone(work, `eval-${m.name}`) as { zeroShot?: Record<string, number>; replyBitsPerByte?: Record<string, number> | null } | null;
    const ft = readDone(work, `finetune-${m.name}`) as { accuracy?: Record<string, number> } | null;
    const mt = readDone(work, `multitask-${m.name}`) as { accuracy?: Record<string, number>; bitsPerByte?: Record<string, number> | null } | null;
    const curve = lossCurve(path.join(work, "pretrain", m.name));
    return { ...m, objective: pre?.objective ?? null, finalLoss: curve.length ? curve[curve.length - 1]![1] : null,
      zeroShot: ev?.zeroShot ?? null, replyBitsPerByte: ev ? ev.replyBitsPerByte ?? "not applicable" : null,
      finetuneAccuracy: ft?.accuracy ?? null, multitaskAccuracy: mt?.accuracy ?? null, multitaskReplyBitsPerByte: mt ? mt.bitsPerByte ?? "not applicable" : null };
  });
  writeFileSync(path.join(work, "results.json"), JSON.stringify({ recipe: config, baselines, unigramReplyBitsPerByte: unigramBits, results }, null, 2) + "\n");
  const get = (v: unknown, k: string): number | null => (v && typeof v === "object" && typeof (v as Record<string, unknown>)[k] === "number" ? (v as Record<string, number>)[k]! : null);
  const md: string[] = [
    "| model | route | arms | parameters | non-embedding | FLOPs / token | training FLOPs | tokens | objective | final loss (mean of last 10 steps) |",
    "|---|---|---|---:|---:|---:|---:|---:|---|---:|",
    ...results.map((r) => `| ${r.name} | ${r.route} | ${r.arms.join(", ")} | ${r.parameters} | ${r.nonEmbeddingParameters} | ${(r.flopsPerToken / 1e6).toFixed(2)}M | ` +
      `${r.trainingFlops.toExponential(3)} | ${r.tokens} | ${r.objective ?? "n/a"} | ${fmt(r.finalLoss)} |`),
    "",
    "| model | (a) smp2017 acc | (a) banking77 acc | (c) zero-shot smp2017 | (c) zero-shot banking77 | (d) smp2017 acc | (d) banking77 acc | " +
    "(b) lccc-toy bits/byte | (b) crosswoz bits/byte | (d) lccc-toy bits/byte | (d) crosswoz bits/byte |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...results.map((r) => `| ${r.name} | ${fmt(get(r.finetuneAccuracy, "smp2017"))} | ${fmt(get(r.finetuneAccuracy, "banking77"))} | ` +
      `${fmt(get(r.zeroShot, "smp2017"))} | ${fmt(get(r.zeroShot, "banking77"))} | ${fmt(get(r.multitaskAccuracy, "smp2017"))} | ` +
      `${fmt(get(r.multitaskAccuracy, "banking77"))} | ${fmt(get(r.replyBitsPerByte, "lccc-toy"))} | ${fmt(get(r.replyBitsPerByte, "crosswoz"))} | ` +
      `${fmt(get(r.multitaskReplyBitsPerByte, "lccc-toy"))} | ${fmt(get(r.multitaskReplyBitsPerByte, "crosswoz"))} |`),
  ];
  const b = (set: string, k: "majority" | "chance") => fmt(baselines[set]?.[k]);
  md.push(`| *majority class of the training split* | ${b("smp2017", "majority")} | ${b("banking77", "majority")} | ${b("smp2017", "majority")} | ` +
    `${b("banking77", "majority")} | ${b("smp2017", "majority")} | ${b("banking77", "majority")} | | | | |`,
    `| *chance (1 / labels)* | ${b("smp2017", "chance")} | ${b("banking77", "chance")} | ${b("smp2017", "chance")} | ${b("banking77", "chance")} | ` +
    `${b("smp2017", "chance")} | ${b("banking77", "chance")} | | | | |`,
    `| *unigram token frequencies of the pretraining text* | | | | | | | ${fmt(unigramBits["lccc-toy"])} | ${fmt(unigramBits.crosswoz)} | ` +
    `${fmt(unigramBits["lccc-toy"])} | ${fmt(unigramBits.crosswoz)} |`);
  writeFileSync(path.join(work, "results.md"), md.join("\n") + "\n");
  const plots = path.join(work, "plots");
  mkdirSync(plots, { recursive: true });
  writeFileSync(path.join(plots, "pretrain-loss.svg"), lineSvg(`pretraining loss (${config.name}, seed ${config.seed}; moving mean of 10 steps)`,
    results.map((r) => ({ name: `${r.name} (${r.objective ?? "?"})`, points: lossCurve(path.join(work, "pretrain", r.name)) })).filter((s) => s.points.length > 0),
    "step", "training loss (nats/token)"));
  const bars = (file: string, title: string, key: "finetuneAccuracy" | "zeroShot" | "multitaskAccuracy") =>
    writeFileSync(path.join(plots, file), barsSvg(title, SETS, results.map((r) => ({ name: r.name, values: SETS.map((s) => get(r[key], s)) })), "accuracy"));
  bars("finetune-accuracy.svg", "(a) intent accuracy after single-task fine-tuning", "finetuneAccuracy");
  bars("zero-shot-accuracy.svg", "(c) zero-shot intent accuracy (label names)", "zeroShot");
  bars("multitask-accuracy.svg", "(d) intent accuracy after multi-task fine-tuning", "multitaskAccuracy");
  writeFileSync(path.join(plots, "reply-bits-per-byte.svg"), barsSvg("(b) pretrained and (d) multi-task: held-out reply bits per byte (lower is better)",
    REPLY_SETS, results.flatMap((r) => [
      { name: `${r.name} pretrained`, values: REPLY_SETS.map((s) => get(r.replyBitsPerByte, s)) },
      { name: `${r.name} multi-task`, values: REPLY_SETS.map((s) => get(r.multitaskReplyBitsPerByte, s)) },
    ]).filter((s) => s.values.some((v) => v !== null)), "bits per byte"));
  return { results: "results.json", table: "results.md", plots: "plots/" };
}
