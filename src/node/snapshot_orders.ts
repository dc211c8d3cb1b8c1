/**
 * The fast path of the snapshot reader: one `[user, order]` entry of a snapshot side, walked once over the
 * file's bytes and written as a row of `OrderColumns` — no string of the entry, no `JSON.parse`, no order
 * object. Users, prices and the order's repeated words come from a cache keyed by their bytes (one string
 * each, decoded once), the size is parsed from its digits, and only a cloid becomes a new string.
 *
 * The scanner accepts an entry only when `JSON.parse` + the snapshot order check (`snapshot_file.ts`) would
 * accept it and the object path of the load would see the same fields: keys in any order, extra fields
 * walked (grammar checked) and skipped, spaces anywhere. Anything else — a fault, an escape in a string the
 * load reads, a duplicated key, a number written unusually, a price the book cannot hold — makes it decline
 * (-1); the reader then parses that group of orders the slow way, which names the fault exactly as before.
 *
 * @module
 */
import { OrderColumns } from "../book/snapshot_columns.ts";
import { parsePx, parseSzBytesInto, type Sz } from "../book/decimal.ts";
import { isDecimal, isDecimalIn } from "./_json.ts";
import {
  afterColon,
  CLOSE_CURLY,
  CLOSE_SQUARE,
  COMMA,
  nextItem,
  oddText,
  OPEN_CURLY,
  QUOTE,
  skipSpace,
  stringEnd,
  valueEnd,
} from "./_walk.ts";

/** A string the scanner has met (its bytes are `arena[start..start+size)`): its text, its worth as a decimal. */
interface Known {
  readonly start: number;
  readonly size: number;
  readonly hash: number;
  readonly text: string;
  /** `isDecimal(text)` (the snapshot check of limitPx, triggerPx). */
  readonly decimal: boolean;
  /** `parsePx(text)`: NaN when not a price the book can hold. */
  readonly px: number;
}

// Bits of the keys seen in the current order (a duplicate declines: JSON.parse would keep the last one).
const K_COIN = 1 << 0;
const K_SIDE = 1 << 1;
const K_LIMIT_PX = 1 << 2;
const K_SZ = 1 << 3;
const K_OID = 1 << 4;
const K_TIMESTAMP = 1 << 5;
const K_TRIGGER_CONDITION = 1 << 6;
const K_IS_TRIGGER = 1 << 7;
const K_TRIGGER_PX = 1 << 8;
const K_TPSL = 1 << 9;
const K_REDUCE_ONLY = 1 << 10;
const K_ORDER_TYPE = 1 << 11;
const K_TIF = 1 << 12;
const K_ORIG_SZ = 1 << 13;
const K_CLOID = 1 << 14;
const K_CHILDREN = 1 << 15;
/** Layout slots (see `SnapshotOrderScanner.#runs`) after a field not read, and after the `{`. */
const AFTER_OTHER = 16;
const AFTER_OPEN = 17;
/** `#last` slot of the entry's user (the others are the value's key bit index). */
const USER = 16;
const SLOT_LIMIT_PX = 31 - Math.clz32(K_LIMIT_PX);
const SLOT_TIF = 31 - Math.clz32(K_TIF);
/** Longest run of bytes between two values that is remembered (a key with its quotes, colon and spaces). */
const MAX_RUN = 40;
/** The keys the check requires (origSz, cloid and children may be absent). */
const REQUIRED = K_COIN | K_SIDE | K_LIMIT_PX | K_SZ | K_OID | K_TIMESTAMP | K_TRIGGER_CONDITION |
  K_IS_TRIGGER |
  K_TRIGGER_PX | K_TPSL | K_REDUCE_ONLY | K_ORDER_TYPE | K_TIF;

/** The known keys, by their text; `keyBit` maps a key's bytes to its bit (0: another key). */
const KEYS: ReadonlyArray<readonly [string, number]> = [
  ["coin", K_COIN],
  ["side", K_SIDE],
  ["limitPx", K_LIMIT_PX],
  ["sz", K_SZ],
  ["oid", K_OID],
  ["timestamp", K_TIMESTAMP],
  ["triggerCondition", K_TRIGGER_CONDITION],
  ["isTrigger", K_IS_TRIGGER],
  ["triggerPx", K_TRIGGER_PX],
  ["isPositionTpsl", K_TPSL],
  ["reduceOnly", K_REDUCE_ONLY],
  ["orderType", K_ORDER_TYPE],
  ["tif", K_TIF],
  ["origSz", K_ORIG_SZ],
  ["cloid", K_CLOID],
  ["children", K_CHILDREN],
];
const KEY_BYTES = KEYS.map(([key]) => new TextEncoder().encode(key));

