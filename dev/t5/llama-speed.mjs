// T5 greedy generation speed of llama.cpp on a GGUF, the llama.cpp column of BENCHMARKS.md's T5 table (twin of
// dev/t5/speed.ts and speed.py: the same 33 source ids, NEW_TOKENS new tokens, EOS ignored, median of 3 runs).
// llama-bench cannot run an encoder-decoder (it decodes without llama_encode: "llama_encode must be called
// first"), so this starts llama-server (its completion path encodes the source, then decodes) on a free port,
// posts the source as token ids (no BOS: a T5 vocabulary has none), and reads the server's own timings.
// usage: node dev/t5/llama-speed.mjs MODEL.gguf [THREADS] [NEW_TOKENS] [LLAMA_BIN_DIR]
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";

const [model, threadsArg, newArg, binArg] = process.argv.slice(2);
if (!model) throw new Error("usage: node dev/t5/llama-speed.mjs MODEL.gguf [THREADS] [NEW_TOKENS] [LLAMA_BIN_DIR]");
const threads = Number(threadsArg ?? 2), n = Number(newArg ?? 64), bin = binArg ?? "/work/peers/llama.cpp/build/bin";
const src = [...Array.from({ length: 32 }, (_, i) => ((i * 37) % 30000) + 5), 1];

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const server = spawn(path.join(bin, "llama-server"), ["-m", model, "-t", String(threads), "-tb", String(threads), "-np", "1",
  "-c", "512", "--port", String(port), "--host", "127.0.0.1", "--no-webui"], { stdio: ["ignore", "ignore", "pipe"] });
let log = "";
server.stderr.on("data", (d) => { log += d; });
const base = `http://127.0.0.1:${port}`;
try {
  for (let i = 0; ; i++) {
    if (server.exitCode !== null) throw new Error(`llama-server exited (${server.exitCode}):\n${log.slice(-2000)}`);
    try { if ((await fetch(`${base}/health`)).ok) break; } catch { /* not listening yet */ }
    if (i > 600) throw new Error("llama-server did not come up in 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  const runs = [];
  for (let r = 0; r < 4; r++) {
    const t = performance.now();
    const res = await fetch(`${base}/completion`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: src, n_predict: n, temperature: 0, top_k: 1, ignore_eos: true, cache_prompt: false, samplers: ["top_k"] }) });
    const body = await res.json();
    if (!res.ok) throw new Error(`llama-server: ${res.status} ${JSON.stringify(body)}`);
    const wall = (performance.now() - t) / 1000, tm = body.timings;
    if (tm.predicted_n !== n) throw new Error(`llama-server generated ${tm.predicted_n} tokens, expected ${n}`);
    if (r > 0) runs.push({ seconds: wall, server_seconds: (tm.prompt_ms + tm.predicted_ms) / 1000, prompt_n: tm.prompt_n,
      decode_tokens_per_s: tm.predicted_per_second }); // the first request warms up
  }
  runs.sort((a, b) => a.seconds - b.seconds);
  const med = runs[1];
  console.log(JSON.stringify({ llama_cpp: path.basename(model), threads, beams1: { ...med, tokens_per_s: n / med.seconds, new_tokens: n } }));
} finally {
  server.kill("SIGTERM");
}
