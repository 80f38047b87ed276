// A reasoning model's thinking in the web page (issue 22, Build 4): the server streams the <think> block as
// reasoning_content, and the page (real headless Chromium via playwright-core) shows it collapsed — a closed
// <details class="reasoning"> whose text is hidden until the reader opens it, HTML escaped — above the answer, which
// renders as Markdown; no <think> tag reaches the page. Skips with a message when chromium is not installed.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { FakeModel } from "./fake-model.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`;
const THOUGHT = "The user greets me. <b>not bold</b>";
const model = new FakeModel({ script: () => `<think>\n${THOUGHT}\n</think>\n\nThe **answer**.` });
let srv: RunningServer;
let browser: BrowserContext;
let page: Page;
let userDataDir: string;

before(async () => {
  if (skip) return;
  srv = await startServer({ model, port: 0 });
  userDataDir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-chromium-"));
  browser = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"] });
  page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(`${srv.url}/`);
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await srv?.close();
  rmSync(userDataDir, { recursive: true, force: true });
});

test("the thinking shows collapsed above the answer; opening it shows the escaped text", { skip }, async () => {
  await page.waitForFunction("document.getElementById('model-name')?.textContent === 'fake-chatml'");
  await page.fill("#input", "hello");
  await page.press("#input", "Enter");
  await page.waitForFunction("[...document.querySelectorAll('.msg.assistant')].pop()?.getAttribute('data-finish') === 'stop'");
  const reply = page.locator(".msg.assistant").last();
  const details = reply.locator("details.reasoning");
  assert.equal(await details.count(), 1);
  assert.equal(await details.evaluate((d) => (d as unknown as { open: boolean }).open), false, "collapsed");
  assert.equal(await details.getByText("The user greets me.").isVisible(), false, "the thinking is hidden until opened");
  assert.equal(await reply.locator("strong").textContent(), "answer");
  assert.doesNotMatch((await reply.textContent()) ?? "", /<\/?think>/);
  await details.locator("summary").click();
  await details.getByText("The user greets me.").waitFor({ state: "visible" });
  assert.match((await details.textContent()) ?? "", /<b>not bold<\/b>/, "escaped, not rendered");
  assert.equal(await details.locator("b").count(), 0);
});
