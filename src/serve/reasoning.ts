// Reasoning text in chat replies, as llama-server (--reasoning-format deepseek) and vLLM's reasoning parsers return
// it: a reply that opens with `<think>` (Qwen3, DeepSeek-R1, QwQ) — or whose prompt already opened it — has the text
// up to `</think>` split off as `reasoning_content`; the rest (whitespace after the tag dropped) is the content, where
// tool calls are then parsed. Works incrementally for streaming: text that might still become `<think>` or
// `</think>` is held back until it is decided. A reply without the tag is all content.
// Leaves out: other reasoning markups (Gemma's, GPT-OSS channels), several think blocks in one reply.

const OPEN = "<think>";
const CLOSE = "</think>";

export interface ReasoningPart {
  reasoning: string;
  content: string;
}

/** Longest suffix of s that is a proper prefix of tag (text that may be the start of the tag). */
function partialTagSuffix(s: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, s.length); n > 0; n--) if (tag.startsWith(s.slice(s.length - n))) return n;
  return 0;
}

export class ReasoningSplitter {
  private state: "start" | "reasoning" | "after" | "content";
  private held = "";
  /** Right after <think>: the newline templates put there is not part of the reasoning. */
  private justOpened = false;

  /** startsInside: the rendered prompt ended in `<think>`, so the reply begins inside the reasoning. */
  constructor(startsInside = false) {
    this.state = startsInside ? "reasoning" : "start";
  }

  push(text: string): ReasoningPart {
    const out: ReasoningPart = { reasoning: "", content: "" };
    let s = this.held + text;
    this.held = "";
    for (;;) {
      if (this.state === "start") {
        const t = s.trimStart();
        if (t.length < OPEN.length && OPEN.startsWith(t)) { this.held = s; return out; }
        if (t.startsWith(OPEN)) { s = t.slice(OPEN.length); this.state = "reasoning"; this.justOpened = true; continue; }
        this.state = "content";
        continue;
      }
      if (this.state === "reasoning") {
        if (this.justOpened) {
          if (s.length === 0) return out;
          this.justOpened = false;
          if (s.startsWith("\n")) s = s.slice(1);
        }
        const at = s.indexOf(CLOSE);
        if (at < 0) {
          const keep = partialTagSuffix(s, CLOSE);
          out.reasoning += s.slice(0, s.length - keep);
          this.held = s.slice(s.length - keep);
          return out;
        }
        out.reasoning += s.slice(0, at);
        s = s.slice(at + CLOSE.length);
        this.state = "after";
        continue;
      }
      if (this.state === "after") {
        const t = s.trimStart();
        if (t.length === 0) return out;
        s = t;
        this.state = "content";
        continue;
      }
      out.content += s;
      return out;
    }
  }

  /** The end of the reply: whatever was held back is flushed where it stands. */
  end(): ReasoningPart {
    const s = this.held;
    this.held = "";
    if (this.state === "reasoning") return { reasoning: s, content: "" };
    return { reasoning: "", content: this.state === "after" ? s.trimStart() : s };
  }
}
