// Caches the frozen encoder's mean-pooled features of every text of the intent/emotion benchmark sets (banking77,
// clinc150, smp2017, clue-emotion: all splits), so the late-fusion experiments do not rerun the encoder.
// Writes OUT/<set>.texts.json (unique texts, in order) and OUT/<set>.f32 (rows of `dim` floats, little endian).
// Resumable: a set whose two files exist is skipped.
// usage: node --import tsx dev/contact-centre/encoder-features.ts [--model models/zhiyu-encoder] [--out /work/runs/ens/features] [--sets a,b] [--data ../shared/data]
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadEncoder } from "../../src/infer/encoder.js";
import { loadBanking77, loadClinc150, loadClueEmotion, loadSmp2017 } from "../../src/apps/contact-centre/training/datasets.js";

const { values } = parseArgs({ options: { model: { type: "string" }, out: { type: "string" }, sets: { type: "string" }, data: { type: "string" }, threads: { type: "string" } } });
const data = path.resolve(values.data ?? "../shared/data");
const out = values.out ?? "/work/runs/ens/features";
mkdirSync(out, { recursive: true });
const encoder = loadEncoder(values.model ?? "models/zhiyu-encoder", { threads: Number(values.threads ?? 2) });
const texts: Record<string, () => string[]> = {
  banking77: () => { const d = loadBanking77(data); return [...d.train, ...d.val, ...d.test].map((e) => e.text); },
  clinc150: () => { const d = loadClinc150(data); return [...d.train, ...d.oosTrain, ...d.val, ...d.oosVal, ...d.test, ...d.oosTest].map((e) => e.text); },
  smp2017: () => { const d = loadSmp2017(data); return [...d.train, ...d.val, ...d.test].map((e) => e.text); },
  "clue-emotion": () => { const d = loadClueEmotion(data); return [...d.train, ...d.val, ...d.test].map((e) => e.text); },
};
for (const set of (values.sets ?? "clinc150,banking77,smp2017,clue-emotion").split(",")) {
  const f = path.join(out, `${set}.f32`);
  if (existsSync(f)) continue;
  const unique = [...new Set(texts[set]())];
  const dim = encoder.embeddingDim;
  const rows = new Float32Array(unique.length * dim);
  const max = Math.min(encoder.contextLength, 64);
  const t0 = Date.now();
  for (let i = 0; i < unique.length; i += 64) {
    const seqs = unique.slice(i, i + 64).map((t) => {
      const ids = encoder.tokenizer.encode(t, { addSpecialTokens: true });
      return { ids: ids.length <= max ? ids : [...ids.slice(0, max - 1), ids[ids.length - 1]!] };
    });
    encoder.embedSequences(seqs, "mean", false).forEach((v, k) => rows.set(v, (i + k) * dim));
    if ((i / 64) % 20 === 0) console.error(`${set}: ${i + seqs.length}/${unique.length} ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  writeFileSync(path.join(out, `${set}.texts.json`), JSON.stringify(unique));
  writeFileSync(f, Buffer.from(rows.buffer));
  console.error(`${set}: ${unique.length} texts × ${dim} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
