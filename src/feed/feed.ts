/**
 * The feed: one process's views, registry, client policy and info answers wired together.
 *
 * Per block the {@link Views} compute every watched view the block changed, once, into a `BlockOutput`; the
 * feed then hands each message to the subscribers the {@link Registry} lists, through each client's send
 * policy ({@link Delivery}). A view exists only while somebody subscribes to it. The pieces meet only through
 * the typed messages of `src/link` (a `BlockOutput`, a `Watch` / `Unwatch` of a view key), so the views and
 * info (the core) can run apart from the registry and sockets (an edge).
 *
 * @module
 */
import type { Books } from "../book/mod.ts";
import type { BookDiff, Coin, Trade } from "../book/types.ts";
import type { BlockOutput, InfoResult } from "../link/mod.ts";
import type { Counter, Gauge, Histogram, Metrics } from "../metrics.ts";
import { logger } from "../log.ts";
import { invalidSubscription } from "./official_types.ts";
import {
  errorMessage,
  type Phase,
  PONG,
  postErrorResponse,
  postInfoResponse,
  statusMessage,
  subscriptionResponse,
} from "./messages.ts";
import { DayStats } from "./asset_ctx.ts";
import {
  type CoinCheck,
  type InfoRequest,
  parseClientMessage,
  type SubscriptionRequest,
} from "./subscription.ts";
import { type BackfillSink, type StreamLimits, type StreamView, UserStreams } from "./user_streams.ts";
import type { FillEvent } from "./history.ts";
import { Client, type ClientLimits, type ClientSink, Delivery } from "./client.ts";
import { Registry, type WatchedView } from "./registry.ts";
import { isUserSubscription, L4Snapshots, Views } from "./views.ts";
import { InfoAnswers, type InfoFallback } from "./info.ts";

const log = logger("feed");

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

function streamView(view: WatchedView): StreamView<Client> {
  return view as StreamView<Client>;
}

/** Views, registry, client policy and info answers of one process. */
export class Feed {
  readonly #clients = new Set<Client>();
  readonly #registry = new Registry();
  readonly #views = new Views();
  readonly #delivery: Delivery;
  readonly #l4: L4Snapshots;
  readonly #info: InfoAnswers;
  #books: Books | null = null;
  #live = false;
  #phase: Phase = "starting";
  #height = 0;
  readonly #faultsLogged = new Set<string>();
  #infoFallback: InfoFallback | null = null;
  readonly #streams: UserStreams<Client>;

  readonly #clientsGauge: Gauge;
  readonly #subscriptionsGauge: Gauge;
  readonly #errors: Counter;
  readonly #fanout: Histogram;
  readonly #faults: Counter;

