/**
 * The feed of one process: a {@link Core} (views, snapshots, per-user streams, info answers) and an
 * {@link Edge} (connections, registry, send policy) joined by an in-process link.
 *
 * The two meet only through the typed messages of `src/link`, passed here as they are and at once, so one
 * thread does what the core and an edge do apart (`--edges 0`): per block the core computes every watched view
 * the block changed, once, into a `BlockOutput`, and the edge hands each message to the view's subscribers
 * through each client's send policy. Ingest talks to the core's half of this API, the server to the edge's.
 *
 * @module
 */
import type { Books } from "../book/mod.ts";
import type { BookDiff, Coin, Trade } from "../book/types.ts";
import type { InfoResult } from "../link/mod.ts";
import type { Metrics } from "../metrics.ts";
import type { Phase } from "./messages.ts";
import type { CoinCheck, InfoRequest } from "./subscription.ts";
import type { BackfillSink, StreamLimits } from "./user_streams.ts";
import type { FillEvent } from "./history.ts";
import type { Client, ClientLimits, ClientSink } from "./client.ts";
import type { InfoFallback } from "./info.ts";
import { Core } from "./core.ts";
import { Edge } from "./edge.ts";

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

/** Asset contexts as `ServedFeed.assetCtxs` answers them (`ctxs` null: unchanged since `version`). */
export interface AssetCtxs {
  readonly version: string;
  readonly ctxs: readonly string[] | null;
}

/**
 * What the server needs of a feed: the edge's side (connections, messages from clients) plus answers that come
 * from the core — at once when the core shares the thread ({@link Feed}), over the link when it runs in a
 * worker (`LinkedFeed`).
 */
export interface ServedFeed {
  attach(sink: ClientSink, limits: ClientLimits): Client;
  detach(client: Client): void;
  handle(client: Client, text: string): void;
  poll(): void;
  sendError(client: Client, text: string): void;
  setInfoFallback(fallback: InfoFallback): void;
  coinCheck(): CoinCheck;
  unsentEstimate(client: Client): number;
  l4SnapshotSize(coin: Coin): number;
  status(): FeedStatus;
  closeAll(code: number, reason: string): void;
  /** Answers an info request the core answers (see `InfoAnswers`). */
  info(request: InfoRequest): InfoResult | Promise<InfoResult>;
  /**
   * The asset contexts of these markets, JSON each, unless `version` (of an earlier answer) is still current;
   * null when the core could not answer (it restarted).
   */
  assetCtxs(names: readonly string[], version: string | null): AssetCtxs | null | Promise<AssetCtxs | null>;
}

/** A core and an edge in one thread. */
export class Feed implements ServedFeed {
  readonly #core: Core;
  readonly #edge: Edge;

  /** `l4Chunk`: orders serialised per event-loop turn for big l4Book snapshots (tests make it small). */
  constructor(options: { metrics: Metrics; l4Chunk?: number; streams?: StreamLimits }) {
    const edge = new Edge({ metrics: options.metrics, send: (message) => this.#core.receive(message) });
    this.#edge = edge;
    this.#core = new Core({ ...options, emit: (message) => edge.receive(message) });
  }

  // ---- ingest side (the core's) -----------------------------------------------------------------------

  /** A fresh book (bootstrap or re-sync): every subscriber gets a fresh snapshot of what it watches. */
  reset(books: Books): void {
    this.#core.reset(books);
  }

  /** One applied block: fan out every watched view the block changed. Never throws. */
  block(books: Books, diff: BookDiff): void {
    // Slow clients that drained catch up first (every block, whether or not it changed their views).
    this.#edge.poll();
    this.#core.block(books, diff);
  }

  /** One block's trades: one message per coin to that coin's `trades` subscribers. Never throws. */
  trades(trades: readonly Trade[]): void {
    this.#core.trades(trades);
  }

  /**
   * One fills line (a block's, or one event's in streaming mode), before its trades: recorded in the history;
   * watched users get it with the block. Never throws.
   */
  fills(block: number, events: readonly FillEvent[]): void {
    this.#core.fills(block, events);
  }

  /** Ingest state: `starting`/`resyncing` stop serving the book until the next reset; changes are told to clients. */
  state(state: { phase: Phase; height: number; time: number }): void {
    this.#core.state(state);
  }

  /** Where the start-up backfill of fills goes; its `done()` merges it in front of the live history. */
  backfill(): BackfillSink {
    return this.#core.backfill();
  }

  /** The per-user history: fills per user, recent trades, candles (for 24 h statistics and the like). */
  get history(): Core["history"] {
    return this.#core.history;
  }

  /**
   * The asset context of a coin as JSON (perp or spot shape, see `asset_ctx.ts`), with the book fields null
   * while no book is served.
   */
  assetCtx(coin: Coin): string {
    return this.#core.assetCtx(coin);
  }

  /** Changes whenever an asset context may have changed (new block, trades, reset): a cache key. */
  ctxVersion(): string {
    return this.#core.ctxVersion();
  }

  /** Answers an info request (`l2Book` → `{coin,time,levels}`, `allMids` → `{coin: mid}`). */
  info(request: InfoRequest): InfoResult {
    return this.#core.info(request);
  }

  assetCtxs(names: readonly string[], version: string | null): AssetCtxs {
    const current = this.#core.ctxVersion();
    return {
      version: current,
      ctxs: current === version ? null : names.map((name) => this.#core.assetCtx(name)),
    };
  }

  // ---- server side (the edge's) -----------------------------------------------------------------------

  /** Registers a new connection. */
  attach(sink: ClientSink, limits: ClientLimits): Client {
    return this.#edge.attach(sink, limits);
  }

  /** Forgets a connection and all its subscriptions (idempotent). */
  detach(client: Client): void {
    this.#edge.detach(client);
  }

  /** Handles one text message from a client; answers on the client's socket. Never throws. */
  handle(client: Client, text: string): void {
    this.#edge.handle(client, text);
  }

  /** Flushes conflated messages of clients whose socket drained (the server calls it on a short timer). */
  poll(): void {
    this.#edge.poll();
  }

  /** Sends an error text to a client (used by the server for limit violations). */
  sendError(client: Client, text: string): void {
    this.#edge.sendError(client, text);
  }

  /** Where `post` info requests of types hlbook does not answer itself go (else they get an error reply). */
  setInfoFallback(fallback: InfoFallback): void {
    this.#edge.setInfoFallback(fallback);
  }

  /** Parses an info request body against the current coins. */
  coinCheck(): CoinCheck {
    return this.#edge.coinCheck();
  }

  /** Bytes a client has unsent plus the estimated size of the l4Book snapshots it still waits for. */
  unsentEstimate(client: Client): number {
    return this.#edge.unsentEstimate(client);
  }

  /** Length of the last l4Book snapshot built for `coin`, 0 when none was yet. */
  l4SnapshotSize(coin: Coin): number {
    return this.#edge.l4SnapshotSize(coin);
  }

  /** Current state, for `/health`. */
  status(): FeedStatus {
    return { ...this.#core.status(), ...this.#edge.counts() };
  }

  /** Closes every client (server shutdown). */
  closeAll(code: number, reason: string): void {
    this.#edge.closeAll(code, reason);
  }
}
