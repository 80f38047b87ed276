// A fuzzing worker process (started by files.ts): generates inputs for one target from a seed, writes each to
// `current.<ext>` in its folder BEFORE running it (so a crash or hang leaves the reproducer behind), runs it, and
// reports its end over IPC (one message per input; the parent's watchdog runs from one end to the next). Exceptions that are not clean refusals are reported as findings with the input's bytes.
// Args: targets (comma-separated, run in turn), rng seed, first index, count, deep-load period, work folder,
// testdata folder, seconds per target (0: no limit). One worker start (tsx) serves all of them.
// Leaves out: the watchdog and crash handling (the parent does both: a dead worker cannot report itself).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FuzzRng } from "./mutate.js";
import { isCleanError, knownOpen, makeTargets, type TargetName } from "./targets.js";

const [targetList, seedArg, firstArg, countArg, deepArg, work, testdata, secondsArg] = process.argv.slice(2);
const targets = makeTargets(testdata);
const send = (m: object) => process.send!(m);
mkdirSync(work, { recursive: true });

for (const targetName of targetList.split(",") as TargetName[]) {
  const target = targets[targetName];
  const seeds = target.seeds(testdata, process.cwd());
  if (seeds.length === 0) throw new Error(`[fuzz] no seeds for ${targetName} under ${testdata}`);
  const current = path.join(work, `current.${target.ext}`);
  send({ kind: "target", target: targetName });
  const stopAt = Number(secondsArg) > 0 ? performance.now() + Number(secondsArg) * 1000 : Infinity;
  for (let i = Number(firstArg), end = i + Number(countArg); i < end && performance.now() < stopAt; i++) {
    // One RNG per input index: any input is regenerated from (seed, index) alone.
    const rng = new FuzzRng((Number(seedArg) * 1_000_003 + i) >>> 0);
    const seed = seeds[rng.int(seeds.length)];
    let input: Uint8Array;
    try {
      input = target.mutate(seed, rng);
    } catch {
      continue; // the mutator's own limit (e.g. a document nested too deep to walk): not an input
    }
    writeFileSync(current, input);
    let finding: string | null = null;
    let open: string | null = null;
    try {
      await target.run(current, input, work, Number(deepArg) > 0 && i % Number(deepArg) === 0);
    } catch (err) {
      open = knownOpen(targetName, err);
      if (!open && !isCleanError(err, current)) {
        finding = `${(err as Error)?.name ?? "throw"}: ${String((err as Error)?.message ?? err).slice(0, 300)}`;
        writeFileSync(path.join(work, `exception-${i}.${target.ext}`), input); // the parent files it as a reproducer
      }
    }
    send({ kind: "end", target: targetName, index: i, finding, open, maxRssKiB: process.resourceUsage().maxRSS });
  }
}
process.disconnect(); // lets the queued messages go out, then the process ends
