// Lists the C/C++ sources under native/ for binding.gyp, so that adding a kernel file needs no edit there.
import { readdirSync } from "node:fs";
const files = readdirSync(new URL("../native/", import.meta.url))
  .filter((f) => /\.(c|cc)$/.test(f))
  .sort()
  .map((f) => `native/${f}`);
process.stdout.write(files.join(" ") + "\n");
