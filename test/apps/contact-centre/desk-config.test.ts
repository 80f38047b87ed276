// The desk's configuration sections (storage, access, webhooks, widget, replies): unknown keys and bad values are
// rejected with the path of the key, defaults are filled, and a user or webhook whose secret is missing from the
// environment stops the server with the name of the variable to set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEFAULT_CONFIG_PATH, parseConfig } from "../../../src/apps/contact-centre/config.js";
import { deskSettings } from "../../../src/apps/contact-centre/desk-settings.js";
import { startDesk } from "../../../src/apps/contact-centre/server/app.js";

const BASE = readFileSync(DEFAULT_CONFIG_PATH, "utf8");
const withSection = (yaml: string) => parseConfig(`${BASE}\n${yaml}\n`, { source: "desk.yaml", baseDir: path.dirname(DEFAULT_CONFIG_PATH) });

test("product sections: unknown keys and bad values name their path", () => {
  assert.throws(() => withSection("access:\n  userz: []"), /desk\.yaml: access\.userz: unknown key \(allowed here: users, unmasked_roles, session_hours\)/);
  assert.throws(() => withSection("webhooks:\n  - {url: 'ftp://x', events: [lead.created], secret_env: S}"), /desk\.yaml: webhooks\[0\]\.url: must match pattern/);
  assert.throws(() => withSection("webhooks:\n  - {url: 'https://x', events: [lead.lost], secret_env: S}"), /webhooks\[0\]\.events\[0\]: must be one of/);
  assert.throws(() => withSection("access:\n  users: [{username: li, role: boss, password_env: P}]"), /access\.users\[0\]\.role: must be one of "admin", "supervisor", "agent"/);
  assert.throws(() => withSection("replies: {phrasing: poetry}"), /replies\.phrasing: must be one of "passage", "model"/);
});

test("defaults of the product sections", () => {
  const s = deskSettings(withSection(""), "/tmp/desk-default");
  assert.equal(s.dataDir, "/tmp/desk-default");
  assert.deepEqual(s.unmaskedRoles, ["admin"]);
  assert.equal(s.maxMessageChars, 2000);
  assert.equal(s.phrasing, "passage");
  const t = deskSettings(withSection("storage: {data_dir: data}\nwebhooks:\n  - {url: 'https://crm.example.com/h', events: [lead.created], secret_env: CRM}"));
  assert.equal(t.dataDir, path.join(path.dirname(DEFAULT_CONFIG_PATH), "data"));
  assert.deepEqual([t.webhooks[0].timeout_ms, t.webhooks[0].max_attempts], [5000, 8]);
});

test("a configured user or webhook without its secret stops the start with the variable's name", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-cfg-"));
  try {
    const users = withSection("access:\n  users: [{username: li, role: agent, password_env: DESK_PW_LI}]");
    await assert.rejects(startDesk({ config: users, db: path.join(dir, "a.sqlite"), dataDir: dir, port: 0 }), /user "li" needs a password in the environment variable DESK_PW_LI/);
    const hooks = withSection("webhooks:\n  - {url: 'https://crm.example.com/h', events: [lead.created], secret_env: CRM_SECRET}");
    await assert.rejects(startDesk({ config: hooks, db: path.join(dir, "b.sqlite"), dataDir: dir, port: 0 }), /https:\/\/crm\.example\.com\/h needs its signing secret in the environment variable CRM_SECRET/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
