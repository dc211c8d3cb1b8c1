/**
 * The node's batch lines (by-block and streaming: the same batch shape) and their validators: untrusted text is
 * checked once here; everything downstream trusts the types. Parsed events keep unknown fields so they can be
 * forwarded as the node wrote them. Status and diff lines have their own fast paths (`statuses.ts`,
 * `diffs.ts`), which fall back to `parseBatch` + `checkStatus` / `checkDiff` to name a fault.
 *
 * @module
 */
import { parseNodeTime } from "../book/time.ts";
import { mayInsert } from "../book/status.ts";
import { decodeLine, isDecimal, isId, isObject, isSide, type Json, show } from "./_json.ts";

export interface Batch<E> {
  readonly blockNumber: number;
  /** Block time in epoch milliseconds. */
  readonly blockTime: number;
  /** The node's wall clock when it wrote the line, as written. */
  readonly localTime: string;
  readonly events: readonly E[];
}

/** A fill as the node writes it (unknown extra fields kept). */
export interface NodeFill {
  readonly coin: string;
  readonly px: string;
  readonly sz: string;
  readonly side: "B" | "A";
  readonly time: number;
  readonly hash: string;
  readonly tid: number;
  readonly crossed: boolean;
  readonly oid: number;
}

/** One event of a `node_fills_*` line: `[user, fill]`. */
export type FillEvent = readonly [string, NodeFill];

/** The result of parsing one line: a batch, or what was wrong with it. */
export type ParseResult<E> =
  | { readonly ok: true; readonly batch: Batch<E> }
  | { readonly ok: false; readonly error: string };

/** Parses and checks one batch line's text in full: the reference every fast path must agree with. */
export function parseBatch<E>(line: string, checkEvent: (event: unknown) => string | null): ParseResult<E> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `not JSON (${why})` };
  }
  if (!isObject(value)) return { ok: false, error: `a line must be a batch object, got ${show(value)}` };
  const blockNumber = value.block_number;
  if (!isId(blockNumber)) {
    return { ok: false, error: `block_number must be a non-negative integer, got ${show(blockNumber)}` };
  }
  const blockTime = parseNodeTime(value.block_time as string);
  if (Number.isNaN(blockTime)) {
    return { ok: false, error: `block_time must be a node time string, got ${show(value.block_time)}` };
  }
  const localTime = value.local_time;
  if (typeof localTime !== "string") {
    return { ok: false, error: `local_time must be a string, got ${show(localTime)}` };
  }
  const events = value.events;
  if (!Array.isArray(events)) return { ok: false, error: `events must be an array, got ${show(events)}` };
  for (let i = 0; i < events.length; i++) {
    const why = checkEvent(events[i]);
    if (why !== null) return { ok: false, error: `block ${blockNumber} event ${i}: ${why}` };
  }
  return {
    ok: true,
    batch: { blockNumber: blockNumber as number, blockTime, localTime, events: events as E[] },
  };
}

export function checkOrder(order: Json): string | null {
  if (!isSide(order.side)) return `order.side must be "B" or "A", got ${show(order.side)}`;
  if (!isDecimal(order.limitPx)) return `order.limitPx must be a decimal string, got ${show(order.limitPx)}`;
  if (!isDecimal(order.sz)) return `order.sz must be a decimal string, got ${show(order.sz)}`;
  if (!isId(order.oid)) return `order.oid must be a non-negative integer, got ${show(order.oid)}`;
  if (!Number.isSafeInteger(order.timestamp)) {
    return `order.timestamp must be an integer, got ${show(order.timestamp)}`;
  }
  if (typeof order.triggerCondition !== "string") {
    return `order.triggerCondition must be a string, got ${show(order.triggerCondition)}`;
  }
  if (typeof order.isTrigger !== "boolean") {
    return `order.isTrigger must be a boolean, got ${show(order.isTrigger)}`;
  }
  if (!isDecimal(order.triggerPx)) {
    return `order.triggerPx must be a decimal string, got ${show(order.triggerPx)}`;
  }
  if (typeof order.isPositionTpsl !== "boolean") {
    return `order.isPositionTpsl must be a boolean, got ${show(order.isPositionTpsl)}`;
  }
  if (typeof order.reduceOnly !== "boolean") {
    return `order.reduceOnly must be a boolean, got ${show(order.reduceOnly)}`;
  }
  if (typeof order.orderType !== "string") {
    return `order.orderType must be a string, got ${show(order.orderType)}`;
  }
  if (order.origSz !== undefined && !isDecimal(order.origSz)) {
    return `order.origSz must be a decimal string, got ${show(order.origSz)}`;
  }
  if (order.tif !== null && typeof order.tif !== "string") {
    return `order.tif must be a string or null, got ${show(order.tif)}`;
  }
  if (order.cloid !== undefined && order.cloid !== null && typeof order.cloid !== "string") {
    return `order.cloid must be a string or null, got ${show(order.cloid)}`;
  }
  return null;
}

