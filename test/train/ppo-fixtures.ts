// Shared by the PPO CLI tests (ppo-run, ppo-ptx): a reward-model folder made from zhiyu-mini and a prompts file.
// Leaves out: a trained reward model (the score head is seeded, enough for a run's mechanics, not its quality).
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Rng } from "../../src/core/rng.js";
import { TrainModel } from "../../src/train/model.js";

export const ZHIYU_MINI = path.resolve("models/zhiyu-mini");

/** A reward-model folder (zhiyu-mini's trunk with a seeded score head) and a prompts JSONL file, both in `dir`. */
export function rewardModelAndPrompts(dir: string, prompts: string[]): { rmDir: string; data: string } {
  const rm = TrainModel.fromHfFolder(ZHIYU_MINI, "f32", { rng: new Rng(5) });
  const rmDir = path.join(dir, "rm");
  mkdirSync(rmDir);
  rm.saveSafetensors(path.join(rmDir, "model.safetensors"));
  writeFileSync(path.join(rmDir, "config.json"), JSON.stringify(rm.configJson()));
  copyFileSync(path.join(ZHIYU_MINI, "tokenizer.json"), path.join(rmDir, "tokenizer.json"));
  const data = path.join(dir, "prompts.jsonl");
  writeFileSync(data, prompts.map((p) => JSON.stringify({ prompt: p })).join("\n"));
  return { rmDir, data };
}
