// The grounding check for generated replies: a reply may state a number, date, time, price, percentage or policy
// only if a cited passage states it too. Facts are pulled out of the reply — numbers with their unit or currency
// (60元, ¥60, $5, 30%, 8:30, 2024年5月1日, 7 days, 三天), and policy statements (退款/退票/免费/不可/须/保证, refund,
// free, non-refundable, must, guarantee) with their polarity — and each must be found in the cited passages after
// normalisation (full-width → half-width, Chinese numerals → digits, thousands separators dropped). A negated
// policy ("不可退", "non-refundable") only matches a negated one.
// Leaves out: paraphrase of numbers ("half" vs 50%), unit conversion, entailment beyond the fact list.

const ZH_DIGITS: Record<string, number> = { 零: 0, 〇: 0, 一: 1, 二: 2, 两: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };
const ZH_UNITS: Record<string, number> = { 十: 10, 百: 100, 千: 1000, 万: 10000 };

/** "三十五" → 35, "两百" → 200, "十" → 10 (up to 万). */
export function chineseNumeral(s: string): number | null {
  if (!/^[零〇一二两三四五六七八九十百千万]+$/u.test(s)) return null;
  let total = 0;
  let section = 0;
  let digit = 0;
  for (const ch of s) {
    if (ch in ZH_DIGITS) digit = ZH_DIGITS[ch];
    else {
      const unit = ZH_UNITS[ch];
      if (unit === 10000) {
        total += (section + digit) * unit;
        section = 0;
      } else section += (digit || 1) * unit;
      digit = 0;
    }
  }
  return total + section + digit;
}

/** Normalised text for matching facts: NFKC, lower case, no thousands separators, Chinese numerals as digits. */
export function normaliseForFacts(text: string): string {
  return text.normalize("NFKC").toLowerCase()
    .replace(/(\d),(?=\d{3}\b)/g, "$1")
    .replace(/[零〇一二两三四五六七八九十百千万]+(?=[个天日号月年点时分小周岁元块人次张%])/gu, (m) => String(chineseNumeral(m) ?? m))
    .replace(/(\d{1,2})点半/g, "$1:30")
    .replace(/(\d{1,2})[点:](\d{1,2})分?/g, (_, h: string, m: string) => `${h}:${m.padStart(2, "0")}`)
    .replace(/(\d{1,2})点钟?/g, "$1:00")
    .replace(/\s+/g, " ");
}

/** Numbers (as digit strings, with "." and ":" kept for 8:30 and 2.5) mentioned in normalised text. */
function numbersIn(norm: string): string[] {
  return (norm.match(/\d+(?:[.:]\d+)*/g) ?? []).map((n) => n.replace(/^0+(?=\d)/, ""));
}

const POLICY_TERMS = [
  "退款", "退票", "退货", "退费", "改签", "免费", "免票", "赔偿", "保证", "承诺", "包退", "补偿", "押金", "手续费", "违约金", "积分",
  "refund", "refundable", "free", "compensation", "guarantee", "deposit", "fee", "penalty", "exchange", "cancel",
];
const NEGATION_BEFORE = /(不|不可|不能|无法|不予|不支持|不接受|不提供|概不|非|no|not|non-|cannot|can't|won't|isn't)\s*$/u;

/** Policy terms with polarity ("+退款" or "-退款") in normalised text. */
function policiesIn(norm: string): Set<string> {
  const out = new Set<string>();
  for (const term of POLICY_TERMS) {
    let from = 0;
    for (;;) {
      const at = norm.indexOf(term, from);
      if (at < 0) break;
      const before = norm.slice(Math.max(0, at - 6), at);
      out.add(`${NEGATION_BEFORE.test(before) || /^non-?$/.test(before.slice(-4)) ? "-" : "+"}${term}`);
      from = at + term.length;
    }
  }
  return out;
}

export interface GroundingResult {
  grounded: boolean;
  /** Facts in the reply that no cited passage states ("60", "-退款"). */
  unsupported: string[];
}

/** Checks a reply against the passages it cites. */
export function checkGrounding(reply: string, passages: readonly string[]): GroundingResult {
  const r = normaliseForFacts(reply);
  const sources = passages.map(normaliseForFacts);
  const sourceNumbers = new Set(sources.flatMap(numbersIn));
  // A time like 8:30 may be written 8点30 in the passage: compare times by their digits as well.
  const sourceDigits = new Set([...sourceNumbers].flatMap((n) => [n, ...n.split(/[.:]/)]));
  const sourcePolicies = new Set(sources.flatMap((s) => [...policiesIn(s)]));
  const unsupported: string[] = [];
  for (const n of numbersIn(r)) {
    if (sourceNumbers.has(n)) continue;
    if (/[.:]/.test(n) && n.split(/[.:]/).every((part) => sourceDigits.has(part.replace(/^0+(?=\d)/, "")))) continue;
    unsupported.push(n);
  }
  for (const p of policiesIn(r)) if (!sourcePolicies.has(p)) unsupported.push(p);
  return { grounded: unsupported.length === 0, unsupported: [...new Set(unsupported)] };
}
