// `zhiyu doctor`: what Zhiyu will run on here — Node version, backend, ISA level, threads.
import { createRequire } from "node:module";

export async function run(_argv: string[]): Promise<number> {
  const require = createRequire(import.meta.url);
  let backend = "ref (pure TypeScript)";
  let isa = "portable";
  let threads = 1;
  try {
    const native = require("../../../build/Release/zhiyu_native.node") as { isa(): string; threads(): number };
    backend = "cpu (native)";
    isa = native.isa();
    threads = native.threads();
  } catch {
    /* reference backend */
  }
  console.log(`zhiyu doctor\n  node     ${process.version}\n  backend  ${backend}\n  isa      ${isa}\n  threads  ${threads}`);
  return 0;
}
