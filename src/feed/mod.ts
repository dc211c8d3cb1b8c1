/**
 * The WebSocket API's subscription registry and messages (docs/protocol.md).
 *
 * @module
 */
export {
  Client,
  type ClientLimits,
  type ClientSink,
  Feed,
  type FeedStatus,
  type InfoFallback,
  type InfoResult,
  type SubscriptionGate,
} from "./registry.ts";
export {
  type ClientMessage,
  DEFAULT_LEVELS,
  type InfoRequest,
  isInfoType,
  MAX_LEVELS,
  parseClientMessage,
  parseInfoRequest,
  parseSubscription,
  type Subscription,
  subscriptionKey,
  type SubscriptionRequest,
} from "./subscription.ts";
export { errorMessage, type Phase } from "./messages.ts";
export { invalidSubscription, OFFICIAL_SUBSCRIPTION_TYPES } from "./official_types.ts";
export { assetCtxJson, type DayFigures, DayStats, impactPxs, isSpotCoin } from "./asset_ctx.ts";
