// `zhiyu bench infer --models A.gguf[,B.gguf…] [--threads 2] [--rounds 3] [--decode 64] [--prefill 128]
//   [--llama-bench PATH] [--nlc DIR] [--kinds decode,prefill] [--depth N] [--kv-type f32|f16|q8_0] [--json]`: Zhiyu, llama.cpp (llama-bench) and
// node-llama-cpp side by side on the same GGUF files. Each measurement is its own child process under
// /usr/bin/time (peak RSS); within a round the order of the implementations rotates, so load that drifts over
// the run hits all of them alike. --depth N: decode after an N-token prompt (llama-bench -d N); --kv-type: Zhiyu's KV
// cache type (llama.cpp's f16 for f32 and f16 — llama-bench takes no f32 cache — and q8_0 for q8_0: -ctk/-ctv q8_0,
// flash attention left at llama-bench's "auto"). Prints per model and kind the median tokens/s of each, the ratios, and the
// load average at start and end. --bandwidth (decode): each Zhiyu run also measures the machine's read bandwidth
// (bench-bandwidth.ts) and counts the bytes a decoded token reads (weights, and at depth the KV cache); both
// implementations' tokens/s become GB/s beside it, with the speed-up over llama.cpp that bandwidth allows at most
// (read bandwidth / llama.cpp's GB/s): where that is under a bar, the bar cannot be met by reading the same bytes.
// Leaves out: GPU backends, batch sizes other than one sequence.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.js";
import { median } from "../bench-stats.js";
import { intFlag, parseFlags } from "../flags.js";

