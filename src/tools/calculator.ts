// The calculator tool: exact arithmetic over rationals (BigInt numerator/denominator), with its own recursive-descent
// parser — never eval. Grammar (loosest first):
//   sum     := product (("+" | "-") product)*
//   product := unary (("*" | "×" | "/" | "÷" | "of") unary)*        "20% of 50" = 10
//   unary   := ("-" | "+") unary | power                             so -2^2 = -4, as in mathematics
//   power   := postfix (("^" | "**") unary)?                          right-associative: 2^3^2 = 2^9
//   postfix := primary "%"*                                           x% = x/100
//   primary := number | "(" sum ")"                                   numbers: 12, 1.5, .5, 1e-3, 1_000
// Full-width forms （）＋－＊／ and the Chinese 百分之X are accepted. Powers: any integer exponent; a fractional one
// only when the result is rational (8^(1/3) = 2, 2^(1/2) is an error). Sizes are capped so no input can hang it.
// Leaves out: functions (sqrt, sin, log: their results are not rational), variables, units.

export class CalculatorError extends Error {
  override name = "CalculatorError";
}

const MAX_BITS = 100_000;

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** An exact rational number in lowest terms with a positive denominator. */
export class Rational {
  readonly num: bigint;
  readonly den: bigint;

  constructor(num: bigint, den: bigint = 1n) {
    if (den === 0n) throw new CalculatorError("division by zero");
    if (den < 0n) {
      num = -num;
      den = -den;
    }
    const g = gcd(num, den);
    this.num = g > 1n ? num / g : num;
    this.den = g > 1n ? den / g : den;
    if (bitLength(this.num) + bitLength(this.den) > MAX_BITS) throw new CalculatorError("the number is too large to compute exactly");
  }

  add(o: Rational): Rational {
    return new Rational(this.num * o.den + o.num * this.den, this.den * o.den);
  }
  sub(o: Rational): Rational {
    return new Rational(this.num * o.den - o.num * this.den, this.den * o.den);
  }
  mul(o: Rational): Rational {
    return new Rational(this.num * o.num, this.den * o.den);
  }
  div(o: Rational): Rational {
    if (o.num === 0n) throw new CalculatorError("division by zero");
    return new Rational(this.num * o.den, this.den * o.num);
  }
  neg(): Rational {
    return new Rational(-this.num, this.den);
  }

  pow(e: Rational): Rational {
    if (e.den === 1n) return this.powInt(e.num);
    // a^(p/q) = (q-th root of a)^p, rational only when the root is exact.
    if (e.den > 64n) throw new CalculatorError(`cannot take a root of degree ${e.den}`);
    const q = Number(e.den);
    if (this.num < 0n && q % 2 === 0) throw new CalculatorError("even root of a negative number is not real");
    const rn = exactRoot(this.num < 0n ? -this.num : this.num, q);
    const rd = exactRoot(this.den, q);
    if (rn === null || rd === null) throw new CalculatorError(`${this.toString()}^(${e.toString()}) is irrational; the calculator is exact only`);
    return new Rational(this.num < 0n ? -rn : rn, rd).powInt(e.num);
  }

  private powInt(n: bigint): Rational {
    if (n < 0n) {
      if (this.num === 0n) throw new CalculatorError("division by zero (0 to a negative power)");
      return new Rational(this.den, this.num).powInt(-n);
    }
    const bits = (bitLength(this.num) + bitLength(this.den)) * Number(n);
    if (n > 1_000_000n || bits > MAX_BITS) throw new CalculatorError("the power is too large to compute exactly");
    return new Rational(this.num ** n, this.den ** n);
  }

  isInteger(): boolean {
    return this.den === 1n;
  }

  /** "7", "-1/3". */
  toString(): string {
    return this.den === 1n ? this.num.toString() : `${this.num}/${this.den}`;
  }

  /** Decimal text: exact when the denominator is 2^a·5^b, else rounded to `digits` places (with "…"). */
  toDecimal(digits = 12): string {
    const neg = this.num < 0n;
    const n = neg ? -this.num : this.num;
    const d = this.den;
    let terminating = d;
    while (terminating % 2n === 0n) terminating /= 2n;
    while (terminating % 5n === 0n) terminating /= 5n;
    const intPart = n / d;
    let rem = n % d;
    let frac = "";
    const limit = terminating === 1n ? 10_000 : digits;
    while (rem !== 0n && frac.length < limit) {
      rem *= 10n;
      frac += (rem / d).toString();
      rem %= d;
    }
    let text = intPart.toString() + (frac ? `.${frac}` : "");
    if (rem !== 0n) {
      // Round the last digit half up.
      rem *= 10n;
      if (rem / d >= 5n) text = roundUp(text);
      text = text.replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "") + "…";
    }
    return (neg && /[1-9]/.test(text) ? "-" : "") + text;
  }
}

function roundUp(text: string): string {
  const chars = text.split("");
  for (let i = chars.length - 1; i >= 0; i--) {
    if (chars[i] === ".") continue;
    if (chars[i] === "9") chars[i] = "0";
    else {
      chars[i] = String(Number(chars[i]) + 1);
      return chars.join("");
    }
  }
  return "1" + chars.join("");
}

function bitLength(x: bigint): number {
  return (x < 0n ? -x : x).toString(2).length;
}

/** The exact integer q-th root of x ≥ 0, or null. */
function exactRoot(x: bigint, q: number): bigint | null {
  if (x < 2n) return x;
  // Newton's method on integers, starting above the root.
  let r = 1n << BigInt(Math.ceil(bitLength(x) / q));
  const Q = BigInt(q);
  for (;;) {
    const next = ((Q - 1n) * r + x / r ** (Q - 1n)) / Q;
    if (next >= r) break;
    r = next;
  }
  return r ** Q === x ? r : null;
}

