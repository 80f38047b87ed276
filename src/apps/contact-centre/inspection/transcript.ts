// Conversation transcripts for inspection and analysis, and their readers. A transcript is one conversation: an
// id, optional agent/team/channel/intent/language/outcome, the turns (speaker role, text, time) and events
// (hand-off, transfer, hand-back). Files: JSONL (one conversation per line, in the native shape or the ABCD shape
// `{convo_id, original: [[speaker, text], ...]}` so ../shared/data/abcd-sample loads as-is), a JSON array of the
// same, or CSV with one turn per row (header conversation_id, role, text[, ts, author, agent, team, channel,
// language, intent, resolved]). A malformed record (not JSON, not UTF-8, a missing or unknown role, a timestamp
// that cannot be read or goes backwards) is reported with its line number and skipped; the rest is read.
// docs/inspection.md documents the format. Leaves out: audio, attachments, time zones other than ISO offsets.

export type Speaker = "customer" | "agent" | "bot" | "system";

export interface TranscriptTurn {
  role: Speaker;
  text: string;
  /** Milliseconds since the epoch, when known. */
  ts?: number;
  /** Who spoke (an agent's username). */
  author?: string;
  /** Intent tag of a customer turn ("oos" = out of scope), when the source has one. */
  intent?: string;
  /** Sentiment of a customer turn in [−1, 1], when the source has one. */
  sentiment?: number;
}

export interface TranscriptEvent {
  type: "handoff" | "transfer" | "handback";
  ts?: number;
  /** For a transfer: the agent it went to, the team it went to, and the agent who transferred it (when absent,
   *  the conversation's agent). */
  to?: string;
  team?: string;
  from?: string;
}

export interface Transcript {
  id: string;
  language?: "zh" | "en";
  agent?: string;
  team?: string;
  channel?: string;
  intent?: string;
  /** The recorded outcome, when the source has one (else inspection's resolution verdict is used). */
  resolved?: boolean;
  turns: TranscriptTurn[];
  events?: TranscriptEvent[];
}

export interface ReadProblem {
  /** 1-based line (JSONL, CSV) or record number (JSON array). */
  line: number;
  error: string;
}

export interface ReadResult {
  transcripts: { transcript: Transcript; line: number }[];
  problems: ReadProblem[];
}

const MAX_TURNS = 10_000;
const MAX_TEXT_CHARS = 100_000;
const ROLE_ALIASES: Record<string, Speaker> = {
  customer: "customer", user: "customer", usr: "customer", client: "customer", visitor: "customer",
  agent: "agent", staff: "agent", human: "agent", bot: "bot", assistant: "bot", system: "system", action: "system",
};

/** ISO-8601 text or milliseconds since the epoch → ms; undefined when absent; throws on anything else. */
function readTime(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === "string") {
    if (/^\d{9,}$/.test(v)) return Number(v);
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return t;
  }
  throw new Error(`${what}: ${JSON.stringify(v)} is not a time (ISO 8601 like "2026-12-07T09:30:00+08:00", or milliseconds since 1970)`);
}

function readRole(v: unknown, what: string): Speaker {
  if (v === undefined || v === null || v === "") throw new Error(`${what}: missing role (one of customer, agent, bot, system)`);
  const role = ROLE_ALIASES[String(v).toLowerCase()];
  if (!role) throw new Error(`${what}: unknown role ${JSON.stringify(v)} (one of customer, agent, bot, system)`);
  return role;
}

function optString(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" && typeof v !== "number") throw new Error(`${what}: must be a string`);
  return String(v);
}

/** Checks the turns' order in time and the sizes; throws naming the turn. */
function validate(t: Transcript): Transcript {
  if (t.turns.length === 0) throw new Error(`conversation ${t.id}: no turns`);
  let last = -Infinity;
  t.turns.forEach((turn, i) => {
    if (turn.ts === undefined) return;
    if (turn.ts < last) throw new Error(`conversation ${t.id}: turns[${i}].ts ${new Date(turn.ts).toISOString()} is before the previous turn's ${new Date(last).toISOString()} (timestamps out of order)`);
    last = turn.ts;
  });
  return t;
}

