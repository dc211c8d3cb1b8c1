/**
 * Book engine benchmarks on the real BTC fixture.
 *
 *   deno bench --allow-read bench/book_bench.ts          apply, views, snapshot load
 *   deno run --allow-read --v8-flags=--expose-gc bench/book_bench.ts   heap per resting order
 *
 * @module
 */
import {
  type BlockInput,
  type BookDiffEvent,
  Books,
  type L2Params,
  type OrderStatusEvent,
  type SnapshotFile,
} from "../src/book/mod.ts";
import { FIXTURE_AVAILABLE, readFixtureBlocks, readFixtureSnapshot } from "../tests/_support/fixtures.ts";
import { heapMeter, syntheticOpen } from "./_common.ts";

const VIEWS: [string, number | null, number | null][] = [
  ["full precision", null, null],
  ["nSigFigs 5", 5, null],
  ["nSigFigs 5 mantissa 2", 5, 2],
  ["nSigFigs 5 mantissa 5", 5, 5],
  ["nSigFigs 4", 4, null],
  ["nSigFigs 3", 3, null],
  ["nSigFigs 2", 2, null],
];

if (FIXTURE_AVAILABLE && !import.meta.main) {
  const file = (await readFixtureSnapshot()) as SnapshotFile;
  const blocks = await readFixtureBlocks();
  const diffCount = blocks.reduce((n, b) => n + b.diffs.length, 0);
  const base = Books.fromSnapshot(file);
  const final = base.clone();
  for (const b of blocks) final.applyBlock(b);

  Deno.bench({
    name: `apply the 51 real blocks (${diffCount} diffs, 41,592 statuses) to the BTC book`,
    group: "apply",
    baseline: true,
    fn(b) {
      const books = base.clone();
      b.start();
      for (const block of blocks) {
        const r = books.applyBlock(block);
        if (!r.ok) throw new Error(r.error.message);
      }
      b.end();
    },
  });

  // Steady state without cloning: the real blocks, then blocks that undo them (diffs reversed and inverted, a
  // removed order re-entering before its old successor), so the book returns to where it started.
  const inverse = inverseBlocks(base, blocks);
  const roundTrip = base.clone();
  let height = roundTrip.height;
  Deno.bench({
    name: `apply the real diffs and their inverses (${2 * diffCount} diffs, 102 blocks, no clone)`,
    group: "apply",
    fn() {
      for (const list of [blocks, inverse]) {
        for (const block of list) {
          const r = roundTrip.applyBlock({ ...block, height: ++height });
          if (!r.ok) throw new Error(r.error.message);
        }
      }
    },
  });

  // Per-diff cost: the same round trip with each block's statuses cut to the ones that insert an order.
  const inserting = (b: BlockInput): BlockInput => ({
    ...b,
    statuses: b.statuses.filter((s) => s.status === "open" || s.status === "triggered"),
  });
  const leanBlocks = blocks.map(inserting);
  const leanInverse = inverse.map(inserting);
  const leanBooks = base.clone();
  let heightL = leanBooks.height;
  Deno.bench({
    name: `apply the real diffs and their inverses, inserting statuses only (${2 * diffCount} diffs)`,
    group: "apply",
    fn() {
      for (const list of [leanBlocks, leanInverse]) {
        for (const block of list) {
          const r = leanBooks.applyBlock({ ...block, height: ++heightL });
          if (!r.ok) throw new Error(r.error.message);
        }
      }
    },
  });

  const withViews = base.clone();
  for (const [, nSigFigs, mantissa] of VIEWS) withViews.l2("BTC", { nSigFigs, mantissa, nLevels: 20 });
  let heightV = withViews.height;
  Deno.bench({
    name: `same, with the 6 coarse views of both sides maintained`,
    group: "apply",
    fn() {
      for (const list of [blocks, inverse]) {
        for (const block of list) {
          const r = withViews.applyBlock({ ...block, height: ++heightV });
          if (!r.ok) throw new Error(r.error.message);
        }
      }
    },
  });

  // One update diff back and forth on the top ask: the steady-state cost of one diff.
  const top = final.l4("BTC")[1][0];
  let flip = false;
  let h = final.height;
  const upd = (from: string, to: string): BookDiffEvent => ({
    user: top.user,
    oid: top.oid,
    coin: "BTC",
    side: "A",
    px: top.limitPx,
    raw_book_diff: { update: { origSz: from, newSz: to } },
  });
  const there = upd(top.sz, "0.5");
  const back = upd("0.5", top.sz);
  const steady = final.clone();
  Deno.bench({
    name: "apply a one-diff block (update of the best ask)",
    group: "apply",
    fn() {
      flip = !flip;
      const r = steady.applyBlock({ height: ++h, time: 0, statuses: [], diffs: [flip ? there : back] });
      if (!r.ok) throw new Error(r.error.message);
    },
  });

  for (const nLevels of [20, 100]) {
    for (const [label, nSigFigs, mantissa] of VIEWS) {
      const params: L2Params = { nSigFigs, mantissa, nLevels };
      Deno.bench({
        name: `l2 top-${nLevels} ${label}`,
        group: `l2 top-${nLevels}`,
        baseline: nSigFigs === null,
        fn() {
          final.l2("BTC", params);
        },
      });
    }
  }
  Deno.bench({ name: "bbo", group: "views", fn: () => void final.bbo("BTC") });
  Deno.bench({ name: "mid", group: "views", fn: () => void final.mid("BTC") });
  Deno.bench({ name: "l4 (51k orders)", group: "views", fn: () => void final.l4("BTC") });

  Deno.bench({
    name: "load the BTC snapshot (51,351 orders, parsed JSON → Books)",
    group: "snapshot",
    baseline: true,
    fn() {
      Books.fromSnapshot(file);
    },
  });
  Deno.bench({ name: "clone the BTC book", group: "snapshot", fn: () => void final.clone() });
  Deno.bench({ name: "toSnapshot of the BTC book", group: "snapshot", fn: () => void final.toSnapshot() });
}

