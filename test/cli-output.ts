// Shared by the tests that run CLI commands in-process: their output (the strings they write to stdout, console.log
// included, which writes through process.stdout.write) goes to a sink instead of the terminal. Under `node --test` a test file's stdout also carries the runner's own
// reports to its parent — binary (v8-serialised) writes — so those pass through: swapping stdout wholesale dropped
// the results of tests that finished while a command ran (a failing test then showed only as "file failed").
// Leaves out: stderr (commands' errors stay visible), child processes (spawn them with their own pipes).

/** Sends CLI output to `sink` (each string written to stdout, console.log lines with their newline) until the
 *  returned function is called; binary writes go to the real stdout. */
export function redirectCliOutput(sink: (chunk: string) => void): () => void {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== "string") return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    sink(chunk);
    return true;
  }) as typeof process.stdout.write;
  return () => { process.stdout.write = write; };
}

/** Runs `fn` with its CLI output captured: everything it printed, as one string. */
export async function captureCliOutput<T>(fn: () => Promise<T>): Promise<{ value: T; text: string }> {
  const chunks: string[] = [];
  const restore = redirectCliOutput((c) => { chunks.push(c); });
  try {
    const value = await fn();
    return { value, text: chunks.join("") };
  } finally {
    restore();
  }
}
