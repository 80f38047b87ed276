// The supervisor dashboard's script (supervisor.html): loads /api/desk/analysis with the filters, draws the charts
// with ECharts (window.echarts, served from /vendor), fills the tables (each with its CSV link carrying the same
// filters), opens a conversation with its marks highlighted in place, and refreshes the live figures every 5 s.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const charts = {};
  let state = null;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c === null || c === undefined ? "" : String(c)));
    return e;
  }
  const fmt = (v, digits = 1) => (v === null || v === undefined ? "–" : typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : String(v));
  const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(0)}%`);
  const secs = (ms) => `${Math.round(ms / 1000)} s`;

  function query() {
    const q = new URLSearchParams();
    const put = (k, id) => { const v = $(id).value.trim(); if (v) q.set(k, v); };
    put("agent", "f-agent"); put("team", "f-team"); put("intent", "f-intent"); put("from", "f-from"); put("to", "f-to"); put("min_score", "f-min"); put("max_score", "f-max");
    return q.toString();
  }

  async function api(path) {
    const r = await fetch(path, { credentials: "same-origin" });
    if (r.status === 401 || r.status === 403) throw Object.assign(new Error("login"), { login: true });
    if (!r.ok) throw new Error(`${path}: ${r.status}`);
    return r.json();
  }

  function fillSelect(id, values) {
    const s = $(id);
    const keep = s.value;
    s.replaceChildren(el("option", { value: "" }, "*"), ...values.map((v) => el("option", { value: v }, v)));
    s.value = values.includes(keep) ? keep : "";
  }

  function table(name, title, header, rows, onRow) {
    const q = query();
    const block = el("div", { class: "table-block", id: `table-${name}` },
      el("h3", {}, title, " ", el("a", { href: `/api/desk/analysis/${name}.csv${q ? `?${q}` : ""}`, class: "csv", "data-table": name }, "CSV")));
    const t = el("table", {}, el("thead", {}, el("tr", {}, ...header.map((h) => el("th", {}, h)))));
    const body = el("tbody");
    if (rows.length === 0) body.append(el("tr", {}, el("td", { class: "empty", colSpan: header.length }, "无数据 · no data")));
    rows.forEach((r, i) => {
      const tr = el("tr", onRow ? { class: "clickable", "data-id": r.id || "" } : {}, ...r.cells.map((c) => el("td", {}, c)));
      if (onRow) tr.addEventListener("click", () => onRow(r, i));
      body.append(tr);
    });
    t.append(body);
    block.append(t);
    return block;
  }

  const groupHeader = ["", "会话 Handled", "首响 FRT (s)", "处理时长 AHT (s)", "解决率 Resolved", "转回 Hand-back", "转接 Transfer", "质检分 Quality", "常见标记 Top marks", "情绪变化 Sentiment Δ"];
  const groupCells = (g) => [g.key, g.handled, fmt(g.firstResponseS), fmt(g.handleTimeS), pct(g.resolutionRate), pct(g.handBackRate), pct(g.transferRate), fmt(g.qualityScore),
    g.topMarks.map((m) => `${m.item}×${m.count}`).join(" "), fmt(g.sentimentChange, 2)];

  function draw(id, option) {
    if (!window.echarts) return;
    charts[id] = charts[id] || window.echarts.init($(id));
    charts[id].setOption(option, true);
  }

  function render(data) {
    state = data;
    fillSelect("f-agent", data.options.agents); fillSelect("f-team", data.options.teams); fillSelect("f-intent", data.options.intents);
    const a = data.analysis;
    draw("chart-quality", { animation: false, tooltip: {}, grid: { left: 40, right: 10, top: 20, bottom: 30 }, xAxis: { type: "category", data: a.agents.map((g) => g.key) },
      yAxis: { type: "value", min: 0, max: 100 }, series: [{ type: "bar", name: "quality", data: a.agents.map((g) => g.qualityScore === null ? 0 : Math.round(g.qualityScore * 10) / 10) }] });
    draw("chart-workload", { animation: false, tooltip: {}, legend: { top: 0 }, grid: { left: 40, right: 10, top: 30, bottom: 30 }, xAxis: { type: "category", data: Array.from({ length: 24 }, (_, h) => String(h)) },
      yAxis: { type: "value", minInterval: 1 }, series: a.workload.map((w) => ({ type: "bar", stack: "all", name: w.agent, data: w.byHour })) });
    draw("chart-days", { animation: false, tooltip: {}, legend: { top: 0 }, grid: { left: 40, right: 40, top: 30, bottom: 30 }, xAxis: { type: "category", data: a.days.map((g) => g.key) },
      yAxis: [{ type: "value", min: 0, max: 100 }, { type: "value", minInterval: 1 }],
      series: [{ type: "line", name: "quality", data: a.days.map((g) => g.qualityScore) }, { type: "bar", name: "handled", yAxisIndex: 1, data: a.days.map((g) => g.handled) }] });
    const convRows = data.conversations.map((c) => ({ id: c.id, cells: [c.id, c.agent || "bot", c.team, c.intent, c.date, fmt(c.score), c.marks, c.items] }));
    $("tables").replaceChildren(
      table("conversations", "会话 Conversations", ["ID", "座席 Agent", "团队 Team", "意图 Intent", "日期 Date", "分数 Score", "标记 Marks", "项目 Items"], convRows, (r) => drill(r.id)),
      table("agents", "座席 Agents", groupHeader, a.agents.map((g) => ({ cells: groupCells(g) }))),
      table("teams", "团队 Teams", groupHeader, a.teams.map((g) => ({ cells: groupCells(g) }))),
      table("days", "每日 Days", groupHeader, a.days.map((g) => ({ cells: groupCells(g) }))),
      table("hours", "时段 Hours", groupHeader, a.hours.map((g) => ({ cells: groupCells(g) }))),
      table("workload", "工作量 Workload", ["座席 Agent", ...Array.from({ length: 24 }, (_, h) => String(h))], a.workload.map((w) => ({ cells: [w.agent, ...w.byHour] }))),
      table("coaching", "辅导建议 Coaching", ["座席 Agent", "项目 Item", "次数 Count", "建议 Note"], a.coaching.map((n) => ({ id: n.citations[0] && n.citations[0].conversation, cells: [n.agent, n.item, n.count, n.note] })), (r) => r.id && drill(r.id)),
      table("faq", `机器人 Bot: 拦截率 containment ${pct(a.bot.containmentRate)} (${a.bot.contained}/${a.bot.conversations}) · FAQ 候选 candidates`, ["问题 Question", "次数 Count"],
        a.bot.faqCandidates.map((q) => ({ cells: [q.question, q.count] }))),
    );
  }

  async function drill(id) {
    const d = await api(`/api/desk/inspections/${encodeURIComponent(id)}`);
    $("drill").hidden = false;
    $("drill-id").textContent = d.id;
    $("drill-score").textContent = `${d.score} · ${d.rubric_version}`;
    $("drill-turns").replaceChildren(...d.turns.map((t, i) => el("div", { class: `turn role-${t.role}`, "data-turn": String(i) },
      el("span", { class: "who" }, `${i + 1}. ${t.role}${t.author ? ` (${t.author})` : ""}`),
      ...t.segments.map((s) => s.marks.length ? el("mark", { class: "qc-mark", title: s.marks.map((k) => d.marks[k].reason).join("; "), "data-item": s.marks.map((k) => d.marks[k].item).join(" ") }, s.text) : s.text))));
    $("drill-marks").replaceChildren(...d.marks.map((m) => el("li", { "data-item": m.item }, `${m.turn + 1}: [${m.item}] ${m.reason}`)));
    $("drill").scrollIntoView({ block: "nearest" });
  }

  async function load() {
    try {
      render(await api(`/api/desk/analysis${query() ? `?${query()}` : ""}`));
      document.body.setAttribute("data-loaded", String(Date.now()));
    } catch (err) {
      if (err.login) { $("login-needed").hidden = false; $("main").hidden = true; } else console.error(err);
    }
  }

  async function live() {
    try {
      const l = await api("/api/desk/live");
      $("live-queue").textContent = String(l.queueLength);
      $("live-longest").textContent = secs(l.longestWaitMs);
      $("live-average").textContent = secs(l.averageWaitMs);
      $("live-agents").textContent = String(l.agentsOnline.length);
      $("live-agent-names").textContent = l.agentsOnline.map((a) => `${a.displayName} (${a.activeConversations})`).join(", ");
    } catch (err) { /* the next tick retries */ }
  }

  async function start() {
    try {
      const me = await api("/api/desk/me");
      $("me").textContent = `${me.user.displayName} · ${me.user.role}`;
      if (me.user.role !== "supervisor" && me.user.role !== "admin") throw Object.assign(new Error("role"), { login: true });
    } catch (err) {
      $("login-needed").hidden = false;
      return;
    }
    $("main").hidden = false;
    $("filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
    window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
    await Promise.all([load(), live()]);
    setInterval(live, 5000);
  }
  start();
})();
