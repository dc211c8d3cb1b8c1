import assert from "node:assert/strict";
import { Books } from "../../src/book/mod.ts";
import type { Trade } from "../../src/book/mod.ts";
import { assetCtxJson, DayStats, Feed, impactPxs } from "../../src/feed/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { BlockMaker, sampleBooks, trade, withServer } from "./_helpers.ts";
import { WsClient } from "../_support/ws_client.ts";
import { rng as seeded } from "../_support/rng.ts";

const DAY = 86_400_000;
const MINUTE = 60_000;

function at(coin: string, time: number, px: string, sz: string, tid: number): Trade {
  return { ...trade(coin, tid, px), sz, time };
}

/** Reference: tenths × hundredths → thousandths, summed as plain integers (the test's sizes keep them safe). */
function thousandths(px: string, sz: string): number {
  return Math.round(Number(px) * 10) * Math.round(Number(sz) * 100);
}

function fmt(units: number, decimals: number): string {
  const s = String(units).padStart(decimals + 1, "0");
  const frac = s.slice(s.length - decimals).replace(/0+$/, "");
  return `${s.slice(0, s.length - decimals)}.${frac === "" ? "0" : frac}`;
}

Deno.test("DayStats keeps a rolling 24 h window of each coin's trades, in whole minutes", async (t) => {
  await t.step("volumes and prevDayPx equal a brute-force reference over random trades and times", () => {
    const rng = seeded(11);
    const t0 = Date.UTC(2026, 0, 1);
    const stats = new DayStats();
    const all: Trade[] = [];
    let time = t0;
    for (let i = 0; i < 3000; i++) {
      time += Math.floor(rng() * 120_000); // ~2.5 days in all
      const px = (1000 + Math.floor(rng() * 9000)) / 10;
      const sz = (1 + Math.floor(rng() * 500)) / 100;
      const coin = rng() < 0.7 ? "BTC" : "ETH";
      const tr = at(coin, time, px.toFixed(1), sz.toFixed(2), i);
      all.push(tr);
      stats.add([tr]);
      if (i % 97 !== 0) continue;
      for (const c of ["BTC", "ETH"]) {
        const now = time;
        const edge = now - DAY;
        // A trade is in the window when its minute ends after the edge.
        const inWindow = all.filter((x) => x.coin === c && (Math.floor(x.time / MINUTE) + 1) * MINUTE > edge);
        const before = all.filter((x) => x.coin === c && (Math.floor(x.time / MINUTE) + 1) * MINUTE <= edge);
        const ntl = inWindow.reduce((s, x) => s + thousandths(x.px, x.sz), 0);
        const base = inWindow.reduce((s, x) => s + Math.round(Number(x.sz) * 100), 0);
        const got = stats.figures(c, now);
        assert.equal(got.dayNtlVlm, fmt(ntl, 3), `${c} ntl at ${i}`);
        assert.equal(got.dayBaseVlm, fmt(base, 2), `${c} base at ${i}`);
        assert.equal(
          got.prevDayPx,
          before.length === 0 ? null : before[before.length - 1].px,
          `${c} prev at ${i}`,
        );
      }
    }
  });

  await t.step("a backfill of older trades absorbed in front equals having seen them all in order", () => {
    const rng = seeded(5);
    const t0 = Date.UTC(2026, 0, 2);
    const trades: Trade[] = [];
    let time = t0;
    for (let i = 0; i < 2000; i++) {
      time += Math.floor(rng() * 90_000);
      const coin = ["BTC", "ETH", "@107"][Math.floor(rng() * 3)];
      trades.push(at(coin, time, (100 + Math.floor(rng() * 900) / 10).toFixed(1), "0.25", i));
    }
    // The live stream starts in the middle of a minute the backfill also has trades of.
    let split = 1000;
    while (Math.floor(trades[split - 1].time / MINUTE) !== Math.floor(trades[split].time / MINUTE)) split++;
    const all = new DayStats();
    all.add(trades);
    const live = new DayStats();
    live.add(trades.slice(split));
    const older = new DayStats();
    older.add(trades.slice(0, split));
    const v = live.version;
    live.absorbOlder(older);
    assert.notEqual(live.version, v);
    for (const now of [time, time + 3_600_000, time + DAY - 1, time + DAY + MINUTE]) {
      for (const coin of ["BTC", "ETH", "@107", "SOL"]) {
        assert.deepEqual(live.figures(coin, now), all.figures(coin, now), `${coin} at ${now}`);
      }
    }
  });

  await t.step("a coin never traded has zero volumes and no prevDayPx; version moves with trades", () => {
    const stats = new DayStats();
    assert.deepEqual(stats.figures("SOL", Date.now()), {
      prevDayPx: null,
      dayNtlVlm: "0.0",
      dayBaseVlm: "0.0",
    });
    const v = stats.version;
    stats.add([]);
    assert.equal(stats.version, v);
    stats.add([trade("SOL", 1)]);
    assert.notEqual(stats.version, v);
  });
});

