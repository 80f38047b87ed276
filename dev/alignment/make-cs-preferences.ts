// Seeded customer-service preference pairs for the alignment runs (docs/alignment.md "Runs"), derived from the
// CrossWOZ test dialogues in ../shared/data/crosswoz (Apache-2.0; the split zhiyu-mini never saw). Each pair is one
// system turn that informs database values: the prompt is a system message with those values ("资料：…", the
// grounding) and the user's turn; chosen = the dialogue's own reply (courteous, correct, grounded); rejected = one
// systematic corruption of it, in equal shares:
//   rude     the same facts, polite words stripped, a curt/rude opener and closer added
//   wrong    one informed value (price, time, phone, address, rating, name …) swapped for the same slot's value
//            from another record, so the reply contradicts the grounding
//   ignore   a grounded reply from another dialogue (answers a different question)
//   generic  (--all-kinds only) a reply that fits any question and answers none: a stock courtesy line or a
//            recommendation of a place from another record ("推荐您去北京全聚德(王府井店)。" — what PPO learned to
//            say to everything against the session-7 RM)
// --all-kinds makes one pair per kind for every turn (4× the pairs; the held-out split then has every kind for
// each of its turns); --with-val adds the CrossWOZ val dialogues' turns to the training split only (more pairs;
// zhiyu-mini's pretraining saw those dialogues, so they never go to held-out). The split by dialogue is the same
// with or without these flags (same seed → same held-out dialogues). --extra-wrong N writes N more wrong-value
// pairs per training turn (each a different swap where the slot has enough values) to pairs-train-wrong.jsonl, from
// a second generator seeded seed + 1 after everything else, so every other file stays byte for byte the same.
// --sft-swaps N writes sft-train-swapped.jsonl: N copies of every training chat with each grounded value replaced,
// in the grounding, the user turn and the reply alike, by another training-split value of the same slot (a third
// generator, seed + 2), so the reply's value can only be found by copying it from the prompt, not by remembering it.
// --extra-added N writes pairs whose rejected reply is the chosen one plus a rating / price / time / ticket clause
// the grounding does not give ("…，评分4.2分。" — what PPO added to replies against the session-9 RM): N per training
// turn to pairs-train-added.jsonl and one per held-out turn to pairs-heldout-added.jsonl (kind "added"), from a
// fourth generator (seed + 3), every other file byte for byte the same.
// --sft-random N writes sft-train-random.jsonl: N copies of every training chat with each grounded value scrambled
// character by character (digit → random digit, Chinese character → a random one of the training values'
// characters, letter → random letter; punctuation and units kept) in the grounding, the user turn and the reply
// alike (a fifth generator, seed + 4): values nobody has seen, so the reply can only be right by copying.
// --val-prompts N writes validation prompts for choosing among SFT/PPO checkpoints without touching the held-out
// split (a sixth generator, seed + 5, after everything else; every other file byte for byte the same). Every
// CrossWOZ dialogue here is either held-out or training (the train split is not in ../shared), so validation turns
// are N seeded training-split turns whose grounded values are replaced afresh — answers no training file holds, so
// only copying from the prompt gets them right; rejected = the turn's own reply (the remembered value):
//   prompts-val-swap.jsonl, pairs-val-swap.jsonl      each value swapped for another training value of its slot, as
//                                                     --sft-swaps does (kind "val-swap"; real-looking values)
//   prompts-val-random.jsonl, pairs-val-random.jsonl  each value scrambled as --sft-random does (kind "val-random")
// Train/held-out split by dialogue with a seeded shuffle (no dialogue in both). Writes to OUT_DIR:
//   pairs-train.jsonl, pairs-heldout.jsonl     {"prompt": messages, "chosen": [assistant], "rejected": [assistant], "kind"}
//                                              (--all-kinds: training pairs in a seeded shuffled order)
//   pairs-interleaved.jsonl                     train and held-out pairs with every 10th line held out (--val-every 10)
//   sft-train.jsonl                             {"messages": prompt + chosen} of the training split
//   prompts-interleaved.jsonl                   {"prompt": messages} with every 10th line a held-out prompt
//   prompts-train.jsonl, prompts-heldout.jsonl  the prompts of each split alone
// Leaves out: kdconv-travel / abcd (CrossWOZ alone gives ~2,500 short grounded turns), multi-turn context.
// Usage: node --import tsx dev/alignment/make-cs-preferences.ts OUT_DIR [seed (7)] [--heldout-share 0.1]
//        [--all-kinds] [--with-val] [--extra-wrong N] [--sft-swaps N] [--extra-added N] [--sft-random N]
//        [--val-prompts N]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readSingleEntryZip } from "../../src/io/zip.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const shareAt = args.indexOf("--heldout-share");
const heldoutShare = shareAt >= 0 ? Number(args.splice(shareAt, 2)[1]) : 0.1;
if (!(heldoutShare > 0 && heldoutShare < 0.5)) throw new Error("make-cs-preferences: --heldout-share must be in (0, 0.5)");
const extraAt = args.indexOf("--extra-wrong");
const extraWrong = extraAt >= 0 ? Number(args.splice(extraAt, 2)[1]) : 0;
if (!(Number.isInteger(extraWrong) && extraWrong >= 0)) throw new Error("make-cs-preferences: --extra-wrong must be a whole number ≥ 0");
const swapsAt = args.indexOf("--sft-swaps");
const sftSwaps = swapsAt >= 0 ? Number(args.splice(swapsAt, 2)[1]) : 0;
if (!(Number.isInteger(sftSwaps) && sftSwaps >= 0)) throw new Error("make-cs-preferences: --sft-swaps must be a whole number ≥ 0");
const addedAt = args.indexOf("--extra-added");
const extraAdded = addedAt >= 0 ? Number(args.splice(addedAt, 2)[1]) : 0;
if (!(Number.isInteger(extraAdded) && extraAdded >= 0)) throw new Error("make-cs-preferences: --extra-added must be a whole number ≥ 0");
const randomAt = args.indexOf("--sft-random");
const sftRandom = randomAt >= 0 ? Number(args.splice(randomAt, 2)[1]) : 0;
if (!(Number.isInteger(sftRandom) && sftRandom >= 0)) throw new Error("make-cs-preferences: --sft-random must be a whole number ≥ 0");
const valAt = args.indexOf("--val-prompts");
const valPrompts = valAt >= 0 ? Number(args.splice(valAt, 2)[1]) : 0;
if (!(Number.isInteger(valPrompts) && valPrompts >= 0)) throw new Error("make-cs-preferences: --val-prompts must be a whole number ≥ 0");
const allKinds = args.includes("--all-kinds");
const withVal = args.includes("--with-val");
for (const f of ["--all-kinds", "--with-val"]) if (args.includes(f)) args.splice(args.indexOf(f), 1);
const out = args[0] ?? "runs/cs-prefs";
let s = Number(args[1] ?? 7) >>> 0;
const rand = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

