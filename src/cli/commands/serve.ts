// `zhiyu serve`: loads a model and runs the OpenAI-compatible server with the web chat page at `/`.
// Flags are parsed here (the only layer that reads argv/env) and passed to src/serve/server.ts as plain options.
// Without --model it serves the shipped default model (models/zhiyu-mini), under the model's own name
// (src/infer/model-info.ts), with one access-log line per request on stdout (--quiet turns it off). With only
// --embedding-model / --rerank-model (BERT-family encoders for /v1/embeddings and /v1/rerank) it serves no chat model.
// Leaves out: TLS, daemonising.
import path from "node:path";
import { LoadedModel, loadAnyModel } from "../../infer/load.js";
import { NO_TUNE_OPTION, tuningOptions } from "../tuning-flags.js";
import { attachLoraSlots, isGgufPath, parseLoraArg, readAdapterFor } from "../../infer/lora.js";
import { loadEncoder } from "../../infer/encoder.js";
import { startServer } from "../../serve/server.js";
import { createToolset } from "../../tools/toolset.js";
import { UsageError } from "../errors.js";
import { DEFAULT_MODEL_DIR, hasDefaultModel } from "../default-model.js";
import { intFlag, kvTypeFlag, listFlag, parseFlags } from "../flags.js";

const HELP = `usage: zhiyu serve [--model PATH] [options]

  --model PATH        a .gguf file or a Hugging Face model folder (default: models/zhiyu-mini)
  --embedding-model PATH  a BERT-family encoder (HF folder or GGUF bert) for /v1/embeddings, by its own name;
                      next to the chat model, or alone (then no --model and no chat)
  --rerank-model PATH a cross-encoder (…ForSequenceClassification, one label) for /v1/rerank (query, documents, top_n)
  --host HOST         address to listen on (default 127.0.0.1)
  --port N            port, 0 to 65535 (default 8080; 0 picks a free one)
  --api-key KEY       require 'Authorization: Bearer KEY' on /v1/* (default: $ZHIYU_API_KEY, else no auth)
  --cors ORIGIN       let pages on ORIGIN (e.g. https://app.example) call the API from a browser (repeatable;
                      "*" = every page). Default: none, only the server's own page
  --host-name NAME    another name clients reach this server by, e.g. behind a proxy (repeatable); other Host
                      headers get 403 (DNS-rebinding protection)
  --max-connections N open connections at most (default 256)
  --show-pii          do not mask phone, ID-card, bank-card numbers and e-mails in logs and tool traces
  --parallel N        sequences decoded together per step (default 4)
  --queue N           requests that may wait for a slot before 429 (default 8 × parallel)
  --ctx N             context length in tokens (default: the model's; larger values override the file's)
  --timeout S         per-request time limit in seconds (default 600)
  --threads N         compute threads
  --kv-type T         KV cache element type f32|f16|q8_0 (default f32; f16 halves its memory and long-context
                      reads, q8_0 stores 0.27× of f32)
  --no-tune           fixed decode kernels instead of the ones measured fastest on this CPU (same output; also
                      ZHIYU_NO_TUNE=1)
  --alias NAME        another name clients may use in 'model' (repeatable)
  --lora NAME=PATH[:scale]  a LoRA adapter (PEFT folder or llama.cpp .gguf adapter) requests may choose (repeatable):
                      'model': NAME runs it at its scale (default 1), or the llama-server field
                      "lora": [{"id": index or NAME, "scale": x}]; other requests run the base model. Requests
                      with different adapters share decode steps
  --tools LIST        tools the server runs itself for requests with "zhiyu_tools": true (and the page's
                      "server tools" switch): calculator, search
  --docs DIR          documents folder for the search tool (indexed incrementally into DIR/.zhiyu/)
  --user-dict FILE    domain words for Chinese segmentation, one per line
  --plugins FILE      JSON array of HTTP plugin declarations (name, description, parameters, url)
  --mcp "CMD ARGS"    start an MCP server over stdio and offer its tools (repeatable)
  --quiet             no access-log line per request

Endpoints: POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/rerank; GET /v1/models, /health, /metrics; page at /.
Extension: "zhiyu_history": "truncate" in a chat request drops the oldest turns that do not fit the context
(the reply's first chunk, or the response, says how many in "zhiyu_history"); without it an oversized prompt is a 400.`;

