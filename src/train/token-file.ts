// Token files: the flat arrays of token ids that training reads. Three formats are understood:
//   - Zhiyu shards (written by `zhiyu data prepare`): a 32-byte header, then little-endian uint16 or uint32 ids.
//       bytes 0..7   magic "ZHIYUTOK"
//       bytes 8..11  uint32 version (1)
//       bytes 12..15 uint32 bytes per token (2 or 4)
//       bytes 16..19 uint32 vocabulary size of the tokenizer that wrote it (0 = unknown)
//       bytes 20..23 uint32 reserved (0)
//       bytes 24..31 uint64 token count
//   - llm.c token files: 256 little-endian int32 header values {20240520, 1, count, 0, ...}, then uint16 ids.
//   - nanoGPT's raw `.bin`: little-endian uint16 ids, no header (anything without one of the two magics).
// Files are read whole into memory (the data sets here are small); leaves out memory-mapping and streaming of
// multi-gigabyte corpora.
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "./atomic.js";

export type TokenArray = Uint16Array | Uint32Array;
export type TokenFileFormat = "zhiyu" | "llmc" | "raw-u16";

export interface TokenFile {
  path: string;
  format: TokenFileFormat;
  tokens: TokenArray;
  /** Vocabulary size recorded in the file (Zhiyu shards only), or null when the format does not carry it. */
  vocabSize: number | null;
}

export const ZHIYU_TOKEN_MAGIC = "ZHIYUTOK";
export const ZHIYU_TOKEN_HEADER_BYTES = 32;
export const LLMC_TOKEN_MAGIC = 20240520;
export const LLMC_HEADER_BYTES = 256 * 4;

export class TokenFileError extends Error {
  override name = "TokenFileError";
}

/** Smallest id width that holds every id below vocabSize. */
export function bytesPerTokenFor(vocabSize: number): 2 | 4 {
  return vocabSize <= 65536 ? 2 : 4;
}

function typedView(bytes: Uint8Array, offset: number, count: number, width: 2 | 4): TokenArray {
  const byteLength = count * width;
  // Typed arrays need aligned offsets; copy when the data is not aligned (or not at a multiple of the width).
  const start = bytes.byteOffset + offset;
  if (start % width === 0) {
    return width === 2 ? new Uint16Array(bytes.buffer, start, count) : new Uint32Array(bytes.buffer, start, count);
  }
  const copy = bytes.slice(offset, offset + byteLength);
  return width === 2 ? new Uint16Array(copy.buffer, 0, count) : new Uint32Array(copy.buffer, 0, count);
}

/** Parses the bytes of a token file in any of the three formats (see the header comment). */
export function parseTokenFile(bytes: Uint8Array, filePath: string): TokenFile {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic8 = bytes.byteLength >= 8 ? new TextDecoder("latin1").decode(bytes.subarray(0, 8)) : "";
  if (magic8 === ZHIYU_TOKEN_MAGIC) {
    if (bytes.byteLength < ZHIYU_TOKEN_HEADER_BYTES) {
      throw new TokenFileError(`${filePath}: Zhiyu token file is ${bytes.byteLength} bytes, shorter than its ` +
        `${ZHIYU_TOKEN_HEADER_BYTES}-byte header (truncated file?)`);
    }
    const version = dv.getUint32(8, true);
    if (version !== 1) throw new TokenFileError(`${filePath}: Zhiyu token file version ${version}; this build reads version 1`);
    const width = dv.getUint32(12, true);
    if (width !== 2 && width !== 4) {
      throw new TokenFileError(`${filePath}: bytes per token is ${width} in the header; expected 2 (uint16) or 4 (uint32)`);
    }
    const vocabSize = dv.getUint32(16, true);
    const count = Number(dv.getBigUint64(24, true));
    const expected = ZHIYU_TOKEN_HEADER_BYTES + count * width;
    if (bytes.byteLength !== expected) {
      throw new TokenFileError(`${filePath}: header says ${count} tokens of ${width} bytes (file of ${expected} bytes) ` +
        `but the file has ${bytes.byteLength} bytes (truncated or appended to?)`);
    }
    const tokens = typedView(bytes, ZHIYU_TOKEN_HEADER_BYTES, count, width);
    if (vocabSize > 0) checkIdsBelow(tokens, vocabSize, filePath);
    return { path: filePath, format: "zhiyu", tokens, vocabSize: vocabSize > 0 ? vocabSize : null };
  }
  if (bytes.byteLength >= 4 && dv.getInt32(0, true) === LLMC_TOKEN_MAGIC) {
    if (bytes.byteLength < LLMC_HEADER_BYTES) {
      throw new TokenFileError(`${filePath}: llm.c token file (magic ${LLMC_TOKEN_MAGIC}) is ${bytes.byteLength} bytes, ` +
        `shorter than its ${LLMC_HEADER_BYTES}-byte header (truncated file?)`);
    }
    const version = dv.getInt32(4, true);
    if (version !== 1) {
      throw new TokenFileError(`${filePath}: llm.c token file version ${version}; only version 1 (uint16 GPT-2 ids) is supported`);
    }
    const count = dv.getInt32(8, true);
    const expected = LLMC_HEADER_BYTES + count * 2;
    if (count < 0 || bytes.byteLength !== expected) {
      throw new TokenFileError(`${filePath}: llm.c header says ${count} tokens (file of ${expected} bytes) but the file ` +
        `has ${bytes.byteLength} bytes (truncated or appended to?)`);
    }
    return { path: filePath, format: "llmc", tokens: typedView(bytes, LLMC_HEADER_BYTES, count, 2), vocabSize: null };
  }
  if (bytes.byteLength % 2 !== 0) {
    throw new TokenFileError(`${filePath}: no Zhiyu ("${ZHIYU_TOKEN_MAGIC}") or llm.c (${LLMC_TOKEN_MAGIC}) header, so ` +
      `it was read as raw uint16 ids, but its size ${bytes.byteLength} is odd; expected an even number of bytes`);
  }
  return { path: filePath, format: "raw-u16", tokens: typedView(bytes, 0, bytes.byteLength / 2, 2), vocabSize: null };
}

