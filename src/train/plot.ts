// Plots of a metrics JSONL file as a self-contained SVG (or an HTML page around it): training and validation
// loss over steps in the upper panel, the learning rate in the lower one, rollbacks as dashed vertical lines.
// With a metric name (an RL run's "score", "kl", "reward" …) the upper panel shows that per-step metric instead of
// the loss. When a step appears more than once (a resumed or rolled-back run re-did it), the last record wins.
// Leaves out: interactivity, log scales, smoothing.
import type { EventRecord, MetricsRecord, StepRecord, ValRecord } from "./metrics.js";

export interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

interface Panel {
  title: string;
  series: Series[];
  top: number;
  height: number;
}

const WIDTH = 800;
const MARGIN = { left: 70, right: 20 };

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** "Nice" tick values covering [lo, hi] (1, 2, 5 × 10^k steps). */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

function lastPerStep(points: Array<[number, number]>): Array<[number, number]> {
  const byStep = new Map<number, number>();
  for (const [x, y] of points) byStep.set(x, y);
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]);
}

export interface PlotData {
  /** What the upper panel shows: "loss", or the metric named to plotDataFromMetrics. */
  upper: string;
  loss: Series[];
  lr: Series[];
  rollbackSteps: number[];
}

export function plotDataFromMetrics(records: readonly MetricsRecord[], metric?: string): PlotData {
  const train: Array<[number, number]> = [];
  const val: Array<[number, number]> = [];
  const lr: Array<[number, number]> = [];
  const rollbacks: number[] = [];
  for (const r of records) {
    if ("loss" in r && typeof (r as StepRecord).loss === "number") {
      const s = r as StepRecord;
      const value = metric === undefined ? s.loss : (s as unknown as Record<string, unknown>)[metric];
      if (typeof value === "number" && Number.isFinite(value)) train.push([s.step, value]);
      if (typeof s.lr === "number") lr.push([s.step, s.lr]);
    } else if ("val_loss" in r && metric === undefined) {
      const v = r as ValRecord;
      if (Number.isFinite(v.val_loss)) val.push([v.step, v.val_loss]);
    } else if ((r as EventRecord).event === "rollback") {
      rollbacks.push(r.step);
    }
  }
  const loss: Series[] = [{ name: metric ?? "train loss", color: "#1f77b4", points: lastPerStep(train) }];
  if (val.length > 0) loss.push({ name: "val loss", color: "#d62728", points: lastPerStep(val) });
  return { upper: metric ?? "loss", loss, lr: [{ name: "learning rate", color: "#2ca02c", points: lastPerStep(lr) }], rollbackSteps: rollbacks };
}

function renderPanel(p: Panel, xLo: number, xHi: number, rollbacks: readonly number[]): string {
  const all = p.series.flatMap((s) => s.points);
  let yLo = Math.min(...all.map((q) => q[1]));
  let yHi = Math.max(...all.map((q) => q[1]));
  if (!Number.isFinite(yLo)) { yLo = 0; yHi = 1; }
  if (yHi === yLo) { yLo -= Math.abs(yLo) * 0.1 || 1; yHi += Math.abs(yHi) * 0.1 || 1; }
  const pad = (yHi - yLo) * 0.05;
  yLo -= pad; yHi += pad;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const x = (v: number) => MARGIN.left + ((v - xLo) / (xHi - xLo || 1)) * plotW;
  const y = (v: number) => p.top + p.height - ((v - yLo) / (yHi - yLo)) * p.height;
  const out: string[] = [];
  out.push(`<text x="${MARGIN.left}" y="${p.top - 8}" font-size="14" font-weight="bold">${escapeXml(p.title)}</text>`);
  out.push(`<rect x="${MARGIN.left}" y="${p.top}" width="${plotW}" height="${p.height}" fill="none" stroke="#888"/>`);
  for (const t of niceTicks(yLo, yHi)) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${(y(t) + 4).toFixed(1)}" font-size="11" text-anchor="end">${formatTick(t)}</text>`);
  }
  for (const t of niceTicks(xLo, xHi)) {
    out.push(`<text x="${x(t).toFixed(1)}" y="${p.top + p.height + 14}" font-size="11" text-anchor="middle">${formatTick(t)}</text>`);
  }
  for (const r of rollbacks) {
    out.push(`<line x1="${x(r).toFixed(1)}" x2="${x(r).toFixed(1)}" y1="${p.top}" y2="${p.top + p.height}" ` +
      `stroke="#ff7f0e" stroke-dasharray="4 3"><title>rollback at step ${r}</title></line>`);
  }
  p.series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map(([a, b], j) => `${j === 0 ? "M" : "L"}${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(" ");
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
    if (s.points.length === 1) {
      out.push(`<circle cx="${x(s.points[0]![0]).toFixed(1)}" cy="${y(s.points[0]![1]).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    const lx = MARGIN.left + plotW - 150;
    const ly = p.top + 16 + 16 * i;
    out.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 26}" y="${ly}" font-size="12">${escapeXml(s.name)}</text>`);
  });
  return out.join("\n");
}

/** The SVG document for the plot data. */
export function renderSvg(data: PlotData, title = "training"): string {
  const xs = [...data.loss, ...data.lr].flatMap((s) => s.points.map((q) => q[0]));
  const xLo = xs.length > 0 ? Math.min(...xs) : 0;
  const xHi = xs.length > 0 ? Math.max(...xs) : 1;
  const panels: Panel[] = [
    { title: `${title}: ${data.upper}`, series: data.loss, top: 40, height: 260 },
    { title: "learning rate", series: data.lr, top: 360, height: 140 },
  ];
  const height = 540;
  const body = panels.map((p) => renderPanel(p, xLo, xHi, data.rollbackSteps)).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
    `font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n` +
    `<text x="${WIDTH / 2}" y="${height - 6}" font-size="12" text-anchor="middle">step</text>\n</svg>\n`;
}

export function renderHtml(data: PlotData, title = "training"): string {
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeXml(title)}</title></head>\n` +
    `<body style="margin:20px">\n${renderSvg(data, title)}</body></html>\n`;
}
