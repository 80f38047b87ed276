// The supervisor dashboard in a real headless Chromium (playwright-core driving /usr/bin/chromium) against the real
// desk server (default configuration, SQLite): conversations are seeded through the store and closed through the
// desk service, which inspects each one (migration 3's table); the page renders the charts (ECharts canvases) and
// tables from that database, the agent filter narrows the tables, the drill-down highlights the marked span in
// place (masked for a supervisor), every table's CSV export answers, and the live view counts the queue. Then an
// agent transfers a conversation to a colleague with the desk page's transfer control, and li's transfer rate shows.
// Screenshots: docs/screenshots/supervisor-{dashboard,drilldown}.png and desk-transfer.png, rewritten only when
// ZHIYU_DESK_SCREENSHOTS=1.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { loadConfig } from "../../../../src/apps/contact-centre/config.js";
import { startDesk, type RunningDesk } from "../../../../src/apps/contact-centre/server/app.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`;
let desk: RunningDesk;
let browser: Browser;
let dir: string;
let SHOTS: string;
const PHONE = "13812345678";

before(async () => {
  if (skip) return;
  dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-supervisor-e2e-"));
  SHOTS = process.env.ZHIYU_DESK_SCREENSHOTS === "1" ? path.resolve("docs/screenshots") : path.join(dir, "screenshots");
  mkdirSync(SHOTS, { recursive: true });
  desk = await startDesk({ config: loadConfig(), db: path.join(dir, "desk.sqlite"), dataDir: dir, port: 0, dataRoot: path.resolve("../shared/data") });
  const sup = await desk.accounts.createUser({ username: "sup", password: "sup-pass-1", role: "supervisor", displayName: "主管 Chen" });
  await desk.accounts.createUser({ username: "li", password: "li-pass-1", role: "agent", displayName: "小李" });
  await desk.accounts.createUser({ username: "wang", password: "wang-pass-1", role: "agent", displayName: "小王" });
  const store = desk.service.conversations;
  const seed = async (agent: string, customer: string, reply: string, closing: string) => {
    const { conversation } = await store.createConversation({ channel: "web", language: "zh", state: {} });
    await store.addMessage(conversation.id, { role: "customer", text: customer });
    await store.addEvent(conversation.id, "handoff.taken", agent);
    await store.updateConversation(conversation.id, { status: "agent", assignee: agent });
    await store.addMessage(conversation.id, { role: "agent", text: reply, author: agent });
    await store.addMessage(conversation.id, { role: "customer", text: "好的，谢谢！" });
    await store.addMessage(conversation.id, { role: "agent", text: closing, author: agent });
    await desk.service.close(conversation.id, sup);
    return conversation.id;
  };
  await seed("li", "我的订单怎么还没出票？", `您好，我查到了，您的手机号是${PHONE}，票已发送。`, "感谢您的咨询，再见！");
  await seed("li", "故宫几点开门？", "您好，故宫8:30开门。", "祝您旅途愉快，再见！");
  await seed("wang", "可以退票吗？", "可以退，这个不归我管的部分请找平台。", "感谢您，再见！");
  await seed("wang", "发票怎么开？", "在订单页面申请电子发票。", "还有其他问题吗？");
  await desk.inspections.idle();
  // One customer waiting in the queue for the live view.
  const { conversation: waiting } = await store.createConversation({ channel: "web", language: "zh", state: {} });
  await store.updateConversation(waiting.id, { status: "queued", queuedAt: Date.now() - 90_000, priority: 2 });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await desk?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("supervisor dashboard: charts and tables from the store, filters, drill-down marks, CSV, live view", { skip, timeout: 90_000 }, async () => {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  try {
    const page = await ctx.newPage();
    const offsite: string[] = [];
    page.on("request", (r) => { if (!r.url().startsWith(desk.url)) offsite.push(r.url()); });
    page.on("pageerror", (e) => console.log(`page error: ${e.message}`));
    await page.goto(`${desk.url}/desk`);
    await page.fill("#login-user", "sup");
    await page.fill("#login-pass", "sup-pass-1");
    await page.click("#login-btn");
    await page.waitForSelector("#app:not([hidden])");
    // The desk shows supervisors the way to the dashboard.
    await page.click("#tab-quality");
    await page.waitForSelector("body[data-loaded]");
    // Charts drawn by ECharts (canvas) and tables from the four inspected conversations.
    for (const id of ["chart-quality", "chart-workload", "chart-days"]) await page.waitForSelector(`#${id} canvas`);
    assert.equal(await page.locator("#table-conversations tbody tr").count(), 4);
    const agents = await page.locator("#table-agents tbody tr td:first-child").allTextContents();
    assert.deepEqual(agents, ["li", "wang"]);
    // Scores on the page are the stored inspection results.
    const stored = await Promise.all((await desk.inspections.inspected()).map(async (x) => x.report!.score));
    assert.equal(stored.length, 4);
    const shown = (await page.locator("#table-conversations tbody tr td:nth-child(6)").allTextContents()).map(Number).sort();
    assert.deepEqual(shown, stored.map((s) => Number(Number.isInteger(s) ? s : s.toFixed(1))).sort());
    // Live view: one in the queue waiting ~90 s.
    await until(async () => (await page.locator("#live-queue").textContent()) === "1", "the live queue shows 1");
    assert.match((await page.locator("#live-longest").textContent()) ?? "", /^(8\d|9\d|1\d\d) s$/);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "supervisor-dashboard.png"), fullPage: true });
    // Filter by agent.
    await page.selectOption("#f-agent", "li");
    const before = await page.getAttribute("body", "data-loaded");
    await page.click("#f-apply");
    await until(async () => (await page.getAttribute("body", "data-loaded")) !== before, "the filtered data loads");
    assert.equal(await page.locator("#table-conversations tbody tr").count(), 2);
    assert.deepEqual(await page.locator("#table-agents tbody tr td:first-child").allTextContents(), ["li"]);
    const csvHref = await page.getAttribute("#table-conversations a.csv", "href");
    assert.equal(csvHref, "/api/desk/analysis/conversations.csv?agent=li");
    // Drill-down: the read-out phone number is highlighted in place (masked for a supervisor).
    const row = page.locator("#table-conversations tbody tr", { hasText: "pii" });
    await row.first().click();
    await page.waitForSelector("#drill:not([hidden]) mark.qc-mark");
    const marked = page.locator('#drill mark.qc-mark[data-item~="pii"]');
    assert.equal(await marked.count(), 1);
    assert.equal(await marked.textContent(), "138****5678");
    const turnText = await page.locator('#drill .turn[data-turn="1"]').textContent();
    assert.ok(turnText?.includes("您的手机号是138****5678，票已发送"), `the mark sits inside its turn's text (${turnText})`);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "supervisor-drilldown.png"), fullPage: true });
    // Every table exports CSV (with the filters).
    for (const t of ["agents", "teams", "days", "hours", "workload", "conversations", "coaching", "faq"]) {
      const r = await page.request.get(`${desk.url}/api/desk/analysis/${t}.csv?agent=li`);
      assert.equal(r.status(), 200, t);
      assert.match(r.headers()["content-type"], /text\/csv/);
      const lines = (await r.text()).replace(/^\uFEFF/, "").trim().split("\r\n");
      assert.ok(lines.length >= 1, t);
      if (t === "conversations") assert.equal(lines.length, 3, "header + li's two conversations");
    }
    assert.deepEqual(offsite, [], "nothing is fetched from a CDN");
    // An agent may not open the dashboard's API.
    const agentCtx = await browser.newContext();
    const r = await agentCtx.request.post(`${desk.url}/desk/login`, { data: { username: "li", password: "li-pass-1" } });
    assert.equal(r.status(), 200);
    assert.equal((await agentCtx.request.get(`${desk.url}/api/desk/analysis`)).status(), 403);
    await agentCtx.close();
  } finally {
    await ctx.close();
  }
});

