// Builds the native addon with npm's own node-gyp (no download: headers come from the local Node install).
// A failed build is not fatal: Zhiyu falls back to the pure-TypeScript reference backend and says so once.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const verbose = process.argv.includes("--verbose");
const require = createRequire(import.meta.url);

function nodeGypPath() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const npmDir = path.dirname(path.dirname(process.execPath));
  const candidates = [
    path.join(npmDir, "lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"),
    "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    "/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
  ];
  for (const c of candidates) if (existsSync(c)) return c;
  try { return require.resolve("node-gyp/bin/node-gyp.js"); } catch { return null; }
}

const gyp = nodeGypPath();
if (!gyp) {
  console.warn("zhiyu: node-gyp not found; the native backend was not built (the reference backend will be used).");
  process.exit(0);
}
// --incremental (development): rebuild only what changed, keeping build/Release/*.node in place meanwhile.
const incremental = process.argv.includes("--incremental") && existsSync("build/Makefile");
const args = [gyp, incremental ? "build" : "rebuild", "-j", "max"];
if (!process.env.npm_config_nodedir && existsSync("/usr/include/node/node_api.h")) args.push("--nodedir=/usr");
const res = spawnSync(process.execPath, args, { stdio: verbose ? "inherit" : ["ignore", "pipe", "pipe"], encoding: "utf8" });
if (res.status !== 0) {
  if (!verbose) process.stderr.write((res.stdout ?? "") .slice(-4000) + (res.stderr ?? "").slice(-4000));
  console.warn("zhiyu: the native addon failed to build; Zhiyu will run on the pure-TypeScript reference backend.");
  process.exit(0);
}
console.log("zhiyu: native addon built (build/Release/zhiyu_native.node)");
