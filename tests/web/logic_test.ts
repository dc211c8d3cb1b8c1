import assert from "node:assert/strict";
import {
  backoffDelay,
  buildLadder,
  decimalsOf,
  formatAge,
  formatClock,
  formatDecimal,
  formatLag,
  l2Subscription,
  l2ViewKey,
  L4Book,
  padDecimals,
  parseDecimal,
  parseNodeTime,
  PRECISIONS,
  pushTrades,
  shortUser,
  sortCoins,
  statusView,
  subscriptionKey,
} from "../../src/web/logic.js";

Deno.test("decimals stay exact through parse and format", async (t) => {
  await t.step("node-style strings round-trip", () => {
    for (const text of ["81308.0", "0.00033", "1000000000.5", "0.00000001", "-3.25"]) {
      assert.equal(formatDecimal(parseDecimal(text)), text);
    }
  });
  await t.step("integers gain one decimal, trailing zeros go", () => {
    assert.equal(formatDecimal(parseDecimal("42")), "42.0");
    assert.equal(formatDecimal(parseDecimal("1.2500")), "1.25");
    assert.equal(formatDecimal(parseDecimal("0.1") + parseDecimal("0.2")), "0.3");
  });
  await t.step("garbage is rejected with the text in the message", () => {
    assert.throws(() => parseDecimal("1e5"), /not a decimal: "1e5"/);
    assert.throws(() => parseDecimal("0.12345678901"), /more than 10 decimals/);
  });
  await t.step("padding lines columns up without cutting digits", () => {
    assert.equal(padDecimals("81308.0", 2), "81308.00");
    assert.equal(padDecimals("5", 2), "5.00");
    assert.equal(padDecimals("0.12345", 2), "0.12345");
    assert.equal(decimalsOf("0.00033"), 5);
    assert.equal(decimalsOf("7"), 0);
  });
});

Deno.test("the ladder accumulates depth exactly and finds spread and mid", async (t) => {
  const levels = [
    [{ px: "100.0", sz: "0.1", n: 1 }, { px: "99.5", sz: "0.2", n: 2 }, { px: "99.0", sz: "0.7", n: 3 }],
    [{ px: "101.0", sz: "0.3", n: 1 }, { px: "102.0", sz: "0.25", n: 4 }],
  ] as const;
  const ladder = buildLadder(levels);
  await t.step("cumulative sizes have no float error", () => {
    assert.deepEqual(ladder.bids.map((r) => r.cum), ["0.1", "0.3", "1.0"]);
    assert.deepEqual(ladder.asks.map((r) => r.cum), ["0.3", "0.55"]);
  });
  await t.step("depth is relative to the deepest side", () => {
    assert.deepEqual(ladder.bids.map((r) => r.depth), [0.1, 0.3, 1]);
    assert.deepEqual(ladder.asks.map((r) => r.depth), [0.3, 0.55]);
  });
  await t.step("mid and spread are exact, the spread also in basis points", () => {
    assert.equal(ladder.mid, "100.5");
    assert.equal(ladder.spread, "1.0");
    assert.equal(ladder.spreadBps, "99.50");
    assert.equal(ladder.pxDecimals, 1);
    assert.equal(ladder.szDecimals, 2);
  });
  await t.step("a mid between ticks gains a digit", () => {
    const odd = buildLadder([[{ px: "81307.0", sz: "1.0", n: 1 }], [{ px: "81308.0", sz: "1.0", n: 1 }]]);
    assert.equal(odd.mid, "81307.5");
    assert.equal(odd.spreadBps, "0.12");
  });
  await t.step("a one-sided book has no mid", () => {
    const oneSided = buildLadder([[{ px: "1.0", sz: "2.0", n: 1 }], []]);
    assert.equal(oneSided.mid, null);
    assert.equal(oneSided.spread, null);
    assert.equal(oneSided.bids[0].depth, 1);
  });
});

function order(user: string, oid: number, side: "B" | "A", px: string, sz: string, timestamp = 1000) {
  return {
    user,
    coin: "BTC",
    side,
    limitPx: px,
    sz,
    oid,
    timestamp,
    triggerCondition: "N/A",
    isTrigger: false,
    triggerPx: "0.0",
    isPositionTpsl: false,
    reduceOnly: false,
    orderType: "Limit",
    tif: "Alo",
    cloid: null,
  };
}

function snapshot() {
  return {
    coin: "BTC",
    time: 1000,
    height: 10,
    levels: [
      [
        order("0xa", 1, "B", "100.0", "1.0"),
        order("0xb", 2, "B", "100.0", "2.0"),
        order("0xc", 3, "B", "99.0", "3.0"),
      ],
      [order("0xd", 4, "A", "101.0", "1.5"), order("0xe", 5, "A", "102.0", "0.5")],
    ] as const,
  };
}

