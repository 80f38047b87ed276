// Dev check for docs/routes.md: reruns the first N (default 100) pretraining steps of every model of a finished (or
// running) `zhiyu recipe recipes/routes.json` work folder from scratch — same tokenizer, token file, seed, schedule
// length and thread count — and compares each step's loss with the run's metrics.jsonl. Prints one line per model
// and exits 1 on any difference. The fast, always-run version of this check is test/apps/routes/routes.test.ts.
// Usage: node --import tsx dev/routes/check-rerun.ts [recipes/routes.json] [WORK=runs/routes] [N=100]
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { readMetrics } from "../../src/train/metrics.js";
import { TrainModel } from "../../src/train/model.js";
import { openTokenStream } from "../../src/train/token-file.js";
import { readRoutesConfig } from "../../src/apps/routes/config.js";
import { routeHfConfig, specialIds } from "../../src/apps/routes/models.js";
import { pretrainObjective, runRouteLoop } from "../../src/apps/routes/pretrain.js";

const [recipe = "recipes/routes.json", work = "runs/routes", nArg = "100", only] = process.argv.slice(2);
const n = Number(nArg);
const c = readRoutesConfig(recipe);
setDefaultBackend(createBackend({ threads: c.threads }));
const tok = loadTokenizer(path.join(work, "tokenizer"));
const ids = specialIds((t) => tok.tokenToId(t), c.tokenizer.sentinels, work);
let bad = 0;
for (const m of c.models) {
  if (only && m.name !== only) continue;
  const logged = new Map<number, number>();
  for (const r of readMetrics(path.join(work, "pretrain", m.name, "metrics.jsonl"))) if ("loss" in r && typeof r.loss === "number") logged.set(r.step, r.loss);
  const tmp = mkdtempSync(path.join(os.tmpdir(), `routes-rerun-${m.name}-`));
  const hf = routeHfConfig(m, tok.vocabSize, 2 * c.pretrain.seq, ids);
  const objective = pretrainObjective(m.route, openTokenStream([path.join(work, "tokens.bin")]), { batch: c.pretrain.batch, seq: c.pretrain.seq, seed: c.seed }, ids, tok.vocabSize);
  const rng = new Rng(c.seed);
  const { result } = await runRouteLoop(() => TrainModel.random(hf, rng, "f32"), objective, rng, {
    out: tmp, steps: n, scheduleSteps: c.pretrain.steps, lr: c.pretrain.lr, warmup: c.pretrain.warmup, checkpointEvery: 0, copies: new Map(),
    banner: `rerun ${m.name}`, stdout: { write: () => true, isTTY: false },
  });
  rmSync(tmp, { recursive: true, force: true });
  let same = 0, maxDiff = 0, missing = 0;
  result.losses.forEach((loss, step) => {
    const was = logged.get(step);
    if (was === undefined) { missing++; return; }
    if (was === loss) same++;
    maxDiff = Math.max(maxDiff, Math.abs(was - loss));
  });
  if (same !== n) bad++;
  console.log(`${m.name}: ${same}/${n} losses identical to ${work}/pretrain/${m.name}/metrics.jsonl (max |difference| ${maxDiff}, ${missing} not logged); ` +
    `first ${result.losses.slice(0, 3).map((x) => x.toFixed(6)).join(", ")}, step ${n - 1}: ${result.losses[n - 1]!.toFixed(6)}`);
}
process.exit(bad ? 1 : 0);
