// Crash-safe writes of large files for the writers in this folder: the bytes go to a hidden temporary file beside
// the target, are fsynced, and the temporary file is renamed into place (removed if writing fails). The bytes are
// streamed chunk by chunk, so a multi-GB model file is never assembled in memory.
// Leaves out: fsync of the parent folder (src/train/atomic.ts does that for training outputs).
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";

/** Calls `write(put)`, where `put` appends bytes to a temporary file, then renames that file to `filePath`. */
export function writeFileAtomicChunks(filePath: string, write: (put: (bytes: Uint8Array) => void) => void): void {
  const tmp = path.join(path.dirname(filePath), `.${path.basename(filePath)}.tmp-${process.pid}-${Date.now()}`);
  const fd = openSync(tmp, "w");
  let ok = false;
  try {
    write((b) => {
      let done = 0;
      while (done < b.byteLength) done += writeSync(fd, b, done, b.byteLength - done);
    });
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(tmp, { force: true });
  }
  renameSync(tmp, filePath);
}
