/**
 * Exact signed decimals as bigint units of 1e-8 (sizes, prices, fees, PnL as the node writes them: at most 8
 * decimals). Used for candle volumes and aggregated fills, where sums must stay exact.
 *
 * @module
 */

/** 10^8 as a bigint. */
export const UNIT = 100_000_000n;

/** `"-0.000804"` → -80400n; null when not a decimal with at most 8 decimals. */
export function toUnits(s: string): bigint | null {
  const m = /^(-?)(\d+)(?:\.(\d{1,8}))?$/.exec(s);
  if (m === null) return null;
  const v = BigInt(m[2]) * UNIT + BigInt((m[3] ?? "").padEnd(8, "0"));
  return m[1] === "-" ? -v : v;
}

/** Units of 1e-`scale` → node style: trailing zeros trimmed, at least one decimal (`"12.0"`, `"-0.5"`). */
export function formatUnits(v: bigint, scale = 8): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const base = 10n ** BigInt(scale);
  const int = a / base;
  let frac = (a % base).toString().padStart(scale, "0").replace(/0+$/, "");
  if (frac === "") frac = "0";
  return `${neg && a !== 0n ? "-" : ""}${int}.${frac}`;
}