/** The last status time `checkStatus` found valid. */
let lastStatusTime = "";

export function checkStatus(event: unknown): string | null {
  if (!isObject(event)) return `an order status must be an object, got ${show(event)}`;
  if (typeof event.status !== "string") return `status must be a string, got ${show(event.status)}`;
  const order = event.order;
  if (!isObject(order)) return `order must be an object, got ${show(order)}`;
  if (typeof order.coin !== "string") return `order.coin must be a string, got ${show(order.coin)}`;
  // Statuses that cannot insert an order are forwarded as written: status and coin are all anyone reads.
  if (!mayInsert(event.status)) return null;
  if (typeof event.user !== "string") return `user must be a string, got ${show(event.user)}`;
  if (typeof event.time !== "string") return `time must be a string, got ${show(event.time)}`;
  // A block's statuses share its time: the last valid one is not parsed again.
  if (event.time !== lastStatusTime) {
    if (Number.isNaN(parseNodeTime(event.time))) {
      return `time must be a node time string, got ${show(event.time)}`;
    }
    lastStatusTime = event.time;
  }
  return checkOrder(order);
}

export function checkDiff(event: unknown): string | null {
  if (!isObject(event)) return `a book diff must be an object, got ${show(event)}`;
  if (typeof event.user !== "string") return `user must be a string, got ${show(event.user)}`;
  if (!isId(event.oid)) return `oid must be a non-negative integer, got ${show(event.oid)}`;
  if (typeof event.coin !== "string") return `coin must be a string, got ${show(event.coin)}`;
  if (!isSide(event.side)) return `side must be "B" or "A", got ${show(event.side)}`;
  if (!isDecimal(event.px)) return `px must be a decimal string, got ${show(event.px)}`;
  const diff = event.raw_book_diff;
  if (diff === "remove") return null;
  if (isObject(diff)) {
    if (isObject(diff.new)) {
      if (!isDecimal(diff.new.sz)) return `new.sz must be a decimal string, got ${show(diff.new.sz)}`;
      const before = diff.new.insertBefore;
      if (before !== undefined && before !== null && !isId(before)) {
        return `new.insertBefore must be an oid, got ${show(before)}`;
      }
      return null;
    }
    if (isObject(diff.update)) {
      if (!isDecimal(diff.update.origSz)) {
        return `update.origSz must be a decimal string, got ${show(diff.update.origSz)}`;
      }
      if (!isDecimal(diff.update.newSz)) {
        return `update.newSz must be a decimal string, got ${show(diff.update.newSz)}`;
      }
      return null;
    }
  }
  return `raw_book_diff must be {"new":…}, {"update":…} or "remove", got ${show(diff)}`;
}

function checkFill(event: unknown): string | null {
  if (!Array.isArray(event) || event.length !== 2) return `a fill must be [user, fill], got ${show(event)}`;
  const [user, fill] = event;
  if (typeof user !== "string") return `fill user must be a string, got ${show(user)}`;
  if (!isObject(fill)) return `fill must be an object, got ${show(fill)}`;
  if (typeof fill.coin !== "string") return `fill.coin must be a string, got ${show(fill.coin)}`;
  if (!isDecimal(fill.px)) return `fill.px must be a decimal string, got ${show(fill.px)}`;
  if (!isDecimal(fill.sz)) return `fill.sz must be a decimal string, got ${show(fill.sz)}`;
  if (!isSide(fill.side)) return `fill.side must be "B" or "A", got ${show(fill.side)}`;
  if (!Number.isSafeInteger(fill.time)) return `fill.time must be an integer, got ${show(fill.time)}`;
  if (typeof fill.hash !== "string") return `fill.hash must be a string, got ${show(fill.hash)}`;
  if (!isId(fill.tid)) return `fill.tid must be a non-negative integer, got ${show(fill.tid)}`;
  if (typeof fill.crossed !== "boolean") return `fill.crossed must be a boolean, got ${show(fill.crossed)}`;
  if (!isId(fill.oid)) return `fill.oid must be a non-negative integer, got ${show(fill.oid)}`;
  return null;
}

/** Parses a `node_fills_*` line (its bytes, or its text). */
export function parseFillLine(line: string | Uint8Array): ParseResult<FillEvent> {
  const text = typeof line === "string" ? line : decodeLine(line);
  return text === null ? { ok: false, error: "invalid UTF-8" } : parseBatch(text, checkFill);
}
