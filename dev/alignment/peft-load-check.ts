// Writes a LoRA adapter with Zhiyu (seeded random A and B ≠ 0, rsLoRA scaling, every projection of the lora test
// case's tiny LLaMA) as a PEFT folder, plus Zhiyu's logits with it, for dev/alignment/peft_load_check.py to load in
// Python's peft and compare. Usage: node --import tsx dev/alignment/peft-load-check.ts OUT_DIR
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { LoraAdapter, makeModule, parseLoraSpec } from "../../src/models/adapters/lora.js";
import { writePeftAdapter } from "../../src/models/adapters/lora-files.js";

const out = process.argv[2] ?? "/tmp/zhiyu-peft-check";
const base = path.resolve("../shared/testdata/hf/lora/base");
setDefaultBackend(createBackend());
const model = TrainModel.fromHfFolder(base, "f32");
const rng = new Rng(42);
const settings = parseLoraSpec("r=4,alpha=12,rslora=true,targets=q,k,v,o,gate,up,down");
const fresh = LoraAdapter.create(model.specs, settings, rng);
const adapter = new LoraAdapter(settings, fresh.modules.map((m) => makeModule(m.weight, m.inDim, m.outDim, m.a.toFloat32Array(),
  Float32Array.from({ length: m.outDim * 4 }, () => rng.uniform(-0.2, 0.2)), 4)));
mkdirSync(out, { recursive: true });
writePeftAdapter(path.join(out, "adapter"), adapter, base);
const ids = [1, 17, 99, 4, 250, 7, 600, 2];
const logits = noGrad(() => tidy(() => model.withLora(adapter).logits(Int32Array.from(ids), 1, ids.length).toFloat32Array()));
writeFileSync(path.join(out, "zhiyu.json"), JSON.stringify({ base, ids, vocab: model.vocabSize, logits: [...logits] }));
console.log(`adapter and logits in ${out}`);
