/**
 * Parsing of the per-user and candle requests (formats.md §4 and Hyperliquid's public API): the subscriptions
 * `orderUpdates`, `userFills`, `userEvents`, `candle` and the info requests `openOrders`, `frontendOpenOrders`,
 * `orderStatus`, `userFills`, `userFillsByTime`, `recentTrades`, `candleSnapshot`.
 *
 * Kept apart from `subscription.ts` so the shared parser only dispatches here. A malformed address or an
 * unknown interval is a parse error (the official server fails to deserialise the request), an unknown coin is
 * an `Invalid subscription`, as for the other coin subscriptions.
 *
 * @module
 */
import type { Coin } from "../book/types.ts";

/** Every candle interval of the official API. */
export const INTERVALS = [
  "1m",
  "3m",
  "5m",
  "15m",
  "30m",
  "1h",
  "2h",
  "4h",
  "8h",
  "12h",
  "1d",
  "3d",
  "1w",
  "1M",
] as const;

/** A candle interval (`1m` … `1M`). */
export type Interval = typeof INTERVALS[number];

const INTERVAL_SET: ReadonlySet<string> = new Set(INTERVALS);

/** A user address, lower-cased (addresses match case-insensitively). */
export type User = string;

/** The per-user and candle subscriptions, normalised. */
export type UserSubscription =
  | { readonly type: "orderUpdates"; readonly user: User }
  | { readonly type: "userFills"; readonly user: User; readonly aggregateByTime: boolean }
  | { readonly type: "userEvents"; readonly user: User }
  | { readonly type: "candle"; readonly coin: Coin; readonly interval: Interval };

/** The per-user and history info requests, validated. */
export type UserInfoRequest =
  | { readonly type: "openOrders" | "frontendOpenOrders"; readonly user: User; readonly dex: string }
  | {
    readonly type: "orderStatus";
    readonly user: User;
    readonly oid: number | null;
    readonly cloid: string | null;
  }
  | { readonly type: "userFills"; readonly user: User; readonly aggregateByTime: boolean }
  | {
    readonly type: "userFillsByTime";
    readonly user: User;
    readonly startTime: number;
    readonly endTime: number | null;
    readonly aggregateByTime: boolean;
    readonly reversed: boolean;
  }
  | { readonly type: "recentTrades"; readonly coin: Coin }
  | {
    readonly type: "candleSnapshot";
    readonly coin: Coin;
    readonly interval: Interval;
    readonly startTime: number;
    readonly endTime: number | null;
  };

/** The subscription types handled here. */
export const USER_SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set([
  "orderUpdates",
  "userFills",
  "userEvents",
  "candle",
]);

/** The info types handled here. */
export const USER_INFO_TYPES: ReadonlySet<string> = new Set([
  "openOrders",
  "frontendOpenOrders",
  "orderStatus",
  "userFills",
  "userFillsByTime",
  "recentTrades",
  "candleSnapshot",
]);

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const CLOID = /^0x[0-9a-fA-F]{32}$/;

/** The lower-cased address, or null when `raw` is not `0x` + 40 hex digits. */
export function parseUser(raw: unknown): User | null {
  return typeof raw === "string" && ADDRESS.test(raw) ? raw.toLowerCase() : null;
}

function isInterval(raw: unknown): raw is Interval {
  return typeof raw === "string" && INTERVAL_SET.has(raw);
}

/** A time in ms as the official API takes it (number or numeric string, ≥ 0); null when invalid. */
function parseTime(raw: unknown): number | null {
  const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? n : null;
}

function optionalBool(raw: unknown): boolean | null {
  if (raw === undefined || raw === null) return false;
  return typeof raw === "boolean" ? raw : null;
}

/** Key of a per-user or candle view: one per (type, lower-cased user / coin, parameters). */
export function userSubscriptionKey(s: UserSubscription): string {
  switch (s.type) {
    case "candle":
      return `candle\u0000${s.coin}\u0000${s.interval}`;
    case "userFills":
      return `userFills\u0000${s.user}\u0000${s.aggregateByTime ? 1 : 0}`;
    default:
      return `${s.type}\u0000${s.user}`;
  }
}

/**
 * Validates a per-user or candle subscription object (its `type` is one of {@link USER_SUBSCRIPTION_TYPES}).
 * `knownCoin` tells whether a candle's coin exists.
 */
