// Rule checks (dev/alignment/cs-rules.ts) over the held-out replies that eval-policies.ts --out wrote, per policy:
// mean value recall and copied span, share of replies with every grounding value, with a foreign value, rude, generic, mean
// character F1 against the dialogue's own reply, distinct replies, replies starting 推荐您去, replies giving a value for
// a slot their grounding lacks (unstated: "评分4.2分" for a phone number) and of those the groundings that could have
// one (n of the prompts with no such slot at all), replies containing "4.2". The catalogue of known
// values is every grounding in --catalogue files (the training and held-out prompts).
// Leaves out: anything the rules cannot see (see cs-rules.ts); it does not call a model.
// Usage: node --import tsx dev/alignment/cs-checks.ts --eval EVAL.json --prompts PROMPTS --pairs PAIRS
//          --catalogue PROMPTS [--catalogue PROMPTS…] [--samples N (0)]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { checkReply, parseGrounding, valueCatalogue } from "./cs-rules.js";

const { values } = parseArgs({ options: { eval: { type: "string" }, prompts: { type: "string" }, pairs: { type: "string" },
  catalogue: { type: "string", multiple: true }, samples: { type: "string" } } });
if (!values.eval || !values.prompts || !values.pairs || !values.catalogue) {
  throw new Error("usage: cs-checks.ts --eval EVAL.json --prompts PROMPTS --pairs PAIRS --catalogue PROMPTS… [--samples N]");
}
type Message = { role: string; content: string };
const jsonl = <T>(file: string): T[] => readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
const systemOf = (prompt: Message[]) => prompt.find((m) => m.role === "system")?.content ?? "";
const userOf = (prompt: Message[]) => prompt.filter((m) => m.role === "user").map((m) => m.content).join("\n");
const prompts = jsonl<{ prompt: Message[] }>(values.prompts).map((r) => r.prompt);
const gold = new Map(jsonl<{ prompt: Message[]; chosen: Message[] }>(values.pairs).map((p) => [JSON.stringify(p.prompt), p.chosen[0]!.content]));
const catalogue = valueCatalogue(values.catalogue.flatMap((f) => jsonl<{ prompt: Message[] }>(f).map((r) => parseGrounding(systemOf(r.prompt)))));
const evaluation = JSON.parse(readFileSync(values.eval, "utf8")) as { replies: { name: string; scores: number[]; replies: string[] }[] };
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
for (const policy of evaluation.replies) {
  if (policy.replies.length !== prompts.length) throw new Error(`${values.eval}: ${policy.name} has ${policy.replies.length} replies for ${prompts.length} prompts in ${values.prompts}`);
  const checks = policy.replies.map((reply, i) => checkReply(reply, parseGrounding(systemOf(prompts[i]!)), catalogue, gold.get(JSON.stringify(prompts[i])) ?? null, userOf(prompts[i]!)));
  console.log(JSON.stringify({ name: policy.name, n: checks.length,
    valueRecall: mean(checks.map((c) => c.valueRecall)), valueSpan: mean(checks.map((c) => c.valueSpan)), allValues: mean(checks.map((c) => (c.valueRecall === 1 ? 1 : 0))),
    foreignValue: mean(checks.map((c) => (c.foreignValue ? 1 : 0))), rude: mean(checks.map((c) => (c.rude ? 1 : 0))),
    generic: mean(checks.map((c) => (c.generic ? 1 : 0))), charF1: mean(checks.flatMap((c) => (c.charF1 === null ? [] : [c.charF1]))),
    distinct: new Set(policy.replies).size, recommendOpener: policy.replies.filter((r) => r.startsWith("推荐您去")).length,
    unstated: checks.filter((c) => c.unstated).length, with42: policy.replies.filter((r) => r.includes("4.2")).length }));
}
const samples = Number(values.samples ?? 0);
for (let i = 0; i < Math.min(samples, prompts.length); i++) {
  const k = Math.floor((i * prompts.length) / samples);
  console.log(`\n[${k}] ${systemOf(prompts[k]!)} | ${prompts[k]!.find((m) => m.role === "user")?.content ?? ""}`);
  console.log(`  gold: ${gold.get(JSON.stringify(prompts[k])) ?? "—"}`);
  for (const p of evaluation.replies) console.log(`  ${p.name} (${p.scores[k]!.toFixed(2)}): ${p.replies[k]}`);
}
