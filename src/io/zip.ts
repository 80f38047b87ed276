// Reads the first entry of a .zip archive (stored or deflated), enough for the single-file archives in
// ../shared/data (e.g. crosswoz/test.json.zip). Sizes come from the local header, or from the central directory
// when the archive streams them after the data.
// Leaves out: multi-entry archives, zip64, encryption, CRC checks.
import { inflateRawSync } from "node:zlib";

export class ZipError extends Error {
  override name = "ZipError";
}

export function readSingleEntryZip(buf: Buffer, file: string): Buffer {
  if (buf.length < 30 || buf.readUInt32LE(0) !== 0x04034b50) throw new ZipError(`${file}: not a zip archive (bad local header magic)`);
  const method = buf.readUInt16LE(8);
  let size = buf.readUInt32LE(18);
  const start = 30 + buf.readUInt16LE(26) + buf.readUInt16LE(28);
  if (size === 0) {
    const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (eocd < 0) throw new ZipError(`${file}: no end-of-central-directory record`);
    size = buf.readUInt32LE(buf.readUInt32LE(eocd + 16) + 20);
  }
  if (method !== 0 && method !== 8) throw new ZipError(`${file}: compression method ${method} is not stored (0) or deflate (8)`);
  if (start + size > buf.length) throw new ZipError(`${file}: entry of ${size} bytes at ${start} runs past the end (${buf.length})`);
  const data = buf.subarray(start, start + size);
  return method === 0 ? data : inflateRawSync(data);
}
