/**
 * The simulated exchange: a seeded mini Hyperliquid with its own price-time-priority matching engine. Each
 * `step()` produces one block of node events (order statuses, raw book diffs, fills) exactly as a
 * non-validating node writes them; `snapshot()` is the node's `l4Snapshots` view of the same book. It is
 * independent of `src/book` on purpose: it is the truth the book must reproduce.
 *
 * Prices are integers in ticks (`10^-pxDecimals`), sizes integers in `10^-szDecimals`; strings are made
 * only by `formatUnits`, so every value is exact.
 *
 * @module
 */
import type {
  BlockInput,
  BookDiffEvent,
  Coin,
  L4Order,
  NodeOrder,
  Side,
  SnapshotFile,
} from "../book/types.ts";
import { checkCoinSpec, type CoinSpec, makeCoins, validPrice } from "./coins.ts";
import { formatNodeTime, formatUnits } from "./decimal.ts";
import { Rng } from "./rng.ts";
import { batchJson } from "./serialize.ts";

/** The HIP-2 market maker's address: its orders have no order status, only raw diffs. */
export const HIP2_USER = "0xffffffffffffffffffffffffffffffffffffffff";
/** The Assistance Fund's address: its orders have no order status either. */
export const AF_USER = "0xfefefefefefefefefefefefefefefefefefefefe";

/** An order status event in the node's exact shape and key order. */
export interface NodeStatusEvent {
  readonly time: string;
  readonly user: string;
  readonly hash: string | null;
  readonly builder: null;
  readonly status: string;
  readonly order: NodeOrder;
}

/** The fill object of a node fill event, in the node's key order. */
export interface NodeFill {
  readonly coin: Coin;
  readonly px: string;
  readonly sz: string;
  readonly side: Side;
  readonly time: number;
  readonly startPosition: string;
  readonly dir: string;
  readonly closedPnl: string;
  readonly hash: string;
  readonly oid: number;
  readonly crossed: boolean;
  readonly fee: string;
  readonly tid: number;
  readonly cloid?: string;
  /** On both fills of a liquidation trade: whose position was liquidated, the mark price, the method. */
  readonly liquidation?: {
    readonly liquidatedUser: string;
    readonly markPx: string;
    readonly method: string;
  };
  readonly feeToken: string;
  readonly twapId: number | null;
}

/** A user's position in one market: size (signed, size units) and its entry cost (px·sz units, ≥ 0). */
interface Position {
  size: bigint;
  cost: bigint;
}

/** `[user, fill]`. */
export type NodeFillEvent = readonly [string, NodeFill];

/** One simulated block: its events per stream and the node's timestamps for each stream's line. */
export interface SimBlock {
  readonly height: number;
  /** Block time in ms. */
  readonly time: number;
  /** Block time, node style. */
  readonly blockTime: string;
  /** The node's wall-clock time when it wrote each stream's line (fills first, then diffs, then statuses). */
  readonly localTime: { readonly fills: string; readonly diffs: string; readonly statuses: string };
  readonly statuses: readonly NodeStatusEvent[];
  readonly diffs: readonly BookDiffEvent[];
  readonly fills: readonly NodeFillEvent[];
}

/** Simulator settings; every field has a default. */
export interface SimOptions {
  /** PRNG seed (default 1). */
  readonly seed?: number;
  /** Number of markets (default 7: the defaults) or explicit specs. */
  readonly coins?: number | readonly CoinSpec[];
  /** Multiplier of the event rates (default 1 ≈ mainnet BTC-like flow over the default markets). */
  readonly load?: number;
  /** Blocks per simulated second (default 15). */
  readonly rate?: number;
  /** Simulated time of the first block in ms since the epoch (default 2026-05-05T17:39:13Z). */
  readonly startTime?: number;
  /** Height of the initial book (the first block is one higher; default 985148181). */
  readonly startHeight?: number;
  /** Resting orders per weight-1 market the flow keeps around (default 400). */
  readonly ordersPerCoin?: number;
  /** Probability that a full maker fill is written as `update` to "0.0" then `remove` (default 0.5). */
  readonly zeroUpdateShare?: number;
  /**
   * Block times from this clock (ms since the epoch) instead of `startTime + n / rate`; the live runner
   * uses the wall clock. The events stay the same for a seed.
   */
  readonly clock?: () => number;
}

interface SimOrder {
  readonly oid: number;
  readonly user: string;
  readonly side: Side;
  readonly px: number;
  sz: number;
  readonly origSz: number;
  readonly timestamp: number;
  readonly tif: string | null;
  readonly orderType: string;
  readonly cloid: string | null;
  readonly triggerCondition: string;
  /** Position in `Market.all` (swap-remove). */
  idx: number;
}

interface PendingTrigger {
  readonly oid: number;
  readonly user: string;
  readonly side: Side;
  readonly px: number;
  readonly sz: number;
  readonly triggerPx: number;
  readonly above: boolean;
  readonly timestamp: number;
  readonly cloid: string | null;
}

