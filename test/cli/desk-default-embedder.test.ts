// Which shipped folder the desk's knowledge base embeds with by default: the plain encoder, never a classifier or
// tagger folder that shares its weights (a task folder sorting first by name must not win).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { shippedEncoderDir } from "../../src/cli/commands/desk/default-embedder.js";

test("the shipped models folder: zhiyu-encoder is the default embedder", () => {
  assert.equal(path.basename(shippedEncoderDir("models") ?? ""), "zhiyu-encoder");
});

test("a classifier or tagger folder that sorts first is skipped for the plain encoder", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zy-embedder-"));
  try {
    const config = JSON.parse(readFileSync("models/zhiyu-encoder/config.json", "utf8")) as Record<string, unknown>;
    const put = (name: string, architectures: string[]) => {
      mkdirSync(path.join(dir, name));
      writeFileSync(path.join(dir, name, "config.json"), JSON.stringify({ ...config, architectures }));
    };
    put("a-emotion", ["BertForSequenceClassification"]);
    put("b-slots", ["BertForTokenClassification"]);
    assert.equal(shippedEncoderDir(dir), undefined);
    put("c-encoder", ["BertModel"]);
    assert.equal(shippedEncoderDir(dir), path.join(dir, "c-encoder"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
