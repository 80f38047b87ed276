// Ships Zhiyu's own encoders into models/ (issue 16 Build item 7) with every F32 weight stored as F16 (half the
// bytes; loadEncoder widens F16 back to f32), and measures what the f16 copy costs. Dev script, run by
// recipes/zhiyu-encoder.sh (SHIP=1).
// - `encoder`: the pretrained MLM checkpoint → models/zhiyu-encoder (a BertForMaskedLM folder). Check (on held-out
//   {"text"} lines): one word piece per text — the middle one — replaced by [MASK], top-1 accuracy of the MLM head and
//   the mean loss there, for the f32 checkpoint and the f16 copy, and the smallest cosine between their mean-pooled
//   embeddings.
// - `classifier`: a `finetune --freeze-encoder` model folder → models/NAME sharing the encoder's weights instead of a
//   second copy: its trunk tensors must equal the pretrained checkpoint's (checked, element by element), so the folder
//   holds only head.safetensors (pooler, classifier, sparse n-gram head) and a sharded-safetensors index whose trunk
//   entries name encoder.safetensors, a relative symlink to ../zhiyu-encoder/model.safetensors (any safetensors
//   reader that follows the index loads it). Check (on {"text","label"} lines): top-label agreement of the f32 model
//   and the shipped copy, the largest logit difference, each one's accuracy (after calibration and the threshold).
// - `tagger`: a `finetune --task tag --freeze-encoder` model folder, shipped the same way as `classifier` (with
//   --tuned-layers, the layers a `--train-top-layers` run changed go into head.safetensors too). Check (on
//   {"tokens","tags"} lines): word-tag agreement of the f32 model and the shipped copy, each one's span F1.
// --pretrained may be the shipped f16 encoder itself (a run fine-tuned from models/zhiyu-encoder): its tensors are
// widened to f32 before the comparison.
// Writes NAME/ship-check.json and prints it; everything else in NAME is replaced except MODEL_CARD.md.
// usage: node --import tsx dev/bert/ship-model.ts encoder --from CKPT --to models/zhiyu-encoder --check held-out.jsonl
//        node --import tsx dev/bert/ship-model.ts classifier --from FT/model --pretrained CKPT --to models/zhiyu-intent-clinc150 \
//          --encoder models/zhiyu-encoder --check test.jsonl [--max-len 48]
//        node --import tsx dev/bert/ship-model.ts tagger --from FT/model --pretrained models/zhiyu-encoder --to models/zhiyu-slots-crosswoz \
//          --encoder models/zhiyu-encoder --check test.jsonl [--max-len 96] [--tuned-layers]
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { f16ToF32, f32ToF16 } from "../../src/core/dtype.js";
import { openSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { loadEncoder } from "../../src/infer/encoder.js";
import { spanScores } from "../../src/train/objectives/tag.js";

const s = { type: "string" } as const;
const { values, positionals } = parseArgs({ allowPositionals: true, options: { from: s, to: s, check: s, pretrained: s, encoder: s, "max-len": s, "tuned-layers": { type: "boolean" } } });
const mode = positionals[0];
if ((mode !== "encoder" && mode !== "classifier" && mode !== "tagger") || !values.from || !values.to || !values.check) {
  throw new Error("usage: ship-model.ts encoder|classifier|tagger --from DIR --to DIR --check FILE.jsonl (classifier: also --pretrained CKPT --encoder DIR)");
}
const from = values.from, to = values.to, maxLen = Number(values["max-len"] ?? 48);
const TOKENIZER_FILES = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];
// A fresh folder, but the hand-written model card stays.
if (existsSync(to)) for (const f of readdirSync(to)) if (f !== "MODEL_CARD.md") rmSync(path.join(to, f), { recursive: true, force: true });
mkdirSync(to, { recursive: true });
const rows = readFileSync(values.check, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as { text: string; label?: string; tokens?: string[]; tags?: string[] });

/** F32 tensors of a safetensors file as F16 entries (optionally only the named ones). */
function f16Tensors(file: string, keep: (name: string) => boolean) {
  const st = openSafetensors(file);
  return [...st.tensors.keys()].filter(keep).map((name) => {
    const info = st.info(name);
    if (info.dtype !== "F32") throw new Error(`${file}: ${name} is ${info.dtype}; expected the F32 tensors zhiyu train/finetune write`);
    return { name, dtype: "F16" as const, shape: info.shape, data: Uint16Array.from(st.readTensor(name) as Float32Array, f32ToF16) };
  });
}