/** Blocks that undo `blocks` applied to `base`, in the order to apply them. */
export function inverseBlocks(base: Books, blocks: readonly BlockInput[]): BlockInput[] {
  const scratch = base.clone();
  let h = scratch.height;
  const out: BlockInput[] = [];
  for (const block of blocks) {
    const statuses: OrderStatusEvent[] = [];
    const diffs: BookDiffEvent[] = [];
    for (const d of block.diffs) {
      const raw = d.raw_book_diff;
      if (raw === "remove") {
        const [bids, asks] = scratch.l4(d.coin);
        const side = d.side === "B" ? bids : asks;
        const i = side.findIndex((o) => o.oid === d.oid);
        const { user, ...order } = side[i];
        const next = side[i + 1];
        const insertBefore = next !== undefined && next.limitPx === order.limitPx ? next.oid : undefined;
        statuses.push({ time: "2026-05-05T17:39:13.024", user, status: "open", order });
        diffs.unshift({ ...d, raw_book_diff: { new: { sz: order.sz, insertBefore } } });
      } else if ("update" in raw) {
        diffs.unshift({
          ...d,
          raw_book_diff: { update: { origSz: raw.update.newSz, newSz: raw.update.origSz } },
        });
      } else {
        diffs.unshift({ ...d, raw_book_diff: "remove" });
      }
      const st = block.statuses.filter((s) => !("raw" in s) && s.order.oid === d.oid);
      const r = scratch.applyBlock({ height: ++h, time: block.time, statuses: st, diffs: [d] });
      if (!r.ok) throw new Error(r.error.message);
    }
    out.unshift({ height: 0, time: block.time, statuses, diffs });
  }
  return out;
}

/** Heap of the real BTC book and of a synthetic 1M-order book, bytes per resting order. */
async function heapReport(): Promise<void> {
  const heap = heapMeter();
  // Measured as the heap released by dropping the books (so parse leftovers and code do not count).
  if (FIXTURE_AVAILABLE) {
    let file: SnapshotFile | null = (await readFixtureSnapshot()) as SnapshotFile;
    let books: Books | null = Books.fromSnapshot(file);
    file = null;
    const n = books.orderCount();
    const m1 = heap();
    books = null;
    const m0 = heap();
    // deno-lint-ignore no-console
    console.log(`real BTC book: ${n} orders, ${((m1 - m0) / n).toFixed(0)} B/order (cloid strings included)`);
  }
  const N = 1_000_000;
  const users = Array.from({ length: 5000 }, (_, i) => `0x${i.toString(16).padStart(40, "0")}`);
  let books: Books | null = new Books();
  let height = 1;
  for (let start = 0; start < N; start += 10_000) {
    const statuses: OrderStatusEvent[] = [];
    const diffs: BookDiffEvent[] = [];
    for (let i = start; i < start + 10_000; i++) {
      const side = i % 2 === 0 ? "B" : "A";
      const ticks = (i * 7919) % 20_000;
      const px = side === "B" ? `${60_000 + ticks}.0` : `${81_000 + ticks}.0`;
      const { status, diff } = syntheticOpen(i, "BTC", side, px, users);
      statuses.push(status);
      diffs.push(diff);
    }
    const r = books.applyBlock({ height: height++, time: 1778002753024, statuses, diffs });
    if (!r.ok) throw new Error(r.error.message);
  }
  const count = books.orderCount();
  const m1 = heap();
  books = null;
  const m0 = heap();
  // deno-lint-ignore no-console
  console.log(
    `synthetic book: ${count} orders on 40,000 levels, half with a cloid: ${
      ((m1 - m0) / N).toFixed(0)
    } B/order`,
  );
}

if (import.meta.main) await heapReport();
