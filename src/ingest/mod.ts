/**
 * Ingestion: follows the node's files, aligns them into blocks, keeps a `Books` live from the node's snapshot,
 * validates and re-syncs it. `startIngest` is what main.ts uses; `replay` pushes recorded files through the
 * same path.
 *
 * @module
 */
export {
  type Ingest,
  type IngestEvents,
  type IngestOptions,
  type IngestState,
  startIngest,
  streamDirs,
} from "./pipeline.ts";
export { backfillFills, type BackfillOptions, type BackfillResult, type BackfillTarget } from "./backfill.ts";
export { readSnapshotFile, replay, ReplayError, type ReplayOptions, type ReplayResult } from "./replay.ts";
export { type AlignFault, BlockAligner, TradeAssembler, type TradeResult } from "./aligner.ts";
export { tail, Tailer, type TailFault, type TailLine, type TailOptions } from "./tail.ts";
export {
  loadSnapshotFile,
  requestSnapshot,
  requestSnapshotWithRetry,
  SnapshotError,
  snapshotRequest,
} from "./snapshot_client.ts";
