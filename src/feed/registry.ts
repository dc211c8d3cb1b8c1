/**
 * The subscription registry: which client watches which view, and the per-block fan-out.
 *
 * A view (one `l2Book` parameter set of a coin, a coin's `bbo`, `trades` or `l4Book`, one `allMids` dex) exists
 * only while somebody subscribes to it. Per block, every view of every changed coin is computed once, compared
 * with what was last sent, serialised once, and the same string goes to all its subscribers.
 *
 * Backpressure: a client whose socket has more than a soft threshold unsent gets its `l2Book`, `bbo` and
 * `allMids` messages conflated to the latest per view (flushed when it drains, checked on every block);
 * `trades`, `l4Book` and replies are always queued; above `maxBuffered` the client is closed with 1008.
 *
 * @module
 */
import type { Books } from "../book/mod.ts";
import type { BookDiff, Coin, L4Order, Trade } from "../book/types.ts";
import type { Counter, Gauge, Histogram, Metrics } from "../metrics.ts";
import { logger } from "../log.ts";
import { invalidSubscription } from "./official_types.ts";
import {
  allMidsMessage,
  bboJson,
  bboMessage,
  errorMessage,
  l2BookData,
  l2BookMessage,
  l4OrdersJson,
  l4SnapshotFromJson,
  l4SnapshotMessage,
  l4UpdatesMessage,
  levelJson,
  levelsJson,
  midsJson,
  type Phase,
  PONG,
  postErrorResponse,
  postInfoResponse,
  statusMessage,
  subscriptionResponse,
  tradesMessage,
} from "./messages.ts";
import { assetCtxJson, assetCtxMessage, CtxMemo, DayStats } from "./asset_ctx.ts";
import {
  type CoinCheck,
  type InfoRequest,
  parseClientMessage,
  type Subscription,
  type SubscriptionRequest,
} from "./subscription.ts";
import {
  USER_INFO_TYPES,
  USER_SUBSCRIPTION_TYPES,
  type UserInfoRequest,
  type UserSubscription,
} from "./user_requests.ts";
import { type BackfillSink, type StreamLimits, type StreamView, UserStreams } from "./user_streams.ts";
import type { FillEvent } from "./history.ts";

const log = logger("feed");

/** What the feed needs from a connection (a `WebSocket` fits). */
export interface ClientSink {
  send(text: string): void;
  readonly bufferedAmount: number;
  close(code?: number, reason?: string): void;
}

/** Per-connection limits. */
export interface ClientLimits {
  /** Subscriptions one connection may hold. */
  readonly maxSubscriptions: number;
  /** Unsent bytes above which the client is closed with 1008 (may change over time, e.g. a per-address share). */
  readonly maxBuffered: number;
  /** Budgets shared with other connections (per address, global); see {@link SubscriptionGate}. */
  readonly gate?: SubscriptionGate;
}

/**
 * A budget a subscription must fit in besides the connection's own `maxSubscriptions` (the server's per-address
 * and global budgets, src/server/limits.ts). Every admitted subscription is released exactly once.
 */
export interface SubscriptionGate {
  /** Asked before a subscription is added: null admits it, a text is why not (put in the error reply). */
  admit(client: Client, subscription: Subscription): string | null;
  /** An admitted subscription is gone (unsubscribed, or its connection closed). */
  release(client: Client, subscription: Subscription): void;
}

interface View {
  readonly key: string;
  readonly subscription: Subscription;
  readonly subscribers: Set<Client>;
  /** What was last sent (levels / bbo / mids JSON), to skip blocks that did not change the view. */
  last: string | null;
}

/** An l4Book snapshot being serialised in chunks; Updates of later blocks wait per client until it is sent. */
interface L4Job {
  readonly coin: Coin;
  readonly height: number;
  readonly key: string;
  readonly waiters: Map<Client, string[]>;
}

/** Most snapshot bytes a client may have unsent on top of `maxBuffered` (a reader that never reads is closed). */
const L4_ALLOWANCE_CAP = 64 * 1024 * 1024;

/** Most cached info `l2Book` answers (per height; cleared when full). */
const INFO_CACHE_MAX = 1024;

/** Orders serialised per event-loop turn when building a large l4Book snapshot. */
const L4_CHUNK = 4096;

/** One connected client as the feed sees it. Create with {@link Feed.attach}. */
export class Client {
  /** Subscription key → view. */
  readonly views = new Map<string, View>();
  /** Conflated messages waiting for the socket to drain, latest per view key. */
  pending: Map<string, string> | null = null;
  closed = false;
  /**
   * Bytes of large snapshots (l4Book) sent recently: they may sit in the buffer on top of `maxBuffered` until
   * the socket drains below the soft threshold once.
   */
  allowance = 0;
  /** l4Book view key → the snapshot being built for this client; its Updates wait in the job meanwhile. */
  l4Waiting: Map<string, L4Job> | null = null;
  constructor(readonly sink: ClientSink, readonly limits: ClientLimits) {}
  /**
   * Unsent bytes above which l2Book/bbo/allMids are conflated: an eighth of `maxBuffered` (at least 16 KiB, at
   * most half). Read each time: `limits.maxBuffered` may shrink while the client's address opens connections.
   */
  get softBuffered(): number {
    const max = this.limits.maxBuffered;
    return Math.min(Math.floor(max / 2), Math.max(16 * 1024, Math.floor(max / 8)));
  }
  /** Number of subscriptions held. */
  get subscriptionCount(): number {
    return this.views.size;
  }
}

