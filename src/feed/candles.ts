/**
 * Candles of every coin and official interval, built from trades (one trade = one `tid`, both fills): open,
 * close, high, low, base volume `v` (exact) and trade count `n`, plus the notional volume (exact, not on the
 * wire) for 24 h statistics.
 *
 * Kept for every coin that trades, so `candleSnapshot` can answer for any coin; at most `kept` candles per coin
 * and interval (oldest dropped). Per trade the cost is one update per interval: O(trades × 14).
 *
 * Interval boundaries: fixed intervals up to `3d` are multiples of their length since the epoch (UTC), `1w`
 * starts on Monday 00:00 UTC, `1M` on the first of the month 00:00 UTC. `T` is the last millisecond of the
 * candle (`next start - 1`), as the official API writes it.
 *
 * @module
 */
import type { Coin, Trade } from "../book/types.ts";
import { Deque } from "./_deque.ts";
import { formatUnits, toUnits } from "./_units.ts";
import { type Interval, INTERVALS } from "./user_requests.ts";

const MINUTE = 60_000;
const DAY = 1440 * MINUTE;
/** 1970-01-05, the first Monday after the epoch. */
const MONDAY = 4 * DAY;

const FIXED: Readonly<Record<Exclude<Interval, "1M">, number>> = {
  "1m": MINUTE,
  "3m": 3 * MINUTE,
  "5m": 5 * MINUTE,
  "15m": 15 * MINUTE,
  "30m": 30 * MINUTE,
  "1h": 60 * MINUTE,
  "2h": 120 * MINUTE,
  "4h": 240 * MINUTE,
  "8h": 480 * MINUTE,
  "12h": 720 * MINUTE,
  "1d": DAY,
  "3d": 3 * DAY,
  "1w": 7 * DAY,
};

/** `[start, end]` (inclusive, ms) of the candle of `interval` that contains `time`. */
export function candleBounds(interval: Interval, time: number): readonly [number, number] {
  if (interval === "1M") {
    const d = new Date(time);
    const y = d.getUTCFullYear();
    const m = d.getUTCMonth();
    return [Date.UTC(y, m, 1), Date.UTC(y, m + 1, 1) - 1];
  }
  const len = FIXED[interval];
  const offset = interval === "1w" ? MONDAY : 0;
  const start = Math.floor((time - offset) / len) * len + offset;
  return [start, start + len - 1];
}

/** One candle. Prices are the trades' own strings; `v` in 1e-8 units, `ntl` (px·sz) in 1e-16 units. */
export interface Candle {
  readonly t: number;
  readonly T: number;
  o: string;
  c: string;
  h: string;
  l: string;
  hPx: number;
  lPx: number;
  v: bigint;
  ntl: bigint;
  n: number;
}

/** `{t,T,s,i,o,c,h,l,v,n}` as the official API writes a candle. */
export function candleJson(coin: Coin, interval: Interval, c: Candle): string {
  return `{"t":${c.t},"T":${c.T},"s":${JSON.stringify(coin)},"i":"${interval}","o":"${c.o}","c":"${c.c}",` +
    `"h":"${c.h}","l":"${c.l}","v":"${formatUnits(c.v)}","n":${c.n}}`;
}

/** Base volume of a candle, node style. */
export function candleVolume(c: Candle): string {
  return formatUnits(c.v);
}

/** Notional volume (Σ px·sz) of a candle, exact, node style. */
export function candleNotional(c: Candle): string {
  return formatUnits(c.ntl, 16);
}

/** Candles of every coin and interval, at most `kept` per series. */
export class Candles {
  readonly #kept: number;
  /** coin → one series per interval (in {@link INTERVALS} order). */
  readonly #series = new Map<Coin, Deque<Candle>[]>();

  constructor(options: { kept: number }) {
    this.#kept = Math.max(1, options.kept);
  }