/** One side of a market: levels by price and the prices sorted best first. */
class SideBook {
  readonly levels = new Map<number, SimOrder[]>();
  readonly prices: number[] = [];
  constructor(readonly side: Side) {}

  best(): number | undefined {
    return this.prices[0];
  }

  /** Index where `px` is or would be in `prices` (best first). */
  #find(px: number): number {
    let lo = 0;
    let hi = this.prices.length;
    const bid = this.side === "B";
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = this.prices[mid];
      if (bid ? p > px : p < px) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  level(px: number): SimOrder[] | undefined {
    return this.levels.get(px);
  }

  add(order: SimOrder, beforeIndex?: number): void {
    let level = this.levels.get(order.px);
    if (!level) {
      level = [];
      this.levels.set(order.px, level);
      this.prices.splice(this.#find(order.px), 0, order.px);
    }
    if (beforeIndex === undefined) level.push(order);
    else level.splice(beforeIndex, 0, order);
  }

  remove(order: SimOrder): void {
    const level = this.levels.get(order.px);
    if (!level) throw new Error(`sim: no level ${order.px} for oid ${order.oid}`);
    const i = level.indexOf(order);
    if (i < 0) throw new Error(`sim: oid ${order.oid} not at its level`);
    level.splice(i, 1);
    if (level.length === 0) {
      this.levels.delete(order.px);
      this.prices.splice(this.#find(order.px), 1);
    }
  }

  *orders(): Generator<SimOrder> {
    for (const px of this.prices) {
      const level = this.levels.get(px);
      if (level) yield* level;
    }
  }
}

class Market {
  readonly bids = new SideBook("B");
  readonly asks = new SideBook("A");
  readonly all: SimOrder[] = [];
  readonly byOid = new Map<number, SimOrder>();
  readonly triggers: PendingTrigger[] = [];
  readonly minPx: number;
  readonly maxPx: number;
  readonly meanDistance: number;
  readonly target: number;
  fair: number;

  constructor(readonly spec: CoinSpec, ordersPerCoin: number) {
    this.fair = spec.mid;
    this.minPx = Math.max(1, Math.ceil(spec.mid * 0.5));
    this.maxPx = spec.pxDecimals === 0 ? spec.mid * 2 : Math.min(99999, Math.floor(spec.mid * 1.5));
    this.meanDistance = Math.max(3, spec.mid * 0.0008);
    this.target = Math.max(40, Math.round(ordersPerCoin * spec.weight));
  }

  book(side: Side): SideBook {
    return side === "B" ? this.bids : this.asks;
  }

  insert(order: SimOrder, beforeIndex?: number): void {
    this.book(order.side).add(order, beforeIndex);
    order.idx = this.all.length;
    this.all.push(order);
    this.byOid.set(order.oid, order);
  }

  delete(order: SimOrder): void {
    this.book(order.side).remove(order);
    const last = this.all.pop();
    if (last && last !== order) {
      this.all[order.idx] = last;
      last.idx = order.idx;
    }
    this.byOid.delete(order.oid);
  }

  refPx(): number {
    return Math.round(this.fair);
  }

  clampPx(px: number): number {
    return Math.min(this.maxPx, Math.max(this.minPx, px));
  }
}

/** Base event rates per block for a weight-1 market at load 1 (from the mainnet BTC fixture). */
const RATES = {
  /** `badAloPxRejected` over all markets, split by weight (≈777/block for BTC on mainnet). */
  badAloTotal: 760,
  perpMargin: 9,
  iocReject: 3,
  minTradeNtl: 0.05,
  reduceOnly: 0.03,
  passive: 12,
  modify: 1.5,
  ioc: 0.15,
  gtcCross: 0.05,
  triggerPlace: 0.03,
  triggerCancel: 0.01,
  afOrder: 0.02,
} as const;

enum Action {
  BadAlo,
  PerpMargin,
  IocReject,
  MinTradeNtl,
  ReduceOnly,
  Passive,
  Cancel,
  Modify,
  Ioc,
  GtcCross,
  TriggerPlace,
  TriggerCancel,
  AfOrder,
}

/** A seeded simulated node: call `step()` for each block. */
export class Simulator {
  readonly specs: readonly CoinSpec[];
  readonly #markets: Market[];
  readonly #byCoin = new Map<Coin, Market>();
  readonly #rng: Rng;
  readonly #load: number;
  readonly #intervalNs: bigint;
  readonly #users: string[];
  readonly #zeroUpdateShare: number;
  readonly #clock: (() => number) | undefined;
  readonly #positions = new Map<string, Position>();
  #height: number;
  #timeNs: bigint;
  #timeMs: number;
  #nextOid: number;
  // per-block output being built
  #statuses: NodeStatusEvent[] = [];
  #diffs: BookDiffEvent[] = [];
  #fills: NodeFillEvent[] = [];
  #blockTime = "";

  constructor(options: SimOptions = {}) {
    const seed = options.seed ?? 1;
    const coins = options.coins ?? 7;
    this.specs = typeof coins === "number" ? makeCoins(coins, seed) : coins;
    if (this.specs.length === 0) throw new RangeError("sim needs at least one coin");
    for (const spec of this.specs) {
      const problem = checkCoinSpec(spec);
      if (problem) throw new RangeError(problem);
    }
    const rate = options.rate ?? 15;
    if (!(rate > 0)) throw new RangeError(`rate must be > 0, got ${rate}`);
    this.#load = options.load ?? 1;
    if (!(this.#load >= 0)) throw new RangeError(`load must be ≥ 0, got ${this.#load}`);
    this.#intervalNs = BigInt(Math.round(1e9 / rate));
    this.#rng = new Rng(seed);
    this.#zeroUpdateShare = options.zeroUpdateShare ?? 0.5;
    this.#clock = options.clock;
    this.#height = options.startHeight ?? 985148181;
    const startMs = options.startTime ?? options.clock?.() ?? Date.UTC(2026, 4, 5, 17, 39, 13);
    this.#timeNs = BigInt(startMs) * 1_000_000n - this.#intervalNs;
    this.#timeMs = Number(this.#timeNs / 1_000_000n);
    this.#nextOid = 412_000_000_000 + this.#rng.int(1_000_000);
    this.#users = Array.from({ length: 600 }, () => `0x${this.#rng.hex(40)}`);
    this.#markets = this.specs.map((spec) => new Market(spec, options.ordersPerCoin ?? 400));
    for (const m of this.#markets) {
      if (this.#byCoin.has(m.spec.name)) throw new RangeError(`duplicate coin ${m.spec.name}`);
      this.#byCoin.set(m.spec.name, m);
    }
    this.#blockTime = formatNodeTime(this.#timeNs);
    // Genesis book: fill every market to its target, with no output.
    for (const m of this.#markets) {
      for (let i = 0; i < m.target; i++) this.#passive(m, this.#rng.chance(0.8) ? "Alo" : "Gtc");
      if (m.spec.spot) this.#hip2Refresh(m);
    }
    this.#resetOutput();
  }

  /** Height of the last produced block (the initial book's height before the first step). */
  get height(): number {
    return this.#height;
  }

  /** Time of the last produced block in ms. */
  get time(): number {
    return this.#timeMs;
  }

  /** The market names, in configuration order. */
  coins(): Coin[] {
    return this.specs.map((s) => s.name);
  }

  /** Produce the next block. */
  step(): SimBlock {
    const rng = this.#rng;
    this.#height++;
    const jitter = BigInt(rng.int(8_000_000)) - 4_000_000n;
    if (this.#clock) {
      // live: block times follow the wall clock even when this machine cannot keep the rate
      const now = BigInt(Math.floor(this.#clock() * 1e6)) + jitter;
      const next = this.#timeNs + 1_000_000n; // strictly increasing, at least 1 ms apart
      this.#timeNs = now > next ? now : next;
    } else this.#timeNs += this.#intervalNs + jitter;
    this.#timeMs = Number(this.#timeNs / 1_000_000n);
    this.#blockTime = formatNodeTime(this.#timeNs);
    this.#resetOutput();

    const actions: number[] = [];
    let totalWeight = 0;
    for (const m of this.#markets) totalWeight += m.spec.weight;
    const load = this.#load;
    this.#markets.forEach((m, i) => {
      const w = m.spec.weight * load;
      this.#walk(m);
      const push = (action: Action, mean: number) => {
        for (let n = rng.poisson(mean); n > 0; n--) actions.push(i * 16 + action);
      };
      push(Action.BadAlo, (RATES.badAloTotal * load * m.spec.weight) / totalWeight);
      if (!m.spec.spot) push(Action.PerpMargin, RATES.perpMargin * w);
      push(Action.IocReject, RATES.iocReject * w);
      push(Action.MinTradeNtl, RATES.minTradeNtl * w);
      push(Action.ReduceOnly, RATES.reduceOnly * w);
      push(Action.Passive, RATES.passive * w);
      push(Action.Cancel, RATES.passive * w * (m.all.length / m.target));
      push(Action.Modify, RATES.modify * w);
      const stale = this.#stale(m);
      push(Action.Ioc, RATES.ioc * w * (stale ? 4 : 1));
      push(Action.GtcCross, RATES.gtcCross * w);
      push(Action.TriggerPlace, RATES.triggerPlace * w);
      push(Action.TriggerCancel, RATES.triggerCancel * w);
      if (!m.spec.spot) push(Action.AfOrder, RATES.afOrder * w);
    });
    for (let i = actions.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = actions[i];
      actions[i] = actions[j];
      actions[j] = t;
    }
    for (const code of actions) {
      const m = this.#markets[code >> 4];
      switch ((code & 15) as Action) {
        case Action.BadAlo:
          this.#badAlo(m);
          break;
        case Action.PerpMargin:
          this.#reject(m, "perpMarginRejected", rng.chance(0.5) ? "Gtc" : "Ioc", m.refPx(), this.#size(m));
          break;
        case Action.IocReject:
          this.#iocReject(m);
          break;
        case Action.MinTradeNtl:
          this.#reject(m, "minTradeNtlRejected", "Gtc", m.refPx(), 1);
          break;
        case Action.ReduceOnly:
          this.#reject(m, "reduceOnlyCanceled", "Ioc", m.refPx(), this.#size(m), true);
          break;
        case Action.Passive:
          this.#passive(m, rng.chance(0.8) ? "Alo" : "Gtc");
          break;
        case Action.Cancel:
          this.#cancelRandom(m);
          break;
        case Action.Modify:
          this.#modify(m);
          break;
        case Action.Ioc:
          this.#marketable(m, "Ioc");
          break;
        case Action.GtcCross:
          this.#marketable(m, "Gtc");
          break;
        case Action.TriggerPlace:
          this.#placeTrigger(m);
          break;
        case Action.TriggerCancel:
          this.#cancelTrigger(m);
          break;
        case Action.AfOrder:
          this.#passive(m, "Alo", AF_USER);
          break;
      }
    }
    for (const m of this.#markets) {
      this.#checkTriggers(m);
      if (m.spec.spot && (this.#height + m.spec.name.length) % 40 === 0) this.#hip2Refresh(m);
    }

    const lt = this.#timeNs + 370_000_000n + BigInt(rng.int(60_000_000));
    const block: SimBlock = {
      height: this.#height,
      time: this.#timeMs,
      blockTime: this.#blockTime,
      localTime: {
        fills: formatNodeTime(lt),
        diffs: formatNodeTime(lt + 78_000n),
        statuses: formatNodeTime(lt + 415_000n),
      },
      statuses: this.#statuses,
      diffs: this.#diffs,
      fills: this.#fills,
    };
    this.#resetOutput();
    return block;
  }

  /** The node's `l4Snapshots` file for the current height (no trigger orders, priority order). */
  snapshot(): SnapshotFile {
    const coins = this.#markets.map((m) => {
      const side = (book: SideBook) =>
        Array.from(book.orders(), (o) => [o.user, this.#nodeOrder(m, o)] as const);
      return [m.spec.name, [side(m.bids), side(m.asks)] as const] as const;
    });
    return [this.#height, coins];
  }

  /** The resting orders of a coin as L4 orders: bids best first, asks best first, FIFO in a level. */
  l4(coin: Coin): readonly [readonly L4Order[], readonly L4Order[]] {
    const m = this.#byCoin.get(coin);
    if (!m) return [[], []];
    const side = (book: SideBook) =>
      Array.from(book.orders(), (o): L4Order => {
        const { children: _c, origSz: _o, ...rest } = this.#nodeOrder(m, o);
        return { user: o.user, ...rest };
      });
    return [side(m.bids), side(m.asks)];
  }

  /** Number of resting orders (of one coin, or all). */
  orderCount(coin?: Coin): number {
    if (coin !== undefined) return this.#byCoin.get(coin)?.all.length ?? 0;
    let n = 0;
    for (const m of this.#markets) n += m.all.length;
    return n;
  }

  /** The spec of a coin. */
  spec(coin: Coin): CoinSpec | undefined {
    return this.#byCoin.get(coin)?.spec;
  }

  /** Pending (untriggered) trigger orders of a coin. */
  pendingTriggers(coin: Coin): number {
    return this.#byCoin.get(coin)?.triggers.length ?? 0;
  }

  // ---- flow ------------------------------------------------------------------------------------------

  #resetOutput(): void {
    this.#statuses = [];
    this.#diffs = [];
    this.#fills = [];
  }

  #walk(m: Market): void {
    const sigma = Math.max(0.3, m.spec.mid * 0.00006);
    m.fair += sigma * this.#rng.gauss() + (m.spec.mid - m.fair) * 0.002;
    m.fair = Math.min(m.spec.mid * 1.3, Math.max(m.spec.mid * 0.7, m.fair));
  }

  /** True when the book lags the reference price (resting orders on the wrong side of it). */
  #stale(m: Market): boolean {
    const ref = m.refPx();
    const ask = m.asks.best();
    const bid = m.bids.best();
    const gap = Math.max(2, m.meanDistance * 0.5);
    return (ask !== undefined && ask < ref - gap) || (bid !== undefined && bid > ref + gap);
  }

  #size(m: Market): number {
    return this.#rng.logUniform(m.spec.minSz, m.spec.maxSz);
  }

  #oid(): number {
    this.#nextOid += 1 + this.#rng.int(3);
    return this.#nextOid;
  }

  #user(): string {
    // a few very active users, like mainnet market makers
    const rng = this.#rng;
    return rng.chance(0.5) ? this.#users[rng.int(12)] : this.#users[rng.int(this.#users.length)];
  }

  #cloid(): string | null {
    return this.#rng.chance(0.6) ? `0x${this.#rng.hex(32)}` : null;
  }

  #hash(): string {
    return `0x${this.#rng.hex(64)}`;
  }

  #nodeOrder(m: Market, o: SimOrder, sz = o.sz): NodeOrder {
    const { szDecimals, pxDecimals } = m.spec;
    return {
      coin: m.spec.name,
      side: o.side,
      limitPx: formatUnits(o.px, pxDecimals),
      sz: formatUnits(sz, szDecimals),
      oid: o.oid,
      timestamp: o.timestamp,
      triggerCondition: o.triggerCondition,
      isTrigger: false,
      triggerPx: "0.0",
      children: [],
      isPositionTpsl: false,
      reduceOnly: false,
      orderType: o.orderType,
      origSz: formatUnits(o.origSz, szDecimals),
      tif: o.tif,
      cloid: o.cloid,
    };
  }

  #status(user: string, status: string, order: NodeOrder, hash: string | null = null): void {
    this.#statuses.push({ time: this.#blockTime, user, hash, builder: null, status, order });
  }

