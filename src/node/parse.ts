/**
 * Parsing and validation of the node's output lines (by-block and streaming: the same batch shape) and of its
 * L4 snapshot file. Untrusted text is checked once here; everything downstream trusts the types.
 *
 * Order statuses that cannot insert an order (everything but `open` and `triggered`: ~95 % of the bytes) are never
 * materialised: a structural scanner checks the line's JSON, reads each event's `status` and `order.coin` and
 * keeps the event as the exact text the node wrote (`RawStatusEvent`); only inserting statuses are `JSON.parse`d
 * and checked in full. Parsed events keep unknown fields so they can be forwarded as the node wrote them.
 *
 * @module
 */
import type { BookDiffEvent, OrderStatusEvent, SnapshotFile, StatusEvent } from "../book/types.ts";
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

/** Statuses that can put an order in the book: parsed and validated in full. Every other one stays raw text. */
const INSERTING_STATUSES: ReadonlySet<string> = new Set(["open", "triggered"]);

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
  const order = event.order;
  if (!isObject(order)) return `order must be an object, got ${show(order)}`;
  if (typeof order.coin !== "string") return `order.coin must be a string, got ${show(order.coin)}`;
  // Statuses that cannot insert an order are forwarded as written: status and coin are all anyone reads.
  if (!INSERTING_STATUSES.has(event.status)) return null;
  if (typeof event.user !== "string") return `user must be a string, got ${show(event.user)}`;
  if (typeof event.time !== "string") return `time must be a string, got ${show(event.time)}`;
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

/**
 * Parses a `node_order_statuses_*` line (by-block or streaming). `open` and `triggered` statuses come back as
 * checked `OrderStatusEvent`s, every other one as a `RawStatusEvent` holding the event's exact text.
 */
export function parseStatusLine(line: string): ParseResult<StatusEvent> {
  let batch: Batch<StatusEvent> | null;
  try {
    batch = scanStatusLine(line);
  } catch {
    batch = null;
  }
  if (batch !== null) return { ok: true, batch };
  // Something is wrong or unusual: the full parse names the fault.
  const slow = parseBatch<OrderStatusEvent>(line, checkStatus);
  if (!slow.ok) return slow;
  // Valid JSON the scanner does not take (never seen in node output): keep the events, re-serialised.
  const events = slow.batch.events.map((event): StatusEvent =>
    INSERTING_STATUSES.has(event.status)
      ? event
      : { status: event.status, order: { coin: event.order.coin }, raw: JSON.stringify(event) }
  );
  return { ok: true, batch: { ...slow.batch, events } };
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

// ---- status lines: a structural scanner, so that statuses that cannot touch the book are never materialised ----

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

/** Position of the next backslash at or after the scanner's position (-1: none left); advanced lazily. */
let nextSlash = -1;

/** Whether the string token `start..end` (quotes included) holds an escape; calls must go left to right. */
function escaped(line: string, start: number, end: number): boolean {
  if (nextSlash >= 0 && nextSlash < start) nextSlash = line.indexOf("\\", start);
  return nextSlash >= 0 && nextSlash < end;
}

function stringValue(line: string, start: number, end: number, escapes: boolean): string {
  return escapes && escaped(line, start, end)
    ? JSON.parse(line.slice(start, end + 1))
    : line.slice(start + 1, end);
}

// The scanner is recursive descent over module state (one line at a time, synchronously): the context (header,
// event, order) is in which function runs, so the common path is an indexOf per string and a few compares.

/** The line being scanned, whether it holds any backslash, and whether it needs the careful path. */
let text = "";
let textEscapes = false;
/** The `status` and `order.coin` of the event being scanned (null: not seen, or not a string). */
let eventStatus: string | null = null;
let eventCoin: string | null = null;

function skipTextSpace(i: number): number {
  let c = text.charCodeAt(i);
  while (c === 32 || c === 9 || c === 10 || c === 13) c = text.charCodeAt(++i);
  return i;
}

/** Index of the quote closing the string that opens at `i`, or -1. */
function closeQuote(i: number): number {
  return textEscapes ? stringEnd(text, i, true) : text.indexOf('"', i + 1);
}

/** The key string opening at `i` (quotes excluded), decoded only when it holds an escape. */
function keyText(i: number, end: number): string {
  return textEscapes && escaped(text, i, end) ? JSON.parse(text.slice(i, end + 1)) : text.slice(i + 1, end);
}

/** Index just past the colon after a key that closes at `end`, spaces skipped; -1 when there is none. */
function afterColon(end: number): number {
  let i = end + 1;
  if (text.charCodeAt(i) !== 58) {
    i = skipTextSpace(i);
    if (text.charCodeAt(i) !== 58) return -1;
  }
  i++;
  const c = text.charCodeAt(i);
  return c === 32 || c === 9 || c === 10 || c === 13 ? skipTextSpace(i) : i;
}

/**
 * After a member or element ending at `i`: the index of the next one (past the comma, spaces skipped), or
 * `-2 - index` of the closing bracket `close`, or -1 when neither follows.
 */
function next(i: number, close: number): number {
  let c = text.charCodeAt(i);
  if (c !== COMMA && c !== close) {
    i = skipTextSpace(i);
    c = text.charCodeAt(i);
  }
  if (c === COMMA) {
    i++;
    c = text.charCodeAt(i);
    return c === 32 || c === 9 || c === 10 || c === 13 ? skipTextSpace(i) : i;
  }
  return c === close ? -2 - i : -1;
}

/** Index just past the JSON value starting at `i`, or -1 when it is not one. */
function skipValue(i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) {
    const end = closeQuote(i);
    return end < 0 ? -1 : end + 1;
  }
  if (c === OPEN_CURLY) return skipObject(i);
  if (c === OPEN_SQUARE) return skipArray(i);
  if (c === 45 || isDigit(c)) return numberEnd(text, i);
  if (c === 116) return text.startsWith("true", i) ? i + 4 : -1;
  if (c === 102) return text.startsWith("false", i) ? i + 5 : -1;
  if (c === 110) return text.startsWith("null", i) ? i + 4 : -1;
  return -1;
}

