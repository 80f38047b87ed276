// `zhiyu bench inspect`: inspection throughput and accuracy on the seeded planted-fault set
// (src/apps/contact-centre/inspection/planted-set.ts over ../shared/data): conversations inspected per second with
// rules only and with the model checks (emotion, rudeness and resolution classifiers), each timed over at least
// --seconds of repeated passes, and precision/recall per fault family. The figures carry the machine's load average, so a
// number taken on a busy machine is marked as such.
// Leaves out: the desk's storage path (inspection results written to SQLite/PostgreSQL).
import os from "node:os";
import path from "node:path";
import { Inspector } from "../../apps/contact-centre/inspection/engine.js";
import { loadEmotionScorer } from "../../apps/contact-centre/inspection/model-checks.js";
import { buildPlantedSet, MODEL_FAMILIES, scorePlanted } from "../../apps/contact-centre/inspection/planted-set.js";
import { SHIPPED_MODEL_DIR } from "../../apps/contact-centre/inspection/setup.js";
import { numberFlagOr, parseFlags } from "../flags.js";

const HELP = `usage: zhiyu bench inspect [--data ../shared/data] [--seconds 3] [--json]

  --data DIR     ../shared/data (CrossWOZ, LCCC toy, ABCD sample)
  --seconds S    time each mode for at least S seconds (default 3)
  --json         one JSON object instead of lines`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({ args: argv, strict: true,
    options: { data: { type: "string" }, seconds: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } } }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const seconds = numberFlagOr("seconds", values.seconds, 3, { min: 0.1, max: 600 });
  const set = buildPlantedSet(path.resolve(values.data ?? "../shared/data"));
  const scorer = loadEmotionScorer(SHIPPED_MODEL_DIR);
  const modes = [{ name: "rules-only", inspector: new Inspector(set.rubric, null) }, { name: "with-models", inspector: new Inspector(set.rubric, scorer) }];
  const speed: Record<string, number> = {};
  for (const m of modes) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < seconds) {
      for (const t of set.transcripts) m.inspector.inspect(t);
      n += set.transcripts.length;
      elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    }
    speed[m.name] = n / elapsed;
  }
  const turns = set.transcripts.reduce((s, t) => s + t.turns.length, 0) / set.transcripts.length;
  const scores = scorePlanted(set.transcripts.map((t) => modes[1].inspector.inspect(t)), set.labels);
  const load = os.loadavg()[0];
  const loaded = load > os.cpus().length * 0.5;
  const result = { conversations: set.transcripts.length, turns_per_conversation: Math.round(turns * 10) / 10, conversations_per_s: speed, load_average: load,
    loaded_machine: loaded, families: scores.map((s) => ({ ...s, model: MODEL_FAMILIES.includes(s.family) })) };
  if (values.json) {
    console.log(JSON.stringify(result));
    return 0;
  }
  console.log(`inspection of ${result.conversations} planted-set conversations (${result.turns_per_conversation} turns each)${loaded ? ` — LOADED MACHINE (load ${load.toFixed(1)})` : ""}`);
  for (const [k, v] of Object.entries(speed)) console.log(`  ${k.padEnd(12)} ${v.toFixed(0)} conversations/s`);
  for (const s of scores) {
    console.log(`  ${s.family.padEnd(10)} ${MODEL_FAMILIES.includes(s.family) ? "model" : "rule "}  planted ${String(s.planted).padStart(3)}  marks ${String(s.marks).padStart(3)}  P ${s.precision.toFixed(3)}  R ${s.recall.toFixed(3)}  exact spans ${s.exactSpans}`);
  }
  return 0;
}
