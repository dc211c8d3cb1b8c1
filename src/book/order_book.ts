/**
 * One coin's L4 book: price levels per side (sorted array, best level last, plus a px → level map), each level
 * a FIFO doubly linked list of orders with its aggregate size and count kept incrementally; oid → order map.
 *
 * Internal to `src/book`: the public surface is `Books` in `books.ts`.
 *
 * @module
 */
import { digitCount, formatPx, formatSz, POW10, SCALE } from "./decimal.ts";
import { NumMap } from "./_num_map.ts";
import type { Coin, L4Order, Oid, Side } from "./types.ts";

/** Bit flags of an order's booleans. */
export const FLAG_TPSL = 1;
export const FLAG_REDUCE_ONLY = 2;
export const FLAG_TRIGGER = 4;

/** The order fields most orders share (interned: one object per distinct combination). */
export class Traits {
  constructor(
    readonly tif: string | null,
    readonly orderType: string,
    readonly triggerCondition: string,
    readonly triggerPx: string,
    /** FLAG_* bits. */
    readonly flags: number,
  ) {}
}

/** A resting order. Strings that repeat (user, limitPx) and the shared `traits` are interned by the caller. */
export class Order {
  prev: Order | null = null;
  next: Order | null = null;
  constructor(
    readonly oid: Oid,
    readonly user: string,
    public level: Level,
    public szInt: number,
    public szFrac: number,
    readonly timestamp: number,
    /** The order's limitPx when it differs from its level's px string, else null. */
    readonly limitPx: string | null,
    readonly traits: Traits,
    readonly cloid: string | null,
  ) {}
}

/** A price level: FIFO list of orders with aggregates over its non-zero-size orders. */
export class Level {
  head: Order | null = null;
  tail: Order | null = null;
  /** All orders, zero-size ones included. */
  count = 0;
  /** Orders with a non-zero size (the L2 `n`). */
  n = 0;
  szInt = 0;
  szFrac = 0;
  /** Cached `formatSz(szInt, szFrac)`, null when stale. */
  szStr: string | null = null;
  /** Epoch of the last block that touched this level (see `Books.applyBlock`). */
  touched = 0;
  /** Occurrences of this level in the current block's touched list (see `Books.applyBlock`). */
  occ = 0;
  /** True once replaced by a new level at its px (an empty level revived with another px spelling). */
  dropped = false;
  constructor(readonly side: Side, readonly px: number, readonly pxStr: string) {}

  /** The aggregate size, node style. */
  sz(): string {
    return this.szStr ??= formatSz(this.szInt, this.szFrac);
  }

  addSz(int: number, frac: number): void {
    let f = this.szFrac + frac;
    let i = this.szInt + int;
    if (f >= SCALE) {
      f -= SCALE;
      i += 1;
    }
    this.szInt = i;
    this.szFrac = f;
    this.szStr = null;
  }

  subSz(int: number, frac: number): void {
    let f = this.szFrac - frac;
    let i = this.szInt - int;
    if (f < 0) {
      f += SCALE;
      i -= 1;
    }
    this.szInt = i;
    this.szFrac = f;
    this.szStr = null;
  }
}

/** Aggregate of one L2 bucket of a coarse view. */
export class Bucket {
  szInt = 0;
  szFrac = 0;
  n = 0;
  /** Cached strings (the size one is reset on every change). */
  pxStr: string | null = null;
  szStr: string | null = null;
  constructor(readonly px: number) {}

  /** The wire level of this bucket. */
  level(): { px: string; sz: string; n: number } {
    return {
      px: this.pxStr ??= formatPx(this.px),
      sz: this.szStr ??= formatSz(this.szInt, this.szFrac),
      n: this.n,
    };
  }
}

/**
 * Incrementally maintained buckets of one coarse view (`nSigFigs`, mantissa) of one side, so a bucketed top-N
 * costs O(N) instead of a scan over every level the buckets cover. Built on first use, then updated on every
 * change of a level aggregate.
 */
export class BucketIndex {
  /** Buckets with n > 0, worst first, best last. */
  readonly buckets: Bucket[] = [];
  readonly byPx: NumMap<Bucket> = new NumMap();
  constructor(readonly isBid: boolean, readonly nSigFigs: number, readonly mantissa: number) {}

