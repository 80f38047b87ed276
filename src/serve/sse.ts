// Server-sent events as the OpenAI clients parse them: `data: <json>\n\n` per chunk, `data: [DONE]\n\n` at the end,
// no named `event:` lines (openai-node and AI-SDK parsers trip on them).
// Leaves out: event ids and reconnection (the chat endpoints are not resumable).
import type { ServerResponse } from "node:http";

export class SseWriter {
  private started = false;

  constructor(private readonly res: ServerResponse) {}

  get open(): boolean {
    return !this.res.writableEnded && !this.res.destroyed;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    this.res.flushHeaders();
  }

  send(data: unknown): void {
    if (!this.open) return;
    this.start();
    this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  done(): void {
    if (!this.open) return;
    this.start();
    this.res.end("data: [DONE]\n\n");
  }
}
