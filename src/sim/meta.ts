/**
 * The simulated node's market metadata: `meta`, `spotMeta` and `perpDexs` answers shaped like mainnet's, so
 * client libraries that load their markets from them (ccxt, the `hyperliquid` SDK) work against the demo.
 *
 * Mainnet facts kept: spot tokens are position-aligned (`tokens[i].index === i`), so are spot pairs
 * (`universe[i].index === i`); `PURR/USDC` is pair 0 (tokens PURR = 1, USDC = 0) and `@107` is pair 107
 * (HYPE = token 150, USDC). Clients index the asset contexts by the pair's `index` (ccxt does), so the pair
 * list is dense: pairs with no simulated market are fillers (`@N` on a filler token) without a book.
 * Perps are listed in the simulator's coin order; `marginTableId` is the coin's max leverage, with the
 * single-tier tables mainnet uses for ids below 50.
 *
 * @module
 */
import type { CoinSpec } from "./coins.ts";

/** The three answers, serialised once. */
export interface SimMeta {
  readonly meta: string;
  readonly spotMeta: string;
  readonly perpDexs: string;
}

/** Mainnet's spot pairs the simulator knows by name: pair index and base token. */
const KNOWN_SPOT: Readonly<Record<string, { index: number; token: Token }>> = {
  "PURR/USDC": {
    index: 0,
    token: token("PURR", 0, 5, 1, "0xc1fb593aeffbeb02f85e0308e9956a90", true, null),
  },
  "@107": {
    index: 107,
    token: token("HYPE", 2, 8, 150, "0x0d01dc56dcaaca66ad901c959b4011ec", false, "Hyperliquid"),
  },
};

const USDC = token("USDC", 8, 8, 0, "0x6d1e7cde53ba9467b783cb7c530ce054", true, null);

/** Max leverage of the default perps (mainnet's); synthetic perps get 5. */
const LEVERAGE: Readonly<Record<string, number>> = { BTC: 40, ETH: 25, SOL: 20, HYPE: 10, MEME: 3 };

interface Token {
  readonly name: string;
  readonly szDecimals: number;
  readonly weiDecimals: number;
  readonly index: number;
  readonly tokenId: string;
  readonly isCanonical: boolean;
  readonly evmContract: null;
  readonly fullName: string | null;
  readonly deployerTradingFeeShare: string;
}

function token(
  name: string,
  szDecimals: number,
  weiDecimals: number,
  index: number,
  tokenId: string,
  isCanonical: boolean,
  fullName: string | null,
): Token {
  return {
    name,
    szDecimals,
    weiDecimals,
    index,
    tokenId,
    isCanonical,
    evmContract: null,
    fullName,
    deployerTradingFeeShare: "0.0",
  };
}

/** A filler token at a position no simulated market uses (deterministic id from the index). */
function filler(index: number): Token {
  return token(`TOKEN${index}`, 2, 8, index, `0x${index.toString(16).padStart(32, "0")}`, false, null);
}

/** Pair index of a spot market: the known ones, else `@N` → N, else after everything else. */
function pairIndex(name: string, next: () => number): number {
  const known = KNOWN_SPOT[name];
  if (known !== undefined) return known.index;
  const match = /^@(\d+)$/.exec(name);
  return match ? Number(match[1]) : next();
}

/** Builds the simulated node's `meta`, `spotMeta` and `perpDexs` answers for its markets. */
export function simMeta(specs: readonly CoinSpec[]): SimMeta {
  const perps = specs.filter((s) => !s.spot);
  const universe = perps.map((s) => {
    const maxLeverage = LEVERAGE[s.name] ?? 5;
    return { szDecimals: s.szDecimals, name: s.name, maxLeverage, marginTableId: maxLeverage };
  });
  const tableIds = [...new Set(universe.map((u) => u.marginTableId))].sort((a, b) => a - b);
  const marginTables = tableIds.map((id) => [id, {
    description: "",
    marginTiers: [{ lowerBound: "0.0", maxLeverage: id }],
  }]);
  const meta = { universe, marginTables, collateralToken: 0 };

  // Spot: place every simulated pair at its index and its base token at its token index.
  const spots = specs.filter((s) => s.spot);
  let maxKnown = 0;
  for (const s of spots) maxKnown = Math.max(maxKnown, pairIndex(s.name, () => 0));
  let extra = maxKnown;
  const placed = new Map<number, { name: string; token: Token | null; szDecimals: number }>();
  for (const s of spots) {
    const index = pairIndex(s.name, () => ++extra);
    placed.set(index, { name: s.name, token: KNOWN_SPOT[s.name]?.token ?? null, szDecimals: s.szDecimals });
  }
  const pairCount = Math.max(-1, ...placed.keys()) + 1;
  const tokens = new Map<number, Token>([[0, USDC]]);
  for (const p of placed.values()) if (p.token !== null) tokens.set(p.token.index, p.token);
  let nextToken = Math.max(...tokens.keys()) + 1;
  const spotUniverse = [];
  for (let index = 0; index < pairCount; index++) {
    const p = placed.get(index);
    let base: Token;
    if (p?.token) base = p.token;
    else {
      // A simulated pair without a mainnet token, or a filler pair: a token of its own (index + 1 when free).
      let at = index + 1;
      if (tokens.has(at)) at = nextToken++;
      base = p ? { ...filler(at), name: `TOKEN${at}`, szDecimals: p.szDecimals } : filler(at);
      tokens.set(at, base);
    }
    spotUniverse.push({
      tokens: [base.index, 0],
      name: p?.name ?? `@${index}`,
      index,
      isCanonical: p?.name === "PURR/USDC",
    });
  }
  const tokenCount = Math.max(...tokens.keys()) + 1;
  const tokenList: Token[] = [];
  for (let i = 0; i < tokenCount; i++) tokenList.push(tokens.get(i) ?? filler(i));
  return {
    meta: JSON.stringify(meta),
    spotMeta: JSON.stringify({ universe: spotUniverse, tokens: tokenList }),
    perpDexs: JSON.stringify([null]),
  };
}
