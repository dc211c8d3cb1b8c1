/**
 * The per-user and candle streams (`orderUpdates`, `userFills`, `userEvents` → channel `user`, `candle`) and the
 * info requests answered from what hlbook keeps (`openOrders`, `frontendOpenOrders`, `orderStatus`,
 * `userFills`, `userFillsByTime`, `recentTrades`, `candleSnapshot`), in the official shapes.
 *
 * Cost: per block, statuses are matched to watched users by their address only (a substring of the node's raw
 * text; nothing is parsed for users nobody watches); each watched user's message is built and serialised once
 * and the same string goes to every subscriber of that view. Fills of a block are sent when the block's book
 * update arrives (or the next block's fills do), so streaming mode also gets one message per (user, block).
 * Every fill and trade is recorded in the bounded history (`history.ts`, `candles.ts`), whoever watches.
 *
 * @module
 */
import type { Books } from "../book/mod.ts";
import { parseNodeTime } from "../book/mod.ts";
import type { BookDiff, Coin, NodeOrder, StatusEvent, Trade } from "../book/types.ts";
import { Deque } from "./_deque.ts";
import { formatUnits, toUnits } from "./_units.ts";
import { type Candle, candleJson, Candles } from "./candles.ts";
import { type Fill, type FillEntry, type FillEvent, FillHistory, type HistoryLimits } from "./history.ts";
import { OpenOrderIndex, type RestingOrder } from "./open_orders.ts";
import type { Interval, UserInfoRequest, UserSubscription } from "./user_requests.ts";

/** Most fills one `userFills` / `userFillsByTime` answer holds (the official API's limit). */
export const MAX_FILLS_ANSWER = 2000;
/** Most candles one `candleSnapshot` answer holds (the official API's limit). */
export const MAX_CANDLES_ANSWER = 5000;
/** Final statuses of watched users' orders remembered for `orderStatus`. */
const RECENT_STATUSES = 10_000;

/** A view as the registry keeps it (only what the streams need). */
export interface StreamView<C> {
  readonly key: string;
  readonly subscription: UserSubscription;
  readonly subscribers: ReadonlySet<C>;
}

/** How the streams reach clients: the registry's delivery (backpressure rules included). */
export interface StreamSink<C> {
  /** The same text to every subscriber of the view. */
  broadcast(view: StreamView<C>, text: string): void;
  /** One text to one client. */
  send(client: C, text: string): void;
}

/** Bounds of what the streams keep. */
export interface StreamLimits extends HistoryLimits {
  /** Candles kept per coin and interval. */
  readonly candlesKept: number;
}

/** Outcome of an info request: the `data` JSON, or an error with its HTTP status. */
export type StreamInfoResult =
  | { readonly ok: true; readonly json: string }
  | { readonly ok: false; readonly status: number; readonly error: string };

/** A sink for the start-up backfill: what it read goes into a separate history, merged in by `done()`. */
export interface BackfillSink {
  /** Block of the first fills line the live stream delivered (-1 = none yet): the backfill stops before it. */
  liveFirstBlock(): number;
  fills(block: number, events: readonly FillEvent[]): void;
  trades(trades: readonly Trade[]): void;
  /** Puts what was read in front of the live history. */
  done(): void;
}

interface PendingFills {
  readonly block: number;
  /** Watched users' fills of the block, per user. */
  readonly byUser: Map<string, FillEntry[]>;
  /** Coins whose candles changed and are watched. */
  readonly candles: Set<Coin>;
}

/** Per-user and candle streams plus the history they serve. */
export class UserStreams<C> {
  readonly #sink: StreamSink<C>;
  readonly #limits: StreamLimits;
  /** Fills and recent trades of every user and coin, bounded. */
  history: FillHistory;
  /** Candles of every coin and interval, bounded. */
  candles: Candles;
  /** Resting orders by user. */
  readonly orders = new OpenOrderIndex();
  readonly #orderViews = new Map<string, StreamView<C>>();
  readonly #fillViews = new Map<string, StreamView<C>[]>();
  readonly #eventViews = new Map<string, StreamView<C>>();
  readonly #candleViews = new Map<Coin, StreamView<C>[]>();
  /** oid → the last status (not open, not a rejection) of a watched user's order, for `orderStatus`. */
  readonly #statuses = new Map<number, { user: string; event: ParsedStatus }>();
  /** The oids of `#statuses` oldest first (a ring, so forgetting the oldest is O(1)). */
  readonly #statusOrder = new Deque<number>();
  #pending: PendingFills | null = null;
  #liveFirstBlock = -1;
  /** Block of the last fills line (its trades follow it). */
  #fillsBlock = -1;

