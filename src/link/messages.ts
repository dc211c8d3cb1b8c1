/**
 * The messages between the core (ingest, books, views, info) and an edge (sockets, registry, client policy).
 *
 * Plain typed data, nothing else: no functions, no class instances, no books. Within one process they are
 * passed as they are (single-thread mode) or through `postMessage` (core in a worker); the next step carries
 * them between machines, so every field is structured-clone and JSON safe. An edge never sees a book: what
 * it sends to clients is in these messages, serialised once by the core.
 *
 * @module
 */
import type { InfoRequest, Phase, Subscription } from "../feed/mod.ts";
import type { MetricSample } from "../metrics.ts";

/** One serialised message of a view: the view key (`subscriptionKey`) and the text every subscriber gets. */
export type ViewMessage = readonly [key: string, text: string];

/**
 * What one block (or one block's trades, or a fills line) produced for the watched views, each message
 * serialised once. `views` holds the conflatable ones (l2Book, bbo, allMids, activeAssetCtx: a newer one
 * replaces an unsent older one), `l4` the l4Book `Updates`, `queued` the trades and per-user streams'
 * messages (orderUpdates, userFills, user, candle), keyed by their view key too; those two are never dropped.
 */
export interface BlockOutput {
  readonly kind: "block";
  readonly height: number;
  /** Block time, ms. */
  readonly time: number;
  readonly views: readonly ViewMessage[];
  readonly l4: readonly ViewMessage[];
  readonly queued: readonly ViewMessage[];
}

/** An edge has a first watcher of a view: the core computes it from now on. */
export interface Watch {
  readonly kind: "watch";
  readonly key: string;
  readonly subscription: Subscription;
}

/** An edge's last watcher of a view is gone. */
export interface Unwatch {
  readonly kind: "unwatch";
  readonly key: string;
}

/**
 * Subscribers need the first messages of a view (a new subscriber, or all of them after fresh books). The
 * messages of the view that reach the edge before the reply predate it and are not for these subscribers.
 */
export interface SnapshotRequest {
  readonly kind: "snapshot";
  readonly id: number;
  readonly key: string;
  readonly subscription: Subscription;
}

/**
 * The first messages of a view at `height` (none for trades; an l4Book's may come later than the view's next
 * Updates, which then wait behind it when newer than `height`), or null when no book is served (the edge
 * tells the subscribers the phase instead).
 */
export interface SnapshotReply {
  readonly kind: "snapshotReply";
  readonly id: number;
  readonly key: string;
  readonly height: number;
  readonly texts: readonly string[] | null;
  /**
   * The texts are to be sent as they are, in order, never conflated: a resume's replay of the view's messages
   * after the client's height (and any notice), not a first message. l4Book Updates queued meanwhile follow
   * when newer than `height`. Absent for ordinary snapshots.
   */
  readonly resume?: boolean;
}

/** Outcome of an info request: serialised `data` object or an error with an HTTP status. */
export type InfoResult =
  | { readonly ok: true; readonly json: string }
  | { readonly ok: false; readonly status: number; readonly error: string };

/** An info request (`post` over a socket or `POST /info`) the core answers from its books and history. */
export interface InfoQuery {
  readonly kind: "info";
  readonly id: number;
  readonly request: InfoRequest;
}

export interface InfoReply {
  readonly kind: "infoReply";
  readonly id: number;
  readonly result: InfoResult;
}

/**
 * The asset contexts of these markets (JSON each, in order) for `metaAndAssetCtxs`-like answers; `version` is
 * the one of the edge's cached answer (null: none), unchanged → the reply has no contexts.
 */
export interface AssetCtxQuery {
  readonly kind: "assetCtxs";
  readonly id: number;
  readonly names: readonly string[];
  readonly version: string | null;
}

export interface AssetCtxReply {
  readonly kind: "assetCtxsReply";
  readonly id: number;
  /** Changes whenever an asset context may have changed (new block, trades, reset). */
  readonly version: string;
  /** Null when `version` is the one asked with. */
  readonly ctxs: readonly string[] | null;
}

/**
 * The core's side of `/health` and `/metrics`, sent a few times a second by a core that runs apart from its
 * edges, and on request (`id`: the request's; null: a periodic one): why it is not ready beyond its phase
 * (ingest's reason, e.g. `node wrote nothing for 9 s`) and its metrics, which an edge renders with its own.
 */
export interface CoreReport {
  readonly kind: "report";
  readonly id: number | null;
  readonly reason: string | null;
  readonly metrics: readonly MetricSample[];
}

/** An edge answers `/health` or `/metrics`: the core's report, now. */
export interface ReportRequest {
  readonly kind: "reportRequest";
  readonly id: number;
}

/** The core's state as `/health`, `/metrics` and `hlbookStatus` messages report it. */
export interface CoreStatus {
  readonly kind: "status";
  readonly phase: Phase;
  /** A book is loaded and being served. */
  readonly live: boolean;
  readonly height: number;
  /** Block time of the last block, ms. */
  readonly time: number;
  /** Counts fresh books served: when it moves, every subscriber needs a fresh snapshot of its views. */
  readonly epoch: number;
  /** The coins of the served books when they changed (subscriptions and info requests are checked against them). */
  readonly coins: readonly string[] | null;
  /** The phase changed: subscribers are told, with these figures (`hlbookStatus`). */
  readonly told: { readonly height: number; readonly time: number } | null;
}

/** Everything an edge sends to the core. */
export type EdgeToCore = Watch | Unwatch | SnapshotRequest | InfoQuery | AssetCtxQuery | ReportRequest;

/**
 * What a core apart from its edges emitted in one turn, posted together (one `postMessage` per block per
 * edge); `at`: when it was posted, ms since the epoch with sub-ms precision (`performance.timeOrigin +
 * performance.now()`, comparable across the threads of a process).
 */
export interface CoreBatch {
  readonly at: number;
  readonly messages: readonly CoreToEdge[];
}

/** Everything the core sends to its edges. */
export type CoreToEdge = BlockOutput | SnapshotReply | InfoReply | AssetCtxReply | CoreStatus | CoreReport;