/** One record in the native or the ABCD shape → a transcript (throws with what is wrong). */
export function toTranscript(rec: unknown, fallbackId: string): Transcript {
  if (rec === null || typeof rec !== "object" || Array.isArray(rec)) throw new Error("a conversation must be a JSON object");
  const r = rec as Record<string, unknown>;
  if (Array.isArray(r.original) && r.convo_id !== undefined) {
    // ABCD: [[speaker, text], ...]; speakers agent, customer, action.
    if (r.original.length > MAX_TURNS) throw new Error(`original: ${r.original.length} turns, more than ${MAX_TURNS}`);
    const scenario = (r.scenario ?? {}) as { flow?: string; subflow?: string };
    const turns = r.original.map((pair, i): TranscriptTurn => {
      if (!Array.isArray(pair) || pair.length < 2 || typeof pair[1] !== "string") throw new Error(`original[${i}]: expected [speaker, text]`);
      return { role: readRole(pair[0], `original[${i}][0]`), text: pair[1] };
    });
    return validate({ id: String(r.convo_id), language: "en", intent: scenario.subflow ?? scenario.flow, turns });
  }
  const id = r.id === undefined ? fallbackId : String(r.id);
  if (!Array.isArray(r.turns)) throw new Error(`conversation ${id}: "turns" must be an array of {role, text, ts}`);
  if (r.turns.length > MAX_TURNS) throw new Error(`conversation ${id}: ${r.turns.length} turns, more than ${MAX_TURNS}`);
  const turns = r.turns.map((x, i): TranscriptTurn => {
    const what = `conversation ${id}: turns[${i}]`;
    if (x === null || typeof x !== "object") throw new Error(`${what}: must be an object {role, text, ts}`);
    const o = x as Record<string, unknown>;
    if (typeof o.text !== "string") throw new Error(`${what}.text: missing (a string)`);
    if (o.text.length > MAX_TEXT_CHARS) throw new Error(`${what}.text: ${o.text.length} characters, more than ${MAX_TEXT_CHARS}`);
    const turn: TranscriptTurn = { role: readRole(o.role, `${what}.role`), text: o.text };
    const ts = readTime(o.ts ?? o.time ?? o.timestamp, `${what}.ts`);
    if (ts !== undefined) turn.ts = ts;
    const author = optString(o.author, `${what}.author`);
    if (author !== undefined) turn.author = author;
    if (typeof o.intent === "string") turn.intent = o.intent;
    if (typeof o.sentiment === "number" && o.sentiment >= -1 && o.sentiment <= 1) turn.sentiment = o.sentiment;
    return turn;
  });
  const events = Array.isArray(r.events) ? r.events.map((e, i): TranscriptEvent => {
    const o = (e ?? {}) as Record<string, unknown>;
    if (o.type !== "handoff" && o.type !== "transfer" && o.type !== "handback") throw new Error(`conversation ${id}: events[${i}].type must be handoff, transfer or handback`);
    const ev: TranscriptEvent = { type: o.type, ts: readTime(o.ts, `conversation ${id}: events[${i}].ts`) };
    for (const k of ["to", "team", "from"] as const) {
      const v = optString(o[k], `events[${i}].${k}`);
      if (v !== undefined) ev[k] = v;
    }
    return ev;
  }) : undefined;
  const language = r.language === "zh" || r.language === "en" ? r.language : undefined;
  if (r.language !== undefined && language === undefined) throw new Error(`conversation ${id}: language must be "zh" or "en"`);
  return validate({
    id, language, agent: optString(r.agent, "agent"), team: optString(r.team, "team"), channel: optString(r.channel, "channel"),
    intent: optString(r.intent, "intent"), resolved: typeof r.resolved === "boolean" ? r.resolved : undefined, turns, events,
  });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Splits bytes at newlines; each line is decoded on its own, so one badly encoded line does not spoil the rest. */
function lines(bytes: Uint8Array): { line: number; text: string | null }[] {
  const out: { line: number; text: string | null }[] = [];
  let start = 0;
  let n = 1;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      let end = i;
      if (end > start && bytes[end - 1] === 0x0d) end--;
      let text: string | null;
      try {
        text = utf8.decode(bytes.subarray(start, end));
      } catch {
        text = null;
      }
      out.push({ line: n++, text });
      start = i + 1;
    }
  }
  return out;
}

function readJsonLines(bytes: Uint8Array): ReadResult {
  const result: ReadResult = { transcripts: [], problems: [] };
  for (const { line, text } of lines(bytes)) {
    if (text === null) {
      result.problems.push({ line, error: "not UTF-8 text (re-save the file as UTF-8)" });
      continue;
    }
    const body = line === 1 ? text.replace(/^\uFEFF/, "") : text;
    if (!body.trim()) continue;
    try {
      result.transcripts.push({ transcript: toTranscript(JSON.parse(body), `line-${line}`), line });
    } catch (err) {
      result.problems.push({ line, error: err instanceof SyntaxError ? `not valid JSON (${err.message})` : (err as Error).message });
    }
  }
  return result;
}

/** RFC 4180 rows with the physical line each starts on (quoted fields may span lines). */
export function csvRows(text: string): { line: number; cells: string[] }[] {
  const rows: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') quoted = false;
      else { if (ch === "\n") line++; cell += ch; }
    } else if (ch === '"' && cell === "") quoted = true;
    else if (ch === ",") { cells.push(cell); cell = ""; } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      cells.push(cell);
      if (cells.length > 1 || cells[0] !== "") rows.push({ line: rowLine, cells });
      cells = []; cell = ""; line++; rowLine = line;
    } else cell += ch;
  }
  if (cell !== "" || cells.length > 0) { cells.push(cell); rows.push({ line: rowLine, cells }); }
  return rows;
}