function frame(ids: readonly number[]): number[] {
  return ids.length <= maxLen ? [...ids] : [...ids.slice(0, maxLen - 1), ids[ids.length - 1]!];
}

let check: Record<string, unknown>;
if (mode === "encoder") {
  for (const f of ["config.json", ...TOKENIZER_FILES]) if (existsSync(path.join(from, f))) copyFileSync(path.join(from, f), path.join(to, f));
  writeSafetensors(path.join(to, "model.safetensors"), f16Tensors(path.join(from, "model.safetensors"), () => true), { format: "pt" });
  const a = loadEncoder(from), b = loadEncoder(to);
  const mask = a.tokenizer.tokenToId("[MASK]");
  if (mask === undefined) throw new Error(`${from}: the tokenizer has no [MASK]`);
  const stats = [a, b].map(() => ({ right: 0, loss: 0 }));
  let n = 0, minCos = 1;
  for (let i = 0; i < rows.length; i += 64) {
    const seqs = rows.slice(i, i + 64).map((r) => frame(a.tokenize(r.text).ids)).filter((ids) => ids.length >= 3);
    const at = seqs.map((ids) => Math.floor(ids.length / 2));
    const masked = seqs.map((ids, k) => ({ ids: ids.map((t, j) => (j === at[k] ? mask : t)) }));
    [a, b].forEach((enc, e) => {
      enc.mlmLogits(masked).forEach((z, k) => {
        const v = enc.config.vocabSize, row = z.subarray(at[k]! * v, (at[k]! + 1) * v), gold = seqs[k]![at[k]!]!;
        let best = 0, m = -Infinity;
        for (let t = 0; t < v; t++) if (row[t]! > row[best]!) best = t;
        for (let t = 0; t < v; t++) m = Math.max(m, row[t]!);
        let sum = 0;
        for (let t = 0; t < v; t++) sum += Math.exp(row[t]! - m);
        stats[e]!.loss += m + Math.log(sum) - row[gold]!;
        if (best === gold) stats[e]!.right++;
      });
    });
    const ea = a.embedSequences(seqs.map((ids) => ({ ids })), "mean", true), eb = b.embedSequences(seqs.map((ids) => ({ ids })), "mean", true);
    ea.forEach((x, k) => { minCos = Math.min(minCos, x.reduce((acc, xi, j) => acc + xi * eb[k]![j]!, 0)); });
    n += seqs.length;
  }
  check = { inputs: n, masked: "the middle word piece of each text", mlm_top1_f32: stats[0]!.right / n, mlm_top1_f16: stats[1]!.right / n,
    mlm_loss_f32: stats[0]!.loss / n, mlm_loss_f16: stats[1]!.loss / n, min_cosine_mean_pooled_f32_vs_f16: minCos };
  a.dispose(); b.dispose();
} else {
  if (!values.pretrained || !values.encoder) throw new Error(`${mode}: --pretrained CKPT (the encoder it was fine-tuned from) and --encoder DIR (the shipped encoder) are required`);
  for (const f of ["config.json", "sparse_ngrams.json", "finetune_report.json", ...TOKENIZER_FILES]) {
    if (existsSync(path.join(from, f))) copyFileSync(path.join(from, f), path.join(to, f));
  }
  const ft = openSafetensors(path.join(from, "model.safetensors")), pre = openSafetensors(path.join(values.pretrained, "model.safetensors"));
  // Trunk tensors equal to the pretrained encoder's are shared; with --tuned-layers, those a `--train-top-layers`
  // run changed are stored with the head.
  const tuned = new Set<string>();
  const trunk = [...ft.tensors.keys()].filter((n) => pre.tensors.has(n)).filter((name) => {
    const x = ft.readTensor(name) as Float32Array, y = asF32(pre.readTensor(name) as Float32Array | Uint16Array, pre.info(name).dtype);
    if (x.length === y.length && x.every((v, i) => v === y[i])) return true;
    if (!values["tuned-layers"]) {
      throw new Error(`${from}: '${name}' differs from ${values.pretrained}'s; only a --freeze-encoder model can share the shipped encoder's weights ` +
        "(a --train-top-layers run: pass --tuned-layers to store the tuned layers with the head)");
    }
    tuned.add(name);
    return false;
  });
  const shipped = openSafetensors(path.join(values.encoder, "model.safetensors"));
  for (const name of trunk) if (!shipped.tensors.has(name)) throw new Error(`${values.encoder}: no '${name}'; ship the encoder from ${values.pretrained} first`);
  const head = f16Tensors(path.join(from, "model.safetensors"), (n) => !pre.tensors.has(n) || tuned.has(n));
  writeSafetensors(path.join(to, "head.safetensors"), head, { format: "pt" });
  symlinkSync(path.relative(path.resolve(to), path.resolve(values.encoder, "model.safetensors")), path.join(to, "encoder.safetensors"));
  const weightMap = Object.fromEntries([...trunk.map((n) => [n, "encoder.safetensors"]), ...head.map((t) => [t.name, "head.safetensors"])].sort());
  writeFileSync(path.join(to, "model.safetensors.index.json"), JSON.stringify({ metadata: { note: tuned.size === 0 ? "trunk shared with ../zhiyu-encoder (frozen encoder)"
    : `trunk shared with ../zhiyu-encoder except ${tuned.size} tuned tensors (in head.safetensors)` }, weight_map: weightMap }, null, 1) + "\n");
  const a = loadEncoder(from), b = loadEncoder(to);
  if (mode === "tagger") {
    check = { ...tagCheck(a, b), tuned_tensors: tuned.size };
  } else {
  let agree = 0, rightA = 0, rightB = 0, maxDiff = 0;
  for (let i = 0; i < rows.length; i += 64) {
    const chunk = rows.slice(i, i + 64);
    const ca = a.classify(chunk.map((r) => ({ ids: frame(a.tokenize(r.text).ids), text: r.text })));
    const cb = b.classify(chunk.map((r) => ({ ids: frame(b.tokenize(r.text).ids), text: r.text })));
    chunk.forEach((r, k) => {
      const la = ca[k]!.label, lb = cb[k]!.label;
      if (la === lb) agree++;
      if (la === r.label) rightA++;
      if (lb === r.label) rightB++;
      ca[k]!.logits.forEach((z, c) => { maxDiff = Math.max(maxDiff, Math.abs(z - cb[k]!.logits[c]!)); });
    });
  }
  check = { inputs: rows.length, label_agreement: agree / rows.length, max_abs_logit_difference: maxDiff,
    accuracy_f32: rightA / rows.length, accuracy_f16: rightB / rows.length, note: "labels after calibration and the out-of-scope threshold (a rejected text gets the out-of-scope label)" };
  }
  a.dispose(); b.dispose();
}
writeFileSync(path.join(to, "ship-check.json"), JSON.stringify(check, null, 2) + "\n");
console.log(JSON.stringify(check));