function newDiff(oid: number, side: "B" | "A", px: string, sz: string, insertBefore?: number) {
  return {
    user: `0x${oid}`,
    oid,
    coin: "BTC",
    side,
    px,
    raw_book_diff: { new: insertBefore === undefined ? { sz } : { sz, insertBefore } },
  };
}

function statusOf(
  oid: number,
  side: "B" | "A",
  px: string,
  status: string,
  extra: Record<string, unknown> = {},
) {
  return {
    time: "2026-05-05T17:39:13.024084407",
    user: `0x${oid}`,
    status,
    order: { ...order(`0x${oid}`, oid, side, px, "1.0", 1778002753024), ...extra },
  };
}

const oids = (orders: { oid: number }[]) => orders.map((o) => o.oid);

Deno.test("the L4 book follows Snapshot then Updates", async (t) => {
  await t.step("the snapshot keeps priority order within a level", () => {
    const book = new L4Book(snapshot());
    assert.equal(book.size, 5);
    assert.deepEqual(oids(book.ordersBetween("B", null, null)), [1, 2, 3]);
    assert.deepEqual(oids(book.ordersBetween("A", null, null)), [4, 5]);
  });

  await t.step("a new order enters at the back, with its status timestamp", () => {
    const book = new L4Book(snapshot());
    const outcome = book.applyUpdates({
      time: 2000,
      height: 11,
      order_statuses: [statusOf(6, "B", "100.0", "open")],
      book_diffs: [newDiff(6, "B", "100.0", "0.4")],
    });
    assert.deepEqual(outcome, { ok: true });
    const orders = book.ordersBetween("B", parseDecimal("100"), parseDecimal("100"));
    assert.deepEqual(oids(orders), [1, 2, 6]);
    assert.equal(orders[2].timestamp, 1778002753024);
    assert.equal(orders[2].sz, "0.4");
  });

  await t.step("insertBefore queues a new order ahead of the named one", () => {
    const book = new L4Book(snapshot());
    book.applyUpdates({
      time: 2000,
      height: 11,
      order_statuses: [statusOf(7, "B", "100.0", "open")],
      book_diffs: [newDiff(7, "B", "100.0", "0.4", 2)],
    });
    assert.deepEqual(oids(book.ordersBetween("B", null, null)), [1, 7, 2, 3]);
  });

  await t.step("an order without a status gets the block time", () => {
    const book = new L4Book(snapshot());
    book.applyUpdates({
      time: 2500,
      height: 11,
      order_statuses: [],
      book_diffs: [newDiff(8, "A", "101.0", "1.0")],
    });
    const orders = book.ordersBetween("A", null, parseDecimal("101"));
    assert.deepEqual(oids(orders), [4, 8]);
    assert.equal(orders[1].timestamp, 2500);
  });

  await t.step("a triggered order is timed by its status time", () => {
    const book = new L4Book(snapshot());
    book.applyUpdates({
      time: 2500,
      height: 11,
      order_statuses: [statusOf(9, "A", "103.0", "triggered", { isTrigger: true, tif: null })],
      book_diffs: [newDiff(9, "A", "103.0", "1.0")],
    });
    assert.equal(book.orders.get(9)?.timestamp, Date.UTC(2026, 4, 5, 17, 39, 13, 24));
  });

  await t.step("update changes size in place, remove deletes, zero sizes are hidden", () => {
    const book = new L4Book(snapshot());
    book.applyUpdates({
      time: 2000,
      height: 11,
      order_statuses: [],
      book_diffs: [
        {
          user: "0xa",
          oid: 1,
          coin: "BTC",
          side: "B",
          px: "100.0",
          raw_book_diff: { update: { origSz: "1.0", newSz: "0.0" } },
        },
        {
          user: "0xb",
          oid: 2,
          coin: "BTC",
          side: "B",
          px: "100.0",
          raw_book_diff: { update: { origSz: "2.0", newSz: "1.5" } },
        },
        { user: "0xc", oid: 3, coin: "BTC", side: "B", px: "99.0", raw_book_diff: "remove" },
      ],
    });
    assert.equal(book.size, 4);
    const bids = book.ordersBetween("B", null, null);
    assert.deepEqual(oids(bids), [2]);
    assert.equal(bids[0].sz, "1.5");
    assert.equal(book.levels.B.has(parseDecimal("99").toString()), false);
  });

  await t.step("diffs of other coins and old heights are ignored", () => {
    const book = new L4Book(snapshot());
    const outcome = book.applyUpdates({
      time: 2000,
      height: 11,
      order_statuses: [],
      book_diffs: [{ ...newDiff(1, "B", "5.0", "1.0"), coin: "ETH" }],
    });
    assert.deepEqual(outcome, { ok: true });
    assert.deepEqual(
      book.applyUpdates({
        time: 0,
        height: 10,
        order_statuses: [],
        book_diffs: [newDiff(1, "B", "1.0", "1.0")],
      }),
      { ok: true },
    );
    assert.equal(book.size, 5);
  });

  await t.step("an inconsistent diff is reported so the page can re-fetch", () => {
    const remove = { user: "0x", oid: 99, coin: "BTC", side: "B", px: "1.0", raw_book_diff: "remove" };
    const cases = [
      [remove, /remove of unknown order 99/],
      [newDiff(1, "B", "100.0", "1.0"), /new for resting order 1/],
      [newDiff(50, "B", "99.0", "1.0", 1), /insertBefore 1 not resting at 99.0/],
      [
        { ...remove, raw_book_diff: { update: { origSz: "1.0", newSz: "2.0" } } },
        /update of unknown order 99/,
      ],
    ] as const;
    for (const [diff, reason] of cases) {
      const outcome = new L4Book(snapshot()).applyUpdates({
        time: 2000,
        height: 11,
        order_statuses: [],
        book_diffs: [diff],
      });
      assert.equal(outcome.ok, false);
      assert.match(outcome.ok ? "" : outcome.reason, reason);
    }
  });
});

