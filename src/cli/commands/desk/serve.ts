// `zhiyu desk [--config FILE] [--db URL] [--port 8090] [--model PATH] [--api-port N]`: the contact-centre desk
// server (src/apps/contact-centre/server/app.ts): the chat widget, the agent desk page and their APIs on one port.
// With --api-port it also serves the OpenAI-compatible API and chat page of `zhiyu serve` on a second port in the
// same process, sharing the model (`npm start` does this: API on 8080, desk on 8090). --model loads a chat model
// that phrases knowledge-base answers (checked for grounding); without it answers quote the cited passage.
// The KB ranks by BM25 plus dense embeddings (knowledge_base.dense_weight): --embedder PATH loads a BERT-family
// sentence encoder (HF folder or GGUF); without it, an encoder shipped under models/, else the chat model's own
// mean-pooled hidden states (default-embedder.ts); --embedder none keeps BM25 alone.
// Reads the environment (only here): the passwords and webhook secrets the configuration names, and
// ZHIYU_DESK_ADMIN_PASSWORD for the first admin (else one is generated and printed once).
// Leaves out: TLS (run behind a proxy with --secure-cookies), daemonising.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { loadModel } from "../../../infer/load.js";
import { loadTextEmbedder, type TextEmbedder } from "../../../infer/text-embedder.js";
import { decoderTextEmbedder } from "../../../infer/decoder-embedder.js";
import { generate } from "../../../infer/generate.js";
import { encodeChat } from "../../../infer/chat-template.js";
import { startServer } from "../../../serve/server.js";
import { startDesk } from "../../../apps/contact-centre/server/app.js";
import type { Generate } from "../../../apps/contact-centre/kb/types.js";
import { DEFAULT_MODEL_DIR, hasDefaultModel } from "../../default-model.js";
import { UsageError } from "../../errors.js";
import { intFlag, parseFlags } from "../../flags.js";
import { configFromFlag, dataRootFromFlag } from "./common.js";
import { shippedEncoderDir } from "./default-embedder.js";

