// `zhiyu doctor` reports the backend, ISA and threads, honours --threads and passes its self-test, and lists the
// decode kernels tuned for this CPU (tests at the end).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { cpu } from "./harness.js";

test("zhiyu doctor --threads 1 reports the backend and a passing self-test", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "doctor", "--threads", "1"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /backend +(cpu|ref)/);
  assert.match(r.stdout, /isa +\S+/);
  if (cpu) {
    assert.match(r.stdout, /threads +1\n/);
    assert.match(r.stdout, /selftest +ok/);
  }
});

test("zhiyu doctor rejects a bad --threads value", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "doctor", "--threads", "zero"], { encoding: "utf8" });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--threads must be a positive integer/);
});

// Decode-kernel tuning through the CLI (src/cli/tuning-flags.ts → src/backend/cpu/tuning.ts), with the cache in a
// temporary XDG_CACHE_HOME: doctor --tune measures a model's shapes and lists them; a corrupt cache is ignored with a
// warning; --no-tune shows tuning off; generate gives the same tokens tuned and with --no-tune.
const TINY = "../shared/testdata/gguf/dev-llama-tok512-q4_0-pure.gguf";
function zhiyu(args: string[], cacheHome: string) {
  return spawnSync(process.execPath, ["bin/zhiyu.mjs", ...args], { encoding: "utf8", env: { ...process.env, XDG_CACHE_HOME: cacheHome, ZHIYU_NO_TUNE: "" } });
}

test("zhiyu doctor --tune --model measures and lists each shape; a corrupt cache is ignored with a warning; --no-tune", { skip: !cpu }, () => {
  const home = mkdtempSync(path.join(tmpdir(), "zhiyu-doctor-"));
  try {
    const r = zhiyu(["doctor", "--tune", "--model", TINY], home);
    assert.equal(r.status, 0, r.stderr);
    const file = path.join(home, "zhiyu", "tuning.json");
    assert.match(r.stdout, new RegExp(`tuning +on; cache ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    assert.match(r.stdout, /q4_0_r16 \d+x\d+ t\d+ ws\d+MiB: \S+ \(measured\) — µs per matrix: pf0-c2 [\d.]+, /);
    assert.ok(existsSync(file));
    const again = zhiyu(["doctor"], home);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /q4_0_r16 \d+x\d+ t\d+ ws\d+MiB: \S+ \(cached\)/);
    assert.equal(again.stderr, "");
    writeFileSync(file, "{ truncated");
    const bad = zhiyu(["doctor"], home);
    assert.equal(bad.status, 0, bad.stderr);
    assert.match(bad.stderr, /tuning cache .*tuning\.json is not valid JSON .*; ignoring it/);
    assert.match(bad.stdout, /no shapes tuned on this CPU yet/);
    const off = zhiyu(["doctor", "--no-tune"], home);
    assert.match(off.stdout, /tuning +off \(--no-tune or ZHIYU_NO_TUNE\)/);
    assert.match(zhiyu(["doctor", "--tune"], home).stderr, /--tune: --model F\.gguf is required/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("zhiyu generate: the same greedy tokens tuned and with --no-tune", { skip: !cpu }, () => {
  const home = mkdtempSync(path.join(tmpdir(), "zhiyu-doctor-"));
  try {
    const args = ["generate", "--model", "../shared/testdata/gguf/dev-llama-tok512-f16.gguf", "--prompt-ids", "1,17,42", "--temperature", "0",
      "--max-tokens", "12", "--json"];
    const tuned = zhiyu(args, home), fixed = zhiyu([...args, "--no-tune"], home);
    assert.equal(tuned.status, 0, tuned.stderr);
    assert.equal(fixed.status, 0, fixed.stderr);
    assert.deepEqual(JSON.parse(tuned.stdout).ids, JSON.parse(fixed.stdout).ids);
    assert.ok(existsSync(path.join(home, "zhiyu", "tuning.json")), "the tuned run wrote the cache");
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
