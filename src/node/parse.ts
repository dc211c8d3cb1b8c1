/**
 * Parsing and validation of the node's output lines (by-block and streaming: the same batch shape) and of its
 * L4 snapshot file. Untrusted text is checked once here; everything downstream trusts the types.
 *
 * Rejected order statuses are ~95 % of the bytes and never touch the book, so only what every consumer reads
 * (`time`, `user`, `status`, `order.coin`) is checked for them; the statuses that can touch the book are checked
 * in full. Events are kept as parsed (unknown fields included) so they can be forwarded verbatim.
 *
 * @module
 */
import type { BookDiffEvent, OrderStatusEvent, SnapshotFile } from "../book/types.ts";
import { parseNodeTime } from "./time.ts";

/** One line of a node stream: a block's (by-block) or one event's (streaming) batch. */
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

/** Statuses whose order is validated in full: the ones that can touch the book. */
const BOOK_STATUSES: ReadonlySet<string> = new Set(["open", "triggered", "filled", "canceled"]);

const DECIMAL = /^\d+(\.\d+)?$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function isDecimal(value: unknown): boolean {
  return typeof value === "string" && DECIMAL.test(value);
}
function isSide(value: unknown): boolean {
  return value === "B" || value === "A";
}
function isId(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes one line's bytes as strict UTF-8; null when they are not valid UTF-8. */
export function decodeLine(bytes: Uint8Array): string | null {
  try {
    return UTF8.decode(bytes);
  } catch {
    return null;
  }
}

function parseBatch<E>(line: string, checkEvent: (event: unknown) => string | null): ParseResult<E> {
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
  const blockTime = typeof value.block_time === "string" ? parseNodeTime(value.block_time) : null;
  if (blockTime === null) {
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

function checkOrder(order: Json): string | null {
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

function checkStatus(event: unknown): string | null {
  if (!isObject(event)) return `an order status must be an object, got ${show(event)}`;
  if (typeof event.status !== "string") return `status must be a string, got ${show(event.status)}`;
  if (typeof event.user !== "string") return `user must be a string, got ${show(event.user)}`;
  if (typeof event.time !== "string") return `time must be a string, got ${show(event.time)}`;
  const order = event.order;
  if (!isObject(order)) return `order must be an object, got ${show(order)}`;
  if (typeof order.coin !== "string") return `order.coin must be a string, got ${show(order.coin)}`;
  if (!BOOK_STATUSES.has(event.status)) return null;
  if (parseNodeTime(event.time) === null) return `time must be a node time string, got ${show(event.time)}`;
  return checkOrder(order);
}

function checkDiff(event: unknown): string | null {
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

/** Parses a `node_order_statuses_*` line. */
export function parseStatusLine(line: string): ParseResult<OrderStatusEvent> {
  return parseBatch(line, checkStatus);
}

/** Parses a `node_raw_book_diffs_*` line. */
export function parseDiffLine(line: string): ParseResult<BookDiffEvent> {
  return parseBatch(line, checkDiff);
}

/** Parses a `node_fills_*` line. */
export function parseFillLine(line: string): ParseResult<FillEvent> {
  return parseBatch(line, checkFill);
}

function checkSnapshotOrder(entry: unknown): string | null {
  if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string") {
    return `an order must be [user, order], got ${show(entry)}`;
  }
  const order = entry[1];
  if (!isObject(order)) return `order must be an object, got ${show(order)}`;
  if (typeof order.coin !== "string") return `order.coin must be a string, got ${show(order.coin)}`;
  return checkOrder(order);
}

function checkSnapshotBook(book: unknown): string | null {
  if (!Array.isArray(book) || book.length !== 2 || typeof book[0] !== "string") {
    return `a snapshot book must be [coin, [bids, asks]], got ${show(book)}`;
  }
  const sides = book[1];
  if (!Array.isArray(sides) || sides.length !== 2 || !Array.isArray(sides[0]) || !Array.isArray(sides[1])) {
    return `snapshot book ${book[0]}: sides must be [bids, asks], got ${show(sides)}`;
  }
  for (const side of sides as unknown[][]) {
    for (let i = 0; i < side.length; i++) {
      const why = checkSnapshotOrder(side[i]);
      if (why !== null) return `snapshot book ${book[0]} order ${i}: ${why}`;
    }
  }
  return null;
}

/** The result of parsing a snapshot file. */
export type SnapshotResult =
  | { readonly ok: true; readonly snapshot: SnapshotFile }
  | { readonly ok: false; readonly error: string };

/** Parses and checks the node's `l4Snapshots` file text: `[height, [[coin, [bids, asks]], …]]`. */
export function parseSnapshotFile(text: string): SnapshotResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `snapshot is not JSON (${why})` };
  }
  return checkSnapshot(value);
}

/** Checks an already parsed snapshot value (see `parseSnapshotFile`). */
export function checkSnapshot(value: unknown): SnapshotResult {
  if (!Array.isArray(value) || value.length !== 2) {
    return {
      ok: false,
      error: `snapshot must be [height, books] (includeHeightInOutput), got ${show(value)}`,
    };
  }
  const [height, books] = value;
  if (!isId(height)) return { ok: false, error: `snapshot height must be an integer, got ${show(height)}` };
  if (!Array.isArray(books)) {
    return { ok: false, error: `snapshot books must be an array, got ${show(books)}` };
  }
  for (const book of books) {
    const why = checkSnapshotBook(book);
    if (why !== null) return { ok: false, error: why };
  }
  return { ok: true, snapshot: value as unknown as SnapshotFile };
}

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_SQUARE = 91;
const CLOSE_SQUARE = 93;
const OPEN_CURLY = 123;
const CLOSE_CURLY = 125;
const COMMA = 44;

function skipSpace(bytes: Uint8Array, i: number): number {
  while (i < bytes.length) {
    const c = bytes[i];
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) break;
    i++;
  }
  return i;
}

