/**
 * The node's L4 snapshot file (`[height, [[coin, [bids, asks]], …]]`, each order `[user, order]`): parsing and
 * checking, from text or, without building one giant string, from the file's bytes.
 *
 * @module
 */
import type { SnapshotFile } from "../book/types.ts";
import { checkOrder } from "./lines.ts";
import { isId, isObject, show } from "./_json.ts";

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
