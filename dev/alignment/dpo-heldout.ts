// DPO's implicit-reward accuracy on held-out pairs for the alignment runs (docs/alignment.md "Runs"): per pair the
// implicit rewards β(log π(y|x) − log π_ref(y|x)) of chosen and rejected (completion log-prob sums, as trl and
// src/train/objectives/dpo.ts compute them); accuracy = share of pairs with reward(chosen) > reward(rejected), also
// per pair "kind" when the records carry one. The reference's own accuracy is 0 by construction; the log-ratio
// accuracy of the reference alone (log π_ref(chosen) > log π_ref(rejected)) is printed for comparison, and the mean
// log-ratios log π − log π_ref of chosen and of rejected completions apart (DPO can widen the margin by lowering both).
// Leaves out: IPO's length-averaged form, LoRA policies (give a checkpoint folder).
// Usage: node --import tsx dev/alignment/dpo-heldout.ts --policy DIR --reference DIR --data PAIRS [--beta 0.1]
//          [--max-len 384] [--threads N]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { pairLogProbs } from "../../src/train/objectives/dpo.js";
import { readSplitPairs } from "../../src/train/preference-run.js";

const { values } = parseArgs({ options: { policy: { type: "string" }, reference: { type: "string" }, data: { type: "string" },
  beta: { type: "string" }, "max-len": { type: "string" }, threads: { type: "string" } } });
if (!values.policy || !values.reference || !values.data) throw new Error("usage: dpo-heldout.ts --policy DIR --reference DIR --data PAIRS [--beta B] [--max-len T]");
setDefaultBackend(createBackend(values.threads ? { threads: Number(values.threads) } : {}));
const beta = Number(values.beta ?? 0.1);
const maxLen = Number(values["max-len"] ?? 384);
const { train: pairs } = readSplitPairs(values.reference, [values.data], 0, null);
const kinds = readFileSync(values.data, "utf8").split("\n").filter((l) => l.trim()).map((l) => String((JSON.parse(l) as { kind?: unknown }).kind ?? "all"));
const policy = TrainModel.fromHfFolder(values.policy, "f32");
const reference = TrainModel.fromHfFolder(values.reference, "f32");
const pad = typeof policy.hfConfig.pad_token_id === "number" ? policy.hfConfig.pad_token_id : 0;
const pi = pairLogProbs(policy, pairs, 8, pad, maxLen);
const ref = pairLogProbs(reference, pairs, 8, pad, maxLen);
const byKind = new Map<string, { n: number; right: number; refRight: number; margin: number; chosenShift: number; rejectedShift: number }>();
for (let i = 0; i < pairs.length; i++) {
  const rc = beta * (pi.chosen[i]! - ref.chosen[i]!), rr = beta * (pi.rejected[i]! - ref.rejected[i]!);
  for (const k of ["all", kinds[i]!]) {
    const e = byKind.get(k) ?? { n: 0, right: 0, refRight: 0, margin: 0, chosenShift: 0, rejectedShift: 0 };
    e.n++;
    if (rc > rr) e.right++;
    if (ref.chosen[i]! > ref.rejected[i]!) e.refRight++;
    e.margin += rc - rr;
    e.chosenShift += pi.chosen[i]! - ref.chosen[i]!;
    e.rejectedShift += pi.rejected[i]! - ref.rejected[i]!;
    byKind.set(k, e);
    if (kinds[i] === "all") break;
  }
}
for (const [k, e] of byKind) {
  console.log(JSON.stringify({ kind: k, n: e.n, implicitRewardAccuracy: e.right / e.n, meanMargin: e.margin / e.n, referenceLogProbAccuracy: e.refRight / e.n,
    meanChosenLogRatio: e.chosenShift / e.n, meanRejectedLogRatio: e.rejectedShift / e.n }));
}