function asF32(x: Float32Array | Uint16Array, dtype: string): Float32Array {
  return dtype === "F16" ? Float32Array.from(x as Uint16Array, f16ToF32) : (x as Float32Array);
}

/** Tags of {"tokens","tags"} rows by the f32 model and the shipped copy: word agreement and each one's span F1. */
function tagCheck(a: ReturnType<typeof loadEncoder>, b: ReturnType<typeof loadEncoder>): Record<string, unknown> {
  const cls = a.tokenizer.tokenToId("[CLS]")!, sep = a.tokenizer.tokenToId("[SEP]")!;
  const gold: string[][] = [], preds: string[][][] = [[], []];
  let words = 0, agree = 0;
  const framed = rows.map((r) => {
    const ids = [cls], first: number[] = [];
    for (const w of r.tokens!) {
      const p = a.tokenizer.encode(w, { addSpecialTokens: false });
      first.push(ids.length + p.length <= maxLen - 1 && p.length > 0 ? ids.length : -1);
      if (first[first.length - 1]! >= 0) ids.push(...p);
    }
    ids.push(sep);
    return { ids, first, tags: r.tags! };
  });
  for (let i = 0; i < framed.length; i += 64) {
    const chunk = framed.slice(i, i + 64);
    const [ta, tb] = [a, b].map((enc) => enc.tagTokens(chunk.map((f) => ({ ids: f.ids }))));
    chunk.forEach((f, k) => {
      const pa = f.first.map((at) => (at < 0 ? "O" : ta![k]![at]!.label)), pb = f.first.map((at) => (at < 0 ? "O" : tb![k]![at]!.label));
      pa.forEach((t, j) => { words++; if (t === pb[j]) agree++; });
      gold.push(f.tags); preds[0]!.push(pa); preds[1]!.push(pb);
    });
  }
  const [sa, sb] = preds.map((p) => spanScores(gold, p));
  return { inputs: rows.length, words, word_tag_agreement: agree / words, span_f1_f32: sa!.f1, span_f1_f16: sb!.f1,
    span_precision_f16: sb!.precision, span_recall_f16: sb!.recall };
}