export function parseUserSubscription(
  raw: Record<string, unknown>,
  knownCoin: (coin: unknown) => coin is string,
): { ok: true; subscription: UserSubscription } | { ok: false; kind: "parse" | "invalid" } {
  if (raw.type === "candle") {
    if (!isInterval(raw.interval) || typeof raw.coin !== "string") return { ok: false, kind: "parse" };
    if (!knownCoin(raw.coin)) return { ok: false, kind: "invalid" };
    return { ok: true, subscription: { type: "candle", coin: raw.coin, interval: raw.interval } };
  }
  const user = parseUser(raw.user);
  if (user === null) return { ok: false, kind: "parse" };
  if (raw.type === "userFills") {
    const aggregateByTime = optionalBool(raw.aggregateByTime);
    if (aggregateByTime === null) return { ok: false, kind: "parse" };
    return { ok: true, subscription: { type: "userFills", user, aggregateByTime } };
  }
  if (raw.type === "orderUpdates" || raw.type === "userEvents") {
    return { ok: true, subscription: { type: raw.type, user } };
  }
  return { ok: false, kind: "parse" };
}

/**
 * Validates a per-user or history info request (its `type` is one of {@link USER_INFO_TYPES}); the error says
 * what is allowed.
 */
export function parseUserInfoRequest(
  raw: Record<string, unknown>,
  knownCoin: (coin: unknown) => coin is string,
): { ok: true; request: UserInfoRequest } | { ok: false; error: string } {
  const type = raw.type;
  if (type === "recentTrades") {
    if (!knownCoin(raw.coin)) return { ok: false, error: `unknown coin ${JSON.stringify(raw.coin ?? null)}` };
    return { ok: true, request: { type, coin: raw.coin } };
  }
  if (type === "candleSnapshot") {
    const req = raw.req;
    if (typeof req !== "object" || req === null || Array.isArray(req)) {
      return { ok: false, error: "candleSnapshot needs req: {coin, interval, startTime, endTime?}" };
    }
    const r = req as Record<string, unknown>;
    if (!knownCoin(r.coin)) return { ok: false, error: `unknown coin ${JSON.stringify(r.coin ?? null)}` };
    if (!isInterval(r.interval)) {
      return {
        ok: false,
        error: `interval must be one of ${INTERVALS.join(", ")}, got ${JSON.stringify(r.interval ?? null)}`,
      };
    }
    const startTime = parseTime(r.startTime);
    const endTime = r.endTime === undefined || r.endTime === null ? null : parseTime(r.endTime);
    if (startTime === null || (r.endTime !== undefined && r.endTime !== null && endTime === null)) {
      return {
        ok: false,
        error: "startTime and endTime must be times in ms since the epoch (endTime optional)",
      };
    }
    return {
      ok: true,
      request: { type, coin: r.coin, interval: r.interval, startTime, endTime },
    };
  }
  const user = parseUser(raw.user);
  if (user === null) {
    return { ok: false, error: `user must be an address (0x + 40 hex digits), got ${show(raw.user)}` };
  }
  switch (type) {
    case "openOrders":
    case "frontendOpenOrders": {
      const dex = raw.dex ?? "";
      if (typeof dex !== "string") return { ok: false, error: "dex must be a string" };
      return { ok: true, request: { type, user, dex } };
    }
    case "orderStatus": {
      const oid = raw.oid;
      if (typeof oid === "string" && CLOID.test(oid)) {
        return { ok: true, request: { type, user, oid: null, cloid: oid.toLowerCase() } };
      }
      const n = parseTime(oid);
      if (n === null) {
        return {
          ok: false,
          error: `oid must be an order id or a cloid (0x + 32 hex digits), got ${show(oid)}`,
        };
      }
      return { ok: true, request: { type, user, oid: n, cloid: null } };
    }
    case "userFills": {
      const aggregateByTime = optionalBool(raw.aggregateByTime);
      if (aggregateByTime === null) return { ok: false, error: "aggregateByTime must be a boolean" };
      return { ok: true, request: { type, user, aggregateByTime } };
    }
    case "userFillsByTime": {
      const startTime = parseTime(raw.startTime);
      const endTime = raw.endTime === undefined || raw.endTime === null ? null : parseTime(raw.endTime);
      const aggregateByTime = optionalBool(raw.aggregateByTime);
      const reversed = optionalBool(raw.reversed);
      if (startTime === null || (raw.endTime !== undefined && raw.endTime !== null && endTime === null)) {
        return {
          ok: false,
          error: "startTime and endTime must be times in ms since the epoch (endTime optional)",
        };
      }
      if (aggregateByTime === null || reversed === null) {
        return { ok: false, error: "aggregateByTime and reversed must be booleans" };
      }
      return { ok: true, request: { type, user, startTime, endTime, aggregateByTime, reversed } };
    }
  }
  return { ok: false, error: `unsupported info request type ${show(type)}` };
}

function show(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
