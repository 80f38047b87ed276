// Training the models a configuration uses (`zhiyu desk train --config FILE`): the intent model (configured intents
// + small-talk routes + an `oos` class) and the emotion model (seven CLUE classes + neutral), each a hashed TF-IDF
// logistic regression (understanding/classifier.ts) with a temperature calibrated on a held-out tenth. Extra data,
// licensed for shipping only: clinc150's oos_train/oos_val (CC BY 3.0) for the `oos` class, lccc-toy posts (MIT)
// for chit-chat. Chinese out-of-scope examples are written here. Models are saved in the configuration's
// understanding.model_dir with a hash of what they were trained on, so a model trained for another configuration is
// never used silently.
// Leaves out: data sets without a licence (smp2017, clue-emotion — those are benchmark-only, see benchmarks.ts).
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { ContactCentreConfig } from "../config-schema.js";
import { LinearClassifier, type TrainOptions } from "../understanding/classifier.js";
import { Featurizer, type FeaturizerSpec } from "../understanding/features.js";
import { saveModel, type LoadedModel } from "../understanding/model-file.js";
import { DEFAULT_NEIGHBOURS, NeighbourIndex, type NeighbourOptions } from "../understanding/neighbours.js";
import { kdconvQuestions, loadBanking77, loadClinc150, loadLcccPosts, stratifiedSplit, type Example } from "./datasets.js";
import { EMOTION_SEED } from "./emotion-seed.js";

/** Out-of-scope questions for a travel/customer-service desk, written here (the oos class's Chinese side). */
const ZH_OOS = ["帮我写一首诗", "今天股票涨了吗", "推荐一部电影", "怎么做红烧肉", "一加一等于几", "给我讲讲量子力学", "帮我翻译这句话",
  "附近的医院电话", "明年高考什么时候", "最近有什么新闻", "帮我设置一个闹钟", "苹果手机怎么截图", "帮我算一下房贷", "怎么减肥最快",
  "狗狗不吃饭怎么办", "世界上最高的山是哪座", "电脑蓝屏怎么办", "彩票开奖号码是多少", "放一首周杰伦的歌", "讲个脑筋急转弯",
  "西红柿炒鸡蛋怎么做", "背一首李白的诗", "茅台股价多少", "下一句是什么", "打开微信", "给妈妈打电话", "感冒了吃什么药", "头疼怎么办",
  "用英语怎么说谢谢", "三的平方是多少", "推荐几本武侠小说", "我想看电视剧", "今晚有什么球赛", "双色球中奖号码", "猜个谜语",
  "怎么炖排骨", "播放新闻联播", "离婚财产怎么分", "怎么学编程", "给我发个短信", "我的快递到哪了", "帮我订外卖", "考研英语怎么复习"];

export const MODEL_FILES = { intent: "intent.zdcm", emotion: "emotion.zdcm" } as const;

export interface TrainedModels {
  intent: LoadedModel;
  emotion: LoadedModel;
}

/** Examples of the configuration's intent model: intents, small-talk routes, oos. */
export function intentExamples(config: ContactCentreConfig, dataRoot: string | undefined): Example[] {
  const out: Example[] = [];
  const both = (ex: { zh?: string[]; en?: string[] }) => [...(ex.zh ?? []), ...(ex.en ?? [])];
  for (const intent of config.intents) for (const text of both(intent.examples)) out.push({ text, label: intent.name });
  for (const route of config.small_talk.routes) for (const text of both(route.examples)) out.push({ text, label: route.name });
  for (const text of ZH_OOS) out.push({ text, label: "oos" });
  if (dataRoot && config.understanding.extra_training.includes("clinc150-oos")) {
    const clinc = loadClinc150(dataRoot);
    for (const e of [...clinc.oosTrain, ...clinc.oosVal]) out.push({ text: e.text, label: "oos" });
  }
  const chat = config.small_talk.routes.find((r) => r.name === "chitchat");
  if (dataRoot && chat && config.understanding.extra_training.includes("lccc-smalltalk")) {
    for (const text of loadLcccPosts(dataRoot, 40)) out.push({ text, label: "chitchat" });
  }
  for (const b of config.understanding.borrow_examples) {
    if (!dataRoot) continue;
    const source = b.set === "clinc150" ? loadClinc150(dataRoot).train : b.set === "banking77" ? loadBanking77(dataRoot).train
      : kdconvQuestions(dataRoot, "dev.json");
    const found = source.filter((e) => e.label === b.intent);
    if (found.length === 0) throw new Error(`[desk train] understanding.borrow_examples: ${b.set} has no intent "${b.intent}"`);
    for (const e of found) out.push({ text: e.text, label: b.as });
  }
  return out;
}

/** Examples of the emotion model: the written seed set plus the configured task examples as neutral. */
export function emotionExamples(config: ContactCentreConfig): Example[] {
  const out: Example[] = [];
  for (const [label, ex] of Object.entries(EMOTION_SEED)) for (const text of [...ex.zh, ...ex.en]) out.push({ text, label });
  for (const intent of config.intents) {
    if (["complaint", "report_fraud"].includes(intent.name)) continue;
    for (const text of [...(intent.examples.zh ?? []), ...(intent.examples.en ?? [])]) out.push({ text, label: "neutral" });
  }
  return out;
}

