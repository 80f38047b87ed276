// The inspector a configuration asks for: its `inspection` rubric (the default rubric when it has none), the
// emotion and rudeness models from its model folder (falling back to the shipped models/contact-centre when the
// folder lacks them), facts files resolved against the configuration's folder. Shared by `zhiyu inspect`,
// `zhiyu bench inspect` and the desk server's automatic inspection of closed conversations.
// Leaves out: training the emotion model (`zhiyu desk train` does).
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { LoadedConfig } from "../config.js";
import { Inspector } from "./engine.js";
import { loadEmotionScorer } from "./model-checks.js";
import { DEFAULT_RUBRIC, type RubricConfig } from "./rubric.js";

/** models/contact-centre of this package. */
export const SHIPPED_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../models/contact-centre");

export function rubricOf(config: LoadedConfig | null): RubricConfig {
  return config?.inspection ?? DEFAULT_RUBRIC;
}

export function inspectorFor(config: LoadedConfig | null, o: { rulesOnly?: boolean } = {}): Inspector {
  const rubric = rubricOf(config);
  if (o.rulesOnly) return new Inspector(rubric, null, config?.baseDir ?? ".");
  const dir = config && existsSync(path.join(config.understanding.model_dir, "emotion.zdcm")) ? config.understanding.model_dir : SHIPPED_MODEL_DIR;
  return new Inspector(rubric, loadEmotionScorer(dir), config?.baseDir ?? ".");
}
