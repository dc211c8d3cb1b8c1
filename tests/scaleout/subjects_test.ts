/**
 * View keys ↔ NATS subjects: one to one, and every subject a valid, wildcard-free NATS subject, checked on the
 * coin names that break naive layouts and on random keys (any code point, empty parts, separators).
 */
import assert from "node:assert/strict";
import { decodeToken, encodeToken, typeWildcard, viewKeyOf, viewSubject } from "../../src/scaleout/mod.ts";
import { rng } from "../_support/rng.ts";

/** NATS's rules for a literal subject: dot-separated non-empty tokens of printable ASCII, no `*`, `>` or spaces. */
function validLiteralSubject(subject: string): boolean {
  return subject.split(".").every((token) =>
    token.length > 0 && /^[\x21-\x7e]+$/.test(token) && !/[*>]/.test(token)
  );
}

Deno.test("coins that are not subject tokens as they are get a readable, reversible token", () => {
  const cases: [string, string][] = [
    ["l2Book\u0000BTC\u00005\u0000null\u000020", "hlbook.v1.l2Book.BTC.5.null.20"],
    ["trades\u0000PURR/USDC", "hlbook.v1.trades.PURR~2FUSDC"],
    ["l4Book\u0000@107", "hlbook.v1.l4Book.~40107"],
    ["bbo\u0000xyz:TSLA", "hlbook.v1.bbo.xyz~3ATSLA"],
    ["allMids\u0000", "hlbook.v1.allMids.~"],
    ["trades\u0000A.B*C>D E~", "hlbook.v1.trades.A~2EB~2AC~3ED~20E~7E"],
    ["candle\u0000kPEPE\u00001m", "hlbook.v1.candle.kPEPE.1m"],
  ];
  for (const [key, subject] of cases) {
    assert.equal(viewSubject(key), subject);
    assert.equal(viewKeyOf(subject), key);
  }
  assert.equal(typeWildcard("trades"), "hlbook.v1.trades.>");
});

Deno.test("subjects of random keys are valid NATS subjects and decode to the same key", () => {
  const next = rng(7);
  const pick = (n: number) => Math.floor(next() * n);
  const alphabet = [
    "A",
    "z",
    "0",
    "_",
    "-",
    ".",
    "*",
    ">",
    " ",
    "~",
    "/",
    ":",
    "@",
    "é",
    "😀",
    "\t",
    "\u0001",
  ];
  for (let i = 0; i < 2000; i++) {
    const parts: string[] = [];
    for (let p = 1 + pick(5); p > 0; p--) {
      let part = "";
      for (let c = pick(6); c > 0; c--) {
        part += next() < 0.7 ? alphabet[pick(alphabet.length)] : String.fromCodePoint(1 + pick(0xd7ff));
      }
      parts.push(part);
    }
    const key = parts.join("\u0000");
    const subject = viewSubject(key);
    assert.ok(validLiteralSubject(subject), `${JSON.stringify(key)} → ${subject}`);
    assert.equal(viewKeyOf(subject), key);
  }
});

Deno.test("a token has one spelling: other spellings and foreign subjects are refused", () => {
  assert.equal(decodeToken(encodeToken("BTC")), "BTC");
  assert.equal(decodeToken("~42TC"), null, "an escaped plain byte");
  assert.equal(decodeToken("~2f"), null, "lower-case hex");
  assert.equal(decodeToken("~2"), null, "a cut escape");
  assert.equal(decodeToken("~FF"), null, "not UTF-8");
  assert.equal(decodeToken("a/b"), null, "an unescaped byte");
  assert.equal(viewKeyOf("other.v1.trades.BTC"), null);
  assert.equal(viewKeyOf("hlbook.v1.trades..BTC"), null);
});