/** Index of the bracket closing the array or object that opens at `start`, or -1. */
function matchingClose(bytes: Uint8Array, start: number): number {
  let depth = 0;
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      // Jump to the closing quote (one not preceded by an odd number of backslashes). UTF-8 continuation bytes
      // are never ASCII, so structural bytes can be matched directly.
      let end = bytes.indexOf(QUOTE, i + 1);
      for (;;) {
        if (end < 0) return -1;
        let slashes = 0;
        while (bytes[end - 1 - slashes] === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
        end = bytes.indexOf(QUOTE, end + 1);
      }
      i = end;
    } else if (c === OPEN_SQUARE || c === OPEN_CURLY) depth++;
    else if (c === CLOSE_SQUARE || c === CLOSE_CURLY) {
      if (--depth === 0) return i;
    }
  }
  return -1;
}

const ASCII = new TextDecoder("utf-8", { fatal: true });

function excerpt(bytes: Uint8Array, i: number): string {
  return show(new TextDecoder().decode(bytes.subarray(i, i + 40)));
}

/**
 * Same as `parseSnapshotFile`, but works on the file's bytes (no giant string: mainnet snapshots are hundreds of
 * MB), parses one coin at a time and lets the event loop run in between (after every `yieldEvery` bytes,
 * default 4 MB), so loading never blocks for long.
 */
export async function parseSnapshotFileAsync(
  input: string | Uint8Array,
  options: { readonly yieldEvery?: number } = {},
): Promise<SnapshotResult> {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const yieldEvery = options.yieldEvery ?? 4_000_000;
  const fail = (error: string): SnapshotResult => ({ ok: false, error: `snapshot ${error}` });
  let i = skipSpace(bytes, 0);
  if (bytes[i] !== OPEN_SQUARE) return fail(`must be [height, books], got ${excerpt(bytes, i)}`);
  const comma = bytes.indexOf(COMMA, i);
  if (comma < 0 || comma - i > 40) return fail("must be [height, books] (includeHeightInOutput)");
  const heightText = new TextDecoder().decode(bytes.subarray(i + 1, comma)).trim();
  const height = /^\d+$/.test(heightText) ? Number(heightText) : NaN;
  if (!isId(height)) return fail(`height must be an integer, got ${show(heightText)}`);
  i = skipSpace(bytes, comma + 1);
  if (bytes[i] !== OPEN_SQUARE) return fail(`books must be an array, got ${excerpt(bytes, i)}`);
  i = skipSpace(bytes, i + 1);
  const books: unknown[] = [];
  let sinceYield = 0;
  if (bytes[i] === CLOSE_SQUARE) i++;
  else {
    for (;;) {
      if (bytes[i] !== OPEN_SQUARE) {
        return fail(`book ${books.length} must be [coin, [bids, asks]], got ${excerpt(bytes, i)}`);
      }
      const end = matchingClose(bytes, i);
      if (end < 0) return fail(`is truncated in book ${books.length}`);
      let book: unknown;
      try {
        book = JSON.parse(ASCII.decode(bytes.subarray(i, end + 1)));
      } catch (error) {
        return fail(`book ${books.length} is not JSON (${error instanceof Error ? error.message : error})`);
      }
      const why = checkSnapshotBook(book);
      if (why !== null) return { ok: false, error: why };
      books.push(book);
      sinceYield += end + 1 - i;
      if (sinceYield >= yieldEvery) {
        sinceYield = 0;
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      i = skipSpace(bytes, end + 1);
      const c = bytes[i];
      if (c === COMMA) {
        i = skipSpace(bytes, i + 1);
        continue;
      }
      if (c === CLOSE_SQUARE) {
        i++;
        break;
      }
      return fail(`has ${excerpt(bytes, i)} after book ${books.length - 1}`);
    }
  }
  i = skipSpace(bytes, i);
  if (bytes[i] !== CLOSE_SQUARE) return fail(`must be [height, books], got more after the books`);
  if (skipSpace(bytes, i + 1) !== bytes.length) return fail("has trailing characters");
  return { ok: true, snapshot: [height, books] as unknown as SnapshotFile };
}
