/**
 * Seeded property tests: random blocks applied to `Books` and to a brute-force reference (sorted arrays +
 * BigInt); book state, BBO, mid, the per-block diff and every L2 view must agree after every block.
 */
import assert from "node:assert/strict";
import {
  type BlockInput,
  type BookDiffEvent,
  Books,
  compareBooks,
  type L2Params,
  type LevelChange,
  type OrderStatusEvent,
  type Side,
} from "../../src/book/mod.ts";
import { scanLevels } from "../../src/book/l2.ts";
import { newDiff, nodeOrder, removeDiff, status, updateDiff } from "./_gen.ts";
import { rng } from "../_support/rng.ts";
import { big, refL2, str } from "../_support/l2_reference.ts";

const HIP2 = "0xffffffffffffffffffffffffffffffffffffffff";

interface RefOrder {
  oid: number;
  user: string;
  side: Side;
  px: bigint;
  sz: bigint;
}

/** Reference book: per coin and side, orders in priority order. */
type Ref = Map<string, { B: RefOrder[]; A: RefOrder[] }>;

function cloneRef(ref: Ref): Ref {
  const out: Ref = new Map();
  for (const [c, s] of ref) out.set(c, { B: s.B.map((o) => ({ ...o })), A: s.A.map((o) => ({ ...o })) });
  return out;
}

function better(side: Side, a: bigint, b: bigint): boolean {
  return side === "B" ? a > b : a < b;
}

