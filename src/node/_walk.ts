/**
 * Walkers of the JSON grammar over raw bytes, shared by the status-line scanner and the snapshot reader. Plain
 * functions over (bytes, index, length), no property loads in the loops; each returns the index just past what
 * it walked, or -1 when the bytes there are not that JSON production (or end too soon). Strings are checked as
 * a strict parser does: escapes, raw control characters, well-formed UTF-8.
 *
 * @module
 */
import { UTF8 } from "./_json.ts";

export const QUOTE = 34;
export const BACKSLASH = 92;
export const OPEN_SQUARE = 91;
export const CLOSE_SQUARE = 93;
export const OPEN_CURLY = 123;
export const CLOSE_CURLY = 125;
export const COMMA = 44;
export const COLON = 58;

/** 0 for a byte that may stand for itself inside a JSON string (printable ASCII but `"` and `\`), else 1. */
export const SPECIAL = new Uint8Array(256).map((_, c) =>
  c < 32 || c === QUOTE || c === BACKSLASH || c >= 128 ? 1 : 0
);
/** 1 for the bytes allowed after a backslash, `u` excluded. */
export const SIMPLE_ESCAPE = new Uint8Array(256).map((_, c) =>
  '"\\/bfnrt'.includes(String.fromCharCode(c)) ? 1 : 0
);
/** 1 for hexadecimal digits. */
export const HEX = new Uint8Array(256).map((_, c) => /[0-9a-fA-F]/.test(String.fromCharCode(c)) ? 1 : 0);

export const LATIN1 = new TextDecoder("latin1");

export function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

// The grammar walkers below are plain functions over (bytes, index, length): no property loads in the loops.
// Each returns the index just past what it walked, or -1 when the bytes are not that JSON production.

/** A string's end as `stringEnd` reports it for a string holding an escape or a non-ASCII byte. */
export function oddEnd(end: number): number {
  return -2 - end;
}

/**
 * The end of the string opening at `i` (a quote): the index past its closing quote, `oddEnd(index)` when it
 * holds an escape or a non-ASCII byte (its text is not its bytes), or -1 when it is not a valid JSON string.
 */
export function stringEnd(b: Uint8Array, i: number, n: number): number {
  let odd = false;
  i++;
  for (;;) {
    while (i + 3 < n && (SPECIAL[b[i]] | SPECIAL[b[i + 1]] | SPECIAL[b[i + 2]] | SPECIAL[b[i + 3]]) === 0) {
      i += 4;
    }
    while (i < n && SPECIAL[b[i]] === 0) i++;
    if (i >= n) return -1;
    const c = b[i];
    if (c === QUOTE) return odd ? oddEnd(i + 1) : i + 1;
    odd = true;
    if (c === BACKSLASH) {
      const e = b[i + 1];
      if (e === 117) {
        if (i + 5 >= n || !HEX[b[i + 2]] || !HEX[b[i + 3]] || !HEX[b[i + 4]] || !HEX[b[i + 5]]) return -1;
        i += 6;
      } else if (i + 1 < n && SIMPLE_ESCAPE[e] === 1) i += 2;
      else return -1;
    } else if (c < 32) return -1;
    else {
      const size = utf8Size(b, i, n);
      if (size < 0) return -1;
      i += size;
    }
  }
}

/** `stringEnd` when only the end matters. */
export function skipString(b: Uint8Array, i: number, n: number): number {
  const end = stringEnd(b, i, n);
  return end < -1 ? -2 - end : end;
}

export function numberEnd(b: Uint8Array, i: number, n: number): number {
  if (b[i] === 45) i++;
  if (i >= n) return -1;
  if (b[i] === 48) i++;
  else if (isDigit(b[i])) {
    while (i < n && isDigit(b[i])) i++;
  } else return -1;
  if (i < n && b[i] === 46) {
    i++;
    if (i >= n || !isDigit(b[i])) return -1;
    while (i < n && isDigit(b[i])) i++;
  }
  if (i < n && (b[i] === 101 || b[i] === 69)) {
    i++;
    if (i < n && (b[i] === 43 || b[i] === 45)) i++;
    if (i >= n || !isDigit(b[i])) return -1;
    while (i < n && isDigit(b[i])) i++;
  }
  return i;
}

