// `zhiyu desk <subcommand>`: the contact-centre assistant's commands. Each subcommand lives in its own file under
// ./desk/ and exports `run(argv)`; this file only dispatches. `route`, `train` and `eval` are the understanding
// side (src/apps/contact-centre/understanding, training); the bare `zhiyu desk [--config FILE] [--db URL]` starts the
// desk server once ./desk/serve.ts exists (the product side adds it and its name to SUBCOMMANDS).
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.js";

const SUBCOMMANDS: Record<string, string> = {
  route: "per-turn understanding of JSONL turns (intent, confidence, emotion, hand-off)",
  train: "train the intent and emotion models of a configuration",
  eval: "accuracy on banking77 | clinc150 | smp2017 | clue-emotion | handoff",
};

const here = path.dirname(fileURLToPath(import.meta.url));
const EXT = path.extname(fileURLToPath(import.meta.url));

function help(): string {
  const rows = Object.entries(SUBCOMMANDS).map(([name, what]) => `  ${name.padEnd(8)} ${what}`);
  return ["usage: zhiyu desk <subcommand> [options]      (zhiyu desk <subcommand> --help)", "", ...rows].join("\n");
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "--help" || sub === "-h" || sub === "help") {
    console.log(help());
    return 0;
  }
  // The bare command (or one starting with a flag) is the server, when it is installed.
  const name = sub === undefined || sub.startsWith("-") ? "serve" : sub;
  const args = name === "serve" && sub !== "serve" ? argv : rest;
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !existsSync(path.join(here, "desk", `${name}${EXT}`))) {
    if (name === "serve") throw new UsageError(`desk: the desk server is not installed in this build\n\n${help()}`);
    throw new UsageError(`desk: unknown subcommand '${name}'\n\n${help()}`);
  }
  const mod = (await import(`./desk/${name}.js`)) as { run: (argv: string[]) => Promise<number | void> };
  const code = await mod.run(args);
  return typeof code === "number" ? code : 0;
}
