// The resolution check on real endings none of the inspection models trained on (BENCHMARKS.md, "Quality
// inspection"): how many of the last user turns of CrossWOZ val (tasks that end settled), the thank-you/goodbye
// queries of CLINC150 test and the last turns of LCCC toy valid (chit-chat) the old check (sentiment ≤ −0.3) and the
// shipped one (resolution.zdcm, as in model-checks.ts) mark unresolved. Run from the repository root:
//   node --import tsx dev/contact-centre/resolution-endings.ts [../shared/data]
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadEmotionScorer } from "../../src/apps/contact-centre/inspection/model-checks.js";
import { SHIPPED_MODEL_DIR } from "../../src/apps/contact-centre/inspection/setup.js";
import { readSingleEntryZip } from "../../src/io/zip.js";

const data = process.argv[2] ?? "../shared/data";
const scorer = loadEmotionScorer(SHIPPED_MODEL_DIR);
const zip = path.join(data, "crosswoz", "val.json.zip");
const val = JSON.parse(readSingleEntryZip(readFileSync(zip), zip).toString("utf8")) as Record<string, { messages: { role: string; content: string }[] }>;
const clinc = JSON.parse(readFileSync(path.join(data, "clinc150", "data_full.json"), "utf8")) as { test: [string, string][] };
const lccc = JSON.parse(readFileSync(path.join(data, "lccc-toy", "toy_data.json"), "utf8")) as { valid: string[][] };
const sets: Record<string, string[]> = {
  "CrossWOZ val last user turns": Object.values(val).map((d) => [...d.messages].reverse().find((m) => m.role === "usr")?.content ?? "").filter(Boolean),
  "CLINC150 test thank_you + goodbye": clinc.test.filter(([, i]) => i === "thank_you" || i === "goodbye").map(([t]) => t),
  "LCCC toy valid last turns": lccc.valid.map((d) => d[d.length - 1].replace(/ /g, "")),
};
const checks: Record<string, (t: string) => boolean> = {
  old: (t) => scorer.sentiment(t) <= -0.3,
  shipped: (t) => {
    const p = scorer.unresolved!(t);
    return p >= 0.1 || (p >= 0.05 && scorer.sentiment(t) <= -0.3);
  },
};
for (const [name, texts] of Object.entries(sets)) {
  console.log(`${name}: ${Object.entries(checks).map(([c, f]) => `${c} ${texts.filter(f).length}/${texts.length}`).join(", ")}`);
}
