// Big allowed inputs must not block the event loop (issue 14 item 7). On the default model (context 1024, the real
// byte-level BPE tokenizer), a 10 MB Chinese chat message and completion prompt are refused with 400
// context_length_exceeded without tokenising the whole body, and a json_schema with a 50,000-value enum compiles
// and decodes quickly (the enum is a byte trie in the grammar); meanwhile /health is probed in a loop and must
// answer every time within HEALTH_LIMIT_MS of this process's CPU time (a stall of the event loop burns CPU in this
// process; a wait for a core on a loaded machine does not; a slow run is also repeated once), and the text handed to
// the tokenizer stays bounded whatever the body.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { loadModel } from "../../src/infer/load.js";
import type { TextModel } from "../../src/infer/model-api.js";
import { BoundedEncoder } from "../../src/serve/prompt-tokens.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { ByteTokenizer } from "./fake-model.js";

let model: TextModel;
let srv: RunningServer;
/** Characters the server handed to the tokenizer (a spy on encode): the work must not grow with the body. */
let encodedChars = 0;
before(async () => {
  model = await loadModel("models/zhiyu-mini", {});
  const encode = model.tokenizer.encode.bind(model.tokenizer);
  model.tokenizer.encode = (text, options) => {
    encodedChars += text.length;
    return encode(text, options);
  };
  srv = await startServer({ model, port: 0, parallel: 2 });
});
after(async () => {
  await srv.close();
  model.dispose();
});

/** CPU time (user + system) this process has used, in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Runs `work` while /health is fetched back to back; returns the work's result and the longest wait for a /health
 *  answer — from the moment the previous probe ended, so that a stall between two probes counts too — measured as
 *  the CPU time this process (server and test share it) spent in that wait, beside its wall-clock length. */
async function whileProbing<T>(work: () => Promise<T>): Promise<{ result: T; slowestMs: number; slowestWallMs: number; probes: number }> {
  let done = false;
  let slowestMs = 0;
  let slowestWallMs = 0;
  let probes = 0;
  const prober = (async () => {
    let last = performance.now();
    let lastCpu = cpuMs();
    while (!done) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const r = await fetch(`${srv.url}/health`);
      await r.arrayBuffer();
      const now = performance.now();
      const nowCpu = cpuMs();
      slowestMs = Math.max(slowestMs, nowCpu - lastCpu);
      slowestWallMs = Math.max(slowestWallMs, now - last - 5);
      last = now;
      lastCpu = nowCpu;
      probes++;
    }
  })();
  // Let the prober start first.
  await new Promise((resolve) => setTimeout(resolve, 20));
  try {
    const result = await work();
    return { result, slowestMs, slowestWallMs, probes };
  } finally {
    done = true;
    await prober;
  }
}

/** whileProbing, once more when /health was slow: a stall the server causes recurs on the second run, one that the
 *  loaded test machine causes (another process holding both cores) does not — the faster of the two is judged. */
async function whileProbingTwiceIfSlow<T>(work: () => Promise<T>): Promise<{ result: T; slowestMs: number; slowestWallMs: number; probes: number }> {
  const first = await whileProbing(work);
  if (first.slowestMs < HEALTH_LIMIT_MS) return first;
  const second = await whileProbing(work);
  return second.slowestMs < first.slowestMs ? second : first;
}

