// readSingleEntryZip against the archives in ../shared/data (their README gives the dialogue counts) and malformed input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { readSingleEntryZip, ZipError } from "../../src/io/zip.js";

const crosswoz = path.resolve("../shared/data/crosswoz");

test("CrossWOZ test.json.zip unpacks to the 500 dialogues its README lists", () => {
  const json = readSingleEntryZip(readFileSync(path.join(crosswoz, "test.json.zip")), "test.json.zip").toString("utf8");
  assert.equal(Object.keys(JSON.parse(json) as object).length, 500);
});

test("malformed archives throw ZipError naming the file and the problem", () => {
  assert.throws(() => readSingleEntryZip(Buffer.from("not a zip at all, just text........"), "x.zip"), (e: unknown) =>
    e instanceof ZipError && /x\.zip: not a zip archive/.test(e.message));
  const real = readFileSync(path.join(crosswoz, "test.json.zip"));
  assert.throws(() => readSingleEntryZip(real.subarray(0, 1000), "cut.zip"), ZipError);
});
