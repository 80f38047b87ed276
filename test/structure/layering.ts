// The dependency-direction rules of src/ (../shared/docs/STYLE.md section 3, with apps on top) and a checker over
// the TypeScript import statements of a source tree. layering.test.ts runs it on this repo and on fixture trees
// that break a rule. Imports are read with typescript's preProcessFile (already the type checker's package):
// static, type-only, re-exports and dynamic import("...") alike; comments and strings are not mistaken for imports.
// Leaves out: package imports (node:, npm) — only relative imports between folders of src/ are judged, plus the
// rule that src/ never imports from outside src/ (dev/, test/, scripts/); the native addon (loaded by path in
// src/backend/native.ts, not imported).
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

/**
 * Each folder of src/ and the other folders it may import. The chain, lowest first:
 *   native ← backend ← tensor ← {optim, models} ← {train, infer} ← {tools, prompting} ← serve ← apps ← cli
 * (STYLE's nn layer sat between tensor and optim/models; no model family used its layers, so it was removed in
 * issue 12 — a new src/nn/ must be added to this table, and is then importable where tensor is.)
 * core, io and tokenizers are side leaves (core imports nothing; io imports core; tokenizers imports core and io
 * — the GGUF vocabulary reader). Narrowed where STYLE says so: backend never imports tensor (it imports core
 * only); models never import tokenizers, train, infer or serve; train never imports infer (an objective that
 * needs generation gets an injected generator interface); tools and prompting sit just above infer (they work on
 * chat messages and generation through infer's interfaces) and below serve, which uses them; serve does no tensor
 * ops (no backend, tensor, optim) and runs no training; nothing but cli imports apps (cli is the entry point
 * that runs an app's commands); nothing imports cli.
 */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  core: [],
  io: ["core"],
  tokenizers: ["core", "io"],
  backend: ["core"],
  tensor: ["core", "backend"],
  optim: ["core", "backend", "tensor"],
  models: ["core", "io", "backend", "tensor"],
  train: ["core", "io", "tokenizers", "backend", "tensor", "optim", "models"],
  infer: ["core", "io", "tokenizers", "backend", "tensor", "optim", "models"],
  tools: ["core", "io", "tokenizers", "backend", "tensor", "optim", "models", "infer"],
  prompting: ["core", "io", "tokenizers", "backend", "tensor", "optim", "models", "infer"],
  serve: ["core", "io", "tokenizers", "models", "infer", "tools", "prompting"],
  apps: ["core", "io", "tokenizers", "backend", "tensor", "optim", "models", "train", "infer", "tools", "prompting", "serve"],
  cli: ["core", "io", "tokenizers", "backend", "tensor", "optim", "models", "train", "infer", "tools", "prompting", "serve", "apps"],
};

/** An import today's code makes against the rules, allowed by name until the move it waits for lands. */
export interface Allowance {
  /** importing file, path relative to the tree root; a trailing "/" allows every file under that folder */
  from: string;
  /** imported file, relative to the tree root */
  to: string;
  why: string;
}

export const ALLOWANCES: readonly Allowance[] = [
  // Chat templates render messages to text: STYLE section 3 puts them in tokenizers/, where train could import
  // them. Moving src/infer/chat-template.ts touches infer, serve, train, tools and cli while other helpers are
  // rewriting those (issue 12), so train keeps importing this one file of infer until that move; nothing else
  // in infer is allowed to train.
  { from: "src/train/", to: "src/infer/chat-template.ts", why: "chat templates are due to move to src/tokenizers/" },
];

export interface LayerViolation {
  file: string;
  imports: string;
  message: string;
}

export interface LayeringReport {
  violations: LayerViolation[];
  /** allowances no import needed any more: each must be deleted from ALLOWANCES */
  staleAllowances: Allowance[];
  /** folder → folder it imports → number of import statements */
  edges: Map<string, Map<string, number>>;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|cts|tsx)$/.test(name) && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Relative module specifiers of a TypeScript source (import, import type, export … from, import(), require). */
export function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName).filter((s) => s.startsWith("."));
}

const posix = (p: string) => p.split(path.sep).join("/");

/** The folder of src/ a root-relative path lies in, or null for a file directly in src/ or outside src/. */
function layerOf(rel: string): string | null {
  const parts = rel.split("/");
  return parts[0] === "src" && parts.length > 2 ? parts[1] : null;
}

/** Checks every src/**∕*.ts under root against the rules. */
export function checkLayering(root: string, rules = MAY_IMPORT, allowances = ALLOWANCES): LayeringReport {
  const violations: LayerViolation[] = [];
  const used = new Set<Allowance>();
  const edges = new Map<string, Map<string, number>>();
  for (const abs of sourceFiles(path.join(root, "src"))) {
    const file = posix(path.relative(root, abs));
    const from = layerOf(file);
    if (from === null || !(from in rules)) {
      violations.push({ file, imports: "", message: from === null
        ? `${file} lies directly in src/: put it in the folder of its layer`
        : `src/${from}/ is not in the layer table: add it to MAY_IMPORT in test/structure/layering.ts with the folders it may import (../shared/docs/STYLE.md section 3)` });
      continue;
    }
    for (const spec of importSpecifiers(readFileSync(abs, "utf8"))) {
      const target = posix(path.relative(root, path.resolve(path.dirname(abs), spec))).replace(/\.js$/, ".ts");
      const to = target.startsWith("src/") ? layerOf(target) : null;
      if (to === from) continue;
      const counts = edges.get(from) ?? new Map<string, number>();
      counts.set(to ?? target, (counts.get(to ?? target) ?? 0) + 1);
      edges.set(from, counts);
      let message: string | null = null;
      if (!target.startsWith("src/")) message = `src/ never imports from outside src/ (${target}): move what it needs into src/`;
      else if (to === null) message = `${target} lies directly in src/`;
      else if (!rules[from].includes(to)) {
        message = `src/${from}/ may not import src/${to}/ (it may import: ${rules[from].join(", ") || "nothing"})` +
          ` — the dependency arrows of ../shared/docs/STYLE.md section 3 point the other way; move the shared piece down` +
          ` or pass it in as an argument`;
      }
      if (message === null) continue;
      const allowed = allowances.find((a) => (a.from.endsWith("/") ? file.startsWith(a.from) : file === a.from) && a.to === target);
      if (allowed) { used.add(allowed); continue; }
      violations.push({ file, imports: spec, message: `${file} imports "${spec}": ${message}` });
    }
  }
  return { violations, staleAllowances: allowances.filter((a) => !used.has(a)), edges };
}
