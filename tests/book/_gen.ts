/**
 * Test helpers: builders of node events.
 *
 * @module
 */
import type { BookDiffEvent, NodeOrder, OrderStatusEvent, Side } from "../../src/book/mod.ts";

/** A node order with sensible defaults. */
export function nodeOrder(
  p: Partial<NodeOrder> & { oid: number; side: Side; limitPx: string; sz: string },
): NodeOrder {
  return {
    coin: "BTC",
    timestamp: 1778002753024,
    triggerCondition: "N/A",
    isTrigger: false,
    triggerPx: "0.0",
    children: [],
    isPositionTpsl: false,
    reduceOnly: false,
    orderType: "Limit",
    origSz: p.sz,
    tif: "Gtc",
    cloid: null,
    ...p,
  };
}

/** An order status event. */
export function status(
  s: string,
  order: NodeOrder,
  opts: { user?: string; time?: string } = {},
): OrderStatusEvent {
  return { time: opts.time ?? "2026-05-05T17:39:13.024084407", user: opts.user ?? "0xaa", status: s, order };
}

/** A `new` raw diff. */
export function newDiff(
  o: { oid: number; side: Side; px: string; sz: string; coin?: string; user?: string; insertBefore?: number },
): BookDiffEvent {
  return {
    user: o.user ?? "0xaa",
    oid: o.oid,
    coin: o.coin ?? "BTC",
    side: o.side,
    px: o.px,
    raw_book_diff: o.insertBefore === undefined
      ? { new: { sz: o.sz } }
      : { new: { sz: o.sz, insertBefore: o.insertBefore } },
  };
}

/** An `update` raw diff. */
export function updateDiff(
  o: { oid: number; side: Side; px: string; origSz: string; newSz: string; coin?: string },
): BookDiffEvent {
  return {
    user: "0xaa",
    oid: o.oid,
    coin: o.coin ?? "BTC",
    side: o.side,
    px: o.px,
    raw_book_diff: { update: { origSz: o.origSz, newSz: o.newSz } },
  };
}

/** A `remove` raw diff. */
export function removeDiff(o: { oid: number; side: Side; px: string; coin?: string }): BookDiffEvent {
  return { user: "0xaa", oid: o.oid, coin: o.coin ?? "BTC", side: o.side, px: o.px, raw_book_diff: "remove" };
}
