/**
 * `node_order_statuses_*` lines (by-block or streaming), read from their bytes. Order statuses that cannot
 * insert an order (everything but `open` and `triggered`: ~90 % of the bytes) are never decoded: the scanner
 * walks the line's bytes once, checks them against the JSON grammar (strings, escapes, UTF-8, numbers,
 * literals, nesting; events against their learned layout, see `_scan.ts`), reads each event's `status` and
 * `order.coin` and keeps the event as a byte range of the line (`RawStatusEvent`, its text decoded only if
 * someone reads `raw`: an `l4Book` subscriber of its coin). Inserting statuses are built from their bytes into
 * the object `JSON.parse` would give and checked in full.
 *
 * The scanner accepts a line only when `JSON.parse` + `checkStatus` would accept it with the same result;
 * anything else (a fault, or something merely unusual) goes through that full parse (`lines.ts`), which names
 * the fault, so errors are exactly the full parser's.
 *
 * @module
 */
import type { OrderStatusEvent, RawStatusEvent, StatusEvent } from "../book/types.ts";
import { mayInsert } from "../book/status.ts";
import { type Batch, checkStatus, parseBatch, type ParseResult } from "./lines.ts";
import { UTF8 } from "./_json.ts";
import { oddText, QUOTE } from "./_walk.ts";
import { asciiText, EventLayouts, scanBatch, scanEvents } from "./_scan.ts";

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

/** Most `{coin}` objects kept (coins: a few hundred names; the map starts over past this). */
const ORDERS_KEPT = 4096;

/** The layout paths the scanner reads: slot 0 of the marks is `status`, slot 1 `order.coin`. */
const PATHS = [["status"], ["order", "coin"]];

/**
 * The fast path of `parseStatusLine`: walks one line's bytes at a time. Its state (the line, the learned
 * event layouts, the `{coin}` objects) lives in the object.
 */
export class StatusScanner {
  /** One frozen `{coin}` per coin name, shared by the coin's raw statuses. */
  readonly #orders = new Map<string, { readonly coin: string }>();
  readonly #layouts = new EventLayouts(PATHS);
  readonly #events = (b: Uint8Array, i: number, n: number, out: StatusEvent[]) =>
    this.#eventsAt(b, i, n, out);
  readonly #take = (b: Uint8Array, start: number, end: number) => this.#event(b, start, end);
  /** The output of the line being scanned. */
  #out: StatusEvent[] | null = null;

  /** The line's batch, or null when the line is not exactly what the fast path takes (see the module doc). */
  scan(bytes: Uint8Array): Batch<StatusEvent> | null {
    this.#layouts.line(bytes);
    try {
      return scanBatch(bytes, this.#events);
    } finally {
      this.#layouts.done();
    }
  }

  /** The text of the string `start..end` (quotes included): shared through the text cache when plain ASCII. */
  #text(b: Uint8Array, start: number, end: number, odd: boolean): string {
    return odd ? oddText(b, start, end) : asciiText(b, this.#layouts.view, start + 1, end - 1);
  }

  /** The shared `{coin}` of a coin name. */
  #order(coin: string): { readonly coin: string } {
    let order = this.#orders.get(coin);
    if (order === undefined) {
      if (this.#orders.size >= ORDERS_KEPT) this.#orders.clear();
      order = Object.freeze({ coin });
      this.#orders.set(coin, order);
    }
    return order;
  }

  /** Scans the `events` array opening at `i` into `events`; index past it, or -1. */
  #eventsAt(b: Uint8Array, i: number, n: number, events: StatusEvent[]): number {
    this.#out = events;
    try {
      return scanEvents(this.#layouts, b, i, n, this.#take);
    } finally {
      this.#out = null;
    }
  }

  /** Adds the event `start..end` just matched to the output; false when the full parse must decide. */
  #event(b: Uint8Array, start: number, end: number): boolean {
    const layouts = this.#layouts;
    const starts = layouts.slotStart;
    const ends = layouts.slotEnd;
    const odds = layouts.slotOdd;
    const marks = (layouts.layout as { readonly marks: readonly number[] }).marks;
    const statusSlot = marks[0];
    const coinSlot = marks[1];
    // Missing, or not strings: the full parse names the fault.
    if (statusSlot < 0 || coinSlot < 0) return false;
    if (b[starts[statusSlot]] !== QUOTE || b[starts[coinSlot]] !== QUOTE) return false;
    const status = this.#text(b, starts[statusSlot], ends[statusSlot], odds[statusSlot]);
    const events = this.#out as StatusEvent[];
    if (mayInsert(status)) {
      const event = layouts.build(b, start, end);
      if (checkStatus(event) !== null) return false;
      events.push(event as unknown as OrderStatusEvent);
    } else {
      const order = this.#order(this.#text(b, starts[coinSlot], ends[coinSlot], odds[coinSlot]));
      events.push(new RawStatus(status, order, b, start, end));
    }
    return true;
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
