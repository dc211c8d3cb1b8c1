/**
 * Subscription types of Hyperliquid's official WebSocket API. A type in this list that hlbook does not serve is
 * a valid request hlbook cannot answer, so it gets `Invalid subscription {…}` (which SDKs match to the
 * request and reject) rather than the parse error an unknown type gets.
 *
 * @module
 */

/** Every subscription type the official API documents. */
export const OFFICIAL_SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set([
  "activeAssetCtx",
  "activeAssetData",
  "allDexsAssetCtxs",
  "allDexsClearinghouseState",
  "allMids",
  "bbo",
  "candle",
  "clearinghouseState",
  "explorerBlock",
  "explorerTxs",
  "l2Book",
  "notification",
  "openOrders",
  "orderUpdates",
  "spotAssetCtxs",
  "spotState",
  "trades",
  "twapStates",
  "userEvents",
  "userFills",
  "userFundings",
  "userHistoricalOrders",
  "userNonFundingLedgerUpdates",
  "userTwapHistory",
  "userTwapSliceFills",
  "webData2",
  "webData3",
]);

/**
 * The official text for a subscription the server will not take: `Invalid subscription ` and the subscription
 * as sent. Recorded from the official server without a colon (`Invalid subscription {"type":"candle",…}`),
 * unlike `Already subscribed: {…}`.
 */
export function invalidSubscription(sent: string): string {
  return `Invalid subscription ${sent}`;
}
