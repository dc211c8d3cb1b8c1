/**
 * A group of snapshot orders as columns: what loading an order into a book needs, and nothing else. The
 * snapshot reader (`readSnapshot` in src/node) fills it straight from the file's bytes, so a 1 M-order load
 * builds no `[user, order]` pair, no order object and no per-order string but the cloid: the repeated strings
 * (users, prices, tif, orderType…) are the reader's shared copies, sizes and prices arrive as numbers. One
 * object is reused for every group (`count` rows are live); `SnapshotLoad.addColumns` consumes it.
 *
 * @module
 */
import type { Side } from "./types.ts";
import { FLAG_REDUCE_ONLY, FLAG_TPSL, FLAG_TRIGGER } from "./order_book.ts";

/** Rows of checked snapshot orders (see the module doc); row k of every array is order k of the group. */
export class OrderColumns {
  /** `flags` bit of `isPositionTpsl`. */
  static readonly TPSL = FLAG_TPSL;
  /** `flags` bit of `reduceOnly`. */
  static readonly REDUCE_ONLY = FLAG_REDUCE_ONLY;
  /** `flags` bit of `isTrigger` (trigger orders are not loaded). */
  static readonly TRIGGER = FLAG_TRIGGER;

  /** Live rows. */
  count = 0;
  readonly users: string[] = [];
  readonly oids: number[] = [];
  /** The order's own `side` field (checked against the side it is listed under when loaded). */
  readonly sides: Side[] = [];
  readonly limitPxs: string[] = [];
  /** `parsePx(limitPx)`: a valid price. */
  readonly pxs: number[] = [];
  /** `sz` as an exact size (integer part, fraction in 1e-8 units). */
  readonly szInts: number[] = [];
  readonly szFracs: number[] = [];
  readonly timestamps: number[] = [];
  readonly tifs: (string | null)[] = [];
  readonly orderTypes: string[] = [];
  readonly triggerConditions: string[] = [];
  readonly triggerPxs: string[] = [];
  /** `TPSL | REDUCE_ONLY | TRIGGER` bits. */
  readonly flags: number[] = [];
  readonly cloids: (string | null)[] = [];
}