export function skipSpace(b: Uint8Array, i: number, n: number): number {
  while (i < n && isSpace(b[i])) i++;
  return i;
}

/** Index past the JSON value starting at `i`, or -1. */
export function valueEnd(b: Uint8Array, i: number, n: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i, n);
  if (c === 110) return i + 3 < n && b[i + 1] === 117 && b[i + 2] === 108 && b[i + 3] === 108 ? i + 4 : -1;
  if (c === 116) return i + 3 < n && b[i + 1] === 114 && b[i + 2] === 117 && b[i + 3] === 101 ? i + 4 : -1;
  if (c === 102) {
    return i + 4 < n && b[i + 1] === 97 && b[i + 2] === 108 && b[i + 3] === 115 && b[i + 4] === 101
      ? i + 5
      : -1;
  }
  if (c === 45 || isDigit(c)) return numberEnd(b, i, n);
  if (c === OPEN_CURLY) return objectEnd(b, i, n);
  if (c === OPEN_SQUARE) return arrayEnd(b, i, n);
  return -1;
}

/** Index just past the colon after a key ending before `i` (spaces skipped both sides), or -1. */
export function afterColon(b: Uint8Array, i: number, n: number): number {
  if (b[i] !== COLON) {
    i = skipSpace(b, i, n);
    if (b[i] !== COLON) return -1;
  }
  i++;
  return isSpace(b[i]) ? skipSpace(b, i, n) : i;
}

/**
 * After a member or element ending at `i`: the index of the next one (past the comma, spaces skipped), or
 * `-2 - index` of the closing bracket `close`, or -1 when neither follows.
 */
export function nextItem(b: Uint8Array, i: number, n: number, close: number): number {
  let c = b[i];
  if (c !== COMMA && c !== close) {
    i = skipSpace(b, i, n);
    c = b[i];
  }
  if (c === COMMA) {
    i++;
    return isSpace(b[i]) ? skipSpace(b, i, n) : i;
  }
  return c === close && i < n ? -2 - i : -1;
}

export function objectEnd(b: Uint8Array, i: number, n: number): number {
  i = skipSpace(b, i + 1, n);
  if (b[i] === CLOSE_CURLY) return i + 1;
  for (;;) {
    if (b[i] !== QUOTE) return -1;
    i = skipString(b, i, n);
    if (i < 0) return -1;
    i = afterColon(b, i, n);
    if (i < 0) return -1;
    i = valueEnd(b, i, n);
    if (i < 0) return -1;
    i = nextItem(b, i, n, CLOSE_CURLY);
    if (i < -1) return -1 - i;
    if (i < 0) return -1;
  }
}

export function arrayEnd(b: Uint8Array, i: number, n: number): number {
  i = skipSpace(b, i + 1, n);
  if (b[i] === CLOSE_SQUARE) return i + 1;
  for (;;) {
    i = valueEnd(b, i, n);
    if (i < 0) return -1;
    i = nextItem(b, i, n, CLOSE_SQUARE);
    if (i < -1) return -1 - i;
    if (i < 0) return -1;
  }
}

/** Whether the plain key string `start..end` (quotes included) is `key`. */
export function keyIs(b: Uint8Array, start: number, end: number, key: Uint8Array): boolean {
  const size = key.length;
  if (end - start - 2 !== size) return false;
  for (let k = 0; k < size; k++) if (b[start + 1 + k] !== key[k]) return false;
  return true;
}

/** The text of the JSON string `start..end` (quotes included) that holds an escape or a non-ASCII byte. */
export function oddText(b: Uint8Array, start: number, end: number): string {
  return JSON.parse(UTF8.decode(b.subarray(start, end)));
}

/** Whether the key string `start..end` (quotes included) is `key`; `odd` as `stringEnd` reported it. */
export function keyMatches(
  b: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
  odd: boolean,
): boolean {
  return odd ? oddText(b, start, end) === LATIN1.decode(key) : keyIs(b, start, end, key);
}

/** Size of the well-formed UTF-8 sequence starting at `i` (a byte ≥ 0x80), or -1 (as a fatal decoder rules). */
export function utf8Size(b: Uint8Array, i: number, n: number): number {
  const c = b[i];
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < n && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : -1;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : -1;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : -1;
  }
  return -1;
}
