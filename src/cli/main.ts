// Entry point of the `zhiyu` command. Each sub-command lives in its own file under ./commands/ and exports
// `run(argv: string[]): Promise<number | void>`; this file only finds it and reports errors. It is the only
// place (with serve/) allowed to read process.argv and process.env.
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { formatCliError } from "./errors.js";

const commandsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "commands");
/** ".ts" when run from src/ through tsx, ".js" when run from the transpiled dist/. */
const EXT = path.extname(fileURLToPath(import.meta.url));

function listCommands(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith(EXT) && !f.includes("-"))
    .map((f) => f.slice(0, -EXT.length))
    .sort();
}

function usage(): string {
  return [
    "zhiyu — 智语: a large-language-model system in TypeScript",
    "",
    "usage: zhiyu <command> [options]        (zhiyu <command> --help for its options)",
    "",
    "commands: " + listCommands().join(", "),
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return 0;
  }
  if (!/^[a-z][a-z0-9]*$/.test(name) || !existsSync(path.join(commandsDir, `${name}${EXT}`))) {
    console.error(`zhiyu: unknown command '${name}'.\n\n${usage()}`);
    return 2;
  }
  const mod = (await import(`./commands/${name}.js`)) as { run: (argv: string[]) => Promise<number | void> };
  const code = await mod.run(rest);
  return typeof code === "number" ? code : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(formatCliError(err));
    process.exitCode = 1;
  },
);
