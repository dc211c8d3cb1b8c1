/**
 * Client → server messages: parsed and validated once into precise types (docs/protocol.md).
 *
 * Structural problems (not JSON, unknown method or subscription type) answer
 * `Error parsing JSON into valid websocket request: <text>`; a known subscription type with bad fields (unknown
 * coin, nSigFigs, mantissa, nLevels), or an official type hlbook does not serve, answers
 * `Invalid subscription <json>` (no colon, as the official server writes it) where `<json>` is the subscription
 * object as the client sent it, so SDKs can match the error to their request.
 *
 * @module
 */
import type { Coin, L2Params } from "../book/types.ts";
import { invalidSubscription, OFFICIAL_SUBSCRIPTION_TYPES } from "./official_types.ts";
import {
  parseUserInfoRequest,
  parseUserSubscription,
  USER_INFO_TYPES,
  USER_SUBSCRIPTION_TYPES,
  type UserInfoRequest,
  type UserSubscription,
  userSubscriptionKey,
} from "./user_requests.ts";

/** Default and largest `nLevels` of an `l2Book` subscription. */
export const DEFAULT_LEVELS = 20;
export const MAX_LEVELS = 100;

/** A validated subscription in its normalised form (absent == null, nLevels defaulted). */
export type Subscription =
  | { readonly type: "l2Book"; readonly coin: Coin; readonly params: L2Params }
  | { readonly type: "trades"; readonly coin: Coin }
  | { readonly type: "l4Book"; readonly coin: Coin }
  | { readonly type: "bbo"; readonly coin: Coin }
  | { readonly type: "activeAssetCtx"; readonly coin: Coin }
  | { readonly type: "allMids"; readonly dex: string }
  | UserSubscription;

/** A subscription request: the normalised subscription plus what is needed to answer the client. */
export interface SubscriptionRequest {
  readonly subscription: Subscription;
  /** Identity of the subscription (also the key of the shared view it reads). */
  readonly key: string;
  /** The client's subscription object as sent, serialised (for error texts). */
  readonly sent: string;
  /** The object echoed in `subscriptionResponse`, serialised. */
  readonly echo: string;
}

/** An info request (`post` over the socket or `POST /info`). */
export type InfoRequest =
  | { readonly type: "l2Book"; readonly coin: Coin; readonly params: L2Params }
  | { readonly type: "allMids"; readonly dex: string }
  | UserInfoRequest;

/** A validated client message. */
export type ClientMessage =
  | { readonly method: "subscribe" | "unsubscribe"; readonly request: SubscriptionRequest }
  | { readonly method: "ping" }
  | { readonly method: "post"; readonly id: number; readonly request: InfoRequest }
  /** A `post` info request of a type hlbook does not answer itself (forwarded to the node). */
  | { readonly method: "forward"; readonly id: number; readonly payload: Readonly<Record<string, unknown>> };

/** Outcome of parsing a client message: the message, or the text of the error reply. */
export type ParseResult =
  | { readonly ok: true; readonly message: ClientMessage }
  | { readonly ok: false; readonly error: string }
  /** A `post` that failed validation: answered on the `post` channel with its id. */
  | { readonly ok: false; readonly error: string; readonly postId: number };

/** Tells whether a coin exists; `null` when no book is loaded yet (then every coin name is accepted). */
export type CoinCheck = ((coin: Coin) => boolean) | null;

const PARSE_ERROR = "Error parsing JSON into valid websocket request: ";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Key of a view / identity of a subscription. */
export function subscriptionKey(subscription: Subscription): string {
  switch (subscription.type) {
    case "l2Book": {
      const p = subscription.params;
      return `l2Book\u0000${subscription.coin}\u0000${p.nSigFigs}\u0000${p.mantissa}\u0000${p.nLevels}`;
    }
    case "allMids":
      return `allMids\u0000${subscription.dex}`;
    case "orderUpdates":
    case "userFills":
    case "userEvents":
    case "candle":
      return userSubscriptionKey(subscription);
    default:
      return `${subscription.type}\u0000${subscription.coin}`;
  }
}

/** Validates L2 parameters as `l2Book` subscriptions and info requests take them; returns null when invalid. */
function parseL2Params(raw: Record<string, unknown>, levels: boolean): L2Params | null {
  const nSigFigs = raw.nSigFigs ?? null;
  const mantissa = raw.mantissa ?? null;
  const nLevels = levels ? raw.nLevels ?? null : null;
  if (nSigFigs !== null && !(nSigFigs === 2 || nSigFigs === 3 || nSigFigs === 4 || nSigFigs === 5)) {
    return null;
  }
  if (mantissa !== null && !(nSigFigs === 5 && (mantissa === 2 || mantissa === 5))) return null;
  if (
    nLevels !== null &&
    !(Number.isInteger(nLevels) && (nLevels as number) >= 1 && (nLevels as number) <= MAX_LEVELS)
  ) {
    return null;
  }
  if (raw.fast !== undefined && raw.fast !== null && typeof raw.fast !== "boolean") return null;
  return { nSigFigs, mantissa, nLevels: (nLevels as number | null) ?? DEFAULT_LEVELS };
}

function knownCoin(coin: unknown, check: CoinCheck): coin is string {
  return typeof coin === "string" && coin.length > 0 && coin.length <= 64 && (check === null || check(coin));
}

/**
 * Validates a subscription object. Returns the request, a parse error (unknown or missing type), or an
 * `Invalid subscription` error.
 */
