/**
 * What hlbook remembers of past fills and trades, for `userFills` snapshots, `userFillsByTime`,
 * `recentTrades`, and anything else that needs recent activity (24 h statistics).
 *
 * Every fill of every user is kept (a snapshot can be asked for any address), bounded three ways: at most
 * `fillsPerUser` per user (the official API serves the 2,000 most recent), at most `maxFills` in all, and none
 * older than `historyMs` before the newest fill. Fills are the node's own objects (serialised as the node
 * wrote them); adding one is O(1) amortised and eviction is from the oldest end.
 *
 * The live feed and the start-up backfill fill two histories; {@link FillHistory.absorbOlder} then puts the
 * backfilled past in front of what arrived live, so the backfill never races the live stream.
 *
 * @module
 */
import type { Coin, Side, Trade } from "../book/types.ts";
import { Deque } from "./_deque.ts";

/** A fill as the node writes it (the fields hlbook reads; every other field is kept and served as written). */
export interface Fill {
  readonly coin: Coin;
  readonly px: string;
  readonly sz: string;
  readonly side: Side;
  readonly time: number;
  readonly hash: string;
  readonly oid: number;
  readonly crossed: boolean;
  readonly tid: number;
  readonly startPosition?: string;
  readonly closedPnl?: string;
  readonly fee?: string;
}

/** One event of a node fills line: `[user, fill]`. */
export type FillEvent = readonly [string, Fill];

/** A kept fill: its (lower-cased) user, block and the node's fill object. */
export interface FillEntry {
  readonly user: string;
  readonly block: number;
  readonly fill: Fill;
  /** Set when evicted from its user's list before it left the global order. */
  gone: boolean;
}

/** Bounds of a {@link FillHistory}. */
export interface HistoryLimits {
  /** Fills older than this (ms before the newest fill) are dropped. */
  readonly historyMs: number;
  /** Most fills kept per user. */
  readonly fillsPerUser: number;
  /** Most fills kept in all. */
  readonly maxFills: number;
  /** Most trades kept per coin for `recentTrades`. */
  readonly tradesPerCoin: number;
}

/** Fills per user and trades per coin, bounded by {@link HistoryLimits}. */
export class FillHistory {
  readonly #limits: HistoryLimits;
  readonly #byUser = new Map<string, Deque<FillEntry>>();
  /** Every kept fill in arrival order (may hold `gone` entries, never more than `maxFills`). */
  #all = new Deque<FillEntry>();
  readonly #trades = new Map<Coin, Deque<Trade>>();
  #firstBlock = -1;
  #lastBlock = -1;
  #newest = 0;

  constructor(limits: HistoryLimits) {
    this.#limits = limits;
  }

  /** Block of the oldest fill ever added (-1 = none): the backfill stops before it. */
  get firstBlock(): number {
    return this.#firstBlock;
  }

  /** Block of the newest fill added (-1 = none). */
  get lastBlock(): number {
    return this.#lastBlock;
  }

