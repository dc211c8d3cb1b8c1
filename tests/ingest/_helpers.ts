/** Shared helpers for the ingest tests: temp dirs, bounded waits, pipeline options. */
import type { IngestOptions } from "../../src/ingest/mod.ts";
import type { Metrics } from "../../src/metrics.ts";
import type { FakeNode } from "./_fake_node.ts";

/** Waits until `predicate` is true, polling every 10 ms; throws after `timeout` ms with `what` in the message. */
export async function waitFor(what: string, predicate: () => boolean, timeout = 20_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Sleeps `ms` milliseconds (pacing writes like a node, never as synchronisation). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Appends text (or bytes) to a file, creating it and its directories. */
export async function append(path: string, content: string | Uint8Array): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  await Deno.writeFile(path, bytes, { append: true });
}

/** A temp dir removed by `using`. */
export function tempDir(): { path: string; [Symbol.dispose](): void } {
  const path = Deno.makeTempDirSync({ prefix: "hlbook-ingest-" });
  return {
    path,
    [Symbol.dispose]() {
      Deno.removeSync(path, { recursive: true });
    },
  };
}

/** Pipeline options against a `FakeNode`: fast polls and retries, no validation, overridable by `extra`. */
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
    ...extra,
  };
}