type Token = { kind: "num"; value: Rational; at: number } | { kind: "op"; value: string; at: number };

function normalise(text: string): string {
  return text
    .replace(/[（]/g, "(").replace(/[）]/g, ")").replace(/[＋]/g, "+").replace(/[－—−]/g, "-")
    .replace(/[＊·]/g, "*").replace(/[／]/g, "/").replace(/[％]/g, "%").replace(/[＾]/g, "^")
    .replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xff10 + 0x30)).replace(/[．]/g, ".")
    .replace(/百分之\s*([0-9.]+)/g, "$1%");
}

function parseNumber(s: string, at: number): Rational {
  const m = /^(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s.replace(/_/g, ""));
  if (!m || (m[1] === "" && (m[2] ?? "") === "")) throw new CalculatorError(`bad number '${s}' at position ${at}`);
  const frac = m[2] ?? "";
  let value = new Rational(BigInt((m[1] || "0") + frac), 10n ** BigInt(frac.length));
  if (m[3]) {
    const e = Number(m[3]);
    if (Math.abs(e) > 10_000) throw new CalculatorError(`exponent ${e} is too large`);
    value = value.mul(e >= 0 ? new Rational(10n ** BigInt(e)) : new Rational(1n, 10n ** BigInt(-e)));
  }
  return value;
}

function tokenize(text: string): Token[] {
  const s = normalise(text);
  const tokens: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(s.slice(i));
    if (num) {
      tokens.push({ kind: "num", value: parseNumber(num[0], i), at: i });
      i += num[0].length;
      continue;
    }
    if (s.startsWith("**", i)) {
      tokens.push({ kind: "op", value: "^", at: i });
      i += 2;
      continue;
    }
    if (/^of\b/i.test(s.slice(i))) {
      tokens.push({ kind: "op", value: "*", at: i });
      i += 2;
      continue;
    }
    if ("+-*/^%()×÷".includes(c)) {
      tokens.push({ kind: "op", value: c === "×" ? "*" : c === "÷" ? "/" : c, at: i });
      i++;
      continue;
    }
    throw new CalculatorError(`unexpected '${c}' at position ${i}; use numbers, + - * / ^ %, parentheses`);
  }
  return tokens;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): Rational {
    if (this.tokens.length === 0) throw new CalculatorError("empty expression");
    const v = this.sum();
    if (this.i < this.tokens.length) throw new CalculatorError(`unexpected '${this.show(this.tokens[this.i])}' at position ${this.tokens[this.i].at}`);
    return v;
  }

  private peek(): string | null {
    const t = this.tokens[this.i];
    return t && t.kind === "op" ? t.value : null;
  }

  private show(t: Token): string {
    return t.kind === "num" ? t.value.toString() : t.value;
  }

  private sum(): Rational {
    let v = this.product();
    for (let op = this.peek(); op === "+" || op === "-"; op = this.peek()) {
      this.i++;
      const r = this.product();
      v = op === "+" ? v.add(r) : v.sub(r);
    }
    return v;
  }

  private product(): Rational {
    let v = this.unary();
    for (let op = this.peek(); op === "*" || op === "/"; op = this.peek()) {
      this.i++;
      const r = this.unary();
      v = op === "*" ? v.mul(r) : v.div(r);
    }
    return v;
  }

  private unary(): Rational {
    const op = this.peek();
    if (op === "-" || op === "+") {
      this.i++;
      const v = this.unary();
      return op === "-" ? v.neg() : v;
    }
    return this.power();
  }

  private power(): Rational {
    const base = this.postfix();
    if (this.peek() === "^") {
      this.i++;
      return base.pow(this.unary());
    }
    return base;
  }

  private postfix(): Rational {
    let v = this.primary();
    while (this.peek() === "%") {
      this.i++;
      v = v.div(new Rational(100n));
    }
    return v;
  }

  private primary(): Rational {
    const t = this.tokens[this.i];
    if (!t) throw new CalculatorError("the expression ends too early");
    if (t.kind === "num") {
      this.i++;
      return t.value;
    }
    if (t.value === "(") {
      this.i++;
      const v = this.sum();
      if (this.peek() !== ")") throw new CalculatorError(`missing ')' for the '(' at position ${t.at}`);
      this.i++;
      return v;
    }
    throw new CalculatorError(`unexpected '${t.value}' at position ${t.at}`);
  }
}

/** Evaluates an expression exactly. Throws CalculatorError with a message fit to show the model. */
export function evaluate(expression: string): Rational {
  if (expression.length > 2000) throw new CalculatorError("the expression is longer than 2000 characters");
  return new Parser(tokenize(expression)).parse();
}

export interface CalculatorResult {
  /** Exact value: an integer or a reduced fraction. */
  result: string;
  /** Decimal form (exact, or rounded and marked with "…"). */
  decimal: string;
}

export function calculate(expression: string): CalculatorResult {
  const v = evaluate(expression);
  return { result: v.toString(), decimal: v.toDecimal() };
}

/** The OpenAI tool definition for the calculator. */
export const calculatorTool = {
  name: "calculator",
  description: "Exact arithmetic: + - * / ^ (power), % (percent), parentheses, e.g. '(1/3 + 1/6) * 2^10' or '15% of 80'.",
  parameters: {
    type: "object",
    properties: { expression: { type: "string", description: "The arithmetic expression" } },
    required: ["expression"],
    additionalProperties: false,
  },
};
