// How the CLI prints a failure: the message, without a stack trace unless ZHIYU_DEBUG is set.
export class UsageError extends Error {
  override name = "UsageError";
}

export function formatCliError(err: unknown): string {
  if (err instanceof Error) {
    if (process.env.ZHIYU_DEBUG) return err.stack ?? String(err);
    return `zhiyu: ${err.message}`;
  }
  return `zhiyu: ${String(err)}`;
}
