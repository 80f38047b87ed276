// The statistic every `zhiyu bench …` command reports: the median of repeated measurements (the mean of the two
// middle values for an even count, NaN for none), so all benchmarks summarise their rounds the same way.
// Leaves out: timing itself (each benchmark times what it measures) and spreads beyond min/max.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
