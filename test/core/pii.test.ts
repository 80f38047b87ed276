// The PII masking module (issue 14 item 10) on published sample numbers: GB 11643's own example ID-card number
// 11010519491231002X and another valid one, the Visa test card 4111 1111 1111 1111 and bank sample numbers that pass
// Luhn, mainland mobiles in every common spelling, e-mails; numbers with a wrong check digit, dates, order numbers and
// numbers inside longer digit runs stay as they are.
import { test } from "node:test";
import assert from "node:assert/strict";
import { findPii, luhnValid, maskPii, maskPiiDeep, validIdCard } from "../../src/core/pii.js";

test("check digits: ID cards (ISO 7064 MOD 11-2) and bank cards (Luhn)", () => {
  assert.ok(validIdCard("11010519491231002X"));
  assert.ok(validIdCard("11010519491231002x"));
  assert.ok(validIdCard("440524188001010014"));
  assert.ok(!validIdCard("110105194912310021"));
  assert.ok(luhnValid("4111111111111111"));
  assert.ok(luhnValid("6228480402564890018"));
  assert.ok(!luhnValid("4111111111111112"));
});

test("masks mobiles, ID cards, bank cards and e-mails in mixed Chinese text", () => {
  const text = "客户张三，电话 13812345678 或 +86 139 1234 5678，身份证11010519491231002X，" +
    "卡号 6228 4804 0256 4890 018，邮箱 zhang.san@example.com.cn。";
  const masked = maskPii(text);
  for (const secret of ["13812345678", "1234 5678", "11010519491231002X", "0402564890", "zhang.san@"]) {
    assert.ok(!masked.includes(secret), `${secret} left in: ${masked}`);
  }
  assert.ok(masked.includes("138****5678"));
  assert.ok(masked.includes("+86 139 **** 5678"));
  assert.ok(masked.includes("110***********002X"));
  assert.ok(masked.includes("z***@example.com.cn"));
  assert.deepEqual(findPii(text).map((m) => m.kind), ["mobile", "mobile", "id_card", "bank_card", "email"]);
  assert.equal(maskPii("4111111111111111"), "4111********1111");
});

test("leaves look-alikes alone", () => {
  for (const s of ["order 123456789012", "2026-12-06 12:00:00", "110105194912310021", "4111111111111112",
    "12345678901", "version 1.2.3", "a@b", "1381234567890123456789 (a longer digit run)", "no digits here"]) {
    assert.equal(maskPii(s), s, s);
  }
});

test("maskPiiDeep masks strings inside objects and arrays", () => {
  const v = maskPiiDeep({ a: ["call 13812345678"], b: { c: "x@example.com", n: 13812345678 } });
  assert.deepEqual(v, { a: ["call 138****5678"], b: { c: "x***@example.com", n: 13812345678 } });
});
