// Server metrics in the Prometheus text exposition format (version 0.0.4): request counts by endpoint and status,
// prompt and completion tokens, queue depth and active sequences (sampled when scraped), and a histogram of time
// to first token. Plain counters in an object the server owns; no global registry.
// Leaves out: per-model labels (one model per server), exemplars, OpenMetrics.

const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface Gauges {
  queueDepth: number;
  activeSequences: number;
  slots: number;
}

export class Metrics {
  private readonly requests = new Map<string, number>();
  promptTokens = 0;
  completionTokens = 0;
  private readonly ttftCounts = new Array<number>(TTFT_BUCKETS.length + 1).fill(0);
  private ttftSum = 0;
  private ttftCount = 0;

  countRequest(endpoint: string, status: number): void {
    const key = `endpoint="${endpoint}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  observeTimeToFirstToken(seconds: number): void {
    let i = 0;
    while (i < TTFT_BUCKETS.length && seconds > TTFT_BUCKETS[i]) i++;
    this.ttftCounts[i]++;
    this.ttftSum += seconds;
    this.ttftCount++;
  }

  render(g: Gauges): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    metric("zhiyu_requests_total", "counter", "HTTP requests by endpoint and status code.");
    for (const [labels, n] of [...this.requests].sort()) lines.push(`zhiyu_requests_total{${labels}} ${n}`);
    metric("zhiyu_prompt_tokens_total", "counter", "Prompt tokens processed.");
    lines.push(`zhiyu_prompt_tokens_total ${this.promptTokens}`);
    metric("zhiyu_completion_tokens_total", "counter", "Completion tokens generated.");
    lines.push(`zhiyu_completion_tokens_total ${this.completionTokens}`);
    metric("zhiyu_queue_depth", "gauge", "Sequences waiting for a decode slot.");
    lines.push(`zhiyu_queue_depth ${g.queueDepth}`);
    metric("zhiyu_active_sequences", "gauge", "Sequences decoding now.");
    lines.push(`zhiyu_active_sequences ${g.activeSequences}`);
    metric("zhiyu_slots", "gauge", "Decode slots (--parallel).");
    lines.push(`zhiyu_slots ${g.slots}`);
    metric("zhiyu_time_to_first_token_seconds", "histogram", "Time from request arrival to the first generated token.");
    let cum = 0;
    TTFT_BUCKETS.forEach((b, i) => {
      cum += this.ttftCounts[i];
      lines.push(`zhiyu_time_to_first_token_seconds_bucket{le="${b}"} ${cum}`);
    });
    cum += this.ttftCounts[TTFT_BUCKETS.length];
    lines.push(`zhiyu_time_to_first_token_seconds_bucket{le="+Inf"} ${cum}`);
    lines.push(`zhiyu_time_to_first_token_seconds_sum ${this.ttftSum}`);
    lines.push(`zhiyu_time_to_first_token_seconds_count ${this.ttftCount}`);
    return lines.join("\n") + "\n";
  }
}
