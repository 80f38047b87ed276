// The agent desk page's script (pages/desk.html): plain browser JS, no framework, no CDN. Chinese first, English
// with the toggle (remembered in localStorage). Logs in with a session cookie, keeps the queue and the open
// conversation current over Server-Sent Events (/api/desk/events), pre-fills the reply box with the drafted
// reply (sent with it, so an edit becomes a preference pair), transfers to an agent or a team, and shows leads
// masked as the server sends them.
// All text goes in as textContent.
(function () {
  "use strict";
  var I18N = {
    zh: { title: "智语客服工作台", tabConversations: "会话", tabLeads: "线索", tabUsers: "用户", logout: "退出", login: "登录", username: "用户名", password: "密码",
      loginBtn: "登录", queue: "待接入队列", mine: "我的会话", botConvs: "机器人会话", pick: "从左侧选择一个会话", take: "接入", handBack: "转回机器人", close: "结束会话", transfer: "转接", team: "团队",
      send: "发送", draftHint: "已预填建议回复，可编辑后发送", notePh: "内部备注（客户看不到）", addNote: "添加备注", kb: "知识库建议", slots: "对话信息", timeline: "事件",
      exportCsv: "导出 CSV", time: "时间", name: "姓名", phone: "手机", email: "邮箱", need: "需求", role: "角色", create: "创建", audit: "审计日志",
      waiting: "等待", customer: "客户", bot: "机器人", agent: "人工", system: "系统", status: { bot: "机器人", queued: "排队中", agent: "人工处理中", closed: "已结束" },
      priority: ["低", "普通", "高", "紧急"], empty: "暂无", note: "备注", loginFailed: "用户名或密码错误" },
    en: { title: "Zhiyu Agent Desk", tabConversations: "Conversations", tabLeads: "Leads", tabUsers: "Users", logout: "Log out", login: "Log in", username: "Username", password: "Password",
      loginBtn: "Log in", queue: "Queue", mine: "My conversations", botConvs: "With the bot", pick: "Pick a conversation on the left", take: "Take", handBack: "Hand back to bot", close: "Close", transfer: "Transfer", team: "team",
      send: "Send", draftHint: "A drafted reply is filled in; edit it and send", notePh: "Internal note (the customer does not see it)", addNote: "Add note", kb: "KB suggestions", slots: "Dialogue state", timeline: "Events",
      exportCsv: "Export CSV", time: "Time", name: "Name", phone: "Mobile", email: "E-mail", need: "Need", role: "Role", create: "Create", audit: "Audit log",
      waiting: "waiting", customer: "Customer", bot: "Bot", agent: "Agent", system: "System", status: { bot: "bot", queued: "queued", agent: "with agent", closed: "closed" },
      priority: ["low", "normal", "high", "urgent"], empty: "none", note: "note", loginFailed: "Wrong username or password" },
  };
  var lang = localStorage.getItem("zhiyu-desk-lang") === "en" ? "en" : "zh";
  var me = null;
  var current = null;
  var draft = null;
  var $ = function (id) { return document.getElementById(id); };
  function t(k) { return I18N[lang][k]; }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function applyLang() {
    document.documentElement.lang = lang;
    document.title = t("title");
    document.querySelectorAll("[data-i18n]").forEach(function (e) { e.textContent = t(e.getAttribute("data-i18n")); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (e) { e.placeholder = t(e.getAttribute("data-i18n-placeholder")); });
    $("lang-toggle").textContent = lang === "zh" ? "EN" : "中文";
  }
  function api(method, path, body) {
    return fetch(path, { method: method, credentials: "same-origin", headers: body ? { "content-type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) { var e = new Error(j.error ? j.error.message : "HTTP " + r.status); e.status = r.status; throw e; } return j; }); });
  }
  function fmtWait(ms) { var s = Math.floor(ms / 1000); return s < 60 ? s + "s" : Math.floor(s / 60) + "m" + (s % 60) + "s"; }
  function item(c, withWait) {
    var li = el("li", "pri-" + ["low", "normal", "high", "urgent"][c.priority || 0]);
    li.setAttribute("data-id", c.id);
    if (current === c.id) li.classList.add("active");
    li.appendChild(el("span", null, c.id.slice(0, 10)));
    if (withWait) li.appendChild(el("span", "wait", t("waiting") + " " + fmtWait(c.waitingMs || 0)));
    li.appendChild(el("span", "sub", t("status")[c.status] + " · " + t("priority")[c.priority || 0] + (c.handoffReason ? " · " + c.handoffReason : "")));
    li.onclick = function () { open(c.id); };
    return li;
  }
  function fill(ul, list, withWait) {
    ul.textContent = "";
    if (!list.length) ul.appendChild(el("li", "sub", t("empty")));
    list.forEach(function (c) { ul.appendChild(item(c, withWait)); });
  }
  function loadLists() {
    api("GET", "/api/desk/queue").then(function (j) { fill($("queue"), j.queue, true); });
    api("GET", "/api/desk/conversations").then(function (j) {
      fill($("mine"), j.conversations.filter(function (c) { return c.status === "agent" && c.assignee === me.username; }));
      fill($("bot-list"), j.conversations.filter(function (c) { return c.status === "bot"; }).slice(0, 20));
    });
  }
  function renderMessage(m) {
    var d = el("div", "msg");
    d.setAttribute("data-role", m.role);
    d.setAttribute("data-id", m.id);
    var who = el("div", "who", t(m.role) + (m.author && m.role === "agent" ? " · " + m.author : "") + " · " + new Date(m.createdAt).toLocaleTimeString());
    if (m.intent) { var i = el("span", "tag intent", m.intent + (m.confidence != null ? " " + m.confidence.toFixed(2) : "")); who.appendChild(i); }
    if (m.emotion) who.appendChild(el("span", "tag emotion emotion-" + m.emotion, m.emotion + (m.sentiment != null ? " " + m.sentiment.toFixed(2) : "")));
    if (m.meta && m.meta.route) who.appendChild(el("span", "tag", m.meta.route));
    d.appendChild(who);
    d.appendChild(el("span", "text", m.text));
    // What the customer was shown with a bot reply: the suggested items with their reasons (accepted ones marked).
    var sugg = (m.meta && m.meta.suggestions) || [];
    if (sugg.length) {
      var ul = el("ul", "suggestions-shown");
      sugg.forEach(function (s) { ul.appendChild(el("li", s.accepted ? "accepted" : null, s.name + " — " + s.reason)); });
      d.appendChild(ul);
    }
    return d;
  }
  function open(id) {
    current = id;
    document.querySelectorAll("#sidebar li").forEach(function (li) { li.classList.toggle("active", li.getAttribute("data-id") === id); });
    return api("GET", "/api/desk/conversations/" + id).then(function (j) {
      var c = j.conversation;
      $("conv-empty").hidden = true;
      $("conv-body").hidden = false;
      $("conv-title").textContent = c.id;
      $("conv-status").textContent = t("status")[c.status] + (c.assignee ? " · " + c.assignee : "");
      $("conv-status").setAttribute("data-status", c.status);
      $("conv-reason").textContent = c.handoffReason || "";
      $("take-btn").hidden = !(c.status === "queued" || c.status === "bot");
      $("handback-btn").hidden = c.status !== "agent";
      // The owner transfers; a supervisor or admin may transfer any open conversation.
      $("transfer-box").hidden = !((c.status === "agent" && (c.assignee === me.username || me.role !== "agent")) || (c.status === "queued" && me.role !== "agent")) ||
        !$("transfer-to").options.length;
      $("close-btn").hidden = c.status === "closed";
      var box = $("conv-messages");
      box.textContent = "";
      j.messages.forEach(function (m) { box.appendChild(renderMessage(m)); });
      box.scrollTop = box.scrollHeight;
      $("slots").textContent = Object.keys(c.slots).map(function (k) { return k + " = " + c.slots[k]; }).join("\n") || t("empty");
      var ev = $("events");
      ev.textContent = "";
      j.events.forEach(function (e) {
        ev.appendChild(el("li", "event-" + e.type.replace(/\./g, "-"), new Date(e.createdAt).toLocaleTimeString() + " " + e.type + (e.actor ? " (" + e.actor + ")" : "") +
          (e.detail && e.detail.text ? ": " + e.detail.text : e.detail && e.detail.reason ? ": " + e.detail.reason : "")));
      });
      if (c.status === "agent" || c.status === "queued") return assist(id);
    });
  }
  function assist(id) {
    return api("GET", "/api/desk/conversations/" + id + "/assist").then(function (a) {
      if (current !== id) return;
      draft = a.draft;
      if (!$("reply-input").value || $("reply-input").getAttribute("data-draft") === "1") { $("reply-input").value = a.draft; $("reply-input").setAttribute("data-draft", "1"); }
      var s = $("suggestions");
      s.textContent = "";
      a.citations.forEach(function (c) { var d = el("div", "cite"); d.appendChild(el("b", null, c.doc + " · " + c.score.toFixed(2))); d.appendChild(el("span", null, c.text)); s.appendChild(d); });
      if (!a.citations.length) s.textContent = t("empty");
    });
  }
  function act(action, body) { return api("POST", "/api/desk/conversations/" + current + "/" + action, body || {}).then(function () { return open(current); }).then(loadLists); }
  $("take-btn").onclick = function () { act("take"); };
  $("handback-btn").onclick = function () { act("handback"); };
  $("transfer-btn").onclick = function () {
    var v = $("transfer-to").value.split(":");
    if (v.length === 2) act("transfer", v[0] === "team" ? { team: v[1] } : { to: v[1] });
  };
  function loadTransferTargets() {
    return api("GET", "/api/desk/transfer-targets").then(function (j) {
      var sel = $("transfer-to");
      sel.textContent = "";
      j.agents.forEach(function (a) { var o = el("option", null, a.displayName + " (" + a.username + ")"); o.value = "agent:" + a.username; sel.appendChild(o); });
      j.teams.forEach(function (tm) { var o = el("option", null, t("team") + " " + tm); o.value = "team:" + tm; sel.appendChild(o); });
    });
  }
  $("close-btn").onclick = function () { act("close"); };
  $("reply-input").addEventListener("input", function () { $("reply-input").setAttribute("data-draft", "0"); });
  $("reply-send").onclick = function () {
    var text = $("reply-input").value.trim();
    if (!text) return;
    act("reply", { text: text, draft: draft }).then(function () { $("reply-input").value = ""; $("reply-input").setAttribute("data-draft", "0"); });
  };
  $("note-send").onclick = function () {
    var text = $("note-input").value.trim();
    if (text) act("note", { text: text }).then(function () { $("note-input").value = ""; });
  };
  function loadLeads() {
    api("GET", "/api/desk/leads").then(function (j) {
      var tb = document.querySelector("#leads-table tbody");
      tb.textContent = "";
      j.leads.forEach(function (l) {
        var tr = el("tr");
        tr.setAttribute("data-id", l.id);
        [["time", new Date(l.createdAt).toLocaleString()], ["name", l.name], ["phone", l.phone], ["email", l.email], ["need", l.need]].forEach(function (p) { tr.appendChild(el("td", p[0], p[1] || "")); });
        tb.appendChild(tr);
      });
    });
  }
  function loadUsers() {
    api("GET", "/api/desk/users").then(function (j) {
      var tb = document.querySelector("#users-table tbody");
      tb.textContent = "";
      j.users.forEach(function (u) { var tr = el("tr"); tr.appendChild(el("td", null, u.username)); tr.appendChild(el("td", null, u.role)); tb.appendChild(tr); });
    });
    api("GET", "/api/desk/audit").then(function (j) {
      var ul = $("audit");
      ul.textContent = "";
      j.audit.slice(0, 50).forEach(function (a) { ul.appendChild(el("li", null, new Date(a.createdAt).toLocaleString() + " " + a.actor + " " + a.action + " " + (a.target || ""))); });
    });
  }
  $("user-form").onsubmit = function (e) {
    e.preventDefault();
    api("POST", "/api/desk/users", { username: $("new-user").value, password: $("new-pass").value, role: $("new-role").value }).then(loadUsers, function (err) { alert(err.message); });
  };
  document.querySelectorAll("#tabs button").forEach(function (b) {
    b.onclick = function () {
      document.querySelectorAll("#tabs button").forEach(function (x) { x.classList.toggle("active", x === b); });
      ["conversations", "leads", "users"].forEach(function (v) { $("view-" + v).hidden = v !== b.getAttribute("data-tab"); });
      if (b.getAttribute("data-tab") === "leads") loadLeads();
      if (b.getAttribute("data-tab") === "users") loadUsers();
    };
  });
  $("lang-toggle").onclick = function () { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("zhiyu-desk-lang", lang); applyLang(); if (me) { loadLists(); if (current) open(current); } };
  $("logout").onclick = function () { api("POST", "/desk/logout").then(function () { location.reload(); }); };
  $("login-form").onsubmit = function (e) {
    e.preventDefault();
    api("POST", "/desk/login", { username: $("login-user").value, password: $("login-pass").value }).then(start, function () { $("login-error").textContent = t("loginFailed"); });
  };
  function start() {
    return api("GET", "/api/desk/me").then(function (j) {
      me = j.user;
      $("login").hidden = true;
      $("app").hidden = false;
      $("tabs").hidden = false;
      $("logout").hidden = false;
      $("tab-users").hidden = me.role !== "admin";
      $("tab-quality").hidden = me.role === "agent";
      $("me").textContent = me.displayName + " (" + me.role + ")";
      document.body.setAttribute("data-role", me.role);
      loadLists();
      loadTransferTargets();
      var es = new EventSource("/api/desk/events");
      es.addEventListener("queue", loadLists);
      es.addEventListener("conversation", function (e) { var d = JSON.parse(e.data); loadLists(); if (d.conversationId === current) open(current); });
      es.addEventListener("message", function (e) {
        var d = JSON.parse(e.data);
        if (d.conversationId !== current) return;
        var box = $("conv-messages");
        if (!box.querySelector('[data-id="' + d.message.id + '"]')) { box.appendChild(renderMessage(d.message)); box.scrollTop = box.scrollHeight; }
        if (d.message.role === "customer") setTimeout(function () { open(current); }, 300);
      });
    }, function () { $("login").hidden = false; });
  }
  applyLang();
  start();
})();
