import assert from "node:assert/strict";
import { type BookDiff, Books, type Coin, type L2Params } from "../../src/book/mod.ts";
import { subscriptionKey, Views, type ViewSubscription } from "../../src/feed/mod.ts";
import type { BlockOutput } from "../../src/link/mod.ts";
import { big, referenceL2, str } from "../_support/l2_reference.ts";
import { rng } from "../_support/rng.ts";
import { applyL4Updates, BlockMaker, RandomMarket, sampleBooks, trade } from "./_helpers.ts";

/**
 * The views are checked against an independent model: the reference L2 (tests/_support/l2_reference.ts) for
 * every l2Book parameter set, bbo and allMids, the node's events for l4Book (replayed on a mirror book), and
 * the trades themselves. The expected texts are the wire's messages (docs/protocol.md) of the reference content,
 * present exactly when the reference content changed since the view last produced one.
 */

function levelsText(levels: ReturnType<typeof referenceL2>): string {
  return JSON.stringify(levels);
}

/** The reference content of a view (what changes decide whether a message is due), or null when none. */
function referenceContent(books: Books, sub: ViewSubscription): string | null {
  switch (sub.type) {
    case "l2Book":
      return levelsText(referenceL2(books, sub.coin, sub.params));
    case "bbo": {
      const [bids, asks] = referenceL2(books, sub.coin, { nSigFigs: null, mantissa: null, nLevels: 1 });
      return JSON.stringify([bids[0] ?? null, asks[0] ?? null]);
    }
    case "allMids": {
      const mids: Record<string, string> = {};
      for (const coin of [...books.coins()].sort()) {
        const [bids, asks] = referenceL2(books, coin, { nSigFigs: null, mantissa: null, nLevels: 1 });
        if (bids[0] && asks[0]) mids[coin] = str((big(bids[0].px) + big(asks[0].px)) / 2n);
      }
      return JSON.stringify(mids);
    }
    default:
      return null;
  }
}

/** The message the wire carries for a view's content (docs/protocol.md). */
function referenceMessage(sub: ViewSubscription, time: number, content: string): string {
  switch (sub.type) {
    case "l2Book":
      return JSON.stringify({
        channel: "l2Book",
        data: { coin: sub.coin, time, levels: JSON.parse(content) },
      });
    case "bbo":
      return JSON.stringify({ channel: "bbo", data: { coin: sub.coin, time, bbo: JSON.parse(content) } });
    case "allMids":
      return JSON.stringify({ channel: "allMids", data: { mids: JSON.parse(content) } });
    default:
      throw new Error(`no reference message for ${sub.type}`);
  }
}

/** Key → text of an output's messages (every key at most once). */
function byKey(messages: BlockOutput["views"]): Map<string, string> {
  const map = new Map<string, string>();
  for (const [key, text] of messages) {
    assert.ok(!map.has(key), `${key} twice in one output`);
    map.set(key, text);
  }
  return map;
}

/** Messages compared as parsed JSON, so key order inside objects is the only freedom. */
function sameMessage(got: string | undefined, want: string, where: string): void {
  assert.ok(got !== undefined, `${where}: no message, want ${want}`);
  assert.deepEqual(JSON.parse(got), JSON.parse(want), where);
}

const PARAMS: L2Params[] = [
  { nSigFigs: null, mantissa: null, nLevels: 20 },
  { nSigFigs: null, mantissa: null, nLevels: 3 },
  { nSigFigs: 2, mantissa: null, nLevels: 20 },
  { nSigFigs: 3, mantissa: null, nLevels: 2 },
  { nSigFigs: 4, mantissa: null, nLevels: 20 },
  { nSigFigs: 5, mantissa: null, nLevels: 5 },
  { nSigFigs: 5, mantissa: 2, nLevels: 20 },
  { nSigFigs: 5, mantissa: 5, nLevels: 3 },
];

function allSubscriptions(coins: readonly Coin[]): ViewSubscription[] {
  const subs: ViewSubscription[] = [{ type: "allMids", dex: "" }];
  for (const coin of coins) {
    for (const params of PARAMS) subs.push({ type: "l2Book", coin, params });
    subs.push({ type: "bbo", coin }, { type: "l4Book", coin }, { type: "trades", coin });
  }
  return subs;
}

