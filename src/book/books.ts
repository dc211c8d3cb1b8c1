/**
 * All coins' L4 books: snapshot load and export, atomic per-block apply with a per-block diff, views.
 *
 * @module
 */
import { formatMid, formatSz, parsePx, parseSzInto, type Sz } from "./decimal.ts";
import { insertsOrder } from "./status.ts";
import { parseNodeTime } from "./time.ts";
import { l2Levels } from "./l2.ts";
import { NumMap } from "./_num_map.ts";
import type { OrderColumns } from "./snapshot_columns.ts";
import { FLAG_REDUCE_ONLY, FLAG_TPSL, FLAG_TRIGGER, Level, Order, OrderBook, Traits } from "./order_book.ts";
import type {
  ApplyResult,
  BlockInput,
  BookDiffEvent,
  BookError,
  Coin,
  CoinDiff,
  L2Levels,
  L2Params,
  L4Order,
  Level as WireLevel,
  LevelChange,
  NodeOrder,
  OrderStatusEvent,
  SnapshotFile,
  StatusEvent,
} from "./types.ts";

/** Users whose orders never get an order status (HIP-2 market making, Assistance Fund). */
export const STATUSLESS_USERS: ReadonlySet<string> = new Set([
  "0xffffffffffffffffffffffffffffffffffffffff",
  "0xfefefefefefefefefefefefefefefefefefefefe",
]);

/** Orders between two yields of `Books.loadSnapshot`. */
export const LOAD_CHUNK = 20_000;

/** A snapshot being loaded piece by piece: see `Books.startLoad`. */
export interface SnapshotLoad {
  /** Starts the next coin's book (ends the previous one). */
  startCoin(coin: Coin): void;
  /** Appends orders to a side (0 = bids, 1 = asks) of the current coin, in priority order. */
  addOrders(side: 0 | 1, orders: ReadonlyArray<readonly [string, NodeOrder]>): void;
  /** Same as `addOrders`, for orders already checked and converted by the snapshot reader. */
  addColumns(side: 0 | 1, columns: OrderColumns): void;
  /** Ends the current coin (sorts its levels). */
  endCoin(): void;
  /** Ends the load: the books, at the snapshot's height. */
  finish(): Books;
}

/** Thrown by `Books.fromSnapshot` / `loadSnapshot` / `startLoad` when the snapshot file is inconsistent. */
export class SnapshotLoadError extends Error {
  constructor(message: string, readonly coin?: Coin, readonly oid?: number) {
    super(message);
    this.name = "SnapshotLoadError";
  }
}

/** Undo kinds (see `Books.#undoKind`). */
const UNDO_NEW = 0; // unlink the order
const UNDO_REMOVE = 1; // relink the order after `#undoAfter`
const UNDO_UPDATE = 2; // restore the size `#undoInt`/`#undoFrac`
const UNDO_BOOK = 3; // delete the created book of `#undoBook[i].coin`

/** Per-coin scratch of one block. */
interface CoinWork {
  readonly coin: Coin;
  /** The coin's book, once known (cached so diffs skip the coin map). */
  book: OrderBook | undefined;
  /** `book.drops` when the block first used the book. */
  drops: number;
  readonly statuses: StatusEvent[];
  readonly diffs: BookDiffEvent[];
  /** Levels touched by the block (each level object once; see `Level.touched`). */
  readonly touched: Level[];
}

const szA: Sz = { int: 0, frac: 0 };
const szB: Sz = { int: 0, frac: 0 };

/**
 * Every coin's L4 book. `new Books()` is empty at height 0, which means "no height yet": its first block may
 * have any height; after that each block must be exactly `height + 1`.
 */
