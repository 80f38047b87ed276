import { loadConfig } from "../../src/apps/contact-centre/config.js";
import { loadUnderstander } from "../../src/apps/contact-centre/understanding/understand.js";
import { buildHandoffSet } from "../../src/apps/contact-centre/training/handoff-benchmark.js";
import { initialDialogueState } from "../../src/apps/contact-centre/understanding/types.js";
const brain = loadUnderstander(loadConfig());
const cats = new Set(process.argv.slice(2));
for (const c of buildHandoffSet("/work/wt/desknlu/../shared/data")) {
  if (!cats.has(c.category)) continue;
  let s = initialDialogueState(); let h = false; const out: string[] = [];
  for (const t of c.turns) { const u = brain.understandTurn({ text: t, history: [] }, s); s = u.nextState; h ||= u.handoff; out.push(`${t} → ${u.intent}(${u.confidence}) ${u.emotion} ${u.handoffReason ?? ""}`); }
  if (h !== c.handoff) console.log(c.category, "|", out.join(" || "));
}
