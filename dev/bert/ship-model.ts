// Copies a fine-tuned encoder folder (zhiyu finetune OUT/model) into models/NAME for shipping, with every F32 weight
// stored as F16 (half the bytes; loadEncoder widens F16 back to f32), and checks what the f16 copy costs: on the
// given inputs ({"text","label"} JSONL), the share of top labels both copies agree on, the largest logit difference,
// and each copy's accuracy. Writes NAME/ship-check.json. Dev script, run by recipes/zhiyu-encoder.sh.
// usage: node --import tsx dev/bert/ship-model.ts --from runs/encoder/ft/clinc150/run/model --to models/zhiyu-intent \
//          --check test.jsonl [--max-len 48]
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { f32ToF16 } from "../../src/core/dtype.js";
import { openSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { loadEncoder } from "../../src/infer/encoder.js";

const { values } = parseArgs({ options: { from: { type: "string" }, to: { type: "string" }, check: { type: "string" }, "max-len": { type: "string" } } });
if (!values.from || !values.to || !values.check) throw new Error("--from DIR --to DIR --check FILE.jsonl are required");
const from = values.from, to = values.to, maxLen = Number(values["max-len"] ?? 48);
mkdirSync(to, { recursive: true });
for (const f of ["config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sparse_ngrams.json", "finetune_report.json"]) {
  if (existsSync(path.join(from, f))) copyFileSync(path.join(from, f), path.join(to, f));
}
const st = openSafetensors(path.join(from, "model.safetensors"));
writeSafetensors(path.join(to, "model.safetensors"), [...st.tensors.keys()].map((name) => {
  const info = st.info(name);
  if (info.dtype !== "F32") throw new Error(`${name}: ${info.dtype}; expected the F32 tensors finetune writes`);
  const x = st.readTensor(name) as Float32Array;
  return { name, dtype: "F16" as const, shape: info.shape, data: Uint16Array.from(x, f32ToF16) };
}), { format: "pt" });

const rows = readFileSync(values.check, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as { text: string; label: string });
const a = loadEncoder(from), b = loadEncoder(to);
let agree = 0, rightA = 0, rightB = 0, maxDiff = 0;
const framed = (enc: typeof a, text: string) => {
  const s = enc.tokenize(text);
  return { ids: s.ids.length <= maxLen ? s.ids : [...s.ids.slice(0, maxLen - 1), s.ids[s.ids.length - 1]!], text };
};
for (let i = 0; i < rows.length; i += 64) {
  const chunk = rows.slice(i, i + 64);
  const ca = a.classify(chunk.map((r) => framed(a, r.text))), cb = b.classify(chunk.map((r) => framed(b, r.text)));
  chunk.forEach((r, k) => {
    const la = ca[k]!.label, lb = cb[k]!.label;
    if (la === lb) agree++;
    if (la === r.label) rightA++;
    if (lb === r.label) rightB++;
    ca[k]!.logits.forEach((z, c) => { maxDiff = Math.max(maxDiff, Math.abs(z - cb[k]!.logits[c]!)); });
  });
}
const check = { inputs: rows.length, label_agreement: agree / rows.length, max_abs_logit_difference: maxDiff,
  accuracy_f32: rightA / rows.length, accuracy_f16: rightB / rows.length, note: "labels after calibration and the out-of-scope threshold" };
writeFileSync(path.join(to, "ship-check.json"), JSON.stringify(check, null, 2) + "\n");
console.log(JSON.stringify(check));
