/**
 * Which resting orders belong to which user, for `openOrders`, `frontendOpenOrders` and `orderStatus` without a
 * scan of every book: user → (oid → coin), kept from the blocks' `new` and `remove` diffs (O(diffs) per block)
 * and rebuilt from the books on every reset (O(orders), once).
 *
 * The book does not keep an order's original size; the index remembers it from the status that put the order in
 * the book. Orders that were already resting in the start-up snapshot report their size in that snapshot (the
 * book keeps no more): exact unless they had been partly filled before hlbook started.
 *
 * @module
 */
import { type Books, formatSz } from "../book/mod.ts";
import type { BookDiff, Coin, L4Order, Oid } from "../book/types.ts";

/** A resting order with its original size. */
export interface RestingOrder {
  readonly order: L4Order;
  readonly origSz: string;
}

/** user → resting orders index. */
export class OpenOrderIndex {
  readonly #byUser = new Map<string, Map<Oid, Coin>>();
  readonly #origSz = new Map<Oid, string>();

  /** Rebuilds the index from a fresh book (bootstrap or re-sync). */
  reset(books: Books): void {
    this.#byUser.clear();
    const known = new Map(this.#origSz);
    this.#origSz.clear();
    for (const coin of books.coins()) {
      const book = books.book(coin);
      if (book === undefined) continue;
      for (const side of ["B", "A"] as const) {
        for (const o of book.ordersOf(side)) {
          this.#add(o.user, o.oid, coin);
          this.#origSz.set(o.oid, known.get(o.oid) ?? formatSz(o.szInt, o.szFrac));
        }
      }
    }
  }

  /** Applies one block's diffs (the books have applied it already). */
  block(diff: BookDiff): void {
    for (const [coin, coinDiff] of diff.coins) {
      let inserted: Map<Oid, string> | null = null;
      for (const d of coinDiff.diffs) {
        const raw = d.raw_book_diff;
        if (raw === "remove") {
          this.#delete(d.user, d.oid);
        } else if ("new" in raw) {
          if (inserted === null) {
            inserted = new Map();
            for (const st of coinDiff.statuses) {
              if (!("raw" in st)) inserted.set(st.order.oid, st.order.origSz ?? st.order.sz);
            }
          }
          this.#add(d.user, d.oid, coin);
          this.#origSz.set(d.oid, inserted.get(d.oid) ?? raw.new.sz);
        }
      }
    }
  }

  /** The user's resting orders (zero-size ones left out), newest oid first; `dex` "" = coins without a prefix. */
  orders(books: Books, user: string, dex: string): RestingOrder[] {
    const mine = this.#byUser.get(user);
    if (mine === undefined) return [];
    const out: RestingOrder[] = [];
    for (const [oid, coin] of mine) {
      if (!inDex(coin, dex)) continue;
      const found = this.order(books, user, oid, coin);
      if (found !== null && found.order.sz !== "0.0") out.push(found);
    }
    return out.sort((a, b) => b.order.oid - a.order.oid);
  }

  /** One resting order of the user, or null. */
  order(books: Books, user: string, oid: Oid, coin = this.#byUser.get(user)?.get(oid)): RestingOrder | null {
    if (coin === undefined) return null;
    const book = books.book(coin);
    const o = book?.orders.get(oid);
    if (book === undefined || o === undefined || o.user !== user) return null;
    const order = book.toL4(o);
    return { order, origSz: this.#origSz.get(oid) ?? order.sz };
  }

  /** The user's resting order with this cloid, or null. */
  byCloid(books: Books, user: string, cloid: string): RestingOrder | null {
    const mine = this.#byUser.get(user);
    if (mine === undefined) return null;
    for (const [oid, coin] of mine) {
      const found = this.order(books, user, oid, coin);
      if (found !== null && found.order.cloid?.toLowerCase() === cloid) return found;
    }
    return null;
  }

  #add(user: string, oid: Oid, coin: Coin): void {
    let mine = this.#byUser.get(user);
    if (mine === undefined) this.#byUser.set(user, mine = new Map());
    mine.set(oid, coin);
  }

  #delete(user: string, oid: Oid): void {
    this.#origSz.delete(oid);
    const mine = this.#byUser.get(user);
    if (mine === undefined) return;
    mine.delete(oid);
    if (mine.size === 0) this.#byUser.delete(user);
  }
}

/** Whether a coin belongs to a dex: "" = the main dex (perps and spot without a `dex:` prefix). */
function inDex(coin: Coin, dex: string): boolean {
  const colon = coin.indexOf(":");
  return dex === "" ? colon < 0 : colon === dex.length && coin.startsWith(dex);
}
