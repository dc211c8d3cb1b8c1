/**
 * Section 3, cost vs book size: the same blocks (new orders, size updates and cancels at the top of 20 books,
 * then the blocks that undo them) applied to a 10 k-order and a 1 M-order book, each with a `Feed` whose
 * in-memory subscribers hold l2Book (full, nSigFigs 5, nSigFigs 3, nSigFigs 2), bbo and trades views on
 * every coin plus allMids: time of `applyBlock` + `feed.block` per block, median over many rounds.
 *
 * @module
 */
import {
  type BlockInput,
  type BookDiffEvent,
  Books,
  type NodeOrder,
  type OrderStatusEvent,
} from "../src/book/mod.ts";
import type { SnapshotFile } from "../src/book/mod.ts";
import { type ClientSink, Feed } from "../src/feed/mod.ts";
import { Metrics } from "../src/metrics.ts";
import { emit, fmt, limitOrder, median, note } from "./_common.ts";

const COINS = 50;
const TOUCHED = 20;
const TIME = "2026-05-05T17:39:13.024084407";
const users = Array.from({ length: 1000 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, "0")}`);
let nextOid = 1;

function order(coin: string, side: "B" | "A", px: number, oid: number, sz = "1.5"): NodeOrder {
  return limitOrder(coin, side, `${px}.0`, sz, oid, 1778002753024, "Alo", null);
}

/**
 * A book of `COINS` coins: 100 levels a side with one "base" order each (oids shared by both books), plus
 * `extraPerCoin` orders: 4 behind each base order, the rest 5 per level deeper down.
 */
function snapshot(extraPerCoin: number): SnapshotFile {
  const books: [string, [[string, NodeOrder][], [string, NodeOrder][]]][] = [];
  for (let c = 0; c < COINS; c++) {
    const coin = `C${c}`;
    const sides: [[string, NodeOrder][], [string, NodeOrder][]] = [[], []];
    for (const [s, side] of (["B", "A"] as const).entries()) {
      const px = (level: number) => (side === "B" ? 50_000 - level : 50_001 + level);
      const extras = extraPerCoin / 2;
      let placed = 0;
      for (let level = 0; level < 100; level++) {
        const base = 1_000_000 + c * 1000 + s * 500 + level;
        sides[s].push([users[level % 1000], order(coin, side, px(level), base)]);
        for (let k = 0; k < 4 && placed < extras; k++, placed++) {
          sides[s].push([users[(level + k) % 1000], order(coin, side, px(level), 10_000_000 + nextOid++)]);
        }
      }
      for (let level = 100; placed < extras; level++) {
        for (let k = 0; k < 5 && placed < extras; k++, placed++) {
          sides[s].push([users[(level + k) % 1000], order(coin, side, px(level), 10_000_000 + nextOid++)]);
        }
      }
    }
    books.push([coin, sides]);
  }
  return [1000, books];
}

/** Block A (place 3, update 3, cancel 2 per touched coin) and block B (undo), as functions of the round. */
function blocks(): [BlockInput, BlockInput] {
  const sa: OrderStatusEvent[] = [],
    da: BookDiffEvent[] = [],
    sb: OrderStatusEvent[] = [],
    db: BookDiffEvent[] = [];
  for (let c = 0; c < TOUCHED; c++) {
    const coin = `C${c}`;
    for (let k = 0; k < 3; k++) {
      const side = k % 2 === 0 ? "B" : "A";
      const px = side === "B" ? 50_000 - k : 50_001 + k;
      const oid = 90_000_000 + c * 10 + k;
      const o = order(coin, side, px, oid, "0.7");
      sa.push({ time: TIME, user: users[k], status: "open", order: o });
      da.push({ user: users[k], oid, coin, side, px: o.limitPx, raw_book_diff: { new: { sz: "0.7" } } });
      db.push({ user: users[k], oid, coin, side, px: o.limitPx, raw_book_diff: "remove" });
    }
    for (let k = 0; k < 3; k++) {
      const side = k % 2 === 0 ? "A" : "B";
      const level = 1 + k;
      const oid = 1_000_000 + c * 1000 + (side === "B" ? 0 : 500) + level;
      const px = `${side === "B" ? 50_000 - level : 50_001 + level}.0`;
      const user = users[level % 1000];
      da.push({ user, oid, coin, side, px, raw_book_diff: { update: { origSz: "1.5", newSz: "1.2" } } });
      db.push({ user, oid, coin, side, px, raw_book_diff: { update: { origSz: "1.2", newSz: "1.5" } } });
    }
    for (let k = 0; k < 2; k++) {
      const side = k === 0 ? "B" : "A";
      const level = 5 + k;
      const oid = 1_000_000 + c * 1000 + (side === "B" ? 0 : 500) + level;
      const px = side === "B" ? 50_000 - level : 50_001 + level;
      const user = users[level % 1000];
      da.push({ user, oid, coin, side, px: `${px}.0`, raw_book_diff: "remove" });
      sb.push({ time: TIME, user, status: "open", order: order(coin, side, px, oid) });
      db.push({ user, oid, coin, side, px: `${px}.0`, raw_book_diff: { new: { sz: "1.5" } } });
    }
  }
  return [
    { height: 0, time: 0, statuses: sa, diffs: da },
    { height: 0, time: 0, statuses: sb, diffs: db },
  ];
}

class NullSink implements ClientSink {
  bufferedAmount = 0;
  sent = 0;
  send(text: string): void {
    this.sent += text.length;
  }
  close(): void {}
}

function rig(extraPerCoin: number) {
  const books = Books.fromSnapshot(snapshot(extraPerCoin));
  const feed = new Feed({ metrics: new Metrics() });
  feed.reset(books);
  const sink = new NullSink();
  const subs: object[] = [{ type: "allMids" }];
  for (let c = 0; c < COINS; c++) {
    const coin = `C${c}`;
    subs.push(
      { type: "l2Book", coin },
      { type: "l2Book", coin, nSigFigs: 5 },
      { type: "l2Book", coin, nSigFigs: 3 },
      { type: "l2Book", coin, nSigFigs: 2 },
      { type: "bbo", coin },
      { type: "trades", coin },
    );
  }
  for (let i = 0; i < subs.length; i += 100) {
    const client = feed.attach(sink, { maxSubscriptions: 1000, maxBuffered: 1 << 30 });
    for (const subscription of subs.slice(i, i + 100)) {
      feed.handle(client, JSON.stringify({ method: "subscribe", subscription }));
    }
  }
  return { books, feed, sink };
}

const [a, b] = blocks();
const small = rig(200 - 200); // 200 base orders a coin × 50 = 10 k
const large = rig(20_000 - 200); // 20 k a coin × 50 = 1 M
note(`book size: ${fmt(small.books.orderCount(), 0)} and ${fmt(large.books.orderCount(), 0)} resting orders`);

/** Apply time of the last pair (ms per block). */
let applyMs = 0;
function pair(r: ReturnType<typeof rig>): number {
  const t0 = performance.now();
  applyMs = 0;
  for (const block of [a, b]) {
    const t1 = performance.now();
    const result = r.books.applyBlock({ ...block, height: r.books.height + 1, time: r.books.time + 66 });
    applyMs += (performance.now() - t1) / 2;
    if (!result.ok) throw new Error(result.error.message);
    r.feed.block(r.books, result.diff);
  }
  return (performance.now() - t0) / 2;
}

// warm up, then interleave so machine noise hits both alike
for (let i = 0; i < 50; i++) {
  pair(small);
  pair(large);
}
const ts: number[] = [], tl: number[] = [], as: number[] = [], al: number[] = [];
const deadline = performance.now() + 15_000;
for (let i = 0; i < 400 && performance.now() < deadline; i++) {
  ts.push(pair(small));
  as.push(applyMs);
  tl.push(pair(large));
  al.push(applyMs);
}
const ms = median(ts), ml = median(tl);
const ratio = ml / ms;
const [aps, apl] = [median(as), median(al)];
note(`  ${ts.length} rounds: 10 k ${ms.toFixed(3)} ms/block, 1 M ${ml.toFixed(3)} ms/block`);
emit([
  {
    section: "3 book size",
    figure: `one block (${a.diffs.length} diffs on ${TOUCHED} coins) + view updates (${
      COINS * 6 + 1
    } views), 10 k-order book`,
    target: "—",
    measured: `${fmt(ms, 3)} ms`,
    pass: null,
    value: ms,
  },
  {
    section: "3 book size",
    figure: "same block, 1 M-order book",
    target: "—",
    measured: `${fmt(ml, 3)} ms (applyBlock ${fmt(apl, 3)} ms vs ${fmt(aps, 3)} ms; views ${
      fmt(ml - apl, 3)
    } ms vs ${fmt(ms - aps, 3)} ms)`,
    pass: null,
    value: ml,
  },
  {
    section: "3 book size",
    figure: "time ratio 1 M ÷ 10 k",
    target: "≤ 1.5",
    measured: fmt(ratio, 2),
    pass: ratio <= 1.5,
    value: ratio,
  },
], { rounds: ts.length, small: ms, large: ml, applySmall: aps, applyLarge: apl });
