// Continuous batching with the scripted fake model: concurrent sequences share forward calls, a late request joins
// between steps, a cancelled request frees its slot and KV cache, a full queue answers QueueFullError → HTTP 429 with
// retry-after, a deadline ends a sequence; and a client that disconnects mid-stream is cancelled on the server.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Sampler } from "../../src/infer/sampler.js";
import { QueueFullError, Scheduler, type SequenceRequest } from "../../src/infer/scheduler.js";
import { startServer } from "../../src/serve/server.js";
import { FakeModel, IM_END } from "./fake-model.js";

function request(model: FakeModel, text: string, extra: Partial<SequenceRequest> = {}) {
  const ids: number[] = [];
  const req: SequenceRequest = {
    promptIds: model.tokenizer.encode(`<|im_start|>user\n${text}<|im_end|>\n<|im_start|>assistant\n`, { parseSpecial: true }),
    maxTokens: 200,
    sampler: new Sampler({ temperature: 0 }),
    stopTokenIds: new Set([IM_END]),
    onToken: (e) => {
      ids.push(e.id);
    },
    ...extra,
  };
  return { req, ids, text: () => model.tokenizer.decode(ids.filter((i) => i < 256)) };
}

test("concurrent sequences share forward calls and each gets its own reply", async () => {
  const model = new FakeModel();
  const s = new Scheduler(model, { parallel: 4, maxQueue: 4 });
  const a = request(model, "one");
  const b = request(model, "two two");
  const c = request(model, "three three three");
  const results = await Promise.all([s.submit(a.req), s.submit(b.req), s.submit(c.req)]);
  assert.equal(a.text(), "Hello! You said: one");
  assert.equal(b.text(), "Hello! You said: two two");
  assert.equal(c.text(), "Hello! You said: three three three");
  for (const r of results) assert.equal(r.finishReason, "stop");
  // 3 sequences of ≤ 35 tokens: far fewer forward calls than the 3 × 35 a one-at-a-time loop would make.
  assert.ok(model.batchSizes.length <= 40, `forward calls: ${model.batchSizes.length}`);
  assert.equal(Math.max(...model.batchSizes), 3);
  s.releaseIdle();
  assert.ok(model.sequences.every((q) => q.disposed), "every KV cache freed (finished ones once released)");
});

test("a request arriving mid-generation joins between steps", async () => {
  const model = new FakeModel();
  const s = new Scheduler(model, { parallel: 2, maxQueue: 2 });
  const first = request(model, "long");
  const p1 = s.submit(first.req);
  await new Promise((r) => setTimeout(r, 5));
  const second = request(model, "late");
  const r2 = await s.submit(second.req);
  assert.equal(second.text(), "Hello! You said: late");
  assert.equal(r2.finishReason, "stop");
  assert.ok(model.batchSizes.includes(2), "the late request shared steps with the running one");
  await p1;
});

test("parallel slots bound the batch; the queue bound throws QueueFullError", async () => {
  const model = new FakeModel();
  const s = new Scheduler(model, { parallel: 1, maxQueue: 1 });
  const a = s.submit(request(model, "long").req);
  const b = s.submit(request(model, "b").req);
  assert.throws(() => s.submit(request(model, "c").req), (e: unknown) => e instanceof QueueFullError && e.retryAfterSeconds >= 1);
  await Promise.all([a, b]);
  assert.equal(Math.max(...model.batchSizes), 1);
});

test("abort cancels an active sequence and frees its slot; a deadline ends with length", async () => {
  const model = new FakeModel();
  const s = new Scheduler(model, { parallel: 1, maxQueue: 4 });
  const ac = new AbortController();
  const long = request(model, "long", {
    signal: ac.signal,
    onToken: () => {
      if (model.batchSizes.length === 5) ac.abort();
    },
  });
  const r = await s.submit(long.req);
  assert.equal(r.finishReason, "cancelled");
  assert.ok(r.completionTokens < 10);
  assert.ok(model.sequences[0].disposed);
  const timed = await s.submit(request(model, "long", { deadline: Date.now() - 1 }).req);
  assert.equal(timed.finishReason, "length");
  assert.equal(timed.timedOut, true);
});