const MAX_CHARS = 40; // user turn and reply, in characters (3 bytes each for the byte-level tokenizer)
type Act = [string, string, string, string];
type Dialogue = { messages: { role: string; content: string; dialog_act: Act[] }[] };
function readSplit(name: string): Record<string, Dialogue> {
  const zip = path.resolve(here, `../../../shared/data/crosswoz/${name}.json.zip`);
  return JSON.parse(readSingleEntryZip(readFileSync(zip), zip).toString("utf8")) as Record<string, Dialogue>;
}
const dialogues = readSplit("test");

interface Turn { dialogue: string; user: string; reply: string; facts: Act[] }
const turns: Turn[] = [];
const valTurns: Turn[] = [];
const valuesBySlot = new Map<string, Set<string>>();
const splits: [Record<string, Dialogue>, Turn[], string][] = [[dialogues, turns, ""]];
if (withVal) splits.push([readSplit("val"), valTurns, "val-"]);
for (const [split, into, prefix] of splits) for (const [rawId, d] of Object.entries(split)) {
  const id = prefix + rawId;
  d.messages.forEach((m, i) => {
    if (m.role !== "sys" || i === 0) return;
    const facts = m.dialog_act.filter((a) => a[0] === "Inform" && a[3] && a[3] !== "无" && m.content.includes(a[3]));
    for (const a of facts) {
      const key = `${a[1]}/${a[2]}`;
      if (!valuesBySlot.has(key)) valuesBySlot.set(key, new Set());
      valuesBySlot.get(key)!.add(a[3]);
    }
    const user = d.messages[i - 1]!.content.trim();
    if (facts.length === 0 || facts.length > 4 || m.content.length > MAX_CHARS || user.length > MAX_CHARS) return;
    into.push({ dialogue: id, user, reply: m.content.trim(), facts });
  });
}

