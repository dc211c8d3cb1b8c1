/**
 * The independent reference for L2 views: orders grouped by price and bucketed with BigInt arithmetic, straight
 * from Hyperliquid's rule (docs/protocol.md), sharing no code with `src/book`'s maintained levels and buckets.
 * Every test that checks l2Book content compares against this, never against `Books.l2` (the code under test).
 *
 * @module
 */
import type { Books, Coin, L2Levels, L2Params, Level, Side } from "../../src/book/mod.ts";

/** One resting order as the reference sees it: price and size in 1e-8 units, in priority order per side. */
export interface RefOrder {
  readonly px: bigint;
  readonly sz: bigint;
  /** The price as the node spelled it (full-precision levels keep the node's spelling). */
  readonly pxText?: string;
}

/** A decimal string in 1e-8 units. */
export function big(s: string): bigint {
  const negative = s.startsWith("-");
  const [i, f = ""] = (negative ? s.slice(1) : s).split(".");
  const v = BigInt(i) * 100_000_000n + BigInt((f + "00000000").slice(0, 8));
  return negative ? -v : v;
}

/** 1e-8 units as hlbook writes decimals: trailing zeros trimmed, at least one decimal digit. */
export function str(v: bigint): string {
  const i = v / 100_000_000n;
  const f = (v % 100_000_000n).toString().padStart(8, "0").replace(/0+$/, "");
  return `${i}.${f === "" ? "0" : f}`;
}

/** Reference L2 of one side: group by price (non-zero orders), then Hyperliquid buckets, first nLevels. */
export function refL2(orders: readonly RefOrder[], side: Side, p: L2Params): Level[] {
  const levels: { px: bigint; sz: bigint; n: number; text: string }[] = [];
  for (const o of orders) {
    if (o.sz === 0n) continue;
    const last = levels[levels.length - 1];
    if (last && last.px === o.px) {
      last.sz += o.sz;
      last.n++;
    } else levels.push({ px: o.px, sz: o.sz, n: 1, text: o.pxText ?? str(o.px) });
  }
  if (p.nSigFigs === null) {
    return levels.slice(0, p.nLevels).map((l) => ({ px: l.text, sz: str(l.sz), n: l.n }));
  }
  const buckets: { px: bigint; sz: bigint; n: number }[] = [];
  for (const l of levels) {
    const digits = l.px.toString().length;
    const e = Math.max(0, digits - p.nSigFigs);
    const inc = BigInt(p.mantissa ?? 1) * 10n ** BigInt(e);
    const key = side === "B" ? (l.px / inc) * inc : ((l.px + inc - 1n) / inc) * inc;
    const last = buckets[buckets.length - 1];
    if (last && last.px === key) {
      last.sz += l.sz;
      last.n += l.n;
    } else buckets.push({ px: key, sz: l.sz, n: l.n });
  }
  return buckets.slice(0, p.nLevels).map((b) => ({ px: str(b.px), sz: str(b.sz), n: b.n }));
}

/** The reference L2 view of `coin` in `books`, built from its individual (L4) orders. */
export function referenceL2(books: Books, coin: Coin, p: L2Params): L2Levels {
  const [bids, asks] = books.l4(coin);
  const toRef = (o: { limitPx: string; sz: string }): RefOrder => ({
    px: big(o.limitPx),
    sz: big(o.sz),
    pxText: o.limitPx,
  });
  return [refL2(bids.map(toRef), "B", p), refL2(asks.map(toRef), "A", p)];
}

/** The reference view as the wire's `levels` JSON text (`[[{px,sz,n},…],[…]]`). */
export function referenceLevelsJson(books: Books, coin: Coin, p: L2Params): string {
  return JSON.stringify(referenceL2(books, coin, p));
}
