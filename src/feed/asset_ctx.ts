/**
 * Asset contexts (the `ctx` objects of `metaAndAssetCtxs`, `spotMetaAndAssetCtxs` and the `activeAssetCtx`
 * channel) from what hlbook knows: its books and the trades it pairs.
 *
 * - `midPx`: the book's mid; `impactPxs`: per side, the price of the level at which the cumulated notional
 *   from the top reaches the impact notional (20,000 USDC for BTC and ETH, 6,000 for the rest, as Hyperliquid's
 *   funding rules define it); null when a side is thinner than that.
 * - `dayNtlVlm`, `dayBaseVlm`, `prevDayPx`: a rolling 24 h window of trades per coin in one-minute buckets
 *   (the window's edge moves by whole minutes), fed by the live trades and, at start-up, by the backfill of
 *   the node's hourly fills files (`--history-hours`). Volumes cover only what that history and hlbook saw;
 *   `prevDayPx` (the last price at least 24 h old) is null until the window reaches back 24 h.
 * - `markPx`, `oraclePx`, `funding`, `openInterest`, `premium` (perps) and `circulatingSupply`,
 *   `totalSupply` (spot) come from the validators' state, which neither the node's files nor hlbook's books
 *   carry: they are null, in the official position, so parsers that read fields by name keep working.
 *
 * Key order is the official wire order. Exact decimals throughout (bigint units), node-style strings.
 *
 * @module
 */
import { type Books, decimalUnits, formatDecimalUnits } from "../book/mod.ts";
import type { Coin, Level, Trade } from "../book/types.ts";

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
/** Decimals kept for prices and sizes (the node writes at most 8). */
const DEC = 8;

interface Minute {
  readonly minute: number;
  ntl: bigint;
  base: bigint;
  /** Last trade price in this minute. */
  px: string;
}

interface CoinDay {
  buckets: Minute[];
  /** First live bucket in `buckets` (older ones are dropped lazily). */
  head: number;
  ntl: bigint;
  base: bigint;
  /** Last price of the newest dropped bucket: the last price at least 24 h old. */
  before: string | null;
}

/** A coin's 24 h figures, node-style strings. */
export interface DayFigures {
  readonly prevDayPx: string | null;
  readonly dayNtlVlm: string;
  readonly dayBaseVlm: string;
}

const EMPTY: DayFigures = { prevDayPx: null, dayNtlVlm: "0.0", dayBaseVlm: "0.0" };

/** Rolling 24 h trade figures per coin, fed by every trade hlbook pairs. */
export class DayStats {
  readonly #coins = new Map<Coin, CoinDay>();
  #version = 0;

  /** Bumps whenever a trade was added: cached answers built on older figures are stale. */
  get version(): number {
    return this.#version;
  }

  /** Adds a block's trades (in time order). Trades with unparseable numbers are skipped. */
  add(trades: readonly Trade[]): void {
    for (const trade of trades) {
      const px = decimalUnits(trade.px, DEC);
      const sz = decimalUnits(trade.sz, DEC);
      if (px === null || sz === null) continue;
      let day = this.#coins.get(trade.coin);
      if (day === undefined) {
        day = { buckets: [], head: 0, ntl: 0n, base: 0n, before: null };
        this.#coins.set(trade.coin, day);
      }
      const minute = Math.floor(trade.time / MINUTE_MS);
      let last = day.buckets.length > day.head ? day.buckets[day.buckets.length - 1] : undefined;
      // A trade older than the newest bucket (out of order) is counted in it.
      if (last === undefined || minute > last.minute) {
        last = { minute, ntl: 0n, base: 0n, px: trade.px };
        day.buckets.push(last);
      }
      const ntl = px * sz;
      last.ntl += ntl;
      last.base += sz;
      last.px = trade.px;
      day.ntl += ntl;
      day.base += sz;
    }
    if (trades.length > 0) this.#version++;
  }

  /**
   * Puts the figures of trades older than every trade seen here (the start-up backfill of the node's fills
   * files) in front of this window; a minute both have is summed, its last price stays the newer one.
   */
  absorbOlder(older: DayStats): void {
    for (const [coin, old] of older.#coins) {
      const day = this.#coins.get(coin);
      if (day === undefined) {
        this.#coins.set(coin, old);
        continue;
      }
      const live = day.buckets.slice(day.head);
      const first = live.length > 0 ? live[0].minute : Infinity;
      const kept: Minute[] = [];
      for (const bucket of old.buckets.slice(old.head)) {
        if (bucket.minute < first) kept.push(bucket);
        else if (bucket.minute === first) {
          live[0].ntl += bucket.ntl;
          live[0].base += bucket.base;
        } else continue;
        day.ntl += bucket.ntl;
        day.base += bucket.base;
      }
      day.buckets = [...kept, ...live];
      day.head = 0;
      day.before ??= old.before;
    }
    this.#version++;
  }

