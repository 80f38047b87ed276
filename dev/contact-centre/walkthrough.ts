// A new user's walk through the desk as `npm start` serves it, in headless Chromium (playwright-core, Debian's
// /usr/bin/chromium): starts `zhiyu desk --api-port 0 --port 0` (npm start's command, free ports) in a fresh folder,
// then as a customer on /demo (zh and en): a cited answer, a follow-up without the entity, a recommendation, the lead
// offer and contact details, an angry turn handed off; as the admin on /desk: the queue, take, the drafted reply
// edited and sent, hand back, the leads table; the OpenAI API port's /v1/models and chat page; finally
// `zhiyu desk export-preferences` on the same store. Prints one line per step (ok / FAILED with what was seen) and
// writes screenshots of the widget and the desk at 1280 and 390 px wide to --shots DIR.
// usage: node --import tsx dev/contact-centre/walkthrough.ts [--shots docs/screenshots] [--step-ms 90000]
// Leaves out: what the e2e test checks in depth (test/apps/contact-centre/desk-e2e.test.ts: streaming, masking by
// role, events); this is the eyes-on pass with screenshots.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { chromium, type Page } from "playwright-core";

const { values } = parseArgs({ options: { shots: { type: "string" }, "step-ms": { type: "string" } } });
const shots = path.resolve(values.shots ?? path.join(os.tmpdir(), "desk-walkthrough-shots"));
const STEP = Number(values["step-ms"] ?? 90_000);
mkdirSync(shots, { recursive: true });
const BIN = path.resolve("bin/zhiyu.mjs");
const dir = mkdtempSync(path.join(os.tmpdir(), "desk-walk-"));
const PASSWORD = "walk-admin-pass";
let failures = 0;
const report = (ok: boolean, step: string, seen = "") => {
  if (!ok) failures++;
  console.log(`${ok ? "ok    " : "FAILED"} ${step}${seen ? ` — ${seen.replace(/\s+/g, " ").slice(0, 200)}` : ""}`);
};