  /** Adds (sign 1) or subtracts (sign -1) a level aggregate contribution at price `px`. */
  add(px: number, int: number, frac: number, n: number, sign: number): void {
    const key = bucketOf(px, this.isBid, this.nSigFigs, this.mantissa);
    let b = this.byPx.get(key);
    if (b === undefined) {
      b = new Bucket(key);
      this.byPx.set(key, b);
      const buckets = this.buckets;
      const last = buckets.length - 1;
      if (last < 0 || (this.isBid ? key > buckets[last].px : key < buckets[last].px)) buckets.push(b);
      else buckets.splice(this.#indexFor(key), 0, b);
    }
    if (sign > 0) {
      let f = b.szFrac + frac;
      let i = b.szInt + int;
      if (f >= SCALE) {
        f -= SCALE;
        i += 1;
      }
      b.szInt = i;
      b.szFrac = f;
      b.szStr = null;
      b.n += n;
    } else {
      let f = b.szFrac - frac;
      let i = b.szInt - int;
      if (f < 0) {
        f += SCALE;
        i -= 1;
      }
      b.szInt = i;
      b.szFrac = f;
      b.szStr = null;
      b.n -= n;
      if (b.n === 0) {
        this.byPx.delete(key);
        const buckets = this.buckets;
        if (buckets[buckets.length - 1] === b) buckets.pop();
        else buckets.splice(this.#indexFor(key), 1);
      }
    }
  }

  #indexFor(px: number): number {
    const buckets = this.buckets;
    let lo = 0;
    let hi = buckets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.isBid ? buckets[mid].px < px : buckets[mid].px > px) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The bucket price (1e-8 units) of `px`: `m·10^max(0, digits−s)` buckets, bids down, asks up. */
export function bucketOf(px: number, isBid: boolean, nSigFigs: number, mantissa: number): number {
  const p = digitCount(px) - nSigFigs;
  const inc = mantissa * POW10[p > 0 ? p : 0];
  const r = px % inc;
  if (r === 0) return px;
  return isBid ? px - r : px - r + inc;
}

/**
 * One side of a book: levels sorted worst → best (best last, so top-of-book inserts are cheap).
 *
 * A level whose last order leaves stays in `levels` and `byPx` as an empty level (count 0) and is revived by
 * the next order at its price: the sorted-array splice is paid only when `compact` drops the empty levels
 * (between blocks, amortised). Every reader skips levels with n = 0, so empty levels are invisible.
 */
export class BookSide {
  /** Worst first, best last; may contain empty levels (count 0). */
  readonly levels: Level[] = [];
  readonly byPx: NumMap<Level> = new NumMap();
  /** Coarse views in use (built on first request). */
  readonly indexes: BucketIndex[] = [];
  /** Levels emptied since the last `compact` (an upper bound of the empty levels: revivals are not counted). */
  emptied = 0;
  constructor(readonly side: Side) {}

  /** Drops the empty levels when they are many (amortised O(1) per emptied level). */
  compactIfNeeded(): void {
    if (this.emptied < 32 || this.emptied * 8 < this.levels.length) return;
    this.compact();
  }

  /** Drops every empty level from `levels` and `byPx`. */
  compact(): void {
    const levels = this.levels;
    let j = 0;
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i];
      if (level.count === 0) this.byPx.delete(level.px);
      else levels[j++] = level;
    }
    levels.length = j;
    this.emptied = 0;
  }

  /** The maintained buckets of a coarse view, built from the levels on first use. */
  bucketIndex(nSigFigs: number, mantissa: number): BucketIndex {
    for (const index of this.indexes) {
      if (index.nSigFigs === nSigFigs && index.mantissa === mantissa) return index;
    }
    const index = new BucketIndex(this.side === "B", nSigFigs, mantissa);
    for (const level of this.levels) {
      if (level.n > 0) index.add(level.px, level.szInt, level.szFrac, level.n, 1);
    }
    this.indexes.push(index);
    return index;
  }

  /** Feeds a level aggregate change to the coarse views. */
  delta(px: number, int: number, frac: number, n: number, sign: number): void {
    const indexes = this.indexes;
    for (let i = 0; i < indexes.length; i++) indexes[i].add(px, int, frac, n, sign);
  }

