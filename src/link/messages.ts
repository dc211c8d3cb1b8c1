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

/** One serialised message of a view: the view key (`subscriptionKey`) and the text every subscriber gets. */
export type ViewMessage = readonly [key: string, text: string];

/**
 * What one block (or one block's trades) produced for the watched views, each message serialised once.
 * `views` holds the conflatable ones (l2Book, bbo, allMids, activeAssetCtx: a newer one replaces an unsent
 * older one), `l4` the l4Book `Updates` and `trades` the trades messages, keyed by their view key too; those
 * two are never dropped.
 */
export interface BlockOutput {
  readonly kind: "block";
  readonly height: number;
  /** Block time, ms. */
  readonly time: number;
  readonly views: readonly ViewMessage[];
  readonly l4: readonly ViewMessage[];
  readonly trades: readonly ViewMessage[];
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

/** A new subscriber needs the first message of a view (l2Book, bbo, allMids, activeAssetCtx, l4Book). */
export interface SnapshotRequest {
  readonly kind: "snapshot";
  readonly id: number;
  readonly key: string;
}

/** The first message of a view at `height`, or null when the book is not served (the edge sends a status). */
export interface SnapshotReply {
  readonly kind: "snapshotReply";
  readonly id: number;
  readonly key: string;
  readonly height: number;
  readonly text: string | null;
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

/** The core's state as `/health`, `/metrics` and `hlbookStatus` messages report it. */
export interface CoreStatus {
  readonly kind: "status";
  readonly phase: Phase;
  /** A book is loaded and being served. */
  readonly live: boolean;
  readonly height: number;
  /** Block time of the last block, ms. */
  readonly time: number;
}

/** Everything an edge sends to the core. */
export type EdgeToCore = Watch | Unwatch | SnapshotRequest | InfoQuery;

/** Everything the core sends to its edges. */
export type CoreToEdge = BlockOutput | SnapshotReply | InfoReply | CoreStatus;
