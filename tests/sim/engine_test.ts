import assert from "node:assert/strict";
import { Books, compareBooks } from "../../src/book/mod.ts";
import type { L4Order } from "../../src/book/types.ts";
import {
  DEFAULT_COINS,
  makeCoins,
  parseUnits,
  Simulator,
  toBlockInput,
  validPrice,
} from "../../src/sim/mod.ts";

function pxUnits(sim: Simulator, coin: string, px: string): bigint {
  return parseUnits(px, sim.spec(coin)?.pxDecimals ?? 8);
}

Deno.test("the simulator's markets follow Hyperliquid's price and size rules", async (t) => {
  await t.step("the defaults include perps, a memecoin with sizes above 1e9 and two spot books", () => {
    const names = DEFAULT_COINS.map((c) => c.name);
    assert.deepEqual(names, ["BTC", "ETH", "SOL", "HYPE", "MEME", "@107", "PURR/USDC"]);
    assert.ok(DEFAULT_COINS.some((c) => c.szDecimals === 0 && c.maxSz > 1e9));
  });
  await t.step("every order price has at most 5 significant figures and legal decimals", () => {
    const sim = new Simulator({ seed: 5, coins: 30, load: 0.2 });
    for (let i = 0; i < 50; i++) sim.step();
    for (const coin of sim.coins()) {
      const spec = sim.spec(coin);
      assert.ok(spec);
      assert.ok(spec.pxDecimals <= (spec.spot ? 8 : 6) - spec.szDecimals, coin);
      for (const o of sim.l4(coin).flat()) {
        assert.ok(validPrice(spec, Number(parseUnits(o.limitPx, spec.pxDecimals))), `${coin} ${o.limitPx}`);
        parseUnits(o.sz, spec.szDecimals); // throws on excess decimals
      }
    }
  });
  await t.step("--coins N gives N distinct markets", () => {
    const coins = makeCoins(250);
    assert.equal(new Set(coins.map((c) => c.name)).size, 250);
  });
});

Deno.test("the simulator's matching keeps its book sound", async (t) => {
  const sim = new Simulator({ seed: 3, load: 0.6 });
  const blocks = Array.from({ length: 120 }, () => {
    const before = new Map(sim.coins().map((c) => [c, sim.l4(c)] as const));
    return { before, block: sim.step(), after: new Map(sim.coins().map((c) => [c, sim.l4(c)] as const)) };
  });

  await t.step("the book is never crossed after a block", () => {
    for (const { after, block } of blocks) {
      for (const [coin, [bids, asks]] of after) {
        if (bids.length && asks.length) {
          assert.ok(
            pxUnits(sim, coin, bids[0].limitPx) < pxUnits(sim, coin, asks[0].limitPx),
            `${coin} ${block.height}`,
          );
        }
      }
    }
  });

  await t.step(
    "makers fill in price-time priority: every order ahead of a maker was touched in that block",
    () => {
      let checked = 0;
      for (const { before, block } of blocks) {
        const touched = new Set(block.diffs.map((d) => d.oid));
        for (const [, fill] of block.fills) {
          if (fill.crossed) continue;
          const [bids, asks] = before.get(fill.coin) ?? [[], []];
          const side: readonly L4Order[] = fill.side === "B" ? bids : asks;
          const at = side.findIndex((o) => o.oid === fill.oid);
          if (at < 0) continue; // the maker entered in this block
          for (const ahead of side.slice(0, at)) {
            assert.ok(
              touched.has(ahead.oid),
              `${ahead.oid} ahead of ${fill.oid}`,
            );
          }
          checked++;
        }
      }
      assert.ok(checked > 10, `enough maker fills checked (${checked})`);
    },
  );

  await t.step("fills are exact: each trade's size equals the size its maker lost", () => {
    for (const { before, after, block } of blocks) {
      const lost = new Map<number, bigint>();
      for (const [, fill] of block.fills) {
        if (fill.crossed) continue;
        const dec = sim.spec(fill.coin)?.szDecimals ?? 8;
        lost.set(fill.oid, (lost.get(fill.oid) ?? 0n) + parseUnits(fill.sz, dec));
      }
      for (const [oid, sz] of lost) {
        const coin = block.fills.find(([, f]) => f.oid === oid)?.[1].coin ?? "";
        const dec = sim.spec(coin)?.szDecimals ?? 8;
        const find = (book: Map<string, readonly [readonly L4Order[], readonly L4Order[]]>) =>
          book.get(coin)?.flat().find((o) => o.oid === oid);
        const was = find(before);
        if (!was) continue;
        const now = find(after);
        const left = now ? parseUnits(now.sz, dec) : 0n;
        if (now || !block.diffs.some((d) => d.oid === oid && d.raw_book_diff === "remove")) {
          assert.equal(parseUnits(was.sz, dec) - sz, left, `maker ${oid} in block ${block.height}`);
        }
      }
    }
  });

  await t.step("flow rates look like mainnet: ~95 % of statuses are rejections", () => {
    let statuses = 0;
    let rejected = 0;
    let trades = 0;
    for (const { block } of blocks) {
      statuses += block.statuses.length;
      rejected += block.statuses.filter((s) => s.status.endsWith("Rejected")).length;
      trades += block.fills.length / 2;
    }
    assert.ok(rejected / statuses > 0.9 && rejected / statuses < 0.99, `${rejected}/${statuses}`);
    assert.ok(statuses / blocks.length > 300, "hundreds of statuses per block");
    assert.ok(trades / blocks.length > 0.1 && trades / blocks.length < 5, `${trades} trades`);
  });
});

Deno.test("src/book reproduces the simulator's book block after block", () => {
  const sim = new Simulator({ seed: 21, load: 0.5 });
  const books = Books.fromSnapshot(sim.snapshot());
  for (let i = 0; i < 200; i++) {
    const block = sim.step();
    const result = books.applyBlock(toBlockInput(block));
    assert.ok(result.ok, result.ok ? "" : `block ${block.height}: ${result.error.message}`);
    if (i % 20 === 19) {
      const mismatch = compareBooks(Books.fromSnapshot(sim.snapshot()), books);
      assert.equal(mismatch, null, mismatch?.message);
      for (const coin of sim.coins()) assert.deepEqual(books.l4(coin), sim.l4(coin), coin);
    }
  }
});

Deno.test("with a clock, block times follow it and still increase strictly by at least 1 ms", () => {
  let now = Date.UTC(2026, 4, 5, 12);
  const sim = new Simulator({ seed: 2, load: 0.05, clock: () => now });
  const same = new Simulator({ seed: 2, load: 0.05 });
  let last = 0;
  for (let i = 0; i < 30; i++) {
    if (i % 10 === 0) now += 1000; // bursts: many blocks at the same wall-clock instant
    const block = sim.step();
    assert.ok(block.time >= last + 1, `block ${block.height} at ${block.time} after ${last}`);
    assert.ok(Math.abs(block.time - now) < 100, "close to the clock");
    last = block.time;
    // the events do not depend on the clock
    assert.deepEqual(block.diffs, same.step().diffs);
  }
  assert.deepEqual(sim.l4("NOPE"), [[], []]);
});
