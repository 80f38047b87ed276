// Lead capture (留资): reading contact details from the customer's reply to the consent prompt, and validating
// them. A mainland mobile number is 11 digits starting 13–19 (an optional +86 prefix, spaces or dashes allowed);
// an e-mail is checked for shape; a name is taken from phrases like 我叫…/我姓…/my name is…/I'm…; the need is
// the text left once the contact details are removed (or the intent that triggered the offer). A reply that
// declines (不用了, no thanks) ends the offer; nothing is asked again (the offer is made at most max_asks times).
// Details the customer volunteers later (a valid number or address with no offer pending) are read the same way.
// Leaves out: landlines and foreign numbers, name validation against a dictionary, de-duplication of leads.

export interface ContactDetails {
  name: string | null;
  phone: string | null;
  email: string | null;
  need: string | null;
  /** Contact-looking input that failed validation, in the customer's language ("手机号 1381234 不是有效的大陆手机号"). */
  problems: string[];
}

const PHONE = /(?<!\d)(?:\+?86[-\s]?)?(1[3-9]\d[-\s]?\d{4}[-\s]?\d{4})(?!\d)/;
const PHONE_LIKE = /(?<![\d.])(?:\+?86[-\s]?)?(1\d[\d\s-]{3,14}\d)(?![\d.])/;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;
const EMAIL_LIKE = /[^\s@，,。]+@[^\s，,。]*/;
const NAME_PATTERNS = [
  /(?:我叫|我是|本人|姓名[:：]?|称呼[:：]?|叫我)\s*([\u4e00-\u9fa5]{1,4}(?:先生|女士|小姐)?|[A-Za-z][A-Za-z .'-]{1,40}?)(?=[，,。.；;\s]|$|手机|电话|邮箱|想|要)/,
  /(?:我姓)\s*([\u4e00-\u9fa5])/,
  /(?:my name is|name:|i am|i'm|this is)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2})/i,
];
const DECLINE = /^(不用|不需要|不要|算了|不了|不方便|no thanks|no,? thank|not now|no need|i'?d rather not|nope)/i;

export function isDecline(text: string): boolean {
  return DECLINE.test(text.trim());
}

/** A valid mainland mobile number or e-mail address somewhere in the text (details a customer volunteers). */
export function hasValidContact(text: string): boolean {
  return PHONE.test(text) || EMAIL.test(text);
}

export function normalisePhone(raw: string): string {
  return raw.replace(/[\s-]/g, "").replace(/^\+?86/, "");
}

export function extractContact(text: string, language: "zh" | "en"): ContactDetails {
  const problems: string[] = [];
  let rest = text;
  let phone: string | null = null;
  const p = text.match(PHONE);
  if (p) {
    phone = normalisePhone(p[1]);
    rest = rest.replace(p[0], " ");
  } else {
    const like = text.match(PHONE_LIKE);
    if (like) {
      problems.push(language === "zh" ? `手机号 ${like[1]} 不是有效的大陆手机号（11 位，以 13–19 开头）` : `${like[1]} is not a valid mainland mobile number (11 digits starting 13–19)`);
      rest = rest.replace(like[0], " ");
    }
  }
  let email: string | null = null;
  const e = text.match(EMAIL);
  if (e) {
    email = e[0];
    rest = rest.replace(e[0], " ");
  } else if (EMAIL_LIKE.test(text)) {
    const bad = text.match(EMAIL_LIKE)![0];
    problems.push(language === "zh" ? `邮箱 ${bad} 格式不正确` : `${bad} is not a valid e-mail address`);
    rest = rest.replace(bad, " ");
  }
  let name: string | null = null;
  for (const re of NAME_PATTERNS) {
    const m = rest.match(re);
    if (m) {
      name = m[1].trim();
      rest = rest.replace(m[0], " ");
      break;
    }
  }
  const need = rest.replace(/(手机号?|电话|邮箱|e-?mail|phone|mobile)\s*[:：]?/gi, " ")
    .replace(/[，,。.；;:：!！\s]+/g, " ").trim();
  return { name, phone, email, need: need.length >= 2 ? need : null, problems };
}
