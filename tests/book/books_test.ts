import assert from "node:assert/strict";
import {
  type BlockInput,
  type BookDiffEvent,
  Books,
  compareBooks,
  type OrderStatusEvent,
} from "../../src/book/mod.ts";
import { newDiff, nodeOrder, removeDiff, status, updateDiff } from "./_gen.ts";

/** The books the block helpers build the next height for. */
let current = new Books();
function fresh(): Books {
  current = new Books();
  return current;
}
function block(statuses: OrderStatusEvent[], diffs: BookDiffEvent[], h = current.height + 1): BlockInput {
  return { height: h, time: 1778002753024, statuses, diffs };
}

/** A block that opens one order per spec. */
function openBlock(specs: { oid: number; side: "B" | "A"; px: string; sz: string; insertBefore?: number }[]) {
  return block(
    specs.map((s) => status("open", nodeOrder({ oid: s.oid, side: s.side, limitPx: s.px, sz: s.sz }))),
    specs.map((s) => newDiff(s)),
  );
}

function oids(books: Books, coin = "BTC"): [number[], number[]] {
  const [b, a] = books.l4(coin);
  return [b.map((o) => o.oid), a.map((o) => o.oid)];
}

Deno.test("Books applies node blocks", async (t) => {
  await t.step("a new order rests at the diff's px and size, at the back of its level", () => {
    const books = fresh();
    const r = books.applyBlock(openBlock([
      { oid: 1, side: "B", px: "100.0", sz: "1.5" },
      { oid: 2, side: "B", px: "100.0", sz: "0.25" },
      { oid: 3, side: "A", px: "101.0", sz: "3.0" },
    ]));
    assert.ok(r.ok);
    assert.deepEqual(oids(books), [[1, 2], [3]]);
    assert.deepEqual(books.bbo("BTC"), [{ px: "100.0", sz: "1.75", n: 2 }, { px: "101.0", sz: "3.0", n: 1 }]);
    assert.equal(books.mid("BTC"), "100.5");
    assert.equal(books.orderCount(), 3);
    assert.deepEqual(r.diff.coins.get("BTC")?.levels, [
      { side: "B", px: "100.0", sz: "1.75", n: 2 },
      { side: "A", px: "101.0", sz: "3.0", n: 1 },
    ]);
  });

  await t.step("the resting px is the diff's px, not the status limitPx", () => {
    const books = fresh();
    const r = books.applyBlock(block(
      [status("open", nodeOrder({ oid: 1, side: "B", limitPx: "105.0", sz: "2.0" }))],
      [newDiff({ oid: 1, side: "B", px: "100.0", sz: "1.0" })],
    ));
    assert.ok(r.ok);
    const [[o]] = books.l4("BTC");
    assert.equal(o.limitPx, "105.0");
    assert.equal(o.sz, "1.0");
    assert.deepEqual(books.bbo("BTC")[0], { px: "100.0", sz: "1.0", n: 1 });
  });

  await t.step("insertBefore queues the order immediately before the named order", () => {
    const books = fresh();
    books.applyBlock(openBlock([
      { oid: 1, side: "A", px: "10.0", sz: "1.0" },
      { oid: 2, side: "A", px: "10.0", sz: "1.0" },
      { oid: 3, side: "A", px: "10.0", sz: "1.0" },
    ]));
    const r = books.applyBlock(openBlock([
      { oid: 4, side: "A", px: "10.0", sz: "1.0", insertBefore: 2 },
      { oid: 5, side: "A", px: "10.0", sz: "1.0", insertBefore: 1 },
    ]));
    assert.ok(r.ok);
    assert.deepEqual(oids(books)[1], [5, 1, 4, 2, 3]);
  });

  await t.step("insertBefore naming an order at another price is an error", () => {
    const books = fresh();
    books.applyBlock(openBlock([{ oid: 1, side: "A", px: "10.0", sz: "1.0" }]));
    const r = books.applyBlock(openBlock([{ oid: 2, side: "A", px: "11.0", sz: "1.0", insertBefore: 1 }]));
    assert.ok(!r.ok);
    assert.equal(r.error.kind, "badInsertBefore");
    assert.equal(r.error.oid, 2);
    assert.equal(r.error.coin, "BTC");
    const r2 = books.applyBlock(openBlock([{ oid: 2, side: "A", px: "10.0", sz: "1.0", insertBefore: 99 }]));
    assert.ok(!r2.ok);
    assert.equal(r2.error.kind, "badInsertBefore");
  });

  await t.step("update keeps the order's priority and checks origSz exactly", () => {
    const books = fresh();
    books.applyBlock(openBlock([
      { oid: 1, side: "B", px: "10.0", sz: "1.0" },
      { oid: 2, side: "B", px: "10.0", sz: "2.0" },
    ]));
    const r = books.applyBlock(
      block([], [updateDiff({ oid: 1, side: "B", px: "10.0", origSz: "1.00", newSz: "0.4" })]),
    );
    assert.ok(r.ok);
    assert.deepEqual(oids(books)[0], [1, 2]);
    assert.deepEqual(books.bbo("BTC")[0], { px: "10.0", sz: "2.4", n: 2 });
    const bad = books.applyBlock(
      block([], [updateDiff({ oid: 1, side: "B", px: "10.0", origSz: "0.5", newSz: "0.1" })]),
    );
    assert.ok(!bad.ok);
    assert.equal(bad.error.kind, "sizeMismatch");
    assert.equal(bad.error.oid, 1);
  });

  await t.step("a zero-size order stays until removed but never counts in L2, n or the BBO", () => {
    const books = fresh();
    books.applyBlock(openBlock([
      { oid: 1, side: "B", px: "10.0", sz: "1.0" },
      { oid: 2, side: "B", px: "9.0", sz: "2.0" },
    ]));
    const r = books.applyBlock(
      block([], [updateDiff({ oid: 1, side: "B", px: "10.0", origSz: "1.0", newSz: "0.0" })]),
    );
    assert.ok(r.ok);
    assert.deepEqual(r.diff.coins.get("BTC")?.levels, [{ side: "B", px: "10.0", sz: "0.0", n: 0 }]);
    assert.equal(books.orderCount(), 2);
    assert.deepEqual(books.bbo("BTC")[0], { px: "9.0", sz: "2.0", n: 1 });
    assert.deepEqual(books.l2("BTC", { nSigFigs: null, mantissa: null, nLevels: 5 })[0], [{
      px: "9.0",
      sz: "2.0",
      n: 1,
    }]);
    assert.equal(books.l4("BTC")[0][0].sz, "0.0");
    assert.ok(books.applyBlock(block([], [removeDiff({ oid: 1, side: "B", px: "10.0" })])).ok);
    assert.equal(books.orderCount(), 1);
  });

  await t.step("the same oid can be new and removed in one block", () => {
    const books = fresh();
    const r = books.applyBlock(block(
      [status("open", nodeOrder({ oid: 7, side: "A", limitPx: "5.0", sz: "1.0" }))],
      [newDiff({ oid: 7, side: "A", px: "5.0", sz: "1.0" }), removeDiff({ oid: 7, side: "A", px: "5.0" })],
    ));
    assert.ok(r.ok);
    assert.equal(books.orderCount(), 0);
    assert.deepEqual(r.diff.coins.get("BTC")?.levels, [{ side: "A", px: "5.0", sz: "0.0", n: 0 }]);
  });

  await t.step("a triggered order is converted on entry", () => {
    const books = fresh();
    const trig = nodeOrder({
      oid: 9,
      side: "A",
      limitPx: "50.0",
      sz: "1.0",
      isTrigger: true,
      triggerPx: "51.0",
      triggerCondition: "Price below 51",
      tif: null,
      orderType: "Stop Limit",
      timestamp: 1,
    });
    const r = books.applyBlock(block(
      [status("triggered", trig, { time: "2026-05-05T17:39:13.024084407" })],
      [newDiff({ oid: 9, side: "A", px: "50.5", sz: "1.0" })],
    ));
    assert.ok(r.ok);
    const [, [o]] = books.l4("BTC");
    assert.equal(o.timestamp, 1778002753024);
    assert.equal(o.isTrigger, false);
    assert.equal(o.triggerPx, "0.0");
    assert.equal(o.triggerCondition, "Triggered");
    assert.equal(o.tif, "Gtc");
    assert.equal(o.orderType, "Stop Limit");
    assert.equal(books.bbo("BTC")[1]?.px, "50.5");
  });

  await t.step("open statuses of IOC and trigger orders do not insert", () => {
    for (
      const o of [
        nodeOrder({ oid: 1, side: "B", limitPx: "1.0", sz: "1.0", tif: "Ioc" }),
        nodeOrder({ oid: 1, side: "B", limitPx: "1.0", sz: "1.0", isTrigger: true, tif: null }),
      ]
    ) {
      const books = fresh();
      const r = books.applyBlock(
        block([status("open", o)], [newDiff({ oid: 1, side: "B", px: "1.0", sz: "1.0" })]),
      );
      assert.ok(!r.ok);
      assert.equal(r.error.kind, "newWithoutStatus");
    }
  });

  await t.step("HIP-2 and Assistance-Fund orders enter without a status", () => {
    const books = fresh();
    const hip2 = "0xffffffffffffffffffffffffffffffffffffffff";
    const r = books.applyBlock({
      height: 5,
      time: 1778002753999,
      statuses: [],
      diffs: [newDiff({ oid: 3, side: "B", px: "0.001", sz: "100.0", coin: "@107", user: hip2 })],
    });
    assert.ok(r.ok);
    const [[o]] = books.l4("@107");
    assert.deepEqual(o, {
      user: hip2,
      coin: "@107",
      side: "B",
      limitPx: "0.001",
      sz: "100.0",
      oid: 3,
      timestamp: 1778002753999,
      triggerCondition: "N/A",
      isTrigger: false,
      triggerPx: "0.0",
      isPositionTpsl: false,
      reduceOnly: false,
      orderType: "Limit",
      tif: "Alo",
      cloid: null,
    });
    assert.deepEqual(books.coins(), ["@107"]);
  });

  await t.step("inconsistencies are typed errors naming coin, oid and block", () => {
    const books = fresh();
    books.applyBlock(openBlock([{ oid: 1, side: "B", px: "10.0", sz: "1.0" }]));
    const h = books.height;
    const cases: [BlockInput, string][] = [
      [block([], [removeDiff({ oid: 2, side: "B", px: "10.0" })], h + 1), "unknownOrder"],
      [
        block([], [updateDiff({ oid: 2, side: "B", px: "10.0", origSz: "1.0", newSz: "0.5" })], h + 1),
        "unknownOrder",
      ],
      [block([], [newDiff({ oid: 2, side: "B", px: "10.0", sz: "1.0" })], h + 1), "newWithoutStatus"],
      [openBlock([{ oid: 1, side: "B", px: "10.0", sz: "1.0" }]), "duplicateOrder"],
      [block([], [removeDiff({ oid: 1, side: "B", px: "11.0" })], h + 1), "unknownOrder"],
      [block([], [removeDiff({ oid: 1, side: "A", px: "10.0" })], h + 1), "unknownOrder"],
      [
        block([], [updateDiff({ oid: 1, side: "B", px: "10.0", origSz: "1.0", newSz: "x" })], h + 1),
        "badValue",
      ],
      [
        block([status("open", nodeOrder({ oid: 3, side: "B", limitPx: "1", sz: "1" }))], [
          newDiff({ oid: 3, side: "B", px: "1.000000001", sz: "1.0" }),
        ], h + 1),
        "badValue",
      ],
      [block([], [], h + 2), "heightMismatch"],
      [block([], [], h), "heightMismatch"],
    ];
    for (const [b, kind] of cases) {
      const r = books.applyBlock(b);
      assert.ok(!r.ok, kind);
      assert.equal(r.error.kind, kind);
      assert.equal(r.error.block, b.height);
      if (kind !== "heightMismatch") {
        assert.equal(r.error.coin, "BTC");
        assert.equal(typeof r.error.oid, "number");
        assert.match(r.error.message, /BTC oid \d+/);
      }
      assert.equal(books.height, h);
      assert.equal(books.orderCount(), 1);
    }
  });

  await t.step("a failing block leaves the books exactly as before", () => {
    const books = fresh();
    books.applyBlock(openBlock([
      { oid: 1, side: "B", px: "10.0", sz: "1.0" },
      { oid: 2, side: "B", px: "10.0", sz: "2.0" },
      { oid: 3, side: "B", px: "9.0", sz: "2.0" },
      { oid: 4, side: "A", px: "11.0", sz: "2.0" },
    ]));
    const before = books.clone();
    const snap = JSON.stringify(books.toSnapshot());
    const r = books.applyBlock(block(
      [
        status("open", nodeOrder({ oid: 5, side: "B", limitPx: "10.0", sz: "1.0" })),
        status("open", nodeOrder({ oid: 6, side: "A", limitPx: "1.0", sz: "1.0", coin: "ETH" })),
      ],
      [
        removeDiff({ oid: 1, side: "B", px: "10.0" }),
        removeDiff({ oid: 3, side: "B", px: "9.0" }),
        newDiff({ oid: 5, side: "B", px: "10.0", sz: "1.0", insertBefore: 2 }),
        updateDiff({ oid: 2, side: "B", px: "10.0", origSz: "2.0", newSz: "0.0" }),
        removeDiff({ oid: 2, side: "B", px: "10.0" }),
        newDiff({ oid: 6, side: "A", px: "1.0", sz: "1.0", coin: "ETH" }),
        removeDiff({ oid: 4, side: "A", px: "11.0" }),
        removeDiff({ oid: 99, side: "A", px: "11.0" }),
      ],
    ));
    assert.ok(!r.ok);
    assert.equal(r.error.oid, 99);
    assert.equal(JSON.stringify(books.toSnapshot()), snap);
    assert.equal(compareBooks(before, books), null);
    assert.deepEqual(books.coins(), ["BTC"]);
    assert.deepEqual(books.bbo("BTC"), [{ px: "10.0", sz: "3.0", n: 2 }, { px: "11.0", sz: "2.0", n: 1 }]);
    assert.deepEqual(oids(books), [[1, 2, 3], [4]]);
  });

  await t.step("the diff lists every coin with an event, with the same event objects", () => {
    const books = fresh();
    const rejected = status(
      "badAloPxRejected",
      nodeOrder({ oid: 8, side: "B", limitPx: "1.0", sz: "1.0", coin: "ETH" }),
    );
    const b = openBlock([{ oid: 1, side: "B", px: "10.0", sz: "1.0" }]);
    const r = books.applyBlock({ ...b, statuses: [...b.statuses, rejected] });
    assert.ok(r.ok);
    assert.deepEqual([...r.diff.coins.keys()], ["BTC", "ETH"]);
    const eth = r.diff.coins.get("ETH");
    assert.equal(eth?.statuses[0], rejected);
    assert.deepEqual(eth?.levels, []);
    assert.equal(r.diff.coins.get("BTC")?.diffs[0], b.diffs[0]);
    assert.equal(r.diff.time, b.time);
    assert.equal(books.time, b.time);
    assert.ok(!books.has("ETH"));
  });

  await t.step("a level emptied and refilled in one block is listed once, where it was refilled", () => {
    const books = fresh();
    assert.ok(books.applyBlock(openBlock([{ oid: 1, side: "B", px: "100.0", sz: "1.0" }])).ok);
    const r = books.applyBlock(block(
      [
        status("open", nodeOrder({ oid: 2, side: "A", limitPx: "101.0", sz: "2.0" })),
        status("open", nodeOrder({ oid: 3, side: "B", limitPx: "100.0", sz: "3.0" })),
      ],
      [
        removeDiff({ oid: 1, side: "B", px: "100.0" }),
        newDiff({ oid: 2, side: "A", px: "101.0", sz: "2.0" }),
        newDiff({ oid: 3, side: "B", px: "100.0", sz: "3.0" }),
      ],
    ));
    assert.ok(r.ok);
    assert.deepEqual(r.diff.coins.get("BTC")?.levels, [
      { side: "A", px: "101.0", sz: "2.0", n: 1 },
      { side: "B", px: "100.0", sz: "3.0", n: 1 },
    ]);
    // Emptied for good: listed at its first touch, and gone from every view.
    const r2 = books.applyBlock(block([], [
      removeDiff({ oid: 3, side: "B", px: "100.0" }),
      updateDiff({ oid: 2, side: "A", px: "101.0", origSz: "2.0", newSz: "1.0" }),
    ]));
    assert.ok(r2.ok);
    assert.deepEqual(r2.diff.coins.get("BTC")?.levels, [
      { side: "B", px: "100.0", sz: "0.0", n: 0 },
      { side: "A", px: "101.0", sz: "1.0", n: 1 },
    ]);
    assert.deepEqual(books.l2("BTC", { nSigFigs: null, mantissa: null, nLevels: 10 }), [[], [
      { px: "101.0", sz: "1.0", n: 1 },
    ]]);
    assert.deepEqual(books.bbo("BTC"), [null, { px: "101.0", sz: "1.0", n: 1 }]);
  });

  await t.step("many emptied levels are dropped between blocks and never show", () => {
    const books = fresh();
    const specs = Array.from(
      { length: 200 },
      (_, i) => ({ oid: i + 1, side: "B" as const, px: `${i + 1}.0`, sz: "1.0" }),
    );
    assert.ok(books.applyBlock(openBlock(specs)).ok);
    const r = books.applyBlock(block([], specs.slice(1).map((s) => removeDiff(s))));
    assert.ok(r.ok);
    assert.equal(r.diff.coins.get("BTC")?.levels.length, 199);
    assert.deepEqual(books.l2("BTC", { nSigFigs: null, mantissa: null, nLevels: 10 })[0], [
      { px: "1.0", sz: "1.0", n: 1 },
    ]);
    assert.deepEqual(books.bbo("BTC")[0], { px: "1.0", sz: "1.0", n: 1 });
    assert.deepEqual(oids(books.clone()), [[1], []]);
    assert.equal(books.toSnapshot()[1][0][1][0].length, 1);
  });

  await t.step(
    "a level refilled with another spelling of its px takes that spelling; a failure restores it",
    () => {
      const books = fresh();
      assert.ok(books.applyBlock(openBlock([{ oid: 1, side: "B", px: "100.0", sz: "1.0" }])).ok);
      const before = books.clone();
      // Refilled as "100", then a bad event: everything is undone.
      const bad = books.applyBlock(block(
        [status("open", nodeOrder({ oid: 2, side: "B", limitPx: "100", sz: "2.0" }))],
        [
          removeDiff({ oid: 1, side: "B", px: "100.0" }),
          newDiff({ oid: 2, side: "B", px: "100", sz: "2.0" }),
          removeDiff({ oid: 99, side: "B", px: "100" }),
        ],
      ));
      assert.ok(!bad.ok);
      assert.equal(compareBooks(before, books), null);
      assert.deepEqual(books.bbo("BTC")[0], { px: "100.0", sz: "1.0", n: 1 });
      const r = books.applyBlock(block(
        [status("open", nodeOrder({ oid: 2, side: "B", limitPx: "100", sz: "2.0" }))],
        [
          removeDiff({ oid: 1, side: "B", px: "100.0" }),
          newDiff({ oid: 2, side: "B", px: "100", sz: "2.0" }),
        ],
      ));
      assert.ok(r.ok);
      assert.deepEqual(r.diff.coins.get("BTC")?.levels, [{ side: "B", px: "100", sz: "2.0", n: 1 }]);
      assert.deepEqual(books.bbo("BTC")[0], { px: "100", sz: "2.0", n: 1 });
    },
  );
});
