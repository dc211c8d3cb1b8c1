/**
 * Domain types shared across hlbook. The book module is pure: these are plain data shapes.
 *
 * Node event shapes mirror the node's JSON exactly (see docs/node-files.md), so parsed events can be
 * forwarded to `l4Book` subscribers without copying.
 *
 * @module
 */

/** A market name: perps (`BTC`), spot (`@107`, `PURR/USDC`). */
export type Coin = string;
/** Order id (≈4e11, fits a JS number exactly). */
export type Oid = number;
/** `B` = bid (buy), `A` = ask (sell). */
export type Side = "B" | "A";

/** An order as the node writes it inside an order status and in an L4 snapshot (`sz` = resting size). */
export interface NodeOrder {
  readonly coin: Coin;
  readonly side: Side;
  readonly limitPx: string;
  readonly sz: string;
  readonly oid: Oid;
  readonly timestamp: number;
  readonly triggerCondition: string;
  readonly isTrigger: boolean;
  readonly triggerPx: string;
  readonly children?: readonly unknown[];
  readonly isPositionTpsl: boolean;
  readonly reduceOnly: boolean;
  readonly orderType: string;
  readonly origSz?: string;
  readonly tif: string | null;
  readonly cloid: string | null;
}

/** One order status event of a `node_order_statuses_by_block` line (unknown extra fields are kept as they came). */
export interface OrderStatusEvent {
  /** Status time, node style `2026-05-05T17:39:13.024084407` (UTC, no zone). */
  readonly time: string;
  readonly user: string;
  readonly status: string;
  readonly order: NodeOrder;
}

/**
 * A status that cannot touch the book (rejected, canceled, filled, …: ~95 % of all statuses), kept as the
 * node's own JSON text so it is neither materialised on ingest nor re-serialised for `l4Book` subscribers.
 * Only `open` and `triggered` statuses are ever parsed into {@link OrderStatusEvent}s.
 */
export interface RawStatusEvent {
  readonly status: string;
  readonly order: { readonly coin: Coin };
  /** The event exactly as the node wrote it (one JSON object). */
  readonly raw: string;
}

/** A status event as ingest hands it over: parsed when it may insert an order, raw otherwise. */
export type StatusEvent = OrderStatusEvent | RawStatusEvent;

/** The `raw_book_diff` member of a raw book diff event. */
export type RawBookDiff =
  | { readonly new: { readonly sz: string; readonly insertBefore?: Oid | null } }
  | { readonly update: { readonly origSz: string; readonly newSz: string } }
  | "remove";

/** One event of a `node_raw_book_diffs_by_block` line. */
export interface BookDiffEvent {
  readonly user: string;
  readonly oid: Oid;
  readonly coin: Coin;
  readonly side: Side;
  readonly px: string;
  readonly raw_book_diff: RawBookDiff;
}

/** One block's input to the book: the statuses and raw diffs of the same block number. */
export interface BlockInput {
  readonly height: number;
  /** Block time in milliseconds since the epoch. */
  readonly time: number;
  readonly statuses: readonly StatusEvent[];
  readonly diffs: readonly BookDiffEvent[];
}

/** An L4 order as served (`l4Book` snapshot levels, snapshot export): the node order plus its user. */
export interface L4Order {
  readonly user: string;
  readonly coin: Coin;
  readonly side: Side;
  readonly limitPx: string;
  readonly sz: string;
  readonly oid: Oid;
  readonly timestamp: number;
  readonly triggerCondition: string;
  readonly isTrigger: boolean;
  readonly triggerPx: string;
  readonly isPositionTpsl: boolean;
  readonly reduceOnly: boolean;
  readonly orderType: string;
  readonly tif: string | null;
  readonly cloid: string | null;
}

/** The node's `l4Snapshots` file: `[height, [[coin, [bids, asks]], …]]`, each order `[user, order]`. */
export type SnapshotFile = readonly [
  number,
  ReadonlyArray<
    readonly [
      Coin,
      readonly [ReadonlyArray<readonly [string, NodeOrder]>, ReadonlyArray<readonly [string, NodeOrder]>],
    ]
  >,
];

/** One aggregated price level on the wire: `n` = number of orders. */
export interface Level {
  readonly px: string;
  readonly sz: string;
  readonly n: number;
}

/** L2 view parameters, already validated (see docs/protocol.md). */
export interface L2Params {
  /** 2..5, or null for full precision. */
  readonly nSigFigs: number | null;
  /** 1, 2 or 5 (2 and 5 only with nSigFigs 5), or null (= 1). */
  readonly mantissa: number | null;
  /** 1..100. */
  readonly nLevels: number;
}

/** `[bids best first, asks best first]`. */
export type L2Levels = readonly [readonly Level[], readonly Level[]];

/** A touched price level after a block: its new aggregate, `n === 0` meaning the level is gone. */
export interface LevelChange {
  readonly side: Side;
  readonly px: string;
  readonly sz: string;
  readonly n: number;
}

/** What one block changed for one coin. */
export interface CoinDiff {
  readonly coin: Coin;
  /** Final state of every price level the block touched (each side+px at most once). */
  readonly levels: readonly LevelChange[];
  /** The block's status events for this coin, in node order (all statuses, rejected ones included). */
  readonly statuses: readonly StatusEvent[];
  /** The block's raw diff events for this coin, in node order. */
  readonly diffs: readonly BookDiffEvent[];
}

/** What one block changed: per coin, only coins with at least one event. Cost O(events), never O(book). */
export interface BookDiff {
  readonly height: number;
  readonly time: number;
  readonly coins: ReadonlyMap<Coin, CoinDiff>;
}

/** Why a block could not be applied. The books are left exactly as they were before the block. */
export interface BookError {
  readonly kind:
    | "heightMismatch"
    | "unknownOrder"
    | "newWithoutStatus"
    | "duplicateOrder"
    | "sizeMismatch"
    | "badInsertBefore"
    | "badValue";
  readonly block: number;
  readonly coin?: Coin;
  readonly oid?: Oid;
  readonly message: string;
}

/** Result of applying a block. */
export type ApplyResult =
  | { readonly ok: true; readonly diff: BookDiff }
  | { readonly ok: false; readonly error: BookError };

/** A trade as served on the `trades` channel (built from the two fills of one `tid`). */
export interface Trade {
  readonly coin: Coin;
  /** The taker's side. */
  readonly side: Side;
  readonly px: string;
  readonly sz: string;
  readonly hash: string;
  readonly time: number;
  readonly tid: number;
  /** `[buyer, seller]`. */
  readonly users: readonly [string, string];
}