const grounding = (t: Turn) => "资料：" + t.facts.map((a) => `${a[1]}${a[2]}：${a[3]}`).join("；");
const promptOf = (t: Turn) => [{ role: "system", content: grounding(t) }, { role: "user", content: t.user }];
const RUDE_OPEN = ["自己不会查吗？", "烦不烦，", "说了多少遍了，", "问这个干嘛，", "真麻烦，", "别老问我，"];
const RUDE_CLOSE = ["爱去不去。", "别再问了。", "就这样。", "自己看着办。", ""];
function rude(reply: string): string {
  const plain = reply.replace(/您好[，,！!]?/g, "").replace(/为您/g, "").replace(/您/g, "你").replace(/请/g, "")
    .replace(/[哦呢呀哈]/g, "").replace(/谢谢[^，。！]*[，。！]?/g, "").replace(/很高兴[^，。！]*[，。！]?/g, "");
  return pick(RUDE_OPEN) + plain + pick(RUDE_CLOSE);
}
function wrong(t: Turn): string | null {
  for (const a of shuffle([...t.facts])) {
    const others = [...(valuesBySlot.get(`${a[1]}/${a[2]}`) ?? [])].filter((v) => v !== a[3] && !t.facts.some((f) => f[3] === v) && !a[3].includes(v) && !v.includes(a[3]));
    if (others.length > 0) return t.reply.split(a[3]).join(pick(others));
  }
  return null;
}

const GENERIC = ["您好，请问还有什么可以帮您？", "好的，祝您旅途愉快！", "不客气，再见。", "好的，没问题。", "您可以去看看。"];
const placeNames = [...new Set([...valuesBySlot].filter(([k]) => k.endsWith("/名称")).flatMap(([, v]) => [...v]))].sort();
function generic(t: Turn): string {
  const name = pick(placeNames.filter((n) => !t.facts.some((f) => f[3] === n)));
  return rand() < 0.4 ? pick(GENERIC) : pick([`推荐您去${name}。`, `周边的景点有${name}。`, `周边的餐馆有${name}。`, `您可以去${name}看看。`]);
}

const ids = shuffle(Object.keys(dialogues).sort());
const heldIds = new Set(ids.slice(0, Math.round(ids.length * heldoutShare)));
const kinds = allKinds ? (["rude", "wrong", "ignore", "generic"] as const) : (["rude", "wrong", "ignore"] as const);
const pairs = { train: [] as object[], heldout: [] as object[] };
const sft: object[] = [];
let n = 0;
const jobs = [...turns, ...valTurns].flatMap((t) => (allKinds ? kinds.map((k) => [t, k] as const) : [[t, kinds[n++ % kinds.length]!] as const]));
for (const [t, firstKind] of jobs) {
  let kind: string = firstKind;
  let rejected: string | null = kind === "rude" ? rude(t.reply) : kind === "wrong" ? wrong(t) : kind === "generic" ? generic(t) : null;
  if (kind === "wrong" && rejected === null) [kind, rejected] = ["rude", rude(t.reply)];
  if (kind === "ignore") {
    for (let tries = 0; tries < 20 && rejected === null; tries++) {
      const other = pick(turns);
      if (other.dialogue !== t.dialogue && other.facts[0]![2] !== t.facts[0]![2]) rejected = other.reply;
    }
    if (rejected === null) [kind, rejected] = ["rude", rude(t.reply)];
  }
  const prompt = promptOf(t);
  const pair = { prompt, chosen: [{ role: "assistant", content: t.reply }], rejected: [{ role: "assistant", content: rejected }], kind };
  if (heldIds.has(t.dialogue)) pairs.heldout.push(pair);
  else {
    pairs.train.push(pair);
    if (firstKind === kinds[0] || !allKinds) sft.push({ messages: [...prompt, { role: "assistant", content: t.reply }] });
  }
}