  /** Number of fills kept. */
  get size(): number {
    let n = 0;
    for (const list of this.#byUser.values()) n += list.length;
    return n;
  }

  /** Number of users with at least one kept fill. */
  get users(): number {
    return this.#byUser.size;
  }

  /** Adds one line's fills (users lower-cased here). Returns the entries added, in order. */
  add(block: number, events: readonly FillEvent[]): FillEntry[] {
    const added: FillEntry[] = [];
    if (events.length === 0) return added;
    if (this.#firstBlock < 0) this.#firstBlock = block;
    if (block > this.#lastBlock) this.#lastBlock = block;
    for (const [user, fill] of events) {
      const entry: FillEntry = { user: lower(user), block, fill, gone: false };
      this.#push(entry);
      added.push(entry);
    }
    this.#trim();
    return added;
  }

  /** Records one line's trades (for `recentTrades`). */
  addTrades(trades: readonly Trade[]): void {
    const cap = this.#limits.tradesPerCoin;
    for (const trade of trades) {
      let list = this.#trades.get(trade.coin);
      if (list === undefined) this.#trades.set(trade.coin, list = new Deque());
      list.push(trade);
      if (list.length > cap) list.shift();
    }
  }

  /** The coin's most recent trades, oldest first. */
  recentTrades(coin: Coin): Trade[] {
    return this.#trades.get(coin)?.toArray() ?? [];
  }

  /** The user's most recent fills, newest first, at most `limit`. */
  recent(user: string, limit: number): Fill[] {
    const list = this.#byUser.get(lower(user));
    if (list === undefined) return [];
    const out: Fill[] = [];
    for (let i = list.length - 1; i >= 0 && out.length < limit; i--) out.push(list.at(i).fill);
    return out;
  }

  /** The user's fills with `start <= time <= end`, oldest first, at most `limit` (the oldest ones). */
  byTime(user: string, start: number, end: number, limit: number): Fill[] {
    const list = this.#byUser.get(lower(user));
    if (list === undefined) return [];
    const out: Fill[] = [];
    for (let i = list.lowerBound((e) => e.fill.time >= start); i < list.length && out.length < limit; i++) {
      const fill = list.at(i).fill;
      if (fill.time > end) break;
      out.push(fill);
    }
    return out;
  }

  /**
   * Every kept fill with `time >= since` (of one coin, or all), oldest first, with its user: the API for 24 h
   * statistics and other consumers. Both sides of each trade are included.
   */
  *fillsSince(since: number, coin?: Coin): Generator<FillEntry> {
    const all = this.#all;
    for (let i = all.lowerBound((e) => e.fill.time >= since); i < all.length; i++) {
      const entry = all.at(i);
      if (entry.gone || (coin !== undefined && entry.fill.coin !== coin)) continue;
      yield entry;
    }
  }

  /**
   * Puts an older history (the backfill) in front of this one: its fills of blocks before this history's first
   * block, and its trades before this history's first trade, then trims to the limits again.
   */
  absorbOlder(older: FillHistory): void {
    const cut = this.#firstBlock < 0 ? Infinity : this.#firstBlock;
    const mine = this.#all;
    this.#all = new Deque();
    this.#byUser.clear();
    const olderEntries = older.#all;
    for (let i = 0; i < olderEntries.length; i++) {
      const e = olderEntries.at(i);
      if (!e.gone && e.block < cut) this.#push({ user: e.user, block: e.block, fill: e.fill, gone: false });
    }
    for (let i = 0; i < mine.length; i++) {
      const e = mine.at(i);
      if (!e.gone) this.#push({ user: e.user, block: e.block, fill: e.fill, gone: false });
    }
    if (older.#firstBlock >= 0 && (this.#firstBlock < 0 || older.#firstBlock < this.#firstBlock)) {
      this.#firstBlock = older.#firstBlock;
    }
    this.#lastBlock = Math.max(this.#lastBlock, Math.min(older.#lastBlock, cut - 1));
    for (const [coin, olderTrades] of older.#trades) {
      const current = this.#trades.get(coin);
      const firstTid = current?.front()?.time ?? Infinity;
      const merged = new Deque<Trade>();
      for (const t of olderTrades.toArray()) if (t.time < firstTid) merged.push(t);
      for (const t of current?.toArray() ?? []) merged.push(t);
      while (merged.length > this.#limits.tradesPerCoin) merged.shift();
      this.#trades.set(coin, merged);
    }
    this.#trim();
  }

  #push(entry: FillEntry): void {
    let list = this.#byUser.get(entry.user);
    if (list === undefined) this.#byUser.set(entry.user, list = new Deque());
    list.push(entry);
    if (list.length > this.#limits.fillsPerUser) {
      const old = list.shift();
      if (old !== undefined) old.gone = true;
    }
    this.#all.push(entry);
    if (entry.fill.time > this.#newest) this.#newest = entry.fill.time;
  }

  /** Drops fills past `maxFills` or older than `historyMs`, oldest first. */
  #trim(): void {
    const all = this.#all;
    const oldest = this.#newest - this.#limits.historyMs;
    for (;;) {
      const front = all.front();
      if (front === undefined || (all.length <= this.#limits.maxFills && front.fill.time >= oldest)) break;
      all.shift();
      if (front.gone) continue;
      front.gone = true;
      const list = this.#byUser.get(front.user);
      if (list !== undefined && list.front() === front) {
        list.shift();
        if (list.length === 0) this.#byUser.delete(front.user);
      }
    }
  }
}

function lower(user: string): string {
  // Node addresses are lower-case already; only convert the rare one that is not.
  return /[A-F]/.test(user) ? user.toLowerCase() : user;
}