  /** Index at which a level with price `px` belongs in `levels`. */
  indexFor(px: number): number {
    const levels = this.levels;
    let lo = 0;
    let hi = levels.length;
    if (this.side === "B") {
      // ascending px
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (levels[mid].px < px) lo = mid + 1;
        else hi = mid;
      }
    } else {
      // descending px
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (levels[mid].px > px) lo = mid + 1;
        else hi = mid;
      }
    }
    return lo;
  }

  /** Puts an (empty or re-used) level into the sorted array and the map. */
  insertLevel(level: Level): void {
    const levels = this.levels;
    const last = levels.length - 1;
    // Fast path: a new best level.
    if (last < 0 || (this.side === "B" ? level.px > levels[last].px : level.px < levels[last].px)) {
      levels.push(level);
    } else {
      levels.splice(this.indexFor(level.px), 0, level);
    }
    this.byPx.set(level.px, level);
  }

  deleteLevel(level: Level): void {
    const levels = this.levels;
    const last = levels.length - 1;
    if (levels[last] === level) levels.pop();
    else levels.splice(this.indexFor(level.px), 1);
    this.byPx.delete(level.px);
  }

  /** The best level with at least one non-zero-size order, or null. */
  best(): Level | null {
    const levels = this.levels;
    for (let i = levels.length - 1; i >= 0; i--) {
      if (levels[i].n > 0) return levels[i];
    }
    return null;
  }
}

/** One coin's L4 book. */
export class OrderBook {
  readonly bids: BookSide = new BookSide("B");
  readonly asks: BookSide = new BookSide("A");
  readonly orders: NumMap<Order>;
  /** Levels dropped by `levelFor` so far (see `Level.dropped`). */
  drops = 0;
  /** `capacity`: expected number of orders (sizes the oid table up front). */
  constructor(readonly coin: Coin, capacity = 16) {
    this.orders = new NumMap(capacity);
  }

  sideOf(side: Side): BookSide {
    return side === "B" ? this.bids : this.asks;
  }

  /** The level at `px` on `side`, created (and inserted) if absent; an empty level is revived. */
  levelFor(side: Side, px: number, pxStr: string | null): Level {
    const bookSide = side === "B" ? this.bids : this.asks;
    let level = bookSide.byPx.get(px);
    if (level === undefined) {
      level = new Level(side, px, pxStr ?? formatPx(px));
      bookSide.insertLevel(level);
    } else if (level.count === 0 && pxStr !== null && level.pxStr !== pxStr) {
      // Revived with another spelling of its px: a new level carrying the diff's px string (rare).
      bookSide.deleteLevel(level);
      level.dropped = true;
      this.drops++;
      level = new Level(side, px, pxStr);
      bookSide.insertLevel(level);
    }
    return level;
  }

  /** Links `order` into its level: at the back, or immediately before `before` (same level). */
  link(order: Order, before: Order | null): void {
    const level = order.level;
    if (before === null) {
      const tail = level.tail;
      order.prev = tail;
      order.next = null;
      if (tail === null) level.head = order;
      else tail.next = order;
      level.tail = order;
    } else {
      const prev = before.prev;
      order.prev = prev;
      order.next = before;
      before.prev = order;
      if (prev === null) level.head = order;
      else prev.next = order;
    }
    this.account(order, level);
  }

  /** Links `order` immediately after `after` (null = at the front); used by rollback. */
  linkAfter(order: Order, after: Order | null): void {
    const level = order.level;
    if (after === null) {
      const head = level.head;
      order.prev = null;
      order.next = head;
      if (head === null) level.tail = order;
      else head.prev = order;
      level.head = order;
    } else {
      const next = after.next;
      order.prev = after;
      order.next = next;
      after.next = order;
      if (next === null) level.tail = order;
      else next.prev = order;
    }
    this.account(order, level);
  }

  private account(order: Order, level: Level): void {
    level.count++;
    if (order.szInt !== 0 || order.szFrac !== 0) {
      level.n++;
      level.addSz(order.szInt, order.szFrac);
      const side = level.side === "B" ? this.bids : this.asks;
      if (side.indexes.length !== 0) side.delta(level.px, order.szInt, order.szFrac, 1, 1);
    }
    this.orders.set(order.oid, order);
  }