type Kind = "decode" | "prefill";
/** "zhiyu-no-tune": Zhiyu with --no-tune (the fixed decode kernels), to A/B the tuned kernels in the same rounds. */
type Impl = "zhiyu" | "zhiyu-no-tune" | "llama.cpp" | "node-llama-cpp";
const IMPLS: readonly Impl[] = ["zhiyu", "zhiyu-no-tune", "llama.cpp", "node-llama-cpp"];
interface Sample {
  tokensPerS: number;
  peakRssMb: number;
  kvMb?: number;
  /** --bandwidth, Zhiyu decode: bytes one decoded token reads (weights + KV cache at depth), read bandwidth (GB/s). */
  bytesPerToken?: number;
  readGbPerS?: number;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");


/** Runs argv under /usr/bin/time; returns stdout and the peak RSS in MB (GNU time's %M is in KiB). */
function timed(argv: string[], timeoutS: number): { stdout: string; peakRssMb: number } {
  const r = spawnSync("/usr/bin/time", ["-f", "ZHIYU_MAXRSS %M", ...argv], { encoding: "utf8", timeout: timeoutS * 1000, maxBuffer: 1 << 26 });
  if (r.error) throw new Error(`bench infer: ${argv.join(" ")}: ${r.error.message}`);
  const m = /ZHIYU_MAXRSS (\d+)/.exec(r.stderr ?? "");
  if (r.status !== 0) throw new Error(`bench infer: ${argv.join(" ")} exited ${r.status}: ${(r.stderr ?? "").slice(-600)}`);
  return { stdout: r.stdout, peakRssMb: m ? Number(m[1]) / 1024 : NaN };
}

function lastJson(stdout: string, what: string): Record<string, unknown> {
  const line = stdout.trim().split("\n").reverse().find((l) => l.startsWith("{") || l.startsWith("["));
  if (!line) throw new Error(`bench infer: ${what} printed no JSON; output: ${stdout.slice(-400)}`);
  return JSON.parse(line) as Record<string, unknown>;
}

const INFER_USAGE = "usage: zhiyu bench infer --models A.gguf[,B.gguf] [--threads 2] [--rounds 3] [--decode 64] [--prefill 128] " +
  "[--kinds decode,prefill] [--depth N] [--kv-type f32|f16|q8_0] [--impls zhiyu,zhiyu-no-tune,llama.cpp,node-llama-cpp] " +
  "[--llama-bench PATH] [--nlc DIR] [--no-tune] [--bandwidth] [--json]";

export async function run(argv: string[]): Promise<number | void> {
  const { values } = parseFlags({
    args: argv,
    options: {
      models: { type: "string" }, threads: { type: "string", default: "2" }, rounds: { type: "string", default: "3" },
      decode: { type: "string", default: "64" }, prefill: { type: "string", default: "128" },
      kinds: { type: "string", default: "decode,prefill" },
      "llama-bench": { type: "string", default: "/work/peers/llama.cpp/build/bin/llama-bench" },
      nlc: { type: "string", default: "/work/peers/nlc" }, impls: { type: "string", default: "zhiyu,llama.cpp,node-llama-cpp" },
      depth: { type: "string", default: "0" }, "kv-type": { type: "string" }, "no-tune": { type: "boolean" }, bandwidth: { type: "boolean" },
      timeout: { type: "string", default: "900" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" },
    },
  }, INFER_USAGE);
  if (values.help || !values.models) {
    console.log(INFER_USAGE);
    if (!values.models && !values.help) throw new UsageError("bench infer: --models is required");
    return 0;
  }
  const int = (name: string, v: string | undefined) => intFlag(name, v)!;
  const threads = int("threads", values.threads), rounds = int("rounds", values.rounds);
  const tokens: Record<Kind, number> = { decode: int("decode", values.decode), prefill: int("prefill", values.prefill) };
  const timeoutS = int("timeout", values.timeout), depth = intFlag("depth", values.depth, 0)!;
  // --kv-type sets Zhiyu's cache (and llama.cpp's to f16, its default — llama-bench has no f32 cache — or q8_0): without
  // it Zhiyu keeps f32, as earlier tables did.
  const kvType = values["kv-type"];
  if (kvType !== undefined && kvType !== "f32" && kvType !== "f16" && kvType !== "q8_0") throw new UsageError(`--kv-type ${kvType}: expected f32, f16 or q8_0`);
  const llamaKv = kvType === "q8_0" ? "q8_0" : "f16";
  const models = values.models.split(",");
  for (const m of models) if (!existsSync(m)) throw new UsageError(`--models: ${m} does not exist`);
  const kinds = values.kinds!.split(",") as Kind[];
  for (const k of kinds) if (k !== "decode" && k !== "prefill") throw new UsageError(`--kinds ${k}: expected decode and/or prefill`);
  const impls = values.impls!.split(",") as Impl[];
  for (const i of impls) if (!IMPLS.includes(i)) throw new UsageError(`--impls ${i}: expected ${IMPLS.join(", ")}`);
  if (depth > 0 && (impls.includes("node-llama-cpp") || kinds.includes("prefill"))) {
    throw new UsageError("--depth measures decode after a prompt of that many tokens: use it with --kinds decode and --impls zhiyu,llama.cpp");
  }
  if (values.bandwidth && !(kinds.includes("decode") && impls.includes("zhiyu"))) {
    throw new UsageError("--bandwidth measures decode: use it with --kinds decode and zhiyu among --impls");
  }
  const llamaBench = values["llama-bench"]!, nlcDir = values.nlc!;
  if (impls.includes("llama.cpp") && !existsSync(llamaBench)) throw new UsageError(`--llama-bench ${llamaBench} does not exist (build llama.cpp, or drop llama.cpp from --impls)`);
  if (impls.includes("node-llama-cpp") && !existsSync(path.join(nlcDir, "node_modules/node-llama-cpp"))) {
    throw new UsageError(`--nlc ${nlcDir}: node-llama-cpp is not installed there (or drop node-llama-cpp from --impls)`);
  }

  const measure = (impl: Impl, model: string, kind: Kind): Sample => {
    const n = tokens[kind];
    const probe = values.bandwidth === true && impl === "zhiyu" && kind === "decode";
    if (impl === "zhiyu" || impl === "zhiyu-no-tune") {
      const r = timed([process.execPath, path.join(repoRoot, "bin/zhiyu.mjs"), "bench", kind, "--model", model, "--threads",
        String(threads), "--tokens", String(n), "--repeat", "1", ...(kvType ? ["--kv-type", kvType] : []),
        ...(impl === "zhiyu-no-tune" || values["no-tune"] ? ["--no-tune"] : []),
        ...(kind === "decode" ? ["--depth", String(depth)] : []), ...(probe ? ["--bandwidth"] : []), "--json"], timeoutS);
      const j = lastJson(r.stdout, "zhiyu");
      const sample: Sample = { tokensPerS: Number(j.tokens_per_s), peakRssMb: r.peakRssMb, kvMb: Number(j.kv_mb) };
      if (probe) {
        const b = j.bandwidth as { bytes_per_token: number; read_gb_per_s: number };
        // The cache holds depth + tokens + 1 positions at the end; a decoded token reads depth + tokens/2 of them on average.
        const kvRead = depth > 0 ? Number(j.kv_mb) * 2 ** 20 * (depth + n / 2) / (depth + n + 1) : 0;
        sample.bytesPerToken = b.bytes_per_token + kvRead;
        sample.readGbPerS = b.read_gb_per_s;
      }
      return sample;
    }
    if (impl === "llama.cpp") {
      // One warm-up run (llama-bench's default) then one timed repetition; decode starts from an empty context.
      const r = timed([llamaBench, "-m", model, "-t", String(threads), "-p", kind === "prefill" ? String(n) : "0",
        "-n", kind === "decode" ? String(n) : "0", "-d", String(depth), ...(kvType === "f16" || kvType === "q8_0" ? ["-ctk", llamaKv, "-ctv", llamaKv] : []), "-r", "1", "-o", "json"], timeoutS);
      const arr = JSON.parse(r.stdout.slice(r.stdout.indexOf("["))) as Array<{ avg_ts: number }>;
      return { tokensPerS: arr[0].avg_ts, peakRssMb: r.peakRssMb };
    }
    const r = timed([process.execPath, path.join(repoRoot, "dev/perf/nlc-bench.mjs"), nlcDir, model, kind, String(n), String(threads)], timeoutS);
    const j = lastJson(r.stdout, "node-llama-cpp");
    return { tokensPerS: Number(j.tokens_per_s), peakRssMb: r.peakRssMb };
  };

  const load0 = os.loadavg();
  const samples = new Map<string, Sample[]>(); // `${model}|${kind}|${impl}`
  for (let round = 0; round < rounds; round++) {
    for (const model of models) {
      for (const kind of kinds) {
        const order = impls.map((_, i) => impls[(i + round) % impls.length]);
        for (const impl of order) {
          const s = measure(impl, model, kind);
          const key = `${model}|${kind}|${impl}`;
          samples.set(key, [...(samples.get(key) ?? []), s]);
          if (!values.json) {
            process.stderr.write(`round ${round + 1}/${rounds} ${path.basename(model)} ${kind} ${impl}: ${s.tokensPerS.toFixed(2)} tok/s, ` +
              `peak RSS ${s.peakRssMb.toFixed(0)} MB (load ${os.loadavg()[0].toFixed(1)})\n`);
          }
        }
      }
    }
  }
  const load1 = os.loadavg();

  const rows = models.flatMap((model) => kinds.map((kind) => {
    const med = (impl: Impl) => median((samples.get(`${model}|${kind}|${impl}`) ?? []).map((s) => s.tokensPerS));
    const rss = (impl: Impl) => median((samples.get(`${model}|${kind}|${impl}`) ?? []).map((s) => s.peakRssMb));
    const z = med("zhiyu"), l = med("llama.cpp"), n = med("node-llama-cpp"), zf = med("zhiyu-no-tune");
    const fileMb = statSync(model).size / 2 ** 20;
    const kvMb = median((samples.get(`${model}|${kind}|zhiyu`) ?? []).map((s) => s.kvMb ?? NaN));
    const zs = samples.get(`${model}|${kind}|zhiyu`) ?? [];
    const bytes = median(zs.map((s) => s.bytesPerToken ?? NaN)), read = median(zs.map((s) => s.readGbPerS ?? NaN));
    const bandwidth = Number.isFinite(bytes) && Number.isFinite(read) ? {
      bytes_per_token: bytes, read_gb_per_s: read, zhiyu_gb_per_s: (bytes * z) / 1e9, llama_cpp_gb_per_s: (bytes * l) / 1e9,
      zhiyu_share: (bytes * z) / 1e9 / read, llama_cpp_share: (bytes * l) / 1e9 / read, most_vs_llama_cpp: read / ((bytes * l) / 1e9),
    } : null;
    return {
      model: path.basename(model), kind, tokens: tokens[kind], zhiyu: z, llama_cpp: l, node_llama_cpp: n,
      vs_llama_cpp: z / l, vs_node_llama_cpp: z / n, file_mb: fileMb, zhiyu_kv_mb: kvMb,
      zhiyu_no_tune: zf, tuned_vs_no_tune: z / zf, no_tune_vs_llama_cpp: zf / l,
      zhiyu_peak_rss_mb: rss("zhiyu"), llama_cpp_peak_rss_mb: rss("llama.cpp"), node_llama_cpp_peak_rss_mb: rss("node-llama-cpp"),
      zhiyu_rss_over_file_plus_kv: rss("zhiyu") / (fileMb + kvMb),
      bandwidth,
      runs: Object.fromEntries(impls.map((i) => [i, (samples.get(`${model}|${kind}|${i}`) ?? []).map((s) => +s.tokensPerS.toFixed(2))])),
    };
  }));
  const result = { threads, rounds, depth, kv_type: kvType ?? "default", load_start: load0.map((x) => +x.toFixed(2)), load_end: load1.map((x) => +x.toFixed(2)), rows };
  if (values.json) {
    console.log(JSON.stringify(result));
    return 0;
  }
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "–");
  const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "–");
  console.log(`threads ${threads}, ${rounds} rounds, depth ${depth}, KV cache Zhiyu ${kvType ?? "f32"} / llama.cpp ${llamaKv}, median tok/s; load average ${load0[0].toFixed(1)} → ${load1[0].toFixed(1)}`);
  console.log("| model | test | Zhiyu | llama.cpp | node-llama-cpp | Zhiyu / llama.cpp | Zhiyu / node-llama-cpp | peak RSS Zhiyu / llama.cpp / nlc (MB) | file + Zhiyu KV (MB) |");
  console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(`| ${r.model} | ${r.kind === "decode" ? "tg" : "pp"}${r.tokens}${depth > 0 ? ` @ d${depth}` : ""} | ${f(r.zhiyu)} | ${f(r.llama_cpp)} | ${f(r.node_llama_cpp)} | ` +
      `${ratio(r.vs_llama_cpp)} | ${ratio(r.vs_node_llama_cpp)} | ${f(r.zhiyu_peak_rss_mb, 0)} / ${f(r.llama_cpp_peak_rss_mb, 0)} / ` +
      `${f(r.node_llama_cpp_peak_rss_mb, 0)} | ${f(r.file_mb, 0)} + ${f(r.zhiyu_kv_mb, 1)} |`);
  }
  for (const r of rows) {
    const b = r.bandwidth;
    if (!b) continue;
    console.log(`${r.model} ${r.kind}: ${(b.bytes_per_token / 2 ** 20).toFixed(1)} MiB read per token${depth > 0 ? " (weights + KV cache)" : " (weights)"}; ` +
      `read bandwidth ${f(b.read_gb_per_s, 2)} GB/s (median of Zhiyu's runs); Zhiyu ${f(b.zhiyu_gb_per_s, 2)} GB/s = ${f(100 * b.zhiyu_share)}%, ` +
      `llama.cpp ${f(b.llama_cpp_gb_per_s, 2)} GB/s = ${f(100 * b.llama_cpp_share)}%; at most ${ratio(b.most_vs_llama_cpp)} llama.cpp reading these bytes`);
  }
  if (impls.includes("zhiyu-no-tune")) {
    for (const r of rows) {
      console.log(`${r.model} ${r.kind}: Zhiyu tuned ${f(r.zhiyu)} / --no-tune ${f(r.zhiyu_no_tune)} tok/s = ${ratio(r.tuned_vs_no_tune)}` +
        ` (--no-tune / llama.cpp ${ratio(r.no_tune_vs_llama_cpp)})`);
    }
  }
  return 0;
}
