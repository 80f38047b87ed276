// Graceful stop for long-running commands (train, sft): the first SIGINT/SIGTERM asks the loop to finish its
// current step and write a checkpoint; a second one exits at once (status 130).
// Leaves out: other signals, and anything about what "stop" means to the loop (it polls shouldStop()).

export async function withStopSignals<T>(command: string, run: (shouldStop: () => boolean) => Promise<T>): Promise<T> {
  let stopRequested = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write(`\nzhiyu ${command}: ${signal} received; stopping after this step (again to quit now)\n`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await run(() => stopRequested);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
