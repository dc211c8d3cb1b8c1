import assert from "node:assert/strict";
import { InfoAnswers, Views } from "../../src/feed/mod.ts";
import { referenceLevelsJson } from "../_support/l2_reference.ts";
import { sampleBooks } from "./_helpers.ts";

const PARAMS = { nSigFigs: 2, mantissa: null, nLevels: 20 } as const;

Deno.test("info l2Book answers are the reference view at the served books, fresh after every block", () => {
  const { books, maker } = sampleBooks();
  const views = new Views();
  const info = new InfoAnswers(views, {
    info: () => ({ ok: false, status: 500, error: "not under test" }),
  });
  const request = { type: "l2Book", coin: "BTC", params: PARAMS } as const;
  const notReady = info.answer(request, null, "starting");
  assert.deepEqual(notReady, {
    ok: false,
    status: 503,
    error: "order book not ready (starting): retry shortly",
  });
  views.serve(books);
  for (let i = 0; i < 3; i++) {
    for (let repeat = 0; repeat < 2; repeat++) {
      const result = info.answer(request, books, "ready");
      assert.ok(result.ok);
      const data = JSON.parse(result.json);
      assert.equal(JSON.stringify(data.levels), referenceLevelsJson(books, "BTC", PARAMS), `block ${i}`);
      assert.equal(data.time, books.time);
    }
    maker.place("BTC", "B", `9${i}.0`, "4.0");
    views.block(books, maker.apply());
  }
});
