/**
 * `node_order_statuses_*` lines (by-block or streaming). Order statuses that cannot insert an order (everything
 * but `open` and `triggered`: ~95 % of the bytes) are never materialised: a structural scanner checks the
 * line's JSON, reads each event's `status` and `order.coin` and keeps the event as the exact text the node
 * wrote (`RawStatusEvent`); only inserting statuses are `JSON.parse`d and checked in full. Anything the
 * scanner does not take goes through the full parse (`lines.ts`), which names the fault.
 *
 * @module
 */
import type { OrderStatusEvent, StatusEvent } from "../book/types.ts";
import { mayInsert } from "../book/status.ts";
import { parseNodeTime } from "../book/time.ts";
import { type Batch, checkStatus, parseBatch, type ParseResult } from "./lines.ts";
import { isId } from "./_json.ts";

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_SQUARE = 91;
const CLOSE_SQUARE = 93;
const OPEN_CURLY = 123;
const CLOSE_CURLY = 125;
const COMMA = 44;

const KEY_OTHER = 0;
const KEY_LOCAL_TIME = 1;
const KEY_BLOCK_TIME = 2;
const KEY_BLOCK_NUMBER = 3;
const KEY_EVENTS = 4;
const KEY_STATUS = 5;
const KEY_ORDER = 6;

/** Raw control characters are never valid inside JSON strings (serde escapes them); their presence means care. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f]/;

function stringEnd(line: string, start: number, escapes: boolean): number {
  let end = line.indexOf('"', start + 1);
  if (!escapes) return end;
  for (;;) {
    if (end < 0) return -1;
    let slashes = 0;
    while (line.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
    if ((slashes & 1) === 0) return end;
    end = line.indexOf('"', end + 1);
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** End of the JSON number starting at `i`, or -1 when it is not one. */
function numberEnd(line: string, i: number): number {
  if (line.charCodeAt(i) === 45) i++;
  let c = line.charCodeAt(i);
  if (c === 48) c = line.charCodeAt(++i);
  else if (isDigit(c)) {
    while (isDigit(c)) c = line.charCodeAt(++i);
  } else return -1;
  if (c === 46) {
    c = line.charCodeAt(++i);
    if (!isDigit(c)) return -1;
    while (isDigit(c)) c = line.charCodeAt(++i);
  }
  if (c === 101 || c === 69) {
    c = line.charCodeAt(++i);
    if (c === 43 || c === 45) c = line.charCodeAt(++i);
    if (!isDigit(c)) return -1;
    while (isDigit(c)) c = line.charCodeAt(++i);
  }
  return i;
}

/**
 * The fast path of `parseStatusLine`: a structural scanner over one line at a time. Its state (the line, where
 * the next backslash is, the event's `status` and `order.coin`) lives in the object, not in module globals;
 * the context (header, event, order) is in which method runs, so the common path is an indexOf per string and
 * a few compares.
 */
export class StatusScanner {
  #text = "";
  #escapes = false;
  /** Position of the next backslash at or after the scanner's position (-1: none left); advanced lazily. */
  #nextSlash = -1;
  /** The `status` and `order.coin` of the event being scanned (null: not seen, or not a string). */
  #status: string | null = null;
  #coin: string | null = null;

  /** Whether the string token `start..end` (quotes included) holds an escape; calls must go left to right. */
  #escaped(line: string, start: number, end: number): boolean {
    if (this.#nextSlash >= 0 && this.#nextSlash < start) this.#nextSlash = line.indexOf("\\", start);
    return this.#nextSlash >= 0 && this.#nextSlash < end;
  }

