// `zhiyu desk export-preferences --out F.jsonl [--config FILE] [--db URL]`: writes the preference pairs agents made
// by editing drafted replies, one JSON object per line: {"prompt", "chosen", "rejected"} — prompt is the
// conversation before the reply as "role: text" lines, chosen the text the agent sent, rejected the draft —
// the format the reward-model and DPO commands read. The file is written whole (temporary file, then rename).
// Leaves out: filtering by date or agent (edit the JSONL), de-duplication of identical pairs.
import { renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { deskSettings } from "../../../apps/contact-centre/desk-settings.js";
import { migrate } from "../../../apps/contact-centre/store/migrations.js";
import { openDatabase } from "../../../apps/contact-centre/store/sql.js";
import { ConversationStore } from "../../../apps/contact-centre/store/store.js";
import { UsageError } from "../../errors.js";
import { parseFlags } from "../../flags.js";
import { configFromFlag } from "./common.js";

const HELP = `usage: zhiyu desk export-preferences --out F.jsonl [--config FILE] [--db URL]

  --out F.jsonl   where to write {"prompt", "chosen", "rejected"} lines
  --config FILE   the desk's configuration (for its data folder; default: the one npm start uses)
  --db URL        the desk's database (postgres://… or a SQLite file), as given to zhiyu desk`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({ args: argv, strict: true, options: { out: { type: "string" }, config: { type: "string" }, db: { type: "string" }, help: { type: "boolean", short: "h" } } }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.out) throw new UsageError(`desk export-preferences: --out F.jsonl is required\n\n${HELP}`);
  const db = await openDatabase(values.db ?? deskSettings(configFromFlag(values.config), path.resolve("desk-data")).dataDir);
  try {
    await migrate(db);
    const pairs = await new ConversationStore(db).preferencePairs();
    const out = path.resolve(values.out);
    const tmp = `${out}.tmp-${process.pid}`;
    writeFileSync(tmp, pairs.map((p) => JSON.stringify({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected })).join("\n") + (pairs.length ? "\n" : ""));
    renameSync(tmp, out);
    console.log(`desk export-preferences: ${pairs.length} pairs → ${out}`);
  } finally {
    await db.close();
  }
  return 0;
}
