// The special-token part of a GGUF vocabulary as gguf-py's SpecialVocab (llama.cpp's converter) writes it from a
// Hugging Face folder: tokenizer.ggml.{bos,eos,unknown,seperator,padding,mask}_token_id (and eot/eom when the
// post-processor's last token replaces EOS), add_bos/add_eos/add_sep_token, and the chat template.
// - ids: tokenizer_config.json's `<kind>_token` strings ({content} objects too) looked up among tokenizer.json's
//   added tokens, then config.json's `<kind>_token_id` (or text_config's) for the kinds still missing; an id at or
//   past the vocabulary size is left out. A missing bos/eos falls back to cls/sep.
// - add_*: tokenizer.json's post-processor (RobertaProcessing adds all three; TemplateProcessing's `single` and
//   `pair` are read the way gguf-py reads them: a leading bos/cls, a trailing eos, a separator between A and B),
//   then tokenizer_config.json's add_<kind>_token booleans win.
// Inputs are parsed JSON; nothing here touches the file system.
// Leaves out: gguf-py's warnings for templates it does not understand (they only log), normalizer flags.
import type { GgufMetadataEntries, HfTokenizerFiles } from "./gguf-export.js";

type Json = Record<string, unknown>;
const asObject = (v: unknown): Json => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {});
/** Python truthiness for the JSON values involved (null, "", {} and [] are false). */
const truthy = (v: unknown): boolean => v !== undefined && v !== null && v !== false && v !== "" && v !== 0 &&
  !(Array.isArray(v) && v.length === 0) && !(typeof v === "object" && !Array.isArray(v) && Object.keys(v as Json).length === 0);
const same = (a: unknown, b: unknown): boolean => typeof a === "string" && a === b;

const ID_KEY: Record<string, string> = {
  bos: "tokenizer.ggml.bos_token_id", eos: "tokenizer.ggml.eos_token_id", unk: "tokenizer.ggml.unknown_token_id",
  sep: "tokenizer.ggml.seperator_token_id", pad: "tokenizer.ggml.padding_token_id", mask: "tokenizer.ggml.mask_token_id",
  eot: "tokenizer.ggml.eot_token_id", eom: "tokenizer.ggml.eom_token_id",
}; // no cls: gguf-py has no writer for it and skips it (llama.cpp's bert vocabulary defaults it to 101)
/** The add_* flags GGUF has keys for (gguf-py skips the others). */
const ADD_KINDS = new Set(["bos", "eos", "sep"]);

const specialTokenOf = (step: unknown): string | null => {
  const id = asObject(asObject(step).SpecialToken).id;
  return typeof id === "string" && id !== "" ? id : null;
};
const sequenceOf = (step: unknown): unknown => asObject(asObject(step).Sequence).id;

