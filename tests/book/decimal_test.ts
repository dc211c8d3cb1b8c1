import assert from "node:assert/strict";
import {
  compareSz,
  digitCount,
  formatMid,
  formatPx,
  formatSz,
  parsePx,
  parseSz,
  parseSzBytesInto,
} from "../../src/book/decimal.ts";
import { rng } from "../_support/rng.ts";

/** Reference: a decimal string → BigInt of 1e-8 units. */
function big(s: string): bigint {
  const [i, f = ""] = s.split(".");
  return BigInt(i) * 100_000_000n + BigInt((f + "00000000").slice(0, 8));
}

/** Reference: 1e-8 units (or 1e-9 with `nine`) → node-style string. */
function bigStr(v: bigint, decimals = 8): string {
  const scale = 10n ** BigInt(decimals);
  const i = v / scale;
  const f = (v % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${i}.${f === "" ? "0" : f}`;
}

/** A random node-style decimal with up to `maxInt` integer digits and up to 8 decimals. */
function randomDecimal(next: () => number, maxIntDigits: number): string {
  const intDigits = 1 + Math.floor(next() * maxIntDigits);
  let int = String(1 + Math.floor(next() * 9));
  for (let k = 1; k < intDigits; k++) int += String(Math.floor(next() * 10));
  if (next() < 0.2) int = "0";
  const nd = Math.floor(next() * 9);
  let frac = "";
  for (let k = 0; k < nd; k++) frac += String(Math.floor(next() * 10));
  frac = frac.replace(/0+$/, "");
  return `${int}.${frac === "" ? "0" : frac}`;
}

Deno.test("exact decimals", async (t) => {
  await t.step("parses and formats node-style values", () => {
    assert.equal(parsePx("81307.0"), 8130700000000);
    assert.equal(formatPx(parsePx("81307.0")), "81307.0");
    assert.equal(formatPx(parsePx("0.00033")), "0.00033");
    assert.equal(formatPx(parsePx("0")), "0.0");
    assert.equal(formatPx(parsePx("12")), "12.0");
    assert.equal(formatPx(parsePx("1.10000000000")), "1.1");
    assert.deepEqual(parseSz("1250000000.12345678"), { int: 1250000000, frac: 12345678 });
    assert.equal(formatSz(1250000000, 12345678), "1250000000.12345678");
    assert.equal(formatSz(0, 0), "0.0");
    assert.equal(formatSz(0, 1), "0.00000001");
  });

  await t.step("rejects what is not a plain decimal with at most 8 decimals", () => {
    for (
      const s of ["", ".5", "5.", "-1.0", "1e5", "1.000000001", "abc", " 1.0", "1.0.0", "1,0", "100000000.0"]
    ) {
      assert.ok(Number.isNaN(parsePx(s)), s);
    }
    for (const s of ["", ".5", "5.", "-1.0", "1e5", "1.000000001", "x"]) assert.equal(parseSz(s), null, s);
    assert.ok(Number.isNaN(parsePx(undefined as unknown as string)));
  });

  await t.step("seeded random values round-trip and sum exactly against a BigInt reference", () => {
    const next = rng(42);
    for (let round = 0; round < 2000; round++) {
      const n = 1 + Math.floor(next() * 30);
      let refSum = 0n;
      let int = 0;
      let frac = 0;
      for (let k = 0; k < n; k++) {
        const s = randomDecimal(next, 12);
        const sz = parseSz(s);
        assert.ok(sz !== null, s);
        assert.equal(formatSz(sz.int, sz.frac), s);
        refSum += big(s);
        frac += sz.frac;
        int += sz.int;
        if (frac >= 1e8) {
          frac -= 1e8;
          int += 1;
        }
        const p = randomDecimal(next, 7);
        assert.equal(BigInt(parsePx(p)), big(p), p);
        assert.equal(formatPx(parsePx(p)), p);
      }
      assert.equal(formatSz(int, frac), bigStr(refSum));
    }
  });

  await t.step("size comparison agrees with the BigInt reference", () => {
    const next = rng(7);
    for (let k = 0; k < 5000; k++) {
      const a = randomDecimal(next, 10);
      const b = next() < 0.1 ? a : randomDecimal(next, 10);
      const x = parseSz(a);
      const y = parseSz(b);
      assert.ok(x && y);
      const ref = big(a) < big(b) ? -1 : big(a) > big(b) ? 1 : 0;
      assert.equal(Math.sign(compareSz(x.int, x.frac, y.int, y.frac)), ref, `${a} vs ${b}`);
    }
  });

  await t.step("mid is the exact half-sum", () => {
    assert.equal(formatMid(parsePx("81307.0"), parsePx("81308.0")), "81307.5");
    assert.equal(formatMid(parsePx("0.00000001"), parsePx("0.00000002")), "0.000000015");
    assert.equal(formatMid(parsePx("1.0"), parsePx("3.0")), "2.0");
    const next = rng(3);
    for (let k = 0; k < 5000; k++) {
      const a = randomDecimal(next, 7);
      const b = randomDecimal(next, 7);
      assert.equal(formatMid(parsePx(a), parsePx(b)), bigStr((big(a) + big(b)) * 5n, 9), `${a} ${b}`);
    }
  });

  await t.step("digit counts are exact at powers of ten", () => {
    for (let k = 0; k < 16; k++) {
      assert.equal(digitCount(10 ** k), k + 1);
      if (k > 0) assert.equal(digitCount(10 ** k - 1), k);
    }
    assert.equal(digitCount(0), 1);
  });
});

Deno.test("sizes read from bytes are the sizes read from text", () => {
  const next = rng(99);
  const digits = "0123456789.-e x";
  const cases = [
    "0",
    "0.0",
    "1.5",
    "00.10",
    "1.",
    ".5",
    "",
    "1e5",
    "0.123456789",
    "0.123456780",
    "1000000000000000",
  ];
  for (let k = 0; k < 5000; k++) {
    const size = Math.floor(next() * 22);
    let text = "";
    for (let j = 0; j < size; j++) text += digits[Math.floor(next() * (next() < 0.8 ? 11 : digits.length))];
    cases.push(text);
  }
  let valid = 0;
  for (const text of cases) {
    const bytes = new TextEncoder().encode(`"${text}"`);
    const out = { int: -1, frac: -1 };
    const ok = parseSzBytesInto(bytes, 1, bytes.length - 1, out);
    const expected = parseSz(text);
    assert.equal(ok, expected !== null, text);
    if (expected !== null) {
      valid++;
      assert.deepEqual(out, expected, text);
    }
  }
  assert.ok(valid > 500, `${valid} valid sizes`);
});
