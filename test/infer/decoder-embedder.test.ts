// decoderTextEmbedder (src/infer/decoder-embedder.ts): the desk's KB embeds with the served chat model when no
// sentence encoder is there, and the issue names what that means — "the served model's embeddings", i.e. what
// POST /v1/embeddings returns for the decoder. So the vectors must be the server's, value for value: the real
// `zhiyu serve` server (startServer) over HTTP with the default model, against the embedder on the same weights.
// Leaves out: the quality of those vectors for retrieval (dev/contact-centre/kb-retrieval.ts measures it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadModel } from "../../src/infer/load.js";
import { decoderTextEmbedder } from "../../src/infer/decoder-embedder.js";
import { startServer } from "../../src/serve/server.js";

const MODEL = "models/zhiyu-mini";

test("decoderTextEmbedder gives the vectors POST /v1/embeddings gives for the same decoder", async () => {
  const model = await loadModel(MODEL);
  const srv = await startServer({ model, port: 0, parallel: 1 });
  try {
    const texts = ["故宫门票多少钱？", "When does the Forbidden City close?", "退款多久到账"];
    const name = ((await (await fetch(`${srv.url}/v1/models`)).json()) as { data: { id: string }[] }).data[0]!.id;
    const res = await fetch(`${srv.url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: name, input: texts, encoding_format: "float" }) });
    assert.equal(res.status, 200);
    const served = ((await res.json()) as { data: { index: number; embedding: number[] }[] }).data.sort((a, b) => a.index - b.index);
    const embedder = decoderTextEmbedder(model);
    const ours = await embedder.embed(texts);
    assert.equal(embedder.dim, served[0]!.embedding.length);
    assert.equal(ours.length, texts.length);
    for (let i = 0; i < texts.length; i++) {
      assert.equal(ours[i]!.length, served[i]!.embedding.length);
      let norm = 0;
      for (let k = 0; k < ours[i]!.length; k++) {
        assert.ok(Math.abs(ours[i]![k]! - served[i]!.embedding[k]!) < 1e-6, `text ${i} dim ${k}: ${ours[i]![k]} vs served ${served[i]!.embedding[k]}`);
        norm += ours[i]![k]! ** 2;
      }
      assert.ok(Math.abs(norm - 1) < 1e-5, "unit length");
    }
    // Different texts, different vectors (a constant embedder would pass the comparison above only if the server's were too).
    assert.ok(ours[0]!.some((x, k) => Math.abs(x - ours[1]![k]!) > 1e-3));
  } finally {
    await srv.close();
    model.dispose();
  }
});