  #stringValue(line: string, start: number, end: number, escapes: boolean): string {
    return escapes && this.#escaped(line, start, end)
      ? JSON.parse(line.slice(start, end + 1))
      : line.slice(start + 1, end);
  }

  #skipTextSpace(i: number): number {
    let c = this.#text.charCodeAt(i);
    while (c === 32 || c === 9 || c === 10 || c === 13) c = this.#text.charCodeAt(++i);
    return i;
  }

  /** Index of the quote closing the string that opens at `i`, or -1. */
  #closeQuote(i: number): number {
    return this.#escapes ? stringEnd(this.#text, i, true) : this.#text.indexOf('"', i + 1);
  }

  /** The key string opening at `i` (quotes excluded), decoded only when it holds an escape. */
  #keyText(i: number, end: number): string {
    return this.#escapes && this.#escaped(this.#text, i, end)
      ? JSON.parse(this.#text.slice(i, end + 1))
      : this.#text.slice(i + 1, end);
  }

  /** Index just past the colon after a key that closes at `end`, spaces skipped; -1 when there is none. */
  #afterColon(end: number): number {
    let i = end + 1;
    if (this.#text.charCodeAt(i) !== 58) {
      i = this.#skipTextSpace(i);
      if (this.#text.charCodeAt(i) !== 58) return -1;
    }
    i++;
    const c = this.#text.charCodeAt(i);
    return c === 32 || c === 9 || c === 10 || c === 13 ? this.#skipTextSpace(i) : i;
  }

  /**
   * After a member or element ending at `i`: the index of the next one (past the comma, spaces skipped), or
   * `-2 - index` of the closing bracket `close`, or -1 when neither follows.
   */
  #next(i: number, close: number): number {
    let c = this.#text.charCodeAt(i);
    if (c !== COMMA && c !== close) {
      i = this.#skipTextSpace(i);
      c = this.#text.charCodeAt(i);
    }
    if (c === COMMA) {
      i++;
      c = this.#text.charCodeAt(i);
      return c === 32 || c === 9 || c === 10 || c === 13 ? this.#skipTextSpace(i) : i;
    }
    return c === close ? -2 - i : -1;
  }

  /** Index just past the JSON value starting at `i`, or -1 when it is not one. */
  #skipValue(i: number): number {
    const c = this.#text.charCodeAt(i);
    if (c === QUOTE) {
      const end = this.#closeQuote(i);
      return end < 0 ? -1 : end + 1;
    }
    if (c === OPEN_CURLY) return this.#skipObject(i);
    if (c === OPEN_SQUARE) return this.#skipArray(i);
    if (c === 45 || isDigit(c)) return numberEnd(this.#text, i);
    if (c === 116) return this.#text.startsWith("true", i) ? i + 4 : -1;
    if (c === 102) return this.#text.startsWith("false", i) ? i + 5 : -1;
    if (c === 110) return this.#text.startsWith("null", i) ? i + 4 : -1;
    return -1;
  }

  #skipObject(i: number): number {
    i = this.#skipTextSpace(i + 1);
    if (this.#text.charCodeAt(i) === CLOSE_CURLY) return i + 1;
    for (;;) {
      if (this.#text.charCodeAt(i) !== QUOTE) return -1;
      const end = this.#closeQuote(i);
      if (end < 0) return -1;
      i = this.#afterColon(end);
      if (i < 0) return -1;
      i = this.#skipValue(i);
      if (i < 0) return -1;
      i = this.#next(i, CLOSE_CURLY);
      if (i < -1) return -1 - i;
      if (i < 0) return -1;
    }
  }

  #skipArray(i: number): number {
    i = this.#skipTextSpace(i + 1);
    if (this.#text.charCodeAt(i) === CLOSE_SQUARE) return i + 1;
    for (;;) {
      i = this.#skipValue(i);
      if (i < 0) return -1;
      i = this.#next(i, CLOSE_SQUARE);
      if (i < -1) return -1 - i;
      if (i < 0) return -1;
    }
  }

  /** Scans an event's `order` object opening at `i`, noting its `coin`; index past it, or -1. */
  #scanOrder(i: number): number {
    this.#coin = null;
    i = this.#skipTextSpace(i + 1);
    if (this.#text.charCodeAt(i) === CLOSE_CURLY) return i + 1;
    for (;;) {
      if (this.#text.charCodeAt(i) !== QUOTE) return -1;
      const end = this.#closeQuote(i);
      if (end < 0) return -1;
      const coin = end - i === 5 && this.#text.startsWith("coin", i + 1) ||
        this.#escapes && this.#escaped(this.#text, i, end) && this.#keyText(i, end) === "coin";
      i = this.#afterColon(end);
      if (i < 0) return -1;
      if (coin) {
        this.#coin = null;
        if (this.#text.charCodeAt(i) === QUOTE) {
          const close = this.#closeQuote(i);
          if (close < 0) return -1;
          this.#coin = this.#stringValue(this.#text, i, close, this.#escapes);
          i = close + 1;
        } else i = this.#skipValue(i);
      } else i = this.#skipValue(i);
      if (i < 0) return -1;
      i = this.#next(i, CLOSE_CURLY);
      if (i < -1) return -1 - i;
      if (i < 0) return -1;
    }
  }

  /** Scans one event object opening at `i`, noting its `status` and `order.coin`; index past it, or -1. */
  #scanEvent(i: number): number {
    this.#status = null;
    this.#coin = null;
    i = this.#skipTextSpace(i + 1);
    if (this.#text.charCodeAt(i) === CLOSE_CURLY) return i + 1;
    for (;;) {
      if (this.#text.charCodeAt(i) !== QUOTE) return -1;
      const end = this.#closeQuote(i);
      if (end < 0) return -1;
      let key = KEY_OTHER;
      const size = end - i - 1;
      if (size === 6 || size === 5 || (this.#escapes && this.#escaped(this.#text, i, end))) {
        const name = size === 6 && this.#text.startsWith("status", i + 1)
          ? "status"
          : size === 5 && this.#text.startsWith("order", i + 1)
          ? "order"
          : this.#escapes
          ? this.#keyText(i, end)
          : "";
        key = name === "status" ? KEY_STATUS : name === "order" ? KEY_ORDER : KEY_OTHER;
      }
      i = this.#afterColon(end);
      if (i < 0) return -1;
      const c = this.#text.charCodeAt(i);
      if (key === KEY_STATUS) {
        this.#status = null;
        if (c === QUOTE) {
          const close = this.#closeQuote(i);
          if (close < 0) return -1;
          this.#status = this.#stringValue(this.#text, i, close, this.#escapes);
          i = close + 1;
        } else i = this.#skipValue(i);
      } else if (key === KEY_ORDER) {
        if (c === OPEN_CURLY) i = this.#scanOrder(i);
        else {
          this.#coin = null;
          i = this.#skipValue(i);
        }
      } else i = this.#skipValue(i);
      if (i < 0) return -1;
      i = this.#next(i, CLOSE_CURLY);
      if (i < -1) return -1 - i;
      if (i < 0) return -1;
    }
  }

  /** Scans the `events` array opening at `i` into `events`; index past it, or -1. */
  #scanEvents(i: number, events: StatusEvent[], careful: boolean): number {
    i = this.#skipTextSpace(i + 1);
    if (this.#text.charCodeAt(i) === CLOSE_SQUARE) return i + 1;
    for (;;) {
      if (this.#text.charCodeAt(i) !== OPEN_CURLY) return -1;
      const start = i;
      i = this.#scanEvent(i);
      if (i < 0) return -1;
      const status = this.#status;
      const coin = this.#coin;
      if (status === null || coin === null) return -1;
      if (mayInsert(status)) {
        const event = JSON.parse(this.#text.slice(start, i));
        if (checkStatus(event) !== null) return -1;
        events.push(event as OrderStatusEvent);
      } else {
        const raw = this.#text.slice(start, i);
        if (careful) JSON.parse(raw); // throws, as the slow path would, on a raw control character
        events.push({ status, order: { coin }, raw });
      }
      i = this.#next(i, CLOSE_SQUARE);
      if (i < -1) return -1 - i;
      if (i < 0) return -1;
    }
  }

  /**
   * The fast path of `parseStatusLine`: one pass over the line that checks its JSON structure (strings skipped
   * natively), reads the header fields and, for every event, its `status` and `order.coin`, whatever the key
   * order. Only events with an inserting status are `JSON.parse`d. Null when anything is wrong or unusual: the
   * caller then parses the line the slow way, which names the fault.
   */
  scan(line: string): Batch<StatusEvent> | null {
    this.#text = line;
    this.#nextSlash = line.indexOf("\\");
    this.#escapes = this.#nextSlash >= 0;
    const careful = this.#escapes || CONTROL.test(line);
    try {
      return this.#scanBatch(careful);
    } finally {
      this.#text = "";
    }
  }

  #scanBatch(careful: boolean): Batch<StatusEvent> | null {
    let localTime: string | null = null;
    let blockTimeText: string | null = null;
    let blockNumberText: string | null = null;
    let events: StatusEvent[] | null = null;
    let i = this.#skipTextSpace(0);
    if (this.#text.charCodeAt(i) !== OPEN_CURLY) return null;
    i = this.#skipTextSpace(i + 1);
    if (this.#text.charCodeAt(i) !== CLOSE_CURLY) {
      for (;;) {
        if (this.#text.charCodeAt(i) !== QUOTE) return null;
        const end = this.#closeQuote(i);
        if (end < 0) return null;
        const key = topKeyOf(this.#keyText(i, end));
        i = this.#afterColon(end);
        if (i < 0) return null;
        const start = i;
        if (key === KEY_EVENTS) {
          if (this.#text.charCodeAt(i) !== OPEN_SQUARE) return null;
          events = [];
          i = this.#scanEvents(i, events, careful);
        } else {
          i = this.#skipValue(i);
          if (i < 0) return null;
          const value = this.#text.slice(start, i);
          if (key === KEY_LOCAL_TIME) {
            if (this.#text.charCodeAt(start) !== QUOTE) return null;
            localTime = JSON.parse(value);
          } else if (key === KEY_BLOCK_TIME) {
            if (this.#text.charCodeAt(start) !== QUOTE) return null;
            blockTimeText = value;
          } else if (key === KEY_BLOCK_NUMBER) {
            const c = this.#text.charCodeAt(start);
            if (c !== 45 && !isDigit(c)) return null;
            blockNumberText = value;
          }
        }
        if (i < 0) return null;
        i = this.#next(i, CLOSE_CURLY);
        if (i < -1) {
          i = -1 - i;
          break;
        }
        if (i < 0) return null;
      }
    } else i++;
    if (this.#skipTextSpace(i) !== this.#text.length) return null;
    if (events === null || localTime === null || blockTimeText === null || blockNumberText === null) {
      return null;
    }
    const blockNumber = Number(blockNumberText);
    if (!isId(blockNumber)) return null;
    const blockTime = parseNodeTime(JSON.parse(blockTimeText));
    if (Number.isNaN(blockTime)) return null;
    return { blockNumber, blockTime, localTime, events };
  }
}

function topKeyOf(key: string): number {
  switch (key) {
    case "local_time":
      return KEY_LOCAL_TIME;
    case "block_time":
      return KEY_BLOCK_TIME;
    case "block_number":
      return KEY_BLOCK_NUMBER;
    case "events":
      return KEY_EVENTS;
    default:
      return KEY_OTHER;
  }
}

const scanner = new StatusScanner();

/**
 * Parses a `node_order_statuses_*` line (by-block or streaming). `open` and `triggered` statuses come back as
 * checked `OrderStatusEvent`s, every other one as a `RawStatusEvent` holding the event's exact text.
 */
export function parseStatusLine(line: string): ParseResult<StatusEvent> {
  let batch: Batch<StatusEvent> | null;
  try {
    batch = scanner.scan(line);
  } catch {
    batch = null;
  }
  if (batch !== null) return { ok: true, batch };
  // Something is wrong or unusual: the full parse names the fault.
  const slow = parseBatch<OrderStatusEvent>(line, checkStatus);
  if (!slow.ok) return slow;
  // Valid JSON the scanner does not take (never seen in node output): keep the events, re-serialised.
  const events = slow.batch.events.map((event): StatusEvent =>
    mayInsert(event.status)
      ? event
      : { status: event.status, order: { coin: event.order.coin }, raw: JSON.stringify(event) }
  );
  return { ok: true, batch: { ...slow.batch, events } };
}
