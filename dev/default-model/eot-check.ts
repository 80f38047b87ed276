// End-of-turn check of a chat model: 100 held-out prompts (50 Chinese, 50 English) from splits that neither
// pretraining nor SFT of zhiyu-mini used (LCCC test, CrossWOZ test, banking77 test, CLINC150 test), each rendered
// with the model's chat template; a reply passes when generation ends with an end-of-turn/stop token within 256
// tokens and the text contains no role markers or template debris (<|im_start|>, <|im_end|>, "assistant\n", …).
// usage: node --import tsx dev/default-model/eot-check.ts [MODEL_DIR] [--temperature T] [--json OUT]
//        (default models/zhiyu-mini, greedy decoding, prints the pass rate and the failures)
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { readSingleEntryZip } from "../../src/io/zip.js";
import { loadModel } from "../../src/infer/load.js";
import { generateStreaming } from "../../src/infer/generate.js";
import { renderChat } from "../../src/infer/chat-template.js";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const temperature = Number(flag("--temperature") ?? 0);
const jsonOut = flag("--json");
const modelDir = args[0] ?? "models/zhiyu-mini";
const data = path.resolve("../shared/data");


/** n items spread evenly over the distinct values of xs (the sets repeat some utterances). */
const every = (all: string[], n: number): string[] => {
  const xs = [...new Set(all)];
  return xs.filter((_, i) => i % Math.floor(xs.length / n) === 0).slice(0, n);
};
const joinLccc = (s: string) => s.replace(/(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])|(?<=[^\x00-\x7f]) (?=[\x00-\x7f])|(?<=[\x00-\x7f]) (?=[^\x00-\x7f])|(?<=\d) (?=\d)/g, "").trim();

export function heldOutPrompts(): { lang: "zh" | "en"; source: string; prompt: string }[] {
  const lccc = (JSON.parse(readFileSync(`${data}/lccc-toy/toy_data.json`, "utf8")) as { test: string[][] }).test.map((d) => joinLccc(d[0]!));
  const crosswoz = Object.values(JSON.parse(readSingleEntryZip(readFileSync(`${data}/crosswoz/test.json.zip`), "crosswoz/test.json.zip").toString("utf8")) as
    Record<string, { messages: { content: string }[] }>).map((d) => d.messages[0]!.content);
  const banking = readFileSync(`${data}/banking77/test.csv`, "utf8").split("\n").slice(1).filter((l) => l.trim())
    .map((l) => (l.startsWith('"') ? l.slice(1, l.lastIndexOf('"')) : l.slice(0, l.lastIndexOf(","))));
  const clinc = (JSON.parse(readFileSync(`${data}/clinc150/data_full.json`, "utf8")) as { test: [string, string][] }).test.map((r) => r[0]);
  return [
    ...every(lccc, 25).map((prompt) => ({ lang: "zh" as const, source: "lccc-toy test", prompt })),
    ...every(crosswoz, 25).map((prompt) => ({ lang: "zh" as const, source: "crosswoz test", prompt })),
    ...every(banking, 25).map((prompt) => ({ lang: "en" as const, source: "banking77 test", prompt })),
    ...every(clinc, 25).map((prompt) => ({ lang: "en" as const, source: "clinc150 test", prompt })),
  ];
}

const DEBRIS = /<\|im_start\|>|<\|im_end\|>|<\|endoftext\|>|<\|pad\|>|(^|\n)(user|assistant|system)\s*\n|(^|\n)(Human|Assistant):/;

const model = await loadModel(modelDir);
const prompts = heldOutPrompts();
const results: { lang: string; source: string; prompt: string; reply: string; tokens: number; endedTurn: boolean; clean: boolean; pass: boolean }[] = [];
for (const p of prompts) {
  const text = renderChat(model, [{ role: "user", content: p.prompt }], { addGenerationPrompt: true });
  const ids = model.tokenizer.encode(text, { addSpecialTokens: false, parseSpecial: true });
  const r = await generateStreaming(model, ids, { maxTokens: 256, temperature, seed: 0 });
  const endedTurn = r.finishReason === "stop" && model.stopTokenIds.includes(r.ids[r.ids.length - 1]!);
  const clean = !DEBRIS.test(r.text);
  results.push({ ...p, reply: r.text, tokens: r.ids.length, endedTurn, clean, pass: endedTurn && clean });
}
model.dispose();
const pass = results.filter((r) => r.pass).length;
const byLang = (lang: string) => {
  const xs = results.filter((r) => r.lang === lang);
  return `${xs.filter((r) => r.pass).length}/${xs.length}`;
};
console.log(`end-of-turn check of ${modelDir}: ${pass}/${results.length} replies end with the end-of-turn token within 256 ` +
  `tokens and hold no template debris (Chinese ${byLang("zh")}, English ${byLang("en")}; temperature ${temperature})`);
for (const r of results.filter((x) => !x.pass).slice(0, 10)) {
  console.log(`  FAIL [${r.source}] ${JSON.stringify(r.prompt)} → ${JSON.stringify(r.reply.slice(0, 120))} ` +
    `(${r.tokens} tokens, ended turn: ${r.endedTurn}, clean: ${r.clean})`);
}
for (const r of results.filter((x) => x.pass).slice(0, 6)) console.log(`  ok [${r.source}] ${JSON.stringify(r.prompt)} → ${JSON.stringify(r.reply)}`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ pass, total: results.length, temperature, results }, null, 1) + "\n");
