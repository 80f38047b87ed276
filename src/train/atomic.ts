// Crash-safe file and folder writes for training outputs: write to a temporary name, fsync the data, rename into
// place, fsync the parent folder, so that after a crash (even SIGKILL) a path holds either the old complete
// contents or the new complete contents, never a torn file.
// Leaves out: Windows semantics (rename over an existing folder fails there).
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import path from "node:path";

/** fsync a file, or a folder so that renames and new entries in it survive a crash (Linux: open read-only). */
export function fsyncPath(p: string): void {
  const fd = openSync(p, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes bytes to a file and fsyncs it (not atomic by itself: use inside a temporary folder or via writeFileAtomic). */
export function writeFileDurable(filePath: string, bytes: Uint8Array | string): void {
  const data = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
  const fd = openSync(filePath, "w");
  try {
    let written = 0;
    while (written < data.byteLength) written += writeSync(fd, data, written, data.byteLength - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a file atomically: a temporary file beside it, fsync, rename, fsync the folder. */
export function writeFileAtomic(filePath: string, bytes: Uint8Array | string): void {
  const tmp = `${filePath}.tmp-${process.pid}`;
  writeFileDurable(tmp, bytes);
  renameSync(tmp, filePath);
  fsyncPath(path.dirname(path.resolve(filePath)));
}
