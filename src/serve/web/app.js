// Zhiyu web chat: keeps the conversation in memory, sends it to /v1/chat/completions with stream: true, parses the
// SSE stream by hand (the openai package refuses to run in browsers), renders Markdown as text arrives, shows tool
// calls as they stream (by index), and stops a generation with an AbortController (the server sees the disconnect
// and frees the slot). Settings live in localStorage, except the API key: it lives in sessionStorage (gone when
// the tab closes, never shared with other tabs or left on disk).
// With server tools (zhiyu serve --tools …) switched on, requests carry `zhiyu_tools: true` and the server runs the
// agent loop; its tool calls and results stream in and are shown as they happen. The switch starts off for a model
// that was not trained to call tools (/health model_tool_calls).
// Requests carry `zhiyu_history: "truncate"`: when the conversation outgrows the context the server drops the oldest
// turns (the policy of src/infer/history.ts), the page drops them too and shows a notice.
// Words: i18n.js (English or Chinese, following the browser, switchable in the header).
// Leaves out: executing tools in the page, editing past messages, multiple conversations.
import { renderMarkdown, escapeHtml } from "/markdown.js";
import { applyLanguage, t, toggleLanguage } from "/i18n.js";

const $ = (id) => document.getElementById(id);
const messagesEl = $("messages");
const input = $("input");
const sendBtn = $("send");
const stopBtn = $("stop");
const statusEl = $("status");
const SETTINGS = ["system-prompt", "temperature", "top-p", "top-k", "max-tokens", "seed", "api-key", "tools"];
let serverToolNames = [];
applyLanguage();

let history = [];
let controller = null;
let modelId = null;

localStorage.removeItem("zhiyu:api-key"); // where older pages kept it
for (const id of SETTINGS) {
  const store = id === "api-key" ? sessionStorage : localStorage;
  const saved = store.getItem(`zhiyu:${id}`);
  if (saved !== null) $(id).value = saved;
  $(id).addEventListener("change", () => store.setItem(`zhiyu:${id}`, $(id).value));
}

$("toggle-settings").addEventListener("click", () => {
  const s = $("settings");
  s.hidden = !s.hidden;
  $("toggle-settings").setAttribute("aria-expanded", String(!s.hidden));
});
$("language").addEventListener("click", () => {
  toggleLanguage();
  showServerToolNames();
});
$("new-chat").addEventListener("click", () => {
  if (controller) controller.abort();
  history = [];
  messagesEl.replaceChildren();
  statusEl.textContent = "";
});

function headers() {
  const h = { "content-type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

function showServerToolNames() {
  $("server-tools-text").textContent = t("server-tools", { names: serverToolNames.join(", ") });
}

async function loadModel() {
  try {
    const health = await (await fetch("/health")).json();
    serverToolNames = health.tools ?? [];
    if (serverToolNames.length > 0) {
      $("server-tools-row").hidden = false;
      showServerToolNames();
      // A model not trained for tool calls gets them only when the person turns them on (and the choice is kept).
      const trained = health.model_tool_calls !== false;
      const saved = localStorage.getItem("zhiyu:server-tools");
      $("server-tools").checked = trained ? saved !== "false" : saved === "true";
      $("server-tools-note").hidden = trained;
      $("server-tools").addEventListener("change", () => localStorage.setItem("zhiyu:server-tools", String($("server-tools").checked)));
    }
    const r = await fetch("/v1/models", { headers: headers() });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error?.message ?? r.statusText);
    modelId = j.data[0].id;
    $("model-name").textContent = modelId;
  } catch (err) {
    statusEl.textContent = t("no-models", { message: err.message });
  }
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = `msg ${role}`;
  if (role === "user") div.textContent = text;
  messagesEl.append(div);
  div.scrollIntoView({ block: "end" });
  return div;
}

function numberSetting(id) {
  const v = $(id).value.trim();
  return v === "" ? undefined : Number(v);
}

function parseTools() {
  const text = $("tools").value.trim();
  if (!text) return undefined;
  const tools = JSON.parse(text);
  if (!Array.isArray(tools)) throw new Error(t("tools-array"));
  return tools;
}

/** Reads an SSE body and calls onEvent(json) per `data:` event until [DONE]. */
async function readSse(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (!data) continue; // comments such as ": ping"
      if (data === "[DONE]") return;
      onEvent(JSON.parse(data));
    }
  }
}

/** Renders the reply's segments in the order they streamed: text runs (Markdown) and tool calls with results. */
function render(div, segments, finish) {
  let html = "";
  for (const seg of segments) {
    if (seg.kind === "text") html += renderMarkdown(seg.text);
    // A reasoning model's <think> text (reasoning_content), collapsed: the answer is what the reader came for.
    else if (seg.kind === "reasoning") html += `<details class="reasoning"><summary>${escapeHtml(t("reasoning"))}</summary>${renderMarkdown(seg.text)}</details>`;
    else {
      const call = seg.call;
      html += `<div class="tool-call">→ ${escapeHtml(call.name ?? "")}(${escapeHtml(call.arguments)})</div>`;
      if (call.result !== undefined) {
        html += `<div class="tool-result${call.ok ? "" : " failed"}">${escapeHtml(call.result.length > 600 ? call.result.slice(0, 600) + "…" : call.result)}</div>`;
      }
    }
  }
  if (finish) html += `<div class="finish">${escapeHtml(finish)}</div>`;
  div.innerHTML = html;
}

