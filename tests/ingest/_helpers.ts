/** Helpers of the ingest tests: appending to node files, pipeline options against a fake node. */
import type { IngestOptions } from "../../src/ingest/mod.ts";
import type { Metrics } from "../../src/metrics.ts";
import type { FakeNode } from "./_fake_node.ts";

/** Appends text (or bytes) to a file, creating it and its directories. */
export async function append(path: string, content: string | Uint8Array): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  await Deno.writeFile(path, bytes, { append: true });
}

/**
 * Pipeline options against a `FakeNode`: fast polls and retries, no validation, no wait for a head block's time,
 * overridable by `extra`.
 */
export function ingestOptions(
  node: FakeNode,
  metrics: Metrics,
  extra: Partial<IngestOptions> = {},
): IngestOptions {
  return {
    dataDir: node.dataDir,
    infoUrl: node.infoUrl,
    snapshotPath: node.snapshotPath,
    mode: node.mode,
    validateInterval: 0,
    stallTimeout: 5000,
    blockCache: 1000,
    metrics,
    pollInterval: 50,
    retryDelay: 50,
    // The fixture's snapshot has no block time, and these tests check books, not times: going live at once
    // saves a second per snapshot taken before the first block is written.
    headTimeWait: 0,
    ...extra,
  };
}
