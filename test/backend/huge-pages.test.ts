// The cpu backend's huge-page advice for long-lived buffers (native/kv_memory.c, used by the KV cache): a hint that must
// never change a value or throw — on a buffer without a whole aligned 2 MiB page, on a view at an offset, on the three
// storage kinds — and that, on Linux with transparent huge pages allowed ("madvise" or "always"), is taken for a
// fresh buffer large enough to hold one.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { cpu, native, skipCpu, uniform } from "./harness.js";

test("adviseHugePages keeps every value of the buffers it is given, whatever their size, offset or kind", { skip: skipCpu }, () => {
  const big = uniform(3 << 20, 1); // 12 MiB: whole 2 MiB pages inside, already written
  const want = big.slice();
  const views = [big, big.subarray(12345), new Float32Array(0), uniform(100, 2), new Uint16Array(5 << 20).fill(0x3c00),
    new Int32Array(1 << 20).fill(-7)];
  const before = views.map((v) => v.slice());
  for (const v of views) cpu!.adviseHugePages!(v);
  views.forEach((v, i) => assert.deepEqual(v, before[i], `view ${i} (${v.constructor.name}, ${v.length} elements) changed`));
  assert.deepEqual(big, want);
});

const thp = "/sys/kernel/mm/transparent_hugepage/enabled";
const thpAllowed = existsSync(thp) && /\[(madvise|always)\]/.test(readFileSync(thp, "utf8"));

test("a fresh buffer holding an aligned 2 MiB page is advised where the system allows huge pages", {
  skip: skipCpu || (thpAllowed ? false : `transparent huge pages off or not Linux (${thp})`),
}, () => {
  // 8 MiB: at least three whole 2 MiB pages wherever the allocator puts it; a buffer under 2 MiB never has one.
  assert.equal(native!.opsAdviseHugePages!(new Float32Array(2 << 20)), true);
  assert.equal(native!.opsAdviseHugePages!(new Float32Array(1000)), false);
});