Deno.test("a clicked L2 level maps to the orders behind it", async (t) => {
  const book = new L4Book({
    coin: "BTC",
    time: 0,
    height: 1,
    levels: [
      [
        order("0x1", 1, "B", "100.7", "1.0"),
        order("0x2", 2, "B", "100.2", "1.0"),
        order("0x3", 3, "B", "99.9", "1.0"),
        order("0x4", 4, "B", "98.0", "1.0"),
      ],
      [
        order("0x5", 5, "A", "101.1", "1.0"),
        order("0x6", 6, "A", "101.9", "1.0"),
        order("0x7", 7, "A", "103.0", "1.0"),
      ],
    ],
  });
  await t.step("at full precision a level is one price", () => {
    const bids = [{ px: "100.7", sz: "1.0", n: 1 }, { px: "100.2", sz: "1.0", n: 1 }, {
      px: "99.9",
      sz: "1.0",
      n: 1,
    }];
    assert.deepEqual(oids(book.levelOrders("B", bids, 1)), [2]);
  });
  await t.step("bid buckets round down: a bucket holds prices up to the next better level", () => {
    const bids = [{ px: "100.0", sz: "2.0", n: 2 }, { px: "99.0", sz: "1.0", n: 1 }, {
      px: "98.0",
      sz: "1.0",
      n: 1,
    }];
    assert.deepEqual(oids(book.levelOrders("B", bids, 0)), [1, 2]);
    assert.deepEqual(oids(book.levelOrders("B", bids, 1)), [3]);
    assert.deepEqual(oids(book.levelOrders("B", bids, 2)), [4]);
  });
  await t.step("ask buckets round up: a bucket holds prices above the next better level", () => {
    const asks = [{ px: "102.0", sz: "2.0", n: 2 }, { px: "103.0", sz: "1.0", n: 1 }];
    assert.deepEqual(oids(book.levelOrders("A", asks, 0)), [5, 6]);
    assert.deepEqual(oids(book.levelOrders("A", asks, 1)), [7]);
  });
});

Deno.test("subscriptions, precision and reconnect helpers", async (t) => {
  await t.step("every precision choice maps to nSigFigs and mantissa", () => {
    assert.deepEqual(PRECISIONS.map((p) => p.key), ["full", "5", "5m2", "5m5", "4", "3", "2"]);
    assert.deepEqual(l2Subscription("BTC", "5m2"), { type: "l2Book", coin: "BTC", nSigFigs: 5, mantissa: 2 });
    assert.deepEqual(l2Subscription("BTC", "full"), {
      type: "l2Book",
      coin: "BTC",
      nSigFigs: null,
      mantissa: null,
    });
    assert.deepEqual(l2Subscription("ETH", "nonsense"), l2Subscription("ETH", "full"));
  });
  await t.step("subscription keys ignore key order and null members", () => {
    assert.equal(
      subscriptionKey({ type: "l2Book", coin: "BTC", nSigFigs: null }),
      subscriptionKey({ coin: "BTC", type: "l2Book" }),
    );
    assert.notEqual(
      subscriptionKey({ type: "trades", coin: "BTC" }),
      subscriptionKey({ type: "trades", coin: "ETH" }),
    );
  });
  await t.step("an l2Book echo with added defaults still names the same view", () => {
    const sent = l2Subscription("BTC", "5m2");
    assert.equal(l2ViewKey({ ...sent, nLevels: 20 }), l2ViewKey(sent));
    assert.equal(l2ViewKey({ type: "l2Book", coin: "BTC" }), l2ViewKey(l2Subscription("BTC", "full")));
    assert.notEqual(l2ViewKey(sent), l2ViewKey(l2Subscription("BTC", "5")));
    assert.equal(l2ViewKey({ type: "trades", coin: "BTC" }), null);
  });
  await t.step("backoff grows exponentially, is capped and jittered", () => {
    assert.deepEqual([0, 1, 2, 3].map((a) => backoffDelay(a, 0)), [250, 500, 1000, 2000]);
    assert.equal(backoffDelay(30, 0), 8000);
    assert.equal(backoffDelay(0, 0.999), 312);
  });
  await t.step("coins: perps by name, then spot by index", () => {
    assert.deepEqual(sortCoins(["@107", "ETH", "PURR/USDC", "BTC", "@2"]), [
      "BTC",
      "ETH",
      "PURR/USDC",
      "@2",
      "@107",
    ]);
  });
});