function checkIdsBelow(tokens: TokenArray, vocabSize: number, filePath: string): void {
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]! >= vocabSize) {
      throw new TokenFileError(`${filePath}: token ${i} is id ${tokens[i]}, not below the vocabulary size ${vocabSize} ` +
        `recorded in the header (corrupt file?)`);
    }
  }
}

export function readTokenFile(filePath: string): TokenFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(filePath);
  } catch (err) {
    throw new TokenFileError(`cannot read token file ${filePath}: ${(err as Error).message}`);
  }
  return parseTokenFile(bytes, filePath);
}

/** Encodes ids as a Zhiyu shard (header + ids). Throws if an id does not fit the chosen width. */
export function encodeTokenFile(ids: ArrayLike<number>, vocabSize: number): Uint8Array {
  const width = bytesPerTokenFor(vocabSize);
  const out = new Uint8Array(ZHIYU_TOKEN_HEADER_BYTES + ids.length * width);
  out.set(new TextEncoder().encode(ZHIYU_TOKEN_MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, 1, true);
  dv.setUint32(12, width, true);
  dv.setUint32(16, vocabSize, true);
  dv.setBigUint64(24, BigInt(ids.length), true);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new TokenFileError(`encodeTokenFile: id ${id} at position ${i} is outside [0, ${vocabSize})`);
    }
    if (width === 2) dv.setUint16(ZHIYU_TOKEN_HEADER_BYTES + 2 * i, id, true);
    else dv.setUint32(ZHIYU_TOKEN_HEADER_BYTES + 4 * i, id, true);
  }
  return out;
}

export function writeTokenFile(filePath: string, ids: ArrayLike<number>, vocabSize: number): void {
  writeFileAtomic(filePath, encodeTokenFile(ids, vocabSize));
}

/** The concatenation of one or more token files, read as one stream. */
export interface TokenStream {
  readonly files: readonly TokenFile[];
  readonly length: number;
  /** Largest vocabulary size recorded by the files (null if none records it). */
  readonly vocabSize: number | null;
  /** Largest id present (for checking against a model's vocabulary). */
  maxId(): number;
  /** Copies ids [start, start + count) into out (as int32). */
  copyTo(start: number, count: number, out: Int32Array, outOffset?: number): void;
}

export function tokenStreamFromFiles(files: readonly TokenFile[]): TokenStream {
  if (files.length === 0) throw new TokenFileError("no token files given");
  const starts: number[] = [];
  let total = 0;
  for (const f of files) {
    starts.push(total);
    total += f.tokens.length;
  }
  const vocabSizes = files.map((f) => f.vocabSize).filter((v): v is number => v !== null);
  let cachedMax = -1;
  return {
    files,
    length: total,
    vocabSize: vocabSizes.length > 0 ? Math.max(...vocabSizes) : null,
    maxId() {
      if (cachedMax < 0) {
        let m = 0;
        for (const f of files) for (let i = 0; i < f.tokens.length; i++) if (f.tokens[i]! > m) m = f.tokens[i]!;
        cachedMax = m;
      }
      return cachedMax;
    },
    copyTo(start, count, out, outOffset = 0) {
      if (start < 0 || start + count > total) {
        throw new TokenFileError(`copyTo: range [${start}, ${start + count}) is outside the stream of ${total} tokens`);
      }
      // Find the file holding `start`, then copy across file boundaries.
      let fi = 0;
      while (fi + 1 < files.length && starts[fi + 1]! <= start) fi++;
      let pos = start;
      let o = outOffset;
      const end = start + count;
      while (pos < end) {
        const f = files[fi]!;
        const local = pos - starts[fi]!;
        const n = Math.min(end - pos, f.tokens.length - local);
        for (let i = 0; i < n; i++) out[o + i] = f.tokens[local + i]!;
        pos += n;
        o += n;
        fi++;
      }
    },
  };
}

/** Resolves a --data argument: a token file, or a folder of `<split>_*.bin` shards (sorted by name). */
export function resolveTokenPaths(dataPath: string, split: "train" | "val"): string[] {
  let st;
  try {
    st = statSync(dataPath);
  } catch {
    throw new TokenFileError(`data path ${dataPath} does not exist; pass a token file or a folder written by ` +
      "`zhiyu data prepare`");
  }
  if (!st.isDirectory()) return split === "train" ? [dataPath] : [];
  const names = readdirSync(dataPath).filter((n) => n.startsWith(`${split}_`) && n.endsWith(".bin")).sort();
  if (split === "train" && names.length === 0) {
    throw new TokenFileError(`folder ${dataPath} holds no train_*.bin shards; run \`zhiyu data prepare --out ${dataPath}\``);
  }
  return names.map((n) => path.join(dataPath, n));
}

export function openTokenStream(paths: readonly string[]): TokenStream {
  return tokenStreamFromFiles(paths.map((p) => readTokenFile(p)));
}