async function post(path: string, body: unknown) {
  const r = await fetch(`${srv.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as { error?: { code: string }; choices?: { message: { content: string } }[] } };
}

/** ≈ 10 MB of Chinese: a 17,000-character block of pseudo-random characters, repeated (cheap to build). */
function bigChinese(): string {
  const block: string[] = [];
  let x = 12345;
  for (let i = 0; i < 17_000; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    block.push(i % 20 === 19 ? "，" : String.fromCharCode(0x4e00 + (x % 3000)));
  }
  return block.join("").repeat(200);
}
const BIG_CJK = bigChinese();
/** The most CPU time the process may spend between two /health answers while a big request is handled (the stalls
 *  this guards against were 5–13 s of synchronous tokenisation here). */
const HEALTH_LIMIT_MS = 3000;

test("a 10 MB Chinese message or prompt is refused without stalling /health", async () => {
  assert.ok(Buffer.byteLength(BIG_CJK) > 9_000_000);
  encodedChars = 0;
  const chat = await whileProbingTwiceIfSlow(() => post("/v1/chat/completions", { model: model.id, messages: [{ role: "user", content: BIG_CJK }] }));
  assert.equal(chat.result.status, 400);
  assert.equal(chat.result.json.error?.code, "context_length_exceeded");
  assert.ok(chat.slowestMs < HEALTH_LIMIT_MS, `/health waited ${chat.slowestMs.toFixed(0)} ms of CPU (${chat.slowestWallMs.toFixed(0)} ms wall) during the chat request`);
  assert.ok(encodedChars < 100_000, `${encodedChars} characters tokenised for a ${BIG_CJK.length}-character message`);
  encodedChars = 0;
  const completion = await whileProbingTwiceIfSlow(() => post("/v1/completions", { model: model.id, prompt: BIG_CJK, max_tokens: 4 }));
  assert.equal(completion.result.status, 400);
  assert.equal(completion.result.json.error?.code, "context_length_exceeded");
  assert.ok(completion.slowestMs < HEALTH_LIMIT_MS, `/health waited ${completion.slowestMs.toFixed(0)} ms of CPU (${completion.slowestWallMs.toFixed(0)} ms wall) during the completion request`);
  assert.ok(encodedChars < 100_000, `${encodedChars} characters tokenised for a ${BIG_CJK.length}-character prompt`);
  // Just over the context, in many slices: still refused, and a prompt that fits still works.
  const over = await post("/v1/completions", { model: model.id, prompt: "中文 ".repeat(20_000), max_tokens: 1 });
  assert.equal(over.json.error?.code, "context_length_exceeded");
  const fits = await post("/v1/completions", { model: model.id, prompt: "你好", max_tokens: 2 });
  assert.equal(fits.status, 200);
});

test("a 50,000-value enum compiles and decodes while /health stays responsive", async () => {
  const values = Array.from({ length: 50_000 }, (_, i) => `item-${i.toString(36).padStart(4, "0")}`);
  const schema = { type: "object", properties: { pick: { enum: values } }, required: ["pick"], additionalProperties: false };
  const run = await whileProbingTwiceIfSlow(() => post("/v1/chat/completions", { model: model.id, messages: [{ role: "user", content: "pick one" }],
    max_tokens: 40, seed: 1, response_format: { type: "json_schema", json_schema: { name: "pick", schema } } }));
  assert.equal(run.result.status, 200, JSON.stringify(run.result.json).slice(0, 300));
  const value = JSON.parse(run.result.json.choices![0].message.content) as { pick: string };
  assert.ok(values.includes(value.pick), value.pick);
  assert.ok(run.slowestMs < HEALTH_LIMIT_MS, `/health waited ${run.slowestMs.toFixed(0)} ms of CPU (${run.slowestWallMs.toFixed(0)} ms wall) during the enum request`);
});

test("bounded encoding: a long text that fits is encoded exactly as a whole; one that does not is refused", () => {
  const tok = new ByteTokenizer();
  const bounded = new BoundedEncoder(tok, tok.vocabSize);
  const text = Array.from({ length: 4000 }, (_, i) => `line ${i} 中文\n`).join("");
  const whole = tok.encode(text, { addSpecialTokens: false });
  assert.ok(text.length > 40_000);
  assert.deepEqual(bounded.encode(text, { addSpecialTokens: false }, whole.length), whole);
  assert.equal(bounded.encode(text, { addSpecialTokens: false }, whole.length - 200), null);
  assert.equal(bounded.encode("x".repeat(10_000), {}, 10), null, "refused by length alone");
});