export class Books {
  #books = new Map<Coin, OrderBook>();
  #height = 0;
  #time = 0;
  /** Interned repeated strings (users, tif, orderType, triggerCondition…). */
  #strings = new Map<string, string>();
  /** The last string `#intern` returned. */
  #lastInterned = "";
  /** Interned order traits by their fields. */
  #traits = new Map<string, Traits>();
  #lastTraits: Traits | null = null;
  /**
   * Undo log of the current block as parallel arrays (no allocation per event once warm): entry i has kind
   * `#undoKind[i]`, book `#undoBook[i]`, order `#undoOrder[i]` and, per kind, `#undoAfter[i]` or
   * `#undoInt[i]`/`#undoFrac[i]`. Only entries below `#undoLen` are live.
   */
  #undoLen = 0;
  #undoKind: number[] = [];
  #undoBook: OrderBook[] = [];
  #undoOrder: (Order | null)[] = [];
  #undoAfter: (Order | null)[] = [];
  #undoInt: number[] = [];
  #undoFrac: number[] = [];
  /** The current block's inserting statuses by oid (emptied after each block). */
  #inserting = new NumMap<OrderStatusEvent>(1024);
  #insertingOids: number[] = [];
  /** Counts applied blocks; marks touched levels. */
  #epoch = 0;

  /** Empty books, height 0. */
  constructor() {}

  /** Books from a node `l4Snapshots` file (trigger orders excluded, priority kept). */
  static fromSnapshot(file: SnapshotFile): Books {
    const gen = Books.loadSnapshot(file);
    for (;;) {
      const r = gen.next();
      if (r.done) return r.value;
    }
  }

  /** Same as `fromSnapshot`, yielding every ~20k orders so the caller can let the event loop run. */
  static *loadSnapshot(file: SnapshotFile): Generator<void, Books> {
    if (!Array.isArray(file) || typeof file[0] !== "number" || !Array.isArray(file[1])) {
      throw new SnapshotLoadError("snapshot must be [height, [[coin, [bids, asks]], …]]");
    }
    const load = Books.startLoad(file[0]);
    let sinceYield = 0;
    for (const entry of file[1]) {
      const coin = entry[0];
      if (typeof coin !== "string" || !Array.isArray(entry[1])) {
        throw new SnapshotLoadError(`snapshot entry must be [coin, [bids, asks]], got ${String(coin)}`);
      }
      load.startCoin(coin);
      for (let s = 0; s < 2; s++) {
        const list = entry[1][s];
        if (!Array.isArray(list)) {
          throw new SnapshotLoadError(`coin ${coin}: side ${s === 0 ? "B" : "A"} is not a list`, coin);
        }
        for (let at = 0; at < list.length; at += LOAD_CHUNK) {
          const part = at === 0 && list.length <= LOAD_CHUNK ? list : list.slice(at, at + LOAD_CHUNK);
          load.addOrders(s as 0 | 1, part);
          sinceYield += part.length;
          if (sinceYield >= LOAD_CHUNK) {
            sinceYield = 0;
            yield;
          }
        }
      }
      load.endCoin();
    }
    return load.finish();
  }

