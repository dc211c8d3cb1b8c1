import assert from "node:assert/strict";
import { FILLS_MAX, normalizeUser, sideText, UserView } from "../../src/web/user_logic.js";

const USER = `0x${"ab".repeat(20)}`;

function order(oid: number, timestamp = oid) {
  return { coin: "BTC", side: "B" as const, limitPx: "100.0", sz: "1.0", oid, timestamp, origSz: "1.0" };
}

function update(oid: number, status: string) {
  return { order: order(oid), status, statusTimestamp: oid };
}

function fill(tid: number, time: number) {
  return { coin: "BTC", px: "100.0", sz: "0.1", side: "A" as const, time, oid: 1, tid };
}

Deno.test("an address is 0x and 40 hex digits, matched in lower case", () => {
  assert.equal(normalizeUser(`  0x${"AB".repeat(20)} `), USER);
  assert.equal(normalizeUser("0x123"), null);
  assert.equal(normalizeUser(`${"ab".repeat(21)}`), null);
  assert.equal(sideText("B"), "Buy");
  assert.equal(sideText("A"), "Sell");
});

Deno.test("order updates fold into the open orders seeded by openOrders", async (t) => {
  await t.step("updates before the seed are replayed on top of it", () => {
    const view = new UserView(USER);
    view.applyOrderUpdates([update(3, "open")]);
    view.applyOrderUpdates([update(1, "canceled")]);
    assert.equal(view.orderRows().length, 0);
    view.seedOrders([order(1), order(2)]);
    assert.deepEqual(view.orderRows().map((o) => o.oid), [3, 2]);
  });

  await t.step("open and triggered rest; filled, canceled and rejections end an order", () => {
    const view = new UserView(USER);
    view.seedOrders([]);
    view.applyOrderUpdates([update(1, "open"), update(2, "open"), update(3, "triggered"), update(4, "open")]);
    view.applyOrderUpdates([update(1, "filled"), update(2, "marginCanceled"), update(4, "badAloPxRejected")]);
    assert.deepEqual(view.orderRows().map((o) => o.oid), [3]);
  });

  await t.step("after a reconnect the next seed replaces what was known", () => {
    const view = new UserView(USER);
    view.seedOrders([order(1)]);
    view.reloadOrders();
    view.applyOrderUpdates([update(5, "open")]);
    view.seedOrders([order(2)]);
    assert.deepEqual(view.orderRows().map((o) => o.oid), [5, 2]);
  });
});

Deno.test("fills: a snapshot replaces, updates go in front, newest first, at most FILLS_MAX", () => {
  const view = new UserView(USER);
  view.applyFills({ user: USER, isSnapshot: true, fills: [fill(2, 20), fill(1, 10)] });
  view.applyFills({ user: USER, fills: [fill(3, 30), fill(4, 30)] });
  assert.deepEqual(view.fillRows().map((f) => f.tid), [3, 4, 2, 1]);
  view.applyFills({ user: `0x${"cd".repeat(20)}`, fills: [fill(9, 90)] });
  assert.equal(view.fillRows().length, 4, "another user's fills are ignored");
  view.applyFills({
    user: USER,
    fills: Array.from({ length: FILLS_MAX + 5 }, (_, i) => fill(100 + i, 100 + i)),
  });
  assert.equal(view.fillRows().length, FILLS_MAX);
  view.applyFills({ user: USER.toUpperCase().replace("0X", "0x"), isSnapshot: true, fills: [] });
  assert.deepEqual(view.fillRows(), []);
  assert.ok(view.fillsLoaded);
});
