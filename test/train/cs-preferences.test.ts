// dev/alignment/make-cs-preferences.ts --all-kinds writes its training pairs in a shuffled order: a turn's four
// pairs (rude, wrong, ignore, generic) are made together, and until session 10 the shuffle meant to part them ran
// after the files were written, so every training batch held four corruptions of the same reply. Runs the script on
// the CrossWOZ test dialogues in ../shared/data
// (with --sft-swaps 1, whose value-swapped SFT chats must keep reply and grounding consistent; and with --val-prompts,
// whose validation turns must be new and leave every other file as it was) (skipped where that data is absent) and
// reads its files back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const data = path.resolve("../shared/data/crosswoz/test.json.zip");
type Pair = { prompt: unknown; kind: string };
const read = (file: string): Pair[] => readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Pair);

test("--all-kinds: the training pairs of one turn are not written next to each other", { skip: existsSync(data) ? false : `${data} absent` }, () => {
  const out = mkdtempSync(path.join(tmpdir(), "cs-prefs-"));
  try {
    const r = spawnSync(process.execPath, ["--import", "tsx", "dev/alignment/make-cs-preferences.ts", out, "7", "--all-kinds", "--sft-swaps", "1"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const train = read(path.join(out, "pairs-train.jsonl"));
    const prompts = read(path.join(out, "prompts-train.jsonl"));
    // every training turn still has its four pairs (the shuffle moves pairs, it drops or adds none; a few turns of
    // different dialogues have the same prompt, so a prompt has a multiple of four)
    const byPrompt = new Map<string, number>();
    for (const p of train) byPrompt.set(JSON.stringify(p.prompt), (byPrompt.get(JSON.stringify(p.prompt)) ?? 0) + 1);
    assert.equal(byPrompt.size, prompts.length);
    assert.ok([...byPrompt.values()].every((n) => n % 4 === 0));
    // in turn order 3 of every 4 neighbouring pairs share a prompt; shuffled, about 3 in (number of pairs)
    let samePrompt = 0;
    for (let i = 1; i < train.length; i++) if (JSON.stringify(train[i]!.prompt) === JSON.stringify(train[i - 1]!.prompt)) samePrompt++;
    assert.ok(samePrompt / (train.length - 1) < 0.02, `${samePrompt} of ${train.length - 1} neighbouring training pairs share a prompt`);
    // the prompt file keeps the turns' order: its first prompt is the first turn's, not the shuffle's first
    assert.notDeepEqual(prompts.map((p) => JSON.stringify(p.prompt)).slice(0, 20), train.slice(0, 20).map((p) => JSON.stringify(p.prompt)));
    // --sft-swaps: the swapped chats are training chats whose grounded values changed together in grounding and reply
    type Chat = { messages: { role: string; content: string }[] };
    const chats = (f: string) => readFileSync(path.join(out, f), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Chat);
    const sft = chats("sft-train.jsonl"), swapped = chats("sft-train-swapped.jsonl");
    assert.ok(swapped.length > 0.9 * sft.length && swapped.length <= sft.length, `${swapped.length} swapped chats for ${sft.length}`);
    const values = (c: Chat) => c.messages[0]!.content.replace(/^资料：/, "").split("；").map((f) => f.slice(f.indexOf("：") + 1));
    const grounded = swapped.filter((c) => values(c).every((v) => c.messages[2]!.content.includes(v)));
    assert.ok(grounded.length > 0.98 * swapped.length, `${grounded.length} of ${swapped.length} swapped replies hold their grounding's values`);
    // and they are new prompts, not copies of the training ones
    const originalPrompts = new Set(sft.map((c) => c.messages[0]!.content + c.messages[1]!.content));
    assert.ok(swapped.filter((c) => originalPrompts.has(c.messages[0]!.content + c.messages[1]!.content)).length < 0.05 * swapped.length);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("--val-prompts: fresh value-swapped and scrambled validation turns, every other file unchanged", { skip: existsSync(data) ? false : `${data} absent` }, () => {
  const plain = mkdtempSync(path.join(tmpdir(), "cs-prefs-plain-"));
  const withVal = mkdtempSync(path.join(tmpdir(), "cs-prefs-val-"));
  try {
    for (const [out, extra] of [[plain, []], [withVal, ["--val-prompts", "40"]]] as const) {
      const r = spawnSync(process.execPath, ["--import", "tsx", "dev/alignment/make-cs-preferences.ts", out, "7", "--sft-random", "1", ...extra], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    }
    for (const f of readdirSync(plain)) assert.deepEqual(readFileSync(path.join(withVal, f)), readFileSync(path.join(plain, f)), `${f} changed`);
    type Msg = { role: string; content: string };
    type Row = { prompt: Msg[]; chosen: Msg[]; rejected: Msg[]; kind: string };
    const rows = (f: string) => readFileSync(path.join(withVal, f), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Row);
    const sft = readFileSync(path.join(withVal, "sft-train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { messages: Msg[] });
    const trainReplies = new Set(sft.map((c) => c.messages[2]!.content));
    const trainPrompts = new Set(readFileSync(path.join(withVal, "prompts-train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.stringify((JSON.parse(l) as Row).prompt)));
    const heldPrompts = new Set(readFileSync(path.join(withVal, "prompts-heldout.jsonl"), "utf8").trim().split("\n").map((l) => JSON.stringify((JSON.parse(l) as Row).prompt)));
    const scrambledChats = readFileSync(path.join(withVal, "sft-train-random.jsonl"), "utf8");
    const values = (prompt: Msg[]) => prompt[0]!.content.replace(/^资料：/, "").split("；").map((f) => f.slice(f.indexOf("：") + 1));
    for (const kind of ["val-swap", "val-random"]) {
      const pairs = rows(`pairs-${kind}.jsonl`);
      const prompts = rows(`prompts-${kind}.jsonl`);
      assert.equal(pairs.length, 40);
      assert.deepEqual(prompts.map((p) => p.prompt), pairs.map((p) => p.prompt));
      assert.ok(pairs.every((p) => p.kind === kind));
      // rejected is a training turn's own reply; chosen holds the new values, in a prompt no split has
      assert.ok(pairs.every((p) => trainReplies.has(p.rejected[0]!.content)), `${kind}: a rejected reply that is no training reply`);
      assert.ok(pairs.every((p) => !trainPrompts.has(JSON.stringify(p.prompt)) && !heldPrompts.has(JSON.stringify(p.prompt))), `${kind}: a validation prompt in a split`);
      const consistent = pairs.filter((p) => values(p.prompt).some((v) => p.chosen[0]!.content.includes(v)));
      assert.ok(consistent.length >= 0.95 * pairs.length, `${kind}: ${consistent.length} of ${pairs.length} replies hold a grounding value`);
      if (kind === "val-random") {
        const fresh = pairs.flatMap((p) => values(p.prompt)).filter((v) => v.length >= 4);
        assert.ok(fresh.length > 20 && fresh.every((v) => !scrambledChats.includes(v)), "a scrambled validation value is in the training chats");
      }
    }
  } finally {
    rmSync(plain, { recursive: true, force: true });
    rmSync(withVal, { recursive: true, force: true });
  }
});