  constructor(sink: StreamSink<C>, limits: StreamLimits) {
    this.#sink = sink;
    this.#limits = limits;
    this.history = new FillHistory(limits);
    this.candles = new Candles({ kept: limits.candlesKept });
  }

  // ---- views ----------------------------------------------------------------------------------------

  /** A new view (its first subscriber follows). Sends what is pending first, so no fill is sent twice. */
  add(view: StreamView<C>): void {
    this.flush();
    const s = view.subscription;
    switch (s.type) {
      case "orderUpdates":
        this.#orderViews.set(s.user, view);
        break;
      case "userEvents":
        this.#eventViews.set(s.user, view);
        break;
      case "userFills":
        addTo(this.#fillViews, s.user, view);
        break;
      case "candle":
        addTo(this.#candleViews, s.coin, view);
        break;
    }
  }

  /** A view lost its last subscriber. */
  remove(view: StreamView<C>): void {
    const s = view.subscription;
    switch (s.type) {
      case "orderUpdates":
        this.#orderViews.delete(s.user);
        break;
      case "userEvents":
        this.#eventViews.delete(s.user);
        break;
      case "userFills":
        removeFrom(this.#fillViews, s.user, view);
        break;
      case "candle":
        removeFrom(this.#candleViews, s.coin, view);
        break;
    }
  }

  /** Call before a client joins an existing view: sends what is pending so the snapshot does not repeat it. */
  beforeSubscribe(): void {
    this.flush();
  }

  /** What a new subscriber gets first: the `userFills` snapshot, the current candle; nothing otherwise. */
  snapshot(view: StreamView<C>, client: C): void {
    const s = view.subscription;
    if (s.type === "userFills") {
      const fills = this.#userFills(s.user, s.aggregateByTime);
      this.#sink.send(
        client,
        `{"channel":"userFills","data":{"isSnapshot":true,"user":"${s.user}","fills":${fills}}}`,
      );
    } else if (s.type === "candle") {
      const candle = this.candles.latest(s.coin, s.interval);
      if (candle !== undefined) this.#sink.send(client, candleMessage(s.coin, s.interval, candle));
    }
  }

  // ---- ingest side ----------------------------------------------------------------------------------

  /** A fresh book (bootstrap or re-sync). */
  reset(books: Books): void {
    this.orders.reset(books);
  }

  /** One applied block: the order index, `orderUpdates`, and the block's pending fills. */
  block(diff: BookDiff): void {
    this.orders.block(diff);
    if (this.#pending !== null && this.#pending.block <= diff.height) this.flush();
    if (this.#orderViews.size > 0) this.#orderUpdates(diff);
  }

  /** One fills line (a block's, or one event's in streaming mode): history, then pending messages. */
  fills(block: number, events: readonly FillEvent[]): void {
    if (block < this.#fillsBlock) return; // a duplicate of an older line
    if (this.#liveFirstBlock < 0) this.#liveFirstBlock = block;
    this.#fillsBlock = block;
    if (this.#pending !== null && this.#pending.block !== block) this.flush();
    const added = this.history.add(block, events);
    if (this.#fillViews.size === 0 && this.#eventViews.size === 0) return;
    for (const entry of added) {
      if (!this.#fillViews.has(entry.user) && !this.#eventViews.has(entry.user)) continue;
      const pending = this.#pendingFor(block);
      const list = pending.byUser.get(entry.user);
      if (list === undefined) pending.byUser.set(entry.user, [entry]);
      else list.push(entry);
    }
  }

  /** One fills line's trades: recent trades and candles; watched candles are sent with the block's fills. */
  trades(trades: readonly Trade[]): void {
    if (trades.length === 0) return;
    this.history.addTrades(trades);
    const touched = this.candles.addTrades(trades);
    if (this.#candleViews.size === 0) return;
    for (const coin of touched) {
      if (!this.#candleViews.has(coin)) continue;
      this.#pendingFor(this.#fillsBlock).candles.add(coin);
    }
  }

  /** Sends the pending block's fills and candles (one message per view). */
  flush(): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    for (const [user, entries] of pending.byUser) {
      let plain: string | null = null;
      const views = this.#fillViews.get(user);
      if (views !== undefined) {
        for (const view of views) {
          if (view.subscription.type !== "userFills") continue;
          const fills = view.subscription.aggregateByTime
            ? fillsJson(aggregateByTime(entries.map((e) => e.fill)))
            : plain ??= fillsJson(entries.map((e) => e.fill));
          this.#sink.broadcast(view, `{"channel":"userFills","data":{"user":"${user}","fills":${fills}}}`);
        }
      }
      const events = this.#eventViews.get(user);
      if (events !== undefined) {
        plain ??= fillsJson(entries.map((e) => e.fill));
        this.#sink.broadcast(events, `{"channel":"user","data":{"fills":${plain}}}`);
      }
    }
    for (const coin of pending.candles) {
      for (const view of this.#candleViews.get(coin) ?? []) {
        if (view.subscription.type !== "candle") continue;
        const candle = this.candles.latest(coin, view.subscription.interval);
        if (candle !== undefined) {
          this.#sink.broadcast(view, candleMessage(coin, view.subscription.interval, candle));
        }
      }
    }
  }

  /** A sink for the start-up backfill (see {@link BackfillSink}). */
  backfill(): BackfillSink {
    const history = new FillHistory(this.#limits);
    const candles = new Candles({ kept: this.#limits.candlesKept });
    return {
      liveFirstBlock: () => this.#liveFirstBlock,
      fills: (block, events) => {
        history.add(block, events);
      },
      trades: (trades) => {
        history.addTrades(trades);
        candles.addTrades(trades);
      },
      done: () => {
        this.flush();
        this.history.absorbOlder(history);
        this.candles.absorbOlder(candles);
      },
    };
  }

  #pendingFor(block: number): PendingFills {
    return this.#pending ??= { block, byUser: new Map(), candles: new Set() };
  }

  #orderUpdates(diff: BookDiff): void {
    let byUser: Map<string, string[]> | null = null;
    for (const coinDiff of diff.coins.values()) {
      for (const st of coinDiff.statuses) {
        const user = statusUser(st);
        if (user === null || !this.#orderViews.has(user)) continue;
        // Most statuses are rejections: their WsOrder is cut out of the node's text without parsing it.
        const raw = "raw" in st ? st.raw : null;
        const fast = raw !== null ? wsOrderFromRaw(raw) : null;
        let json: string;
        if (raw !== null && fast !== null) {
          json = fast.json;
          if (fast.status !== "open" && !fast.status.endsWith("Rejected")) {
            this.#remember(user, JSON.parse(raw));
          }
        } else {
          const event: ParsedStatus = "raw" in st ? JSON.parse(st.raw) : st;
          json = wsOrderJson(event);
          this.#remember(user, event);
        }
        byUser ??= new Map();
        const list = byUser.get(user);
        if (list === undefined) byUser.set(user, [json]);
        else list.push(json);
      }
    }
    if (byUser === null) return;
    for (const [user, list] of byUser) {
      const view = this.#orderViews.get(user);
      if (view !== undefined) {
        this.#sink.broadcast(view, `{"channel":"orderUpdates","data":[${list.join(",")}]}`);
      }
    }
  }

  /**
   * Remembers a watched user's status for `orderStatus` when the order left the book or was triggered (not
   * `open`, which the book answers, and not a `…Rejected` status, 95 % of all, of an order that never rested).
   * Bounded: the oldest is forgotten first.
   */
  #remember(user: string, event: ParsedStatus): void {
    const status = event.status;
    if (status === "open" || status.endsWith("Rejected")) return;
    const oid = event.order.oid;
    if (!this.#statuses.has(oid)) this.#statusOrder.push(oid);
    this.#statuses.set(oid, { user, event });
    while (this.#statusOrder.length > RECENT_STATUSES) {
      const oldest = this.#statusOrder.shift();
      if (oldest !== undefined) this.#statuses.delete(oldest);
    }
  }

  // ---- info -----------------------------------------------------------------------------------------

  /** Answers a per-user or history info request; `books` is null while no book is served. */
  info(request: UserInfoRequest, books: Books | null, phase: string): StreamInfoResult {
    switch (request.type) {
      case "userFills":
        this.flush();
        return { ok: true, json: this.#userFills(request.user, request.aggregateByTime) };
      case "userFillsByTime": {
        this.flush();
        const end = request.endTime ?? Number.MAX_SAFE_INTEGER;
        let fills = this.history.byTime(request.user, request.startTime, end, Number.MAX_SAFE_INTEGER);
        if (request.aggregateByTime) fills = aggregateByTime(fills);
        if (fills.length > MAX_FILLS_ANSWER) fills = fills.slice(0, MAX_FILLS_ANSWER);
        if (request.reversed) fills.reverse();
        return { ok: true, json: fillsJson(fills) };
      }
      case "recentTrades":
        return { ok: true, json: `[${this.history.recentTrades(request.coin).map(tradeJson).join(",")}]` };
      case "candleSnapshot": {
        const end = request.endTime ?? Number.MAX_SAFE_INTEGER;
        const candles = this.candles.range(
          request.coin,
          request.interval,
          request.startTime,
          end,
          MAX_CANDLES_ANSWER,
        );
        return {
          ok: true,
          json: `[${candles.map((c) => candleJson(request.coin, request.interval, c)).join(",")}]`,
        };
      }
    }
    if (books === null) {
      return { ok: false, status: 503, error: `order book not ready (${phase}): retry shortly` };
    }
    switch (request.type) {
      case "openOrders":
        return {
          ok: true,
          json: `[${this.orders.orders(books, request.user, request.dex).map(openOrderJson).join(",")}]`,
        };
      case "frontendOpenOrders":
        return {
          ok: true,
          json: `[${
            this.orders.orders(books, request.user, request.dex).map((r) =>
              frontendOrderJson(r.order, r.origSz)
            )
              .join(",")
          }]`,
        };
      case "orderStatus": {
        const resting = request.oid !== null
          ? this.orders.order(books, request.user, request.oid)
          : this.orders.byCloid(books, request.user, request.cloid ?? "");
        if (resting !== null) {
          const o = resting.order;
          return {
            ok: true,
            json: `{"status":"order","order":{"order":${
              frontendOrderJson(o, resting.origSz)
            },"status":"open","statusTimestamp":${o.timestamp}}}`,
          };
        }
        for (const [oid, known] of this.#statuses) {
          if (known.user !== request.user) continue;
          const order = known.event.order;
          if (request.oid !== null ? oid === request.oid : order.cloid?.toLowerCase() === request.cloid) {
            return {
              ok: true,
              json: orderStatusJson(frontendOrderJson(order, order.origSz ?? order.sz), known.event),
            };
          }
        }
        return { ok: true, json: '{"status":"unknownOid"}' };
      }
    }
  }

  #userFills(user: string, aggregate: boolean): string {
    if (!aggregate) return fillsJson(this.history.recent(user, MAX_FILLS_ANSWER));
    const chronological = this.history.recent(user, this.#limits.fillsPerUser).reverse();
    return fillsJson(aggregateByTime(chronological).reverse().slice(0, MAX_FILLS_ANSWER));
  }
}

/** A status event as the node wrote it. */
interface ParsedStatus {
  readonly time: string;
  readonly status: string;
  readonly order: NodeOrder;
}

/** The user of a status event without parsing it (node lines put `"user":"0x…"` near the start). */
export function statusUser(st: StatusEvent): string | null {
  if (!("raw" in st)) return st.user;
  const i = st.raw.indexOf('"user":"');
  if (i < 0) return null;
  const end = st.raw.indexOf('"', i + 8);
  return end < 0 ? null : st.raw.slice(i + 8, end);
}

/** The official `WsOrder`: `{order:{coin,side,limitPx,sz,oid,timestamp,origSz,cloid?,reduceOnly?},status,statusTimestamp}`. */
export function wsOrderJson(event: ParsedStatus): string {
  const o = event.order;
  return `{"order":{"coin":${
    JSON.stringify(o.coin)
  },"side":"${o.side}","limitPx":"${o.limitPx}","sz":"${o.sz}",` +
    `"oid":${o.oid},"timestamp":${o.timestamp},"origSz":"${o.origSz ?? o.sz}"` +
    (o.cloid ? `,"cloid":${JSON.stringify(o.cloid)}` : "") + (o.reduceOnly ? `,"reduceOnly":true` : "") +
    `},"status":${JSON.stringify(event.status)},"statusTimestamp":${statusTime(event)}}`;
}

/**
 * The node's status layout (as written since 2025): `time`, `user`, optional simple fields, `status`, then the
 * order's fields in a fixed order with no children. Anything else (children, new fields inside the order) does
 * not match and is parsed in full instead.
 */
const STATUS_LAYOUT = new RegExp(
  '^\\{"time":"([0-9T:.-]{19,29})","user":"0x[0-9a-f]{40}",(?:"[A-Za-z]+":(?:null|"[^"\\\\]*"|\\{[^{}"]*(?:"[^"\\\\]*"[^{}"]*)*\\}),)*?' +
    '"status":"([A-Za-z]+)","order":\\{"coin":"([^"\\\\]+)","side":"([AB])","limitPx":"([0-9.]+)","sz":"([0-9.]+)",' +
    '"oid":(\\d+),"timestamp":(\\d+),"triggerCondition":"[^"\\\\]*","isTrigger":(?:true|false),"triggerPx":"[0-9.]+",' +
    '"children":\\[\\],"isPositionTpsl":(?:true|false),"reduceOnly":(true|false),"orderType":"[^"\\\\]*",' +
    '"origSz":"([0-9.]+)","tif":(?:null|"[A-Za-z]+"),"cloid":(null|"0x[0-9a-fA-F]+")\\}',
);

/** The WsOrder of a raw status cut out of its text, or null when the text is not in the usual layout. */
export function wsOrderFromRaw(raw: string): { json: string; status: string } | null {
  const m = STATUS_LAYOUT.exec(raw);
  if (m === null) return null;
  const ms = timeMs(m[1]);
  if (Number.isNaN(ms)) return null;
  const json =
    `{"order":{"coin":"${m[3]}","side":"${m[4]}","limitPx":"${m[5]}","sz":"${m[6]}","oid":${m[7]},` +
    `"timestamp":${m[8]},"origSz":"${m[10]}"` + (m[11] !== "null" ? `,"cloid":${m[11]}` : "") +
    (m[9] === "true" ? `,"reduceOnly":true` : "") + `},"status":"${m[2]}","statusTimestamp":${ms}}`;
  return { json, status: m[2] };
}

let lastTime = "";
let lastMs = NaN;

/** `parseNodeTime` with a one-entry memo: the statuses of a block share their time. */
function timeMs(time: string): number {
  if (time !== lastTime) {
    lastTime = time;
    lastMs = parseNodeTime(time);
  }
  return lastMs;
}

function statusTime(event: ParsedStatus): number {
  const ms = timeMs(event.time);
  return Number.isNaN(ms) ? event.order.timestamp : ms;
}

/** The official `openOrders` entry: `{coin,side,limitPx,sz,oid,timestamp,origSz,cloid?,reduceOnly?}`. */
function openOrderJson(r: RestingOrder): string {
  const o = r.order;
  return `{"coin":${JSON.stringify(o.coin)},"side":"${o.side}","limitPx":"${o.limitPx}","sz":"${o.sz}",` +
    `"oid":${o.oid},"timestamp":${o.timestamp},"origSz":"${r.origSz}"` +
    (o.cloid ? `,"cloid":${JSON.stringify(o.cloid)}` : "") + (o.reduceOnly ? `,"reduceOnly":true` : "") + "}";
}

/** The official `frontendOpenOrders` entry (also the order inside an `orderStatus` answer). */
function frontendOrderJson(
  o: Pick<
    NodeOrder,
    | "coin"
    | "side"
    | "limitPx"
    | "sz"
    | "oid"
    | "timestamp"
    | "triggerCondition"
    | "isTrigger"
    | "triggerPx"
    | "isPositionTpsl"
    | "reduceOnly"
    | "orderType"
    | "tif"
    | "cloid"
  >,
  origSz: string,
): string {
  return `{"coin":${JSON.stringify(o.coin)},"side":"${o.side}","limitPx":"${o.limitPx}","sz":"${o.sz}",` +
    `"oid":${o.oid},"timestamp":${o.timestamp},"origSz":"${origSz}",` +
    `"triggerCondition":${JSON.stringify(o.triggerCondition)},"isTrigger":${o.isTrigger},` +
    `"triggerPx":"${o.triggerPx}","children":[],"isPositionTpsl":${o.isPositionTpsl},` +
    `"reduceOnly":${o.reduceOnly},"orderType":${JSON.stringify(o.orderType)},` +
    `"tif":${o.tif === null ? "null" : JSON.stringify(o.tif)},"cloid":${
      o.cloid ? JSON.stringify(o.cloid) : "null"
    }}`;
}

function orderStatusJson(order: string, event: ParsedStatus): string {
  return `{"status":"order","order":{"order":${order},"status":${
    JSON.stringify(event.status)
  },"statusTimestamp":${statusTime(event)}}}`;
}

/** `{"channel":"candle","data":{t,T,s,i,o,c,h,l,v,n}}`. */
export function candleMessage(coin: Coin, interval: Interval, candle: Candle): string {
  return `{"channel":"candle","data":${candleJson(coin, interval, candle)}}`;
}

/** Fills as a JSON array, each exactly as the node wrote it. */
function fillsJson(fills: readonly Fill[]): string {
  return JSON.stringify(fills);
}

function tradeJson(t: Trade): string {
  return `{"coin":${
    JSON.stringify(t.coin)
  },"side":"${t.side}","px":"${t.px}","sz":"${t.sz}","time":${t.time},` +
    `"hash":${JSON.stringify(t.hash)},"tid":${t.tid},"users":[${JSON.stringify(t.users[0])},${
      JSON.stringify(t.users[1])
    }]}`;
}

/**
 * `aggregateByTime`: consecutive fills of one order at one time (a crossing order that took several resting
 * orders) become one fill: `sz`, `fee` and `closedPnl` summed exactly, `px` the size-weighted average (rounded
 * half up to 8 decimals), every other field the first fill's. Fills must be oldest first.
 */
export function aggregateByTime(fills: readonly Fill[]): Fill[] {
  const out: Fill[] = [];
  let i = 0;
  while (i < fills.length) {
    const first = fills[i];
    let j = i + 1;
    while (j < fills.length && fills[j].oid === first.oid && fills[j].time === first.time) j++;
    if (j === i + 1) {
      out.push(first);
    } else {
      let sz = 0n;
      let ntl = 0n;
      let fee = 0n;
      let pnl = 0n;
      for (let k = i; k < j; k++) {
        const f = fills[k];
        const s = toUnits(f.sz) ?? 0n;
        sz += s;
        ntl += (toUnits(f.px) ?? 0n) * s;
        fee += toUnits(f.fee ?? "0") ?? 0n;
        pnl += toUnits(f.closedPnl ?? "0") ?? 0n;
      }
      const px = sz === 0n ? toUnits(first.px) ?? 0n : (2n * ntl + sz) / (2n * sz);
      const merged: Record<string, unknown> = { ...first, px: formatUnits(px), sz: formatUnits(sz) };
      if (first.fee !== undefined) merged.fee = formatUnits(fee);
      if (first.closedPnl !== undefined) merged.closedPnl = formatUnits(pnl);
      out.push(merged as unknown as Fill);
    }
    i = j;
  }
  return out;
}

function addTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function removeFrom<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) return;
  const i = list.indexOf(value);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) map.delete(key);
}
