import assert from "node:assert/strict";
import { parseNodeTime } from "../../src/book/mod.ts";

Deno.test("node time strings convert to exact epoch milliseconds", async (t) => {
  await t.step("nine fraction digits are truncated to the millisecond", () => {
    assert.equal(parseNodeTime("2026-05-05T17:39:13.024084407"), 1778002753024);
    assert.equal(parseNodeTime("2026-05-05T17:39:13.999999999"), 1778002753999);
  });
  await t.step("zero, three and six fraction digits are accepted", () => {
    assert.equal(parseNodeTime("2026-05-05T17:39:13"), 1778002753000);
    assert.equal(parseNodeTime("2026-05-05T17:39:13.024"), 1778002753024);
    assert.equal(parseNodeTime("2026-05-05T17:39:13.024084"), 1778002753024);
  });
  await t.step("it agrees with Date.parse over a range of times", () => {
    for (let ms = 0; ms < 86_400_000 * 800; ms += 86_400_000 * 13 + 3_600_000 * 7 + 61_001) {
      const iso = new Date(1_700_000_000_000 + ms).toISOString().slice(0, 23);
      assert.equal(parseNodeTime(iso), Date.parse(iso + "Z"), iso);
    }
  });
  await t.step("leap days and month ends are checked", () => {
    assert.equal(parseNodeTime("2024-02-29T00:00:00"), Date.UTC(2024, 1, 29));
    assert.equal(parseNodeTime("2026-02-29T00:00:00"), NaN);
    assert.equal(parseNodeTime("2026-04-31T00:00:00"), NaN);
  });
  await t.step("malformed strings are rejected", () => {
    for (
      const bad of [
        "",
        "2026-05-05 17:39:13",
        "2026-05-05T17:39:13Z",
        "2026-05-05T17:39:13.02",
        "2026-05-05T17:39:13.0240844",
        "2026-05-05T24:00:00",
        "2026-13-05T17:39:13",
        "2026-05-05T17:60:13",
        "2026-05-05T17:39:1x",
        "2026-05-05T17:39:13,024",
        "2026-05-05T17:39:13.02a",
        "2026-05-05T17:39:13.5",
        "2026-05-05T17:39:13.",
        "2026-05-05",
        "x",
      ]
    ) assert.ok(Number.isNaN(parseNodeTime(bad)), bad);
  });
});
