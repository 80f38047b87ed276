// `zhiyu dpo --model DIR --data PAIRS --out DIR [--lora SPEC] [--beta 0.1] [--loss sigmoid|ipo|orpo] [--label-smoothing ε]`:
// Direct Preference Optimisation of a causal LM against its frozen starting point (reference log-probs computed
// once), all weights or LoRA adapters (then OUT/adapter/ and OUT/adapter.gguf). See src/train/objectives/dpo.ts.
// Under mpirun -np N it trains data-parallel like rm train (--grad-accum counts micro-batches over all ranks).
// --loss orpo trains ORPO instead (src/train/objectives/orpo.ts: no reference model; --beta is its odds-ratio weight).
// Leaves out: KTO.
import { readFrozenBase } from "../../infer/frozen-base.js";
import { createBackend } from "../../backend/index.js";
import { DEFAULT_DPO, type DpoLossType } from "../../train/objectives/dpo.js";
import { runDpoTraining } from "../../train/preference-run.js";
import { DATA_PARALLEL_HELP, launchDataParallel, runRank } from "../data-parallel-launch.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";
import { withStopSignals } from "../stop-signal.js";
import { PREFERENCE_FLAGS, PREFERENCE_FLAGS_HELP, preferenceOptions } from "./rm.js";

const HELP = `usage: zhiyu dpo --model DIR --data PAIRS --out DIR [options]

${PREFERENCE_FLAGS_HELP}
  --lora SPEC           train LoRA adapters (r=16,alpha=32,targets=q,k,v,o,gate,up,down); the reference is the base
  --beta B (${DEFAULT_DPO.beta})  --loss sigmoid|ipo|orpo (${DEFAULT_DPO.lossType}; orpo: ORPO, no reference model, β weighs the
                        odds-ratio term)  --label-smoothing ε (cDPO, sigmoid only; ${DEFAULT_DPO.labelSmoothing})
  ${DATA_PARALLEL_HELP}`;

export async function run(allArgs: string[]): Promise<number> {
  const launch = launchDataParallel("dpo", allArgs);
  if (launch.standDown) return 0;
  const s = { type: "string" } as const;
  const { values } = parseFlags({ args: launch.argv, options: { ...PREFERENCE_FLAGS, beta: s, loss: s, "label-smoothing": s } }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const options = preferenceOptions(values, HELP);
  const beta = values.beta !== undefined ? Number(values.beta) : DEFAULT_DPO.beta;
  const labelSmoothing = values["label-smoothing"] !== undefined ? Number(values["label-smoothing"]) : 0;
  const lossType = (values.loss ?? "sigmoid") as DpoLossType;
  if (!Number.isFinite(beta) || !Number.isFinite(labelSmoothing)) throw new UsageError("--beta and --label-smoothing take numbers");
  const threads = values.threads !== undefined ? Number(values.threads) : launch.threadsPerRank;
  const backend = createBackend(threads !== undefined ? { threads } : {});
  const r = await runRank(launch, "dpo", () => withStopSignals("dpo", (shouldStop) => runDpoTraining({ frozenBase: (file) => readFrozenBase(file, backend),
    options, backend, stdout: launch.stdout, resume: !values["no-resume"], shouldStop, dpo: { beta, lossType, labelSmoothing },
    distributed: launch.settings,
  })));
  if (launch.rank !== 0) return 0;
  console.log(`${lossType === "orpo" ? "ORPO" : "DPO"} finished at step ${r.finalStep}` + (r.valLoss !== null ? `, held-out loss ${r.valLoss.toFixed(4)}` : "") +
    (r.adapterDir ? `; adapter in ${r.adapterDir}` : r.lastCheckpoint ? `; model in ${r.lastCheckpoint.dir}` : ""));
  return 0;
}
