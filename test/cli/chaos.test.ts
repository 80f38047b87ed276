// The chaos load of `zhiyu bench serve --chaos` (src/cli/chaos-load.ts) against the server with the scripted fake
// model, one burst of 8 × 2 slots with disconnects and slow bodies: rejections are 429 with Retry-After, never a
// 200 with an in-stream error, and every accepted request that stayed connected completed. (/health latency is
// reported, not asserted here: on a shared machine it measures the machine.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { chaosViolations, runChaos } from "../../src/cli/chaos-load.js";
import { startServer } from "../../src/serve/server.js";
import { FakeModel } from "../serve/fake-model.js";

test("one chaos burst: 429 + Retry-After before any 200, nothing accepted lost", async () => {
  const srv = await startServer({ model: new FakeModel({ forwardDelayMs: 3, script: () => "abcd".repeat(8) }), port: 0, parallel: 2, maxQueue: 4 });
  try {
    const r = await runChaos({ base: `${srv.url}/v1`, model: "fake-chatml", slots: 2, bursts: 1, tokens: 32 });
    assert.equal(r.requests, 16);
    assert.ok(r.rejected429 > 0, "a burst of 16 should overflow 2 slots + 4 queued");
    assert.ok(r.accepted > 0);
    assert.equal(r.slowBodies.answered, r.slowBodies.sent);
    assert.deepEqual(chaosViolations(r, Infinity), []);
  } finally {
    await srv.close();
  }
});
