// `zhiyu desk route --input-jsonl F [--config FILE] [--json]`: the per-turn understanding without a server. Each input
// line is {"text": …, "history": [{"role", "content"}…]} (history optional); the customer turns of the history are
// understood first, so slots and the last intent carry over to the line's text exactly as in a live conversation.
// Each output line: {"intent", "confidence", "out_of_scope", "emotion", "handoff", "handoff_reason"} plus "slots",
// "sentiment", "small_talk" and "language". A bad line is reported with its line number and skipped (exit code 1).
import { readFileSync } from "node:fs";
import { parseFlags } from "../../flags.js";
import { UsageError } from "../../errors.js";
import { loadUnderstander } from "../../../apps/contact-centre/understanding/understand.js";
import { initialDialogueState, type HistoryMessage } from "../../../apps/contact-centre/understanding/types.js";
import { configFromFlag, dataRootFromFlag } from "./common.js";

const HELP = `usage: zhiyu desk route --input-jsonl F [--config FILE] [--data DIR] [--json]

  --input-jsonl F   one turn per line: {"text": "...", "history": [{"role": "user", "content": "..."}]} ("-" = stdin)
  --config FILE     contact-centre configuration (default: the one npm start uses)
  --data DIR        ../shared/data, used only if the models must be retrained in memory
  --json            one JSON object per line (default: a readable line per turn)`;

const ROLES = new Set(["user", "assistant", "agent", "system"]);

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv, strict: true,
    options: { "input-jsonl": { type: "string" }, config: { type: "string" }, data: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values["input-jsonl"]) throw new UsageError(`desk route: --input-jsonl F is required\n\n${HELP}`);
  const config = configFromFlag(values.config);
  const brain = loadUnderstander(config, { dataRoot: dataRootFromFlag(values.data), onNote: (n) => console.error(`desk route: ${n}`) });
  const file = values["input-jsonl"];
  const text = readFileSync(file === "-" ? 0 : file, "utf8");
  let failures = 0;
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let item: { text?: unknown; history?: unknown };
    try {
      item = JSON.parse(line) as typeof item;
      if (typeof item.text !== "string") throw new Error('"text" must be a string');
      if (item.history !== undefined && !(Array.isArray(item.history) && item.history.every((m) =>
        m && typeof m === "object" && ROLES.has((m as HistoryMessage).role) && typeof (m as HistoryMessage).content === "string"))) {
        throw new Error('"history" must be an array of {"role": user|assistant|agent|system, "content": string}');
      }
    } catch (err) {
      console.error(`desk route: ${file}:${i + 1}: ${(err as Error).message}`);
      failures++;
      return;
    }
    const history = (item.history ?? []) as HistoryMessage[];
    let state = initialDialogueState(config.language);
    const seen: HistoryMessage[] = [];
    for (const m of history) {
      if (m.role === "user") state = brain.understandTurn({ text: m.content, history: [...seen] }, state).nextState;
      seen.push(m);
    }
    const u = brain.understandTurn({ text: item.text, history }, state);
    const out = {
      intent: u.intent, confidence: u.confidence, out_of_scope: u.outOfScope, emotion: u.emotion, handoff: u.handoff,
      handoff_reason: u.handoffReason, slots: u.slots, sentiment: u.sentiment, small_talk: u.smallTalk, language: u.language,
    };
    if (values.json) console.log(JSON.stringify(out));
    else console.log(`${item.text}\t→ ${u.intent} (${u.confidence.toFixed(2)})${u.outOfScope ? " oos" : ""} ${u.emotion}` +
      `${Object.keys(u.slots).length ? " " + JSON.stringify(u.slots) : ""}${u.handoff ? ` HANDOFF:${u.handoffReason}` : ""}`);
  });
  return failures > 0 ? 1 : 0;
}
