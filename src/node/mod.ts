/**
 * The node's formats: batch lines (statuses, raw diffs, fills; by-block and streaming), the L4 snapshot file
 * and node time strings (the one definition lives in `src/book`, which needs it for triggered orders).
 *
 * @module
 */
export { decodeLine } from "./_json.ts";
export { type Batch, type FillEvent, type NodeFill, parseFillLine, type ParseResult } from "./lines.ts";
export { DiffScanner, parseDiffLine } from "./diffs.ts";
export { parseStatusLine, StatusScanner } from "./statuses.ts";
export {
  checkSnapshot,
  parseSnapshotFile,
  parseSnapshotFileAsync,
  readSnapshot,
  type ReadSnapshotOptions,
  SnapshotFormatError,
  type SnapshotPiece,
  type SnapshotResult,
} from "./snapshot_file.ts";
export { parseNodeTime } from "../book/time.ts";