export async function run(argv: string[]): Promise<number | void> {
  const { values } = parseFlags({
    args: argv,
    options: {
      model: { type: "string" }, "embedding-model": { type: "string" }, "rerank-model": { type: "string" }, host: { type: "string" }, port: { type: "string" }, "api-key": { type: "string" },
      parallel: { type: "string" }, queue: { type: "string" }, ctx: { type: "string" }, timeout: { type: "string" },
      threads: { type: "string" }, "kv-type": { type: "string" }, alias: { type: "string", multiple: true }, lora: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
      tools: { type: "string" }, docs: { type: "string" }, "user-dict": { type: "string" }, plugins: { type: "string" },
      mcp: { type: "string", multiple: true }, quiet: { type: "boolean" },
      cors: { type: "string", multiple: true }, "host-name": { type: "string", multiple: true },
      "max-connections": { type: "string" }, "show-pii": { type: "boolean" }, ...NO_TUNE_OPTION,
    },
    strict: true,
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const encodersOnly = !values.model && (values["embedding-model"] !== undefined || values["rerank-model"] !== undefined);
  if (!values.model && !encodersOnly) {
    if (!hasDefaultModel()) {
      throw new UsageError("serve needs --model PATH (a .gguf file or a Hugging Face folder): the default model " +
        `${DEFAULT_MODEL_DIR} is not there. For a quick try: zhiyu serve --model ../shared/testdata/gguf/stories260K.gguf`);
    }
    values.model = DEFAULT_MODEL_DIR;
  }
  const port = intFlag("port", values.port, 0, 65535) ?? 8080;
  const parallel = intFlag("parallel", values.parallel, 1) ?? 4;
  const ctx = intFlag("ctx", values.ctx, 16);
  const maxQueue = intFlag("queue", values.queue, 0);
  const timeout = intFlag("timeout", values.timeout, 1);
  const threads = intFlag("threads", values.threads, 1);
  const names = listFlag(values.tools);
  let toolset;
  try {
    toolset = names.length > 0 || values.plugins || values.mcp
      ? await createToolset({ names, docs: values.docs, userDictionary: values["user-dict"], pluginsFile: values.plugins, mcpServers: values.mcp })
      : null;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${HELP}`);
  }
  if (toolset?.indexReport) {
    const r = toolset.indexReport;
    console.log(`zhiyu serve: indexed ${values.docs}: ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.removed} removed`);
  }
  const kvCacheType = kvTypeFlag(values["kv-type"], HELP);
  const loaded = encodersOnly ? null : await loadAnyModel(values.model!, { threads, contextLength: ctx, kvCacheType,
    tuning: tuningOptions(values["no-tune"]) });
  if (loaded?.kind === "encoder") {
    loaded.dispose();
    throw new UsageError(`--model ${values.model}: ${loaded.architecture} is an encoder model; it cannot serve completions or chat. ` +
      `Serve it with --embedding-model (or --rerank-model) instead\n\n${HELP}`);
  }
  const model = loaded;
  if (values.lora && values.lora.length > 0) {
    if (!(model instanceof LoadedModel)) throw new UsageError("--lora needs a causal LM (--model PATH) to attach the adapters to");
    const loras = values.lora.map((a) => parseLoraArg(a));
    attachLoraSlots(model, loras.map((l) => ({ name: l.name === l.path ? path.basename(l.path).replace(/\.gguf$/i, "") : l.name,
      adapter: readAdapterFor(model, l.path, isGgufPath(values.model!)), scale: l.scale })));
  }
  const info = model?.info ?? null;
  const encoder = (flag: "embedding-model" | "rerank-model") => {
    const p = values[flag];
    if (p === undefined) return null;
    try {
      return loadEncoder(p, { threads });
    } catch (err) {
      throw new UsageError(`--${flag} ${p}: ${(err as Error).message}`);
    }
  };
  const embeddingModel = encoder("embedding-model");
  const rerankModel = encoder("rerank-model");
  if (rerankModel && rerankModel.config.head !== "sequence-classification") {
    throw new UsageError(`--rerank-model ${values["rerank-model"]}: a reranker is a cross-encoder (…ForSequenceClassification); ` +
      `this model's head is ${rerankModel.config.head}`);
  }
  if (toolset && info && !info.toolCalls) {
    console.log(`zhiyu serve: warning: ${info.name} was not trained to call tools (${info.toolCallsSource}); the page leaves ` +
      `server tools off by default, and requests that turn them on will rarely see a tool called`);
  }
  const server = await startServer({
    model, embeddingModel, rerankModel,
    host: values.host ?? "127.0.0.1",
    port,
    apiKey: values["api-key"] ?? process.env.ZHIYU_API_KEY ?? null,
    parallel,
    maxQueue,
    contextLength: ctx,
    requestTimeoutSeconds: timeout,
    modelAliases: values.alias,
    tools: toolset?.tools,
    accessLog: values.quiet ? undefined : (line) => console.log(line),
    corsOrigins: values.cors,
    hostNames: values["host-name"],
    maxConnections: intFlag("max-connections", values["max-connections"], 1),
    maskPii: !values["show-pii"],
  });
  if (model && info) {
    console.log(`zhiyu serve: ${info.name} (${model.architecture}, context ${server.engine.contextLength}, ${parallel} slots)`);
    console.log(`  chat page   ${server.url}/`);
    for (const [name, scale] of (model instanceof LoadedModel ? model.loraAdapters : undefined) ?? []) console.log(`  lora        ${name} (scale ${scale}): 'model': "${name}"`);
  }
  if (embeddingModel) console.log(`  embeddings  ${embeddingModel.id} (bert, ${embeddingModel.config.hiddenSize} dims, ${embeddingModel.defaultPooling} pooling) at ${server.url}/v1/embeddings`);
  if (rerankModel) console.log(`  rerank      ${rerankModel.id} at ${server.url}/v1/rerank`);
  if (toolset) console.log(`  tools       ${toolset.tools.map((t) => t.definition.name).join(", ")} (requests with "zhiyu_tools": true)`);
  console.log(`  OpenAI API  ${server.url}/v1   (new OpenAI({ baseURL: "${server.url}/v1", apiKey: "..." }))`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await server.close();
  toolset?.close();
  model?.dispose();
  embeddingModel?.dispose();
  rerankModel?.dispose();
  return 0;
}
