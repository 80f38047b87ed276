// Zhiyu desk chat widget: embed with ONE tag on any page —
//   <script src="https://desk.example.com/widget.js" data-lang="zh" async></script>
// Options (data- attributes): lang "zh"|"en" (default: the page's <html lang>), title, open ("true" opens it).
// No dependencies and no CDN: vanilla JS; styles live in a Shadow DOM so the page's CSS and the widget's do not
// mix. The conversation id and its secret token are kept in localStorage (one conversation per browser and desk);
// replies stream in over Server-Sent Events; a message is sent with a client id and retried with back-off until
// the server acknowledges it (the server stores it once). Text is always inserted as text, never as HTML.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__zhiyuDeskWidget) return;
  window.__zhiyuDeskWidget = true;
  var base = new URL(script.src, location.href).origin;
  var lang = (script.getAttribute("data-lang") || document.documentElement.lang || "zh").slice(0, 2) === "en" ? "en" : "zh";
  var T = {
    zh: { title: "在线客服", placeholder: "请输入您的问题…", send: "发送", sources: "参考资料", interested: "感兴趣", noted: "已记录，谢谢！",
      queued: "正在为您转接人工客服，请稍候…", agent: "人工客服已接入", back: "已转回智能助手", closed: "会话已结束", agentLabel: "人工客服",
      failed: "发送失败，正在重试…", up: "有帮助", down: "没帮助", thanks: "感谢反馈！", why: "哪里不满意？（可选）", open: "在线客服" },
    en: { title: "Customer service", placeholder: "Type your question…", send: "Send", sources: "Sources", interested: "Interested", noted: "Noted, thank you!",
      queued: "Connecting you to a human agent…", agent: "A human agent has joined", back: "Back with the assistant", closed: "Conversation closed", agentLabel: "Agent",
      failed: "Not sent yet, retrying…", up: "Helpful", down: "Not helpful", thanks: "Thanks for the feedback!", why: "What went wrong? (optional)", open: "Chat with us" },
  }[lang];
  var title = script.getAttribute("data-title") || T.title;
  var storeKey = "zhiyu-desk:" + base;
  var saved = {};
  try { saved = JSON.parse(localStorage.getItem(storeKey) || "{}") || {}; } catch (e) { saved = {}; }
  var conv = saved.lang === lang ? saved : {};
  var lastSeq = 0;
  var source = null;
  var host = document.createElement("div");
  host.id = "zhiyu-desk-widget";
  var root = host.attachShadow({ mode: "open" });
  var css =
    ":host{all:initial}*{box-sizing:border-box;font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif}" +
    ".zy-launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;background:#1f6feb;color:#fff;font-size:15px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    ".zy-panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:360px;max-width:calc(100vw - 40px);height:520px;max-height:calc(100vh - 110px);display:none;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden;color:#1b1f24;font-size:14px}" +
    ".zy-panel.zy-open{display:flex}.zy-head{background:#1f6feb;color:#fff;padding:12px 14px;font-weight:600}" +
    ".zy-banner{background:#fff4d6;color:#6b4e00;padding:6px 12px;font-size:13px;display:none}.zy-banner.zy-show{display:block}" +
    ".zy-list{flex:1;overflow-y:auto;padding:12px;background:#f5f7fa}" +
    ".zy-msg{max-width:85%;margin:6px 0;padding:8px 11px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word;line-height:1.45}" +
    ".zy-customer{margin-left:auto;background:#1f6feb;color:#fff}.zy-bot{background:#fff;border:1px solid #e1e4e8}" +
    ".zy-agent{background:#e8f5e9;border:1px solid #b7dfbb}.zy-system{margin:6px auto;background:transparent;color:#57606a;font-size:12px;text-align:center}" +
    ".zy-pending{opacity:.6}.zy-streaming::after{content:'▍';animation:zyb 1s steps(1) infinite}@keyframes zyb{50%{opacity:0}}" +
    ".zy-who{font-size:11px;color:#2e7d32;margin-bottom:2px}.zy-cites{margin-top:6px;font-size:12px;color:#57606a;border-top:1px dashed #d0d7de;padding-top:4px}" +
    ".zy-cite{display:block;margin-top:2px}.zy-cite summary{cursor:pointer}" +
    ".zy-sugg{margin-top:6px;padding:6px 8px;border:1px solid #d0d7de;border-radius:8px;background:#fafbfc}.zy-sugg b{display:block}" +
    ".zy-reason{font-size:12px;color:#57606a}.zy-accept{margin-top:4px;font-size:12px;border:1px solid #1f6feb;color:#1f6feb;background:#fff;border-radius:6px;padding:2px 8px;cursor:pointer}" +
    ".zy-fb{margin-top:4px;font-size:12px}.zy-fb button{border:0;background:none;cursor:pointer;font-size:12px;color:#57606a;padding:0 6px 0 0;text-decoration:underline}" +
    ".zy-fb input{font-size:12px;width:70%;margin-top:3px}.zy-form{display:flex;border-top:1px solid #e1e4e8;padding:8px;gap:6px;background:#fff}" +
    ".zy-input{flex:1;border:1px solid #d0d7de;border-radius:8px;padding:8px;font-size:14px;resize:none;height:40px}" +
    ".zy-send{border:0;background:#1f6feb;color:#fff;border-radius:8px;padding:0 14px;cursor:pointer}";
  var style = document.createElement("style");
  style.textContent = css;
  root.appendChild(style);
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  var launcher = el("button", "zy-launcher", T.open);
  var panel = el("div", "zy-panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  var head = el("div", "zy-head", title);
  var banner = el("div", "zy-banner");
  var list = el("div", "zy-list");
  list.setAttribute("aria-live", "polite");
  var form = el("form", "zy-form");
  var input = el("textarea", "zy-input");
  input.placeholder = T.placeholder;
  input.setAttribute("aria-label", T.placeholder);
  var send = el("button", "zy-send", T.send);
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(banner);
  panel.appendChild(list);
  panel.appendChild(form);
  root.appendChild(launcher);
  root.appendChild(panel);

  function api(method, path, body) {
    var headers = { "content-type": "application/json" };
    if (conv.token) headers.authorization = "Bearer " + conv.token;
    return fetch(base + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error((j && j.error && j.error.message) || "HTTP " + r.status);
        return j;
      });
    });
  }
  function ensureConversation() {
    if (conv.id) return Promise.resolve(conv);
    return api("POST", "/api/conversations", { language: lang, page_url: location.href, channel: "widget" }).then(function (j) {
      conv = { id: j.id, token: j.token, lang: lang };
      try { localStorage.setItem(storeKey, JSON.stringify(conv)); } catch (e) { /* private mode: this tab only */ }
      return conv;
    });
  }
  function scroll() { list.scrollTop = list.scrollHeight; }
  function find(id) { return list.querySelector('[data-id="' + id + '"]'); }
  function setStatus(status, who) {
    var text = status === "queued" ? T.queued : status === "agent" ? T.agent + (who ? " · " + who : "") : status === "closed" ? T.closed : "";
    banner.textContent = text;
    banner.className = "zy-banner" + (text ? " zy-show" : "");
    host.setAttribute("data-status", status);
  }
  function extras(node, m) {
    if (m.role === "bot" && m.citations && m.citations.length) {
      var cites = el("div", "zy-cites", T.sources + "：");
      m.citations.forEach(function (c) {
        var d = el("details", "zy-cite");
        d.appendChild(el("summary", null, "[" + c.doc + (c.passage ? " §" + c.passage : "") + "]"));
        d.appendChild(el("div", null, c.text));
        cites.appendChild(d);
      });
      node.appendChild(cites);
    }
    (m.suggestions || []).forEach(function (s) {
      var card = el("div", "zy-sugg");
      card.appendChild(el("b", null, s.name));
      card.appendChild(el("span", "zy-reason", s.reason));
      var b = el("button", "zy-accept", T.interested);
      b.type = "button";
      b.onclick = function () {
        api("POST", "/api/conversations/" + conv.id + "/recommendations/" + s.id + "/accept").then(function () { b.textContent = T.noted; b.disabled = true; });
      };
      card.appendChild(b);
      node.appendChild(card);
    });
    if (m.role === "bot" || m.role === "agent") {
      var fb = el("div", "zy-fb");
      var up = el("button", "zy-up", T.up);
      var down = el("button", "zy-down", T.down);
      up.type = down.type = "button";
      up.setAttribute("aria-label", "helpful");
      down.setAttribute("aria-label", "not helpful");
      var rate = function (rating, comment) {
        return api("POST", "/api/conversations/" + conv.id + "/feedback", { message_id: m.id, rating: rating, comment: comment || null });
      };
      up.onclick = function () { rate(1).then(function () { fb.textContent = T.thanks; }); };
      down.onclick = function () {
        fb.textContent = "";
        var why = el("input");
        why.placeholder = T.why;
        var ok = el("button", null, "↵");
        ok.type = "button";
        ok.onclick = function () { rate(-1, why.value).then(function () { fb.textContent = T.thanks; }); };
        fb.appendChild(why);
        fb.appendChild(ok);
      };
      fb.appendChild(up);
      fb.appendChild(down);
      node.appendChild(fb);
    }
  }
  function bubble(m) {
    var node = el("div", "zy-msg zy-" + m.role);
    node.setAttribute("data-id", m.id);
    if (m.role === "agent") node.appendChild(el("div", "zy-who", T.agentLabel + (m.author ? " · " + m.author : "")));
    node.appendChild(el("span", "zy-text", m.text));
    return node;
  }
  function render(m) {
    if (m.seq > lastSeq) lastSeq = m.seq;
    var existing = find(m.id) || (m.client_id ? list.querySelector('[data-client="' + m.client_id + '"]') : null);
    if (existing) {
      existing.setAttribute("data-id", m.id);
      existing.classList.remove("zy-pending", "zy-streaming");
      if (!existing.getAttribute("data-done")) {
        existing.querySelector(".zy-text").textContent = m.text;
        extras(existing, m);
        existing.setAttribute("data-done", "1");
      }
    } else {
      var node = bubble(m);
      extras(node, m);
      node.setAttribute("data-done", "1");
      list.appendChild(node);
    }
    scroll();
  }
  function delta(d) {
    var node = find(d.id);
    if (!node) {
      node = bubble({ id: d.id, role: d.role, author: d.author, text: "" });
      node.classList.add("zy-streaming");
      list.appendChild(node);
    }
    if (node.getAttribute("data-done")) return;
    node.querySelector(".zy-text").textContent += d.text;
    scroll();
  }
  function connect() {
    if (source || !conv.id) return;
    source = new EventSource(base + "/api/conversations/" + conv.id + "/stream?token=" + encodeURIComponent(conv.token) + "&after=" + lastSeq);
    source.addEventListener("message", function (e) { render(JSON.parse(e.data)); });
    source.addEventListener("delta", function (e) { delta(JSON.parse(e.data)); });
    source.addEventListener("status", function (e) { var s = JSON.parse(e.data); setStatus(s.status, s.assignee); });
    source.onerror = function () {
      // Reconnect from the last message seen, after a pause (the server may be restarting).
      source.close();
      source = null;
      setTimeout(connect, 1500);
    };
  }
  function post(text, clientId, node, attempt) {
    ensureConversation().then(function () {
      connect();
      return api("POST", "/api/conversations/" + conv.id + "/messages", { text: text, client_id: clientId });
    }).then(function (j) {
      node.classList.remove("zy-pending");
      node.setAttribute("data-id", j.message.id);
      node.setAttribute("data-done", "1");
    }).catch(function (err) {
      if (/not found or wrong token/.test(String(err && err.message))) {
        conv = {};
        try { localStorage.removeItem(storeKey); } catch (e) { /* ignore */ }
      }
      node.title = T.failed;
      setTimeout(function () { post(text, clientId, node, attempt + 1); }, Math.min(15000, 500 * Math.pow(2, attempt)));
    });
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    var clientId = "w" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    var node = bubble({ id: "pending-" + clientId, role: "customer", text: text });
    node.classList.add("zy-pending");
    node.setAttribute("data-client", clientId);
    list.appendChild(node);
    scroll();
    post(text, clientId, node, 0);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });
  function toggle(open) {
    panel.classList.toggle("zy-open", open);
    if (open) {
      connect();
      input.focus();
    }
  }
  launcher.addEventListener("click", function () { toggle(!panel.classList.contains("zy-open")); });
  function mount() {
    document.body.appendChild(host);
    if (script.getAttribute("data-open") === "true") toggle(true);
    else if (conv.id) connect();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
