// The shipped default model (models/zhiyu-mini, made by `zhiyu recipe recipes/zhiyu-mini.json`), used by chat,
// generate and serve when no --model is given. Found relative to this file so the commands work from any folder.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "./errors.js";

export const DEFAULT_MODEL_DIR = fileURLToPath(new URL("../../models/zhiyu-mini", import.meta.url));

export function hasDefaultModel(): boolean {
  return existsSync(path.join(DEFAULT_MODEL_DIR, "config.json"));
}

/** The --model value, or the default model; a usage error (with the command's help) when neither exists. */
export function modelOrDefault(model: string | undefined, help: string): string {
  if (model) return model;
  if (!hasDefaultModel()) {
    throw new UsageError(`--model is required (the default model ${DEFAULT_MODEL_DIR} is not there)\n\n${help}`);
  }
  return DEFAULT_MODEL_DIR;
}
