/**
 * The node's time strings (`2026-05-05T17:39:13.024084407`: UTC, no zone, 0/3/6/9 fraction digits) → epoch
 * milliseconds, exactly (the fraction is truncated to the millisecond, as the node does for `time` fields).
 *
 * @module
 */

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Parses a node time string to epoch milliseconds, or returns null when it is not one. */
export function parseNodeTime(text: string): number | null {
  const length = text.length;
  if (length !== 19 && length !== 23 && length !== 26 && length !== 29) return null;
  if (
    text[4] !== "-" || text[7] !== "-" || text[10] !== "T" || text[13] !== ":" || text[16] !== ":"
  ) return null;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return null;
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return null;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1])) return null;
  let ms = 0;
  if (length > 19) {
    if (text[19] !== ".") return null;
    if (digits(text, 20, length - 20) < 0) return null;
    ms = digits(text, 20, 3);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}
