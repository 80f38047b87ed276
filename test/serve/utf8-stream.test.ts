// U+FFFD inside Chinese replies (issue 13 item 8). With a byte-level vocabulary every byte of a CJK character can be
// its own token, and a small model may follow a lead byte with a token that does not continue it; the text then
// holds U+FFFD however carefully it is decoded. The fix is at sampling (infer/grammar/utf8-constraint.ts): tokens
// that would break UTF-8 are masked. Here a fake model prefers a breaking token at every continuation byte (and EOS
// in the middle of a character); the reply is streamed through the server's SSE path and decoded by the page's own
// readSse (taken from src/serve/web/app.js) with the HTTP body cut at every byte boundary. No U+FFFD may appear.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { Utf8Constraint, Utf8Table, utf8Step } from "../../src/infer/grammar/utf8-constraint.js";
import { ByteTokenizer, FakeModel, IM_END } from "./fake-model.js";

const TEXT = "回家那么大的，好😀!é";
const BYTES = Array.from(new TextEncoder().encode(TEXT));

/** At each reply position: the script's byte at 5, but a breaking token at 10 — an ASCII 'x' where a continuation
 *  byte is due, a stray continuation byte where a character starts — and EOS at 9 inside a character. */
function adversarialLogits(pos: number): Float32Array {
  const logits = new Float32Array(259);
  logits[IM_END] = pos < BYTES.length ? 0 : 10;
  if (pos < BYTES.length) {
    const b = BYTES[pos];
    const continuation = (b & 0xc0) === 0x80;
    logits[b] = 5;
    logits[continuation ? 0x78 : 0x9b] = 10;
    if (continuation) logits[IM_END] = 9;
  }
  return logits;
}

let srv: RunningServer;
before(async () => {
  srv = await startServer({ model: new FakeModel({ replyLogits: adversarialLogits }), port: 0, parallel: 2 });
});
after(async () => srv.close());

/** The page's SSE reader, evaluated from app.js as the browser runs it. */
function pageReadSse(): (body: ReadableStream<Uint8Array>, onEvent: (e: unknown) => void) => Promise<void> {
  const source = readFileSync("src/serve/web/app.js", "utf8");
  const start = source.indexOf("async function readSse(");
  assert.ok(start >= 0, "app.js defines readSse");
  const end = source.indexOf("\n}\n", start);
  return new Function(`${source.slice(start, end + 2)}\nreturn readSse;`)();
}

test("a streamed CJK reply survives every byte-token boundary: server SSE + the page's decoder, no U+FFFD", async () => {
  const r = await fetch(`${srv.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "fake-chatml", messages: [{ role: "user", content: "你好" }], stream: true, temperature: 0 }) });
  assert.equal(r.status, 200);
  const raw = new Uint8Array(await r.arrayBuffer());
  // Replay the body one byte per chunk, so every multi-byte character in the JSON is split across reads.
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < raw.length) controller.enqueue(raw.subarray(i, ++i));
      else controller.close();
    },
  });
  let text = "";
  let finish: string | null = null;
  await pageReadSse()(body, (e) => {
    const choice = (e as { choices: { delta: { content?: string }; finish_reason: string | null }[] }).choices[0];
    text += choice?.delta.content ?? "";
    finish = choice?.finish_reason ?? finish;
  });
  assert.ok(!text.includes("\uFFFD"), `no U+FFFD in ${JSON.stringify(text)}`);
  assert.equal(text, TEXT);
  assert.equal(finish, "stop");
});

test("non-streamed reply with sampling (temperature 1, many seeds) never holds U+FFFD", async () => {
  for (let seed = 0; seed < 8; seed++) {
    const r = await fetch(`${srv.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "fake-chatml", messages: [{ role: "user", content: "你好" }], temperature: 1, seed, max_tokens: 40 }) });
    const j = (await r.json()) as { choices: { message: { content: string } }[] };
    assert.ok(!j.choices[0].message.content.includes("\uFFFD"), `seed ${seed}: ${JSON.stringify(j.choices[0].message.content)}`);
  }
});

test("the UTF-8 table agrees with TextDecoder on every byte pair and on every position", () => {
  const table = new Utf8Table(new ByteTokenizer());
  const fatal = new TextDecoder("utf-8", { fatal: true });
  // Every 1–2 byte sequence is allowed exactly when a fatal decoder accepts it as (a prefix of) valid UTF-8.
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b++) {
      let q = utf8Step(0, a);
      if (q !== 255) q = utf8Step(q, b);
      let validPrefix = true;
      try {
        fatal.decode(Uint8Array.of(a, b), { stream: true });
      } catch {
        validPrefix = false;
      }
      try {
        fatal.decode(); // reset (an incomplete tail throws)
      } catch { /* reset anyway */ }
      assert.equal(q !== 255, validPrefix, `bytes ${a.toString(16)} ${b.toString(16)}`);
    }
  }
  const c = new Utf8Constraint(table);
  for (const b of new TextEncoder().encode("é😀")) c.accept(b);
  assert.equal(c.insideCharacter, false);
  c.accept(0xf0);
  const logits = new Float32Array(259);
  c.mask(logits);
  assert.equal(logits[IM_END], -Infinity, "EOS may not cut a character");
  assert.equal(logits[0x41], -Infinity);
  assert.equal(logits[0x9f], 0);
});
