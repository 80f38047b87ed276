// Hand-written scanners for the word regexes real tokenizers use most (filled in when profiling says so).
// scanWords returns null for a pattern it does not know, and the caller falls back to the regex engine.

export type WordScanner = (text: string, emit: (piece: string) => void) => void;

export function scanWords(_pattern: string): WordScanner | null {
  return null;
}