  /** A status for an order that never rests (rejections): cheap, touches nothing. */
  #reject(
    m: Market,
    status: string,
    tif: string,
    px: number,
    sz: number,
    reduceOnly = false,
    side?: Side,
  ): void {
    const { szDecimals, pxDecimals } = m.spec;
    const s = formatUnits(sz, szDecimals);
    this.#status(this.#user(), status, {
      coin: m.spec.name,
      side: side ?? (this.#rng.chance(0.5) ? "B" : "A"),
      limitPx: formatUnits(m.clampPx(px), pxDecimals),
      sz: s,
      oid: this.#oid(),
      timestamp: this.#timeMs,
      triggerCondition: "N/A",
      isTrigger: false,
      triggerPx: "0.0",
      children: [],
      isPositionTpsl: false,
      reduceOnly,
      orderType: "Limit",
      origSz: s,
      tif,
      cloid: this.#cloid(),
    });
  }

  /** An ALO order whose price would cross: rejected. */
  #badAlo(m: Market): void {
    const rng = this.#rng;
    const side: Side = rng.chance(0.5) ? "B" : "A";
    const opposite = side === "B" ? m.asks.best() : m.bids.best();
    const base = opposite ?? m.refPx();
    const d = rng.distance(m.meanDistance * 0.3);
    const px = side === "B" ? base + d : Math.max(m.minPx, base - d);
    this.#reject(m, "badAloPxRejected", "Alo", px, this.#size(m), false, side);
  }

  /** An IOC order that cannot cross: `iocCancelRejected`. */
  #iocReject(m: Market): void {
    const rng = this.#rng;
    const side: Side = rng.chance(0.5) ? "B" : "A";
    const opposite = side === "B" ? m.asks.best() : m.bids.best();
    const base = opposite ?? m.refPx();
    const d = 1 + rng.distance(m.meanDistance);
    const px = side === "B" ? Math.max(m.minPx, base - d) : base + d;
    if (opposite !== undefined && (side === "B" ? px >= opposite : px <= opposite)) return;
    this.#reject(m, "iocCancelRejected", "Ioc", px, this.#size(m), false, side);
  }

  /** A price for a new resting order that does not cross the book. */
  #passivePx(m: Market, side: Side): number | null {
    const d = this.#rng.distance(m.meanDistance);
    const ref = m.refPx();
    if (side === "B") {
      const ask = m.asks.best();
      let px = m.clampPx(ref - 1 - d);
      if (ask !== undefined) px = Math.min(px, ask - 1);
      return px >= m.minPx ? px : null;
    }
    const bid = m.bids.best();
    let px = m.clampPx(ref + 1 + d);
    if (bid !== undefined) px = Math.max(px, bid + 1);
    return px <= m.maxPx ? px : null;
  }

  #passive(
    m: Market,
    tif: "Alo" | "Gtc",
    special?: string,
    sideArg?: Side,
    pxArg?: number,
    userArg?: string,
  ): void {
    const rng = this.#rng;
    const side: Side = sideArg ?? (rng.chance(0.5) ? "B" : "A");
    const px = pxArg ?? this.#passivePx(m, side);
    if (px === null || !validPrice(m.spec, px)) return;
    const sz = this.#size(m);
    const user = special ?? userArg ?? this.#user();
    const order: SimOrder = {
      oid: this.#oid(),
      user,
      side,
      px,
      sz,
      origSz: sz,
      timestamp: this.#timeMs,
      tif: special ? "Alo" : tif,
      orderType: "Limit",
      cloid: special ? null : this.#cloid(),
      triggerCondition: "N/A",
      idx: -1,
    };
    let before: number | undefined;
    const level = m.book(side).level(px);
    if (tif === "Alo" && !special && level && rng.chance(0.08)) {
      before = rng.chance(0.7) ? 0 : rng.int(level.length);
    }
    const beforeOid = before === undefined ? undefined : level?.[before]?.oid;
    m.insert(order, before);
    if (!special) {
      this.#status(user, "open", this.#nodeOrder(m, order), rng.chance(0.3) ? this.#hash() : null);
    }
    const sizeText = formatUnits(sz, m.spec.szDecimals);
    this.#diffs.push({
      user,
      oid: order.oid,
      coin: m.spec.name,
      side,
      px: formatUnits(px, m.spec.pxDecimals),
      raw_book_diff: {
        new: beforeOid === undefined ? { sz: sizeText } : { sz: sizeText, insertBefore: beforeOid },
      },
    });
  }

  #removeDiff(m: Market, o: SimOrder): void {
    this.#diffs.push({
      user: o.user,
      oid: o.oid,
      coin: m.spec.name,
      side: o.side,
      px: formatUnits(o.px, m.spec.pxDecimals),
      raw_book_diff: "remove",
    });
  }

  #cancel(m: Market, o: SimOrder): void {
    if (o.user !== HIP2_USER && o.user !== AF_USER) this.#status(o.user, "canceled", this.#nodeOrder(m, o));
    m.delete(o);
    this.#removeDiff(m, o);
  }

  #cancelRandom(m: Market): void {
    if (m.all.length === 0) return;
    const o = m.all[this.#rng.int(m.all.length)];
    if (o.user === HIP2_USER) return; // the HIP-2 ladder is refreshed on its own schedule
    this.#cancel(m, o);
  }

  /** Cancel + new order with a new oid, near the old price (Hyperliquid's modify). */
  #modify(m: Market): void {
    if (m.all.length === 0) return;
    const o = m.all[this.#rng.int(m.all.length)];
    if (o.user === HIP2_USER || o.user === AF_USER) return;
    this.#cancel(m, o);
    const step = this.#rng.range(-2, 2);
    let px = o.px + step;
    const opposite = o.side === "B" ? m.asks.best() : m.bids.best();
    if (opposite !== undefined) px = o.side === "B" ? Math.min(px, opposite - 1) : Math.max(px, opposite + 1);
    px = m.clampPx(px);
    this.#passive(m, o.tif === "Gtc" ? "Gtc" : "Alo", undefined, o.side, px, o.user);
  }

  /** A crossing order: matches resting orders in price-time priority. */
  #marketable(m: Market, tif: "Ioc" | "Gtc"): void {
    const rng = this.#rng;
    const ref = m.refPx();
    const ask = m.asks.best();
    const bid = m.bids.best();
    let side: Side = rng.chance(0.5) ? "B" : "A";
    if (ask !== undefined && ask < ref - 1) side = "B";
    else if (bid !== undefined && bid > ref + 1) side = "A";
    const opposite = side === "B" ? ask : bid;
    if (opposite === undefined) return;
    const reach = rng.distance(2);
    const px = side === "B" ? opposite + reach : opposite - reach;
    if (!validPrice(m.spec, px) || px < m.minPx) return;
    // mostly small takers, like mainnet: partial maker fills are the rule
    const top = m.book(side === "B" ? "A" : "B").level(opposite);
    const topSz = top ? top.reduce((a, o) => a + o.sz, 0) : 0;
    const sz = rng.chance(0.7) ? Math.max(1, Math.min(this.#size(m), Math.ceil(topSz / 3))) : this.#size(m);
    const user = this.#user();
    const hash = this.#hash();
    const taker = {
      oid: this.#oid(),
      user,
      side,
      px,
      origSz: sz,
      timestamp: this.#timeMs,
      tif,
      orderType: "Limit",
      cloid: this.#cloid(),
      triggerCondition: "N/A",
    };
    // Now and then an IOC that reduces a perp position is the liquidation of that position.
    const position = this.#positions.get(`${user}\u0000${m.spec.name}`)?.size ?? 0n;
    const reduces = side === "B" ? position < 0n : position > 0n;
    const liquidation = tif === "Ioc" && !m.spec.spot && reduces && rng.chance(0.2)
      ? { liquidatedUser: user, markPx: formatUnits(m.refPx(), m.spec.pxDecimals), method: "market" }
      : undefined;
    this.#status(user, "open", this.#nodeOrder(m, { ...taker, sz, idx: -1 }), hash);
    this.#execute(m, taker, sz, hash, liquidation);
  }

  /** Match a taker, then rest (GTC) or finish (IOC) it; the taker's inserting status is already written. */
  #execute(
    m: Market,
    taker: Omit<SimOrder, "sz" | "idx">,
    size: number,
    hash: string,
    liquidation?: NodeFill["liquidation"],
  ): void {
    const left = this.#match(m, taker, size, hash, liquidation);
    if (left === 0) {
      this.#status(taker.user, "filled", this.#nodeOrder(m, { ...taker, sz: 0, idx: -1 }), hash);
      return;
    }
    if (taker.tif === "Ioc") {
      this.#status(taker.user, "canceled", this.#nodeOrder(m, { ...taker, sz: left, idx: -1 }), hash);
      return;
    }
    const order: SimOrder = { ...taker, sz: left, idx: -1 };
    m.insert(order);
    this.#diffs.push({
      user: order.user,
      oid: order.oid,
      coin: m.spec.name,
      side: order.side,
      px: formatUnits(order.px, m.spec.pxDecimals),
      raw_book_diff: { new: { sz: formatUnits(left, m.spec.szDecimals) } },
    });
  }

  /** Price-time-priority matching; returns the taker's unfilled size. */
  #match(
    m: Market,
    taker: Omit<SimOrder, "sz" | "idx">,
    size: number,
    hash: string,
    liquidation?: NodeFill["liquidation"],
  ): number {
    const book = m.book(taker.side === "B" ? "A" : "B");
    let left = size;
    while (left > 0) {
      const best = book.best();
      if (best === undefined || (taker.side === "B" ? best > taker.px : best < taker.px)) break;
      const level = book.level(best);
      if (!level || level.length === 0) throw new Error(`sim: empty level ${best}`);
      const maker = level[0];
      const qty = Math.min(left, maker.sz);
      left -= qty;
      this.#trade(m, taker, maker, best, qty, hash, liquidation);
      const before = maker.sz;
      maker.sz -= qty;
      const px = formatUnits(maker.px, m.spec.pxDecimals);
      const base = { user: maker.user, oid: maker.oid, coin: m.spec.name, side: maker.side, px };
      if (maker.sz > 0) {
        this.#diffs.push({
          ...base,
          raw_book_diff: {
            update: {
              origSz: formatUnits(before, m.spec.szDecimals),
              newSz: formatUnits(maker.sz, m.spec.szDecimals),
            },
          },
        });
      } else {
        if (this.#rng.chance(this.#zeroUpdateShare)) {
          this.#diffs.push({
            ...base,
            raw_book_diff: { update: { origSz: formatUnits(before, m.spec.szDecimals), newSz: "0.0" } },
          });
        }
        m.delete(maker);
        this.#diffs.push({ ...base, raw_book_diff: "remove" });
        if (maker.user !== HIP2_USER && maker.user !== AF_USER) {
          this.#status(maker.user, "filled", this.#nodeOrder(m, maker, 0));
        }
      }
    }
    return left;
  }

  #trade(
    m: Market,
    taker: Omit<SimOrder, "sz" | "idx">,
    maker: SimOrder,
    px: number,
    qty: number,
    hash: string,
    liquidation?: NodeFill["liquidation"],
  ) {
    const tid = 1 + this.#rng.int(2 ** 32) * 2 ** 18 + this.#rng.int(2 ** 18);
    const takerFill = this.#fill(m, taker.user, taker.side, taker.oid, taker.cloid, px, qty, {
      crossed: true,
      tid,
      hash,
      liquidation,
    });
    const makerFill = this.#fill(m, maker.user, maker.side, maker.oid, maker.cloid, px, qty, {
      crossed: false,
      tid,
      hash,
      liquidation,
    });
    if (taker.side === "B") this.#fills.push(takerFill, makerFill);
    else this.#fills.push(makerFill, takerFill);
  }

  #fill(
    m: Market,
    user: string,
    side: Side,
    oid: number,
    cloid: string | null,
    px: number,
    qty: number,
    how: { crossed: boolean; tid: number; hash: string; liquidation?: NodeFill["liquidation"] },
  ): NodeFillEvent {
    const { crossed, tid, hash, liquidation } = how;
    const { szDecimals, pxDecimals, spot, name } = m.spec;
    const key = `${user}\u0000${name}`;
    let position = this.#positions.get(key);
    if (position === undefined) this.#positions.set(key, position = { size: 0n, cost: 0n });
    const start = position.size;
    const q = BigInt(qty);
    const p = BigInt(px);
    const delta = side === "B" ? q : -q;
    // Realised PnL of the closed part against the average entry (exact cost basis, units of px·sz).
    let pnl = 0n;
    const open = start < 0n ? -start : start;
    const closing = start !== 0n && (start > 0n) !== (delta > 0n);
    if (closing && !spot) {
      const closed = q < open ? q : open;
      const basis = (position.cost * closed) / open;
      pnl = start > 0n ? p * closed - basis : basis - p * closed;
      position.cost -= basis;
      if (q > open) position.cost = p * (q - open);
    } else position.cost += p * q;
    position.size = start + delta;
    let dir: string;
    if (spot) dir = side === "B" ? "Buy" : "Sell";
    else if (side === "B") {
      dir = start >= 0n ? "Open Long" : start + delta > 0n ? "Short > Long" : "Close Short";
    } else dir = start <= 0n ? "Open Short" : start + delta < 0n ? "Long > Short" : "Close Long";
    // fee = notional · rate, in 1e-6 USDC: taker 4.5 bp, maker rebate 0.3 bp (exact integer division)
    const notional = p * q; // units of 10^-(px+sz decimals)
    const scale = 10n ** BigInt(pxDecimals + szDecimals);
    const fee = crossed ? (notional * 450n) / scale : -(notional * 30n) / scale;
    const fill: NodeFill = {
      coin: name,
      px: formatUnits(px, pxDecimals),
      sz: formatUnits(qty, szDecimals),
      side,
      time: this.#timeMs,
      startPosition: formatUnits(start, szDecimals),
      dir,
      closedPnl: formatUnits((pnl * 1_000_000n) / scale, 6),
      hash,
      oid,
      crossed,
      fee: formatUnits(fee, 6),
      tid,
      ...(cloid ? { cloid } : {}),
      ...(liquidation ? { liquidation } : {}),
      feeToken: "USDC",
      twapId: null,
    };
    return [user, fill];
  }

  #placeTrigger(m: Market): void {
    const rng = this.#rng;
    const above = rng.chance(0.5);
    const ref = m.refPx();
    const triggerPx = m.clampPx(
      above ? ref + 1 + rng.distance(m.meanDistance * 0.5) : ref - 1 - rng.distance(m.meanDistance * 0.5),
    );
    const side: Side = above ? "B" : "A";
    const px = m.clampPx(above ? triggerPx + rng.distance(2) : triggerPx - rng.distance(2));
    if (!validPrice(m.spec, px) || !validPrice(m.spec, triggerPx)) return;
    const t: PendingTrigger = {
      oid: this.#oid(),
      user: this.#user(),
      side,
      px,
      sz: this.#size(m),
      triggerPx,
      above,
      timestamp: this.#timeMs,
      cloid: this.#cloid(),
    };
    m.triggers.push(t);
    this.#status(t.user, "open", this.#triggerOrder(m, t));
  }

  #triggerOrder(m: Market, t: PendingTrigger): NodeOrder {
    const { szDecimals, pxDecimals } = m.spec;
    const sz = formatUnits(t.sz, szDecimals);
    const trig = formatUnits(t.triggerPx, pxDecimals);
    return {
      coin: m.spec.name,
      side: t.side,
      limitPx: formatUnits(t.px, pxDecimals),
      sz,
      oid: t.oid,
      timestamp: t.timestamp,
      triggerCondition: t.above ? `Price above ${trig}` : `Price below ${trig}`,
      isTrigger: true,
      triggerPx: trig,
      children: [],
      isPositionTpsl: false,
      reduceOnly: false,
      orderType: "Stop Limit",
      origSz: sz,
      tif: null,
      cloid: t.cloid,
    };
  }

  #cancelTrigger(m: Market): void {
    if (m.triggers.length === 0) return;
    const [t] = m.triggers.splice(this.#rng.int(m.triggers.length), 1);
    this.#status(t.user, "canceled", this.#triggerOrder(m, t));
  }

  #checkTriggers(m: Market): void {
    if (m.triggers.length === 0) return;
    const ref = m.refPx();
    for (let i = 0; i < m.triggers.length; i++) {
      const t = m.triggers[i];
      if (t.above ? ref < t.triggerPx : ref > t.triggerPx) continue;
      m.triggers.splice(i--, 1);
      const hash = this.#hash();
      this.#status(t.user, "triggered", this.#triggerOrder(m, t), hash);
      // on entry the order becomes a GTC limit order stamped with the trigger time
      this.#execute(
        m,
        {
          oid: t.oid,
          user: t.user,
          side: t.side,
          px: t.px,
          origSz: t.sz,
          timestamp: this.#timeMs,
          tif: "Gtc",
          orderType: "Stop Limit",
          cloid: t.cloid,
          triggerCondition: "Triggered",
        },
        t.sz,
        hash,
      );
    }
  }

  /** The HIP-2 strategy re-quotes a ladder around the price: raw diffs only, no statuses. */
  #hip2Refresh(m: Market): void {
    for (const o of m.all.filter((o) => o.user === HIP2_USER)) {
      m.delete(o);
      this.#removeDiff(m, o);
    }
    const ref = m.refPx();
    for (const k of [3, 8, 20, 45]) {
      const step = Math.max(1, Math.round((k * m.meanDistance) / 10));
      const ask = m.asks.best();
      const bid = m.bids.best();
      let bidPx = m.clampPx(ref - step);
      if (ask !== undefined) bidPx = Math.min(bidPx, ask - 1);
      let askPx = m.clampPx(ref + step);
      if (bid !== undefined) askPx = Math.max(askPx, bid + 1);
      if (bidPx >= m.minPx) this.#passive(m, "Alo", HIP2_USER, "B", bidPx);
      if (askPx <= m.maxPx) this.#passive(m, "Alo", HIP2_USER, "A", askPx);
    }
  }
}

/** The statuses and diffs of a simulated block as the book's input. */
export function toBlockInput(block: SimBlock): BlockInput {
  return { height: block.height, time: block.time, statuses: block.statuses, diffs: block.diffs };
}

/** The three node lines of a block (`{local_time, block_time, block_number, events}`), in write order. */
export function blockLines(block: SimBlock): { fills: string; diffs: string; statuses: string } {
  return {
    fills: batchJson(block.localTime.fills, block.blockTime, block.height, block.fills),
    diffs: batchJson(block.localTime.diffs, block.blockTime, block.height, block.diffs),
    statuses: batchJson(block.localTime.statuses, block.blockTime, block.height, block.statuses),
  };
}
