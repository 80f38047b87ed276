// Keeping special-token text in message content plain. A chat template writes its own markers (<|im_start|>,
// <|im_end|> …) and the rendered prompt is encoded with parseSpecial, so the same marker typed by a user, found in a
// retrieved document or returned by a tool would become a real turn boundary (a forged system turn). Callers that
// render templates therefore "protect" every content string first: a guard character (U+FDD0, a Unicode
// noncharacter reserved for internal use) goes before each character of every special-token occurrence, and the
// tokenizer's protected mode neither matches a special token right after a guard nor keeps the guards in the text
// it encodes. The template's own markers carry no guard and stay special; content is encoded as plain text, as
// llama.cpp and transformers tokenise content. U+FDD0 already present in content is removed (it could otherwise
// disable a template marker that follows the content).
// Leaves out: non-special added tokens (matched in plain text too, so nothing is forged by them).

export const SPECIAL_TEXT_GUARD = "\uFDD0";
const GUARDS = /\uFDD0/g;

/** Inserts a guard before each character of every match of `specials` (a global regex of special-token texts). */
export function guardSpecialText(text: string, specials: RegExp | null): string {
  const clean = text.includes(SPECIAL_TEXT_GUARD) ? text.replace(GUARDS, "") : text;
  if (specials === null) return clean;
  specials.lastIndex = 0;
  return clean.replace(specials, (m) => {
    let out = "";
    for (const ch of m) out += SPECIAL_TEXT_GUARD + ch;
    return out;
  });
}

/** Removes the guards from a piece of protected text before it is encoded as plain text. */
export function stripGuards(text: string): string {
  return text.includes(SPECIAL_TEXT_GUARD) ? text.replace(GUARDS, "") : text;
}
