/**
 * Test helpers for the feed and server: hand-made blocks, a feed + server on a free loopback port, and a
 * WebSocket client with bounded waits.
 *
 * @module
 */
import { Books } from "../../src/book/mod.ts";
import type {
  BlockInput,
  BookDiff,
  BookDiffEvent,
  Coin,
  L4Order,
  NodeOrder,
  OrderStatusEvent,
  Side,
  SnapshotFile,
  Trade,
} from "../../src/book/mod.ts";
import { Feed } from "../../src/feed/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { type Server, type ServerOptions, startServer } from "../../src/server/mod.ts";
import assert from "node:assert/strict";

/** The fields of an L4 order on the wire (`l4Book` snapshot levels), in the order they are sent. */
export const L4_ORDER_KEYS = [
  "user",
  "coin",
  "side",
  "limitPx",
  "sz",
  "oid",
  "timestamp",
  "triggerCondition",
  "isTrigger",
  "triggerPx",
  "isPositionTpsl",
  "reduceOnly",
  "orderType",
  "tif",
  "cloid",
] as const;

const USER = "0x0000000000000000000000000000000000000001";

interface Resting {
  coin: Coin;
  side: Side;
  px: string;
  sz: string;
}

/** Builds consecutive blocks of hand-made orders and applies them to a {@link Books}. */
export class BlockMaker {
  height: number;
  time: number;
  #nextOid = 1000;
  #statuses: OrderStatusEvent[] = [];
  #diffs: BookDiffEvent[] = [];
  readonly resting = new Map<number, Resting>();

  constructor(readonly books: Books, start = { height: 100, time: 1_700_000_000_000 }) {
    this.height = books.height > 0 ? books.height : start.height;
    this.time = books.time > 0 ? books.time : start.time;
  }

  #status(status: string, oid: number, r: Resting): void {
    this.#statuses.push({
      time: new Date(this.time + 1000).toISOString().replace("Z", "000000"),
      user: USER,
      status,
      order: {
        coin: r.coin,
        side: r.side,
        limitPx: r.px,
        sz: r.sz,
        oid,
        timestamp: this.time + 1000,
        triggerCondition: "N/A",
        isTrigger: false,
        triggerPx: "0.0",
        children: [],
        isPositionTpsl: false,
        reduceOnly: false,
        orderType: "Limit",
        origSz: r.sz,
        tif: "Gtc",
        cloid: null,
      },
    });
  }

  /** Places a resting order in the next block; returns its oid. */
  place(coin: Coin, side: Side, px: string, sz: string): number {
    const oid = this.#nextOid++;
    const r = { coin, side, px, sz };
    this.#status("open", oid, r);
    this.#diffs.push({ user: USER, oid, coin, side, px, raw_book_diff: { new: { sz } } });
    this.resting.set(oid, r);
    return oid;
  }

  /** Cancels a resting order in the next block. */
  cancel(oid: number): void {
    const r = this.resting.get(oid);
    if (r === undefined) throw new Error(`no resting order ${oid}`);
    this.#status("canceled", oid, r);
    this.#diffs.push({ user: USER, oid, coin: r.coin, side: r.side, px: r.px, raw_book_diff: "remove" });
    this.resting.delete(oid);
  }

  /** Changes a resting order's size in the next block. */
  resize(oid: number, newSz: string): void {
    const r = this.resting.get(oid);
    if (r === undefined) throw new Error(`no resting order ${oid}`);
    this.#diffs.push({
      user: USER,
      oid,
      coin: r.coin,
      side: r.side,
      px: r.px,
      raw_book_diff: { update: { origSz: r.sz, newSz } },
    });
    r.sz = newSz;
  }

  /** Adds a status that does not touch the book (e.g. a rejected order). */
  reject(coin: Coin, side: Side, px: string): void {
    this.#status("badAloPxRejected", this.#nextOid++, { coin, side, px, sz: "1.0" });
  }

  /** The next block with everything queued since the last one. */
  next(): BlockInput {
    this.height++;
    this.time += 500;
    const block = { height: this.height, time: this.time, statuses: this.#statuses, diffs: this.#diffs };
    this.#statuses = [];
    this.#diffs = [];
    return block;
  }

  /** Applies the next block to the books; throws when the book rejects it. */
  apply(): BookDiff {
    const result = this.books.applyBlock(this.next());
    if (!result.ok) throw new Error(result.error.message);
    return result.diff;
  }
}

/** A trade for tests. */
export function trade(coin: Coin, tid: number, px = "100.0"): Trade {
  return {
    coin,
    side: "B",
    px,
    sz: "1.5",
    hash: "0xabc",
    time: 1_700_000_000_000 + tid,
    tid,
    users: ["0x00000000000000000000000000000000000000b1", "0x00000000000000000000000000000000000000a1"],
  };
}

/** A running feed + server on 127.0.0.1 with a free port. */
export interface Harness {
  readonly feed: Feed;
  readonly server: Server;
  readonly metrics: Metrics;
  readonly url: string;
  readonly http: string;
}