  /** `l4Chunk`: orders serialised per event-loop turn for big l4Book snapshots (tests make it small). */
  constructor(options: { metrics: Metrics; l4Chunk?: number; streams?: StreamLimits }) {
    this.#delivery = new Delivery(options.metrics, (client) => this.detach(client));
    this.#l4 = new L4Snapshots({
      chunk: options.l4Chunk,
      onFault: (error) => this.#fault("l4Book snapshot", error),
    });
    this.#streams = new UserStreams<Client>({
      broadcast: (view, text) => this.#broadcast(view.subscribers, text, null),
      send: (client, text) => this.#delivery.deliver(client, text, null),
    }, options.streams ?? DEFAULT_STREAM_LIMITS);
    this.#info = new InfoAnswers(this.#views, this.#streams);
    const m = options.metrics;
    this.#clientsGauge = m.gauge("hlbook_clients", "WebSocket clients connected");
    this.#subscriptionsGauge = m.gauge("hlbook_subscriptions", "subscriptions held by all clients");
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
      const start = performance.now();
      this.#books = books;
      this.#height = diff.height;
      this.#delivery.drain();
      this.#streams.block(diff);
      const output = this.#views.block(books, diff);
      if (!this.#live) return;
      this.#send(output);
      this.#fanout.observe(performance.now() - start);
    } catch (error) {
      this.#fault("block fan-out", error);
    }
  }

  /** One block's trades: one message per coin to that coin's `trades` subscribers. Never throws. */
  trades(trades: readonly Trade[]): void {
    try {
      const output = this.#views.trades(trades);
      this.#streams.trades(trades);
      this.#send(output);
    } catch (error) {
      this.#fault("trades fan-out", error);
    }
  }

  /**
   * The asset context of a coin as JSON (perp or spot shape, see `asset_ctx.ts`), with the book fields null
   * while no book is served.
   */
  assetCtx(coin: Coin): string {
    return this.#views.assetCtx(coin);
  }

  /** Changes whenever an asset context may have changed (new block, trades, reset): a cache key. */
  ctxVersion(): string {
    return `${this.#live ? this.#height : -1}:${this.#views.dayVersion}:${this.#books === null ? 0 : 1}`;
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
        this.#views.absorbOlderDay(day);
      },
    };
  }

  /** Ingest state: `starting`/`resyncing` stop serving the book until the next reset; changes are told to clients. */
  state(state: { phase: Phase; height: number; time: number }): void {
    this.#views.noteTime(state.time);
    const changed = state.phase !== this.#phase;
    this.#phase = state.phase;
    if (state.phase === "starting" || state.phase === "resyncing") this.#pause();
    else if (!this.#live && this.#books !== null) this.#goLive();
    if (!changed) return;
    const text = statusMessage(state.phase, state.height, state.time);
    for (const client of this.#clients) {
      if (client.views.size > 0) this.#delivery.deliver(client, text, null);
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
    for (const key of [...client.views.keys()]) this.#removeSubscriber(client, key);
    this.#delivery.forget(client);
    this.#clientsGauge.set(this.#clients.size);
  }

  /** Handles one text message from a client; answers on the client's socket. Never throws. */
  handle(client: Client, text: string): void {
    try {
      const parsed = parseClientMessage(text, this.#coinCheck());
      if (!parsed.ok) {
        this.#errors.inc();
        if ("postId" in parsed) this.#reply(client, postErrorResponse(parsed.postId, parsed.error));
        else this.#reply(client, errorMessage(parsed.error));
        return;
      }
      const message = parsed.message;
      switch (message.method) {
        case "ping":
          this.#reply(client, PONG);
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
          this.#reply(
            client,
            result.ok
              ? postInfoResponse(message.id, message.request.type, result.json)
              : postErrorResponse(message.id, result.error),
          );
          return;
        }
      }
    } catch (error) {
      this.#fault("client message", error);
      this.#reply(client, errorMessage(`internal error while handling the request: ${text.slice(0, 200)}`));
    }
  }

  /**
   * Flushes conflated messages of clients whose socket drained. Blocks do this too; the server also calls it
   * on a short timer so a slow client catches up even when no blocks arrive. Cheap when nobody is behind.
   */
  poll(): void {
    this.#delivery.drain();
  }

  /** Sends an error text to a client (used by the server for limit violations). */
  sendError(client: Client, text: string): void {
    this.#errors.inc();
    this.#reply(client, errorMessage(text));
  }

  /** Answers an info request (`l2Book` → `{coin,time,levels}`, `allMids` → `{coin: mid}`). */
  info(request: InfoRequest): InfoResult {
    return this.#info.answer(request, this.#live ? this.#books : null, this.#phase);
  }

  /**
   * Bytes a client has unsent plus the estimated size of the l4Book snapshots still being built for it (the
   * last size seen for the coin): what the server's per-address snapshot budget counts.
   */
  unsentEstimate(client: Client): number {
    let bytes = client.sink.bufferedAmount;
    if (client.l4Waiting !== null) {
      for (const wait of client.l4Waiting.values()) bytes += this.#l4.size(wait.coin);
    }
    return bytes;
  }

  /** Length of the last l4Book snapshot built for `coin`, 0 when none was yet. */
  l4SnapshotSize(coin: Coin): number {
    return this.#l4.size(coin);
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
      time: this.#views.time,
      clients: this.#clients.size,
      subscriptions: this.#registry.subscriptions,
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

  /** Hands one block's output to the subscribers of each view: what an edge does with a `BlockOutput`. */
  #send(output: BlockOutput): void {
    for (const [key, text] of output.views) {
      const view = this.#registry.get(key);
      if (view !== undefined) this.#broadcast(view.subscribers, text, key);
    }
    for (const [key, text] of output.l4) {
      const view = this.#registry.get(key);
      if (view === undefined) continue;
      for (const client of view.subscribers) this.#delivery.deliverL4Update(client, key, text);
    }
    for (const [key, text] of output.trades) {
      const view = this.#registry.get(key);
      if (view !== undefined) this.#broadcast(view.subscribers, text, null);
    }
  }

  #broadcast(subscribers: ReadonlySet<Client>, text: string, key: string | null): void {
    for (const client of subscribers) this.#delivery.deliver(client, text, key);
  }

  #reply(client: Client, text: string): void {
    this.#delivery.deliver(client, text, null);
  }

  #coinCheck(): CoinCheck {
    const books = this.#books;
    return this.#live && books !== null ? (coin) => books.has(coin) : null;
  }

  #subscribe(client: Client, request: SubscriptionRequest): void {
    const sub = request.subscription;
    if (isUserSubscription(sub)) this.#streams.beforeSubscribe();
    if (client.views.has(request.key)) {
      this.#errors.inc();
      this.#reply(client, errorMessage(`Already subscribed: ${request.sent}`));
      return;
    }
    if (client.views.size >= client.limits.maxSubscriptions) {
      this.#errors.inc();
      this.#reply(
        client,
        errorMessage(
          `${
            invalidSubscription(request.sent)
          } (too many subscriptions: at most ${client.limits.maxSubscriptions} per connection)`,
        ),
      );
      return;
    }
    const refused = client.limits.gate?.admit(client, sub) ?? null;
    if (refused !== null) {
      this.#errors.inc();
      this.#reply(client, errorMessage(`${invalidSubscription(request.sent)} (${refused})`));
      return;
    }
    const { view, first } = this.#registry.add(client, request.key, sub);
    if (first) {
      if (isUserSubscription(sub)) this.#streams.add(streamView(view));
      else this.#views.watch({ kind: "watch", key: request.key, subscription: sub });
    }
    this.#subscriptionsGauge.set(this.#registry.subscriptions);
    this.#reply(client, subscriptionResponse("subscribe", request.echo));
    if (isUserSubscription(sub)) this.#streams.snapshot(streamView(view), client);
    else if (this.#live && this.#books !== null) this.#sendSnapshot(client, view, this.#books);
    else this.#reply(client, statusMessage(this.#phase, this.#height, this.#views.time));
  }

  #unsubscribe(client: Client, request: SubscriptionRequest): void {
    if (!client.views.has(request.key)) {
      this.#errors.inc();
      this.#reply(client, errorMessage(`Already unsubscribed: ${request.sent}`));
      return;
    }
    client.pending?.delete(request.key);
    this.#delivery.stopWaitingL4(client, request.key);
    this.#removeSubscriber(client, request.key);
    this.#reply(client, subscriptionResponse("unsubscribe", request.echo));
  }

  #removeSubscriber(client: Client, key: string): void {
    const removed = this.#registry.remove(client, key);
    if (removed === undefined) return;
    const { view, last } = removed;
    client.limits.gate?.release(client, view.subscription);
    this.#subscriptionsGauge.set(this.#registry.subscriptions);
    if (!last) return;
    const sub = view.subscription;
    if (isUserSubscription(sub)) this.#streams.remove(streamView(view));
    else this.#views.unwatch(key);
  }

  /** The message a new subscriber (or everyone after a reset) gets first. */
  #sendSnapshot(
    client: Client,
    view: WatchedView,
    books: Books,
    message = this.#views.snapshot(view.key),
  ): void {
    const sub = view.subscription;
    if (sub.type === "l4Book") this.#sendL4Snapshot(client, view.key, sub.coin, books);
    else if (message !== null) this.#delivery.deliver(client, message, view.key);
  }

  /**
   * Sends a coin's l4Book snapshot at the current height: at once when it is built (cached, or a small book),
   * else when its chunked build ends, the client's Updates of later blocks waiting behind it meanwhile.
   */
  #sendL4Snapshot(client: Client, key: string, coin: Coin, books: Books): void {
    const snapshot = this.#l4.get(coin, books, this.#views.timeOf(books));
    if (typeof snapshot === "string") {
      // A snapshot still being built for this client (before a reset) is superseded by this one.
      this.#delivery.stopWaitingL4(client, key);
      this.#delivery.deliverL4Snapshot(client, snapshot);
      return;
    }
    const wait = this.#delivery.waitL4(client, key, coin);
    snapshot.then((text) => this.#delivery.l4Ready(client, key, wait, text));
  }

  /** No book is served until the next reset. */
  #pause(): void {
    this.#live = false;
    this.#views.pause();
  }

  /** A fresh book is being served: recompute every view and send every subscriber its snapshot. */
  #goLive(): void {
    const books = this.#books;
    if (books === null) return;
    this.#live = true;
    this.#l4.reset();
    this.#views.serve(books);
    for (const view of this.#registry.views()) {
      if (isUserSubscription(view.subscription)) continue;
      const message = this.#views.snapshot(view.key);
      for (const client of view.subscribers) this.#sendSnapshot(client, view, books, message);
    }
  }

  /** Answers a `post` of a type hlbook does not answer itself through the fallback, when it resolves. */
  #forward(client: Client, id: number, payload: Readonly<Record<string, unknown>>): void {
    const fallback = this.#infoFallback;
    const type = String(payload.type);
    if (fallback === null) {
      this.#errors.inc();
      this.#reply(client, postErrorResponse(id, `unsupported info request type ${JSON.stringify(type)}`));
      return;
    }
    fallback(payload).then((result) => {
      if (!result.ok) this.#errors.inc();
      this.#reply(
        client,
        result.ok ? postInfoResponse(id, type, result.json) : postErrorResponse(id, result.error),
      );
    }).catch((error) => {
      this.#fault("info fallback", error);
      this.#reply(client, postErrorResponse(id, "internal error while answering the info request"));
    });
  }

  /** Logs an unexpected failure once per kind (never per event) and counts it. */
  #fault(what: string, error: unknown): void {
    this.#faults.inc();
    if (this.#faultsLogged.has(what)) return;
    this.#faultsLogged.add(what);
    log.error("unexpected failure in {what}: {error}", { what, error });
  }
}