function skipObject(i: number): number {
  i = skipTextSpace(i + 1);
  if (text.charCodeAt(i) === CLOSE_CURLY) return i + 1;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return -1;
    const end = closeQuote(i);
    if (end < 0) return -1;
    i = afterColon(end);
    if (i < 0) return -1;
    i = skipValue(i);
    if (i < 0) return -1;
    i = next(i, CLOSE_CURLY);
    if (i < -1) return -1 - i;
    if (i < 0) return -1;
  }
}

function skipArray(i: number): number {
  i = skipTextSpace(i + 1);
  if (text.charCodeAt(i) === CLOSE_SQUARE) return i + 1;
  for (;;) {
    i = skipValue(i);
    if (i < 0) return -1;
    i = next(i, CLOSE_SQUARE);
    if (i < -1) return -1 - i;
    if (i < 0) return -1;
  }
}

/** Scans an event's `order` object opening at `i`, noting its `coin`; index past it, or -1. */
function scanOrder(i: number): number {
  eventCoin = null;
  i = skipTextSpace(i + 1);
  if (text.charCodeAt(i) === CLOSE_CURLY) return i + 1;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return -1;
    const end = closeQuote(i);
    if (end < 0) return -1;
    const coin = end - i === 5 && text.startsWith("coin", i + 1) ||
      textEscapes && escaped(text, i, end) && keyText(i, end) === "coin";
    i = afterColon(end);
    if (i < 0) return -1;
    if (coin) {
      eventCoin = null;
      if (text.charCodeAt(i) === QUOTE) {
        const close = closeQuote(i);
        if (close < 0) return -1;
        eventCoin = stringValue(text, i, close, textEscapes);
        i = close + 1;
      } else i = skipValue(i);
    } else i = skipValue(i);
    if (i < 0) return -1;
    i = next(i, CLOSE_CURLY);
    if (i < -1) return -1 - i;
    if (i < 0) return -1;
  }
}

