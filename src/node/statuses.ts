/**
 * `node_order_statuses_*` lines (by-block or streaming), read from their bytes. Order statuses that cannot
 * insert an order (everything but `open` and `triggered`: ~95 % of the bytes) are never decoded: a scanner
 * walks the line's bytes once, checks them against the JSON grammar (strings, escapes, UTF-8, numbers,
 * literals, nesting), reads each event's `status` and `order.coin` and keeps the event as a byte range of the
 * line (`RawStatusEvent`, its text decoded only if someone reads `raw`: an `l4Book` subscriber of its coin).
 * Only inserting statuses are decoded, `JSON.parse`d and checked in full.
 *
 * The scanner accepts a line only when `JSON.parse` + `checkStatus` would accept it with the same result;
 * anything else (a fault, or something merely unusual) goes through that full parse (`lines.ts`), which names
 * the fault, so errors are exactly the full parser's.
 *
 * @module
 */
import type { OrderStatusEvent, RawStatusEvent, StatusEvent } from "../book/types.ts";
import { mayInsert } from "../book/status.ts";
import { parseNodeTime } from "../book/time.ts";
import { type Batch, checkStatus, parseBatch, type ParseResult } from "./lines.ts";
import { isId, UTF8 } from "./_json.ts";
import {
  afterColon,
  CLOSE_CURLY,
  CLOSE_SQUARE,
  isDigit,
  keyMatches,
  LATIN1,
  nextItem,
  oddText,
  OPEN_CURLY,
  OPEN_SQUARE,
  QUOTE,
  skipSpace,
  stringEnd,
  valueEnd,
} from "./_walk.ts";

function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

const KEY_STATUS = bytesOf("status");
const KEY_ORDER = bytesOf("order");
const KEY_COIN = bytesOf("coin");
const KEY_EVENTS = bytesOf("events");
const KEY_LOCAL_TIME = bytesOf("local_time");
const KEY_BLOCK_TIME = bytesOf("block_time");
const KEY_BLOCK_NUMBER = bytesOf("block_number");

/**
 * A status the book never inserts, kept as a byte range of its line: `raw` decodes it on first use. The line's
 * bytes must not change afterwards (the tailer hands out bytes it never reuses).
 */
class RawStatus implements RawStatusEvent {
  readonly status: string;
  readonly order: { readonly coin: string };
  #bytes: Uint8Array | null;
  #start: number;
  #end: number;
  #raw = "";

  constructor(
    status: string,
    order: { readonly coin: string },
    bytes: Uint8Array,
    start: number,
    end: number,
  ) {
    this.status = status;
    this.order = order;
    this.#bytes = bytes;
    this.#start = start;
    this.#end = end;
  }

  /** The event exactly as the node wrote it. */
  get raw(): string {
    const bytes = this.#bytes;
    if (bytes !== null) {
      this.#raw = UTF8.decode(bytes.subarray(this.#start, this.#end));
      this.#bytes = null;
    }
    return this.#raw;
  }

  toJSON(): unknown {
    return JSON.parse(this.raw);
  }
}

/** One slot of the scanner's string cache: a status or coin name as bytes, its string and `{coin}` object. */
interface Interned {
  readonly bytes: Uint8Array;
  readonly text: string;
  order: { readonly coin: string } | null;
}

/** Slots of the direct-mapped string cache (statuses and coins: a few hundred distinct names). */
const CACHE_SLOTS = 2048;

/**
 * The fast path of `parseStatusLine`: a recursive-descent scanner over one line's bytes at a time. Its state
 * (the line, the current event's `status` and `order.coin` ranges, the name cache) lives in the object; the
 * context (header, event, order) is in which method runs.
 */
export class StatusScanner {
  #b: Uint8Array = new Uint8Array(0);
  /** Ranges (quotes included) of the current event's `status` and `order.coin` strings; start -1: none. */
  #statusStart = -1;
  #statusEnd = 0;
  #statusOdd = false;
  #coinStart = -1;
  #coinEnd = 0;
  #coinOdd = false;
  readonly #cache: (Interned | undefined)[] = new Array(CACHE_SLOTS);
  /**
   * The layout of the last event the full walk took: the exact bytes between its member values (keys,
   * punctuation, spaces; `order` descended into), and which values are `status` and `order.coin`. Events of
   * the same layout are then matched run by run with only their values walked (see `#match`).
   */
  #runs: Uint8Array[] = [];
  #statusSlot = -1;
  #coinSlot = -1;
  /** Value ranges the full walk of the current event saw, in order (the layout's slots). */
  #slotStart: number[] = [];
  #slotEnd: number[] = [];
  #slots = 0;
  /** The line as text once needed (see `#text`); "" when it is not ASCII. */
  #line: string | null = null;