export function parseSubscription(
  raw: unknown,
  check: CoinCheck,
): { ok: true; request: SubscriptionRequest } | { ok: false; kind: "parse" | "invalid"; sent: string } {
  if (!isRecord(raw)) return { ok: false, kind: "parse", sent: JSON.stringify(raw) ?? "null" };
  const sent = JSON.stringify(raw);
  let subscription: Subscription | null = null;
  let echo = sent;
  switch (raw.type) {
    case "l2Book": {
      const params = parseL2Params(raw, true);
      if (params !== null && knownCoin(raw.coin, check)) {
        subscription = { type: "l2Book", coin: raw.coin, params };
        // The official server echoes l2Book with nSigFigs and mantissa present (null when absent).
        echo = JSON.stringify({ ...raw, nSigFigs: raw.nSigFigs ?? null, mantissa: raw.mantissa ?? null });
      }
      break;
    }
    case "trades":
    case "l4Book":
    case "bbo":
    case "activeAssetCtx":
      if (knownCoin(raw.coin, check)) subscription = { type: raw.type, coin: raw.coin };
      break;
    case "allMids": {
      const dex = raw.dex ?? "";
      if (typeof dex === "string" && dex.length <= 64) subscription = { type: "allMids", dex };
      break;
    }
    default: {
      if (typeof raw.type === "string" && USER_SUBSCRIPTION_TYPES.has(raw.type)) {
        const parsed = parseUserSubscription(raw, (coin): coin is string => knownCoin(coin, check));
        if (!parsed.ok) return { ok: false, kind: parsed.kind, sent };
        subscription = parsed.subscription;
        break;
      }
      // An official type hlbook does not serve is a valid request it declines, not a malformed one.
      if (typeof raw.type === "string" && OFFICIAL_SUBSCRIPTION_TYPES.has(raw.type)) {
        return { ok: false, kind: "invalid", sent };
      }
      return { ok: false, kind: "parse", sent };
    }
  }
  if (subscription === null) return { ok: false, kind: "invalid", sent };
  return { ok: true, request: { subscription, key: subscriptionKey(subscription), sent, echo } };
}

/** Validates the payload of an info request (`{"type":"l2Book","coin",…}` or `{"type":"allMids"}`). */
export function parseInfoRequest(raw: unknown, check: CoinCheck): { ok: true; request: InfoRequest } | {
  ok: false;
  error: string;
  /** The type is not one hlbook answers itself (it may be forwarded to the node). */
  unsupported?: true;
} {
  if (!isRecord(raw)) return { ok: false, error: "info request must be a JSON object" };
  if (raw.type === "l2Book") {
    if (!knownCoin(raw.coin, check)) {
      return { ok: false, error: `unknown coin ${JSON.stringify(raw.coin ?? null)}` };
    }
    const params = parseL2Params(raw, true);
    if (params === null) {
      return {
        ok: false,
        error:
          "invalid l2Book parameters: nSigFigs must be 2..5 or null, mantissa 2 or 5 only with nSigFigs 5, " +
          "nLevels 1..100",
      };
    }
    return { ok: true, request: { type: "l2Book", coin: raw.coin, params } };
  }
  if (raw.type === "allMids") {
    const dex = raw.dex ?? "";
    if (typeof dex !== "string") return { ok: false, error: "dex must be a string" };
    return { ok: true, request: { type: "allMids", dex } };
  }
  if (typeof raw.type === "string" && USER_INFO_TYPES.has(raw.type)) {
    return parseUserInfoRequest(raw, (coin): coin is string => knownCoin(coin, check));
  }
  return {
    ok: false,
    unsupported: true,
    error: `unsupported info request type ${
      JSON.stringify(raw.type ?? null)
    }: hlbook answers l2Book and allMids`,
  };
}

/** Whether a value can be an info request type (`clearinghouseState`): a short camelCase word. */
export function isInfoType(type: unknown): type is string {
  return typeof type === "string" && /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(type);
}

/** Parses one text frame from a client. Never throws. */
export function parseClientMessage(text: string, check: CoinCheck): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: PARSE_ERROR + text };
  }
  if (!isRecord(raw)) return { ok: false, error: PARSE_ERROR + text };
  switch (raw.method) {
    case "ping":
      return { ok: true, message: { method: "ping" } };
    case "subscribe":
    case "unsubscribe": {
      const parsed = parseSubscription(raw.subscription, check);
      if (parsed.ok) return { ok: true, message: { method: raw.method, request: parsed.request } };
      if (parsed.kind === "parse") return { ok: false, error: PARSE_ERROR + text };
      return { ok: false, error: invalidSubscription(parsed.sent) };
    }
    case "post": {
      const id = raw.id;
      if (typeof id !== "number" || !Number.isSafeInteger(id)) {
        return { ok: false, error: PARSE_ERROR + text };
      }
      const request = raw.request;
      if (!isRecord(request) || request.type !== "info") {
        return {
          ok: false,
          postId: id,
          error: "hlbook answers only info requests over the socket (l2Book, allMids)",
        };
      }
      const info = parseInfoRequest(request.payload, check);
      if (!info.ok && info.unsupported && isRecord(request.payload) && isInfoType(request.payload.type)) {
        return { ok: true, message: { method: "forward", id, payload: request.payload } };
      }
      if (!info.ok) return { ok: false, postId: id, error: info.error };
      return { ok: true, message: { method: "post", id, request: info.request } };
    }
    default:
      return { ok: false, error: PARSE_ERROR + text };
  }
}