/** The server options of every in-process test server: loopback, port 0, the default limits. */
export const TEST_SERVER = {
  address: "127.0.0.1",
  port: 0,
  maxBuffered: 4 * 1024 * 1024,
  maxConnections: 100,
  maxSubscriptions: 1000,
  maxMessageSize: 64 * 1024,
  maxMessagesPerMinute: 2000,
  health: () => ({ version: "test" }),
} as const;

/** Runs `fn` against a fresh feed and server, always shutting it down. */
export async function withServer(
  fn: (h: Harness) => Promise<void>,
  options: Partial<Omit<ServerOptions, "metrics">> = {},
  feedOptions: { l4Chunk?: number } = {},
): Promise<void> {
  const metrics = new Metrics();
  const feed = new Feed({ metrics, ...feedOptions });
  const server = startServer({ ...TEST_SERVER, ...options, metrics }, feed);
  try {
    await fn({
      feed,
      server,
      metrics,
      url: `ws://127.0.0.1:${server.port}/ws`,
      http: `http://127.0.0.1:${server.port}`,
    });
  } finally {
    await server.shutdown();
  }
}

/** A feed with books at a known state: BTC with a few levels, ETH with one level each side. */
export function sampleBooks(): { books: Books; maker: BlockMaker } {
  const books = new Books();
  const maker = new BlockMaker(books);
  maker.place("BTC", "B", "100.0", "1.0");
  maker.place("BTC", "B", "99.0", "2.0");
  maker.place("BTC", "B", "98.0", "3.0");
  maker.place("BTC", "A", "101.0", "1.5");
  maker.place("BTC", "A", "102.0", "2.5");
  maker.place("ETH", "B", "10.0", "1.0");
  maker.place("ETH", "A", "11.0", "1.0");
  maker.apply();
  return { books, maker };
}

/** The book an `l4Book` snapshot message's data (`data.Snapshot`) describes, one coin, at its height. */
export function booksOfL4Snapshot(
  snapshot: { coin: string; height: number; levels: [L4Order[], L4Order[]] },
): Books {
  const side = (orders: L4Order[]) =>
    orders.map(({ user, ...order }) =>
      [user, { ...order, children: [], origSz: order.sz } as NodeOrder] as const
    );
  const file: SnapshotFile = [snapshot.height, [[snapshot.coin, [
    side(snapshot.levels[0]),
    side(snapshot.levels[1]),
  ]]]];
  return Books.fromSnapshot(file);
}

/**
 * Applies `l4Book` Updates messages (raw texts, in order) to `mirror`, filling the heights they skip (blocks
 * without events for the coin) with empty blocks; asserts that every block applies. Returns how many Updates.
 */
export function applyL4Updates(mirror: Books, texts: readonly string[]): number {
  let updates = 0;
  for (const text of texts) {
    const u = JSON.parse(text).data.Updates;
    for (let h = mirror.height + 1; h < u.height; h++) {
      mirror.applyBlock({ height: h, time: u.time, statuses: [], diffs: [] });
    }
    const result = mirror.applyBlock({
      height: u.height,
      time: u.time,
      statuses: u.order_statuses,
      diffs: u.book_diffs,
    });
    assert.ok(result.ok, result.ok ? "" : result.error.message);
    updates++;
  }
  return updates;
}

/**
 * A seeded random market over a {@link BlockMaker}: prices within 60 ticks (1e-2) of a per-coin mid, and random
 * steps of places, cancels and resizes (a size of 0 now and then), as the feed's fuzz and property tests use.
 */
export class RandomMarket {
  constructor(
    readonly maker: BlockMaker,
    readonly random: () => number,
    /** Coin → mid in ticks of 1e-2. */
    readonly mids: Readonly<Record<string, number>>,
  ) {}

  get coins(): string[] {
    return Object.keys(this.mids);
  }

  /** A price string on `side` of the coin's mid (5 significant digits at most for mids below 1e5 ticks). */
  px(coin: Coin, side: "B" | "A"): string {
    const off = 1 + Math.floor(this.random() * 60);
    return ((side === "B" ? this.mids[coin] - off : this.mids[coin] + off) / 100).toFixed(2);
  }

  /** Places `perCoin` random orders on every coin. */
  fill(perCoin: number): void {
    for (const coin of this.coins) {
      for (let i = 0; i < perCoin; i++) this.#place(coin);
    }
  }

  /** `n` random changes: a place (always while a coin has fewer than 5 orders), a cancel or a resize. */
  step(n: number): void {
    const { maker, random } = this;
    for (let i = 0; i < n; i++) {
      const coin = this.coins[Math.floor(random() * this.coins.length)];
      const mine = [...maker.resting].filter(([, o]) => o.coin === coin);
      const r = random();
      if (r < 0.4 || mine.length < 5) this.#place(coin);
      else if (r < 0.75) maker.cancel(mine[Math.floor(random() * mine.length)][0]);
      else {
        const [oid] = mine[Math.floor(random() * mine.length)];
        maker.resize(oid, random() < 0.2 ? "0.0" : `${1 + Math.floor(random() * 9)}.5`);
      }
    }
  }

  #place(coin: Coin): void {
    const side = this.random() < 0.5 ? "B" : "A";
    this.maker.place(coin, side, this.px(coin, side), `${1 + Math.floor(this.random() * 9)}.0`);
  }
}