  /** The line's batch, or null when the line is not exactly what the fast path takes (see the module doc). */
  scan(bytes: Uint8Array): Batch<StatusEvent> | null {
    this.#b = bytes;
    this.#line = null;
    try {
      return this.#batch(bytes, bytes.length);
    } finally {
      this.#b = new Uint8Array(0);
      this.#line = null;
    }
  }

  /**
   * The text of bytes `start..end` of the line: a slice of the whole line decoded once (on the first inserting
   * status of the line) when the line is ASCII, so that byte and character indices agree; decoded alone
   * otherwise.
   */
  #text(b: Uint8Array, start: number, end: number): string {
    if (this.#line === null) {
      const line = UTF8.decode(b);
      this.#line = line.length === b.length ? line : "";
    }
    return this.#line === "" ? UTF8.decode(b.subarray(start, end)) : this.#line.slice(start, end);
  }

  #slot(start: number, end: number): void {
    const k = this.#slots++;
    this.#slotStart[k] = start;
    this.#slotEnd[k] = end;
  }

  /** Makes the event `start..end` just walked in full the layout `#match` tries first. */
  #learn(b: Uint8Array, start: number, end: number): void {
    const slots = this.#slots;
    const runs: Uint8Array[] = [];
    let at = start;
    for (let k = 0; k < slots; k++) {
      runs.push(b.slice(at, this.#slotStart[k]));
      at = this.#slotEnd[k];
    }
    runs.push(b.slice(at, end));
    this.#runs = runs;
  }

  /**
   * Matches the event opening at `i` against the learned layout: each run of bytes between values must be
   * exactly the layout's, each value a valid JSON value. Replacing values of valid JSON by other valid values
   * keeps it valid with the same keys, so a match means what the full walk would find. Index past the event
   * (its `status` and `order.coin` ranges set), or -1 when it does not match (the full walk decides).
   */
  #match(b: Uint8Array, i: number, n: number): number {
    const runs = this.#runs;
    const last = runs.length - 1;
    if (last < 0) return -1;
    const statusSlot = this.#statusSlot;
    const coinSlot = this.#coinSlot;
    for (let k = 0;; k++) {
      const run = runs[k];
      const size = run.length;
      if (i + size > n) return -1;
      for (let j = 0; j < size; j++) if (b[i + j] !== run[j]) return -1;
      i += size;
      if (k === last) return i;
      const start = i;
      const c = b[i];
      if (c === QUOTE) {
        i = stringEnd(b, i, n);
        if (i === -1) return -1;
        const odd = i < -1;
        if (odd) i = -2 - i;
        if (k === statusSlot) {
          this.#statusStart = start;
          this.#statusEnd = i;
          this.#statusOdd = odd;
        } else if (k === coinSlot) {
          this.#coinStart = start;
          this.#coinEnd = i;
          this.#coinOdd = odd;
        }
      } else {
        if (k === statusSlot || k === coinSlot) return -1;
        i = c === 110
          ? (b[i + 1] === 117 && b[i + 2] === 108 && b[i + 3] === 108 ? i + 4 : -1)
          : valueEnd(b, i, n);
        if (i < 0) return -1;
      }
    }
  }

  /** Scans an event's `order` object opening at `i`, noting its `coin`; index past it, or -1. */
  #order(b: Uint8Array, i: number, n: number): number {
    this.#coinStart = -1;
    i = skipSpace(b, i + 1, n);
    if (b[i] === CLOSE_CURLY) return i + 1;
    for (;;) {
      if (b[i] !== QUOTE) return -1;
      const keyStart = i;
      i = stringEnd(b, i, n);
      if (i === -1) return -1;
      const odd = i < -1;
      if (odd) i = -2 - i;
      const coin = (i - keyStart === 6 || odd) && keyMatches(b, keyStart, i, KEY_COIN, odd);
      i = afterColon(b, i, n);
      if (i < 0) return -1;
      const start = i;
      if (coin) {
        this.#coinStart = -1;
        if (b[i] === QUOTE) {
          i = stringEnd(b, i, n);
          if (i === -1) return -1;
          this.#coinOdd = i < -1;
          if (i < -1) i = -2 - i;
          this.#coinStart = start;
          this.#coinEnd = i;
          this.#coinSlot = this.#slots;
        } else i = valueEnd(b, i, n);
      } else i = valueEnd(b, i, n);
      if (i < 0) return -1;
      this.#slot(start, i);
      i = nextItem(b, i, n, CLOSE_CURLY);
      if (i < -1) return -1 - i;
      if (i < 0) return -1;
    }
  }

  /** Scans one event object opening at `i`, noting its `status` and `order.coin`; index past it, or -1. */
  #event(b: Uint8Array, i: number, n: number): number {
    this.#statusStart = -1;
    this.#coinStart = -1;
    i = skipSpace(b, i + 1, n);
    if (b[i] === CLOSE_CURLY) return i + 1;
    for (;;) {
      if (b[i] !== QUOTE) return -1;
      const keyStart = i;
      i = stringEnd(b, i, n);
      if (i === -1) return -1;
      const odd = i < -1;
      if (odd) i = -2 - i;
      const size = i - keyStart - 2;
      const status = (size === 6 || odd) && keyMatches(b, keyStart, i, KEY_STATUS, odd);
      const order = !status && (size === 5 || odd) && keyMatches(b, keyStart, i, KEY_ORDER, odd);
      i = afterColon(b, i, n);
      if (i < 0) return -1;
      const start = i;
      if (status) {
        this.#statusStart = -1;
        if (b[i] === QUOTE) {
          i = stringEnd(b, i, n);
          if (i === -1) return -1;
          this.#statusOdd = i < -1;
          if (i < -1) i = -2 - i;
          this.#statusStart = start;
          this.#statusEnd = i;
          this.#statusSlot = this.#slots;
        } else i = valueEnd(b, i, n);
        if (i < 0) return -1;
        this.#slot(start, i);
      } else if (order && b[i] === OPEN_CURLY) {
        i = this.#order(b, i, n);
      } else {
        if (order) this.#coinStart = -1;
        i = valueEnd(b, i, n);
        if (i < 0) return -1;
        this.#slot(start, i);
      }
      if (i < 0) return -1;
      i = nextItem(b, i, n, CLOSE_CURLY);
      if (i < -1) return -1 - i;
      if (i < 0) return -1;
    }
  }

  /** The string `start..end` (quotes included): from the cache when it is plain ASCII. */
  #name(start: number, end: number, odd: boolean): Interned {
    const b = this.#b;
    if (odd) return { bytes: b.slice(start, end), text: oddText(b, start, end), order: null };
    let hash = end - start;
    for (let k = start + 1; k < end - 1; k++) hash = (hash * 31 + b[k]) | 0;
    const slot = hash & (CACHE_SLOTS - 1);
    const hit = this.#cache[slot];
    if (hit !== undefined && hit.bytes.length === end - start) {
      const bytes = hit.bytes;
      let k = 1;
      while (k < bytes.length && bytes[k] === b[start + k]) k++;
      if (k === bytes.length) return hit;
    }
    const entry: Interned = {
      bytes: b.slice(start, end),
      text: LATIN1.decode(b.subarray(start + 1, end - 1)),
      order: null,
    };
    this.#cache[slot] = entry;
    return entry;
  }

  /** Scans the `events` array opening at `i` into `events`; index past it, or -1. */
  #events(b: Uint8Array, i: number, n: number, events: StatusEvent[]): number {
    i = skipSpace(b, i + 1, n);
    if (b[i] === CLOSE_SQUARE) return i + 1;
    for (;;) {
      if (b[i] !== OPEN_CURLY) return -1;
      const start = i;
      const end = this.#match(b, i, n);
      if (end >= 0) i = end;
      else {
        this.#slots = 0;
        this.#statusSlot = -1;
        this.#coinSlot = -1;
        i = this.#event(b, i, n);
        if (i < 0 || this.#statusStart < 0 || this.#coinStart < 0) {
          this.#runs = [];
          return -1;
        }
        this.#learn(b, start, i);
      }
      const status = this.#name(this.#statusStart, this.#statusEnd, this.#statusOdd).text;
      if (mayInsert(status)) {
        const event = JSON.parse(this.#text(b, start, i));
        if (checkStatus(event) !== null) return -1;
        events.push(event as OrderStatusEvent);
      } else {
        const coin = this.#name(this.#coinStart, this.#coinEnd, this.#coinOdd);
        const order = coin.order ??= Object.freeze({ coin: coin.text });
        events.push(new RawStatus(status, order, b, start, i));
      }
      i = nextItem(b, i, n, CLOSE_SQUARE);
      if (i < -1) return -1 - i;
      if (i < 0) return -1;
    }
  }

  #batch(b: Uint8Array, n: number): Batch<StatusEvent> | null {
    let localTime: string | null = null;
    let blockTime = NaN;
    let blockNumber = NaN;
    let events: StatusEvent[] | null = null;
    let i = skipSpace(b, 0, n);
    if (b[i] !== OPEN_CURLY) return null;
    i = skipSpace(b, i + 1, n);
    if (b[i] === CLOSE_CURLY) return null; // no fields: the full parse names what is missing
    for (;;) {
      if (b[i] !== QUOTE) return null;
      const keyStart = i;
      i = stringEnd(b, i, n);
      if (i === -1) return null;
      const odd = i < -1;
      if (odd) i = -2 - i;
      const keyEnd = i;
      i = afterColon(b, i, n);
      if (i < 0) return null;
      const start = i;
      if (keyMatches(b, keyStart, keyEnd, KEY_EVENTS, odd)) {
        if (b[i] !== OPEN_SQUARE) return null;
        events = [];
        i = this.#events(b, i, n, events);
      } else {
        i = valueEnd(b, i, n);
        if (i < 0) return null;
        if (keyMatches(b, keyStart, keyEnd, KEY_LOCAL_TIME, odd)) {
          localTime = b[start] === QUOTE ? JSON.parse(UTF8.decode(b.subarray(start, i))) : null;
        } else if (keyMatches(b, keyStart, keyEnd, KEY_BLOCK_TIME, odd)) {
          if (b[start] !== QUOTE) return null;
          blockTime = parseNodeTime(JSON.parse(UTF8.decode(b.subarray(start, i))));
        } else if (keyMatches(b, keyStart, keyEnd, KEY_BLOCK_NUMBER, odd)) {
          const c = b[start];
          blockNumber = c === 45 || isDigit(c) ? Number(LATIN1.decode(b.subarray(start, i))) : NaN;
        }
      }
      if (i < 0) return null;
      i = nextItem(b, i, n, CLOSE_CURLY);
      if (i < -1) {
        i = -1 - i;
        break;
      }
      if (i < 0) return null;
    }
    if (skipSpace(b, i, n) !== n) return null;
    if (events === null || localTime === null || !isId(blockNumber) || Number.isNaN(blockTime)) return null;
    return { blockNumber, blockTime, localTime, events };
  }
}

