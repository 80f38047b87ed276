// Every command parses flags the same way (src/cli/flags.ts parseFlags): an unknown flag is an error that names
// the flag and ends with that command's help, exit status 1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

const COMMANDS: string[][] = [["generate"], ["chat"], ["serve"], ["convert"], ["eval"], ["data", "prepare"], ["detokenize"],
  ["doctor"], ["plot"], ["scaling", "fit"], ["tokenize"], ["tokenizer", "train"], ["bench", "gemm"], ["bench", "serve"],
  ["bench", "tokenize"]];

test("an unknown flag names itself and ends with the command's help", () => {
  for (const cmd of COMMANDS) {
    const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", ...cmd, "--no-such-flag"], { encoding: "utf8", input: "" });
    assert.equal(r.status, 1, `${cmd.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /--no-such-flag/, cmd.join(" "));
    assert.match(r.stderr, new RegExp(`\\n\\nusage: zhiyu ${cmd[0]}`), `${cmd.join(" ")} ends with its help:\n${r.stderr}`);
  }
});
