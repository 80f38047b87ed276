// Batch inspection of imported transcripts into a JSONL report, incremental and resumable. Lines go to
// `<out>.partial` in input order and are fsynced every `flushEvery` conversations, so an interrupted run (Ctrl-C,
// a crash, a killed machine) keeps every finished line; a torn last line is cut off on resume. The next run with
// the same rubric version skips what the partial file holds. When the whole input is done the partial file is
// renamed over `<out>` (atomic: readers see the old report or the new one, never half). A previous `<out>` makes a
// re-run incremental: a conversation whose rubric version and transcript hash are unchanged is copied, not
// re-inspected; after a rubric change every line is redone and carries the new version.
// Leaves out: parallel workers (one core inspects thousands of conversations a second with rules only).
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import type { InspectionReport, Inspector } from "./engine.js";
import { transcriptHash } from "./engine.js";
import type { ReadProblem, Transcript } from "./transcript.js";

export interface BatchOptions {
  inspector: Inspector;
  transcripts: readonly { transcript: Transcript; line: number }[];
  out: string;
  /** Polled between conversations; true stops after flushing what is done. */
  shouldStop?: () => boolean;
  onProgress?: (p: BatchProgress) => void;
  /** Conversations between fsyncs of the partial file (default 200). */
  flushEvery?: number;
}

export interface BatchProgress {
  done: number;
  total: number;
  inspected: number;
  reused: number;
  resumed: number;
}

export interface BatchResult extends BatchProgress {
  stopped: boolean;
  /** Duplicate ids (the later ones are skipped). */
  problems: ReadProblem[];
}

function reportLines(file: string): { reports: InspectionReport[]; goodBytes: number } {
  if (!existsSync(file)) return { reports: [], goodBytes: 0 };
  const text = readFileSync(file);
  const reports: InspectionReport[] = [];
  let start = 0;
  let goodBytes = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== 0x0a) continue;
    try {
      reports.push(JSON.parse(text.subarray(start, i).toString("utf8")) as InspectionReport);
      goodBytes = i + 1;
    } catch {
      break;
    }
    start = i + 1;
  }
  return { reports, goodBytes };
}

export async function runBatch(o: BatchOptions): Promise<BatchResult> {
  const version = o.inspector.version;
  const partialFile = `${o.out}.partial`;
  const previous = new Map<string, InspectionReport>();
  for (const r of reportLines(o.out).reports) if (r.rubric_version === version) previous.set(r.id, r);
  const partial = reportLines(partialFile);
  const done = new Set<string>();
  if (partial.reports.some((r) => r.rubric_version !== version)) {
    // Begun under another rubric: its lines are stale.
    rmSync(partialFile, { force: true });
  } else {
    for (const r of partial.reports) done.add(r.id);
  }
  const fd = openSync(partialFile, existsSync(partialFile) ? "r+" : "w");
  // Cut a torn last line (the process died mid-write).
  if (existsSync(partialFile)) ftruncateSync(fd, done.size > 0 ? partial.goodBytes : 0);
  const end = done.size > 0 ? partial.goodBytes : 0;
  let position = end;
  const progress: BatchProgress = { done: 0, total: o.transcripts.length, inspected: 0, reused: 0, resumed: 0 };
  const problems: ReadProblem[] = [];
  const seen = new Set<string>();
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const bytes = Buffer.from(pending.join(""), "utf8");
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off, position + off);
    position += bytes.length;
    fsyncSync(fd);
    pending = [];
  };
  const flushEvery = o.flushEvery ?? 200;
  let stopped = false;
  try {
    for (const { transcript: t, line } of o.transcripts) {
      if (seen.has(t.id)) {
        problems.push({ line, error: `conversation ${t.id}: duplicate id (an earlier line has it; this one is skipped)` });
        progress.done++;
        continue;
      }
      seen.add(t.id);
      if (done.has(t.id)) {
        progress.resumed++;
      } else {
        const before = previous.get(t.id);
        let report: InspectionReport;
        if (before && before.transcript_hash === transcriptHash(t)) {
          report = before;
          progress.reused++;
        } else {
          report = o.inspector.inspect(t);
          progress.inspected++;
        }
        pending.push(JSON.stringify(report) + "\n");
      }
      progress.done++;
      if (pending.length >= flushEvery) {
        flush();
        o.onProgress?.({ ...progress });
        // Let signal handlers run (Ctrl-C sets shouldStop).
        await new Promise((r) => setImmediate(r));
      }
      if (o.shouldStop?.()) {
        stopped = progress.done < progress.total;
        if (stopped) break;
      }
    }
    flush();
  } finally {
    closeSync(fd);
  }
  o.onProgress?.({ ...progress });
  if (!stopped) renameSync(partialFile, o.out);
  return { ...progress, stopped, problems };
}
