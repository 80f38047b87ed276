// Rebuilds models/contact-centre/rudeness.zdcm, the agent rudeness/impatience classifier of quality inspection:
// the written seed set (src/apps/contact-centre/inspection/rudeness-seed.ts) plus polite replies from CrossWOZ's
// test split (Apache-2.0) and HH-RLHF harmless-base test (MIT). Run from the repository root:
//   node --import tsx dev/contact-centre/train-rudeness.ts [../shared/data]
import { rudenessExamples } from "../../src/apps/contact-centre/inspection/model-checks.js";
import { EMOTION_TRAIN, fitClassifier } from "../../src/apps/contact-centre/training/train-models.js";
import { saveModel } from "../../src/apps/contact-centre/understanding/model-file.js";

const examples = rudenessExamples(process.argv[2] ?? "../shared/data");
const fit = fitClassifier("rudeness", examples, { buckets: 1 << 15 }, { ...EMOTION_TRAIN, classWeight: "balanced" });
const { format: _f, version: _v, temperature: _t, ...header } = fit.model.header;
saveModel("models/contact-centre/rudeness.zdcm", header, fit.model.featurizer, fit.model.classifier, fit.seenBuckets);
console.log(`models/contact-centre/rudeness.zdcm: ${examples.length} examples (${examples.filter((e) => e.label === "rude").length} rude)`);
