/**
 * The seam between the core and its edges: the typed messages they exchange (see `messages.ts`).
 *
 * @module
 */
export type {
  BlockOutput,
  CoreStatus,
  CoreToEdge,
  EdgeToCore,
  InfoQuery,
  InfoReply,
  InfoResult,
  SnapshotReply,
  SnapshotRequest,
  Unwatch,
  ViewMessage,
  Watch,
} from "./messages.ts";