Deno.test("impact prices: the level where the cumulated notional reaches 20k (BTC, ETH) or 6k USDC", () => {
  const books = new Books();
  const maker = new BlockMaker(books);
  maker.place("SOL", "B", "100.0", "30.0"); // 3,000
  maker.place("SOL", "B", "99.0", "40.0"); // 6,960 cumulated: reaches 6,000 here
  maker.place("SOL", "B", "98.0", "100.0");
  maker.place("SOL", "A", "101.0", "100.0"); // 10,100 at once
  maker.place("BTC", "B", "100.0", "150.0"); // 15,000: short of 20,000
  maker.place("BTC", "B", "90.0", "100.0"); // 24,000
  maker.place("BTC", "A", "110.0", "10.0"); // 1,100 and nothing more
  maker.apply();
  assert.deepEqual(impactPxs(books, "SOL"), ["99.0", "101.0"]);
  assert.equal(impactPxs(books, "BTC"), null, "one side too thin");
  assert.equal(impactPxs(books, "NOPE"), null);
  maker.place("BTC", "A", "120.0", "200.0");
  maker.apply();
  assert.deepEqual(impactPxs(books, "BTC"), ["90.0", "120.0"]);
});

Deno.test("asset contexts have the official keys in the official order; unknowable fields are null", () => {
  const { books } = sampleBooks();
  const day = { prevDayPx: "99.5", dayNtlVlm: "1234.5", dayBaseVlm: "12.0" };
  assert.equal(
    assetCtxJson(books, "BTC", day),
    '{"funding":null,"openInterest":null,"prevDayPx":"99.5","dayNtlVlm":"1234.5","premium":null,' +
      '"oraclePx":null,"markPx":null,"midPx":"100.5","impactPxs":null,"dayBaseVlm":"12.0"}',
  );
  assert.equal(
    assetCtxJson(books, "@107", { prevDayPx: null, dayNtlVlm: "0.0", dayBaseVlm: "0.0" }),
    '{"prevDayPx":null,"dayNtlVlm":"0.0","markPx":null,"midPx":null,"circulatingSupply":null,' +
      '"coin":"@107","totalSupply":null,"dayBaseVlm":"0.0"}',
  );
  assert.match(assetCtxJson(null, "PURR/USDC", day), /^\{"prevDayPx":"99.5",.*"coin":"PURR\/USDC"/);
});

Deno.test("activeAssetCtx: a snapshot on subscribe, then a message whenever the book or the trades change it", async (t) => {
  await withServer(async ({ feed, url }) => {
    const { books, maker } = sampleBooks();
    feed.reset(books);
    feed.state({ phase: "ready", height: books.height, time: books.time });
    const c = await WsClient.open(url);
    try {
      await t.step("subscribe: the echo, then the current context", async () => {
        c.send({ method: "subscribe", subscription: { type: "activeAssetCtx", coin: "BTC" } });
        const ack = await c.nextOn("subscriptionResponse");
        assert.deepEqual(ack.data.subscription, { type: "activeAssetCtx", coin: "BTC" });
        const first = await c.nextOn("activeAssetCtx");
        assert.equal(first.data.coin, "BTC");
        assert.equal(first.data.ctx.midPx, "100.5");
        assert.equal(first.data.ctx.dayNtlVlm, "0.0");
      });

      await t.step("a block that moves the mid sends a new context; one that does not, nothing", async () => {
        maker.place("BTC", "A", "100.5", "1.0");
        feed.block(books, maker.apply());
        const next = await c.nextOn("activeAssetCtx");
        assert.equal(next.data.ctx.midPx, "100.25");
        maker.place("ETH", "B", "10.5", "1.0");
        feed.block(books, maker.apply());
        await c.expectQuiet();
      });

      await t.step("trades add to the 24 h volumes", async () => {
        feed.trades([{ ...trade("BTC", 1, "100.0"), time: books.time }, {
          ...trade("BTC", 2, "101.0"),
          time: books.time,
        }]);
        const next = await c.nextOn("activeAssetCtx");
        assert.equal(next.data.ctx.dayNtlVlm, "301.5"); // 1.5 × 100 + 1.5 × 101
        assert.equal(next.data.ctx.dayBaseVlm, "3.0");
        feed.trades([trade("ETH", 3)]);
        await c.expectQuiet();
      });

      await t.step("a spot coin's context comes on activeSpotAssetCtx, in the spot shape", async () => {
        maker.place("@107", "B", "38.5", "10.0");
        maker.place("@107", "A", "38.6", "10.0");
        feed.block(books, maker.apply());
        c.send({ method: "subscribe", subscription: { type: "activeAssetCtx", coin: "@107" } });
        await c.nextOn("subscriptionResponse");
        const spot = await c.nextOn("activeSpotAssetCtx");
        assert.equal(spot.data.coin, "@107");
        assert.deepEqual(Object.keys(spot.data.ctx), [
          "prevDayPx",
          "dayNtlVlm",
          "markPx",
          "midPx",
          "circulatingSupply",
          "coin",
          "totalSupply",
          "dayBaseVlm",
        ]);
        assert.equal(spot.data.ctx.midPx, "38.55");
      });

      await t.step("an unknown coin is an invalid subscription", async () => {
        c.send({ method: "subscribe", subscription: { type: "activeAssetCtx", coin: "NOPE" } });
        const err = await c.nextOn("error");
        assert.equal(err.data, 'Invalid subscription {"type":"activeAssetCtx","coin":"NOPE"}');
      });
    } finally {
      await c.close();
    }
  });
});

Deno.test("Feed.assetCtx follows books, trades and the passing of time while unchanged coins are not rebuilt", () => {
  const feed = new Feed({ metrics: new Metrics() });
  const { books, maker } = sampleBooks();
  feed.reset(books);
  feed.state({ phase: "ready", height: books.height, time: books.time });
  const ctx = (coin: string) => JSON.parse(feed.assetCtx(coin));
  assert.equal(ctx("BTC").midPx, "100.5");
  assert.equal(feed.assetCtx("BTC"), feed.assetCtx("BTC"), "the same string while nothing changed");

  feed.trades([{ ...trade("BTC", 1, "100.0"), time: books.time }]);
  assert.equal(ctx("BTC").dayNtlVlm, "150.0", "trades are seen at once");

  maker.place("BTC", "B", "100.25", "1.0");
  feed.block(books, maker.apply());
  assert.equal(ctx("BTC").midPx, "100.625", "a block that changed the book is seen at once");

  // 25 h later a block touches only ETH: BTC's trade left the window, its price is now 24 h old.
  maker.place("ETH", "B", "10.25", "1.0");
  feed.block(books, { ...maker.apply(), time: books.time + 25 * 3_600_000 });
  assert.deepEqual([ctx("BTC").dayNtlVlm, ctx("BTC").prevDayPx], ["0.0", "100.0"]);

  feed.state({ phase: "resyncing", height: books.height, time: books.time });
  assert.equal(ctx("BTC").midPx, null, "no book served while re-syncing");
});
