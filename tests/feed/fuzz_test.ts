import assert from "node:assert/strict";
import { Books } from "../../src/book/mod.ts";
import type { L2Params } from "../../src/book/mod.ts";
import { type Client, type ClientSink, Feed } from "../../src/feed/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { rng } from "../_support/rng.ts";
import { BlockMaker, RandomMarket } from "./_helpers.ts";
import { referenceLevelsJson } from "../_support/l2_reference.ts";

class Sink implements ClientSink {
  /** The latest l2Book message. */
  l2: string | null = null;
  bufferedAmount = 0;
  send(text: string): void {
    if (text.startsWith('{"channel":"l2Book"')) this.l2 = text;
  }
  close(): void {}
}

const VIEWS: { nSigFigs?: number; mantissa?: number; nLevels?: number }[] = [
  {},
  { nLevels: 3 },
  { nLevels: 5 },
  { nSigFigs: 2 },
  { nSigFigs: 3 },
  { nSigFigs: 3, nLevels: 2 },
  { nSigFigs: 4 },
  { nSigFigs: 5 },
  { nSigFigs: 5, nLevels: 2 },
  { nSigFigs: 5, mantissa: 2 },
  { nSigFigs: 5, mantissa: 2, nLevels: 3 },
  { nSigFigs: 5, mantissa: 5 },
];

function paramsOf(v: (typeof VIEWS)[number]): L2Params {
  return { nSigFigs: v.nSigFigs ?? null, mantissa: v.mantissa ?? null, nLevels: v.nLevels ?? 20 } as L2Params;
}

interface Sub {
  readonly sink: Sink;
  readonly client: Client;
  readonly coin: string;
  readonly view: (typeof VIEWS)[number];
}

function latestL2(sink: Sink): string | null {
  return sink.l2 === null ? null : JSON.stringify(JSON.parse(sink.l2).data.levels);
}

function runFuzz(seed: number, blocks: number): void {
  const random = rng(seed);
  const metrics = new Metrics();
  const feed = new Feed({ metrics });
  let books = new Books();
  const maker = new BlockMaker(books);
  const apply = () => {
    const result = books.applyBlock(maker.next());
    if (!result.ok) throw new Error(result.error.message);
    return result.diff;
  };
  const coins = ["HYPE", "SOL"];
  // prices around a mid with 1e-2 ticks; 5 significant digits at most
  const market = new RandomMarket(maker, random, { HYPE: 3000, SOL: 15000 });
  market.fill(30);
  apply();
  feed.reset(books);
  feed.state({ phase: "ready", height: books.height, time: books.time });

  let subs: Sub[] = [];
  const join = (coin: string, view: (typeof VIEWS)[number]) => {
    const sink = new Sink();
    const client = feed.attach(sink, { maxSubscriptions: 10, maxBuffered: 1 << 30 });
    feed.handle(
      client,
      JSON.stringify({ method: "subscribe", subscription: { type: "l2Book", coin, ...view } }),
    );
    subs.push({ sink, client, coin, view });
  };
  for (const coin of coins) {
    for (const view of VIEWS) {
      for (let k = 0; k < 2; k++) join(coin, view);
    }
  }
  const SLOW = 512 * 1024 * 1024; // over the soft threshold (128 MiB here), under maxBuffered
  // The reference view of each (coin, view) at the state being checked, computed once per check.
  const expected = new Map<string, string>();
  const reference = (coin: string, view: (typeof VIEWS)[number]) => {
    const key = `${coin} ${JSON.stringify(view)}`;
    let levels = expected.get(key);
    if (levels === undefined) {
      levels = referenceLevelsJson(books, coin, paramsOf(view));
      expected.set(key, levels);
    }
    return levels;
  };
  const check = (where: string) => {
    expected.clear();
    for (const s of subs) {
      if (s.sink.bufferedAmount > 0) continue;
      const want = reference(s.coin, s.view);
      const got = latestL2(s.sink);
      assert.equal(got, want, `seed ${seed} ${where}: ${s.coin} ${JSON.stringify(s.view)}`);
    }
  };
  const checkInfo = (where: string) => {
    expected.clear();
    for (const coin of coins) {
      for (const view of VIEWS) {
        const params = paramsOf(view);
        const result = feed.info({ type: "l2Book", coin, params });
        assert.ok(result.ok);
        const want = reference(coin, view);
        assert.equal(
          JSON.stringify(JSON.parse(result.json).levels),
          want,
          `seed ${seed} ${where}: info ${coin}`,
        );
      }
    }
  };
  check("start");
  for (let b = 0; b < blocks; b++) {
    // slow clients come and go
    for (const s of subs) {
      const r = random();
      if (r < 0.05) s.sink.bufferedAmount = SLOW;
      else if (r < 0.15) s.sink.bufferedAmount = 0;
    }
    // clients leave and join (views die and are re-created)
    if (random() < 0.2) {
      const gone = subs[Math.floor(random() * subs.length)];
      feed.detach(gone.client);
      subs = subs.filter((s) => s !== gone);
    }
    if (random() < 0.2) {
      join(coins[Math.floor(random() * coins.length)], VIEWS[Math.floor(random() * VIEWS.length)]);
    }
    const r = random();
    if (r < 0.05) {
      // re-sync: a fresh copy of the book after a few blocks the feed may not have seen
      const order = random();
      if (order < 0.7) feed.state({ phase: "resyncing", height: books.height, time: books.time });
      const skipped = Math.floor(random() * 3);
      for (let i = 0; i < skipped; i++) {
        mutate();
        const diff = apply();
        if (random() < 0.5) feed.block(books, diff);
      }
      const old = books;
      books = Books.fromSnapshot(books.toSnapshot());
      if (order < 0.4) {
        feed.reset(books);
        feed.state({ phase: "ready", height: books.height, time: old.time });
      } else if (order < 0.7) {
        // "ready" told before the reset: the feed goes live on the old book first
        feed.state({ phase: "ready", height: books.height, time: old.time });
        feed.reset(books);
      } else {
        // a validation re-sync: the phase never leaves "ready" (skipped blocks were fanned out or not)
        feed.reset(books);
      }
    } else if (r < 0.08) {
      // a stall: the phase goes stale and back, blocks keep coming
      feed.state({ phase: "stale", height: books.height, time: books.time });
      mutate();
      feed.block(books, apply());
      feed.state({ phase: "ready", height: books.height, time: books.time });
    } else {
      mutate();
      feed.block(books, apply());
    }
    feed.poll();
    check(`block ${b}`);
    if (random() < 0.3) checkInfo(`block ${b}`);
  }
  for (const s of subs) s.sink.bufferedAmount = 0;
  feed.poll();
  check("end");

  function mutate(): void {
    market.step(1 + Math.floor(random() * 4));
  }
}

Deno.test(
  "every l2Book subscriber's latest message, and every info answer, equals the book after every block (seeded fuzz with slow clients, churn and re-syncs)",
  () => {
    for (let seed = 1; seed <= 12; seed++) runFuzz(seed, 120);
  },
);
