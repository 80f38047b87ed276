// Masking of personal data in text before it is logged, traced or stored: mainland-China mobile numbers (with or
// without +86, grouped 3-4-4 or not), 18-digit resident ID-card numbers (only when the ISO 7064 MOD 11-2 check
// character is right), e-mail addresses, and bank-card numbers (12–19 digits, optionally grouped, only when the Luhn
// check passes). Each match keeps a few characters so a reader can still tell records apart (138****5678).
// It lives in core because it is a pure string function every layer needs: serve masks its logs and tool traces,
// the contact-centre application (src/apps/) masks stored conversations, tools mask their traces — and core is the
// one leaf all of them may import (nothing here imports anything).
// Leaves out: names and street addresses (no reliable pattern), 15-digit first-generation ID cards, landlines,
// passport numbers; free-text detection by a model.

export type PiiKind = "mobile" | "id_card" | "email" | "bank_card";

export interface PiiMatch {
  kind: PiiKind;
  start: number;
  end: number;
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

/** Whether an 18-character ID-card number has the right check character (GB 11643, ISO 7064 MOD 11-2). */
export function validIdCard(id: string): boolean {
  if (!/^\d{17}[\dXx]$/.test(id)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (id.charCodeAt(i) - 48) * ID_WEIGHTS[i];
  return ID_CHECK[sum % 11] === id[17].toUpperCase();
}

/** Luhn check of a digit string (bank cards). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// One pass over the text; alternatives are tried longest-kind first at each position (ID card, bank card, mobile,
// e-mail), each bounded by non-digits so a number is never masked from the middle of a longer one.
const PATTERN = new RegExp([
  String.raw`(?<id>(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z]))`,
  String.raw`(?<card>(?<![\d-])\d{4}(?:[ -]?\d{4}){2}(?:[ -]?\d{1,4}){1,2}(?![\d-]))`,
  String.raw`(?<card2>(?<![\d-])\d{12,19}(?![\d-]))`,
  String.raw`(?<mobile>(?<![\d+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d))`,
  String.raw`(?<email>(?<![\w.%+-])[\w.%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![\w-]))`,
].join("|"), "gu");

/** Every personal-data match in the text, in order. */
export function findPii(text: string): PiiMatch[] {
  const out: PiiMatch[] = [];
  for (const m of text.matchAll(PATTERN)) {
    const g = m.groups!;
    const start = m.index!;
    const s = m[0];
    let kind: PiiKind | null = null;
    if (g.id !== undefined) kind = validIdCard(s) ? "id_card" : luhnValid(s.replace(/\D/g, "")) && /^\d+$/.test(s) ? "bank_card" : null;
    else if (g.card !== undefined || g.card2 !== undefined) {
      const digits = s.replace(/\D/g, "");
      kind = digits.length >= 12 && digits.length <= 19 && luhnValid(digits) ? "bank_card" : null;
    } else if (g.mobile !== undefined) kind = "mobile";
    else if (g.email !== undefined) kind = "email";
    if (kind !== null) out.push({ kind, start, end: start + s.length });
  }
  return out;
}

function maskDigits(s: string, keepFront: number, keepBack: number): string {
  const digitsAt: number[] = [];
  for (let i = 0; i < s.length; i++) if (/[\dXx]/.test(s[i])) digitsAt.push(i);
  const chars = [...s];
  digitsAt.forEach((pos, k) => {
    if (k >= keepFront && k < digitsAt.length - keepBack) chars[pos] = "*";
  });
  return chars.join("");
}

/** The masked form of one match: mobile 138****5678, ID 110***********123X, card 6222 **** **** 1234, e-mail a***@example.com. */
export function maskOne(kind: PiiKind, s: string): string {
  switch (kind) {
    case "mobile": {
      const national = s.replace(/^(?:\+|00)86[ -]?/, "");
      return s.slice(0, s.length - national.length) + maskDigits(national, 3, 4);
    }
    case "id_card": return maskDigits(s, 3, 4);
    case "bank_card": return maskDigits(s, 4, 4);
    case "email": {
      const at = s.lastIndexOf("@");
      return `${s[0]}***${s.slice(at)}`;
    }
  }
}

/** The text with every match masked. Strings without digits or '@' return unchanged at once. */
export function maskPii(text: string): string {
  if (!/[\d@]/.test(text)) return text;
  const matches = findPii(text);
  if (matches.length === 0) return text;
  let out = "";
  let at = 0;
  for (const m of matches) {
    out += text.slice(at, m.start) + maskOne(m.kind, text.slice(m.start, m.end));
    at = m.end;
  }
  return out + text.slice(at);
}

/** maskPii applied to every string inside a JSON-like value (objects and arrays copied, other values kept). */
export function maskPiiDeep<T>(value: T, depth = 0): T {
  if (typeof value === "string") return maskPii(value) as T;
  if (depth > 64 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => maskPiiDeep(v, depth + 1)) as T;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, maskPiiDeep(v, depth + 1)])) as T;
}