/** The bit of the plain key `b[start..end)` (quotes excluded), 0 when it is not a known key. */
function keyBit(b: Uint8Array, start: number, end: number): number {
  const size = end - start;
  for (let k = 0; k < KEY_BYTES.length; k++) {
    const key = KEY_BYTES[k];
    if (key.length !== size || key[0] !== b[start]) continue;
    let same = true;
    for (let j = 1; j < size; j++) {
      if (key[j] !== b[start + j]) {
        same = false;
        break;
      }
    }
    if (same) return KEYS[k][1];
  }
  return 0;
}

/** Index past `true` or `false` at `i` (which one: `b[i]`), or -1. */
function booleanEnd(b: Uint8Array, i: number, n: number): number {
  const c = b[i];
  if (c === 116) {
    if (i + 3 < n && b[i + 1] === 114 && b[i + 2] === 117 && b[i + 3] === 101) return i + 4;
  } else if (c === 102) {
    if (i + 4 < n && b[i + 1] === 97 && b[i + 2] === 108 && b[i + 3] === 115 && b[i + 4] === 101) {
      return i + 5;
    }
  }
  return -1;
}

/** Scans snapshot entries into `OrderColumns` rows (see the module doc); keeps its string cache across calls. */
export class SnapshotOrderScanner {
  /**
   * Every distinct string met, by its bytes: an open-addressing table (grown at half full; a load meets a few
   * hundred thousand distinct users and prices at most, and the scanner is dropped after it).
   */
  #table: (Known | undefined)[] = new Array(1 << 12);
  /** The hash of each slot's string (odd; 0: empty slot), probed without touching the strings' objects. */
  #hashes = new Int32Array(1 << 12);
  #known = 0;
  /** The bytes of the known strings, back to back. */
  #arena = new Uint8Array(1 << 16);
  #arenaEnd = 0;
  readonly #sz: Sz = { int: 0, frac: 0 };
  /**
   * The order layout last seen: `#runs[slot]` are the exact bytes from the end of a value (slot: its key's
   * bit index; AFTER_OTHER: a field the book does not read; AFTER_OPEN: the object's `{`) to the start of the
   * next value, and `#runBits[slot]` that next value's key bit (0: another field).
   */
  readonly #runs: (Uint8Array | undefined)[] = new Array(AFTER_OPEN + 1);
  readonly #runBits: number[] = new Array(AFTER_OPEN + 1).fill(0);
  /** The value `#integerEnd` read. */
  #integer = 0;
  /** The string each value slot (a key's bit index; USER: the entry's user) had in the last order. */
  readonly #last: (Known | undefined)[] = new Array(USER + 1);

