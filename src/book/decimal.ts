/**
 * Exact decimals for prices and sizes. The only module that does arithmetic on price or size values.
 *
 * - A price is a safe integer number of 1e-8 units (`"81307.0"` → `8130700000000`). Its integer part must be
 *   below 9e7 so the scaled value stays below 2^53.
 * - A size is a pair of safe integers: the integer part and the fraction in 1e-8 units
 *   (`"1250000000.5"` → `{ int: 1250000000, frac: 50000000 }`), so sums of memecoin sizes above 1e9 with 8
 *   decimals stay exact without BigInt.
 *
 * Output strings use the node's style: trailing zeros trimmed, at least one decimal digit (`"81308.0"`,
 * `"0.00033"`, `"0.0"`).
 *
 * @module
 */

/** 1e8: the number of units in one, for 8-decimal fixed point. */
export const SCALE = 100_000_000;
/** Largest integer part of a price: keeps `int·1e8 + frac` below 2^53. */
export const MAX_PX_INT = 90_000_000;
/** Largest integer part of a size (and of a sum of sizes): a safe integer with room for carries. */
export const MAX_SZ_INT = 1e15;

/** `POW10[k]` = 10^k exactly, k = 0..16. */
export const POW10: readonly number[] = Array.from({ length: 17 }, (_, k) => 10 ** k);

/** A mutable exact size: integer part and fraction in 1e-8 units (0 ≤ frac < 1e8). */
export interface Sz {
  int: number;
  frac: number;
}

let parsedInt = 0;
let parsedFrac = 0;

/**
 * Parses `digits[.digits]`, the characters `start..end` of a string or the bytes of a byte array (a JSON
 * string's contents, for readers that never decode it: the same rules for both), into parsedInt/parsedFrac;
 * false when malformed, > 8 non-zero decimals, or too big.
 */
function parseParts(s: string | Uint8Array, start: number, end: number, maxInt: number): boolean {
  if (start >= end) return false;
  const text = typeof s === "string";
  let i = start;
  let int = 0;
  let c = text ? (s as string).charCodeAt(i) : (s as Uint8Array)[i];
  if (c < 48 || c > 57) return false;
  while (i < end) {
    c = text ? (s as string).charCodeAt(i) : (s as Uint8Array)[i];
    if (c < 48 || c > 57) break;
    int = int * 10 + (c - 48);
    if (int > maxInt) return false;
    i++;
  }
  let frac = 0;
  if (i < end) {
    if (c !== 46 || i + 1 === end) return false; // "."
    i++;
    let nd = 0;
    while (i < end) {
      c = text ? (s as string).charCodeAt(i) : (s as Uint8Array)[i];
      if (c < 48 || c > 57) return false;
      if (nd < 8) frac = frac * 10 + (c - 48);
      else if (c !== 48) return false; // a non-zero 9th decimal cannot be represented
      nd++;
      i++;
    }
    if (nd < 8) frac *= POW10[8 - nd];
  }
  parsedInt = int;
  parsedFrac = frac;
  return true;
}

/** A price string as 1e-8 units, or NaN when it is not a plain non-negative decimal with ≤ 8 decimals. */
export function parsePx(s: string): number {
  if (typeof s !== "string" || !parseParts(s, 0, s.length, MAX_PX_INT)) return NaN;
  return parsedInt * SCALE + parsedFrac;
}

/** Parses a size string into `out`; false (out untouched) when it is not a plain decimal with ≤ 8 decimals. */
export function parseSzInto(s: string, out: Sz): boolean {
  if (typeof s !== "string" || !parseParts(s, 0, s.length, MAX_SZ_INT)) return false;
  out.int = parsedInt;
  out.frac = parsedFrac;
  return true;
}

/**
 * `parseSzInto` of the size written as the bytes `b[start..end)` (a JSON string's contents), for readers that
 * never decode it: true exactly when `parseSzInto` of that text is, with the same result.
 */
