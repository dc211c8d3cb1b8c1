/**
 * The node's L4 snapshot file (`[height, [[coin, [bids, asks]], …]]`, each order `[user, order]`): parsing and
 * checking, from text or, without building one giant string, from the file's bytes.
 *
 * @module
 */
import type { Coin, NodeOrder, SnapshotFile } from "../book/types.ts";
import { OrderColumns } from "../book/snapshot_columns.ts";
import { SnapshotOrderScanner } from "./snapshot_orders.ts";
import { checkOrder } from "./lines.ts";
import { isId, isObject, show, UTF8 } from "./_json.ts";
import {
  BACKSLASH,
  CLOSE_CURLY,
  CLOSE_SQUARE,
  COMMA,
  isDigit,
  OPEN_CURLY,
  OPEN_SQUARE,
  QUOTE,
  skipSpace,
  valueEnd,
} from "./_walk.ts";

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

/** One piece of a snapshot file as `readSnapshot` streams it, in file order. */
export type SnapshotPiece =
  | { readonly kind: "height"; readonly height: number }
  | { readonly kind: "coin"; readonly coin: Coin }
  | {
    readonly kind: "orders";
    readonly coin: Coin;
    /** 0 = bids, 1 = asks. */
    readonly side: 0 | 1;
    /** Checked `[user, order]` entries, in file order (a side comes in several pieces). */
    readonly orders: readonly (readonly [string, NodeOrder])[];
  }
  | {
    readonly kind: "columns";
    readonly coin: Coin;
    /** 0 = bids, 1 = asks. */
    readonly side: 0 | 1;
    /** Checked orders as rows, in file order; the object is reused: valid until the next piece. */
    readonly columns: OrderColumns;
  }
  | { readonly kind: "coinEnd"; readonly coin: Coin };

/** Options of `readSnapshot`. */
export interface ReadSnapshotOptions {
  /** Bytes of orders per piece (about; default 1 MiB). */
  readonly groupBytes?: number;
  /**
   * Pieces of `[user, order]` objects (as `JSON.parse` makes them, unknown fields kept) instead of
   * `OrderColumns` rows built straight from the bytes (default: rows, the fast way to load a book).
   */
  readonly objects?: boolean;
}

/** A snapshot file that is not `[height, [[coin, [bids, asks]], …]]` with valid orders; `message` says where. */
export class SnapshotFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotFormatError";
  }
}

/** Bytes of orders parsed at once (a few ms of `JSON.parse`): the granularity of `readSnapshot`'s pieces. */
const GROUP_BYTES = 1 << 20;
/** An order (or height, or coin name) longer than this is malformed, not merely cut by a chunk boundary. */
const MAX_ORDER_BYTES = 1 << 20;

/**
 * Index past the array or object opening at `i`, found by bracket depth with strings skipped natively (a quote
 * not preceded by an odd run of backslashes ends a string); -1 when the bytes end first. It does not check the
 * grammar: the group's `JSON.parse` does, and for valid JSON these are exactly the element boundaries (so any
 * fault makes some group or skeleton check fail).
 */
