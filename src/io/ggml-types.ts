// The ggml tensor type table as GGUF files use it: type id → lowercase name, elements per block and bytes per
// block, plus the byte-size arithmetic every reader and writer needs. Ids follow ggml.h (gaps are ids ggml
// retired: 4, 5, 31–33, 36–38). Leaves out: the block layouts themselves (src/backend/ref/quant.ts decodes them).

export type GgmlType =
  | "f32" | "f16" | "q4_0" | "q4_1" | "q5_0" | "q5_1" | "q8_0" | "q8_1"
  | "q2_k" | "q3_k" | "q4_k" | "q5_k" | "q6_k" | "q8_k"
  | "iq2_xxs" | "iq2_xs" | "iq3_xxs" | "iq1_s" | "iq4_nl" | "iq3_s" | "iq2_s" | "iq4_xs"
  | "i8" | "i16" | "i32" | "i64" | "f64" | "iq1_m" | "bf16" | "tq1_0" | "tq2_0";

export interface GgmlTypeInfo {
  id: number;
  name: GgmlType;
  /** Elements per block (1 for plain scalar types). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

// [id, name, elements per block, bytes per block]; sizes from the block structs in ggml-common.h.
const TABLE: ReadonlyArray<readonly [number, GgmlType, number, number]> = [
  [0, "f32", 1, 4],
  [1, "f16", 1, 2],
  [2, "q4_0", 32, 18], // f16 d, 16 bytes of nibbles
  [3, "q4_1", 32, 20], // f16 d, f16 m, 16 bytes
  [6, "q5_0", 32, 22], // f16 d, u32 high bits, 16 bytes
  [7, "q5_1", 32, 24], // f16 d, f16 m, u32 high bits, 16 bytes
  [8, "q8_0", 32, 34], // f16 d, 32 × i8
  [9, "q8_1", 32, 36], // f16 d, f16 s = d·Σq, 32 × i8
  [10, "q2_k", 256, 84],
  [11, "q3_k", 256, 110],
  [12, "q4_k", 256, 144],
  [13, "q5_k", 256, 176],
  [14, "q6_k", 256, 210],
  [15, "q8_k", 256, 292], // f32 d, 256 × i8, 16 × i16 block sums
  [16, "iq2_xxs", 256, 66],
  [17, "iq2_xs", 256, 74],
  [18, "iq3_xxs", 256, 98],
  [19, "iq1_s", 256, 50],
  [20, "iq4_nl", 32, 18],
  [21, "iq3_s", 256, 110],
  [22, "iq2_s", 256, 82],
  [23, "iq4_xs", 256, 136],
  [24, "i8", 1, 1],
  [25, "i16", 1, 2],
  [26, "i32", 1, 4],
  [27, "i64", 1, 8],
  [28, "f64", 1, 8],
  [29, "iq1_m", 256, 56],
  [30, "bf16", 1, 2],
  [34, "tq1_0", 256, 54],
  [35, "tq2_0", 256, 66],
];

const BY_ID = new Map<number, GgmlTypeInfo>();
const BY_NAME = new Map<string, GgmlTypeInfo>();
for (const [id, name, blockSize, typeSize] of TABLE) {
  const info: GgmlTypeInfo = Object.freeze({ id, name, blockSize, typeSize });
  BY_ID.set(id, info);
  BY_NAME.set(name, info);
}

/** The type with this GGUF id, or undefined for ids ggml never had or retired. */
export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

/** The type with this name (case-insensitive: "Q4_K" and "q4_k" both work); throws on an unknown name. */
export function ggmlType(name: string): GgmlTypeInfo {
  const info = BY_NAME.get(name.toLowerCase());
  if (!info) throw new Error(`[ggml-types] unknown ggml type '${name}'; known: ${[...BY_NAME.keys()].join(", ")}`);
  return info;
}

/** Bytes of a row-major tensor of `elements` elements; throws when the count is not a whole number of blocks. */
export function ggmlByteSize(type: GgmlType, elements: number): number {
  const info = ggmlType(type);
  if (elements % info.blockSize !== 0) {
    throw new Error(`[ggml-types] ${elements} elements of ${type} is not a multiple of its block size ${info.blockSize}`);
  }
  return (elements / info.blockSize) * info.typeSize;
}

/** Bytes of one row of `cols` elements. */
export function ggmlRowSize(type: GgmlType, cols: number): number {
  return ggmlByteSize(type, cols);
}