const HELP = `usage: zhiyu desk [--config FILE] [--db URL] [--port 8090] [--model PATH] [--api-port N] [--embedder PATH]

  --config FILE       contact-centre configuration (default: the one npm start uses)
  --db URL            postgres://user:pass@host/db (several desk processes may share it) or a SQLite file;
                      default: desk.sqlite in storage.data_dir, else ./desk-data/
  --host HOST         address to listen on (default 127.0.0.1)
  --port N            desk port (default 8090; 0 picks a free one)
  --model PATH        a chat model (.gguf or HF folder) that phrases KB answers (grounding-checked)
  --phrasing MODE     passage | model (default: model when --model is given, else the configuration's)
  --api-port N        also serve the OpenAI API + chat page on port N (with --model, or the default model)
  --embedder PATH     a sentence encoder (BERT-family HF folder or .gguf) for dense KB ranking next to BM25
                      (default: an encoder shipped under models/, else the chat model's embeddings; none: BM25 only)
  --data DIR          ../shared/data (to retrain stale understanding models in memory)
  --secure-cookies    mark session cookies Secure (behind an HTTPS proxy)

Pages: /desk (agents, supervisors, admins), /demo (a page embedding the widget), /widget.js (one script tag).`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv, strict: true,
    options: {
      config: { type: "string" }, db: { type: "string" }, host: { type: "string" }, port: { type: "string" }, model: { type: "string" },
      phrasing: { type: "string" }, "api-port": { type: "string" }, embedder: { type: "string" }, data: { type: "string" }, "secure-cookies": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.phrasing && values.phrasing !== "passage" && values.phrasing !== "model") throw new UsageError(`desk: --phrasing must be passage or model, not "${values.phrasing}"`);
  const loaded = configFromFlag(values.config);
  const phrasing = (values.phrasing ?? loaded.replies?.phrasing ?? (values.model ? "model" : "passage")) as "passage" | "model";
  const config = { ...loaded, replies: { ...loaded.replies, phrasing } };
  const apiPort = intFlag("api-port", values["api-port"], 0);
  const modelPath = values.model ?? (apiPort !== undefined || phrasing === "model" ? (hasDefaultModel() ? DEFAULT_MODEL_DIR : undefined) : undefined);
  if ((apiPort !== undefined || phrasing === "model") && !modelPath) throw new UsageError(`desk: --api-port and --phrasing model need --model PATH (the default model ${DEFAULT_MODEL_DIR} is not there)`);
  const model = modelPath ? await loadModel(modelPath) : null;
  let generateReply: Generate | undefined;
  if (model) {
    const stop = model.chatTemplate === null || model.chatTemplate.includes("<|im_end|>") ? ["<|im_end|>"] : [];
    generateReply = async ({ system, user }) => {
      // A customer's text (and KB passages) stay plain text: a typed "<|im_start|>" is not a turn marker.
      const ids = encodeChat(model, [{ role: "system", content: system }, { role: "user", content: user }], { addGenerationPrompt: true });
      return generate(model, ids, { maxTokens: 160, stop, temperature: 0 }).text;
    };
  }
  let embedder: TextEmbedder | undefined;
  // The model embedding for the KB when no encoder is there: the chat model, else the default one loaded for it.
  let embeddingModel = null as Awaited<ReturnType<typeof loadModel>> | null;
  const encoderPath = values.embedder ?? shippedEncoderDir();
  if (encoderPath && encoderPath !== "none") {
    try {
      embedder = loadTextEmbedder(encoderPath);
    } catch (err) {
      model?.dispose();
      throw new UsageError(`desk: --embedder ${encoderPath}: ${(err as Error).message}`);
    }
  } else if (!encoderPath) {
    embeddingModel = model ?? (hasDefaultModel() ? await loadModel(DEFAULT_MODEL_DIR) : null);
    if (embeddingModel) embedder = decoderTextEmbedder(embeddingModel);
  }
  const users = config.access?.users ?? [];
  const userPasswords: Record<string, string> = {};
  for (const u of users) if (process.env[u.password_env]) userPasswords[u.username] = process.env[u.password_env]!;
  const webhookSecrets: Record<string, string> = {};
  for (const w of config.webhooks ?? []) if (process.env[w.secret_env]) webhookSecrets[w.url] = process.env[w.secret_env]!;
  const adminPassword = process.env.ZHIYU_DESK_ADMIN_PASSWORD ?? randomBytes(9).toString("base64url");
  let desk;
  try {
    desk = await startDesk({
      config, db: values.db, dataDir: path.resolve("desk-data"), host: values.host, port: intFlag("port", values.port, 0) ?? 8090, generate: generateReply, userPasswords, webhookSecrets,
      bootstrapAdmin: { username: "admin", password: adminPassword }, embedder, dataRoot: dataRootFromFlag(values.data), secureCookies: values["secure-cookies"] ?? false,
      log: (line) => console.error(line),
    });
  } catch (err) {
    model?.dispose();
    if (embeddingModel !== model) embeddingModel?.dispose();
    throw new UsageError(`desk: ${(err as Error).message}`);
  }
  const audit = await desk.accounts.auditLog(5);
  if (audit.some((a) => a.detail.bootstrap === true) && !process.env.ZHIYU_DESK_ADMIN_PASSWORD && audit.length === 1) {
    console.log(`zhiyu desk: first start: created user "admin" with password ${adminPassword} (set ZHIYU_DESK_ADMIN_PASSWORD to choose it)`);
  }
  // The same server as `zhiyu serve`: it names the model and says whether it calls tools from model.info, and logs
  // one line per request like serve does.
  const api = apiPort !== undefined && model
    ? await startServer({ model, host: values.host ?? "127.0.0.1", port: apiPort, accessLog: (line) => console.log(line) }) : null;
  const passages = desk.kbPassages();
  console.log(`zhiyu desk: store ${desk.db.dialect} (${desk.db.where}), ${passages} KB passages, ${desk.catalogueSize} catalogue items, replies: ${phrasing}`);
  console.log(embedder ? `  KB ranking  BM25 + dense (${embedder.id}, ${embedder.dim} dims, weight ${config.knowledge_base.dense_weight})`
    : "  KB ranking  BM25 only (--embedder none, or no model to embed with)");
  console.log(`  agent desk  ${desk.url}/desk`);
  console.log(`  widget      <script src="${desk.url}/widget.js" data-lang="zh" async></script>   (demo page: ${desk.url}/demo)`);
  console.log(`  desk API    ${desk.url}/api/conversations  ${desk.url}/api/desk/…`);
  if (api && model) {
    console.log(`  chat model  ${model.info.name} (${model.architecture}, context ${api.engine.contextLength}, ` +
      `${model.info.toolCalls ? "trained" : "not trained"} for tool calls: ${model.info.toolCallsSource})`);
    console.log(`  chat page   ${api.url}/`);
    console.log(`  OpenAI API  ${api.url}/v1`);
  }
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await api?.close();
  await desk.close();
  model?.dispose();
  if (embeddingModel !== model) embeddingModel?.dispose();
  return 0;
}
