// What a model says about itself beyond its weights: the name to serve it under and whether it was trained to
// call tools. Read from the model's own files, never guessed from how it was invoked:
// - name: GGUF `general.name` (unless it only repeats general.architecture); in a Hugging Face folder the first `# heading` of MODEL_CARD.md or README.md (its
//   first word), else config.json `_name_or_path` (last path part); a training checkpoint
//   (<run>/checkpoints/step-N) is named `<run>-step-N`; the file or folder name last.
// - tool calls: GGUF `zhiyu.tool_calls` (bool) or config.json `zhiyu_tool_calls` (bool) when the model's maker
//   says; otherwise a chat template that renders `tools` marks a model trained for them (Qwen2.5, Llama 3.1, …),
//   and no template (the ChatML fallback) marks one that was not (zhiyu-mini).
// Leaves out: capabilities other than tool calls (vision, reasoning).
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { readGguf } from "../io/gguf.js";

export interface ModelInfo {
  /** A human name for the model (served as the model id). */
  name: string;
  /** Whether the model was trained to call tools. */
  toolCalls: boolean;
  /** Where toolCalls came from, for messages ("config.json zhiyu_tool_calls", "chat template"). */
  toolCallsSource: string;
}

const CHECKPOINT = /^step-\d+(\.\d+)?$/;

function readJsonIfThere(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {}; // the loader reports a broken config.json with its own message
  }
}

function cardName(dir: string): string | null {
  for (const f of ["MODEL_CARD.md", "README.md"]) {
    const file = path.join(dir, f);
    if (!existsSync(file)) continue;
    const heading = /^#\s+(\S+)/m.exec(readFileSync(file, "utf8").slice(0, 4096));
    if (heading) return heading[1]!;
  }
  return null;
}

/** The folder or file name, or `<run>-step-N` for a training checkpoint. */
function pathName(modelPath: string): string {
  const abs = path.resolve(modelPath);
  const base = path.basename(abs).replace(/\.gguf$/i, "");
  if (!CHECKPOINT.test(base)) return base;
  const parent = path.dirname(abs);
  const run = path.basename(parent) === "checkpoints" ? path.basename(path.dirname(parent)) : path.basename(parent);
  return `${run}-${base}`;
}

/** Reads the model's name and tool-call training from its files; `chatTemplate` is the template the model loaded. */
export function readModelInfo(modelPath: string, chatTemplate: string | null): ModelInfo {
  let name: string | null = null;
  let declared: boolean | null = null;
  let source = "";
  if (existsSync(modelPath) && statSync(modelPath).isDirectory()) {
    const config = readJsonIfThere(path.join(modelPath, "config.json"));
    name = cardName(modelPath);
    if (!name && typeof config._name_or_path === "string" && config._name_or_path.trim() !== "") {
      name = path.basename(config._name_or_path.trim());
    }
    if (typeof config.zhiyu_tool_calls === "boolean") {
      declared = config.zhiyu_tool_calls;
      source = "config.json zhiyu_tool_calls";
    }
  } else if (existsSync(modelPath)) {
    const file = readGguf(modelPath);
    const general = file.metadata.get("general.name");
    // A name equal to the architecture is a converter's placeholder (llama2c's writes "llama"), not a name.
    if (typeof general === "string" && general.trim() !== "" && general.trim() !== file.metadata.get("general.architecture")) {
      name = general.trim();
    }
    const flag = file.metadata.get("zhiyu.tool_calls");
    if (typeof flag === "boolean") {
      declared = flag;
      source = "GGUF zhiyu.tool_calls";
    }
  }
  if (declared === null) {
    declared = chatTemplate !== null && /\btools\b/.test(chatTemplate);
    source = chatTemplate === null ? "it has no chat template" : declared ? "its chat template renders tools" : "its chat template has no tools section";
  }
  return { name: name && !CHECKPOINT.test(name) ? name : pathName(modelPath), toolCalls: declared, toolCallsSource: source };
}
