// Masking of personal data for roles without the right to see it: mainland mobile numbers keep their first three
// and last four digits (138****5678), e-mail addresses their first character and domain (j***@example.com), in
// lead fields and inside free text (transcripts, notes, CSV exports).
// Leaves out: names and addresses (not reliably detectable in free text), ID-card and bank-card numbers.

const PHONE = /(?<!\d)(?:\+?86[-\s]?)?(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?!\d)/g;
const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;

export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, "").replace(/^86(?=1\d{10}$)/, "");
  return digits.length >= 7 ? `${digits.slice(0, 3)}****${digits.slice(-4)}` : "****";
}

export function maskEmail(email: string): string {
  return email.replace(EMAIL, (_m, first: string, domain: string) => `${first}***@${domain}`);
}

/** Masks every mobile number and e-mail address inside a text. */
export function maskText(text: string): string {
  return text.replace(PHONE, (_m, a: string, _b: string, c: string) => `${a}****${c}`).replace(EMAIL, (_m, f: string, d: string) => `${f}***@${d}`);
}
