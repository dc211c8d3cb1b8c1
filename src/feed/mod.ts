/**
 * The WebSocket API's subscription registry and messages (docs/protocol.md).
 *
 * @module
 */
export { type AssetCtxs, Feed, type FeedStatus, type ServedFeed } from "./feed.ts";
export { LinkedFeed, type PeerMetrics } from "./linked.ts";
export { Core, type CoreOptions, DEFAULT_STREAM_LIMITS } from "./core.ts";
export { Edge } from "./edge.ts";
export { Client, type ClientLimits, type ClientSink, Delivery, type SubscriptionGate } from "./client.ts";
export { Registry, type WatchedView } from "./registry.ts";
export { isUserSubscription, L4_CHUNK, L4Snapshots, Views, type ViewSubscription } from "./views.ts";
export { InfoAnswers, type InfoFallback } from "./info.ts";
export type { InfoResult } from "../link/mod.ts";
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
