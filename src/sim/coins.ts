/**
 * The simulated markets: tick and size decimals that follow Hyperliquid's rules (prices with at most 5
 * significant figures, integer prices always allowed, at most 6 decimals for perps and 8 for spot minus the
 * size decimals).
 *
 * @module
 */
import type { Coin } from "../book/types.ts";
import { Rng } from "./rng.ts";

/** One simulated market. Prices are integers in units of `10^-pxDecimals` (one unit = one tick). */
export interface CoinSpec {
  readonly name: Coin;
  readonly spot: boolean;
  /** Decimals of the size (0–8). */
  readonly szDecimals: number;
  /** Decimals of the price; the tick is one unit of the last decimal. */
  readonly pxDecimals: number;
  /** Starting mid in price units; keep it with 5 digits so ±30 % stays valid (unless pxDecimals is 0). */
  readonly mid: number;
  /** Order size range in size units (log-uniform). */
  readonly minSz: number;
  readonly maxSz: number;
  /** Share of the activity (1 = a BTC-like book). */
  readonly weight: number;
}

/** The default markets: BTC, ETH, SOL, HYPE, a memecoin with sizes above 1e9, spot `@107` and `PURR/USDC`. */
export const DEFAULT_COINS: readonly CoinSpec[] = Object.freeze([
  { name: "BTC", spot: false, szDecimals: 5, pxDecimals: 0, mid: 81308, minSz: 10, maxSz: 60000, weight: 1 },
  {
    name: "ETH",
    spot: false,
    szDecimals: 4,
    pxDecimals: 1,
    mid: 31505,
    minSz: 10,
    maxSz: 80000,
    weight: 0.5,
  },
  {
    name: "SOL",
    spot: false,
    szDecimals: 2,
    pxDecimals: 2,
    mid: 14523,
    minSz: 10,
    maxSz: 50000,
    weight: 0.3,
  },
  {
    name: "HYPE",
    spot: false,
    szDecimals: 2,
    pxDecimals: 3,
    mid: 38512,
    minSz: 10,
    maxSz: 100000,
    weight: 0.4,
  },
  {
    name: "MEME",
    spot: false,
    szDecimals: 0,
    pxDecimals: 6,
    mid: 4512,
    minSz: 100_000,
    maxSz: 6_000_000_000,
    weight: 0.2,
  },
  {
    name: "@107",
    spot: true,
    szDecimals: 2,
    pxDecimals: 3,
    mid: 38511,
    minSz: 10,
    maxSz: 200000,
    weight: 0.2,
  },
  {
    name: "PURR/USDC",
    spot: true,
    szDecimals: 0,
    pxDecimals: 5,
    mid: 18523,
    minSz: 5,
    maxSz: 200000,
    weight: 0.1,
  },
]);

/**
 * `count` markets: the first defaults, then synthetic perps `COIN007`… with seeded decimals and mids (the
 * benchmarks use hundreds of coins).
 */
export function makeCoins(count: number, seed = 1): CoinSpec[] {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`coins must be a positive integer, got ${count}`);
  }
  const out = DEFAULT_COINS.slice(0, count);
  const rng = new Rng(seed ^ 0x5eed);
  for (let i = out.length; i < count; i++) {
    const szDecimals = rng.int(5);
    const pxDecimals = rng.int(6 - szDecimals + 1);
    out.push({
      name: `COIN${String(i).padStart(3, "0")}`,
      spot: false,
      szDecimals,
      pxDecimals,
      mid: rng.range(15000, 70000),
      minSz: 1,
      maxSz: 10 ** (szDecimals + 2) * rng.range(1, 9),
      weight: 0.1,
    });
  }
  return out;
}

/** Why a spec breaks Hyperliquid's price and size rules, or null. */
export function checkCoinSpec(spec: CoinSpec): string | null {
  const maxDecimals = (spec.spot ? 8 : 6) - spec.szDecimals;
  if (spec.szDecimals < 0 || spec.szDecimals > 8) return `${spec.name}: szDecimals must be 0..8`;
  if (spec.pxDecimals < 0 || spec.pxDecimals > maxDecimals) {
    return `${spec.name}: pxDecimals must be 0..${maxDecimals}, got ${spec.pxDecimals}`;
  }
  if (spec.pxDecimals > 0 && (spec.mid * 1.4 > 99999 || spec.mid * 0.6 < 1000)) {
    return `${spec.name}: mid ${spec.mid} leaves no room for a ±30 % walk within 5 significant figures`;
  }
  return null;
}

/** Whether a price (in units) is valid for the market: at most 5 significant figures unless integer. */
export function validPrice(spec: CoinSpec, px: number): boolean {
  if (px <= 0 || !Number.isInteger(px)) return false;
  if (spec.pxDecimals === 0) return true;
  let digits = px;
  while (digits % 10 === 0) digits /= 10; // trailing zeros are not significant
  return digits < 100000;
}
