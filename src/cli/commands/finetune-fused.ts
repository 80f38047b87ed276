// `zhiyu finetune --task classify --features sparse+encoder`: the desk's sparse n-gram model and a softmax head on the
// frozen encoder's sentence features, joined by late fusion whose weight and temperature are chosen on the validation
// split (apps/contact-centre/training/fused-classifier.ts). Writes OUT/model: a folder `zhiyu classify --model`
// and `zhiyu desk eval --set NAME --model OUT/model --encoder OUT/model/<encoder>` load.
// Leaves out: checkpoints and resume (both branches train in minutes; the encoder features can be cached with
// --encoder-cache), data-parallel runs.
import path from "node:path";
import { loadEncoder } from "../../infer/encoder.js";
import { carve, DEFAULT_FINETUNE_OPTIONS as D } from "../../train/finetune.js";
import { readClassifyFile } from "../../train/finetune-data.js";
import { EncoderFeatureCache, saveFusedClassifier, trainFusedClassifier, type FusedTrainOptions } from "../../apps/contact-centre/training/fused-classifier.js";
import { DEFAULT_NEIGHBOURS } from "../../apps/contact-centre/understanding/neighbours.js";
import { UsageError } from "../errors.js";

export const FUSED_HELP = `  --features sparse+encoder   (classify) no encoder training: the sparse n-gram model (hashed word and character
            n-grams, logistic regression) plus a softmax head on the frozen encoder's mean-pooled features, fused as
            softmax((log p_sparse + w·log p_encoder)/T) with w and T chosen on --val; --class-weights, --oos-label,
            --oos-budget and --seed apply; also --refit (train both again on train + val after choosing),
            --select-by accuracy|macro-f1 (the score w maximises), --name NAME (file stem, default classifier),
            --encoder-cache PREFIX (PREFIX.texts.json + PREFIX.f32: encoder features reused and added),
            --sparse-epochs (12) --sparse-lr (2) --sparse-l2 (1e-5) --sparse-optimizer sgd|adagrad (sgd),
            --sparse-stem (Porter stems of Latin words), --sparse-word-weight (1), --neighbours (k-NN vote blended in)`;

export const FUSED_FLAGS = ["refit", "select-by", "name", "encoder-cache", "sparse-epochs", "sparse-lr", "sparse-l2", "sparse-optimizer",
  "sparse-stem", "sparse-word-weight", "neighbours"] as const;

function positive(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!(Number.isFinite(n) && n > 0)) throw new UsageError(`--${flag} expects a number > 0, got ${raw}`);
  return n;
}

export async function runFusedFinetune(v: Record<string, string | boolean | undefined>, threads: number | undefined): Promise<number> {
  const str = (k: string) => (typeof v[k] === "string" ? (v[k] as string) : undefined);
  const model = str("model")!, trainFile = str("train")!, out = str("out")!;
  const selectBy = str("select-by") ?? "accuracy";
  if (selectBy !== "accuracy" && selectBy !== "macro-f1") throw new UsageError(`--select-by ${selectBy} must be accuracy or macro-f1`);
  const optimizer = str("sparse-optimizer") ?? "sgd";
  if (optimizer !== "sgd" && optimizer !== "adagrad") throw new UsageError(`--sparse-optimizer ${optimizer} must be sgd or adagrad`);
  const seed = str("seed") !== undefined ? Number(str("seed")) : D.seed;
  const rows = readClassifyFile(trainFile).map(({ text, label }) => ({ text, label }));
  const valFile = str("val");
  const { train, val } = valFile ? { train: rows, val: readClassifyFile(valFile).map(({ text, label }) => ({ text, label })) }
    : carve(rows, positive("val-fraction", str("val-fraction"), D.valFraction), seed);
  const balanced = v["class-weights"] === true;
  const o: FusedTrainOptions = {
    name: str("name") ?? "classifier",
    spec: { buckets: 1 << 18, ...(v["sparse-stem"] ? { stemLatin: true } : {}), ...(str("sparse-word-weight") ? { wordWeight: positive("sparse-word-weight", str("sparse-word-weight"), 1) } : {}) },
    sparse: {
      epochs: Math.round(positive("sparse-epochs", str("sparse-epochs"), 12)), learningRate: positive("sparse-lr", str("sparse-lr"), 2),
      l2: positive("sparse-l2", str("sparse-l2"), 1e-5), optimizer, classWeight: balanced ? "balanced" : "none", seed,
    },
    ...(v.neighbours ? { neighbours: DEFAULT_NEIGHBOURS } : {}),
    dense: { classWeight: balanced ? "balanced" : "none", seed },
    selectBy, refit: v.refit === true, oosLabel: str("oos-label") ?? null, oosBudget: str("oos-budget") !== undefined ? Number(str("oos-budget")) : D.oosBudget,
  };
  if (!/^[\w.-]+$/.test(o.name)) throw new UsageError(`--name ${o.name}: letters, digits, '_', '-' and '.' only (it names files)`);
  const encoder = loadEncoder(model, threads !== undefined ? { threads } : {});
  o.dense.backend = encoder.backend;
  const cache = new EncoderFeatureCache(encoder, str("encoder-cache") ?? null);
  const t0 = Date.now();
  console.error(`finetune --features sparse+encoder: ${train.length} training and ${val.length} validation rows, encoder ${encoder.id}`);
  try {
    const r = trainFusedClassifier(train, val, encoder.id, (texts) => cache.of(texts), o);
    const dir = path.join(out, "model");
    saveFusedClassifier(dir, o.name, model, r.model, r.seenBuckets, r.report);
    console.log(`finetune --task classify --features sparse+encoder finished in ${((Date.now() - t0) / 1000).toFixed(0)} s; model in ${dir}`);
    console.log(JSON.stringify({ task: "classify", features: "sparse+encoder", ...r.report }));
  } finally {
    cache.save();
    encoder.dispose();
  }
  return 0;
}
