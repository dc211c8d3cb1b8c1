/**
 * Which order statuses can put an order in the book: the one definition, used by the node parser (which
 * parses only these in full), the ingest block cache (which keeps only these) and `Books.applyBlock`.
 *
 * @module
 */
import type { OrderStatusEvent, StatusEvent } from "./types.ts";

/**
 * Whether a status of this name can insert its order (`open`, `triggered`); every other status leaves the book
 * as it is and is kept as the node's raw text. Decided from the name alone, before the event is parsed.
 */
export function mayInsert(status: string): boolean {
  return status === "open" || status === "triggered";
}

/**
 * Whether a status inserts its order when a `new` diff names it in the same block: `open` for a non-trigger
 * order whose `tif` is not `Ioc`, or `triggered` (docs/node-files.md). Raw statuses never do.
 */
export function insertsOrder(status: StatusEvent): status is OrderStatusEvent {
  if ("raw" in status || !mayInsert(status.status)) return false;
  if (status.status === "triggered") return true;
  return !status.order.isTrigger && status.order.tif !== "Ioc";
}