/** Outcome of an info request: serialised `data` object or an error with an HTTP status. */
export type InfoResult =
  | { readonly ok: true; readonly json: string }
  | { readonly ok: false; readonly status: number; readonly error: string };

/**
 * Answers a `post` info request hlbook does not answer itself (forwarded to the node, or built from the node's
 * metadata): the `data` JSON, or the error text.
 */
export type InfoFallback = (
  payload: Readonly<Record<string, unknown>>,
) => Promise<{ readonly ok: true; readonly json: string } | { readonly ok: false; readonly error: string }>;

/** Feed state as `/health` reports it. */
export interface FeedStatus {
  readonly phase: Phase;
  /** A book is loaded and being served. */
  readonly live: boolean;
  readonly height: number;
  /** Block time of the last block, ms. */
  readonly time: number;
  readonly clients: number;
  readonly subscriptions: number;
}

/** Default bounds of the per-user history (see config.ts for the flags that set them). */
export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  historyMs: 24 * 3600_000,
  fillsPerUser: 2000,
  maxFills: 1_000_000,
  tradesPerCoin: 100,
  candlesKept: 1440,
};

/** Subscriptions served by `user_streams.ts` (orderUpdates, userFills, userEvents, candle). */
function isUserSubscription(sub: Subscription): sub is UserSubscription {
  return USER_SUBSCRIPTION_TYPES.has(sub.type);
}

/** Info requests answered by `user_streams.ts`. */
function isUserInfo(request: InfoRequest): request is UserInfoRequest {
  return USER_INFO_TYPES.has(request.type) && request.type !== "l2Book" && request.type !== "allMids";
}

function streamView(view: View): StreamView<Client> {
  return view as StreamView<Client>;
}

function isBookView(type: Subscription["type"]): boolean {
  return type === "l2Book" || type === "bbo";
}

/** Whether a coin belongs to an `allMids` dex: "" = the main dex (no `dex:` prefix). */
function inDex(coin: Coin, dex: string): boolean {
  const colon = coin.indexOf(":");
  return dex === "" ? colon < 0 : colon === dex.length && coin.startsWith(dex);
}

/** The subscription registry and fan-out. */
export class Feed {
  readonly #clients = new Set<Client>();
  readonly #views = new Map<string, View>();
  /** Coin → views of that coin (l2Book, bbo, l4Book, trades). */
  readonly #byCoin = new Map<Coin, Set<View>>();
  readonly #midsViews = new Set<View>();
  /** Current mids of every coin with both sides; valid only while an allMids view exists. */
  #mids: Map<Coin, string> | null = null;
  readonly #backlogged = new Set<Client>();
  #subscriptions = 0;
  #books: Books | null = null;
  #live = false;
  #phase: Phase = "starting";
  #height = 0;
  #time = 0;
  #l4Cache: { coin: Coin; height: number; text: string } | null = null;
  /** Coin → snapshot job in progress at the current height. */
  readonly #l4Jobs = new Map<Coin, L4Job>();
  readonly #l4Chunk: number;
  /** Coin → length of the last l4Book snapshot built for it (estimates what a pending snapshot will cost). */
  readonly #l4Sizes = new Map<Coin, number>();
  readonly #faultsLogged = new Set<string>();
  /** Info `l2Book` answers (`data` JSON) at `#infoBooks`/`#infoHeight`, by coin and view: a repeat is a lookup. */
  readonly #infoCache = new Map<string, string>();
  #infoBooks: Books | null = null;
  #infoHeight = -1;
  #infoTime = -1;
  /** Rolling 24 h trade figures per coin (asset contexts). */
  readonly #day = new DayStats();
  readonly #ctxMemo = new CtxMemo();
  #infoFallback: InfoFallback | null = null;
  readonly #streams: UserStreams<Client>;

  readonly #clientsGauge: Gauge;
  readonly #subscriptionsGauge: Gauge;
  readonly #messages: Counter;
  readonly #bytes: Counter;
  readonly #conflated: Counter;
  readonly #dropped: Counter;
  readonly #closedSlow: Counter;
  readonly #errors: Counter;
  readonly #fanout: Histogram;
  readonly #faults: Counter;

