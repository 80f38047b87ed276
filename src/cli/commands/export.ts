// `zhiyu export --from RUN --to deepspeed DIR`: hands a training run over to PyTorch/DeepSpeed (the folder's
// contents: src/train/deepspeed-export.ts; when to use it: docs/scaling-out.md).
// Leaves out: other targets (`zhiyu convert` writes HF folders and GGUF files).
import { createBackend } from "../../backend/index.js";
import { setDefaultBackend } from "../../tensor/index.js";
import { exportDeepSpeed } from "../../train/deepspeed-export.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";

const HELP = `usage: zhiyu export --from RUN|CHECKPOINT --to deepspeed DIR [--steps N] [--zero 2|3]

  --from      a zhiyu train run folder (its newest checkpoint) or one checkpoint folder
  --to        deepspeed DIR: the HF folder, AdamW moments, ds_config.json, zhiyu_run.json, the next steps' batches
              in Zhiyu's data order, train.py and launch.sh (DeepSpeed on GPUs, else plain PyTorch)
  --steps N   steps of data order to write (default: the rest of the run, at most 1000)
  --zero S    DeepSpeed ZeRO stage in ds_config.json (2)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags({
    args: argv, allowPositionals: true,
    options: { from: { type: "string" }, to: { type: "string" }, steps: { type: "string" }, zero: { type: "string" },
      help: { type: "boolean", short: "h" } },
  }, HELP);
  if (values.help) { console.log(HELP); return 0; }
  if (values.to !== "deepspeed" || positionals.length !== 1) {
    throw new UsageError(`export: give --to deepspeed and one output folder (got --to ${values.to ?? "nothing"}, ` +
      `${positionals.length} folder(s))\n\n${HELP}`);
  }
  if (!values.from) throw new UsageError(`export: --from RUN|CHECKPOINT is required\n\n${HELP}`);
  const steps = values.steps === undefined ? null : Number(values.steps);
  if (steps !== null && !(Number.isInteger(steps) && steps >= 1)) throw new UsageError(`--steps ${values.steps} must be a positive integer`);
  const zero = Number(values.zero ?? 2);
  if (zero !== 2 && zero !== 3) throw new UsageError(`--zero ${values.zero} must be 2 or 3`);
  setDefaultBackend(createBackend({}));
  const r = exportDeepSpeed({ from: values.from, out: positionals[0]!, steps, zeroStage: zero });
  console.log(`wrote ${positionals[0]} (${r.files.join(", ")}): continues from step ${r.startStep} for ${r.steps} steps; ` +
    `run ${positionals[0]}/launch.sh`);
  return 0;
}
