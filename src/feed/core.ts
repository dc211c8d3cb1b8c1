/**
 * The core: the books' side of the feed — views, l4Book snapshots, per-user streams, info answers — with no
 * client and no socket in it.
 *
 * It is fed by ingest (fresh books, blocks, trades, fills lines, phase) and by its edges' messages (which view
 * keys are watched, snapshot and info requests), and it answers only with the typed messages of `src/link`:
 * one `BlockOutput` per block whatever the number of clients, snapshot and info replies, and its status. Who
 * receives them is not its business; `Feed` wires it to one in-process {@link Edge}.
 *
 * @module
 */
import type { Books } from "../book/mod.ts";
import type { BookDiff, Coin, Trade } from "../book/types.ts";
import type { BlockOutput, CoreToEdge, EdgeToCore, InfoResult, ViewMessage } from "../link/mod.ts";
import type { Histogram, Metrics } from "../metrics.ts";
import { Faults } from "./_faults.ts";
import type { Phase } from "./messages.ts";
import { DayStats } from "./asset_ctx.ts";
import type { InfoRequest, Subscription } from "./subscription.ts";
import { type BackfillSink, type StreamLimits, type StreamView, UserStreams } from "./user_streams.ts";
import type { FillEvent } from "./history.ts";
import { isUserSubscription, L4Snapshots, Views } from "./views.ts";
import { InfoAnswers } from "./info.ts";

/** Default bounds of the per-user history (see config.ts for the flags that set them). */
export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  historyMs: 24 * 3600_000,
  fillsPerUser: 2000,
  maxFills: 1_000_000,
  tradesPerCoin: 100,
  candlesKept: 1440,
};

/** What a core needs. */
export interface CoreOptions {
  readonly metrics: Metrics;
  /** Where its messages go (an edge, or the transport to the edges). */
  readonly emit: (message: CoreToEdge) => void;
  /** Orders serialised per event-loop turn for big l4Book snapshots (tests make it small). */
  readonly l4Chunk?: number;
  readonly streams?: StreamLimits;
}

/** The books' side of the feed. */
export class Core {
  readonly #emit: (message: CoreToEdge) => void;
  readonly #views = new Views();
  readonly #l4: L4Snapshots;
  readonly #info: InfoAnswers;
  /** The per-user streams; their "client" is the snapshot request a `send` answers. */
  readonly #streams: UserStreams<number>;
  /** Watched per-user view key → its view (no subscribers here: the edges have them). */
  readonly #userViews = new Map<string, StreamView<number>>();
  /** Per-user messages waiting to be emitted (in order, before the next output). */
  #queued: ViewMessage[] = [];
  /** Texts `UserStreams.snapshot` sends while a snapshot request is answered. */
  #replyTexts: string[] | null = null;
  #books: Books | null = null;
  #live = false;
  #phase: Phase = "starting";
  #height = 0;
  #epoch = 0;
  readonly #coins = new Set<Coin>();
  readonly #fanout: Histogram;
  readonly #faults: Faults;

