// The training progress display: on a TTY one line redrawn in place (a bar, step, loss, lr, tokens/s, MFU,
// ETA); otherwise plain log lines every `logEvery` steps, so logs captured to files stay readable. Events
// (rollbacks, checkpoints, validation) are printed on their own lines in both modes.
// Leaves out: multi-line dashboards and colours.

export interface ProgressSink {
  write(text: string): void;
  readonly isTTY: boolean;
  readonly columns?: number;
}

export interface ProgressUpdate {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  tokensPerSecond: number;
  mfu: number | null;
  /** Seconds left, or null when unknown. */
  etaSeconds: number | null;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}

export function formatProgressFields(u: ProgressUpdate): string {
  const parts = [
    `step ${u.step + 1}/${u.totalSteps}`,
    `loss ${u.loss.toFixed(4)}`,
    `lr ${u.lr.toExponential(2)}`,
    `${u.tokensPerSecond.toFixed(1)} tok/s`,
  ];
  if (u.mfu !== null) parts.push(`MFU ${(u.mfu * 100).toFixed(1)}%`);
  parts.push(`ETA ${u.etaSeconds === null ? "?" : formatDuration(u.etaSeconds)}`);
  return parts.join(" | ");
}

export class ProgressDisplay {
  private lineOpen = false;

  constructor(private readonly sink: ProgressSink, private readonly logEvery = 1) {}

  update(u: ProgressUpdate): void {
    const fields = formatProgressFields(u);
    if (this.sink.isTTY) {
      const width = 24;
      const done = Math.min(width, Math.round((width * (u.step + 1)) / Math.max(1, u.totalSteps)));
      const bar = `[${"#".repeat(done)}${"-".repeat(width - done)}]`;
      let line = `${bar} ${fields}`;
      const cols = this.sink.columns ?? 120;
      if (line.length > cols - 1) line = line.slice(0, cols - 1);
      this.sink.write(`\r\x1b[2K${line}`);
      this.lineOpen = true;
    } else if ((u.step + 1) % this.logEvery === 0 || u.step + 1 === u.totalSteps) {
      this.sink.write(`${fields}\n`);
    }
  }

  /** A message on its own line (does not disturb the redrawn bar). */
  log(message: string): void {
    if (this.lineOpen) this.sink.write("\r\x1b[2K");
    this.sink.write(`${message}\n`);
    this.lineOpen = false;
  }

  finish(): void {
    if (this.lineOpen) this.sink.write("\n");
    this.lineOpen = false;
  }
}
