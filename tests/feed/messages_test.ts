import assert from "node:assert/strict";
import type { L4Order } from "../../src/book/mod.ts";
import {
  bboJson,
  errorMessage,
  l4SnapshotMessage,
  l4UpdatesMessage,
  levelsJson,
  midsJson,
  subscriptionResponse,
} from "../../src/feed/messages.ts";

const ORDER: L4Order = {
  user: "0x01",
  coin: "BTC",
  side: "B",
  limitPx: "100.0",
  sz: "1.5",
  oid: 412036241776,
  timestamp: 1778002736649,
  triggerCondition: "N/A",
  isTrigger: false,
  triggerPx: "0.0",
  isPositionTpsl: false,
  reduceOnly: true,
  orderType: "Limit",
  tif: null,
  cloid: "0xabc",
};

Deno.test("hand-built messages are valid JSON in the official shapes", async (t) => {
  await t.step("levels, bbo and mids", () => {
    const levels = [[{ px: "1.0", sz: "2.0", n: 1 }], []] as const;
    assert.deepEqual(JSON.parse(levelsJson(levels)), levels);
    assert.equal(levelsJson(levels), JSON.stringify(levels));
    assert.equal(bboJson([null, { px: "2.0", sz: "1.0", n: 3 }]), '[null,{"px":"2.0","sz":"1.0","n":3}]');
    assert.equal(midsJson(new Map([["BTC", "1.5"], ['we"ird', "2.0"]])), '{"BTC":"1.5","we\\"ird":"2.0"}');
  });

  await t.step("error texts are escaped", () => {
    assert.deepEqual(JSON.parse(errorMessage('bad "x"\n')), { channel: "error", data: 'bad "x"\n' });
    assert.deepEqual(JSON.parse(subscriptionResponse("subscribe", '{"type":"bbo","coin":"BTC"}')).data, {
      method: "subscribe",
      subscription: { type: "bbo", coin: "BTC" },
    });
  });

  await t.step("an l4 snapshot is the same whatever key order the book's orders have", () => {
    const shuffled = Object.fromEntries(Object.entries(ORDER).reverse()) as unknown as L4Order;
    const a = l4SnapshotMessage("BTC", 5, 6, [[ORDER, ORDER], [ORDER]]);
    const b = l4SnapshotMessage("BTC", 5, 6, [[shuffled, shuffled], [shuffled]]);
    assert.equal(a, b);
    const parsed = JSON.parse(a);
    assert.deepEqual(Object.keys(parsed.data.Snapshot), ["coin", "time", "height", "levels"]);
    assert.deepEqual(Object.keys(parsed.data.Snapshot.levels[0][0]), Object.keys(ORDER));
    assert.deepEqual(parsed.data.Snapshot.levels[0][0], ORDER);
  });

  await t.step("l4 updates carry the node events as they came", () => {
    const msg = JSON.parse(l4UpdatesMessage(1, 2, [], [{
      user: "0x01",
      oid: 3,
      coin: "BTC",
      side: "A",
      px: "1.0",
      raw_book_diff: "remove",
    }]));
    assert.deepEqual(Object.keys(msg.data.Updates), ["time", "height", "order_statuses", "book_diffs"]);
    assert.equal(msg.data.Updates.book_diffs[0].raw_book_diff, "remove");
  });
});
