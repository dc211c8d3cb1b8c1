/**
 * The node's time strings (`2026-05-05T17:39:13.024084407`: UTC, no zone, 0, 3, 6 or 9 fraction digits) →
 * epoch milliseconds, exactly (the fraction is truncated to the millisecond, as the node does for `time`
 * fields). The one definition: `src/node` validates line times with it and the book converts a triggered
 * order's status time with it, so both agree on what a node time is.
 *
 * @module
 */

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (!(d >= 0 && d <= 9)) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** A node time string as epoch milliseconds, or NaN when it is not one (wrong shape, digits or date). */
export function parseNodeTime(text: string): number {
  if (typeof text !== "string") return NaN;
  const length = text.length;
  if (length !== 19 && length !== 23 && length !== 26 && length !== 29) return NaN;
  if (
    text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 ||
    text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58
  ) return NaN;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return NaN;
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return NaN;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1])) return NaN;
  let ms = 0;
  if (length > 19) {
    if (text.charCodeAt(19) !== 46) return NaN;
    if (digits(text, 20, length - 20) < 0) return NaN;
    ms = digits(text, 20, 3);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}