test("agent desk: the transfer control hands a conversation to a colleague; the analysis counts it", { skip, timeout: 60_000 }, async () => {
  const store = desk.service.conversations;
  const { conversation } = await store.createConversation({ channel: "web", language: "zh", state: {} });
  const asked = await store.addMessage(conversation.id, { role: "customer", text: "我要改签" });
  await store.tagMessage(asked.message.id, { intent: "change_booking", confidence: 0.9, emotion: "neutral", sentiment: 0 });
  await store.addEvent(conversation.id, "handoff.taken", "li");
  await store.updateConversation(conversation.id, { status: "agent", assignee: "li" });
  const ctx = await browser.newContext({ viewport: { width: 1300, height: 800 } });
  try {
    const page = await ctx.newPage();
    page.on("pageerror", (e) => console.log(`page error: ${e.message}`));
    await page.goto(`${desk.url}/desk`);
    await page.fill("#login-user", "li");
    await page.fill("#login-pass", "li-pass-1");
    await page.click("#login-btn");
    await page.click(`#mine li[data-id="${conversation.id}"]`);
    await page.waitForSelector("#transfer-box:not([hidden])");
    await page.selectOption("#transfer-to", "agent:wang");
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "desk-transfer.png") });
    await page.click("#transfer-btn");
    await until(async () => ((await page.locator("#conv-status").textContent()) ?? "").includes("wang"), "the conversation shows wang as its owner");
    await until(async () => (await page.locator("#events li.event-handoff-transferred").count()) === 1, "the transfer is in the timeline");
    assert.equal(await page.isHidden("#transfer-box"), true, "li no longer owns it");
  } finally {
    await ctx.close();
  }
  const wang = (await desk.accounts.userByName("wang"))!;
  assert.equal((await store.conversation(conversation.id))?.assignee, "wang");
  await desk.service.agentReply(conversation.id, wang, "您好，已为您改签，再见！", null);
  await desk.service.close(conversation.id, wang);
  await desk.inspections.idle();
  // li first owned 3 conversations and transferred 1 of them; wang's 2 were not transferred.
  const sup = await browser.newContext();
  try {
    await sup.request.post(`${desk.url}/desk/login`, { data: { username: "sup", password: "sup-pass-1" } });
    const rows = (await (await sup.request.get(`${desk.url}/api/desk/analysis`)).json()).analysis.agents as { key: string; handled: number; transferRate: number }[];
    assert.deepEqual(rows.map((r) => [r.key, r.handled, r.transferRate]), [["li", 3, 1 / 3], ["wang", 2, 0]]);
    // The other filters (team, intent, date, score) against counts taken from the store directly.
    const stored = await desk.inspections.inspected();
    assert.equal(stored.length, 5);
    const count = async (q: string) => ((await (await sup.request.get(`${desk.url}/api/desk/analysis?${q}`)).json()).conversations as unknown[]).length;
    const day = new Date(stored[0].conversation.createdAt).toISOString().slice(0, 10);
    const lowest = Math.min(...stored.map((x) => x.report!.score));
    assert.equal(await count(`max_score=${lowest}`), stored.filter((x) => x.report!.score <= lowest).length);
    assert.equal(await count(`min_score=${lowest + 0.1}`), stored.filter((x) => x.report!.score > lowest).length);
    assert.equal(await count("intent=change_booking"), 1);
    assert.equal(await count(`from=${day}&to=${day}`), stored.filter((x) => new Date(x.conversation.createdAt).toISOString().slice(0, 10) === day).length);
    assert.equal(await count("from=2999-01-01"), 0);
    assert.equal(await count("team=—"), 5, "no teams configured: every agent is in team —");
    assert.equal(await count("team=north"), 0);
  } finally {
    await sup.close();
  }
});