function elementEnd(b: Uint8Array, i: number, n: number): number {
  let depth = 0;
  for (; i < n; i++) {
    const c = b[i];
    if (c === QUOTE) {
      let end = b.indexOf(QUOTE, i + 1);
      for (;;) {
        if (end < 0 || end >= n) return -1;
        let slashes = 0;
        while (b[end - 1 - slashes] === BACKSLASH) slashes++;
        if ((slashes & 1) === 0) break;
        end = b.indexOf(QUOTE, end + 1);
      }
      i = end;
    } else if (c === OPEN_SQUARE || c === OPEN_CURLY) depth++;
    else if (c === CLOSE_SQUARE || c === CLOSE_CURLY) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

function excerpt(bytes: Uint8Array, i: number): string {
  return show(new TextDecoder().decode(bytes.subarray(i, i + 40)));
}

/**
 * Streams a snapshot file from its bytes, chunk by chunk (the file is never one string nor one parsed value):
 * the skeleton (height, coins, sides) is walked byte by byte, each side's orders are cut into groups of about
 * `groupBytes`. By default each order is scanned straight into `OrderColumns` rows (`SnapshotOrderScanner`);
 * a group with an order the scanner declines — and every group with `objects` — is cut at element boundaries
 * (`elementEnd`), `JSON.parse`d and every order checked as `parseSnapshotFile` checks it, so a fault is named
 * exactly as that check names it. Yields pieces in file order; throws `SnapshotFormatError` at the first fault.
 * Each chunk is copied before the next one is asked for, so the source may reuse its buffer.
 */
export async function* readSnapshot(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ReadSnapshotOptions = {},
): AsyncGenerator<SnapshotPiece, void> {
  const groupBytes = options.groupBytes ?? GROUP_BYTES;
  const scanner = options.objects ? null : new SnapshotOrderScanner();
  const columns = new OrderColumns();
  const source = Symbol.asyncIterator in chunks
    ? (chunks as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
    : (chunks as Iterable<Uint8Array>)[Symbol.iterator]();
  // The unread bytes are b[i..n); b[mark..markEnd) is the group of orders being collected (mark -1: none).
  // `b` is a view of the first n bytes of `space`, which is reused from chunk to chunk (grown when needed):
  // nothing keeps a view of it, and a load allocates no buffer per chunk.
  let space = new Uint8Array(0);
  let b = space;
  let n = 0;
  let i = 0;
  let mark = -1;
  let markEnd = -1;
  let done = false;
  /** Appends the next chunk to the bytes still needed (from `mark` or `i`); false at the end of the file. */
  const more = async (): Promise<boolean> => {
    for (;;) {
      if (done) return false;
      const next = await source.next();
      if (next.done) {
        done = true;
        return false;
      }
      const chunk = next.value;
      if (chunk.length === 0) continue;
      const keep = mark >= 0 ? Math.min(mark, i) : i;
      const kept = n - keep;
      if (kept + chunk.length > space.length) {
        const grown = new Uint8Array(Math.max(2 * space.length, kept + chunk.length));
        grown.set(b.subarray(keep, n));
        space = grown;
      } else space.copyWithin(0, keep, n);
      space.set(chunk, kept);
      n = kept + chunk.length;
      b = space.subarray(0, n);
      i -= keep;
      if (mark >= 0) mark -= keep;
      if (markEnd >= 0) markEnd -= keep;
      return true;
    }
  };
  const fail = (why: string): never => {
    throw new SnapshotFormatError(`snapshot ${why}`);
  };
  /** Skips spaces and returns the next byte (-1 at the end of the file). */
  const peek = async (): Promise<number> => {
    for (;;) {
      i = skipSpace(b, i, n);
      if (i < n) return b[i];
      if (!(await more())) return -1;
    }
  };
  /** The end of the small JSON value (height, coin) at `i`, spaces skipped before; -1 when it is not one. */
  const value = async (): Promise<number> => {
    await peek();
    for (;;) {
      const end = valueEnd(b, i, n);
      // a number that ends at the buffer's end may go on: only the end of the file says
      if ((end >= 0 && end < n) || n - i > MAX_ORDER_BYTES) return end;
      if (!(await more())) return valueEnd(b, i, n);
    }
  };
  const expect = async (c: number, what: string): Promise<void> => {
    if ((await peek()) !== c) fail(`${what}, got ${excerpt(b, i)}`);
    i++;
  };

  await expect(OPEN_SQUARE, "must be [height, books] (includeHeightInOutput)");
  let end = await value();
  if (end < 0 || !isDigit(b[i])) fail(`height must be an integer, got ${excerpt(b, i)}`);
  const height = Number(new TextDecoder().decode(b.subarray(i, end)));
  if (!isId(height)) fail(`height must be an integer, got ${excerpt(b, i)}`);
  i = end;
  yield { kind: "height", height };
  await expect(COMMA, "must be [height, books] (includeHeightInOutput)");
  await expect(OPEN_SQUARE, "books must be an array");
  const seen = new Set<Coin>();
  if ((await peek()) === CLOSE_SQUARE) i++;
  else {
    for (let index = 0;; index++) {
      await expect(OPEN_SQUARE, `book ${index} must be [coin, [bids, asks]]`);
      if ((await peek()) !== QUOTE) fail(`book ${index} must be [coin, [bids, asks]], got ${excerpt(b, i)}`);
      end = await value();
      if (end < 0) fail(`book ${index} is not JSON (bad coin string at ${excerpt(b, i)})`);
      const coin: Coin = JSON.parse(UTF8.decode(b.subarray(i, end)));
      i = end;
      if (seen.has(coin)) fail(`book ${index}: coin ${coin} appears twice`);
      seen.add(coin);
      yield { kind: "coin", coin };
      await expect(COMMA, `book ${coin} must be [coin, [bids, asks]]`);
      await expect(OPEN_SQUARE, `book ${coin}: sides must be [bids, asks]`);
      for (const side of [0, 1] as const) {
        if (side === 1) await expect(COMMA, `book ${coin}: sides must be [bids, asks]`);
        await expect(OPEN_SQUARE, `book ${coin}: sides must be [bids, asks]`);
        if ((await peek()) === CLOSE_SQUARE) {
          i++;
          continue;
        }
        let count = 0;
        let first = 0;
        /** Whether the group being collected is scanned into `columns` (else: parsed when it ends). */
        let fast = false;
        /** The end of the order at `i` (scanned into `columns` while `fast`), or -1 when the bytes end first. */
        const orderEnd = (): number => {
          if (fast && scanner !== null) {
            const end = scanner.scan(b, i, n, columns);
            if (end >= 0) return end;
          }
          const end = elementEnd(b, i, n);
          // complete, yet declined by the scanner: the whole group goes the slow way
          if (end >= 0) fast = false;
          return end;
        };
        /** Parses and checks the collected group (or hands over its rows) and ends it. */
        const group = (): SnapshotPiece => {
          if (fast) {
            mark = -1;
            markEnd = -1;
            first = count;
            return { kind: "columns", coin, side, columns };
          }
          let list: unknown[];
          try {
            list = JSON.parse(`[${UTF8.decode(b.subarray(mark, markEnd))}]`);
          } catch (error) {
            return fail(`book ${index} is not JSON (${error instanceof Error ? error.message : error})`);
          }
          for (let k = 0; k < list.length; k++) {
            const why = checkSnapshotOrder(list[k]);
            if (why !== null) fail(`book ${coin} order ${first + k}: ${why}`);
          }
          mark = -1;
          markEnd = -1;
          first = count;
          return { kind: "orders", coin, side, orders: list as [string, NodeOrder][] };
        };
        for (;;) {
          if (b[i] !== OPEN_SQUARE) {
            fail(`book ${coin} order ${count} must be [user, order], got ${excerpt(b, i)}`);
          }
          if (mark < 0) {
            mark = i;
            fast = scanner !== null;
            columns.count = 0;
          }
          let entryEnd = orderEnd();
          while (entryEnd < 0 && !done && n - i < MAX_ORDER_BYTES) {
            // The order may run past the buffer: hand over the group so far (memory stays bounded), read on.
            if (markEnd >= 0) {
              yield group();
              mark = i;
              fast = scanner !== null;
              columns.count = 0;
            }
            await more();
            entryEnd = orderEnd();
          }
          if (entryEnd < 0) {
            if (markEnd < 0) markEnd = mark;
            fail(`book ${index} is not JSON (order ${count} is truncated or malformed)`);
          }
          count++;
          markEnd = entryEnd;
          i = entryEnd;
          // between two orders the next byte is nearly always in the buffer: no await (a promise) per order
          i = skipSpace(b, i, n);
          const c = i < n ? b[i] : await peek();
          if (c === COMMA) {
            i = skipSpace(b, i + 1, n);
            if (markEnd - mark >= groupBytes) yield group();
            if (i >= n && (await peek()) < 0) fail(`is truncated in book ${coin}`);
            continue;
          }
          if (c !== CLOSE_SQUARE) fail(`has ${excerpt(b, i)} after book ${coin} order ${count - 1}`);
          yield group();
          i++;
          break;
        }
      }
      await expect(CLOSE_SQUARE, `book ${coin}: sides must be [bids, asks]`);
      await expect(CLOSE_SQUARE, `book ${coin} must be [coin, [bids, asks]]`);
      yield { kind: "coinEnd", coin };
      const c = await peek();
      if (c === COMMA) {
        i++;
        continue;
      }
      if (c === CLOSE_SQUARE) {
        i++;
        break;
      }
      fail(`has ${excerpt(b, i)} after book ${index}`);
    }
  }
  if ((await peek()) !== CLOSE_SQUARE) fail("must be [height, books], got more after the books");
  i++;
  if ((await peek()) !== -1) fail("has trailing characters");
}

/**
 * Same as `parseSnapshotFile`, from the file's bytes (or text) through `readSnapshot`: one coin at a time, never
 * one giant string, letting the event loop run between pieces.
 */
export async function parseSnapshotFileAsync(
  input: string | Uint8Array,
  options: { readonly groupBytes?: number } = {},
): Promise<SnapshotResult> {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  let height = 0;
  const books: [Coin, [[string, NodeOrder][], [string, NodeOrder][]]][] = [];
  try {
    for await (const piece of readSnapshot([bytes], { ...options, objects: true })) {
      if (piece.kind === "height") height = piece.height;
      else if (piece.kind === "coin") books.push([piece.coin, [[], []]]);
      else if (piece.kind === "orders") {
        const side = books[books.length - 1][1][piece.side];
        for (const entry of piece.orders) side.push(entry as [string, NodeOrder]);
      }
    }
  } catch (error) {
    if (error instanceof SnapshotFormatError) return { ok: false, error: error.message };
    throw error;
  }
  return { ok: true, snapshot: [height, books] };
}