function midRef(b: bigint, a: bigint): string {
  const v = (a + b) * 5n; // 1e-9 units
  const i = v / 1_000_000_000n;
  const f = (v % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${i}.${f === "" ? "0" : f}`;
}

/** Price families that cross digit boundaries, in 1e-8 units: [min, max, step]. */
const COINS: Record<string, { px: [number, number, number]; szDigits: number; szDecimals: number }> = {
  X: { px: [9_950_000_000, 10_050_000_000, 1_000_000], szDigits: 3, szDecimals: 2 }, // 99.5 .. 100.5 step 0.01
  MEME: { px: [99_000, 101_000, 10], szDigits: 10, szDecimals: 8 }, // 0.00099 .. 0.00101, sizes > 1e9
  BTC: { px: [8_120_000_000_000, 8_140_000_000_000, 100_000_000], szDigits: 2, szDecimals: 5 },
};

const VIEWS: L2Params[] = [];
for (const nLevels of [1, 3, 20, 100]) {
  VIEWS.push({ nSigFigs: null, mantissa: null, nLevels });
  for (const s of [2, 3, 4, 5]) VIEWS.push({ nSigFigs: s, mantissa: null, nLevels });
  VIEWS.push({ nSigFigs: 5, mantissa: 1, nLevels }, { nSigFigs: 5, mantissa: 2, nLevels }, {
    nSigFigs: 5,
    mantissa: 5,
    nLevels,
  });
}

function checkAgrees(books: Books, ref: Ref, label: string): void {
  let total = 0;
  for (const [coin, sides] of ref) {
    total += sides.B.length + sides.A.length;
    const [bids, asks] = books.l4(coin);
    for (const [mine, theirs] of [[bids, sides.B], [asks, sides.A]] as const) {
      assert.deepEqual(
        mine.map((o) => `${o.oid} ${o.user} ${o.side} ${o.sz}`),
        theirs.map((o) => `${o.oid} ${o.user} ${o.side} ${str(o.sz)}`),
        `${label} ${coin} l4`,
      );
    }
    for (const p of VIEWS) {
      const [b, a] = books.l2(coin, p);
      assert.deepEqual(b, refL2(sides.B, "B", p), `${label} ${coin} bids ${JSON.stringify(p)}`);
      assert.deepEqual(a, refL2(sides.A, "A", p), `${label} ${coin} asks ${JSON.stringify(p)}`);
      const book = books.book(coin);
      if (book !== undefined && p.nSigFigs !== null) {
        assert.deepEqual(scanLevels(book.bids, p), b, `${label} ${coin} scanned bids ${JSON.stringify(p)}`);
        assert.deepEqual(scanLevels(book.asks, p), a, `${label} ${coin} scanned asks ${JSON.stringify(p)}`);
      }
    }
    const full = { nSigFigs: null, mantissa: null, nLevels: 1 };
    const [rb] = refL2(sides.B, "B", full);
    const [ra] = refL2(sides.A, "A", full);
    assert.deepEqual(books.bbo(coin), [rb ?? null, ra ?? null], `${label} ${coin} bbo`);
    assert.equal(books.mid(coin), rb && ra ? midRef(big(rb.px), big(ra.px)) : null, `${label} ${coin} mid`);
  }
  assert.equal(books.orderCount(), total, `${label} order count`);
}

/** Aggregated non-zero levels of a reference side: "px" → "sz/n". */
function refLevels(orders: RefOrder[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of refL2(orders, "B", { nSigFigs: null, mantissa: null, nLevels: 1e9 })) {
    out.set(l.px, `${l.sz}/${l.n}`);
  }
  return out;
}

/** Builds one random block against the reference; applies it to `next` (a copy) as it goes. */
function randomBlock(
  rand: () => number,
  next: Ref,
  height: number,
  oidSeq: { v: number },
  corrupt: boolean,
): BlockInput {
  const statuses: OrderStatusEvent[] = [];
  const diffs: BookDiffEvent[] = [];
  const nEvents = Math.floor(rand() * 12);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const coins = Object.keys(COINS);
  for (let e = 0; e < nEvents; e++) {
    const coin = pick(coins);
    const spec = COINS[coin];
    if (!next.has(coin)) next.set(coin, { B: [], A: [] });
    const book = next.get(coin) as { B: RefOrder[]; A: RefOrder[] };
    const side: Side = rand() < 0.5 ? "B" : "A";
    const list = book[side];
    const roll = rand();
    if (roll < 0.5 || list.length === 0) {
      // new order
      const [lo, hi, step] = spec.px;
      const px = BigInt(lo + step * Math.floor(rand() * ((hi - lo) / step + 1)));
      const szInt = Math.floor(rand() * 10 ** Math.floor(rand() * (spec.szDigits + 1)));
      const fracDigits = Math.floor(rand() * (spec.szDecimals + 1));
      const frac = BigInt(Math.floor(rand() * 10 ** fracDigits)) * 10n ** BigInt(8 - fracDigits);
      let sz = BigInt(szInt) * 100_000_000n + frac;
      if (sz === 0n) sz = 1n;
      const oid = oidSeq.v++;
      const user = rand() < 0.1 ? HIP2 : `0x${(oid % 7).toString(16)}`;
      const samePx = list.filter((o) => o.px === px);
      const before = samePx.length > 0 && rand() < 0.3 ? pick(samePx) : undefined;
      const pxStr = str(px);
      const szStr = str(sz);
      if (user !== HIP2 || rand() < 0.3) {
        const triggered = rand() < 0.15;
        const order = nodeOrder({
          coin,
          oid,
          side,
          limitPx: pxStr,
          sz: szStr,
          isTrigger: triggered,
          tif: triggered ? null : pick(["Gtc", "Alo"]),
        });
        // noise: a rejected status and an IOC open for other oids
        if (rand() < 0.3) statuses.push(status("badAloPxRejected", { ...order, oid: oidSeq.v++ }, { user }));
        statuses.push(status(triggered ? "triggered" : "open", order, { user }));
      }
      diffs.push(newDiff({ coin, oid, side, px: pxStr, sz: szStr, user, insertBefore: before?.oid }));
      const ro: RefOrder = { oid, user, side, px, sz };
      if (before) list.splice(list.indexOf(before), 0, ro);
      else {
        let i = 0;
        while (i < list.length && !better(side, px, list[i].px)) i++;
        list.splice(i, 0, ro);
      }
    } else if (roll < 0.7) {
      const o = pick(list);
      const newSz = rand() < 0.3
        ? 0n
        : o.sz - BigInt(Math.floor(rand() * Number(o.sz > 1000000n ? 1000000n : o.sz)));
      diffs.push(updateDiff({ coin, oid: o.oid, side, px: str(o.px), origSz: str(o.sz), newSz: str(newSz) }));
      o.sz = newSz;
    } else {
      const o = pick(list);
      diffs.push(removeDiff({ coin, oid: o.oid, side, px: str(o.px) }));
      list.splice(list.indexOf(o), 1);
    }
  }
  if (corrupt) {
    const kind = Math.floor(rand() * 4);
    const coin = pick(coins);
    if (kind === 0) diffs.push(removeDiff({ coin, oid: 1e12, side: "B", px: "1.0" }));
    else if (kind === 1) diffs.push(newDiff({ coin, oid: oidSeq.v++, side: "A", px: "1.0", sz: "1.0" }));
    else if (kind === 2) {
      diffs.push(updateDiff({ coin, oid: 1e12 + 1, side: "A", px: "1.0", origSz: "1.0", newSz: "0.5" }));
    } else {
      const oid = oidSeq.v++;
      statuses.push(status("open", nodeOrder({ coin, oid, side: "B", limitPx: "1.0", sz: "1.0" })));
      diffs.push(newDiff({ coin, oid, side: "B", px: "1.0", sz: "1.0", insertBefore: 1e12 }));
    }
  }
  return { height, time: 1778002753024 + height, statuses, diffs };
}

Deno.test("random blocks agree with a brute-force reference", async (t) => {
  for (const seed of [1, 2, 3, 4]) {
    await t.step(`seed ${seed}: state, BBO, mid, diffs and every L2 view match after every block`, () => {
      const rand = rng(seed);
      const books = new Books();
      let ref: Ref = new Map();
      const oidSeq = { v: 1000 };
      for (let h = 1; h <= 250; h++) {
        const corrupt = rand() < 0.1;
        const next = cloneRef(ref);
        const block = randomBlock(rand, next, h, oidSeq, corrupt);
        const before = corrupt ? books.clone() : null;
        const snap = corrupt ? JSON.stringify(books.toSnapshot()) : "";
        const r = books.applyBlock(block);
        if (corrupt) {
          assert.ok(!r.ok, `block ${h} should fail`);
          assert.equal(r.error.block, h);
          assert.equal(JSON.stringify(books.toSnapshot()), snap, `block ${h} rolled back byte-identically`);
          assert.equal(compareBooks(before as Books, books), null);
          checkAgrees(books, ref, `after failed block ${h}`);
          // the same block without its bad last event then applies
          const fixed = { ...block, diffs: block.diffs.slice(0, -1) };
          const r2 = books.applyBlock(fixed);
          if (!r2.ok) assert.fail(r2.error.message);
          ref = next;
          checkAgrees(books, ref, `block ${h} without its bad event`);
          continue;
        }
        if (!r.ok) assert.fail(`block ${h}: ${r.error.message}`);
        // every level whose aggregate changed is reported, with its final state
        for (const [coin, sides] of next) {
          const cd = r.diff.coins.get(coin);
          for (const side of ["B", "A"] as const) {
            const was = refLevels(ref.get(coin)?.[side] ?? []);
            const now = refLevels(sides[side]);
            const reported = new Map<string, LevelChange>();
            for (const l of cd?.levels ?? []) if (l.side === side) reported.set(l.px, l);
            for (const px of new Set([...was.keys(), ...now.keys()])) {
              if (was.get(px) !== now.get(px)) {
                assert.ok(reported.has(px), `block ${h} ${coin} ${side} ${px} reported`);
              }
            }
            for (const [px, l] of reported) {
              assert.equal(
                l.n === 0 ? undefined : `${l.sz}/${l.n}`,
                now.get(px),
                `block ${h} ${coin} ${side} ${px}`,
              );
              if (l.n === 0) assert.equal(l.sz, "0.0");
            }
          }
        }
        ref = next;
        checkAgrees(books, ref, `block ${h}`);
      }
      // snapshot export and reload keep every order in place
      assert.equal(compareBooks(books, Books.fromSnapshot(books.toSnapshot())), null);
      assert.equal(compareBooks(books, books.clone()), null);
    });
  }
});
