// Rebuilds the two classifiers of quality inspection in models/contact-centre: rudeness.zdcm (rude or impatient
// agent sentence: the written seed set src/apps/contact-centre/inspection/rudeness-seed.ts and polite replies from
// CrossWOZ's test split (Apache-2.0) and HH-RLHF harmless-base test (MIT)) and
// resolution.zdcm (a customer's closing message leaves the issue open: resolution-seed.ts, with CrossWOZ test's
// last user turns, CLINC150 train's thank-you/goodbye queries (CC BY 3.0) and LCCC toy train's last turns as
// endings that leave nothing open). Deterministic. Run from the repository root:
//   node --import tsx dev/contact-centre/train-inspection-models.ts [../shared/data] [models/contact-centre]
import path from "node:path";
import { resolutionExamples, rudenessExamples } from "../../src/apps/contact-centre/inspection/model-checks.js";
import { EMOTION_TRAIN, fitClassifier } from "../../src/apps/contact-centre/training/train-models.js";
import { saveModel } from "../../src/apps/contact-centre/understanding/model-file.js";

const dataRoot = process.argv[2] ?? "../shared/data";
const outDir = process.argv[3] ?? "models/contact-centre";
for (const [task, examples, positive] of [["rudeness", rudenessExamples(dataRoot), "rude"], ["resolution", resolutionExamples(dataRoot), "unresolved"]] as const) {
  const fit = fitClassifier(task, examples, { buckets: 1 << 15 }, { ...EMOTION_TRAIN, classWeight: "balanced" });
  const { format: _f, version: _v, temperature: _t, ...header } = fit.model.header;
  const file = path.join(outDir, `${task}.zdcm`);
  saveModel(file, header, fit.model.featurizer, fit.model.classifier, fit.seenBuckets);
  console.log(`${file}: ${examples.length} examples (${examples.filter((e) => e.label === positive).length} ${positive})`);
}
