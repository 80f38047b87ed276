// The desk server's settings from a loaded configuration: the product-layer sections (storage, access, webhooks,
// widget, replies; declared in config-schema.ts) with their defaults filled and paths resolved against the
// configuration file's folder. Secrets are not here: the CLI reads the environment variables the file names.
// Leaves out: validation (the schema did it) and the understanding/KB sections (config.ts).
import path from "node:path";
import type { LoadedConfig } from "./config.js";
import type { Bilingual, DeskUserConfig, WebhookConfig } from "./config-schema.js";
import type { DeskRole } from "./store/accounts.js";

export interface DeskSettings {
  /** Folder for desk.sqlite and the KB index. */
  dataDir: string;
  users: DeskUserConfig[];
  unmaskedRoles: DeskRole[];
  sessionMs: number;
  webhooks: Required<WebhookConfig>[];
  widgetTitle: Required<Bilingual<string>>;
  allowedOrigins: string[];
  maxMessageChars: number;
  phrasing: "passage" | "model";
}

/** `defaultDataDir` applies when the file sets no storage.data_dir (the CLI passes ./desk-data). */
export function deskSettings(config: LoadedConfig, defaultDataDir?: string): DeskSettings {
  return {
    dataDir: config.storage?.data_dir ? path.resolve(config.baseDir, config.storage.data_dir) : defaultDataDir ?? path.resolve(config.baseDir, "desk-data"),
    users: config.access?.users ?? [],
    unmaskedRoles: config.access?.unmasked_roles ?? ["admin"],
    sessionMs: (config.access?.session_hours ?? 12) * 3600_000,
    webhooks: (config.webhooks ?? []).map((w) => ({ timeout_ms: 5000, max_attempts: 8, ...w })),
    widgetTitle: { zh: config.widget?.title?.zh ?? `${config.assistant_name}`, en: config.widget?.title?.en ?? "Customer service" },
    allowedOrigins: config.widget?.allowed_origins ?? ["*"],
    maxMessageChars: config.widget?.max_message_chars ?? 2000,
    phrasing: config.replies?.phrasing ?? "passage",
  };
}
