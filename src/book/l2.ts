/**
 * Aggregated L2 views with Hyperliquid's bucketing (docs/protocol.md): with `nSigFigs = s` and mantissa `m`
 * (default 1), a price of `d` digits at 1e-8 resolution falls in buckets of `m·10^max(0, d−s)` units; bids
 * round down, asks round up. Walks from the top of the book and stops once `nLevels` buckets are complete.
 *
 * @module
 */
import { formatPx, formatSz, SCALE } from "./decimal.ts";
import { type BookSide, bucketOf } from "./order_book.ts";
import type { L2Levels, L2Params, Level } from "./types.ts";

/** The bucket price (1e-8 units) of `px` for a side, `nSigFigs` and mantissa. */
export const bucketPx = bucketOf;

/** The top `nLevels` levels of one side: full precision from the levels, bucketed from a maintained index. */
export function sideLevels(side: BookSide, params: L2Params): Level[] {
  if (params.nSigFigs === null || params.nLevels <= 0) return scanLevels(side, params);
  const buckets = side.bucketIndex(params.nSigFigs, params.mantissa ?? 1).buckets;
  const out: Level[] = [];
  const nLevels = params.nLevels;
  for (let i = buckets.length - 1; i >= 0 && out.length < nLevels; i--) {
    out.push(buckets[i].level());
  }
  return out;
}

/**
 * The top `nLevels` levels of one side by walking the levels from the top (the Rust original's algorithm);
 * cost bounded by the levels the buckets cover. Kept as the reference for the maintained buckets.
 */
export function scanLevels(side: BookSide, params: L2Params): Level[] {
  const out: Level[] = [];
  const nLevels = params.nLevels;
  if (nLevels <= 0) return out;
  const levels = side.levels;
  if (params.nSigFigs === null) {
    for (let i = levels.length - 1; i >= 0; i--) {
      const level = levels[i];
      if (level.n === 0) continue;
      out.push({ px: level.pxStr, sz: level.sz(), n: level.n });
      if (out.length === nLevels) break;
    }
    return out;
  }
  const s = params.nSigFigs;
  const m = params.mantissa ?? 1;
  const isBid = side.side === "B";
  let open = false;
  let bucket = 0;
  let szInt = 0;
  let szFrac = 0;
  let n = 0;
  for (let i = levels.length - 1; i >= 0; i--) {
    const level = levels[i];
    if (level.n === 0) continue;
    if (open && (isBid ? level.px >= bucket : level.px <= bucket)) {
      szInt += level.szInt;
      szFrac += level.szFrac;
      if (szFrac >= SCALE) {
        szFrac -= SCALE;
        szInt += 1;
      }
      n += level.n;
      continue;
    }
    if (open) {
      out.push({ px: formatPx(bucket), sz: formatSz(szInt, szFrac), n });
      open = false;
      if (out.length === nLevels) break;
    }
    open = true;
    bucket = bucketPx(level.px, isBid, s, m);
    szInt = level.szInt;
    szFrac = level.szFrac;
    n = level.n;
  }
  if (open) out.push({ px: formatPx(bucket), sz: formatSz(szInt, szFrac), n });
  return out;
}

/** Both sides of a view; empty sides when there is no book. */
export function l2Levels(bids: BookSide | undefined, asks: BookSide | undefined, params: L2Params): L2Levels {
  return [bids ? sideLevels(bids, params) : [], asks ? sideLevels(asks, params) : []];
}