  /** `l4Chunk`: orders serialised per event-loop turn for big l4Book snapshots (tests make it small). */
  constructor(options: { metrics: Metrics; l4Chunk?: number; streams?: StreamLimits }) {
    this.#l4Chunk = Math.max(1, options.l4Chunk ?? L4_CHUNK);
    this.#streams = new UserStreams<Client>({
      broadcast: (view, text) => this.#broadcast(view as View, text, false),
      send: (client, text) => this.#deliver(client, text, null),
    }, options.streams ?? DEFAULT_STREAM_LIMITS);
    const m = options.metrics;
    this.#clientsGauge = m.gauge("hlbook_clients", "WebSocket clients connected");
    this.#subscriptionsGauge = m.gauge("hlbook_subscriptions", "subscriptions held by all clients");
    this.#messages = m.counter("hlbook_messages_sent_total", "messages sent to WebSocket clients");
    this.#bytes = m.counter("hlbook_bytes_sent_total", "bytes (UTF-16 code units) sent to WebSocket clients");
    this.#conflated = m.counter(
      "hlbook_conflated_total",
      "l2Book/bbo/allMids messages replaced by a newer one for a slow client",
    );
    this.#dropped = m.counter(
      "hlbook_dropped_total",
      "messages discarded because their client was closed as too slow",
    );
    this.#closedSlow = m.counter(
      "hlbook_closed_slow_total",
      "clients closed with 1008 for exceeding --max-buffered",
    );
    this.#errors = m.counter("hlbook_client_errors_total", "client requests answered with an error");
    this.#faults = m.counter(
      "hlbook_feed_faults_total",
      "unexpected failures inside the feed (logged once per kind)",
    );
    this.#fanout = m.histogram(
      "hlbook_fanout_ms",
      "time to compute, serialise and send one block's messages (ms)",
    );
  }

  // ---- ingest side ------------------------------------------------------------------------------------

  /** A fresh book (bootstrap or re-sync): every subscriber gets a fresh snapshot of what it watches. */
  reset(books: Books): void {
    this.#books = books;
    this.#height = books.height;
    // A book loaded from a snapshot may not know its block time (0): keep the last one known until a block.
    if (books.time > 0) this.#time = books.time;
    try {
      this.#streams.reset(books);
      this.#goLive();
    } catch (error) {
      this.#fault("reset snapshots", error);
    }
  }

  /** One applied block: fan out every watched view the block changed. Never throws. */
  block(books: Books, diff: BookDiff): void {
    try {
      this.#block(books, diff);
    } catch (error) {
      this.#fault("block fan-out", error);
    }
  }

  #block(books: Books, diff: BookDiff): void {
    const start = performance.now();
    this.#books = books;
    this.#height = diff.height;
    this.#time = diff.time;
    this.#drain();
    this.#streams.block(diff);
    if (!this.#live) return;
    let midsChanged = false;
    for (const [coin, coinDiff] of diff.coins) {
      this.#ctxMemo.touch(coin);
      if (this.#mids !== null) {
        const mid = books.mid(coin);
        if (mid !== (this.#mids.get(coin) ?? null)) {
          midsChanged = true;
          if (mid === null) this.#mids.delete(coin);
          else this.#mids.set(coin, mid);
        }
      }
      const views = this.#byCoin.get(coin);
      if (views === undefined) continue;
      // l2Book views that differ only in nLevels share one computation (grouped by bucketing).
      let l2Groups: Map<string, View[]> | null = null;
      for (const view of views) {
        const sub = view.subscription;
        if (sub.type !== "l2Book") continue;
        const group = `${sub.params.nSigFigs}|${sub.params.mantissa}`;
        l2Groups ??= new Map();
        const list = l2Groups.get(group);
        if (list === undefined) l2Groups.set(group, [view]);
        else list.push(view);
      }
      if (l2Groups !== null) {
        for (const group of l2Groups.values()) this.#fanoutL2(books, coin, diff.time, group);
      }
      for (const view of views) {
        const sub = view.subscription;
        if (sub.type === "bbo") {
          const bbo = bboJson(books.bbo(coin));
          if (bbo === view.last) continue;
          view.last = bbo;
          this.#broadcast(view, bboMessage(coin, diff.time, bbo), true);
        } else if (sub.type === "activeAssetCtx") {
          this.#refreshCtx(view, coin);
        } else if (sub.type === "l4Book") {
          if (coinDiff.statuses.length === 0 && coinDiff.diffs.length === 0) continue;
          const text = l4UpdatesMessage(diff.time, diff.height, coinDiff.statuses, coinDiff.diffs);
          for (const client of view.subscribers) {
            const job = client.l4Waiting?.get(view.key);
            if (job === undefined) this.#deliver(client, text, null);
            else job.waiters.get(client)?.push(text);
          }
        }
      }
    }
    if (midsChanged) {
      for (const view of this.#midsViews) {
        const mids = this.#midsOf(view.subscription.type === "allMids" ? view.subscription.dex : "");
        if (mids === view.last) continue;
        view.last = mids;
        this.#broadcast(view, allMidsMessage(mids), true);
      }
    }
    this.#fanout.observe(performance.now() - start);
  }

  /** Fans out l2Book views of one coin with the same bucketing: one book walk and level serialisation. */
  #fanoutL2(books: Books, coin: Coin, time: number, views: readonly View[]): void {
    const first = views[0].subscription;
    if (first.type !== "l2Book") return;
    if (views.length === 1) {
      const levels = levelsJson(books.l2(coin, first.params));
      if (levels !== views[0].last) {
        views[0].last = levels;
        this.#broadcast(views[0], l2BookMessage(coin, time, levels), true);
      }
      return;
    }
    let max = 0;
    for (const view of views) {
      if (view.subscription.type === "l2Book") max = Math.max(max, view.subscription.params.nLevels);
    }
    // Truncating the deepest view gives every shallower one (bucketing does not depend on nLevels).
    const [bidLevels, askLevels] = books.l2(coin, { ...first.params, nLevels: max });
    const bids = bidLevels.map(levelJson);
    const asks = askLevels.map(levelJson);
    for (const view of views) {
      if (view.subscription.type !== "l2Book") continue;
      const n = view.subscription.params.nLevels;
      const levels = `[[${bids.slice(0, n).join(",")}],[${asks.slice(0, n).join(",")}]]`;
      if (levels === view.last) continue;
      view.last = levels;
      this.#broadcast(view, l2BookMessage(coin, time, levels), true);
    }
  }

  /** One block's trades: one message per coin to that coin's `trades` subscribers. Never throws. */
  trades(trades: readonly Trade[]): void {
    try {
      this.#day.add(trades);
      for (const trade of trades) this.#ctxMemo.touch(trade.coin);
      this.#trades(trades);
    } catch (error) {
      this.#fault("trades fan-out", error);
    }
  }

  #trades(trades: readonly Trade[]): void {
    this.#streams.trades(trades);
    if (trades.length === 0 || this.#byCoin.size === 0) return;
    let byCoin: Map<Coin, Trade[]> | null = null;
    for (const trade of trades) {
      if (!this.#views.has(`trades\u0000${trade.coin}`)) continue;
      byCoin ??= new Map();
      let list = byCoin.get(trade.coin);
      if (list === undefined) byCoin.set(trade.coin, list = []);
      list.push(trade);
    }
    if (byCoin !== null) {
      for (const [coin, list] of byCoin) {
        const view = this.#views.get(`trades\u0000${coin}`);
        if (view !== undefined) this.#broadcast(view, tradesMessage(list), false);
      }
    }
    // Trades change the 24 h figures of their coins' asset contexts.
    let last: Coin | null = null;
    for (const trade of trades) {
      if (trade.coin === last) continue;
      last = trade.coin;
      const view = this.#views.get(`activeAssetCtx\u0000${trade.coin}`);
      if (view !== undefined) this.#refreshCtx(view, trade.coin);
    }
  }

  /** Sends an activeAssetCtx view's context when it changed since the last one sent. */
  #refreshCtx(view: View, coin: Coin): void {
    if (!this.#live || this.#books === null) return;
    const ctx = this.#ctxJson(this.#books, coin);
    if (ctx === view.last) return;
    view.last = ctx;
    this.#broadcast(view, assetCtxMessage(coin, ctx), true);
  }

  #ctxJson(books: Books | null, coin: Coin): string {
    const now = this.#time > 0 ? this.#time : Date.now();
    return this.#ctxMemo.get(
      coin,
      books !== null,
      now,
      () => assetCtxJson(books, coin, this.#day.figures(coin, now)),
    );
  }

  /**
   * The asset context of a coin as JSON (perp or spot shape, see `asset_ctx.ts`), with the book fields null
   * while no book is served.
   */
  assetCtx(coin: Coin): string {
    return this.#ctxJson(this.#live ? this.#books : null, coin);
  }

  /** Changes whenever an asset context may have changed (new block, trades, reset): a cache key. */
  ctxVersion(): string {
    return `${this.#live ? this.#height : -1}:${this.#day.version}:${this.#books === null ? 0 : 1}`;
  }

  /** Where `post` info requests of types hlbook does not answer itself go (else they get an error reply). */
  setInfoFallback(fallback: InfoFallback): void {
    this.#infoFallback = fallback;
  }

  /**
   * One fills line (a block's, or one event's in streaming mode), before its trades: recorded in the history;
   * watched users get it with the block. Never throws.
   */
  fills(block: number, events: readonly FillEvent[]): void {
    try {
      this.#streams.fills(block, events);
    } catch (error) {
      this.#fault("fills fan-out", error);
    }
  }

  /** The per-user history: fills per user, recent trades, candles (for 24 h statistics and the like). */
  get history(): Pick<UserStreams<Client>, "history" | "candles"> {
    return this.#streams;
  }

  /** Where the start-up backfill of fills goes; its `done()` merges it in front of the live history. */
  backfill(): BackfillSink {
    const sink = this.#streams.backfill();
    // The asset contexts' 24 h window gets the backfilled trades too, in front of the live ones.
    const day = new DayStats();
    return {
      ...sink,
      trades: (trades) => {
        sink.trades(trades);
        day.add(trades);
      },
      done: () => {
        sink.done();
        this.#day.absorbOlder(day);
        this.#ctxMemo.clear();
      },
    };
  }

  /** Ingest state: `starting`/`resyncing` stop serving the book until the next reset; changes are told to clients. */
  state(state: { phase: Phase; height: number; time: number }): void {
    if (state.time > this.#time) this.#time = state.time;
    const changed = state.phase !== this.#phase;
    this.#phase = state.phase;
    if (state.phase === "starting" || state.phase === "resyncing") this.#live = false;
    else if (!this.#live && this.#books !== null) this.#goLive();
    if (!changed) return;
    const text = statusMessage(state.phase, state.height, state.time);
    for (const client of this.#clients) {
      if (client.views.size > 0) this.#deliver(client, text, null);
    }
  }

  // ---- server side ------------------------------------------------------------------------------------

  /** Registers a new connection. */
  attach(sink: ClientSink, limits: ClientLimits): Client {
    const client = new Client(sink, limits);
    this.#clients.add(client);
    this.#clientsGauge.set(this.#clients.size);
    return client;
  }

  /** Forgets a connection and all its subscriptions (idempotent). */
  detach(client: Client): void {
    client.closed = true;
    if (!this.#clients.delete(client)) return;
    for (const [key, view] of client.views) this.#removeSubscriber(key, view, client);
    client.views.clear();
    client.pending = null;
    this.#backlogged.delete(client);
    this.#clientsGauge.set(this.#clients.size);
  }

  /** Handles one text message from a client; answers on the client's socket. Never throws. */
  handle(client: Client, text: string): void {
    try {
      const parsed = parseClientMessage(text, this.#coinCheck());
      if (!parsed.ok) {
        this.#errors.inc();
        if ("postId" in parsed) this.#deliver(client, postErrorResponse(parsed.postId, parsed.error), null);
        else this.#deliver(client, errorMessage(parsed.error), null);
        return;
      }
      const message = parsed.message;
      switch (message.method) {
        case "ping":
          this.#deliver(client, PONG, null);
          return;
        case "subscribe":
          this.#subscribe(client, message.request);
          return;
        case "unsubscribe":
          this.#unsubscribe(client, message.request);
          return;
        case "forward":
          this.#forward(client, message.id, message.payload);
          return;
        case "post": {
          const result = this.info(message.request);
          this.#deliver(
            client,
            result.ok
              ? postInfoResponse(message.id, message.request.type, result.json)
              : postErrorResponse(message.id, result.error),
            null,
          );
          return;
        }
      }
    } catch (error) {
      this.#fault("client message", error);
      this.#deliver(
        client,
        errorMessage(`internal error while handling the request: ${text.slice(0, 200)}`),
        null,
      );
    }
  }

  /** Answers a `post` of a type hlbook does not answer itself through the fallback, when it resolves. */
  #forward(client: Client, id: number, payload: Readonly<Record<string, unknown>>): void {
    const fallback = this.#infoFallback;
    const type = String(payload.type);
    if (fallback === null) {
      this.#errors.inc();
      this.#deliver(
        client,
        postErrorResponse(id, `unsupported info request type ${JSON.stringify(type)}`),
        null,
      );
      return;
    }
    fallback(payload).then((result) => {
      if (!result.ok) this.#errors.inc();
      this.#deliver(
        client,
        result.ok ? postInfoResponse(id, type, result.json) : postErrorResponse(id, result.error),
        null,
      );
    }).catch((error) => {
      this.#fault("info fallback", error);
      this.#deliver(client, postErrorResponse(id, "internal error while answering the info request"), null);
    });
  }

  /** Logs an unexpected failure once per kind (never per event) and counts it. */
  #fault(what: string, error: unknown): void {
    this.#faults.inc();
    if (this.#faultsLogged.has(what)) return;
    this.#faultsLogged.add(what);
    log.error("unexpected failure in {what}: {error}", { what, error });
  }

  /**
   * Flushes conflated messages of clients whose socket drained. Blocks do this too; the server also calls it
   * on a short timer so a slow client catches up even when no blocks arrive. Cheap when nobody is behind.
   */
  poll(): void {
    this.#drain();
  }

  /** Sends an error text to a client (used by the server for limit violations). */
  sendError(client: Client, text: string): void {
    this.#errors.inc();
    this.#deliver(client, errorMessage(text), null);
  }

  /** Answers an info request (`l2Book` → `{coin,time,levels}`, `allMids` → `{coin: mid}`). */
  info(request: InfoRequest): InfoResult {
    const books = this.#books;
    if (isUserInfo(request)) {
      return this.#streams.info(request, this.#live ? books : null, this.#phase);
    }
    if (!this.#live || books === null) {
      return { ok: false, status: 503, error: `order book not ready (${this.#phase}): retry shortly` };
    }
    if (request.type === "l2Book") {
      const time = this.#timeOf(books);
      if (this.#infoBooks !== books || this.#infoHeight !== books.height || this.#infoTime !== time) {
        this.#infoCache.clear();
        this.#infoBooks = books;
        this.#infoHeight = books.height;
        this.#infoTime = time;
      }
      const p = request.params;
      const key = `${request.coin}\u0000${p.nSigFigs}\u0000${p.mantissa}\u0000${p.nLevels}`;
      let json = this.#infoCache.get(key);
      if (json === undefined) {
        json = l2BookData(request.coin, time, levelsJson(books.l2(request.coin, request.params)));
        if (this.#infoCache.size >= INFO_CACHE_MAX) this.#infoCache.clear();
        this.#infoCache.set(key, json);
      }
      return { ok: true, json };
    }
    return { ok: true, json: this.#midsOf(request.dex, this.#mids ?? this.#computeMids(books)) };
  }

  /**
   * Bytes a client has unsent plus the estimated size of the l4Book snapshots still being built for it (the
   * last size seen for the coin): what the server's per-address snapshot budget counts.
   */
  unsentEstimate(client: Client): number {
    let bytes = client.sink.bufferedAmount;
    if (client.l4Waiting !== null) {
      for (const job of client.l4Waiting.values()) bytes += this.#l4Sizes.get(job.coin) ?? 0;
    }
    return bytes;
  }

  /** Length of the last l4Book snapshot built for `coin`, 0 when none was yet. */
  l4SnapshotSize(coin: Coin): number {
    return this.#l4Sizes.get(coin) ?? 0;
  }

  /** Parses an info request body against the current coins. */
  coinCheck(): CoinCheck {
    return this.#coinCheck();
  }

  /** Current state, for `/health`. */
  status(): FeedStatus {
    return {
      phase: this.#phase,
      live: this.#live,
      height: this.#height,
      time: this.#time,
      clients: this.#clients.size,
      subscriptions: this.#subscriptions,
    };
  }

  /** Closes every client (server shutdown). */
  closeAll(code: number, reason: string): void {
    for (const client of [...this.#clients]) {
      try {
        client.sink.close(code, reason);
      } catch {
        // already closed
      }
      this.detach(client);
    }
  }

  // ---- internals --------------------------------------------------------------------------------------

  #coinCheck(): CoinCheck {
    const books = this.#books;
    return this.#live && books !== null ? (coin) => books.has(coin) : null;
  }

  #subscribe(client: Client, request: SubscriptionRequest): void {
    if (isUserSubscription(request.subscription)) this.#streams.beforeSubscribe();
    if (client.views.has(request.key)) {
      this.#errors.inc();
      this.#deliver(client, errorMessage(`Already subscribed: ${request.sent}`), null);
      return;
    }
    if (client.views.size >= client.limits.maxSubscriptions) {
      this.#errors.inc();
      this.#deliver(
        client,
        errorMessage(
          `${
            invalidSubscription(request.sent)
          } (too many subscriptions: at most ${client.limits.maxSubscriptions} per connection)`,
        ),
        null,
      );
      return;
    }
    const refused = client.limits.gate?.admit(client, request.subscription) ?? null;
    if (refused !== null) {
      this.#errors.inc();
      this.#deliver(client, errorMessage(`${invalidSubscription(request.sent)} (${refused})`), null);
      return;
    }
    let view = this.#views.get(request.key);
    if (view === undefined) {
      view = { key: request.key, subscription: request.subscription, subscribers: new Set(), last: null };
      this.#views.set(request.key, view);
      const sub = request.subscription;
      if (isUserSubscription(sub)) {
        this.#streams.add(streamView(view));
      } else if (sub.type === "allMids") {
        this.#midsViews.add(view);
        if (this.#mids === null && this.#live && this.#books !== null) {
          this.#mids = this.#computeMids(this.#books);
        }
        if (this.#mids !== null) view.last = this.#midsOf(sub.dex);
      } else {
        let set = this.#byCoin.get(sub.coin);
        if (set === undefined) this.#byCoin.set(sub.coin, set = new Set());
        set.add(view);
        if (this.#live && this.#books !== null && isBookView(sub.type)) {
          view.last = this.#viewJson(this.#books, sub);
        }
      }
    }
    view.subscribers.add(client);
    client.views.set(request.key, view);
    this.#subscriptions++;
    this.#subscriptionsGauge.set(this.#subscriptions);
    this.#deliver(client, subscriptionResponse("subscribe", request.echo), null);
    if (isUserSubscription(view.subscription)) this.#streams.snapshot(streamView(view), client);
    else if (this.#live && this.#books !== null) this.#sendSnapshot(client, view, this.#books);
    else this.#deliver(client, statusMessage(this.#phase, this.#height, this.#time), null);
  }

  #unsubscribe(client: Client, request: SubscriptionRequest): void {
    const view = client.views.get(request.key);
    if (view === undefined) {
      this.#errors.inc();
      this.#deliver(client, errorMessage(`Already unsubscribed: ${request.sent}`), null);
      return;
    }
    client.views.delete(request.key);
    client.pending?.delete(request.key);
    client.l4Waiting?.get(request.key)?.waiters.delete(client);
    client.l4Waiting?.delete(request.key);
    this.#removeSubscriber(request.key, view, client);
    this.#deliver(client, subscriptionResponse("unsubscribe", request.echo), null);
  }

  #removeSubscriber(key: string, view: View, client: Client): void {
    if (!view.subscribers.delete(client)) return;
    client.limits.gate?.release(client, view.subscription);
    this.#subscriptions--;
    this.#subscriptionsGauge.set(this.#subscriptions);
    if (view.subscribers.size > 0) return;
    this.#views.delete(key);
    const sub = view.subscription;
    if (isUserSubscription(sub)) {
      this.#streams.remove(streamView(view));
    } else if (sub.type === "allMids") {
      this.#midsViews.delete(view);
      if (this.#midsViews.size === 0) this.#mids = null;
    } else {
      const set = this.#byCoin.get(sub.coin);
      set?.delete(view);
      if (set?.size === 0) this.#byCoin.delete(sub.coin);
    }
  }

  /** Serialised comparable content of an l2Book or bbo view. */
  #viewJson(books: Books, sub: Subscription): string | null {
    if (sub.type === "l2Book") return levelsJson(books.l2(sub.coin, sub.params));
    if (sub.type === "bbo") return bboJson(books.bbo(sub.coin));
    if (sub.type === "activeAssetCtx") return this.#ctxJson(books, sub.coin);
    return null;
  }

  #computeMids(books: Books): Map<Coin, string> {
    const mids = new Map<Coin, string>();
    for (const coin of books.coins()) {
      const mid = books.mid(coin);
      if (mid !== null) mids.set(coin, mid);
    }
    return mids;
  }

  #midsOf(dex: string, mids: ReadonlyMap<Coin, string> | null = this.#mids): string {
    if (mids === null) return "{}";
    if (dex === "") {
      let all = true;
      for (const coin of mids.keys()) {
        if (coin.includes(":")) {
          all = false;
          break;
        }
      }
      if (all) return midsJson(mids);
    }
    const filtered = new Map<Coin, string>();
    for (const [coin, mid] of mids) if (inDex(coin, dex)) filtered.set(coin, mid);
    return midsJson(filtered);
  }

  /**
   * The first message of an l2Book, bbo or allMids view at the current book, built once per view from what the
   * fan-out last computed (`view.last` is always current while live); null for trades and l4Book.
   */
  #snapshotMessage(view: View, books: Books): string | null {
    const sub = view.subscription;
    if (sub.type === "trades" || sub.type === "l4Book" || isUserSubscription(sub)) return null;
    if (view.last === null) {
      view.last = sub.type === "allMids" ? this.#midsOf(sub.dex) : this.#viewJson(books, sub);
    }
    const content = view.last ?? "";
    if (sub.type === "l2Book") return l2BookMessage(sub.coin, this.#timeOf(books), content);
    if (sub.type === "bbo") return bboMessage(sub.coin, this.#timeOf(books), content);
    if (sub.type === "activeAssetCtx") return assetCtxMessage(sub.coin, content);
    return allMidsMessage(content);
  }

  /** The message a new subscriber (or everyone after a reset) gets first. */
  #sendSnapshot(
    client: Client,
    view: View,
    books: Books,
    message = this.#snapshotMessage(view, books),
  ): void {
    if (view.subscription.type === "l4Book") {
      this.#sendL4Snapshot(client, view.key, view.subscription.coin, books);
    } else if (message !== null) this.#deliver(client, message, view.key);
  }

  /** The block time to put on messages about `books` (its own, or the last known when it has none). */
  #timeOf(books: Books): number {
    return books.time > 0 ? books.time : this.#time;
  }

  /** Delivers an l4Book snapshot; counts it as an allowance (a big snapshot is expected to fill the buffer). */
  #deliverL4Snapshot(client: Client, text: string): void {
    this.#deliver(client, text, null);
    if (text.length > client.softBuffered) {
      client.allowance = Math.min(client.allowance + text.length, L4_ALLOWANCE_CAP);
    }
  }

  /**
   * Sends a coin's l4Book snapshot at the current height: from the cache, synchronously for small books, or
   * through a job that serialises a large book in chunks across event-loop turns (the order list is a copy,
   * so later blocks cannot change it) while this client's Updates of later blocks wait in the job.
   */
  #sendL4Snapshot(client: Client, key: string, coin: Coin, books: Books): void {
    // A snapshot still being built for this client (before a reset) is superseded by this one.
    client.l4Waiting?.get(key)?.waiters.delete(client);
    client.l4Waiting?.delete(key);
    const cache = this.#l4Cache;
    if (cache !== null && cache.coin === coin && cache.height === books.height) {
      this.#deliverL4Snapshot(client, cache.text);
      return;
    }
    let job = this.#l4Jobs.get(coin);
    if (job === undefined || job.height !== books.height) {
      const levels = books.l4(coin);
      if (levels[0].length + levels[1].length <= this.#l4Chunk) {
        const text = l4SnapshotMessage(coin, this.#timeOf(books), books.height, levels);
        this.#l4Cache = { coin, height: books.height, text };
        this.#l4Sizes.set(coin, text.length);
        this.#deliverL4Snapshot(client, text);
        return;
      }
      job = { coin, height: books.height, key, waiters: new Map() };
      this.#l4Jobs.set(coin, job);
      this.#buildL4(job, this.#timeOf(books), levels).catch((error) => this.#fault("l4Book snapshot", error));
    }
    job.waiters.set(client, []);
    (client.l4Waiting ??= new Map()).set(key, job);
  }

  async #buildL4(
    job: L4Job,
    time: number,
    levels: readonly [readonly L4Order[], readonly L4Order[]],
  ): Promise<void> {
    const sides: string[] = [];
    for (const orders of levels) {
      const parts: string[] = [];
      for (let i = 0; i < orders.length; i += this.#l4Chunk) {
        const json = l4OrdersJson(orders.slice(i, i + this.#l4Chunk));
        parts.push(json.slice(1, -1));
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      sides.push(`[${parts.join(",")}]`);
    }
    const text = l4SnapshotFromJson(job.coin, time, job.height, sides[0], sides[1]);
    this.#l4Sizes.set(job.coin, text.length);
    if (this.#l4Jobs.get(job.coin) === job) {
      this.#l4Jobs.delete(job.coin);
      if (this.#height === job.height) this.#l4Cache = { coin: job.coin, height: job.height, text };
    }
    for (const [client, queued] of job.waiters) {
      if (client.closed || client.l4Waiting?.get(job.key) !== job) continue;
      client.l4Waiting.delete(job.key);
      this.#deliverL4Snapshot(client, text);
      for (const update of queued) this.#deliver(client, update, null);
    }
    job.waiters.clear();
  }

  /** A fresh book is being served: recompute every view and send every subscriber its snapshot. */
  #goLive(): void {
    const books = this.#books;
    if (books === null) return;
    this.#live = true;
    this.#ctxMemo.clear();
    this.#l4Cache = null;
    this.#l4Jobs.clear();
    this.#mids = this.#midsViews.size > 0 ? this.#computeMids(books) : null;
    for (const view of this.#views.values()) {
      view.last = null;
      const message = this.#snapshotMessage(view, books);
      for (const client of view.subscribers) this.#sendSnapshot(client, view, books, message);
    }
  }

  #broadcast(view: View, text: string, conflatable: boolean): void {
    const key = conflatable ? view.key : null;
    for (const client of view.subscribers) this.#deliver(client, text, key);
  }

  /** Sends or conflates one message; `key` is the view key for conflatable messages, null otherwise. */
  #deliver(client: Client, text: string, key: string | null): void {
    if (client.closed) return;
    const buffered = client.sink.bufferedAmount;
    if (buffered > client.limits.maxBuffered + client.allowance) {
      this.#closeSlow(client, buffered);
      return;
    }
    if (buffered <= client.softBuffered) client.allowance = 0;
    if (key !== null) {
      const pending = client.pending;
      if (pending !== null) {
        if (pending.delete(key)) this.#conflated.inc();
        pending.set(key, text);
        return;
      }
      if (buffered > client.softBuffered) {
        client.pending = new Map([[key, text]]);
        this.#backlogged.add(client);
        return;
      }
    }
    this.#write(client, text);
  }

  #write(client: Client, text: string): void {
    try {
      client.sink.send(text);
    } catch {
      // The socket is closing: its close event detaches the client.
      client.closed = true;
      return;
    }
    this.#messages.inc();
    this.#bytes.inc(text.length);
  }

  /** Flushes the pending messages of clients whose socket drained below the soft threshold. */
  #drain(): void {
    if (this.#backlogged.size === 0) return;
    for (const client of this.#backlogged) {
      if (client.closed) {
        this.#backlogged.delete(client);
        continue;
      }
      const buffered = client.sink.bufferedAmount;
      if (buffered > client.limits.maxBuffered + client.allowance) {
        this.#closeSlow(client, buffered);
        continue;
      }
      if (buffered > client.softBuffered) continue;
      client.allowance = 0;
      const pending = client.pending;
      client.pending = null;
      this.#backlogged.delete(client);
      if (pending !== null) { for (const text of pending.values()) this.#write(client, text); }
    }
  }

  #closeSlow(client: Client, buffered: number): void {
    this.#closedSlow.inc();
    this.#dropped.inc(1 + (client.pending?.size ?? 0));
    log.warn("closing a slow client: {buffered} bytes unsent, limit {limit}", {
      buffered,
      limit: client.limits.maxBuffered,
    });
    try {
      client.sink.close(1008, `too slow: over ${client.limits.maxBuffered} bytes unsent`);
    } catch {
      // already closing
    }
    this.detach(client);
  }
}
