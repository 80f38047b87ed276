// How many tokens a reply may take: the asked-for count, capped to the room the context leaves after the prompt —
// and the command says so on stderr instead of cutting silently.
// Leaves out: the server, which answers with usage and finish_reason "length" instead.

/** min(asked, context − prompt), with one stderr line when that is less than asked. */
export function capMaxTokens(command: string, asked: number, promptTokens: number, contextLength: number): number {
  const room = Math.max(0, contextLength - promptTokens);
  if (asked <= room) return asked;
  process.stderr.write(`zhiyu ${command}: --max-tokens ${asked} does not fit: the context holds ${contextLength} tokens and ` +
    `the prompt takes ${promptTokens}, so at most ${room} tokens will be generated\n`);
  return room;
}
