/**
 * `node_raw_book_diffs_*` lines (by-block or streaming), read from their bytes. The node writes three kinds of
 * diff (remove, new, update), each always with the same members in the same order: the events are matched
 * against their learned byte layouts (`_scan.ts`) and built from their bytes into the objects `JSON.parse`
 * would give (by each layout's compiled object literal), then checked in full; the line is never decoded.
 *
 * The scanner accepts a line only when `JSON.parse` + `checkDiff` would accept it with the same result;
 * anything else goes through that full parse (`lines.ts`), which names the fault, so errors are exactly the
 * full parser's.
 *
 * @module
 */
import type { BookDiffEvent } from "../book/types.ts";
import { type Batch, checkDiff, parseBatch, type ParseResult } from "./lines.ts";
import { decodeLine } from "./_json.ts";
import { EventLayouts, scanBatch, scanEvents } from "./_scan.ts";

/** The fast path of `parseDiffLine`; its state (the learned layouts) lives in the object. */
export class DiffScanner {
  readonly #layouts = new EventLayouts([]);
  readonly #events = (b: Uint8Array, i: number, n: number, out: BookDiffEvent[]) =>
    this.#eventsAt(b, i, n, out);
  readonly #take = (b: Uint8Array, start: number, end: number) => this.#event(b, start, end);
  /** The output of the line being scanned. */
  #out: BookDiffEvent[] | null = null;

  /** The line's batch, or null when the line is not exactly what the fast path takes (see the module doc). */
  scan(bytes: Uint8Array): Batch<BookDiffEvent> | null {
    this.#layouts.line(bytes);
    try {
      return scanBatch(bytes, this.#events);
    } finally {
      this.#layouts.done();
    }
  }

  #eventsAt(b: Uint8Array, i: number, n: number, events: BookDiffEvent[]): number {
    this.#out = events;
    try {
      return scanEvents(this.#layouts, b, i, n, this.#take);
    } finally {
      this.#out = null;
    }
  }

  #event(b: Uint8Array, start: number, end: number): boolean {
    const event = this.#layouts.build(b, start, end);
    if (checkDiff(event) !== null) return false;
    (this.#out as BookDiffEvent[]).push(event as unknown as BookDiffEvent);
    return true;
  }
}

const scanner = new DiffScanner();

/** Parses a `node_raw_book_diffs_*` line (its bytes, or its text). */
export function parseDiffLine(line: string | Uint8Array): ParseResult<BookDiffEvent> {
  if (typeof line !== "string") {
    let batch: Batch<BookDiffEvent> | null;
    try {
      batch = scanner.scan(line);
    } catch {
      batch = null;
    }
    if (batch !== null) return { ok: true, batch };
  }
  // Text, or something wrong or unusual: the full parse names the fault.
  const text = typeof line === "string" ? line : decodeLine(line);
  return text === null ? { ok: false, error: "invalid UTF-8" } : parseBatch(text, checkDiff);
}
