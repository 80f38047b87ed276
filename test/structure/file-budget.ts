// The file-length budget: every src/**∕*.ts at most 500 lines, every native/*.c|cc|h at most 1500, and a
// lines-per-folder count for the report. file-budget.test.ts runs it on this repo and on fixture trees.
// Leaves out: test/, dev/ and scripts/ (not budgeted), blank or comment lines (they count like any other).
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export interface Budget {
  /** folder under the tree root */
  dir: string;
  /** file names it applies to */
  pattern: RegExp;
  /** search subfolders too */
  recursive: boolean;
  maxLines: number;
}

export const BUDGETS: readonly Budget[] = [
  { dir: "src", pattern: /\.ts$/, recursive: true, maxLines: 500 },
  { dir: "native", pattern: /\.(c|cc|h)$/, recursive: false, maxLines: 1500 },
];

/** A file allowed past its budget by name, for a stated time. */
export interface LengthAllowance {
  file: string;
  maxLines: number;
  why: string;
}

export const LENGTH_ALLOWANCES: readonly LengthAllowance[] = [];

export interface BudgetReport {
  violations: string[];
  /** allowances that match no file over budget any more: each must be deleted from LENGTH_ALLOWANCES */
  staleAllowances: LengthAllowance[];
  /** folder (root-relative) → [files, lines] */
  perFolder: Map<string, [number, number]>;
}

/** Lines as an editor numbers them: a final newline does not start another line. */
export function countLines(text: string): number {
  if (text.length === 0) return 0;
  const n = text.split("\n").length;
  return text.endsWith("\n") ? n - 1 : n;
}

function files(dir: string, pattern: RegExp, recursive: boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) { if (recursive) out.push(...files(p, pattern, recursive)); }
    else if (pattern.test(name)) out.push(p);
  }
  return out;
}

export function checkFileLengths(root: string, budgets = BUDGETS, allowances = LENGTH_ALLOWANCES): BudgetReport {
  const violations: string[] = [];
  const used = new Set<LengthAllowance>();
  const perFolder = new Map<string, [number, number]>();
  for (const b of budgets) {
    for (const abs of files(path.join(root, b.dir), b.pattern, b.recursive)) {
      const file = path.relative(root, abs).split(path.sep).join("/");
      const lines = countLines(readFileSync(abs, "utf8"));
      const folder = path.posix.dirname(file);
      const [f, l] = perFolder.get(folder) ?? [0, 0];
      perFolder.set(folder, [f + 1, l + lines]);
      if (lines <= b.maxLines) continue;
      const allowed = allowances.find((a) => a.file === file);
      if (allowed) used.add(allowed);
      if (allowed && lines <= allowed.maxLines) continue;
      violations.push(`${file} has ${lines} lines, over the budget of ${allowed ? `${allowed.maxLines} allowed while ${allowed.why}` : b.maxLines}` +
        ` for ${b.dir}/: split it into files that each hold one coherent part (each with its header comment)`);
    }
  }
  return { violations, staleAllowances: allowances.filter((a) => !used.has(a)), perFolder };
}
