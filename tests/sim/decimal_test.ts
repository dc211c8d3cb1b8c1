import assert from "node:assert/strict";
import { formatNodeTime, formatUnits, hourlyPath, parseUnits } from "../../src/sim/mod.ts";

Deno.test("scaled integers format in the node's decimal style", async (t) => {
  await t.step("at least one decimal, trailing zeros trimmed", () => {
    assert.equal(formatUnits(81308, 0), "81308.0");
    assert.equal(formatUnits(0, 0), "0.0");
    assert.equal(formatUnits(0, 5), "0.0");
    assert.equal(formatUnits(33, 5), "0.00033");
    assert.equal(formatUnits(18007, 5), "0.18007");
    assert.equal(formatUnits(18040, 5), "0.1804");
    assert.equal(formatUnits(100, 2), "1.0");
    assert.equal(formatUnits(4512, 6), "0.004512");
  });
  await t.step("negatives, big sizes and bigints are exact", () => {
    assert.equal(formatUnits(-29602, 5), "-0.29602");
    assert.equal(formatUnits(-7, 0), "-7.0");
    assert.equal(formatUnits(6_000_000_000, 0), "6000000000.0");
    assert.equal(formatUnits(123456789012345678901234567890n, 8), "1234567890123456789012.3456789");
    assert.equal(formatUnits(-10n, 6), "-0.00001");
  });
  await t.step("parseUnits is its inverse and refuses excess decimals", () => {
    for (
      const [text, dec] of [["81308.0", 0], ["0.00033", 5], ["-0.29602", 5], ["6000000000.0", 0]] as const
    ) {
      assert.equal(formatUnits(parseUnits(text, dec), dec), text);
    }
    assert.throws(() => parseUnits("0.123", 2));
  });
});

Deno.test("node times keep nanoseconds and name their hourly file", () => {
  const ns = BigInt(Date.UTC(2026, 4, 5, 7, 39, 13, 24)) * 1_000_000n + 84_407n;
  assert.equal(formatNodeTime(ns), "2026-05-05T07:39:13.024084407");
  assert.equal(hourlyPath("2026-05-05T07:39:13.024084407"), "20260505/7");
  assert.equal(hourlyPath("2026-12-31T23:59:59.999999999"), "20261231/23");
});