function runProperty(seed: number, blocks: number): void {
  const random = rng(seed);
  const books = new Books();
  const maker = new BlockMaker(books);
  const coins = ["HYPE", "SOL", "ETH"];
  const market = new RandomMarket(maker, random, { HYPE: 3000, SOL: 15000, ETH: 250_000 });
  market.fill(20);
  maker.apply();
  const views = new Views();
  views.serve(books);
  const all = allSubscriptions(coins);
  /** Watched key → the subscription and the reference content the views last produced (or the baseline). */
  const watched = new Map<string, { sub: ViewSubscription; last: string | null }>();
  const mirrors = new Map<Coin, { books: Books; updates: string[] }>();
  let tid = 1;

  for (let b = 0; b < blocks; b++) {
    // Views come and go between blocks; a new view's baseline is the book at the time it is watched.
    for (let k = 0; k < 3; k++) {
      const sub = all[Math.floor(random() * all.length)];
      const key = subscriptionKey(sub);
      if (watched.has(key)) {
        views.unwatch(key);
        watched.delete(key);
        if (sub.type === "l4Book") mirrors.delete(sub.coin);
      } else {
        views.watch({ kind: "watch", key, subscription: sub });
        watched.set(key, { sub, last: referenceContent(books, sub) });
        if (sub.type === "l4Book") {
          mirrors.set(sub.coin, { books: Books.fromSnapshot(books.toSnapshot()), updates: [] });
        }
      }
    }
    market.step(random() < 0.2 ? 0 : 1 + Math.floor(random() * 4));
    const diff: BookDiff = maker.apply();
    const output = views.block(books, diff);
    const where = `seed ${seed} block ${b}`;
    assert.equal(output.height, diff.height, where);
    assert.equal(output.time, diff.time, where);
    const got = byKey(output.views);
    for (const [key, w] of watched) {
      if (w.sub.type === "l4Book" || w.sub.type === "trades") continue;
      const content = referenceContent(books, w.sub);
      if (content === w.last || content === null) {
        assert.ok(!got.has(key), `${where}: ${key} unchanged but produced`);
        continue;
      }
      sameMessage(got.get(key), referenceMessage(w.sub, diff.time, content), `${where}: ${key}`);
      w.last = content;
      got.delete(key);
    }
    assert.deepEqual([...got.keys()], [], `${where}: messages of views nobody watches (or unchanged)`);

    // l4Book: an Updates message per watched coin with events; replayed, the mirror equals the book.
    const l4 = byKey(output.l4);
    for (const coin of coins) {
      const key = subscriptionKey({ type: "l4Book", coin });
      const mirror = mirrors.get(coin);
      const events = diff.coins.get(coin);
      const due = mirror !== undefined && events !== undefined &&
        (events.statuses.length > 0 || events.diffs.length > 0);
      assert.equal(l4.has(key), due, `${where}: l4Book ${coin} produced iff watched with events`);
      if (mirror === undefined) continue;
      const text = l4.get(key);
      if (text !== undefined) applyL4Updates(mirror.books, [text]);
      const mirrored = mirror.books.l4(coin).map((side) => side.map((o) => [o.oid, o.limitPx, o.sz]));
      const truth = books.l4(coin).map((side) => side.map((o) => [o.oid, o.limitPx, o.sz]));
      assert.deepEqual(mirrored, truth, `${where}: l4Book ${coin} mirror`);
    }

    // Trades: one message per watched coin that traded, with that coin's trades in order.
    const trades = Array.from({ length: Math.floor(random() * 4) }, () => {
      const coin = coins[Math.floor(random() * coins.length)];
      return trade(coin, tid++, market.px(coin, "B"));
    });
    const traded = byKey(views.trades(trades).queued);
    for (const coin of coins) {
      const key = subscriptionKey({ type: "trades", coin });
      const mine = trades.filter((t) => t.coin === coin);
      if (!watched.has(key) || mine.length === 0) {
        assert.ok(!traded.has(key), `${where}: trades ${coin} produced but not due`);
        continue;
      }
      const data = JSON.parse(traded.get(key) ?? "null").data as { tid: number; coin: string }[];
      assert.deepEqual(
        data.map((t) => [t.coin, t.tid]),
        mine.map((t) => [t.coin, t.tid]),
        `${where}: trades`,
      );
    }
  }
}

Deno.test(
  "each block's output holds exactly the watched views it changed, as the reference computes them (seeded, random blocks and subscriptions)",
  () => {
    for (let seed = 1; seed <= 10; seed++) runProperty(seed, 80);
  },
);

Deno.test("a view's first message is its content at the served books; none while no books are served", () => {
  const { books, maker } = sampleBooks();
  const views = new Views();
  const sub: ViewSubscription = { type: "l2Book", coin: "BTC", params: PARAMS[0] };
  const key = subscriptionKey(sub);
  views.watch({ kind: "watch", key, subscription: sub });
  assert.equal(views.snapshot(key), null, "no books served yet");
  views.serve(books);
  const content = referenceContent(books, sub) ?? "";
  sameMessage(views.snapshot(key) ?? undefined, referenceMessage(sub, books.time, content), "snapshot");
  // The snapshot is the next block's baseline: a block that does not touch BTC produces nothing for it.
  maker.place("ETH", "B", "9.0", "1.0");
  assert.deepEqual(views.block(books, maker.apply()).views.filter(([k]) => k === key), []);
  views.pause();
  assert.equal(views.snapshot(key), null, "paused");
  maker.place("BTC", "B", "100.0", "1.0");
  assert.deepEqual(views.block(books, maker.apply()).views, [], "paused: no output");
  views.unwatch(key);
  views.serve(books);
  assert.equal(views.snapshot(key), null, "unwatched");
});