Deno.test("the trades tape keeps the newest first without duplicates", () => {
  const trade = (tid: number, side: "B" | "A") => ({
    coin: "BTC",
    side,
    px: "1.0",
    sz: "2.0",
    time: tid,
    tid,
  });
  let tape = pushTrades([], [trade(1, "B"), trade(2, "A")], 3);
  assert.deepEqual(tape.map((t) => t.tid), [2, 1]);
  tape = pushTrades(tape, [trade(2, "A"), trade(3, "B"), trade(4, "B")], 3);
  assert.deepEqual(tape.map((t) => t.tid), [4, 3, 2]);
});

Deno.test("formatting for display", async (t) => {
  await t.step("users are shortened", () => {
    assert.equal(shortUser("0x4f23a1b2c3d4e5f60718293a4b5c6d7e8f901a65"), "0x4f23…1a65");
    assert.equal(shortUser("0xabc"), "0xabc");
  });
  await t.step("ages are compact", () => {
    assert.deepEqual(
      [-5, 0, 42_000, 305_000, 3 * 3600_000 + 120_000, 4 * 86400_000 + 3600_000].map(formatAge),
      [
        "0s",
        "0s",
        "42s",
        "5m 5s",
        "3h 2m",
        "4d 1h",
      ],
    );
  });
  await t.step("clock and lag", () => {
    assert.equal(formatClock(Date.UTC(2026, 0, 1, 7, 5, 9), true), "07:05:09");
    assert.equal(formatLag(120.4), "120 ms");
    assert.equal(formatLag(2450), "2.5 s");
    assert.equal(formatLag(null), "–");
  });
  await t.step("node times parse to milliseconds with any fraction length", () => {
    assert.equal(parseNodeTime("2026-05-05T17:39:13"), Date.UTC(2026, 4, 5, 17, 39, 13));
    assert.equal(parseNodeTime("2026-05-05T17:39:13.5"), Date.UTC(2026, 4, 5, 17, 39, 13, 500));
    assert.ok(Number.isNaN(parseNodeTime("yesterday")));
  });
});

Deno.test("the page writes wire data as text only, never as HTML", async () => {
  for (const file of ["app.js", "logic.js", "index.html"]) {
    const text = await Deno.readTextFile(new URL(`../../src/web/${file}`, import.meta.url));
    assert.doesNotMatch(
      text,
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/,
      file,
    );
  }
});

Deno.test("the status bar tells ready, stale, re-syncing and offline apart", async (t) => {
  const health = (phase: string) => ({ phase, height: 985148181, lagMs: 420 });
  await t.step("live and ready: the ladder is current", () => {
    assert.deepEqual(statusView({ conn: "live", retryInMs: 0, health: health("ready") }), {
      connText: "live",
      phase: "ready",
      phaseText: "ready",
      heightText: "#985148181",
      lagText: "lag 420 ms",
      live: true,
    });
  });
  await t.step("stale and re-syncing are shown and mark the ladder as not current", () => {
    const stale = statusView({ conn: "live", retryInMs: 0, health: health("stale") });
    assert.equal(stale.phaseText, "stale");
    assert.equal(stale.live, false);
    const resync = statusView({ conn: "live", retryInMs: 0, health: health("resyncing") });
    assert.equal(resync.phaseText, "re-syncing");
    assert.equal(resync.live, false);
  });
  await t.step("a lost connection counts down to the next attempt", () => {
    const view = statusView({ conn: "reconnecting", retryInMs: 2100, health: health("ready") });
    assert.equal(view.connText, "reconnecting in 3s");
    assert.equal(view.phase, "offline");
    assert.equal(view.live, false);
    assert.equal(statusView({ conn: "reconnecting", retryInMs: -5, health: null }).connText, "reconnecting");
  });
  await t.step("without health the height and lag are unknown", () => {
    const view = statusView({ conn: "live", retryInMs: 0, health: null });
    assert.deepEqual([view.phase, view.heightText, view.lagText], ["unknown", "#–", "lag –"]);
  });
});
