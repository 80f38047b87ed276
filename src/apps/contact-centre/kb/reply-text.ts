// What a passage looks like when it is sent to a customer as the reply: the knowledge base keeps Markdown passages
// as written (headings help search and citations), but a chat bubble shows plain text, so headings, emphasis,
// inline code and link syntax are taken out and list items get a bullet. Also: which language a passage is in,
// so a conversation in English is answered from the English passage when both languages match.
// Leaves out: tables (kept as written) and HTML (extract.ts already turned HTML into text).
import type { Language } from "../config-schema.js";

/** Markdown passage → chat text: no heading lines, no bold/italic markers or backticks, links as "text (url)", "- x" → "• x". */
export function plainReplyText(passage: string): string {
  const lines = passage.split("\n").filter((line) => !/^\s{0,3}#{1,6}\s/.test(line));
  return lines.map((line) => line
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, "$1 ($2)")
    .replace(/(\*\*|__)(.+?)\1/g, "$2")
    .replace(/`([^`]+)`/g, "$1")
    .replace(/^\s{0,3}>\s?/, "")
    .replace(/^(\s*)[-*+]\s+/, "$1• "))
    .join("\n").trim() || passage.trim();
}

/** The language a passage is written in: "zh" when at least a fifth of its letters are Han characters. */
export function passageLanguage(text: string): Language {
  const han = (text.match(/\p{Script=Han}/gu) ?? []).length;
  const latin = (text.match(/[A-Za-z]/g) ?? []).length;
  return han > 0 && han * 5 >= han + latin ? "zh" : "en";
}