export function parseSzBytesInto(b: Uint8Array, start: number, end: number, out: Sz): boolean {
  if (!parseParts(b, start, end, MAX_SZ_INT)) return false;
  out.int = parsedInt;
  out.frac = parsedFrac;
  return true;
}

/** A size string as a new `Sz`, or null when invalid. */
export function parseSz(s: string): Sz | null {
  const out = { int: 0, frac: 0 };
  return parseSzInto(s, out) ? out : null;
}

/** `DIGITS4[k]`: k (0..9999) as 4 digits with leading zeros; `TRIMMED4[k]`: the same without trailing zeros. */
const DIGITS4: readonly string[] = Array.from({ length: 10_000 }, (_, k) => String(10_000 + k).slice(1));
const TRIMMED4: readonly string[] = DIGITS4.map((d) => d.replace(/0+$/, ""));

/** The fractional digits of `frac` (0 < frac < 1e8, 1e-8 units) with trailing zeros trimmed. */
function fracDigits(frac: number): string {
  // Two table lookups instead of a number-to-string conversion (this runs for every touched level of a block).
  const hi = Math.floor(frac / 10_000);
  const lo = frac - hi * 10_000;
  return lo === 0 ? TRIMMED4[hi] : DIGITS4[hi] + TRIMMED4[lo];
}

/** Node-style string of an integer part and a fraction in 1e-8 units. */
export function formatParts(int: number, frac: number): string {
  return frac === 0 ? `${int}.0` : `${int}.${fracDigits(frac)}`;
}

/** Node-style string of a price in 1e-8 units. */
export function formatPx(units: number): string {
  const frac = units % SCALE;
  return formatParts((units - frac) / SCALE, frac);
}

/** Node-style string of a size. */
export function formatSz(int: number, frac: number): string {
  return formatParts(int, frac);
}

/** `(a + b) / 2` of two prices in 1e-8 units, exact (up to 9 decimals), node style. */
export function formatMid(a: number, b: number): string {
  const ra = a % 2;
  const rb = b % 2;
  let half = (a - ra) / 2 + (b - rb) / 2;
  const rem = ra + rb;
  if (rem === 2) half += 1;
  if (rem !== 1) return formatPx(half);
  // half + 0.5 units: one more decimal digit, always a 5.
  const frac = half % SCALE;
  const int = (half - frac) / SCALE;
  const s = String(frac);
  return `${int}.${"0".repeat(8 - s.length)}${s}5`;
}

/** Compares two sizes: negative, zero or positive. */
export function compareSz(aInt: number, aFrac: number, bInt: number, bFrac: number): number {
  return aInt !== bInt ? aInt - bInt : aFrac - bFrac;
}

/** Number of decimal digits of a non-negative safe integer (1 for 0). */
export function digitCount(v: number): number {
  let d = 1;
  while (d < 16 && v >= POW10[d]) d++;
  return d;
}

/**
 * A decimal string (`"81308.5"`, up to `decimals` fraction digits) as an exact bigint count of
 * `10^-decimals` units; null when malformed or more precise. For sums that may exceed 2^53 (24 h volumes).
 */
export function decimalUnits(s: string, decimals: number): bigint | null {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (match === null) return null;
  const frac = (match[2] ?? "").replace(/0+$/, "");
  if (frac.length > decimals) return null;
  return BigInt(match[1] + frac.padEnd(decimals, "0"));
}

/** Node-style string of a non-negative bigint count of `10^-decimals` units (`"12.5"`, `"0.0"`). */
export function formatDecimalUnits(units: bigint, decimals: number): string {
  const digits = units.toString().padStart(decimals + 1, "0");
  const int = digits.slice(0, digits.length - decimals);
  const frac = digits.slice(digits.length - decimals).replace(/0+$/, "");
  return `${int}.${frac === "" ? "0" : frac}`;
}
