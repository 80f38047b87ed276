// `zhiyu convert` both ways for the issue-22 dense families: each case's HF folder → GGUF (names, metadata and
// Gemma's 1 + w norms as llama.cpp's converter writes them) and llama.cpp's own GGUF → HF folder; each result loads
// and still gives transformers' logits (every position, 1e-4 × max|ref|). MoE experts (Qwen3-MoE, Mixtral) are
// stacked into llama.cpp's blk.N.ffn_{gate,up,down}_exps tensors: byte for byte what its converter wrote (f32).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { readGguf, readTensorBytes } from "../../src/io/gguf.js";
import { loadModel } from "../../src/infer/load.js";
import { checkLogits, readCase, convertQuietly } from "./families-reference.js";

setDefaultBackend(createBackend());
const tmp = mkdtempSync(path.join(tmpdir(), "zhiyu-family-convert-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const quiet = convertQuietly;

for (const name of ["qwen3", "gemma2", "phi3", "llama_yarn", "glm4", "qwen3_moe", "mixtral"]) {
  test(`${name}: convert HF → GGUF and llama.cpp's GGUF → HF, both still match transformers`, async () => {
    const c = readCase(name);
    const gguf = path.join(tmp, `${name}.gguf`);
    await quiet(["--from", path.join(c.dir, "model"), "--to", gguf, "--type", "f32"]);
    const ours = readGguf(gguf), theirs = readGguf(path.join(c.dir, "gguf", "model-f32.gguf"));
    // Same tensor names and shapes as llama.cpp's converter wrote.
    const shapes = (f: typeof ours) => new Map(f.tensors.map((t) => [t.name, t.dims.join("x")]));
    assert.deepEqual(shapes(ours), shapes(theirs));
    const stacked = ours.tensors.filter((t) => /_exps\.weight$/.test(t.name));
    if (name === "qwen3_moe" || name === "mixtral") assert.ok(stacked.length > 0, "the experts are stacked");
    for (const t of stacked) {
      const other = theirs.tensorByName.get(t.name)!;
      assert.equal(t.type, other.type, t.name);
      assert.ok(Buffer.from(readTensorBytes(ours, t)).equals(Buffer.from(readTensorBytes(theirs, other))), `${t.name}: the same bytes as llama.cpp's converter`);
    }
    for (const file of [gguf]) {
      const model = await loadModel(file);
      try { checkLogits(model, c, 1e-4); } finally { model.dispose(); }
    }
    const hf = path.join(tmp, `${name}-hf`);
    await quiet(["--from", path.join(c.dir, "gguf", "model-f32.gguf"), "--to", hf]);
    const back = await loadModel(hf);
    try { checkLogits(back, c, 1e-4); } finally { back.dispose(); }
  });
}
