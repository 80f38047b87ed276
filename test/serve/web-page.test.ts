// The web chat page in a real headless Chromium (playwright-core driving Debian's /usr/bin/chromium): the page loads
// from the server with no outside requests, a sent message's reply streams in (seen partially before it is
// complete) and is rendered as Markdown with HTML escaped, and the Stop button ends a long generation early — the
// server sees the disconnect and frees the sequence; with the server's tools on, a calculator call and its result
// appear in the conversation. Skips with a message when chromium is not installed.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { calculatorAsTool } from "../../src/tools/tool.js";
import { FakeModel, scriptedReply } from "./fake-model.js";

const CHROMIUM = "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
const skip = available ? false : `${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`;

let srv: RunningServer;
let browser: BrowserContext;
let page: Page;
let userDataDir: string;
const offsite: string[] = [];
const model = new FakeModel({
  forwardDelayMs: 4,
  script: (lastTurn, prompt) => (/long/.test(lastTurn) ? "word ".repeat(2000)
    : /calc|<tool_response>/.test(lastTurn) ? scriptedReply(lastTurn, prompt)
    : `**Bold** reply to: ${lastTurn.trim()} <script>x</script>`),
});

before(async () => {
  if (!available) return;
  srv = await startServer({ model, port: 0, parallel: 2, tools: [calculatorAsTool()] });
  userDataDir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-chromium-"));
  // A fresh profile directory (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on("request", (r) => {
    if (!r.url().startsWith(srv.url)) offsite.push(r.url());
  });
  await page.goto(`${srv.url}/`);
});

after(async () => {
  if (!available) return;
  await browser?.close();
  await srv?.close();
  rmSync(userDataDir, { recursive: true, force: true });
});

test("send a message: the reply streams in and renders as escaped Markdown", { skip }, async () => {
  // Page-side predicates are strings: they run in the browser, and this project type-checks without DOM types.
  const lastReply = "[...document.querySelectorAll('.msg.assistant')].pop()";
  await page.waitForFunction("document.getElementById('model-name')?.textContent === 'fake-chatml'");
  await page.fill("#input", "hello page");
  await page.press("#input", "Enter");
  const reply = page.locator(".msg.assistant").last();
  // Seen mid-stream: some text is there while the message is still streaming.
  await page.waitForFunction(`${lastReply}?.classList.contains('streaming') && ${lastReply}.textContent.length > 0`);
  await page.waitForFunction(`${lastReply} && !${lastReply}.classList.contains('streaming')`);
  assert.equal(await reply.locator("strong").textContent(), "Bold");
  assert.match((await reply.textContent()) ?? "", /reply to: hello page <script>x<\/script>/);
  assert.equal(await reply.locator("script").count(), 0, "model output cannot inject tags");
  assert.deepEqual(offsite, [], "no requests leave the server (no CDN)");
});

test("Stop ends a long generation and frees the server's slot", { skip }, async () => {
  await page.fill("#input", "something long please");
  await page.click("#send");
  const lastReply = "[...document.querySelectorAll('.msg.assistant')].pop()";
  await page.waitForFunction(`(${lastReply}?.textContent ?? '').length > 20`);
  await page.click("#stop");
  await page.waitForFunction(`${lastReply}?.getAttribute('data-finish') === 'stopped'`);
  const seq = model.sequences[model.sequences.length - 1];
  for (let i = 0; i < 100 && !seq.disposed; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(seq.disposed, "the cancelled sequence was freed");
  assert.ok(seq.tokens.length - seq.promptLength < 2000 * 5, "generation stopped early");
  assert.equal(srv.engine.scheduler.activeCount, 0);
  assert.equal(await page.isVisible("#send"), true);
});

test("server tools: the calculator call and its result are shown", { skip }, async () => {
  assert.equal(await page.isVisible("#server-tools-row"), false, "settings are collapsed");
  await page.click("#toggle-settings");
  assert.equal(await page.isChecked("#server-tools"), true);
  await page.fill("#input", "calc 6*7");
  await page.press("#input", "Enter");
  const reply = page.locator(".msg.assistant").last();
  await reply.locator(".tool-call").waitFor();
  assert.match((await reply.locator(".tool-call").textContent()) ?? "", /calculator\(\{"expression":"6\*7"\}\)/);
  await reply.locator(".tool-result").waitFor();
  assert.match((await reply.locator(".tool-result").textContent()) ?? "", /"result":"42"/);
  await page.waitForFunction("[...document.querySelectorAll('.msg.assistant')].pop()?.getAttribute('data-finish') === 'stop'");
  assert.match((await reply.textContent()) ?? "", /The answer is/);
});