  constructor(options: CoreOptions) {
    this.#emit = options.emit;
    this.#l4 = new L4Snapshots({
      chunk: options.l4Chunk,
      onFault: (error) => this.#fault("l4Book snapshot", error),
    });
    this.#streams = new UserStreams<number>({
      broadcast: (view, text) => this.#queued.push([view.key, text]),
      send: (_request, text) => this.#replyTexts?.push(text),
    }, options.streams ?? DEFAULT_STREAM_LIMITS);
    this.#info = new InfoAnswers(this.#views, this.#streams);
    const m = options.metrics;
    this.#faults = new Faults(m);
    this.#fanout = m.histogram(
      "hlbook_fanout_ms",
      "time to compute, serialise and send one block's messages (ms)",
    );
  }

  // ---- ingest side ------------------------------------------------------------------------------------

  /** Fresh books (bootstrap or re-sync): every subscriber gets a fresh snapshot of what it watches. */
  reset(books: Books): void {
    this.#books = books;
    this.#height = books.height;
    try {
      this.#streams.reset(books);
      this.#goLive();
      this.#flush();
      this.#status(true, null);
    } catch (error) {
      this.#fault("reset snapshots", error);
    }
  }

  /** One applied block: the output of every watched view it changed. Never throws. */
  block(books: Books, diff: BookDiff): void {
    try {
      const start = performance.now();
      this.#books = books;
      this.#height = diff.height;
      this.#streams.block(diff);
      const output = this.#views.block(books, diff);
      this.#flush();
      this.#emit(output);
      if (!this.#live) return;
      let added = false;
      for (const coin of diff.coins.keys()) {
        if (this.#coins.has(coin)) continue;
        this.#coins.add(coin);
        added = true;
      }
      if (added) this.#status(true, null);
      this.#fanout.observe(performance.now() - start);
    } catch (error) {
      this.#fault("block fan-out", error);
    }
  }

  /** One block's trades: one message per watched coin, the asset contexts and candles they changed. */
  trades(trades: readonly Trade[]): void {
    try {
      const output = this.#views.trades(trades);
      this.#streams.trades(trades);
      this.#flush();
      this.#emit(output);
    } catch (error) {
      this.#fault("trades fan-out", error);
    }
  }

  /** One fills line (a block's, or one event's in streaming mode), before its trades. Never throws. */
  fills(block: number, events: readonly FillEvent[]): void {
    try {
      this.#streams.fills(block, events);
      this.#flush();
    } catch (error) {
      this.#fault("fills fan-out", error);
    }
  }

  /** Ingest state: `starting`/`resyncing` stop serving the book until the next reset; changes are told. */
  state(state: { phase: Phase; height: number; time: number }): void {
    this.#views.noteTime(state.time);
    const changed = state.phase !== this.#phase;
    this.#phase = state.phase;
    let wentLive = false;
    if (state.phase === "starting" || state.phase === "resyncing") {
      this.#live = false;
      this.#views.pause();
    } else if (!this.#live && this.#books !== null) {
      this.#goLive();
      wentLive = true;
    }
    if (changed || wentLive) {
      this.#status(wentLive, changed ? { height: state.height, time: state.time } : null);
    }
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

  /** The per-user history: fills per user, recent trades, candles. */
  get history(): Pick<UserStreams<number>, "history" | "candles"> {
    return this.#streams;
  }

  // ---- answers ----------------------------------------------------------------------------------------

  /** Handles one message of an edge; the answers are emitted. Never throws. */
  receive(message: EdgeToCore): void {
    try {
      switch (message.kind) {
        case "watch": {
          const sub = message.subscription;
          if (!isUserSubscription(sub)) {
            this.#views.watch(message);
            return;
          }
          if (this.#userViews.has(message.key)) return;
          const view: StreamView<number> = { key: message.key, subscription: sub, subscribers: new Set() };
          this.#userViews.set(message.key, view);
          this.#streams.add(view);
          break;
        }
        case "unwatch": {
          const view = this.#userViews.get(message.key);
          if (view === undefined) {
            this.#views.unwatch(message.key);
            return;
          }
          this.#userViews.delete(message.key);
          this.#streams.remove(view);
          break;
        }
        case "snapshot":
          this.#snapshot(message.id, message.key, message.subscription);
          break;
        case "info":
          this.#emit({ kind: "infoReply", id: message.id, result: this.info(message.request) });
          return;
        case "assetCtxs": {
          const version = this.ctxVersion();
          const ctxs = version === message.version ? null : message.names.map((name) => this.assetCtx(name));
          this.#emit({ kind: "assetCtxsReply", id: message.id, version, ctxs });
          return;
        }
      }
    } catch (error) {
      this.#fault("edge message", error);
    }
    this.#flush();
  }

  /** Answers an info request (`l2Book` → `{coin,time,levels}`, `allMids` → `{coin: mid}`, per-user types). */
  info(request: InfoRequest): InfoResult {
    return this.#info.answer(request, this.#live ? this.#books : null, this.#phase);
  }

  /** The asset context of a coin as JSON, with the book fields null while no book is served. */
  assetCtx(coin: Coin): string {
    return this.#views.assetCtx(coin);
  }

  /** Changes whenever an asset context may have changed (new block, trades, reset): a cache key. */
  ctxVersion(): string {
    return `${this.#live ? this.#height : -1}:${this.#views.dayVersion}:${this.#books === null ? 0 : 1}`;
  }

  /** Current state. */
  status(): { phase: Phase; live: boolean; height: number; time: number } {
    return { phase: this.#phase, live: this.#live, height: this.#height, time: this.#views.time };
  }

  // ---- internals --------------------------------------------------------------------------------------

  #snapshot(id: number, key: string, sub: Subscription): void {
    const books = this.#books;
    const reply = (height: number, texts: readonly string[] | null) =>
      this.#emit({ kind: "snapshotReply", id, key, height, texts });
    if (isUserSubscription(sub)) {
      const view = this.#userViews.get(key);
      // What is pending goes to the view's present subscribers first, so the new one does not get it twice.
      this.#streams.beforeSubscribe();
      this.#flush();
      const texts: string[] = [];
      this.#replyTexts = texts;
      try {
        if (view !== undefined) this.#streams.snapshot(view, id);
      } finally {
        this.#replyTexts = null;
      }
      reply(this.#height, texts);
      return;
    }
    if (!this.#live || books === null) {
      reply(this.#height, null);
      return;
    }
    if (sub.type === "l4Book") {
      const height = books.height;
      const snapshot = this.#l4.get(sub.coin, books, this.#views.timeOf(books));
      if (typeof snapshot === "string") reply(height, [snapshot]);
      else snapshot.then((text) => reply(height, text === null ? [] : [text]));
      return;
    }
    const text = this.#views.snapshot(key);
    reply(books.height, text === null ? [] : [text]);
  }

  /** Fresh books are served: the views start over from them, every subscriber will ask for a snapshot. */
  #goLive(): void {
    const books = this.#books;
    if (books === null) return;
    this.#live = true;
    this.#epoch++;
    this.#l4.reset();
    this.#views.serve(books);
    this.#coins.clear();
    for (const coin of books.coins()) this.#coins.add(coin);
  }

  #status(coins: boolean, told: { height: number; time: number } | null): void {
    this.#emit({
      kind: "status",
      phase: this.#phase,
      live: this.#live,
      height: this.#height,
      time: this.#views.time,
      epoch: this.#epoch,
      coins: coins ? [...this.#coins] : null,
      told,
    });
  }

  /** Emits the per-user messages waiting, in order. */
  #flush(): void {
    if (this.#queued.length === 0) return;
    const queued = this.#queued;
    this.#queued = [];
    const output: BlockOutput = {
      kind: "block",
      height: this.#height,
      time: this.#views.time,
      views: [],
      l4: [],
      queued,
    };
    this.#emit(output);
  }

  #fault(what: string, error: unknown): void {
    this.#faults.report(what, error);
  }
}
