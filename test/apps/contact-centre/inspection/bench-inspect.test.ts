// `zhiyu bench inspect` runs end to end (short timing) and reports both speeds and every family's precision/recall.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const skip = existsSync("../shared/data/crosswoz/val.json.zip") ? false : "../shared/data is missing";

test("zhiyu bench inspect --json: conversations/s rules-only and with models, P/R per family", { skip, timeout: 120_000 }, () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "bench", "inspect", "--seconds", "0.2", "--json"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { conversations_per_s: Record<string, number>; families: { family: string; precision: number; recall: number }[]; loaded_machine: boolean };
  assert.ok(out.conversations_per_s["rules-only"] > 0 && out.conversations_per_s["with-models"] > 0);
  assert.deepEqual(out.families.map((f) => f.family), ["greeting", "forbidden", "pii", "rudeness", "kb", "sla", "resolution"]);
  assert.equal(typeof out.loaded_machine, "boolean");
});
