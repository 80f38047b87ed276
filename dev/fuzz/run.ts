// The long fuzzing run: `npm run fuzz -- --minutes N [--seed S] [--http-requests R] [--http-share F] [--http-concurrency C] [--out DIR]`. Splits the time
// between the six file targets (round-robin slices, so every target gets inputs even if the run is cut short) and
// HTTP fuzzing against a live `zhiyu serve`, prints a summary table and writes it to OUT/summary.json; reproducers go
// to OUT (default dev/fuzz/findings/, not tracked). Exit status 1 when anything was found.
// Run it niced on a shared machine: `nice -n 19 npm run fuzz -- --minutes 30`.
// Leaves out: parallel workers per target (the machine is shared; one worker at a time).
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { runFileFuzz, RSS_BOUND_MIB, type FileFuzzResult } from "./files.js";
import { fuzzHttp, startLiveServer, type HttpFuzzResult } from "./http.js";
import { TARGETS } from "./targets.js";

const { values } = parseArgs({ options: { minutes: { type: "string" }, seed: { type: "string" }, "http-requests": { type: "string" },
  out: { type: "string" }, testdata: { type: "string" }, "http-share": { type: "string" }, "http-concurrency": { type: "string" } } });
const minutes = Number(values.minutes ?? 10);
const seed = Number(values.seed ?? Date.now() % 1_000_000);
const httpRequests = Number(values["http-requests"] ?? 12_000);
const httpShare = Number(values["http-share"] ?? 0.3);
// Clients at once: requests that wait (time limits, slow bodies) leave the server idle with too few.
const httpConcurrency = Number(values["http-concurrency"] ?? 4);
const out = path.resolve(values.out ?? "dev/fuzz/findings");
const testdata = path.resolve(values.testdata ?? "../shared/testdata");
const work = path.join(os.tmpdir(), `zhiyu-fuzz-${process.pid}`);
mkdirSync(out, { recursive: true });

const fileSeconds = minutes * 60 * (1 - httpShare);
const slices = 4;
const totals = new Map<string, FileFuzzResult>();
const t0 = Date.now();
for (let s = 0; s < slices; s++) {
  for (const target of TARGETS) {
    // One worker per (slice, target): a crash or hang ends only that worker; its finding is saved and the run goes on.
    let left = fileSeconds / slices / TARGETS.length;
    let round = 0;
    while (left > 1) {
      const [r] = await runFileFuzz({ targets: [target], maxInputs: 1e9, secondsPerTarget: left, seed: seed + s * 1000 + round++ * 100_000,
        workDir: work, outDir: out, testdata, deepEvery: 25 });
      const prev = totals.get(target);
      const knownOpen = { ...prev?.knownOpen };
      for (const [k, n] of Object.entries(r.knownOpen)) knownOpen[k] = (knownOpen[k] ?? 0) + n;
      totals.set(target, prev ? { ...prev, knownOpen, inputs: prev.inputs + r.inputs, findings: [...prev.findings, ...r.findings],
        peakRssMiB: Math.max(prev.peakRssMiB, r.peakRssMiB), seconds: prev.seconds + r.seconds } : r);
      console.log(`[fuzz] slice ${s + 1}/${slices} ${target}: ${r.inputs} inputs, ${r.findings.length} findings`);
      left -= Math.max(r.seconds, 1); // fuzzing time only: worker start does not count
    }
  }
}
const server = await startLiveServer(process.cwd());
let http: HttpFuzzResult;
try {
  http = await fuzzHttp({ port: server.port, pid: server.child.pid, requests: httpRequests, seconds: minutes * 60 * httpShare + 60, seed, outDir: out,
    concurrency: httpConcurrency });
} finally {
  await server.close();
}
rmSync(work, { recursive: true, force: true });

const files = [...totals.values()];
const summary = {
  seed, minutes: (Date.now() - t0) / 60000, rssBoundMiB: RSS_BOUND_MIB,
  fileInputs: files.reduce((s, r) => s + r.inputs, 0),
  files: files.map((r) => ({ target: r.target, inputs: r.inputs, findings: r.findings.length, knownOpen: r.knownOpen, peakRssMiB: Math.round(r.peakRssMiB),
    kinds: r.findings.reduce((m: Record<string, number>, f) => ({ ...m, [f.kind]: (m[f.kind] ?? 0) + 1 }), {}) })),
  http: { requests: http.requests, byStatus: http.byStatus, findings: http.findings.length, knownOpen: http.knownOpen, serverRssMiB: http.serverRssMiB },
  findings: [...files.flatMap((r) => r.findings), ...http.findings].map((f) => ({ ...f, reproducer: path.relative(process.cwd(), f.reproducer) })),
};
writeFileSync(path.join(out, "summary.json"), JSON.stringify(summary, null, 2));
console.table(summary.files);
console.log(`file inputs ${summary.fileInputs}; HTTP requests ${http.requests} (${JSON.stringify(http.byStatus)}); server RSS ` +
  `${http.serverRssMiB.before.toFixed(0)} → ${http.serverRssMiB.after.toFixed(0)} MiB; findings ${summary.findings.length} (see ${out})`);
process.exit(summary.findings.length > 0 ? 1 : 0);