/** Scans one event object opening at `i`, noting its `status` and `order.coin`; index past it, or -1. */
function scanEvent(i: number): number {
  eventStatus = null;
  eventCoin = null;
  i = skipTextSpace(i + 1);
  if (text.charCodeAt(i) === CLOSE_CURLY) return i + 1;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return -1;
    const end = closeQuote(i);
    if (end < 0) return -1;
    let key = KEY_OTHER;
    const size = end - i - 1;
    if (size === 6 || size === 5 || (textEscapes && escaped(text, i, end))) {
      const name = size === 6 && text.startsWith("status", i + 1)
        ? "status"
        : size === 5 && text.startsWith("order", i + 1)
        ? "order"
        : textEscapes
        ? keyText(i, end)
        : "";
      key = name === "status" ? KEY_STATUS : name === "order" ? KEY_ORDER : KEY_OTHER;
    }
    i = afterColon(end);
    if (i < 0) return -1;
    const c = text.charCodeAt(i);
    if (key === KEY_STATUS) {
      eventStatus = null;
      if (c === QUOTE) {
        const close = closeQuote(i);
        if (close < 0) return -1;
        eventStatus = stringValue(text, i, close, textEscapes);
        i = close + 1;
      } else i = skipValue(i);
    } else if (key === KEY_ORDER) {
      if (c === OPEN_CURLY) i = scanOrder(i);
      else {
        eventCoin = null;
        i = skipValue(i);
      }
    } else i = skipValue(i);
    if (i < 0) return -1;
    i = next(i, CLOSE_CURLY);
    if (i < -1) return -1 - i;
    if (i < 0) return -1;
  }
}

/** Scans the `events` array opening at `i` into `events`; index past it, or -1. */
function scanEvents(i: number, events: StatusEvent[], careful: boolean): number {
  i = skipTextSpace(i + 1);
  if (text.charCodeAt(i) === CLOSE_SQUARE) return i + 1;
  for (;;) {
    if (text.charCodeAt(i) !== OPEN_CURLY) return -1;
    const start = i;
    i = scanEvent(i);
    if (i < 0) return -1;
    const status = eventStatus;
    const coin = eventCoin;
    if (status === null || coin === null) return -1;
    if (INSERTING_STATUSES.has(status)) {
      const event = JSON.parse(text.slice(start, i));
      if (checkStatus(event) !== null) return -1;
      events.push(event as OrderStatusEvent);
    } else {
      const raw = text.slice(start, i);
      if (careful) JSON.parse(raw); // throws, as the slow path would, on a raw control character
      events.push({ status, order: { coin }, raw });
    }
    i = next(i, CLOSE_SQUARE);
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
function scanStatusLine(line: string): Batch<StatusEvent> | null {
  text = line;
  nextSlash = line.indexOf("\\");
  textEscapes = nextSlash >= 0;
  const careful = textEscapes || CONTROL.test(line);
  try {
    return scanBatch(careful);
  } finally {
    text = "";
  }
}

function scanBatch(careful: boolean): Batch<StatusEvent> | null {
  let localTime: string | null = null;
  let blockTimeText: string | null = null;
  let blockNumberText: string | null = null;
  let events: StatusEvent[] | null = null;
  let i = skipTextSpace(0);
  if (text.charCodeAt(i) !== OPEN_CURLY) return null;
  i = skipTextSpace(i + 1);
  if (text.charCodeAt(i) !== CLOSE_CURLY) {
    for (;;) {
      if (text.charCodeAt(i) !== QUOTE) return null;
      const end = closeQuote(i);
      if (end < 0) return null;
      const key = topKeyOf(keyText(i, end));
      i = afterColon(end);
      if (i < 0) return null;
      const start = i;
      if (key === KEY_EVENTS) {
        if (text.charCodeAt(i) !== OPEN_SQUARE) return null;
        events = [];
        i = scanEvents(i, events, careful);
      } else {
        i = skipValue(i);
        if (i < 0) return null;
        const value = text.slice(start, i);
        if (key === KEY_LOCAL_TIME) {
          if (text.charCodeAt(start) !== QUOTE) return null;
          localTime = JSON.parse(value);
        } else if (key === KEY_BLOCK_TIME) {
          if (text.charCodeAt(start) !== QUOTE) return null;
          blockTimeText = value;
        } else if (key === KEY_BLOCK_NUMBER) {
          const c = text.charCodeAt(start);
          if (c !== 45 && !isDigit(c)) return null;
          blockNumberText = value;
        }
      }
      if (i < 0) return null;
      i = next(i, CLOSE_CURLY);
      if (i < -1) {
        i = -1 - i;
        break;
      }
      if (i < 0) return null;
    }
  } else i++;
  if (skipTextSpace(i) !== text.length) return null;
  if (events === null || localTime === null || blockTimeText === null || blockNumberText === null) {
    return null;
  }
  const blockNumber = Number(blockNumberText);
  if (!isId(blockNumber)) return null;
  const blockTime = parseNodeTime(JSON.parse(blockTimeText));
  if (blockTime === null) return null;
  return { blockNumber, blockTime, localTime, events };
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