  /**
   * Index past the non-negative integer at `i` if it is plain digits, at most 15 (always a safe integer), its
   * value in `#integer`; else -1 (a sign, a fraction, an exponent, a leading zero: left to JSON.parse).
   */
  #integerEnd(b: Uint8Array, i: number, n: number): number {
    const start = i;
    let value = 0;
    for (; i < n; i++) {
      const c = b[i];
      if (c < 48 || c > 57) break;
      value = value * 10 + (c - 48);
    }
    const digits = i - start;
    if (digits === 0 || digits > 15 || (digits > 1 && b[start] === 48) || i >= n) return -1;
    const c = b[i];
    if (c === 46 || c === 101 || c === 69) return -1;
    this.#integer = value;
    return i;
  }

  /** Code units of the string being made (`fromCharCode.apply` of a plain array makes one flat string). */
  readonly #units: number[] = [];

  /** The text of the ASCII bytes `b[start..end)`. */
  #ascii(b: Uint8Array, start: number, end: number): string {
    const size = end - start;
    if (size === 34) {
      // a cloid ("0x" and 32 hex digits): one call with its bytes as arguments copies nothing on the heap
      const o = start;
      return String.fromCharCode(
        b[o],
        b[o + 1],
        b[o + 2],
        b[o + 3],
        b[o + 4],
        b[o + 5],
        b[o + 6],
        b[o + 7],
        b[o + 8],
        b[o + 9],
        b[o + 10],
        b[o + 11],
        b[o + 12],
        b[o + 13],
        b[o + 14],
        b[o + 15],
        b[o + 16],
        b[o + 17],
        b[o + 18],
        b[o + 19],
        b[o + 20],
        b[o + 21],
        b[o + 22],
        b[o + 23],
        b[o + 24],
        b[o + 25],
        b[o + 26],
        b[o + 27],
        b[o + 28],
        b[o + 29],
        b[o + 30],
        b[o + 31],
        b[o + 32],
        b[o + 33],
      );
    }
    const units = this.#units;
    units.length = size;
    for (let k = 0; k < size; k++) units[k] = b[start + k];
    return String.fromCharCode.apply(null, units);
  }

  /**
   * The shared string of the plain (no escape, ASCII) JSON string `b[start..end)`, quotes included, with its
   * decimal and price worth: decoded and judged the first time only.
   */
  #lookup(b: Uint8Array, start: number, end: number, slot: number): Known {
    const from = start + 1;
    const size = end - start - 2;
    const arena = this.#arena;
    // most values repeat the previous order's (tif, orderType, often the price or the user): no hash then
    const last = this.#last[slot];
    if (last !== undefined && last.size === size) {
      const at = last.start;
      let k = 0;
      while (k < size && arena[at + k] === b[from + k]) k++;
      if (k === size) return last;
    }
    const known = this.#find(b, from, size);
    this.#last[slot] = known;
    return known;
  }

  #find(b: Uint8Array, from: number, size: number): Known {
    let h = size;
    for (let k = from + size - 1, stop = from + (size > 12 ? size - 12 : 0); k >= stop; k--) {
      h = Math.imul(h ^ b[k], 0x01000193);
    }
    h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
    h = (h ^ (h >>> 16)) | 1;
    const hashes = this.#hashes;
    const mask = hashes.length - 1;
    const arena = this.#arena;
    for (let slot = h & mask;; slot = (slot + 1) & mask) {
      const hash = hashes[slot];
      if (hash === 0) break;
      if (hash !== h) continue;
      const known = this.#table[slot] as Known;
      if (known.size !== size) continue;
      const at = known.start;
      let k = 0;
      while (k < size && arena[at + k] === b[from + k]) k++;
      if (k === size) return known;
    }
    return this.#add(b, from, size, h);
  }

  #add(b: Uint8Array, from: number, size: number, hash: number): Known {
    if (this.#arenaEnd + size > this.#arena.length) {
      const grown = new Uint8Array(Math.max(this.#arena.length * 2, this.#arenaEnd + size));
      grown.set(this.#arena.subarray(0, this.#arenaEnd));
      this.#arena = grown;
    }
    this.#arena.set(b.subarray(from, from + size), this.#arenaEnd);
    const text = this.#ascii(b, from, from + size);
    const known: Known = {
      start: this.#arenaEnd,
      size,
      hash,
      text,
      decimal: isDecimal(text),
      px: parsePx(text),
    };
    this.#arenaEnd += size;
    if (++this.#known * 2 > this.#table.length) {
      const old = this.#table;
      this.#table = new Array(old.length * 2);
      this.#hashes = new Int32Array(old.length * 2);
      for (const entry of old) if (entry !== undefined) this.#place(entry);
    }
    this.#place(known);
    return known;
  }

  #place(known: Known): void {
    const hashes = this.#hashes;
    const mask = hashes.length - 1;
    let slot = known.hash & mask;
    while (hashes[slot] !== 0) slot = (slot + 1) & mask;
    hashes[slot] = known.hash;
    this.#table[slot] = known;
  }

  /**
   * Scans the entry opening (`[`) at `i` into row `columns.count` (counted only on success). Returns the index
   * past the entry's `]`, or -1 when it declines or the bytes end first (the caller tells which).
   */
  scan(b: Uint8Array, i: number, n: number, columns: OrderColumns): number {
    const row = columns.count;
    i = skipSpace(b, i + 1, n);
    if (b[i] !== QUOTE) return -1;
    let end = stringEnd(b, i, n);
    if (end < 0) return -1;
    const user = this.#lookup(b, i, end, USER).text;
    i = end;
    if (b[i] !== COMMA) {
      i = skipSpace(b, i, n);
      if (b[i] !== COMMA) return -1;
    }
    i = skipSpace(b, i + 1, n);
    if (b[i] !== OPEN_CURLY) return -1;
    let seen = 0;
    let flags = 0;
    // `from` is just past `{` or the last value; `prev` says which (AFTER_OPEN, or that value's key slot)
    let from = i + 1;
    let prev = AFTER_OPEN;
    const runs = this.#runs;
    for (;;) {
      // The bytes up to the next value (`,"sz":`) are nearly always those that followed the same key in the
      // previous order: compared as they are, the key need not be walked and looked up.
      let bit: number;
      const run = runs[prev];
      let k = 0;
      if (run !== undefined) {
        const size = run.length;
        if (from + size < n) { while (k < size && b[from + k] === run[k]) k++; }
        if (k !== size) k = 0;
      }
      if (k !== 0) {
        i = from + k;
        bit = this.#runBits[prev];
      } else {
        if (prev === AFTER_OPEN) i = skipSpace(b, from, n);
        else {
          i = nextItem(b, from, n, CLOSE_CURLY);
          if (i === -1) return -1;
          if (i < -1) {
            i = -1 - i;
            break;
          }
        }
        if (b[i] !== QUOTE) return -1;
        end = stringEnd(b, i, n);
        if (end < 0) return -1;
        bit = keyBit(b, i + 1, end - 1);
        i = afterColon(b, end, n);
        if (i < 0) return -1;
        if (i - from <= MAX_RUN) {
          runs[prev] = b.slice(from, i);
          this.#runBits[prev] = bit;
        }
      }
      if ((seen & bit) !== 0) return -1;
      seen |= bit;
      const c = b[i];
      switch (bit) {
        case K_SIDE:
          if (c !== QUOTE || i + 2 >= n || b[i + 2] !== QUOTE) return -1;
          if (b[i + 1] === 66) columns.sides[row] = "B";
          else if (b[i + 1] === 65) columns.sides[row] = "A";
          else return -1;
          end = i + 3;
          break;
        case K_LIMIT_PX: {
          if (c !== QUOTE) return -1;
          end = stringEnd(b, i, n);
          if (end < 0) return -1;
          const known = this.#lookup(b, i, end, SLOT_LIMIT_PX);
          if (!known.decimal || Number.isNaN(known.px)) return -1;
          columns.limitPxs[row] = known.text;
          columns.pxs[row] = known.px;
          break;
        }
        case K_SZ:
          if (c !== QUOTE) return -1;
          end = stringEnd(b, i, n);
          if (end < 0 || !parseSzBytesInto(b, i + 1, end - 1, this.#sz)) return -1;
          columns.szInts[row] = this.#sz.int;
          columns.szFracs[row] = this.#sz.frac;
          break;
        case K_OID:
          end = this.#integerEnd(b, i, n);
          if (end < 0) return -1;
          columns.oids[row] = this.#integer;
          break;
        case K_TIMESTAMP:
          end = this.#integerEnd(b, i, n);
          if (end < 0) return -1;
          columns.timestamps[row] = this.#integer;
          break;
        case K_TRIGGER_PX:
        case K_TRIGGER_CONDITION:
        case K_ORDER_TYPE: {
          if (c !== QUOTE) return -1;
          end = stringEnd(b, i, n);
          if (end < 0) return -1;
          const known = this.#lookup(b, i, end, 31 - Math.clz32(bit));
          if (bit === K_TRIGGER_PX) {
            if (!known.decimal) return -1;
            columns.triggerPxs[row] = known.text;
          } else if (bit === K_ORDER_TYPE) columns.orderTypes[row] = known.text;
          else columns.triggerConditions[row] = known.text;
          break;
        }
        case K_TIF:
        case K_CLOID: {
          let text: string | null = null;
          if (c === 110) {
            end = valueEnd(b, i, n); // null
            if (end < 0) return -1;
          } else if (c === QUOTE) {
            end = stringEnd(b, i, n);
            if (end === -1) return -1;
            if (end >= 0) {
              text = bit === K_TIF ? this.#lookup(b, i, end, SLOT_TIF).text : this.#ascii(b, i + 1, end - 1);
            } else if (bit === K_TIF) return -1;
            else {
              end = -2 - end; // a cloid with an escape or a non-ASCII byte: its text is not its bytes
              text = oddText(b, i, end);
            }
          } else return -1;
          if (bit === K_TIF) columns.tifs[row] = text;
          else columns.cloids[row] = text;
          break;
        }
        case K_IS_TRIGGER:
        case K_TPSL:
        case K_REDUCE_ONLY:
          end = booleanEnd(b, i, n);
          if (end < 0) return -1;
          if (b[i] === 116) {
            flags |= bit === K_IS_TRIGGER
              ? OrderColumns.TRIGGER
              : bit === K_TPSL
              ? OrderColumns.TPSL
              : OrderColumns.REDUCE_ONLY;
          }
          break;
        case K_ORIG_SZ:
          if (c !== QUOTE) return -1;
          end = stringEnd(b, i, n);
          if (end < 0 || !isDecimalIn(b, i + 1, end - 1)) return -1;
          break;
        case K_COIN:
          if (c !== QUOTE) return -1;
          end = stringEnd(b, i, n);
          if (end === -1) return -1;
          if (end < 0) end = -2 - end;
          break;
        default: // children, or a field the book does not read
          end = valueEnd(b, i, n);
          if (end < 0) return -1;
      }
      from = end;
      prev = bit === 0 ? AFTER_OTHER : 31 - Math.clz32(bit);
    }
    if ((seen & REQUIRED) !== REQUIRED) return -1;
    if ((seen & K_CLOID) === 0) columns.cloids[row] = null;
    if (b[i] !== CLOSE_SQUARE) {
      i = skipSpace(b, i, n);
      if (b[i] !== CLOSE_SQUARE || i >= n) return -1;
    }
    columns.users[row] = user;
    columns.flags[row] = flags;
    columns.count = row + 1;
    return i + 1;
  }
}
