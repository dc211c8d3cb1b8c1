/**
 * Order-by-order comparison of two `Books` (validation against the node's snapshot).
 *
 * @module
 */
import type { Books } from "./books.ts";
import type { Order, OrderBook } from "./order_book.ts";
import type { Coin, L4Order, Side } from "./types.ts";

/** The first difference between two books. */
export interface BookMismatch {
  readonly coin: Coin;
  /** null when the difference is not tied to one side. */
  readonly side: Side | null;
  /** Position of the differing order within its side (best first, FIFO). */
  readonly index: number;
  readonly expected: L4Order | null;
  readonly actual: L4Order | null;
  readonly message: string;
}

function sameOrder(a: Order, b: Order): boolean {
  return a.oid === b.oid && a.user === b.user && a.level.px === b.level.px && a.szInt === b.szInt &&
    a.szFrac === b.szFrac;
}

/**
 * The first differing order of two books (coins in sorted order, bids then asks, priority order), or null when
 * they hold the same orders (oid, user, px, sz, side, order within level). An empty book equals an absent one.
 */
export function compareBooks(expected: Books, actual: Books): BookMismatch | null {
  const coins = [...new Set([...expected.coins(), ...actual.coins()])].sort();
  for (const coin of coins) {
    const e = expected.book(coin);
    const a = actual.book(coin);
    for (const side of ["B", "A"] as const) {
      const ei = e?.ordersOf(side);
      const ai = a?.ordersOf(side);
      for (let index = 0;; index++) {
        const eo = ei?.next();
        const ao = ai?.next();
        const ev = eo === undefined || eo.done ? null : eo.value;
        const av = ao === undefined || ao.done ? null : ao.value;
        if (ev === null && av === null) break;
        if (ev !== null && av !== null && sameOrder(ev, av)) continue;
        const expectedL4 = ev === null ? null : (e as OrderBook).toL4(ev);
        const actualL4 = av === null ? null : (a as OrderBook).toL4(av);
        return {
          coin,
          side,
          index,
          expected: expectedL4,
          actual: actualL4,
          message: `${coin} ${side === "B" ? "bids" : "asks"}[${index}]: expected ${
            describe(expectedL4)
          }, got ${describe(actualL4)}`,
        };
      }
    }
  }
  return null;
}

function describe(o: L4Order | null): string {
  return o === null ? "no order" : `oid ${o.oid} ${o.user} ${o.side} ${o.limitPx} × ${o.sz}`;
}