  /** Adds trades (in time order). Returns the coins whose candles changed. */
  addTrades(trades: readonly Trade[]): Set<Coin> {
    const touched = new Set<Coin>();
    for (const trade of trades) {
      const v = toUnits(trade.sz);
      const p = toUnits(trade.px);
      if (v === null || p === null) continue;
      const px = Number(trade.px);
      let series = this.#series.get(trade.coin);
      if (series === undefined) {
        series = INTERVALS.map(() => new Deque<Candle>());
        this.#series.set(trade.coin, series);
      }
      const ntl = p * v;
      for (let i = 0; i < INTERVALS.length; i++) {
        this.#apply(series[i], INTERVALS[i], trade, px, v, ntl);
      }
      touched.add(trade.coin);
    }
    return touched;
  }

  #apply(series: Deque<Candle>, interval: Interval, trade: Trade, px: number, v: bigint, ntl: bigint): void {
    const time = trade.time;
    let last: Candle | undefined = series.length > 0 ? series.at(series.length - 1) : undefined;
    if (last !== undefined && time < last.t) {
      // Out of order (should not happen): update the candle it belongs to when it is still kept.
      const i = series.lowerBound((c) => c.T >= time);
      last = i < series.length && series.at(i).t <= time ? series.at(i) : undefined;
      if (last === undefined) return;
    } else if (last === undefined || time > last.T) {
      const [t, T] = candleBounds(interval, time);
      last = {
        t,
        T,
        o: trade.px,
        c: trade.px,
        h: trade.px,
        l: trade.px,
        hPx: px,
        lPx: px,
        v: 0n,
        ntl: 0n,
        n: 0,
      };
      series.push(last);
      if (series.length > this.#kept) series.shift();
    }
    last.c = trade.px;
    if (px > last.hPx) {
      last.hPx = px;
      last.h = trade.px;
    }
    if (px < last.lPx) {
      last.lPx = px;
      last.l = trade.px;
    }
    last.v += v;
    last.ntl += ntl;
    last.n++;
  }

  /** The newest candle of a series (the open one while trades keep coming), if any. */
  latest(coin: Coin, interval: Interval): Candle | undefined {
    const series = this.#series.get(coin)?.[INTERVALS.indexOf(interval)];
    return series === undefined || series.length === 0 ? undefined : series.at(series.length - 1);
  }

  /** Candles of a series whose start is in `[start, end]`, oldest first, the newest `limit` of them. */
  range(coin: Coin, interval: Interval, start: number, end: number, limit: number): Candle[] {
    const series = this.#series.get(coin)?.[INTERVALS.indexOf(interval)];
    if (series === undefined) return [];
    const out: Candle[] = [];
    for (let i = series.lowerBound((c) => c.T >= start); i < series.length; i++) {
      const c = series.at(i);
      if (c.t > end) break;
      if (c.T >= start) out.push(c);
    }
    return out.length > limit ? out.slice(out.length - limit) : out;
  }

  /** Coins with at least one candle. */
  coins(): Coin[] {
    return [...this.#series.keys()];
  }

  /**
   * Puts older candles (the backfill's, built from trades strictly before this one's first) in front of these;
   * a candle both have is combined.
   */
  absorbOlder(older: Candles): void {
    for (const [coin, olderSeries] of older.#series) {
      const mine = this.#series.get(coin);
      if (mine === undefined) {
        this.#series.set(coin, olderSeries);
        continue;
      }
      for (let i = 0; i < INTERVALS.length; i++) {
        const merged = new Deque<Candle>();
        const a = olderSeries[i].toArray();
        const b = mine[i].toArray();
        const firstT = b.length > 0 ? b[0].t : Infinity;
        for (const c of a) {
          if (c.t < firstT) merged.push(c);
          else if (c.t === firstT) {
            const n = b[0];
            n.o = c.o;
            if (c.hPx > n.hPx) [n.hPx, n.h] = [c.hPx, c.h];
            if (c.lPx < n.lPx) [n.lPx, n.l] = [c.lPx, c.l];
            n.v += c.v;
            n.ntl += c.ntl;
            n.n += c.n;
          }
        }
        for (const c of b) merged.push(c);
        while (merged.length > this.#kept) merged.shift();
        mine[i] = merged;
      }
    }
  }
}