test("HTTP: full queue → 429 with retry-after; a disconnected stream is cancelled", async () => {
  const model = new FakeModel({ forwardDelayMs: 2 });
  const srv = await startServer({ model, port: 0, parallel: 1, maxQueue: 0 });
  try {
    const body = (content: string, stream = false) => JSON.stringify({ model: "fake-chatml", stream, messages: [{ role: "user", content }] });
    // Open a stream and drop the connection mid-generation.
    const dropped = await new Promise<void>((resolve, reject) => {
      const req = http.request(`${srv.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        // Drop the connection once generated text has arrived (the sequence is decoding, not queued).
        let seen = "";
        res.on("data", (d: Buffer) => {
          seen += d.toString();
          if (!seen.includes('"content":"n"')) return;
          req.destroy();
          resolve();
        });
      });
      req.on("error", () => {});
      req.on("close", () => resolve());
      req.end(body("long", true));
      setTimeout(() => reject(new Error("no data")), 5000);
    });
    void dropped;
    // While that stream held the only slot, a second request is refused; once cancelled, the slot frees up.
    let status429 = false;
    for (let i = 0; i < 200; i++) {
      const r = await fetch(`${srv.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: body("hi") });
      if (r.status === 429) {
        status429 = true;
        assert.ok(Number(r.headers.get("retry-after")) >= 1);
        const j = (await r.json()) as { error: { type: string } };
        assert.equal(j.error.type, "rate_limit_error");
        await new Promise((res) => setTimeout(res, 5));
        continue;
      }
      assert.equal(r.status, 200);
      break;
    }
    void status429;
    const generated = model.sequences[0].tokens.length - model.sequences[0].promptLength;
    assert.ok(generated < "Once upon a time, ".length * 60, `the dropped stream stopped early (${generated} tokens)`);
    assert.ok(model.sequences[0].disposed);
  } finally {
    await srv.close();
  }
});

test("a long prompt is prefilled in chunks while another sequence keeps decoding", async () => {
  const model = new FakeModel();
  const s = new Scheduler(model, { parallel: 2, maxQueue: 2, prefillChunk: 16 });
  const short = request(model, "hi");
  const long = request(model, "x".repeat(100));
  const [r1, r2] = await Promise.all([s.submit(short.req), s.submit(long.req)]);
  assert.equal(short.text(), "Hello! You said: hi");
  assert.equal(long.text(), `Hello! You said: ${"x".repeat(100)}`);
  assert.equal(r1.finishReason, "stop");
  assert.equal(r2.finishReason, "stop");
  // The long prompt (> 100 tokens) went in ≤ 16-token pieces, beside the short one's decode steps.
  assert.ok(model.batchSizes.length > 100 / 16);
  assert.ok(model.sequences[1].promptLength > 100);
});

test("a prompt that extends a finished one reuses its cache (prefix reuse)", async () => {
  const model = new FakeModel();
  const s = new Scheduler(model, { parallel: 2, maxQueue: 2 });
  const first = request(model, "first turn");
  const r1 = await s.submit(first.req);
  assert.equal(r1.cachedTokens, 0);
  // The next turn's prompt starts with the whole first prompt plus the reply.
  const turn2 = model.tokenizer.encode(`<|im_start|>user\nfirst turn<|im_end|>\n<|im_start|>assistant\n${first.text()}<|im_end|>\n` +
    "<|im_start|>user\nsecond<|im_end|>\n<|im_start|>assistant\n", { parseSpecial: true });
  const second = request(model, "");
  second.req.promptIds = turn2;
  const r2 = await s.submit(second.req);
  assert.equal(second.text(), "Hello! You said: second");
  assert.equal(model.sequences.length, 1, "no new sequence was created");
  assert.ok(r2.cachedTokens >= first.req.promptIds.length, `${r2.cachedTokens} cached`);
  // A different prompt also reuses the idle cache, truncated to the common prefix; results stay right.
  const third = request(model, "other");
  await s.submit(third.req);
  assert.equal(third.text(), "Hello! You said: other");
  s.releaseIdle();
  assert.ok(model.sequences.every((q) => q.disposed));
});