function readCsv(bytes: Uint8Array): ReadResult {
  const result: ReadResult = { transcripts: [], problems: [] };
  // Bad bytes are reported by line; decoding the rest goes on without them.
  const decoded = lines(bytes);
  const bad = new Set(decoded.filter((l) => l.text === null).map((l) => l.line));
  for (const line of bad) result.problems.push({ line, error: "not UTF-8 text (re-save the file as UTF-8)" });
  const text = decoded.map((l) => l.text ?? "").join("\n").replace(/^\uFEFF/, "");
  const rows = csvRows(text).filter((r) => !bad.has(r.line));
  if (rows.length === 0) return result;
  const header = rows[0].cells.map((h) => h.trim().toLowerCase());
  const col = (name: string, ...alts: string[]) => [name, ...alts].map((n) => header.indexOf(n)).find((i) => i >= 0) ?? -1;
  const idCol = col("conversation_id", "id");
  const roleCol = col("role", "speaker");
  const textCol = col("text", "content");
  if (idCol < 0 || roleCol < 0 || textCol < 0) {
    result.problems.push({ line: rows[0].line, error: `CSV header must name conversation_id, role and text (found: ${header.join(", ")})` });
    return result;
  }
  const tsCol = col("ts", "timestamp", "time");
  const extra = ["agent", "team", "channel", "language", "intent", "resolved", "author"].map((n) => [n, col(n)] as const);
  const byId = new Map<string, { line: number; rec: Record<string, unknown>; turns: Record<string, unknown>[]; failed: boolean }>();
  for (const row of rows.slice(1)) {
    const id = (row.cells[idCol] ?? "").trim();
    if (!id) {
      result.problems.push({ line: row.line, error: "missing conversation_id" });
      continue;
    }
    let conv = byId.get(id);
    if (!conv) byId.set(id, (conv = { line: row.line, rec: { id }, turns: [], failed: false }));
    if (row.cells.length !== header.length) {
      result.problems.push({ line: row.line, error: `conversation ${id}: ${row.cells.length} cells, the header has ${header.length}` });
      conv.failed = true;
      continue;
    }
    const turn: Record<string, unknown> = { role: row.cells[roleCol], text: row.cells[textCol], ts: tsCol >= 0 ? row.cells[tsCol] : undefined };
    for (const [name, i] of extra) {
      const v = i >= 0 ? row.cells[i].trim() : "";
      if (!v) continue;
      if (name === "author") turn.author = v;
      else conv.rec[name] = name === "resolved" ? ["1", "true", "yes"].includes(v.toLowerCase()) : v;
    }
    try {
      toTranscript({ id, turns: [turn] }, id);
      conv.turns.push(turn);
    } catch (err) {
      result.problems.push({ line: row.line, error: (err as Error).message.replace(/turns\[0\]/, "row") });
      conv.failed = true;
    }
  }
  for (const [id, conv] of byId) {
    if (conv.failed) {
      result.problems.push({ line: conv.line, error: `conversation ${id} skipped (a row of it is malformed, see above)` });
      continue;
    }
    try {
      result.transcripts.push({ transcript: toTranscript({ ...conv.rec, turns: conv.turns }, id), line: conv.line });
    } catch (err) {
      result.problems.push({ line: conv.line, error: (err as Error).message });
    }
  }
  result.problems.sort((a, b) => a.line - b.line);
  return result;
}

/** Reads transcripts from a file's bytes; the format is told by the name (.csv, .json, else JSONL). */
export function readTranscripts(bytes: Uint8Array, fileName: string): ReadResult {
  if (/\.csv$/i.test(fileName)) return readCsv(bytes);
  if (/\.json$/i.test(fileName)) {
    let doc: unknown;
    try {
      doc = JSON.parse(utf8.decode(bytes).replace(/^\uFEFF/, ""));
    } catch (err) {
      return { transcripts: [], problems: [{ line: 1, error: `not a valid UTF-8 JSON document (${(err as Error).message}); use JSONL for one conversation per line` }] };
    }
    const list = Array.isArray(doc) ? doc : [doc];
    const result: ReadResult = { transcripts: [], problems: [] };
    list.forEach((rec, i) => {
      try {
        result.transcripts.push({ transcript: toTranscript(rec, `record-${i + 1}`), line: i + 1 });
      } catch (err) {
        result.problems.push({ line: i + 1, error: `record ${i + 1}: ${(err as Error).message}` });
      }
    });
    return result;
  }
  return readJsonLines(bytes);
}

/** "zh" when a fifth of the letters are Han characters, else "en" (a transcript's own language wins). */
export function transcriptLanguage(t: Transcript): "zh" | "en" {
  if (t.language) return t.language;
  const text = t.turns.map((x) => x.text).join("");
  const han = (text.match(/\p{Script=Han}/gu) ?? []).length;
  const latin = (text.match(/[A-Za-z]/g) ?? []).length;
  return han > 0 && han * 5 >= han + latin ? "zh" : "en";
}
