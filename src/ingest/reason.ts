/**
 * Why the feed is not ready, in one line for `/health` and the operator: which of the pipeline's waits is
 * the one that matters (no node files, no snapshot, a re-sync, a silent node).
 *
 * @module
 */
import type { SnapshotError } from "./snapshot_client.ts";

/** What the pipeline knows when asked. */
export interface ReasonInput {
  readonly phase: "starting" | "ready" | "stale" | "resyncing";
  /** What is missing in the data dir, or null. */
  readonly nodeFiles: string | null;
  /** Failed snapshot requests since the last good one, and the last failure. */
  readonly snapshotTries: number;
  readonly snapshotError: SnapshotError | null;
  /** Why the running re-sync started. */
  readonly resyncReason: string | null;
  /** Milliseconds since the node last wrote a line. */
  readonly silentMs: number;
}

const FAILURE_TEXT = {
  unreachable: "info server unreachable",
  status: "info server answered with an error",
  file: "snapshot file not readable (is --snapshot-path on the node's filesystem too?)",
  invalid: "snapshot file invalid",
} as const;

function snapshotText(input: ReasonInput): string {
  if (input.snapshotTries === 0 || input.snapshotError === null) {
    return "no snapshot yet: waiting for the node's info server";
  }
  const tries = `${input.snapshotTries} ${input.snapshotTries === 1 ? "try" : "tries"}`;
  return `no snapshot yet: ${FAILURE_TEXT[input.snapshotError.kind]} (${tries})`;
}

/** The reason of {@link ReasonInput}'s state, or null when the feed is ready and the node files are there. */
export function notReadyReason(input: ReasonInput): string | null {
  const files = input.nodeFiles === null ? "" : `; ${input.nodeFiles}`;
  switch (input.phase) {
    case "ready":
      return input.nodeFiles === null ? null : `no node files: ${input.nodeFiles}`;
    case "starting":
      return snapshotText(input) + files;
    case "resyncing": {
      const after = input.resyncReason === null ? "re-syncing" : `re-syncing after ${input.resyncReason}`;
      return (input.snapshotTries > 0 ? `${after}; ${snapshotText(input)}` : after) + files;
    }
    case "stale":
      return `node wrote nothing for ${Math.round(input.silentMs / 1000)} s${files}`;
  }
}