// every 10th line held out: zhiyu dpo/ppo/grpo --val-every 10 hold out index i with i % 10 === 9
function interleave<T>(train: readonly T[], held: readonly T[]): T[] {
  const h = Math.min(held.length, Math.floor(train.length / 9));
  const rows: T[] = [];
  for (let i = 0; i < h; i++) rows.push(...train.slice(9 * i, 9 * i + 9), held[i]!);
  return rows;
}
mkdirSync(out, { recursive: true });
const lines = (rows: readonly object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
// one prompt per turn (with --all-kinds a turn has several pairs)
const promptRows = (rows: readonly object[]) => [...new Map(rows.map((r) => [JSON.stringify((r as { prompt: unknown }).prompt), { prompt: (r as { prompt: unknown }).prompt }])).values()];
// the prompt files keep the turns' order (the same bytes as before the shuffle below was moved here)
const trainPrompts = promptRows(pairs.train);
// with --all-kinds a turn's four pairs are made together: shuffle them apart in the training order before writing
// (until session 10 this shuffle ran after the files were written and changed nothing)
if (allKinds) shuffle(pairs.train);
writeFileSync(path.join(out, "pairs-train.jsonl"), lines(pairs.train));
writeFileSync(path.join(out, "pairs-heldout.jsonl"), lines(pairs.heldout));
writeFileSync(path.join(out, "pairs-interleaved.jsonl"), lines(interleave(pairs.train, pairs.heldout)));
writeFileSync(path.join(out, "sft-train.jsonl"), lines(sft));
writeFileSync(path.join(out, "prompts-interleaved.jsonl"), lines(interleave(trainPrompts, promptRows(pairs.heldout))));
writeFileSync(path.join(out, "prompts-train.jsonl"), lines(trainPrompts));
writeFileSync(path.join(out, "prompts-heldout.jsonl"), lines(promptRows(pairs.heldout)));
if (extraWrong > 0) {
  s = (Number(args[1] ?? 7) + 1) >>> 0; // the second generator: the files above do not depend on --extra-wrong
  const extra: object[] = [];
  for (const t of [...turns, ...valTurns]) {
    if (heldIds.has(t.dialogue)) continue;
    const seen = new Set<string>();
    for (let tries = 0; tries < 4 * extraWrong && seen.size < extraWrong; tries++) {
      const rejected = wrong(t);
      if (rejected === null) break;
      if (rejected === t.reply || seen.has(rejected)) continue;
      seen.add(rejected);
      extra.push({ prompt: promptOf(t), chosen: [{ role: "assistant", content: t.reply }], rejected: [{ role: "assistant", content: rejected }], kind: "wrong" });
    }
  }
  writeFileSync(path.join(out, "pairs-train-wrong.jsonl"), lines(shuffle(extra)));
  console.log(`${extra.length} extra wrong-value training pairs in ${path.join(out, "pairs-train-wrong.jsonl")}`);
}
if (sftSwaps > 0) {
  s = (Number(args[1] ?? 7) + 2) >>> 0; // a third generator: the files above do not depend on --sft-swaps
  // values from training turns only, so no held-out dialogue's value reaches the SFT data
  const trainValues = new Map<string, Set<string>>();
  for (const t of [...turns, ...valTurns]) {
    if (heldIds.has(t.dialogue)) continue;
    for (const a of t.facts) {
      const key = `${a[1]}/${a[2]}`;
      if (!trainValues.has(key)) trainValues.set(key, new Set());
      trainValues.get(key)!.add(a[3]);
    }
  }
  const swapped: object[] = [];
  for (const t of [...turns, ...valTurns]) {
    if (heldIds.has(t.dialogue)) continue;
    for (let k = 0; k < sftSwaps; k++) {
      let { user, reply } = t;
      const facts = t.facts.map((a) => [...a] as Act);
      for (const a of facts) {
        const others = [...(trainValues.get(`${a[1]}/${a[2]}`) ?? [])].filter((v) => !t.facts.some((f) => f[3].includes(v) || v.includes(f[3])));
        if (others.length === 0) continue;
        const v = pick(others);
        [user, reply, a[3]] = [user.split(a[3]).join(v), reply.split(a[3]).join(v), v];
      }
      if (reply === t.reply) continue;
      swapped.push({ messages: [...promptOf({ ...t, user, facts }), { role: "assistant", content: reply }] });
    }
  }
  writeFileSync(path.join(out, "sft-train-swapped.jsonl"), lines(shuffle(swapped)));
  console.log(`${swapped.length} value-swapped SFT chats in ${path.join(out, "sft-train-swapped.jsonl")}`);
}
if (extraAdded > 0) {
  s = (Number(args[1] ?? 7) + 3) >>> 0; // a fourth generator: the files above do not depend on --extra-added
  // slots a reply can make up a value for; the value comes from the same domain's slot where it has values
  const ADDABLE = ["评分", "价格", "人均消费", "门票", "营业时间", "游玩时间"];
  const TEMPLATES = [(r: string, k: string, v: string) => `${r}，${k}${v}。`, (r: string, k: string, v: string) => `${r}，${k}是${v}。`,
    (r: string, k: string, v: string) => `${k}${v}，${r}。`, (r: string, k: string, v: string) => `${r}，${k}：${v}。`];
  const added = (t: Turn): string | null => {
    const given = new Set(t.facts.map((a) => a[2]));
    const domain = t.facts[0]![1];
    const slots = ADDABLE.filter((k) => !given.has(k) && ![...given].some((g) => g.includes(k) || k.includes(g)));
    if (slots.length === 0) return null;
    const slot = pick(slots);
    const own = valuesBySlot.get(`${domain}/${slot}`);
    const pool = own && own.size > 0 ? own : new Set([...valuesBySlot].filter(([k]) => k.endsWith(`/${slot}`)).flatMap(([, v]) => [...v]));
    const values = [...pool].filter((v) => !t.reply.includes(v)).sort();
    if (values.length === 0) return null;
    return pick(TEMPLATES)(t.reply.replace(/[。！!.]+$/, ""), slot, pick(values));
  };
  const rows = { train: [] as object[], heldout: [] as object[] };
  for (const t of [...turns, ...valTurns]) {
    const held = heldIds.has(t.dialogue);
    const seen = new Set<string>();
    for (let tries = 0; tries < 4 * extraAdded && seen.size < (held ? 1 : extraAdded); tries++) {
      const rejected = added(t);
      if (rejected === null) break;
      if (seen.has(rejected)) continue;
      seen.add(rejected);
      (held ? rows.heldout : rows.train).push({ prompt: promptOf(t), chosen: [{ role: "assistant", content: t.reply }],
        rejected: [{ role: "assistant", content: rejected }], kind: "added" });
    }
  }
  writeFileSync(path.join(out, "pairs-train-added.jsonl"), lines(shuffle(rows.train)));
  writeFileSync(path.join(out, "pairs-heldout-added.jsonl"), lines(rows.heldout));
  console.log(`${rows.train.length} training and ${rows.heldout.length} held-out added-value pairs in ${out}`);
}
// the training values' Chinese characters, and one turn with every grounded value scrambled character by character
const cjk = [...new Set([...turns, ...valTurns].filter((t) => !heldIds.has(t.dialogue)).flatMap((t) => t.facts.flatMap((a) => [...a[3]])))]
  .filter((c) => /\p{Script=Han}/u.test(c)).sort();
const scramble = (v: string) => [...v].map((c) => /[0-9]/.test(c) ? String(Math.floor(rand() * 10)) : /\p{Script=Han}/u.test(c) ? pick(cjk)
  : /[A-Za-z]/.test(c) ? String.fromCharCode((c <= "Z" ? 65 : 97) + Math.floor(rand() * 26)) : c).join("");
// longest first, and never a value inside another one (its replacement would break the longer one)
const scramblable = (t: Turn) => t.facts.map((a) => [...a] as Act).sort((x, y) => y[3].length - x[3].length)
  .filter((a, i, all) => !all.some((b, j) => j !== i && b[3] !== a[3] && b[3].includes(a[3])));
function scrambledTurn(t: Turn, facts: readonly Act[]): Turn {
  let { user, reply } = t;
  const changed = facts.map((a) => {
    const v = scramble(a[3]);
    [user, reply] = [user.split(a[3]).join(v), reply.split(a[3]).join(v)];
    return [a[0], a[1], a[2], v] as Act;
  });
  return { ...t, user, reply, facts: changed };
}
if (sftRandom > 0) {
  s = (Number(args[1] ?? 7) + 4) >>> 0; // a fifth generator: the files above do not depend on --sft-random
  const scrambled: object[] = [];
  for (const t of [...turns, ...valTurns]) {
    if (heldIds.has(t.dialogue)) continue;
    const facts = scramblable(t);
    for (let k = 0; k < sftRandom; k++) {
      const u = scrambledTurn(t, facts);
      if (u.reply === t.reply) continue;
      scrambled.push({ messages: [...promptOf(u), { role: "assistant", content: u.reply }] });
    }
  }
  writeFileSync(path.join(out, "sft-train-random.jsonl"), lines(shuffle(scrambled)));
  console.log(`${scrambled.length} value-scrambled SFT chats in ${path.join(out, "sft-train-random.jsonl")} (${cjk.length} characters)`);
}
if (valPrompts > 0) {
  s = (Number(args[1] ?? 7) + 5) >>> 0; // a sixth generator: the files above do not depend on --val-prompts
  const training = [...turns, ...valTurns].filter((t) => !heldIds.has(t.dialogue));
  const slotValues = new Map<string, string[]>();
  for (const t of training) for (const a of t.facts) slotValues.set(`${a[1]}/${a[2]}`, [...(slotValues.get(`${a[1]}/${a[2]}`) ?? []), a[3]]);
  for (const [k, v] of slotValues) slotValues.set(k, [...new Set(v)]);
  const swappedTurn = (t: Turn): Turn => {
    let { user, reply } = t;
    const facts = scramblable(t).map((a) => {
      const others = (slotValues.get(`${a[1]}/${a[2]}`) ?? []).filter((v) => !t.facts.some((f) => f[3].includes(v) || v.includes(f[3])));
      if (others.length === 0) return a;
      const v = pick(others);
      [user, reply] = [user.split(a[3]).join(v), reply.split(a[3]).join(v)];
      return [a[0], a[1], a[2], v] as Act;
    });
    return { ...t, user, reply, facts };
  };
  const pairOf = (t: Turn, rejected: string, kind: string) => ({ prompt: promptOf(t), chosen: [{ role: "assistant", content: t.reply }],
    rejected: [{ role: "assistant", content: rejected }], kind });
  for (const [name, change] of [["val-swap", swappedTurn], ["val-random", (t: Turn) => scrambledTurn(t, scramblable(t))]] as const) {
    const rows: object[] = [];
    const seen = new Set<string>();
    for (const t of shuffle([...training])) {
      if (rows.length === valPrompts) break;
      const u = change(t);
      const key = JSON.stringify(promptOf(u));
      if (u.reply === t.reply || seen.has(key)) continue;
      seen.add(key);
      rows.push(pairOf(u, t.reply, name));
    }
    writeFileSync(path.join(out, `pairs-${name}.jsonl`), lines(rows));
    writeFileSync(path.join(out, `prompts-${name}.jsonl`), lines(promptRows(rows)));
    console.log(`${rows.length} validation turns (${name}) in ${path.join(out, `prompts-${name}.jsonl`)}`);
  }
}
const count = (rows: readonly object[], k: string) => rows.filter((r) => (r as { kind: string }).kind === k).length;
console.log(`${turns.length} grounded turns (+${valTurns.length} val) from ${Object.keys(dialogues).length} dialogues; ` +
  `${pairs.train.length} training pairs, ${pairs.heldout.length} held-out pairs (${heldIds.size} dialogues) in ${out}; ` +
  `held-out kinds: ${kinds.map((k) => `${k} ${count(pairs.heldout, k)}`).join(", ")}`);
