/**
 * The node's formats: batch lines (statuses, raw diffs, fills; by-block and streaming), the L4 snapshot file
 * and node time strings.
 *
 * @module
 */
export {
  type Batch,
  checkSnapshot,
  decodeLine,
  type FillEvent,
  type NodeFill,
  parseDiffLine,
  parseFillLine,
  type ParseResult,
  parseSnapshotFile,
  parseSnapshotFileAsync,
  parseStatusLine,
  type SnapshotResult,
} from "./parse.ts";
export { parseNodeTime } from "./time.ts";