  /**
   * Loads a snapshot piece by piece as it is read (see `readSnapshot` in src/node): coins in any order, each
   * coin's bids then asks in priority order, in as many pieces as wanted. Throws `SnapshotLoadError` on an
   * inconsistent snapshot; the books are not usable after that.
   */
  static startLoad(height: number): SnapshotLoad {
    const books = new Books();
    books.#height = height;
    let book: OrderBook | null = null;
    // The few trait combinations of a book recur in any order (Gtc, Alo, Gtc…): the last ones are compared
    // before `#traitsOf` builds a key to look one up.
    const recent: Traits[] = [];
    let replace = 0;
    const traitsOf = (
      tif: string | null,
      orderType: string,
      triggerCondition: string,
      triggerPx: string,
      flags: number,
    ): Traits => {
      for (let r = 0; r < recent.length; r++) {
        const t = recent[r];
        if (
          t.flags === flags && t.tif === tif && t.orderType === orderType &&
          t.triggerCondition === triggerCondition && t.triggerPx === triggerPx
        ) return t;
      }
      const t = books.#traitsOf(tif, orderType, triggerCondition, triggerPx, flags);
      if (recent.length < 8) recent.push(t);
      else recent[replace++ & 7] = t;
      return t;
    };
    const load: SnapshotLoad = {
      startCoin(coin: Coin): void {
        if (book !== null) load.endCoin();
        if (books.#books.has(coin)) {
          throw new SnapshotLoadError(`coin ${coin} appears twice in the snapshot`, coin);
        }
        book = new OrderBook(coin);
        books.#books.set(coin, book);
      },
      addOrders(s: 0 | 1, list: ReadonlyArray<readonly [string, NodeOrder]>): void {
        if (book === null) throw new SnapshotLoadError("snapshot orders before their coin");
        const coin = book.coin;
        const side = s === 0 ? "B" : "A";
        const bookSide = book.sideOf(side);
        // Levels are collected unsorted and sorted once at the end of the coin.
        for (let k = 0; k < list.length; k++) {
          const pair = list[k];
          const user = pair[0];
          const o = pair[1];
          if (o.isTrigger) continue;
          const oid = o.oid;
          if (typeof oid !== "number" || typeof user !== "string") {
            throw new SnapshotLoadError(`coin ${coin}: order without oid/user`, coin);
          }
          if (o.side !== side) {
            throw new SnapshotLoadError(
              `coin ${coin} oid ${oid}: side ${o.side} listed under ${side}`,
              coin,
              oid,
            );
          }
          if (book.orders.has(oid)) {
            throw new SnapshotLoadError(`coin ${coin}: oid ${oid} appears twice`, coin, oid);
          }
          const px = parsePx(o.limitPx);
          if (Number.isNaN(px)) {
            throw new SnapshotLoadError(`coin ${coin} oid ${oid}: bad limitPx ${o.limitPx}`, coin, oid);
          }
          if (!parseSzInto(o.sz, szA)) {
            throw new SnapshotLoadError(`coin ${coin} oid ${oid}: bad sz ${o.sz}`, coin, oid);
          }
          let level = bookSide.byPx.get(px);
          if (level === undefined) {
            level = new Level(side, px, o.limitPx);
            bookSide.byPx.set(px, level);
            bookSide.levels.push(level);
          }
          book.link(books.#makeOrder(user, o, level, szA, o.timestamp, o.limitPx), null);
        }
      },
      addColumns(s: 0 | 1, c: OrderColumns): void {
        if (book === null) throw new SnapshotLoadError("snapshot orders before their coin");
        const coin = book.coin;
        const side = s === 0 ? "B" : "A";
        const bookSide = book.sideOf(side);
        const orders = book.orders;
        // The same checks, in the same order, as `addOrders` (the reader has done the rest: see OrderColumns).
        for (let k = 0; k < c.count; k++) {
          const flags = c.flags[k];
          if ((flags & FLAG_TRIGGER) !== 0) continue;
          const oid = c.oids[k];
          if (c.sides[k] !== side) {
            throw new SnapshotLoadError(
              `coin ${coin} oid ${oid}: side ${c.sides[k]} listed under ${side}`,
              coin,
              oid,
            );
          }
          if (orders.has(oid)) {
            throw new SnapshotLoadError(`coin ${coin}: oid ${oid} appears twice`, coin, oid);
          }
          const px = c.pxs[k];
          const limitPx = c.limitPxs[k];
          let level = bookSide.byPx.get(px);
          if (level === undefined) {
            level = new Level(side, px, limitPx);
            bookSide.byPx.set(px, level);
            bookSide.levels.push(level);
          }
          book.link(
            new Order(
              oid,
              books.#intern(c.users[k]),
              level,
              c.szInts[k],
              c.szFracs[k],
              c.timestamps[k],
              limitPx === level.pxStr ? null : books.#intern(limitPx),
              traitsOf(c.tifs[k], c.orderTypes[k], c.triggerConditions[k], c.triggerPxs[k], flags),
              c.cloids[k],
            ),
            null,
          );
        }
      },
      endCoin(): void {
        if (book === null) return;
        book.bids.levels.sort((a, b) => a.px - b.px);
        book.asks.levels.sort((a, b) => b.px - a.px);
        book = null;
      },
      finish(): Books {
        load.endCoin();
        return books;
      },
    };
    return load;
  }

  #intern(s: string): string {
    // Runs of one user are common: a string compare is cheaper than hashing a fresh 42-char string.
    if (s === this.#lastInterned) return this.#lastInterned;
    let hit = this.#strings.get(s);
    if (hit === undefined) {
      this.#strings.set(s, s);
      hit = s;
    }
    this.#lastInterned = hit;
    return hit;
  }

  /** The shared `Traits` object of a combination (the last one is checked first: runs are common). */
  #traitsOf(
    tif: string | null,
    orderType: string,
    triggerCondition: string,
    triggerPx: string,
    flags: number,
  ): Traits {
    const last = this.#lastTraits;
    if (
      last !== null && last.tif === tif && last.orderType === orderType &&
      last.triggerCondition === triggerCondition &&
      last.triggerPx === triggerPx && last.flags === flags
    ) return last;
    const key = `${tif}\u0000${orderType}\u0000${triggerCondition}\u0000${triggerPx}\u0000${flags}`;
    let t = this.#traits.get(key);
    if (t === undefined) {
      t = new Traits(
        tif === null ? null : this.#intern(tif),
        this.#intern(orderType),
        this.#intern(triggerCondition),
        this.#intern(triggerPx),
        flags,
      );
      this.#traits.set(key, t);
    }
    this.#lastTraits = t;
    return t;
  }