/** The special ids, add_* flags and chat template of a Hugging Face folder's tokenizer, for `nVocab` tokens. */
export function ggufSpecialVocab(files: HfTokenizerFiles, nVocab: number): GgufMetadataEntries {
  const kinds = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"];
  const ids = new Map<string, number>();
  const add = new Map<string, boolean>();
  const setId = (kind: string, id: unknown) => {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= nVocab || ids.has(kind)) return;
    ids.set(kind, id);
  };
  const hasJson = files.tokenizerJson !== undefined;
  const tj = asObject(files.tokenizerJson);
  const added = Array.isArray(tj.added_tokens) ? (tj.added_tokens as unknown[]).map(asObject) : [];
  // A copy: gguf-py fills in the missing bos/cls/eos/sep/eot/eom strings as it reads the post-processor.
  const cfg: Json | null = files.tokenizerConfig === undefined ? null : { ...asObject(files.tokenizerConfig) };
  if (hasJson) {
    let bos = cfg?.bos_token, cls = cfg?.cls_token, eos = cfg?.eos_token, sep = cfg?.sep_token;
    if (!truthy(bos) && truthy(cls) && truthy(cfg)) cfg!.bos_token = bos = cls;
    if (!truthy(eos) && truthy(sep) && truthy(cfg)) cfg!.eos_token = eos = sep;
    const post = asObject(tj.post_processor);
    const processors = truthy(tj.post_processor) ? (Array.isArray(post.processors) ? post.processors : [post]).map(asObject) : [];
    for (const proc of processors) {
      if (proc.type === "RobertaProcessing") {
        for (const k of ["bos", "eos", "sep"]) add.set(k, true);
        if (!truthy(cls) && truthy(cfg)) cfg!.cls_token = cls = Array.isArray(proc.cls) ? proc.cls[0] : bos;
        if (!truthy(sep) && truthy(cfg)) cfg!.sep_token = sep = Array.isArray(proc.sep) ? proc.sep[0] : eos;
        continue;
      }
      if (proc.type !== "TemplateProcessing") continue;
      const single = Array.isArray(proc.single) ? proc.single : [];
      let pair = Array.isArray(proc.pair) ? proc.pair : [];
      let first: string | null = null, last: string | null = null;
      if (single.length > 1) {
        first = specialTokenOf(single[0]);
        if (first !== null) {
          if (!truthy(cfg)) bos = first;
          else if (!same(first, bos) && !same(first, cls)) {
            if (!truthy(bos)) cfg!.bos_token = bos = first;
            if (!truthy(cls)) cfg!.cls_token = cls = first;
          }
          add.set("bos", same(first, bos) || same(first, cls));
        }
        last = specialTokenOf(single[single.length - 1]);
        if (last !== null) {
          if (!truthy(cfg)) eos = last;
          else if (!same(last, eos)) {
            // The old EOS stays an end token, as eot (or eom when eot is taken).
            const keep = !kinds.includes("eot") ? "eot" : !kinds.includes("eom") ? "eom" : null;
            if (keep) { kinds.push(keep); cfg![`${keep}_token`] = eos; }
            cfg!.eos_token = eos = last;
          }
          add.set("eos", same(last, eos));
        }
      }
      if (pair.length > 0) {
        const start = first !== null && specialTokenOf(pair[0]) === first ? 1 : 0;
        const stop = last !== null && specialTokenOf(pair[pair.length - 1]) === last ? pair.length - 1 : pair.length;
        pair = pair.slice(start, stop);
        if (pair.length > 0 && sequenceOf(pair[0]) === "A" && sequenceOf(pair[pair.length - 1]) === "B" && (pair = pair.slice(1, -1)).length > 0) {
          let addSep = false;
          const e1 = specialTokenOf(pair[0]);
          if (e1 !== null && (same(e1, sep) || same(e1, eos)) && last === null) addSep = true;
          if (pair.length === 2) {
            const e2 = specialTokenOf(pair[1]);
            if (e2 !== null && (same(e2, sep) || same(e2, eos))) addSep = true;
          }
          add.set("sep", addSep);
          if (addSep && !truthy(sep) && truthy(cfg)) cfg!.sep_token = eos;
        }
      }
    }
  }
  if (truthy(cfg)) {
    for (const kind of kinds) {
      const flag = cfg![`add_${kind}_token`];
      if (typeof flag === "boolean") add.set(kind, flag);
      const entry = cfg![`${kind}_token`];
      const text = typeof entry === "string" ? entry : asObject(entry).content;
      if (typeof text !== "string") continue;
      setId(kind, added.find((a) => a.content === text)?.id);
    }
  }
  const modelConfig = asObject(files.modelConfig);
  for (const kind of kinds) setId(kind, modelConfig[`${kind}_token_id`] ?? asObject(modelConfig.text_config)[`${kind}_token_id`]);
  const out: GgufMetadataEntries = [];
  for (const [kind, id] of ids) if (ID_KEY[kind]) out.push([ID_KEY[kind], id, "u32"]);
  for (const [kind, flag] of add) if (ADD_KINDS.has(kind)) out.push([`tokenizer.ggml.add_${kind}_token`, flag, "bool"]);
  if (files.chatTemplate) out.push(["tokenizer.chat_template", files.chatTemplate]);
  return out;
}