const child = spawn(process.execPath, [BIN, "desk", "--api-port", "0", "--port", "0"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, ZHIYU_DESK_ADMIN_PASSWORD: PASSWORD } });
let banner = "";
const urls = await new Promise<{ desk: string; api: string }>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no banner in 300 s:\n${banner}`)), 300_000);
  const look = (c: Buffer) => {
    banner += c.toString();
    const desk = /agent desk\s+(http:\/\/\S+)\/desk/.exec(banner);
    const api = /OpenAI API\s+(http:\/\/\S+)\/v1/.exec(banner);
    if (desk && api) {
      clearTimeout(timer);
      resolve({ desk: desk[1]!, api: api[1]! });
    }
  };
  child.stdout!.on("data", look);
  child.stderr!.on("data", look);
  child.on("exit", (code) => reject(new Error(`zhiyu desk exited (${code}):\n${banner}`)));
});
console.log(banner.trim().split("\n").map((l) => `  | ${l}`).join("\n"));
const passages = Number(/, (\d+) KB passages,/.exec(banner)?.[1] ?? -1);
report(passages > 0, "banner counts the KB's passages", `${passages}`);
report(/KB ranking\s+BM25/.test(banner), "banner says how the KB ranks", /KB ranking.*/.exec(banner)?.[0] ?? "");

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });

async function botReply(page: Page, n: number): Promise<string> {
  // (The demo page's CSP forbids evaluated strings: waits use locators, which pierce the widget's open shadow root.)
  await page.locator(".zy-msg.zy-bot[data-done]").nth(n - 1).waitFor({ timeout: STEP });
  return (await page.locator(".zy-msg.zy-bot[data-done]").nth(n - 1).locator(".zy-text").textContent()) ?? "";
}

async function say(page: Page, text: string): Promise<void> {
  await page.locator(".zy-input").fill(text);
  await page.locator(".zy-input").press("Enter");
}

try {
  const turns = {
    zh: [["故宫门票多少钱？", /60元/], ["那它几点关门？", /17:00/], ["我想订故宫附近的酒店", /手机号/], ["我叫王五，手机13700001111", /谢谢王五/],
      ["你们太差劲了！！我等了一个小时还没出票，气死我了！", /抱歉/]],
    en: [["How much is a ticket to the Forbidden City?", /60 yuan/], ["And when does it close?", /17:00/], ["I want to book a hotel near the Forbidden City", /phone number/],
      ["My name is Amy Lee, phone 13700002222", /Thank you, Amy Lee/], ["This is ridiculous!! I have waited an hour and I am furious!", /sorry/i]],
  } as const;
  for (const lang of ["zh", "en"] as const) {
    for (const width of [1280, 390]) {
      const ctx = await browser.newContext({ viewport: { width, height: width > 500 ? 800 : 844 }, locale: lang === "zh" ? "zh-CN" : "en-US" });
      ctx.setDefaultTimeout(STEP);
      const page = await ctx.newPage();
      await page.goto(`${urls.desk}/demo${lang === "en" ? "?lang=en" : ""}`);
      await page.waitForSelector(".zy-launcher, .zy-panel.zy-open");
      if (!(await page.locator(".zy-panel.zy-open").count())) await page.locator(".zy-launcher").click();
      await page.waitForSelector(".zy-panel.zy-open");
      let n = 0;
      for (const [text, expect] of turns[lang]) {
        await say(page, text);
        const reply = await botReply(page, ++n);
        if (width === 1280) report(expect.test(reply), `widget ${lang}: "${text}"`, reply);
        if (n === 3 && width === 1280) {
          const cards = await page.locator(".zy-msg.zy-bot[data-done]").nth(2).locator(".zy-sugg").count();
          report(cards >= 1 && cards <= 3, `widget ${lang}: recommendation cards with reasons`, `${cards} cards`);
        }
        if (n === 3) await page.screenshot({ path: path.join(shots, `walk-widget-${lang}-${width}.png`) });
      }
      if (width === 1280) {
        const cite = (await page.locator(".zy-msg.zy-bot[data-done]").nth(0).locator(".zy-cite summary").first().textContent().catch(() => "")) ?? "";
        report(/faq/.test(cite), `widget ${lang}: the first answer cites its passage`, cite);
        await page.locator(".zy-banner.zy-show").waitFor().then(() => report(true, `widget ${lang}: the angry turn queues for a human`),
          () => report(false, `widget ${lang}: the angry turn queues for a human`));
      }
      await ctx.close();
    }
  }

  // The desk as the admin: the queue, take the first queued conversation, send an edited draft, hand back.
  for (const width of [1280, 390]) {
    const ctx = await browser.newContext({ viewport: { width, height: width > 500 ? 860 : 844 } });
    ctx.setDefaultTimeout(STEP);
    const page = await ctx.newPage();
    await page.goto(`${urls.desk}/desk`);
    await page.fill("#login-user", "admin");
    await page.fill("#login-pass", PASSWORD);
    await page.click("#login-btn");
    await page.waitForSelector("#app:not([hidden])");
    const queued = await page.locator("#queue li").count();
    if (width === 1280) report(queued >= 4, "desk: the handed-off conversations are in the queue", `${queued} in the queue`);
    await page.screenshot({ path: path.join(shots, `walk-desk-queue-${width}.png`) });
    await page.locator("#queue li").first().click();
    await page.waitForSelector("#conv-body:not([hidden])");
    await page.click("#take-btn");
    await page.locator('#conv-status[data-status="agent"]').waitFor();
    const start = Date.now();
    while ((await page.inputValue("#reply-input")).length === 0 && Date.now() - start < STEP) await page.waitForTimeout(200);
    const draft = await page.inputValue("#reply-input");
    if (width === 1280) report(draft.length > 0, "desk: a drafted reply to edit", draft);
    await page.fill("#reply-input", `${draft} (已核实 / checked)`);
    await page.click("#reply-send");
    await page.locator(".msg[data-role=agent] .text", { hasText: "已核实 / checked" }).first().waitFor();
    await page.screenshot({ path: path.join(shots, `walk-desk-taken-${width}.png`) });
    await page.click("#handback-btn");
    await page.locator('#conv-status[data-status="bot"]').waitFor().then(() => width === 1280 && report(true, "desk: handed back to the bot"),
      () => report(false, "desk: handed back to the bot"));
    await page.click("#tab-leads");
    await page.waitForSelector("#leads-table tbody tr");
    const phones = await page.locator("#leads-table td.phone").allTextContents();
    if (width === 1280) report(phones.includes("13700001111") && phones.includes("13700002222"), "desk: leads, unmasked for the admin", phones.join(", "));
    await page.screenshot({ path: path.join(shots, `walk-desk-leads-${width}.png`) });
    await ctx.close();
  }

  // The OpenAI API side of npm start.
  const models = (await (await fetch(`${urls.api}/v1/models`)).json()) as { data: { id: string }[] };
  report(models.data.length === 1, "API: /v1/models", models.data.map((m) => m.id).join(", "));
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await page.goto(`${urls.api}/`);
  report((await page.title()).length > 0, "API: the chat page loads", await page.title());
} catch (err) {
  report(false, "walkthrough stopped", String((err as Error).stack ?? err));
} finally {
  await browser.close();
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
}

// export-preferences on the same store: the admin's edited draft is one pair.
const out = path.join(dir, "prefs.jsonl");
const r = spawnSync(process.execPath, [BIN, "desk", "export-preferences", "--out", out, "--db", path.join(dir, "desk-data", "desk.sqlite")], { cwd: dir, encoding: "utf8" });
const pairs = r.status === 0 ? readFileSync(out, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { prompt: string; chosen: string; rejected: string }) : [];
report(r.status === 0 && pairs.length >= 2 && pairs.every((p) => p.chosen.includes("checked") && p.prompt.length > 0), "desk export-preferences", r.status === 0 ? `${pairs.length} pairs; ${r.stdout.trim()}` : r.stderr);
rmSync(dir, { recursive: true, force: true });
console.log(failures === 0 ? "walkthrough: all steps ok" : `walkthrough: ${failures} step(s) FAILED`);
process.exit(failures === 0 ? 0 : 1);