async function send(text) {
  let tools;
  try {
    tools = parseTools();
  } catch (err) {
    statusEl.textContent = t("tools-error", { message: err.message });
    return;
  }
  history.push({ role: "user", content: text });
  const userDiv = addMessage("user", text);
  const div = addMessage("assistant", "");
  div.classList.add("streaming");
  const system = $("system-prompt").value.trim();
  const body = {
    model: modelId ?? "default",
    messages: system ? [{ role: "system", content: system }, ...history] : history,
    stream: true,
    stream_options: { include_usage: true },
    temperature: numberSetting("temperature"),
    top_p: numberSetting("top-p"),
    top_k: numberSetting("top-k"),
    max_tokens: numberSetting("max-tokens"),
    seed: numberSetting("seed"),
    tools,
    zhiyu_history: "truncate",
  };
  const useServerTools = serverToolNames.length > 0 && $("server-tools").checked && !tools;
  if (useServerTools) body.zhiyu_tools = true;
  controller = new AbortController();
  sendBtn.hidden = true;
  stopBtn.hidden = false;
  statusEl.textContent = t("generating");
  let content = "";
  const toolCalls = [];
  const segments = [];
  let finish = null;
  const started = performance.now();
  let usage = null;
  try {
    const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body), signal: controller.signal });
    if (!r.ok) {
      const j = await r.json().catch(() => ({}));
      throw new Error(j.error?.message ?? `${r.status} ${r.statusText}`);
    }
    await readSse(r.body, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      if (chunk.zhiyu_history) dropOldest(chunk.zhiyu_history, userDiv);
      const choice = chunk.choices?.[0];
      if (!choice) return;
      if (choice.delta?.reasoning_content) {
        const last = segments[segments.length - 1];
        if (last?.kind === "reasoning") last.text += choice.delta.reasoning_content;
        else segments.push({ kind: "reasoning", text: choice.delta.reasoning_content });
      }
      if (choice.delta?.content) {
        content += choice.delta.content;
        const last = segments[segments.length - 1];
        if (last?.kind === "text") last.text += choice.delta.content;
        else segments.push({ kind: "text", text: choice.delta.content });
      }
      for (const t of choice.delta?.tool_calls ?? []) {
        if (!toolCalls[t.index]) {
          toolCalls[t.index] = { id: t.id, name: "", arguments: "" };
          segments.push({ kind: "call", call: toolCalls[t.index] });
        }
        if (t.function?.name) toolCalls[t.index].name = t.function.name;
        toolCalls[t.index].arguments += t.function?.arguments ?? "";
      }
      const result = choice.delta?.zhiyu_tool_result;
      if (result) {
        const call = toolCalls.find((c) => c && c.id === result.tool_call_id);
        if (call) Object.assign(call, { result: result.content, ok: result.ok });
      }
      if (choice.finish_reason) finish = choice.finish_reason;
      render(div, segments, null);
      div.scrollIntoView({ block: "end" });
    });
    const secs = (performance.now() - started) / 1000;
    statusEl.textContent = usage ? t("tokens-in", { n: usage.completion_tokens, s: secs.toFixed(1) }) : "";
  } catch (err) {
    if (err.name === "AbortError") {
      finish = "stopped";
      statusEl.textContent = t("stopped");
    } else {
      div.classList.add("error");
      segments.push({ kind: "text", text: `${content ? "\n\n" : ""}${t("error")}: ${err.message}` });
      statusEl.textContent = "";
    }
  } finally {
    controller = null;
    sendBtn.hidden = false;
    stopBtn.hidden = true;
    div.classList.remove("streaming");
    div.dataset.finish = finish ?? "";
  }
  render(div, segments, finish && finish !== "stop" ? finish : null);
  const message = { role: "assistant", content: content || null };
  // Server-run tool calls are already answered inside that turn; only client tools stay in the history.
  const calls = useServerTools ? [] : toolCalls.filter(Boolean);
  if (calls.length > 0) message.tool_calls = calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
  if (message.content !== null || message.tool_calls) history.push(message);
}

/** The server left out the oldest messages: forget them here too (the next request would only lose them again) and
 *  say so above the message that caused it. The system prompt is not in `history`, and the server keeps it. */
function dropOldest(notice, beforeEl) {
  const n = notice.dropped_messages;
  history.splice(0, n);
  const div = document.createElement("div");
  div.className = "notice";
  div.textContent = t("dropped", { n, ctx: notice.context_length, messages: n === 1 ? "message" : "messages", were: n === 1 ? "was" : "were" });
  messagesEl.insertBefore(div, beforeEl);
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text || controller) return;
  input.value = "";
  void send(text);
});
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
stopBtn.addEventListener("click", () => controller?.abort());

void loadModel();