  /** Unlinks `order`; its level stays (empty) when it was the last order (see `BookSide`). */
  unlink(order: Order): void {
    const level = order.level;
    const prev = order.prev;
    const next = order.next;
    if (prev === null) level.head = next;
    else prev.next = next;
    if (next === null) level.tail = prev;
    else next.prev = prev;
    order.prev = null;
    order.next = null;
    level.count--;
    if (order.szInt !== 0 || order.szFrac !== 0) {
      level.n--;
      level.subSz(order.szInt, order.szFrac);
      const side = level.side === "B" ? this.bids : this.asks;
      if (side.indexes.length !== 0) side.delta(level.px, order.szInt, order.szFrac, 1, -1);
    }
    this.orders.delete(order.oid);
    if (level.count === 0) this.sideOf(level.side).emptied++;
  }

  /** Sets a resting order's size in place (it keeps its priority). */
  resize(order: Order, int: number, frac: number): void {
    const level = order.level;
    const wasLive = order.szInt !== 0 || order.szFrac !== 0;
    const isLive = int !== 0 || frac !== 0;
    if (wasLive) level.subSz(order.szInt, order.szFrac);
    if (isLive) level.addSz(int, frac);
    if (wasLive !== isLive) level.n += isLive ? 1 : -1;
    const side = level.side === "B" ? this.bids : this.asks;
    if (side.indexes.length !== 0) {
      // Add before subtracting so a bucket whose count stays positive is never dropped and re-created.
      if (isLive) side.delta(level.px, int, frac, 1, 1);
      if (wasLive) side.delta(level.px, order.szInt, order.szFrac, 1, -1);
    }
    order.szInt = int;
    order.szFrac = frac;
  }

  /** Number of resting orders (zero-size ones included). */
  get size(): number {
    return this.orders.size;
  }

  /** True when the book has no order. */
  isEmpty(): boolean {
    return this.orders.size === 0;
  }

  /** Deep copy (strings shared). */
  clone(): OrderBook {
    const copy = new OrderBook(this.coin, this.orders.size);
    for (const [from, to] of [[this.bids, copy.bids], [this.asks, copy.asks]] as const) {
      for (const level of from.levels) {
        if (level.count === 0) continue;
        const l = new Level(level.side, level.px, level.pxStr);
        l.count = level.count;
        l.n = level.n;
        l.szInt = level.szInt;
        l.szFrac = level.szFrac;
        l.szStr = level.szStr;
        let prev: Order | null = null;
        for (let o = level.head; o !== null; o = o.next) {
          const c = new Order(
            o.oid,
            o.user,
            l,
            o.szInt,
            o.szFrac,
            o.timestamp,
            o.limitPx,
            o.traits,
            o.cloid,
          );
          c.prev = prev;
          if (prev === null) l.head = c;
          else prev.next = c;
          prev = c;
          copy.orders.set(c.oid, c);
        }
        l.tail = prev;
        to.levels.push(l);
        to.byPx.set(l.px, l);
      }
    }
    return copy;
  }

  /** The side's orders in priority order (best level first, FIFO within a level). */
  *ordersOf(side: Side): Generator<Order> {
    const levels = this.sideOf(side).levels;
    for (let i = levels.length - 1; i >= 0; i--) {
      for (let o = levels[i].head; o !== null; o = o.next) yield o;
    }
  }

  /** The L4 shape of a resting order. */
  toL4(o: Order): L4Order {
    const level = o.level;
    const t = o.traits;
    return {
      user: o.user,
      coin: this.coin,
      side: level.side,
      limitPx: o.limitPx ?? level.pxStr,
      sz: formatSz(o.szInt, o.szFrac),
      oid: o.oid,
      timestamp: o.timestamp,
      triggerCondition: t.triggerCondition,
      isTrigger: (t.flags & FLAG_TRIGGER) !== 0,
      triggerPx: t.triggerPx,
      isPositionTpsl: (t.flags & FLAG_TPSL) !== 0,
      reduceOnly: (t.flags & FLAG_REDUCE_ONLY) !== 0,
      orderType: t.orderType,
      tif: t.tif,
      cloid: o.cloid,
    };
  }
}