/** Hash of everything a model's training depends on except the data files' bytes. */
export function trainingHash(task: string, examples: readonly Example[], spec: FeaturizerSpec, options: Partial<TrainOptions>): string {
  return createHash("sha256").update(JSON.stringify({ task, examples, spec, options })).digest("hex").slice(0, 16);
}

export interface FitResult {
  model: LoadedModel;
  seenBuckets: Uint8Array;
}

/** Hash of the parts of a configuration a model depends on (the data sets are named, not hashed, so a shipped
 *  model stays valid where ../shared/data is absent). */
export function configHash(config: ContactCentreConfig, task: "intent" | "emotion"): string {
  const parts = task === "intent"
    ? { i: config.intents.map((i) => [i.name, i.examples]), s: config.small_talk.routes.map((r) => [r.name, r.examples]),
      x: config.understanding.extra_training, b: config.understanding.borrow_examples, w: config.knowledge_base.user_words, spec: INTENT_SPEC, o: INTENT_TRAIN, n: DEFAULT_NEIGHBOURS }
    : { i: config.intents.map((i) => [i.name, i.examples]), w: config.knowledge_base.user_words, spec: INTENT_SPEC, o: EMOTION_TRAIN, seed: EMOTION_SEED };
  return createHash("sha256").update(JSON.stringify({ task, parts })).digest("hex").slice(0, 16);
}

/** Fits featurizer + classifier + temperature: calibration on a stratified tenth (when every label has ≥ 3
 *  examples... else on the training set itself), then a final fit on all the examples with that temperature. */
export function fitClassifier(task: string, examples: readonly Example[], spec: Partial<FeaturizerSpec>,
  options: Partial<TrainOptions>, calibration?: readonly Example[], neighbourOptions?: NeighbourOptions): FitResult {
  const featurizer = new Featurizer(spec).fit(examples.map((e) => e.text));
  const labels = [...new Set(examples.map((e) => e.label))].sort();
  const xs = examples.map((e) => featurizer.transform(e.text));
  const ys = examples.map((e) => labels.indexOf(e.label));
  let classifier: LinearClassifier;
  if (calibration) {
    // Held-out data given (or none wanted, when empty): one fit, calibrated on it.
    classifier = LinearClassifier.train(labels, featurizer.dimension, xs, ys, options);
    classifier.calibrate(calibration.map((e) => featurizer.transform(e.text)), calibration.map((e) => labels.indexOf(e.label)));
  } else {
    // Calibrate a model that did not see a stratified 15%, then train on everything with that temperature.
    const held = new Set(stratifiedSplit(examples, 0.15, 99).held);
    const rest = examples.filter((e) => !held.has(e));
    const m = LinearClassifier.train(labels, featurizer.dimension, rest.map((e) => featurizer.transform(e.text)),
      rest.map((e) => labels.indexOf(e.label)), options);
    const temperature = m.calibrate([...held].map((e) => featurizer.transform(e.text)), [...held].map((e) => labels.indexOf(e.label)));
    classifier = LinearClassifier.train(labels, featurizer.dimension, xs, ys, options);
    classifier.temperature = temperature;
  }
  const temperature = classifier.temperature;
  const seenBuckets = new Uint8Array(featurizer.dimension);
  for (const x of xs) for (const k of x.index) seenBuckets[k] = 1;
  const header = {
    format: "zhiyu-desk-classifier" as const, version: 1 as const, task, labels, featurizer: featurizer.spec, temperature,
    trainingHash: trainingHash(task, examples, featurizer.spec, options), meta: { examples: examples.length }, neighbours: neighbourOptions,
  };
  const neighbours = neighbourOptions ? new NeighbourIndex(xs, Int32Array.from(ys), labels.length) : undefined;
  return { model: { header, featurizer, classifier, neighbours }, seenBuckets };
}

export const INTENT_SPEC: Partial<FeaturizerSpec> = { buckets: 1 << 16 };
export const INTENT_TRAIN: Partial<TrainOptions> = { epochs: 20, learningRate: 2, l2: 1e-4, optimizer: "sgd", classWeight: "balanced" };
export const EMOTION_TRAIN: Partial<TrainOptions> = { epochs: 30, learningRate: 0.5, l2: 1e-6, optimizer: "adagrad", classWeight: "balanced" };

/** Trains both models of a configuration and (when `outDir` is given) saves them there. */
export function trainConfigModels(config: ContactCentreConfig, dataRoot: string | undefined, outDir?: string): TrainedModels {
  const spec = { ...INTENT_SPEC, userWords: config.knowledge_base.user_words };
  const intentFit = fitClassifier("intent", intentExamples(config, dataRoot), spec, INTENT_TRAIN, undefined, DEFAULT_NEIGHBOURS);
  intentFit.model.header.oosThreshold = config.understanding.oos_threshold;
  intentFit.model.header.trainingHash = configHash(config, "intent");
  const emotionFit = fitClassifier("emotion", emotionExamples(config), spec, EMOTION_TRAIN);
  emotionFit.model.header.trainingHash = configHash(config, "emotion");
  if (outDir) {
    mkdirSync(outDir, { recursive: true });
    for (const [name, fit] of [["intent", intentFit], ["emotion", emotionFit]] as const) {
      const { header, featurizer, classifier } = fit.model;
      saveModel(path.join(outDir, MODEL_FILES[name]), header, featurizer, classifier, fit.seenBuckets, fit.model.neighbours);
    }
  }
  return { intent: intentFit.model, emotion: emotionFit.model };
}
