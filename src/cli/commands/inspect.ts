// `zhiyu inspect --input F --out report.jsonl [--config FILE]`: quality inspection (质检) of imported transcripts
// (JSONL, a JSON array such as ../shared/data/abcd-sample/abcd_sample.json, or CSV; docs/inspection.md has the
// format). Each report line is {"id", "score", "rubric_version", "marks": [{"turn", "start", "end", "item",
// "reason"}], "transcript_hash"}. Malformed records are reported as FILE:LINE and skipped; the rest is inspected
// (exit code 1 when any was skipped). Ctrl-C stops after the current conversation with every finished line kept;
// the same command resumes. Re-running after a rubric change redoes every line; with the same rubric only the
// conversations whose transcript changed.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { runBatch, type BatchProgress } from "../../apps/contact-centre/inspection/batch.js";
import { inspectorFor } from "../../apps/contact-centre/inspection/setup.js";
import { readTranscripts } from "../../apps/contact-centre/inspection/transcript.js";
import { loadConfig } from "../../apps/contact-centre/config.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";
import { withStopSignals } from "../stop-signal.js";

const HELP = `usage: zhiyu inspect --input FILE --out report.jsonl [--config FILE] [--rules-only] [--progress]

  --input FILE    transcripts: .jsonl (one conversation per line), .json (an array, e.g. ABCD) or .csv (one turn per row)
  --out FILE      the JSONL report (written atomically; <out>.partial holds an interrupted run's finished lines)
  --config FILE   a contact-centre configuration whose "inspection" section is the rubric (default rubric without)
  --rules-only    skip the model items (rudeness, sentiment, resolution); the version says "+rules"
  --progress      print progress lines even when stderr is not a terminal`;

const MAX_INPUT_BYTES = 2 * 1024 * 1024 * 1024;

function bar(p: BatchProgress, started: number): string {
  const width = 30;
  const filled = p.total > 0 ? Math.round((width * p.done) / p.total) : width;
  const rate = p.inspected / Math.max(1e-3, (Date.now() - started) / 1000);
  return `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${p.done}/${p.total}  ${rate.toFixed(0)} conv/s  reused ${p.reused}  resumed ${p.resumed}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv, strict: true,
    options: { input: { type: "string" }, out: { type: "string" }, config: { type: "string" }, "rules-only": { type: "boolean" },
      progress: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.input || !values.out) throw new UsageError(`inspect: --input FILE and --out FILE are required\n\n${HELP}`);
  const input = path.resolve(values.input);
  const size = statSync(input).size;
  if (size > MAX_INPUT_BYTES) throw new UsageError(`inspect: ${input} is ${size} bytes, more than ${MAX_INPUT_BYTES} (split it into several files)`);
  const config = values.config ? loadConfig(path.resolve(values.config)) : null;
  const inspector = inspectorFor(config, { rulesOnly: values["rules-only"] });
  const { transcripts, problems } = readTranscripts(readFileSync(input), input);
  for (const p of problems) console.error(`${input}:${p.line}: ${p.error}`);
  const tty = process.stderr.isTTY === true;
  const showProgress = tty || values.progress === true;
  const started = Date.now();
  let lastPrinted = -1;
  const result = await withStopSignals("inspect", async (shouldStop) => runBatch({
    inspector, transcripts, out: path.resolve(values.out!), shouldStop,
    onProgress: (p) => {
      if (!showProgress) return;
      if (tty) process.stderr.write(`\r${bar(p, started)}`);
      else if (Math.floor((10 * p.done) / Math.max(1, p.total)) !== lastPrinted) {
        lastPrinted = Math.floor((10 * p.done) / Math.max(1, p.total));
        process.stderr.write(`${bar(p, started)}\n`);
      }
    },
  }));
  if (tty && showProgress) process.stderr.write("\n");
  for (const p of result.problems) console.error(`${input}:${p.line}: ${p.error}`);
  const summary = `inspect: rubric ${inspector.version}: ${result.inspected} inspected, ${result.reused} unchanged (kept), ${result.resumed} resumed, ` +
    `${problems.length + result.problems.length} problem(s) in the input reported above (those records skipped)`;
  if (result.stopped) {
    console.error(`${summary}; stopped at ${result.done}/${result.total} — run the same command to resume (finished lines are in ${values.out}.partial)`);
    return 130;
  }
  console.error(`${summary}; report: ${values.out}`);
  return problems.length + result.problems.length > 0 ? 1 : 0;
}
