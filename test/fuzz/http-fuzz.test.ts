// The short HTTP fuzzing run inside npm test: `zhiyu serve` with the shipped models/zhiyu-mini in a child process,
// 8 s of mutated requests (fields retyped, boundary numbers, deep nesting, broken bodies, odd methods, paths, Host,
// Origin and Authorization headers) — any 5xx, an answer slower than 5 s, or a server that stops answering /health
// fails, with the raw request saved as a reproducer. Saved http-*.http reproducers in test/fuzz/reproducers/ are
// replayed against the same server.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fuzzHttp, startLiveServer, type LiveServer } from "../../dev/fuzz/http.js";

let server: LiveServer;
before(async () => {
  server = await startLiveServer(process.cwd());
});
after(() => server.close());

test("HTTP fuzzing against a live server: no 5xx, no hang, /health keeps answering", async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), "zhiyu-http-fuzz-"));
  const r = await fuzzHttp({ port: server.port, pid: server.child.pid, requests: 100_000, seconds: 8, seed: 2026, outDir: out });
  console.log(`[fuzz] ${r.requests} HTTP requests: ${JSON.stringify(r.byStatus)}`);
  assert.ok(r.requests > 20, `only ${r.requests} requests ran`);
  assert.deepEqual(r.findings.map((f) => `${f.kind} ${f.detail} → ${f.reproducer}`), []);
  const health = await fetch(`http://127.0.0.1:${server.port}/health`);
  assert.equal(health.status, 200);
});

test("saved HTTP reproducers get no 5xx", async () => {
  const dir = path.resolve("test/fuzz/reproducers");
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith("http-")) : [];
  const { connect } = await import("node:net");
  for (const f of files) {
    const raw = readFileSync(path.join(dir, f), "latin1").replace(/^host: .*$/im, `host: 127.0.0.1:${server.port}`);
    const status = await new Promise<number>((resolve) => {
      const sock = connect(server.port, "127.0.0.1", () => sock.write(Buffer.from(raw, "latin1")));
      let head = "";
      const timer = setTimeout(() => { sock.destroy(); resolve(-1); }, 5000);
      sock.on("data", (d: Buffer) => {
        head += d.toString("latin1");
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        if (m) { clearTimeout(timer); sock.destroy(); resolve(Number(m[1])); }
      });
      sock.on("error", () => { clearTimeout(timer); resolve(0); });
    });
    assert.ok(status >= 0 && status < 500, `${f}: status ${status}`);
  }
});
