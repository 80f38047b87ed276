// Flags shared by the `zhiyu desk` subcommands: the configuration file and the data folder.
// Leaves out: server flags (the desk server's own file).
import path from "node:path";
import { DEFAULT_CONFIG_PATH, loadConfig, type LoadedConfig } from "../../../apps/contact-centre/config.js";

/** The configuration of --config, or the default one `npm start` uses. */
export function configFromFlag(file: string | undefined): LoadedConfig {
  return loadConfig(file === undefined ? DEFAULT_CONFIG_PATH : path.resolve(file));
}

/** --data DIR or ../shared/data (relative to the working directory, as the other commands). */
export function dataRootFromFlag(dir: string | undefined): string {
  return path.resolve(dir ?? "../shared/data");
}
