// `zhiyu seq2seq` end to end on a small random T5 with the trained Unigram tokenizer (test/tokenizers/data/unigram):
// span-corruption pretraining on text from ../shared/data, then a two-task mixture with prefixes and rates; each run
// writes checkpoints and metrics, the mixture reports the examples drawn per task, and the fine-tuned folder loads
// and generates. A tokenizer without <extra_id_N> sentinels is refused for span corruption by name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { presetConfig, randomParam } from "../../src/models/presets.js";
import { writeModelHf } from "../../src/infer/export.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { DEFAULT_SEQ2SEQ_OPTIONS, runSeq2Seq, seq2seqData } from "../../src/train/seq2seq-run.js";
import { fileLines, textSets } from "../../dev/tokenizers/shared-text.js";

const TOK = path.resolve("test/tokenizers/data/unigram");

test("zhiyu seq2seq: span corruption, then a task mixture, on the shared loop", async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-t5-run-"));
  try {
    const tok = loadTokenizer(TOK);
    const model = path.join(tmp, "model");
    const config = { ...presetConfig("t5", "tiny", tok.vocabSize), numLayers: 1, numDecoderLayers: 1 };
    writeModelHf(model, config, randomParam(new Rng(4), 0.05));
    for (const f of ["tokenizer.json", "tokenizer_config.json"]) cpSync(path.join(TOK, f), path.join(model, f));
    const set = textSets().find((s) => s.name === "tinystories-val-sample")!;
    const lines = set.files.flatMap((f) => fileLines(f)).slice(0, 40);
    writeFileSync(path.join(tmp, "text.txt"), lines.join("\n\n"));
    const lines2 = (n: number, f: (i: number) => { input: string; target: string }) => Array.from({ length: n }, (_, i) => JSON.stringify(f(i))).join("\n");
    writeFileSync(path.join(tmp, "copy.jsonl"), lines2(30, (i) => ({ input: `word ${i % 7}`, target: `word ${i % 7}` })));
    writeFileSync(path.join(tmp, "count.jsonl"), lines2(30, (i) => ({ input: `${i % 5} and one`, target: `${(i % 5) + 1}` })));
    writeFileSync(path.join(tmp, "mix.json"), JSON.stringify({ tasks: [
      { name: "copy", prefix: "copy: ", data: "copy.jsonl", rate: 3 }, { name: "count", prefix: "count: ", data: "count.jsonl", rate: 1 }] }));
    const logs: string[] = [];
    const stdout = { write: (s: string) => { logs.push(s); return true; }, isTTY: false };
    const base = { ...DEFAULT_SEQ2SEQ_OPTIONS, model, spanCorruption: [] as string[], data: [] as string[], mixture: null as string | null,
      seq: 48, batch: 4, steps: 6, checkpointEvery: 3, logEvery: 1, valEvery: 10 };
    const pre = await runSeq2Seq({ options: { ...base, out: path.join(tmp, "pre"), spanCorruption: [path.join(tmp, "text.txt")] }, backend: createBackend(), stdout });
    assert.equal(pre.objective, "span-corruption");
    assert.equal(pre.losses.length, 6);
    assert.ok(pre.losses.every(Number.isFinite));
    assert.ok(existsSync(path.join(tmp, "pre", "metrics.jsonl")));
    const ft = await runSeq2Seq({ options: { ...base, out: path.join(tmp, "ft"), mixture: path.join(tmp, "mix.json"), steps: 8 }, backend: createBackend(), stdout });
    assert.equal(ft.objective, "seq2seq");
    assert.ok(ft.valLoss !== null && Number.isFinite(ft.valLoss));
    const drawn = logs.find((l) => l.includes("examples drawn per task"))!;
    const counts = JSON.parse(drawn.slice(drawn.indexOf("{"))) as Record<string, number>;
    assert.equal(counts.copy! + counts.count!, 8 * 4, "batch × steps examples");
    const ck = readdirSync(path.join(tmp, "ft", "checkpoints"));
    assert.ok(ck.length > 0);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("span corruption with a tokenizer that has no sentinels is refused by name", () => {
  const tok = loadTokenizer(path.resolve("../shared/testdata/hf/gemma2/model")); // a SentencePiece vocabulary without extra_ids
  assert.throws(() => seq2seqData({ ...DEFAULT_SEQ2SEQ_OPTIONS, model: "gemma2-folder", out: "x", spanCorruption: ["a.txt"], data: [], mixture: null }, tok),
    /gemma2-folder\/tokenizer\.json: the vocabulary has no sentinel token <extra_id_0>/);
  assert.throws(() => seq2seqData({ ...DEFAULT_SEQ2SEQ_OPTIONS, model: "m", out: "x", spanCorruption: ["a.txt"], data: ["b.jsonl"], mixture: null }, tok),
    /exactly one of --span-corruption/);
});
