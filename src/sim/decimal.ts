/**
 * Exact decimal and time formatting for the simulated node. Values are scaled integers (a price of
 * `81308.0` with 0 decimals is `81308`, a size of `0.00033` with 5 decimals is `33`); nothing here uses
 * float arithmetic on prices or sizes.
 *
 * @module
 */

/** Node-style decimal string of `units · 10^-decimals`: trailing zeros trimmed, at least one decimal. */
export function formatUnits(units: number | bigint, decimals: number): string {
  // Safe integers format without BigInt (the hot path: every price and size of every event).
  const negative = units < 0;
  let digits = typeof units === "number" && Number.isSafeInteger(units)
    ? String(negative ? -units : units)
    : (negative ? -BigInt(units) : BigInt(units)).toString();
  if (decimals === 0) return `${negative && digits !== "0" ? "-" : ""}${digits}.0`;
  if (digits.length <= decimals) digits = "0".repeat(decimals + 1 - digits.length) + digits;
  const cut = digits.length - decimals;
  let end = digits.length;
  while (end > cut && digits.charCodeAt(end - 1) === 48) end--;
  const frac = end === cut ? "0" : digits.slice(cut, end);
  return `${negative ? "-" : ""}${digits.slice(0, cut)}.${frac}`;
}

/** Parse a node decimal string into units of `10^-decimals` (exact; throws if it has more decimals). */
export function parseUnits(text: string, decimals: number): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new Error(`not a decimal: ${text}`);
  const frac = (m[3] ?? "").replace(/0+$/, "");
  if (frac.length > decimals) throw new Error(`${text} has more than ${decimals} decimals`);
  const v = BigInt(m[2] + frac.padEnd(decimals, "0"));
  return m[1] === "-" ? -v : v;
}

/** Node time string (`2026-05-05T17:39:13.024084407`, UTC, no zone) of nanoseconds since the epoch. */
export function formatNodeTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString(); // 2026-05-05T17:39:13.024Z
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${iso.slice(0, 19)}.${frac}`;
}

/** The hourly file of a node time: `YYYYMMDD/H` (hour without padding). */
export function hourlyPath(nodeTime: string): string {
  return `${nodeTime.slice(0, 4)}${nodeTime.slice(5, 7)}${nodeTime.slice(8, 10)}/${
    Number(nodeTime.slice(11, 13))
  }`;
}
