/**
 * The seam between the core and its edges: the typed messages they exchange (see `messages.ts`).
 *
 * @module
 */
export type {
  AssetCtxQuery,
  AssetCtxReply,
  BlockOutput,
  CoreBatch,
  CoreReport,
  CoreStatus,
  CoreToEdge,
  EdgeToCore,
  InfoQuery,
  InfoReply,
  InfoResult,
  ReportRequest,
  SnapshotReply,
  SnapshotRequest,
  Unwatch,
  ViewMessage,
  Watch,
} from "./messages.ts";
