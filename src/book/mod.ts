/**
 * The book engine: exact L4 books for every coin, atomic per-block apply with diffs, Hyperliquid L2 views.
 * Pure: no I/O, no timers, no logging.
 *
 * @module
 */
export { Books, LOAD_CHUNK, type SnapshotLoad, SnapshotLoadError, STATUSLESS_USERS } from "./books.ts";
export { type BookMismatch, compareBooks } from "./compare.ts";
export { OrderColumns } from "./snapshot_columns.ts";
export { bucketPx } from "./l2.ts";
export { formatMid, formatPx, formatSz, parsePx, parseSz } from "./decimal.ts";
export { insertsOrder, mayInsert } from "./status.ts";
export { parseNodeTime } from "./time.ts";
export * from "./types.ts";
export { decimalUnits, formatDecimalUnits } from "./decimal.ts";
