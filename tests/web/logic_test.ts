import assert from "node:assert/strict";
import {
  backoffDelay,
  buildDepth,
  buildLadder,
  coinLabel,
  decimalsOf,
  depthAt,
  depthOutline,
  formatAge,
  formatClock,
  formatClockMs,
  formatDecimal,
  formatLag,
  formatPrice,
  formatSize,
  groupDigits,
  l2Subscription,
  l2ViewKey,
  L4Book,
  LEVEL_CHOICES,
  niceTicks,
  padDecimals,
  parseDecimal,
  PRECISIONS,
  priceDecimals,
  pushTrades,
  shortUser,
  sortCoins,
  spotNames,
  statusView,
  subscriptionKey,
  withQueue,
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

  await t.step("a triggered order is timed by its block, which is its status time", () => {
    const book = new L4Book(snapshot());
    book.applyUpdates({
      time: Date.UTC(2026, 4, 5, 17, 39, 13, 24),
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
  await t.step("the levels control sets nLevels; the default is left to the server", () => {
    assert.deepEqual(LEVEL_CHOICES, [10, 20, 50, 100]);
    assert.equal("nLevels" in l2Subscription("BTC", "full", 20), false);
    assert.equal(l2Subscription("BTC", "full", 50).nLevels, 50);
    assert.notEqual(l2ViewKey(l2Subscription("BTC", "full", 50)), l2ViewKey(l2Subscription("BTC", "full")));
    assert.equal(
      l2ViewKey({ ...l2Subscription("BTC", "full", 50), nSigFigs: null }),
      l2ViewKey(l2Subscription("BTC", "full", 50)),
    );
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
  await t.step("trade times keep their milliseconds", () => {
    assert.equal(formatClockMs(Date.UTC(2026, 0, 1, 7, 5, 9, 42), true), "07:05:09.042");
  });
});

Deno.test("sizes and prices are readable and exact", async (t) => {
  await t.step("thousands separators, no spurious .0", () => {
    assert.equal(groupDigits("1234567"), "1,234,567");
    assert.equal(formatPrice("81308.0"), "81,308");
    assert.equal(formatPrice("0.00033"), "0.00033");
    assert.equal(formatPrice("1234.5", 2), "1,234.50");
    assert.equal(formatPrice("-1234.0"), "-1,234");
    assert.equal(formatSize("2.0"), "2");
    assert.equal(formatSize("12345.6"), "12,345.6");
    assert.equal(formatSize("99999.99"), "99,999.99");
  });
  await t.step("a column lines up on the decimals its values need", () => {
    assert.equal(priceDecimals(["81308.0", "81307.5", "1.25"]), 2);
    assert.equal(priceDecimals(["81308.0", "81307.0"]), 0);
    assert.equal(formatSize("0.5", 5), "0.50000");
    assert.equal(formatSize("2.0", 0), "2");
  });
  await t.step("large sizes in K, M and B, three significant digits, rounded down", () => {
    assert.equal(formatSize("123456.0"), "123K");
    assert.equal(formatSize("999999.0"), "999K");
    assert.equal(formatSize("1000000.0"), "1M");
    assert.equal(formatSize("1234567.0"), "1.23M");
    assert.equal(formatSize("12345678.9"), "12.3M");
    assert.equal(formatSize("4500000000.0"), "4.5B");
    assert.equal(formatSize("1999999999.0"), "1.99B");
  });
});

Deno.test("spot markets are shown by their pair names where known", async (t) => {
  const meta = {
    tokens: [{ name: "USDC", index: 0 }, { name: "PURR", index: 1 }, { name: "HYPE", index: 150 }],
    universe: [{ name: "PURR/USDC", tokens: [1, 0], index: 0 }, {
      name: "@107",
      tokens: [150, 0],
      index: 107,
    }],
  };
  await t.step("spotMeta names each @index pair", () => {
    const names = spotNames(meta);
    assert.equal(names.get("@107"), "HYPE/USDC");
    assert.equal(coinLabel("@107", names), "HYPE/USDC (@107)");
    assert.equal(coinLabel("PURR/USDC", names), "PURR/USDC");
    assert.equal(coinLabel("BTC", names), "BTC");
  });
  await t.step("without spotMeta the known mainnet names are used, others stay as the API names them", () => {
    assert.equal(coinLabel("@107"), "HYPE/USDC (@107)");
    assert.equal(coinLabel("@9999"), "@9999");
    assert.equal(spotNames({ error: "nope" }).size, 0);
    assert.equal(spotNames({ tokens: [], universe: [{ name: "@1", tokens: [5, 0] }] }).size, 0);
  });
});

Deno.test("the depth chart cumulates each side outwards from the mid", async (t) => {
  const ladder = buildLadder([
    [{ px: "99.0", sz: "1.0", n: 1 }, { px: "98.0", sz: "2.0", n: 1 }, { px: "90.0", sz: "1.0", n: 2 }],
    [{ px: "101.0", sz: "0.5", n: 1 }, { px: "102.0", sz: "0.5", n: 1 }],
  ]);
  const depth = buildDepth(ladder);
  await t.step("points are cumulative and the axis is centred on the mid", () => {
    assert.deepEqual(depth.bids.map((p) => [p.px, p.cum]), [[99, 1], [98, 3], [90, 4]]);
    assert.deepEqual(depth.asks.map((p) => [p.px, p.cum]), [[101, 0.5], [102, 1]]);
    assert.equal(depth.mid, 100);
    assert.deepEqual([depth.lo, depth.hi, depth.maxCum], [90, 110, 4]);
  });
  await t.step("the outline steps up from the axis and stays inside the box", () => {
    const box = { width: 200, height: 100 };
    const bids = depthOutline(depth.bids, depth, box);
    assert.deepEqual(bids[0], [90, 100]);
    assert.deepEqual(bids.at(-1), [0, 100]);
    const ys = bids.map(([, y]) => y);
    assert.equal(Math.min(...ys), 0, "the deepest point reaches the top");
    for (const [x, y] of [...bids, ...depthOutline(depth.asks, depth, box)]) {
      assert.ok(x >= 0 && x <= 200 && y >= 0 && y <= 100, `${x},${y} inside`);
    }
    const asks = depthOutline(depth.asks, depth, box);
    assert.deepEqual(asks.at(-1), [200, 100]);
    assert.deepEqual(depthOutline([], depth, box), []);
  });
  await t.step("under the pointer: the side and the size swept from the best level to that price", () => {
    assert.deepEqual(depthAt(depth, 98.5), { side: "B", cum: 1, levels: 1 });
    assert.deepEqual(depthAt(depth, 98), { side: "B", cum: 3, levels: 2 });
    assert.deepEqual(depthAt(depth, 99.5), { side: "B", cum: 0, levels: 0 });
    assert.deepEqual(depthAt(depth, 101.5), { side: "A", cum: 0.5, levels: 1 });
    assert.deepEqual(depthAt(depth, 150), { side: "A", cum: 1, levels: 2 });
    assert.equal(depthAt(buildDepth(buildLadder([[{ px: "1.0", sz: "1.0", n: 1 }], []])), 1), null);
  });
  await t.step("an empty book still has an axis", () => {
    const empty = buildDepth(buildLadder([[], []]));
    assert.ok(empty.hi > empty.lo);
    assert.equal(empty.maxCum, 0);
  });
  await t.step("axis ticks are round and written as plain decimals", () => {
    assert.deepEqual(niceTicks(90, 110, 4).map((t) => t.text), ["90", "95", "100", "105", "110"]);
    assert.deepEqual(niceTicks(0, 0.0000004, 2).map((t) => t.text), ["0.0000000", "0.0000002", "0.0000004"]);
    assert.deepEqual(niceTicks(5, 5, 3), []);
  });
});

Deno.test("the L4 panel gives each order its place in the queue at its price", () => {
  const order = (oid: number, px: string, sz: string) => ({
    user: "0x1",
    oid,
    side: /** @type {"B"} */ ("B" as const),
    px,
    sz,
    timestamp: 0,
  });
  const rows = withQueue([order(1, "99.0", "1.0"), order(2, "99.0", "2.5"), order(3, "98.0", "1.0")]);
  assert.deepEqual(rows.map((r) => [r.oid, r.queue, r.queueOf, r.ahead]), [
    [1, 1, 2, "0.0"],
    [2, 2, 2, "1.0"],
    [3, 1, 1, "0.0"],
  ]);
});

Deno.test("the page writes wire data as text only, never as HTML", async () => {
  for (const file of ["app.js", "logic.js", "index.html", "user_logic.js", "user_panel.js"]) {
    const text = await Deno.readTextFile(new URL(`../../src/web/${file}`, import.meta.url));
    assert.doesNotMatch(
      text,
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/,
      file,
    );
  }
});

Deno.test("the status bar tells the connection and the feed apart", async (t) => {
  const health = (phase: string, reason: string | null = null) => ({
    phase,
    height: 985148181,
    lagMs: 420,
    reason,
  });
  await t.step("connected and the feed ready: the ladder is current", () => {
    const view = statusView({ conn: "live", retryInMs: 0, health: health("ready") });
    assert.deepEqual({ ...view, phaseTitle: undefined }, {
      connText: "connected",
      phase: "ready",
      phaseText: "live",
      phaseTitle: undefined,
      heightText: "#985,148,181",
      lagText: "lag 420 ms",
      live: true,
    });
  });
  await t.step("a connected page can show a stale or re-syncing feed, with the server's reason", () => {
    const stale = statusView({
      conn: "live",
      retryInMs: 0,
      health: health("stale", "node wrote nothing for 9 s"),
    });
    assert.deepEqual([stale.connText, stale.phaseText, stale.live], ["connected", "stale", false]);
    assert.match(stale.phaseTitle, /node wrote nothing for 9 s/);
    const resync = statusView({ conn: "live", retryInMs: 0, health: health("resyncing") });
    assert.equal(resync.phaseText, "re-syncing");
    assert.equal(resync.live, false);
  });
  await t.step("a lost connection counts down, and the feed is unknown, not 'stale'", () => {
    const view = statusView({ conn: "reconnecting", retryInMs: 2100, health: health("ready") });
    assert.equal(view.connText, "reconnecting in 3s");
    assert.deepEqual([view.phase, view.phaseText, view.live], ["unknown", "–", false]);
    assert.match(view.phaseTitle, /Not connected/);
    assert.equal(statusView({ conn: "reconnecting", retryInMs: -5, health: null }).connText, "reconnecting");
  });
  await t.step("without health the height and lag are unknown", () => {
    const view = statusView({ conn: "live", retryInMs: 0, health: null });
    assert.deepEqual([view.phase, view.heightText, view.lagText], ["unknown", "#–", "lag –"]);
  });
});