  /** The figures of `coin` for the 24 h ending at `now` (ms). */
  figures(coin: Coin, now: number): DayFigures {
    const day = this.#coins.get(coin);
    if (day === undefined) return EMPTY;
    const edge = now - DAY_MS;
    while (day.head < day.buckets.length && (day.buckets[day.head].minute + 1) * MINUTE_MS <= edge) {
      const old = day.buckets[day.head++];
      day.ntl -= old.ntl;
      day.base -= old.base;
      day.before = old.px;
    }
    if (day.head > 64 && day.head * 2 > day.buckets.length) {
      day.buckets = day.buckets.slice(day.head);
      day.head = 0;
    }
    return {
      prevDayPx: day.before,
      dayNtlVlm: formatDecimalUnits(day.ntl, 2 * DEC),
      dayBaseVlm: formatDecimalUnits(day.base, DEC),
    };
  }
}

/**
 * Built contexts per coin, rebuilt only after the coin's book or trades changed (`touch`), a new minute moved
 * the 24 h window, or the books were replaced (`clear`): `metaAndAssetCtxs` over hundreds of markets then costs
 * what the last blocks changed, not a walk of every book.
 */
export class CtxMemo {
  #epoch = 0;
  readonly #changes = new Map<Coin, number>();
  readonly #built = new Map<Coin, { readonly stamp: string; readonly json: string }>();

  /** The coin's book or trades changed. */
  touch(coin: Coin): void {
    this.#changes.set(coin, (this.#changes.get(coin) ?? 0) + 1);
  }

  /** Every book changed (reset, re-sync, the backfill merged): forget everything. */
  clear(): void {
    this.#epoch++;
    this.#built.clear();
  }

  /** The memo of `coin` for this state (`live`, minute of `now`), or `build()`'s result, kept. */
  get(coin: Coin, live: boolean, now: number, build: () => string): string {
    const stamp = `${this.#epoch}:${live ? 1 : 0}:${this.#changes.get(coin) ?? 0}:${
      Math.floor(now / 60_000)
    }`;
    const built = this.#built.get(coin);
    if (built !== undefined && built.stamp === stamp) return built.json;
    const json = build();
    this.#built.set(coin, { stamp, json });
    return json;
  }
}

/** Whether a coin is a spot pair (`@107`, `PURR/USDC`) rather than a perp (`BTC`, `xyz:TSLA`). */
export function isSpotCoin(coin: Coin): boolean {
  return coin.startsWith("@") || coin.includes("/");
}

/** Impact notional in USDC (Hyperliquid's funding rules). */
function impactNotional(coin: Coin): bigint {
  return coin === "BTC" || coin === "ETH" ? 20_000n : 6_000n;
}

/** Price of the level at which the cumulated notional from the top reaches `target` (1e-16 units). */
function impactSide(levels: readonly Level[], target: bigint): string | null {
  let sum = 0n;
  for (const level of levels) {
    const px = decimalUnits(level.px, DEC);
    const sz = decimalUnits(level.sz, DEC);
    if (px === null || sz === null) return null;
    sum += px * sz;
    if (sum >= target) return level.px;
  }
  return null;
}

/** `[impact bid px, impact ask px]`, or null when either side is too thin (or the coin has no book). */
export function impactPxs(books: Books, coin: Coin): readonly [string, string] | null {
  if (!books.has(coin)) return null;
  const target = impactNotional(coin) * 10n ** BigInt(2 * DEC);
  // Most books reach the impact notional within a few levels: ask for few first (levels are built as strings).
  for (const nLevels of [8, 64, 4096]) {
    const [bids, asks] = books.l2(coin, { nSigFigs: null, mantissa: null, nLevels });
    const bid = impactSide(bids, target);
    const ask = impactSide(asks, target);
    if (bid !== null && ask !== null) return [bid, ask];
    // Both sides came back shorter than asked: the book has no more levels.
    if (bids.length < nLevels && asks.length < nLevels) return null;
  }
  return null;
}

function str(value: string | null): string {
  return value === null ? "null" : JSON.stringify(value);
}

/**
 * The context object of one market as JSON, in the official key order: the perp shape for perps, the spot
 * shape (with `coin`) for spot pairs. `books` null (no book served yet) leaves the book fields null.
 */
export function assetCtxJson(books: Books | null, coin: Coin, day: DayFigures): string {
  const mid = books === null ? null : books.mid(coin);
  if (isSpotCoin(coin)) {
    return `{"prevDayPx":${str(day.prevDayPx)},"dayNtlVlm":"${day.dayNtlVlm}","markPx":null,` +
      `"midPx":${str(mid)},"circulatingSupply":null,"coin":${JSON.stringify(coin)},"totalSupply":null,` +
      `"dayBaseVlm":"${day.dayBaseVlm}"}`;
  }
  const impact = books === null ? null : impactPxs(books, coin);
  return `{"funding":null,"openInterest":null,"prevDayPx":${str(day.prevDayPx)},` +
    `"dayNtlVlm":"${day.dayNtlVlm}","premium":null,"oraclePx":null,"markPx":null,"midPx":${str(mid)},` +
    `"impactPxs":${impact === null ? "null" : `[${str(impact[0])},${str(impact[1])}]`},` +
    `"dayBaseVlm":"${day.dayBaseVlm}"}`;
}

/** `{"channel":"activeAssetCtx"|"activeSpotAssetCtx","data":{"coin","ctx"}}`. */
export function assetCtxMessage(coin: Coin, ctx: string): string {
  const channel = isSpotCoin(coin) ? "activeSpotAssetCtx" : "activeAssetCtx";
  return `{"channel":"${channel}","data":{"coin":${JSON.stringify(coin)},"ctx":${ctx}}}`;
}
