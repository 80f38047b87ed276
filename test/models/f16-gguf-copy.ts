// Test fixture: a GGUF file's 2-d f32 matrices rounded to f16 (the prompt-path tests' F16 models, made from the
// shipped f32 test files). Leaves out: quantized sources (their matrices are copied unchanged).
import { refQuantize } from "../../src/backend/ref/quant-quantize.js";
import { readGguf, readTensorBytes } from "../../src/io/gguf.js";
import { writeGguf, type GgufWriteTensor } from "../../src/io/gguf-writer.js";

/** src's 2-d f32 matrices rounded to f16 (vectors stay f32), written to dst. */
export function f16Copy(src: string, dst: string): void {
  const f = readGguf(src);
  const tensors: GgufWriteTensor[] = f.tensors.map((t) => {
    const bytes = readTensorBytes(f, t);
    if (t.dims.length < 2 || t.type !== "f32") return { name: t.name, dims: t.dims, type: t.type, data: bytes };
    const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const out = new Uint8Array(x.length * 2);
    refQuantize(x, "f16", out, x.length);
    return { name: t.name, dims: t.dims, type: "f16", data: out };
  });
  const metadata = [...f.metadata].map(([k, v]) => [k, k === "general.file_type" ? 1 : v, f.metadataTypes.get(k)] as const);
  writeGguf(dst, { metadata, tensors });
}
