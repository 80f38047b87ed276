// Checkpoint folders of a training run, written so that a crash at any moment (SIGKILL included) never leaves a
// torn checkpoint behind:
//   <run>/checkpoints/step-00000100/      a Hugging Face folder (config.json, model.safetensors, tokenizer files)
//                                         plus optimizer.safetensors and trainer_state.json (see trainer.ts)
// Protocol: every file is written and fsynced inside a hidden temporary folder (.tmp-…), the folder is fsynced and
// renamed to its final name (rename is atomic), and the parent folder is fsynced. Old checkpoints beyond the last
// N are first renamed to a hidden .del-… name (atomic), then deleted, so a half-deleted folder is never visible
// under a step-… name. Hidden leftovers of a killed run are removed by cleanStaleCheckpoints().
// A step written twice (a run resumed from an older checkpoint reaches it again) gets a suffix: step-00000100.1.
// This file knows nothing about what the files contain.
// Leaves out: remote storage, sharded/async checkpointing.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fsyncPath, writeFileDurable } from "./atomic.js";

export interface CheckpointInfo {
  dir: string;
  step: number;
  /** 0 for the first write of a step, 1, 2 … for later ones. */
  generation: number;
}

const NAME = /^step-(\d{8,})(?:\.(\d+))?$/;
export const TRAINER_STATE_FILE = "trainer_state.json";

export function checkpointsDir(runDir: string): string {
  return path.join(runDir, "checkpoints");
}

export function checkpointName(step: number, generation: number): string {
  return `step-${String(step).padStart(8, "0")}${generation > 0 ? `.${generation}` : ""}`;
}

/** Complete checkpoints of a run, oldest first (by step, then generation). */
export function listCheckpoints(runDir: string): CheckpointInfo[] {
  const dir = checkpointsDir(runDir);
  if (!existsSync(dir)) return [];
  const out: CheckpointInfo[] = [];
  for (const name of readdirSync(dir)) {
    const m = NAME.exec(name);
    if (!m) continue;
    const full = path.join(dir, name);
    if (!statSync(full).isDirectory()) continue;
    out.push({ dir: full, step: Number(m[1]), generation: m[2] ? Number(m[2]) : 0 });
  }
  return out.sort((a, b) => a.step - b.step || a.generation - b.generation);
}

export function latestCheckpoint(runDir: string): CheckpointInfo | null {
  const all = listCheckpoints(runDir);
  return all.length > 0 ? all[all.length - 1]! : null;
}

/** Removes hidden temporary/deleted folders left by a killed run. */
export function cleanStaleCheckpoints(runDir: string): void {
  const dir = checkpointsDir(runDir);
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (name.startsWith(".tmp-") || name.startsWith(".del-")) rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

export interface CheckpointWrite {
  runDir: string;
  /** The number of completed optimizer steps this state is after. */
  step: number;
  /** File name → contents, or a function that writes (and fsyncs) the file at the path it is given. */
  files: ReadonlyMap<string, Uint8Array | string | ((filePath: string) => void)>;
  /** Extra files copied in as they are (tokenizer files), by name → source path. */
  copies?: ReadonlyMap<string, string>;
  /** Keep only the newest N checkpoints (0 or undefined keeps all). */
  keepLast?: number;
}

/** Writes one checkpoint atomically and prunes old ones; returns the new checkpoint. */
export function writeCheckpoint(w: CheckpointWrite): CheckpointInfo {
  const parent = checkpointsDir(w.runDir);
  mkdirSync(parent, { recursive: true });
  let generation = 0;
  while (existsSync(path.join(parent, checkpointName(w.step, generation)))) generation++;
  const finalDir = path.join(parent, checkpointName(w.step, generation));
  const tmpDir = path.join(parent, `.tmp-${checkpointName(w.step, generation)}-${process.pid}`);
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir);
  for (const [name, contents] of w.files) {
    const target = path.join(tmpDir, name);
    if (typeof contents === "function") {
      contents(target);
      fsyncPath(target);
    } else {
      writeFileDurable(target, contents);
    }
  }
  for (const [name, from] of w.copies ?? []) {
    copyFileSync(from, path.join(tmpDir, name));
    fsyncPath(path.join(tmpDir, name)); // copyFileSync does not fsync
  }
  fsyncPath(tmpDir);
  renameSync(tmpDir, finalDir);
  fsyncPath(parent);
  if (w.keepLast && w.keepLast > 0) pruneCheckpoints(w.runDir, w.keepLast);
  return { dir: finalDir, step: w.step, generation };
}

/** Deletes all but the newest `keep` checkpoints (rename to a hidden name first, then delete). */
export function pruneCheckpoints(runDir: string, keep: number): void {
  const all = listCheckpoints(runDir);
  const parent = checkpointsDir(runDir);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) {
    const hidden = path.join(parent, `.del-${path.basename(c.dir)}-${process.pid}`);
    renameSync(c.dir, hidden);
    rmSync(hidden, { recursive: true, force: true });
  }
  fsyncPath(parent);
}

/** Resolves `--resume DIR`: a run folder (its newest checkpoint) or a checkpoint folder itself. */
export function resolveResume(dir: string): { runDir: string; checkpoint: CheckpointInfo } {
  if (!existsSync(dir)) throw new Error(`--resume ${dir}: no such folder`);
  if (existsSync(path.join(dir, TRAINER_STATE_FILE))) {
    const name = path.basename(path.resolve(dir));
    const m = NAME.exec(name);
    const parent = path.dirname(path.resolve(dir));
    if (!m || path.basename(parent) !== "checkpoints") {
      throw new Error(`--resume ${dir}: a checkpoint folder must be <run>/checkpoints/step-NNNNNNNN to know its run ` +
        "folder; pass the run folder instead");
    }
    return { runDir: path.dirname(parent), checkpoint: { dir: path.resolve(dir), step: Number(m[1]), generation: m[2] ? Number(m[2]) : 0 } };
  }
  const latest = latestCheckpoint(dir);
  if (!latest) {
    throw new Error(`--resume ${dir}: neither a checkpoint (no ${TRAINER_STATE_FILE}) nor a run folder with ` +
      `checkpoints (nothing in ${checkpointsDir(dir)}); nothing to resume from`);
  }
  return { runDir: dir, checkpoint: latest };
}
