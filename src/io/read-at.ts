// Positional reads that fill a whole buffer: readSync may return fewer bytes than asked, so the readers in this
// folder loop until the buffer is full or the file ends, then report a short read in their own words.
import { readSync } from "node:fs";

/** Reads into `out` from byte `position` until it is full or the file ends; returns the bytes read. */
export function readFullyAt(fd: number, out: Uint8Array, position: number): number {
  let got = 0;
  while (got < out.byteLength) {
    const n = readSync(fd, out, got, out.byteLength - got, position + got);
    if (n <= 0) break;
    got += n;
  }
  return got;
}