  #makeOrder(user: string, o: NodeOrder, level: Level, sz: Sz, timestamp: number, limitPx: string): Order {
    const flags = (o.isPositionTpsl ? FLAG_TPSL : 0) | (o.reduceOnly ? FLAG_REDUCE_ONLY : 0) |
      (o.isTrigger ? FLAG_TRIGGER : 0);
    return new Order(
      o.oid,
      this.#intern(user),
      level,
      sz.int,
      sz.frac,
      timestamp,
      limitPx === level.pxStr ? null : this.#intern(limitPx),
      this.#traitsOf(o.tif, o.orderType, o.triggerCondition, o.triggerPx, flags),
      o.cloid ?? null,
    );
  }

  /** Height of the last applied block (or of the snapshot); 0 = none yet. */
  get height(): number {
    return this.#height;
  }

  /** Time of the last applied block in ms (0 before the first block). */
  get time(): number {
    return this.#time;
  }

  /** Coins that have a book, sorted. */
  coins(): Coin[] {
    return [...this.#books.keys()].sort();
  }

  /** True when the coin has a book (possibly empty). */
  has(coin: Coin): boolean {
    return this.#books.has(coin);
  }

  /** The internal book of a coin (for views and comparison inside `src/book`). */
  book(coin: Coin): OrderBook | undefined {
    return this.#books.get(coin);
  }

  /** Number of resting orders of a coin, or of all coins. */
  orderCount(coin?: Coin): number {
    if (coin !== undefined) return this.#books.get(coin)?.size ?? 0;
    let n = 0;
    for (const book of this.#books.values()) n += book.size;
    return n;
  }

  /** Aggregated top levels (Hyperliquid bucketing); empty sides for an unknown coin. */
  l2(coin: Coin, params: L2Params): L2Levels {
    const book = this.#books.get(coin);
    return l2Levels(book?.bids, book?.asks, params);
  }

  /** Best bid and best ask levels (zero-size orders ignored). */
  bbo(coin: Coin): readonly [WireLevel | null, WireLevel | null] {
    const book = this.#books.get(coin);
    if (book === undefined) return [null, null];
    const b = book.bids.best();
    const a = book.asks.best();
    return [
      b === null ? null : { px: b.pxStr, sz: b.sz(), n: b.n },
      a === null ? null : { px: a.pxStr, sz: a.sz(), n: a.n },
    ];
  }

  /** `(best bid + best ask) / 2`, exact, node style; null when a side is empty. */
  mid(coin: Coin): string | null {
    const book = this.#books.get(coin);
    if (book === undefined) return null;
    const b = book.bids.best();
    const a = book.asks.best();
    return b === null || a === null ? null : formatMid(b.px, a.px);
  }

  /** A coin's orders: bids best first, asks best first, FIFO within a level. */
  l4(coin: Coin): readonly [readonly L4Order[], readonly L4Order[]] {
    const book = this.#books.get(coin);
    if (book === undefined) return [[], []];
    const bids: L4Order[] = [];
    const asks: L4Order[] = [];
    for (const o of book.ordersOf("B")) bids.push(book.toL4(o));
    for (const o of book.ordersOf("A")) asks.push(book.toL4(o));
    return [bids, asks];
  }

  /** Deep copy. */
  clone(): Books {
    const copy = new Books();
    copy.#height = this.#height;
    copy.#time = this.#time;
    copy.#strings = new Map(this.#strings);
    copy.#traits = new Map(this.#traits);
    for (const [coin, book] of this.#books) copy.#books.set(coin, book.clone());
    return copy;
  }

  /** The node's `l4Snapshots` shape `[height, [[coin, [bids, asks]]]]`, coins sorted, orders `[user, order]`. */
  toSnapshot(): SnapshotFile {
    const coins: [Coin, [[string, NodeOrder][], [string, NodeOrder][]]][] = [];
    for (const coin of this.coins()) {
      const book = this.#books.get(coin) as OrderBook;
      const sides: [[string, NodeOrder][], [string, NodeOrder][]] = [[], []];
      for (let s = 0; s < 2; s++) {
        for (const o of book.ordersOf(s === 0 ? "B" : "A")) {
          const { user, ...order } = book.toL4(o);
          sides[s].push([user, order]);
        }
      }
      coins.push([coin, sides]);
    }
    return [this.#height, coins];
  }

  /**
   * Applies one block atomically: on any inconsistency the books are left exactly as they were and the error
   * names the coin, oid and block. Cost O(events in the block).
   */
  applyBlock(block: BlockInput): ApplyResult {
    const height = block.height;
    if (this.#height !== 0 && height !== this.#height + 1) {
      return fail({
        kind: "heightMismatch",
        block: height,
        message: `block ${height} does not follow height ${this.#height} (expected ${this.#height + 1})`,
      });
    }
    const work = new Map<Coin, CoinWork>();
    const inserting = this.#inserting;
    const insertingOids = this.#insertingOids;
    const epoch = ++this.#epoch;
    // Events of one coin come in runs: remember the last coin's work to skip most map lookups.
    let lastW: CoinWork | null = null;
    const statuses = block.statuses;
    for (let i = 0; i < statuses.length; i++) {
      const st = statuses[i];
      const coin = st.order.coin;
      const w = lastW !== null && lastW.coin === coin ? lastW : (lastW = workFor(work, coin));
      w.statuses.push(st);
      if (insertsOrder(st)) {
        inserting.set(st.order.oid, st);
        insertingOids.push(st.order.oid);
      }
    }
    this.#undoLen = 0;
    const diffs = block.diffs;
    let error: BookError | null = null;
    for (let i = 0; i < diffs.length; i++) {
      const d = diffs[i];
      const coin = d.coin;
      const w = lastW !== null && lastW.coin === coin ? lastW : (lastW = workFor(work, coin));
      w.diffs.push(d);
      error = this.#applyDiff(d, w, inserting, block, epoch);
      if (error !== null) break;
    }
    for (let i = 0; i < insertingOids.length; i++) inserting.delete(insertingOids[i]);
    insertingOids.length = 0;
    if (error !== null) {
      this.#rollback();
      return fail(error);
    }
    // Drop the log's references so removed orders and levels can be collected.
    this.#undoOrder.fill(null, 0, this.#undoLen);
    this.#undoAfter.fill(null, 0, this.#undoLen);
    this.#undoLen = 0;
    this.#height = height;
    this.#time = block.time;
    const coins = new Map<Coin, CoinDiff>();
    for (const w of work.values()) {
      const levels: LevelChange[] = [];
      if (w.touched.length > 0) {
        const book = w.book as OrderBook;
        collectLevels(w.touched, book, epoch, book.drops !== w.drops, levels);
        book.bids.compactIfNeeded();
        book.asks.compactIfNeeded();
      }
      coins.set(w.coin, { coin: w.coin, levels, statuses: w.statuses, diffs: w.diffs });
    }
    return { ok: true, diff: { height, time: block.time, coins } };
  }

  #applyDiff(
    d: BookDiffEvent,
    w: CoinWork,
    inserting: NumMap<OrderStatusEvent>,
    block: BlockInput,
    epoch: number,
  ): BookError | null {
    const coin = d.coin;
    const oid = d.oid;
    const raw = d.raw_book_diff;
    let book = w.book;
    if (book === undefined) {
      book = w.book = this.#books.get(coin);
      if (book !== undefined) w.drops = book.drops;
    }
    if (raw === "remove") {
      const order = book?.orders.get(oid);
      if (book === undefined || order === undefined) {
        return diffError(block.height, d, "unknownOrder", "remove of an order not on the book");
      }
      if (!restsAt(order, d)) {
        return diffError(
          block.height,
          d,
          "unknownOrder",
          `remove at ${d.side} ${d.px} of an order resting elsewhere`,
        );
      }
      touch(w, order.level, epoch);
      this.#pushUndo(UNDO_REMOVE, book, order, order.prev, 0, 0);
      book.unlink(order);
      return null;
    }
    if (typeof raw !== "object" || raw === null) {
      return diffError(block.height, d, "badValue", `unknown raw_book_diff ${String(raw)}`);
    }
    if ("update" in raw) {
      const order = book?.orders.get(oid);
      if (book === undefined || order === undefined) {
        return diffError(block.height, d, "unknownOrder", "update of an order not on the book");
      }
      if (!restsAt(order, d)) {
        return diffError(
          block.height,
          d,
          "unknownOrder",
          `update at ${d.side} ${d.px} of an order resting elsewhere`,
        );
      }
      const u = raw.update;
      if (!parseSzInto(u.origSz, szA)) {
        return diffError(block.height, d, "badValue", `bad origSz ${String(u.origSz)}`);
      }
      if (!parseSzInto(u.newSz, szB)) {
        return diffError(block.height, d, "badValue", `bad newSz ${String(u.newSz)}`);
      }
      if (szA.int !== order.szInt || szA.frac !== order.szFrac) {
        return diffError(
          block.height,
          d,
          "sizeMismatch",
          `origSz ${u.origSz} != resting size ${formatSz(order.szInt, order.szFrac)}`,
        );
      }
      touch(w, order.level, epoch);
      this.#pushUndo(UNDO_UPDATE, book, order, null, order.szInt, order.szFrac);
      book.resize(order, szB.int, szB.frac);
      return null;
    }
    if (!("new" in raw)) {
      return diffError(block.height, d, "badValue", "raw_book_diff is none of new/update/remove");
    }
    const n = raw.new;
    if (book !== undefined && book.orders.has(oid)) {
      return diffError(block.height, d, "duplicateOrder", "new for an oid already resting");
    }
    if (d.side !== "B" && d.side !== "A") {
      return diffError(block.height, d, "badValue", `bad side ${String(d.side)}`);
    }
    const px = parsePx(d.px);
    if (Number.isNaN(px)) return diffError(block.height, d, "badValue", `bad px ${String(d.px)}`);
    if (!parseSzInto(n.sz, szA)) return diffError(block.height, d, "badValue", `bad sz ${String(n.sz)}`);
    let before: Order | null = null;
    const insertBefore = n.insertBefore;
    if (insertBefore !== undefined && insertBefore !== null) {
      const target = book?.orders.get(insertBefore);
      if (target === undefined || target.level.side !== d.side || target.level.px !== px) {
        return diffError(
          block.height,
          d,
          "badInsertBefore",
          `insertBefore ${insertBefore} is not resting at ${d.side} ${d.px}`,
        );
      }
      before = target;
    }
    const st = inserting.get(oid);
    let order: Order;
    let level: Level;
    if (st !== undefined && st.order.coin === coin) {
      if (book === undefined) book = w.book = this.#createBook(coin);
      level = book.levelFor(d.side, px, d.px);
      let timestamp = st.order.timestamp;
      if (st.status === "triggered") {
        timestamp = parseNodeTime(st.time);
        if (Number.isNaN(timestamp)) {
          // A level created here stays empty: invisible, dropped by a later compaction.
          return diffError(block.height, d, "badValue", `bad status time ${String(st.time)}`);
        }
        order = this.#triggered(st, level, timestamp);
      } else {
        order = this.#makeOrder(st.user, st.order, level, szA, timestamp, st.order.limitPx);
      }
    } else if (STATUSLESS_USERS.has(d.user)) {
      if (book === undefined) book = w.book = this.#createBook(coin);
      level = book.levelFor(d.side, px, d.px);
      order = new Order(
        oid,
        this.#intern(d.user),
        level,
        szA.int,
        szA.frac,
        block.time,
        null,
        this.#traitsOf("Alo", "Limit", "N/A", "0.0", 0),
        null,
      );
    } else {
      return diffError(
        block.height,
        d,
        "newWithoutStatus",
        "new without an inserting order status (open or triggered) in the block",
      );
    }
    if (level.count === 0 && level.touched === epoch) {
      // Revived after being emptied earlier in this block: it reports at this touch (see `collectLevels`).
      level.occ++;
      w.touched.push(level);
    } else touch(w, level, epoch);
    this.#pushUndo(UNDO_NEW, book, order, null, 0, 0);
    book.link(order, before);
    return null;
  }

  #triggered(st: OrderStatusEvent, level: Level, timestamp: number): Order {
    const o = st.order;
    const flags = (o.isPositionTpsl ? FLAG_TPSL : 0) | (o.reduceOnly ? FLAG_REDUCE_ONLY : 0);
    return new Order(
      o.oid,
      this.#intern(st.user),
      level,
      szA.int,
      szA.frac,
      timestamp,
      o.limitPx === level.pxStr ? null : this.#intern(o.limitPx),
      this.#traitsOf("Gtc", o.orderType, "Triggered", "0.0", flags),
      o.cloid ?? null,
    );
  }

  #createBook(coin: Coin): OrderBook {
    const book = new OrderBook(coin);
    this.#books.set(coin, book);
    this.#pushUndo(UNDO_BOOK, book, null, null, 0, 0);
    return book;
  }

  #pushUndo(
    kind: number,
    book: OrderBook,
    order: Order | null,
    after: Order | null,
    int: number,
    frac: number,
  ): void {
    const i = this.#undoLen++;
    if (i === this.#undoKind.length) {
      this.#undoKind.push(kind);
      this.#undoBook.push(book);
      this.#undoOrder.push(order);
      this.#undoAfter.push(after);
      this.#undoInt.push(int);
      this.#undoFrac.push(frac);
    } else {
      this.#undoKind[i] = kind;
      this.#undoBook[i] = book;
      this.#undoOrder[i] = order;
      this.#undoAfter[i] = after;
      this.#undoInt[i] = int;
      this.#undoFrac[i] = frac;
    }
  }

  #rollback(): void {
    const kinds = this.#undoKind;
    const books = this.#undoBook;
    const orders = this.#undoOrder;
    const afters = this.#undoAfter;
    for (let i = this.#undoLen - 1; i >= 0; i--) {
      const book = books[i];
      const order = orders[i] as Order;
      switch (kinds[i]) {
        case UNDO_NEW:
          book.unlink(order);
          break;
        case UNDO_REMOVE: {
          // Emptied levels stay in place until a compaction between blocks, unless `levelFor` replaced it.
          const level = order.level;
          if (level.dropped) {
            const side = book.sideOf(level.side);
            const current = side.byPx.get(level.px);
            if (current !== undefined) side.deleteLevel(current);
            side.insertLevel(level);
            level.dropped = false;
          }
          book.linkAfter(order, afters[i]);
          break;
        }
        case UNDO_UPDATE:
          book.resize(order, this.#undoInt[i], this.#undoFrac[i]);
          break;
        case UNDO_BOOK:
          this.#books.delete(book.coin);
          break;
      }
    }
    // Drop references so rolled-back orders can be collected.
    orders.fill(null, 0, this.#undoLen);
    afters.fill(null, 0, this.#undoLen);
    this.#undoLen = 0;
  }
}

function diffError(height: number, d: BookDiffEvent, kind: BookError["kind"], what: string): BookError {
  return {
    kind,
    block: height,
    coin: d.coin,
    oid: d.oid,
    message: `block ${height} ${d.coin} oid ${d.oid}: ${what}`,
  };
}

function restsAt(order: Order, d: BookDiffEvent): boolean {
  const level = order.level;
  if (level.side !== d.side) return false;
  return d.px === level.pxStr || parsePx(d.px) === level.px;
}

function touch(w: CoinWork, level: Level, epoch: number): void {
  if (level.touched !== epoch) {
    level.touched = epoch;
    level.occ = 1;
    w.touched.push(level);
  }
}

/**
 * The final state of each touched price level, once per side and px. Emptied levels stay in place (see
 * `BookSide`), so one object stands for its px during the block; a level revived after being emptied in the
 * block is listed once more (`occ` counts its entries). A level holding orders at the end reports at its last
 * entry (its first touch since it was last revived); an empty one reports at its first entry. Levels dropped
 * in the block (`dropped`: revived with another px spelling, rare) follow the original rule: reported gone
 * once per side and px string unless the live level at their px holds orders and was touched.
 */
function collectLevels(
  touched: Level[],
  book: OrderBook,
  epoch: number,
  drops: boolean,
  out: LevelChange[],
): void {
  let gone: Set<string> | null = null;
  for (let i = 0; i < touched.length; i++) {
    const level = touched[i];
    if (level.count !== 0) {
      if (--level.occ !== 0) continue;
      if (level.n === 0) out.push({ side: level.side, px: level.pxStr, sz: "0.0", n: 0 });
      else out.push({ side: level.side, px: level.pxStr, sz: level.sz(), n: level.n });
      continue;
    }
    if (level.occ === 0) continue;
    level.occ = 0;
    if (drops) {
      if (level.dropped) {
        const live = book.sideOf(level.side).byPx.get(level.px);
        if (live !== undefined && live.count !== 0 && live.touched === epoch) continue;
      }
      const key = level.side + level.pxStr;
      gone ??= new Set();
      if (gone.has(key)) continue;
      gone.add(key);
    }
    out.push({ side: level.side, px: level.pxStr, sz: "0.0", n: 0 });
  }
}

function workFor(work: Map<Coin, CoinWork>, coin: Coin): CoinWork {
  let w = work.get(coin);
  if (w === undefined) {
    w = { coin, book: undefined, drops: 0, statuses: [], diffs: [], touched: [] };
    work.set(coin, w);
  }
  return w;
}

function fail(error: BookError): ApplyResult {
  return { ok: false, error };
}
