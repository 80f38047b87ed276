// Several LoRA adapters attached to one loaded model at once, each chosen per sequence (zhiyu serve --lora
// NAME=PATH[:scale]): every adapter sits on its layers' AdaptedWeight, and before each batched forward pass select()
// sets, per adapter, the factor of every packed row — the scale its sequence asked for, 0 where the sequence does
// not use it. A step where every row uses an adapter with one scale (or none uses it) needs no per-row factors: the
// adapter's scale is set (or 0, which linear() skips), so a lone request computes exactly what `generate --lora`
// computes. Base-only rows get base(x) + 0 · delta = base(x) exactly.
// Leaves out: reading and checking adapter files (lora.ts), which sequence asks for what (the scheduler, the server).
import { type LowRankAdapter, type Tensor, fromTypedArray } from "../tensor/index.js";
import type { AdapterChoice } from "./model-api.js";

interface Slot {
  name: string;
  /** alpha / r (or alpha / √r): the adapter's own factor, before the user's scale. */
  baseScale: number;
  /** Its LowRankAdapter on every adapted layer (the objects linear() reads). */
  layers: LowRankAdapter[];
}

export class LoraSlots {
  private readonly slots: Slot[];
  /** Each adapter's name and its default scale (from NAME=PATH:scale). */
  readonly defaults: ReadonlyMap<string, number>;

  constructor(entries: ReadonlyArray<{ name: string; baseScale: number; defaultScale: number; layers: LowRankAdapter[] }>) {
    this.slots = entries.map((e) => ({ name: e.name, baseScale: e.baseScale, layers: e.layers }));
    this.defaults = new Map(entries.map((e) => [e.name, e.defaultScale]));
    this.clear();
  }

  /** Checks a choice names loaded adapters only (what forward() runs with), naming the unknown one. */
  check(choice: AdapterChoice | undefined, where: string): void {
    for (const [name, scale] of choice ?? []) {
      if (!this.defaults.has(name)) {
        throw new RangeError(`[lora] ${where} asks for the adapter '${name}', which is not loaded (loaded: ${[...this.defaults.keys()].join(", ") || "none"})`);
      }
      if (!Number.isFinite(scale)) throw new RangeError(`[lora] ${where}: the scale of adapter '${name}' is ${scale}; expected a finite number`);
    }
  }

  /** Sets every adapter's factors for one packed pass: item i brings tokensPerItem[i] rows and runs with
   *  choices[i]. Call inside the pass's tidy() (the factor tensors are made here) and clear() after it. */
  select(tokensPerItem: readonly number[], choices: ReadonlyArray<AdapterChoice | undefined>): void {
    choices.forEach((c, i) => this.check(c, `batch[${i}]`));
    const total = tokensPerItem.reduce((a, b) => a + b, 0);
    for (const slot of this.slots) {
      const factors = choices.map((c) => c?.get(slot.name) ?? 0);
      const uniform = factors.every((f) => f === factors[0]);
      if (uniform) {
        for (const ad of slot.layers) {
          ad.scale = slot.baseScale * (factors[0] ?? 0);
          ad.rowScale = null;
        }
        continue;
      }
      // Per packed token (the decoder's layers) and per item (an output head reads one row per sequence).
      const perToken = new Float32Array(total);
      let at = 0;
      tokensPerItem.forEach((n, i) => {
        perToken.fill(factors[i]!, at, at + n);
        at += n;
      });
      // Made here, in the pass's tidy (a network may run each layer in a tidy of its own that would free them).
      const tokenRows: Tensor = fromTypedArray(perToken, [total, 1]);
      const itemRows: Tensor = fromTypedArray(Float32Array.from(factors), [factors.length, 1]);
      const rowScale = (rows: number): Tensor => (rows === total ? tokenRows : itemRows);
      for (const ad of slot.layers) {
        ad.scale = slot.baseScale;
        ad.rowScale = rowScale;
      }
    }
  }

  /** Back to "no adapter" (scale 0 everywhere), so a pass that forgot select() runs the base model. */
  clear(): void {
    for (const slot of this.slots) {
      for (const ad of slot.layers) {
        ad.scale = 0;
        ad.rowScale = null;
      }
    }
  }
}

/** A stable key for a choice (prefix reuse may only share caches computed with the same adapters). */
export function adapterKey(choice: AdapterChoice | undefined): string {
  if (!choice) return "";
  return [...choice].filter(([, s]) => s !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, s]) => `${n}:${s}`).join(",");
}
