// `zhiyu generate` (text prompt) and `zhiyu chat` never print U+FFFD from byte tokens: the UTF-8 sampling
// constraint the server puts on every request (src/infer/grammar/utf8-constraint.ts) applies in the CLI too.
// The tiny random-weight llama of ../shared/testdata/gguf (512-token SentencePiece vocabulary with byte fallback)
// answers "Mia said: 你好!" greedily with a stray continuation byte first (llama.cpp's greedy ids in its JSON), so
// unmasked output holds U+FFFD. With the mask the reply is valid UTF-8 and still uses byte tokens (characters
// built from them); with --prompt-ids nothing is masked and the ids are llama.cpp's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readGguf } from "../../src/io/gguf.js";

const MODEL = "../shared/testdata/gguf/dev-llama-tok512-f32";
const available = existsSync(`${MODEL}.gguf`);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

interface Prompt { prompt_text: string; prompt_tokens: number[]; greedy_tokens: number[] }
const prompts = available ? (JSON.parse(readFileSync(`${MODEL}.json`, "utf8")) as { prompts: Prompt[] }).prompts : [];
/** The prompt whose greedy reply starts with a byte token that cannot start a character. */
const mia = prompts.find((p) => /你好/.test(p.prompt_text));

function zhiyu(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", ...args], { input: input === undefined ? undefined : Buffer.from(input) });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
}

function byteTokenIds(): Set<number> {
  const types = readGguf(`${MODEL}.gguf`).metadata.get("tokenizer.ggml.token_type") as number[];
  return new Set(types.flatMap((t, id) => (t === 6 ? [id] : [])));
}

test("generate --prompt TEXT: the reply is valid UTF-8 (no U+FFFD) and still built from byte tokens", { skip: !mia && "no dev-llama model" }, () => {
  const out = zhiyu(["generate", "--model", `${MODEL}.gguf`, "--prompt", mia!.prompt_text, "--temperature", "0", "--max-tokens", "32", "--json"]);
  const j = JSON.parse(strictUtf8.decode(out)) as { prompt_ids: number[]; ids: number[]; text: string };
  assert.deepEqual(j.prompt_ids, mia!.prompt_tokens);
  assert.ok(!j.text.includes("\uFFFD"), `U+FFFD in ${JSON.stringify(j.text)}`);
  const bytes = byteTokenIds();
  assert.ok(bytes.has(mia!.greedy_tokens[0]!), "the unmasked greedy reply starts with a byte token");
  assert.ok(j.ids.filter((id) => bytes.has(id)).length >= 2, "the reply still has characters made of byte tokens");
  // Streaming (no --json) prints the same text, as valid UTF-8 bytes.
  const streamed = zhiyu(["generate", "--model", `${MODEL}.gguf`, "--prompt", mia!.prompt_text, "--temperature", "0", "--max-tokens", "32"]);
  assert.equal(strictUtf8.decode(streamed), `${j.text}\n`);
});

test("generate --prompt-ids: exact ids, nothing masked — llama.cpp's greedy ids", { skip: !mia && "no dev-llama model" }, () => {
  const out = zhiyu(["generate", "--model", `${MODEL}.gguf`, "--prompt-ids", mia!.prompt_tokens.join(","), "--temperature", "0", "--max-tokens", "12", "--json"]);
  assert.deepEqual((JSON.parse(out.toString()) as { ids: number[] }).ids, mia!.greedy_tokens.slice(0, 12));
});

test("chat: replies are valid UTF-8 (no U+FFFD)", { skip: !available && "no dev-llama model" }, () => {
  const out = zhiyu(["chat", "--model", `${MODEL}.gguf`, "--temperature", "0", "--max-tokens", "24"], "你好!\nMia said: 你好!\n");
  const text = strictUtf8.decode(out);
  assert.ok(text.trim().length > 0);
  assert.ok(!text.includes("\uFFFD"), `U+FFFD in ${JSON.stringify(text)}`);
});