const scanner = new StatusScanner();
const ENCODER = new TextEncoder();

/**
 * Parses a `node_order_statuses_*` line (by-block or streaming; its bytes, or its text). `open` and `triggered`
 * statuses come back as checked `OrderStatusEvent`s, every other one as a `RawStatusEvent` whose `raw` is the
 * event's exact text.
 */
export function parseStatusLine(line: string | Uint8Array): ParseResult<StatusEvent> {
  const bytes = typeof line === "string" ? ENCODER.encode(line) : line;
  let batch: Batch<StatusEvent> | null;
  try {
    batch = scanner.scan(bytes);
  } catch {
    batch = null;
  }
  if (batch !== null) return { ok: true, batch };
  // Something is wrong or unusual: the full parse names the fault.
  let text: string;
  if (typeof line === "string") text = line;
  else {
    try {
      text = UTF8.decode(line);
    } catch {
      return { ok: false, error: "invalid UTF-8" };
    }
  }
  const slow = parseBatch<OrderStatusEvent>(text, checkStatus);
  if (!slow.ok) return slow;
  // Valid JSON the scanner does not take (never seen in node output): keep the events, re-serialised.
  const events = slow.batch.events.map((event): StatusEvent =>
    mayInsert(event.status)
      ? event
      : { status: event.status, order: { coin: event.order.coin }, raw: JSON.stringify(event) }
  );
  return { ok: true, batch: { ...slow.batch, events } };
}
