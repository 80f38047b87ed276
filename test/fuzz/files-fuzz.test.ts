// The short, time-bounded file fuzzing run inside npm test (the long run is `npm run fuzz -- --minutes N`): every
// target — GGUF, safetensors, config.json, tokenizer.json, chat templates, JSON schemas — gets a few seconds of
// structure-aware mutations of the ../shared/testdata seeds fed to the real loaders and compilers in a watched
// worker; a crash, a hang (> 5 s), a peak RSS over the bound or an unclean exception fails the test and leaves the
// input as a reproducer (printed). Then every saved reproducer in test/fuzz/reproducers/ is replayed (open/ holds
// ones owned by unfinished work and is skipped).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runFileFuzz } from "../../dev/fuzz/files.js";
import { isCleanError, makeTargets, TARGETS, type TargetName } from "../../dev/fuzz/targets.js";

const testdata = path.resolve("../shared/testdata");
const out = mkdtempSync(path.join(os.tmpdir(), "zhiyu-fuzz-findings-"));
const SECONDS_PER_TARGET = 2.5;

test(`file fuzzing, ${SECONDS_PER_TARGET} s per target (fixed seed): no crash, hang, allocation over the bound or unclean exception`, async () => {
  const results = await runFileFuzz({ targets: TARGETS, maxInputs: 100_000, secondsPerTarget: SECONDS_PER_TARGET, seed: 2026,
    workDir: path.join(out, "work"), outDir: out, testdata, deepEvery: 20 });
  const summary = results.map((r) => `${r.target} ${r.inputs}`);
  const findings = results.flatMap((r) => r.findings.map((f) => `${f.target} ${f.kind} #${f.index}: ${f.detail} → ${f.reproducer}`));
  for (const r of results) assert.ok(r.inputs > 0 || findings.length > 0, `${r.target}: no input ran`);
  console.log(`[fuzz] inputs: ${summary.join(", ")}`);
  assert.deepEqual(findings, [], `fuzz findings (reproducers in ${out}; copy them to test/fuzz/reproducers/):\n${findings.join("\n")}`);
});

test("saved reproducers stay fixed", async () => {
  const dir = path.resolve("test/fuzz/reproducers");
  const targets = makeTargets(testdata);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => TARGETS.includes(f.split("-")[0] as TargetName)) : [];
  for (const f of files) {
    const file = path.join(dir, f);
    const t0 = performance.now();
    try {
      await targets[f.split("-")[0] as TargetName].run(file, readFileSync(file), mkdtempSync(path.join(out, "replay-")), true);
    } catch (err) {
      assert.ok(isCleanError(err, file), `${f}: ${(err as Error).name}: ${(err as Error).message}`);
    }
    assert.ok(performance.now() - t0 < 5000, `${f} took over 5 s`);
  }
});
