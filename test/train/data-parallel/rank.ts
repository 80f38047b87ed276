// One rank of a data-parallel training run, started by mpirun from test/train/data-parallel.test.ts (or alone, as
// the single-process reference): the CLI's launch (src/cli/data-parallel-launch.ts) and the library's runTraining,
// then this rank writes its final parameters (every tensor in model order, raw f32) and its per-step losses to
// OUT/rank-R.bin and OUT/rank-R.json (with the log's data-parallel line: which exchange path it took), so the test compares ranks bit for bit with files the code under test did
// not judge. Usage: node --import tsx rank.ts OUT_DIR <zhiyu train flags…>
import { writeFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../../src/backend/index.js";
import { launchDataParallel, runRank } from "../../../src/cli/data-parallel-launch.js";
import { parseTrainArgs, resolveOptions } from "../../../src/cli/commands/train.js";
import { runTraining } from "../../../src/train/trainer.js";

const [outDir, ...args] = process.argv.slice(2);
const launch = launchDataParallel("train", args);
if (!launch.standDown) {
  const parsed = parseTrainArgs(launch.argv);
  if (parsed === "help") throw new Error("rank.ts: give training flags");
  const options = resolveOptions(parsed);
  const backend = createBackend({ threads: options.threads ?? launch.threadsPerRank });
  // The run's log is kept only for its data-parallel line (which exchange path the ranks took).
  let log = "";
  const quiet = { write: (t: string) => { log += t; }, isTTY: false };
  await runRank(launch, "train", async () => {
    const r = await runTraining({ options, backend, stdout: quiet, stderr: quiet, distributed: launch.settings });
    const path_ = log.split("\n").find((l) => l.startsWith("data-parallel over")) ?? null;
    const parts = r.model.specs.map((s) => r.model.params.get(s.name)!.toFloat32Array());
    const bytes = Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
    writeFileSync(path.join(outDir!, `rank-${launch.rank}.bin`), bytes);
    writeFileSync(path.join(outDir!, `rank-${launch.rank}.json`), JSON.stringify({ losses: r.losses, finalStep: r.finalStep, dataParallel: path_ }));
  });
}
