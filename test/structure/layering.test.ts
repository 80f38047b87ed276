// The dependency-direction check (layering.ts) on this repo, and proof that it fails: a temporary copy of src/
// with a file that imports upward, and small fixture trees for each rule, allowance and import form.
// Leaves out: the rules themselves (layering.ts says them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { checkLayering, type Allowance } from "./layering.js";

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), "zhiyu-layering-"));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
  return root;
}

test("src/ follows the dependency direction (every allowance still needed)", (t) => {
  const report = checkLayering(".");
  for (const [from, tos] of [...report.edges].sort())
    t.diagnostic(`${from} → ${[...tos].sort().map(([to, n]) => `${to} (${n})`).join(", ")}`);
  assert.deepEqual(report.violations.map((v) => v.message), []);
  assert.deepEqual(report.staleAllowances.map((a) => `${a.from} → ${a.to}: no longer needed, delete it from ALLOWANCES`), []);
});

test("a temporary file in a copy of src/ that imports upward fails the check", () => {
  const root = mkdtempSync(path.join(tmpdir(), "zhiyu-layering-copy-"));
  try {
    cpSync("src", path.join(root, "src"), { recursive: true });
    assert.deepEqual(checkLayering(root).violations, []);
    writeFileSync(path.join(root, "src/tensor/upward.ts"), 'import { loadModel } from "../infer/load.js";\nexport const x = loadModel;\n');
    const { violations } = checkLayering(root);
    assert.equal(violations.length, 1);
    assert.match(violations[0].message, /^src\/tensor\/upward\.ts imports "\.\.\/infer\/load\.js": src\/tensor\/ may not import src\/infer\//);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("each named rule fails when broken: backend→tensor, models→tokenizers/train/infer/serve, train→infer, anything→apps, serve→tensor", () => {
  const root = tree({
    "src/backend/b.ts": 'import type { Tensor } from "../tensor/tensor.js";\n',
    "src/models/m.ts": 'import { A } from "../tokenizers/a.js";\nimport "../train/t.js";\nexport * from "../infer/i.js";\nconst s = await import("../serve/s.js");\n',
    "src/train/t.ts": 'import { generate } from "../infer/generate.js";\n',
    "src/serve/s.ts": 'import { Tensor } from "../tensor/tensor.js";\nimport { app } from "../apps/shop/app.js";\n',
    "src/cli/c.ts": 'import { app } from "../apps/shop/app.js";\nimport { serve } from "../serve/s.js";\n',
    "src/apps/shop/app.ts": 'import { serve } from "../../serve/s.js";\n',
  });
  try {
    const got = checkLayering(root, undefined, []).violations.map((v) => `${v.file} → ${v.imports}`);
    assert.deepEqual(got.sort(), [
      "src/backend/b.ts → ../tensor/tensor.js",
      "src/models/m.ts → ../infer/i.js",
      "src/models/m.ts → ../serve/s.js",
      "src/models/m.ts → ../tokenizers/a.js",
      "src/models/m.ts → ../train/t.js",
      "src/serve/s.ts → ../apps/shop/app.js",
      "src/serve/s.ts → ../tensor/tensor.js",
      "src/train/t.ts → ../infer/generate.js",
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("imports in comments and strings do not count; multi-line re-exports do; src/ importing dev/ fails; unknown folders fail", () => {
  const root = tree({
    "src/core/a.ts": '// import { x } from "../cli/main.js";\nconst s = "import y from \'../cli/main.js\'";\nexport {\n  z,\n} from\n  "../cli/z.js";\n',
    "src/io/b.ts": 'import { bench } from "../../dev/gemm/bench.js";\n',
    "src/newthing/c.ts": "export const c = 1;\n",
    "src/loose.ts": "export const d = 1;\n",
  });
  try {
    const messages = checkLayering(root, undefined, []).violations.map((v) => v.message);
    assert.equal(messages.length, 4, messages.join("\n"));
    assert.ok(messages.some((m) => /src\/core\/a\.ts imports "\.\.\/cli\/z\.js": src\/core\/ may not import src\/cli\/ \(it may import: nothing\)/.test(m)));
    assert.ok(messages.some((m) => /src\/ never imports from outside src\/ \(dev\/gemm\/bench\.ts\)/.test(m)));
    assert.ok(messages.some((m) => /src\/newthing\/ is not in the layer table: add it to MAY_IMPORT/.test(m)));
    assert.ok(messages.some((m) => /src\/loose\.ts lies directly in src\//.test(m)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("an allowance admits exactly the named import, and one no import needs is reported stale", () => {
  const root = tree({
    "src/train/sft.ts": 'import { render } from "../infer/chat-template.js";\nimport { generate } from "../infer/generate.js";\n',
  });
  const allowances: Allowance[] = [
    { from: "src/train/", to: "src/infer/chat-template.ts", why: "test" },
    { from: "src/models/old.ts", to: "src/infer/load.ts", why: "test" },
  ];
  try {
    const report = checkLayering(root, undefined, allowances);
    assert.deepEqual(report.violations.map((v) => v.imports), ["../infer/generate.js"]);
    assert.deepEqual(report.staleAllowances, [allowances[1]]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
