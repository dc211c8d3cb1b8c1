/**
 * Asks the node's info server for an L4 snapshot (`fileSnapshot` → a file at `snapshotPath`) and loads the file
 * into `Books` as it is read: chunk by chunk, one group of orders at a time (`readSnapshot`), never the whole
 * file as one string or one parsed value (a mainnet snapshot is hundreds of MB), yielding to the event loop
 * whenever a slice of work has run `sliceMs`.
 *
 * @module
 */
import { Books, type SnapshotLoad, SnapshotLoadError } from "../book/mod.ts";
import { logger } from "../log.ts";
import { readSnapshot, SnapshotFormatError } from "../node/mod.ts";

const log = logger("ingest");

/** Where and how to ask for snapshots. */
export interface SnapshotClientOptions {
  /** The node's info endpoint, e.g. `http://localhost:3001/info`. */
  readonly infoUrl: string;
  /** Absolute path the node writes the snapshot to (must be readable here). */
  readonly snapshotPath: string;
  /** Request timeout in ms (default 60 000: a full mainnet snapshot takes the node a while). */
  readonly timeout?: number;
  /** Longest run of loading work between two yields to the event loop, in ms (default 10). */
  readonly sliceMs?: number;
}

/** What went wrong with a snapshot request. */
export type SnapshotFailure = "unreachable" | "status" | "file" | "invalid";

/** A snapshot request that failed: unreachable node, error status, unreadable or invalid file. */
export class SnapshotError extends Error {
  /** The kind of failure (for `/health` and reminders); "invalid" when not known. */
  readonly kind: SnapshotFailure;
  constructor(message: string, kind: SnapshotFailure = "invalid") {
    super(message);
    this.name = "SnapshotError";
    this.kind = kind;
  }
}

/** The request body the node's info server expects for an L4 snapshot written to `outPath`. */
export function snapshotRequest(outPath: string): string {
  return JSON.stringify({
    type: "fileSnapshot",
    request: { type: "l4Snapshots", includeUsers: true, includeTriggerOrders: false },
    outPath,
    includeHeightInOutput: true,
  });
}

/** Requests one snapshot and loads the file into `Books`; throws `SnapshotError` with what went wrong. */
export async function requestSnapshot(
  options: SnapshotClientOptions,
  signal?: AbortSignal,
): Promise<Books> {
  const timeout = AbortSignal.timeout(options.timeout ?? 60_000);
  let response: Response;
  try {
    response = await fetch(options.infoUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: snapshotRequest(options.snapshotPath),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (error) {
    const why = timeout.aborted ? `no answer within ${options.timeout ?? 60_000} ms` : String(error);
    throw new SnapshotError(`info server ${options.infoUrl} unreachable: ${why}`, "unreachable");
  }
  const body = await response.text().catch(() => "");
  if (response.status !== 200) {
    throw new SnapshotError(
      `info server ${options.infoUrl} answered ${response.status} to fileSnapshot: ${body.slice(0, 200)}`,
      "status",
    );
  }
  return await loadSnapshotFile(options.snapshotPath, options);
}

/** Bytes per read of the snapshot file (`readSnapshot` copies them out: one buffer serves every read). */
const READ_CHUNK = 1 << 20;

/**
 * The file's chunks, read synchronously: the node has just written the file, so a read is a copy out of the
 * page cache (well under a millisecond per MiB), while an asynchronous read waits for a pool thread — on the
 * busy 2-core bench machine (load 6) a 1 M-order load took 6.5–7.7 s with async reads and 2.4 s without.
 * The timer yields between slices still give sockets their turns.
 */
function* fileChunks(file: Deno.FsFile, path: string): Generator<Uint8Array> {
  const buffer = new Uint8Array(READ_CHUNK);
  for (;;) {
    let read: number | null;
    try {
      read = file.readSync(buffer);
    } catch (error) {
      throw new SnapshotError(`cannot read snapshot file ${path}: ${String(error)}`, "file");
    }
    if (read === null) return;
    yield buffer.subarray(0, read);
  }
}

/**
 * Reads a node snapshot file and loads it into `Books` as it streams, yielding to the event loop whenever
 * `sliceMs` (default 10) of work has run; throws `SnapshotError` naming the file and the fault.
 */
export async function loadSnapshotFile(
  path: string,
  options: { readonly sliceMs?: number } = {},
): Promise<Books> {
  const sliceMs = options.sliceMs ?? 10;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw new SnapshotError(`cannot read snapshot file ${path}: ${String(error)}`, "file");
  }
  // A yield is a timer, not a message-channel round trip: that one is cheaper (20 µs against 1–2.6 ms a
  // yield) but never lets the runtime poll sockets: over a 0.5 s load of 100 k orders the longest gap between
  // answers to a client polling the process was 509 ms, against 83–246 ms with timers (load 5–6).
  const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
  try {
    let load: SnapshotLoad | null = null;
    let sliceStart = performance.now();
    for await (const piece of readSnapshot(fileChunks(file, path))) {
      if (piece.kind === "height") load = Books.startLoad(piece.height);
      else if (load === null) throw new SnapshotFormatError("snapshot has no height");
      else if (piece.kind === "coin") load.startCoin(piece.coin);
      else if (piece.kind === "columns") load.addColumns(piece.side, piece.columns);
      else if (piece.kind === "orders") load.addOrders(piece.side, piece.orders);
      else load.endCoin();
      if (performance.now() - sliceStart >= sliceMs) {
        await pause();
        sliceStart = performance.now();
      }
    }
    if (load === null) throw new SnapshotFormatError("snapshot is empty");
    return load.finish();
  } catch (error) {
    if (error instanceof SnapshotFormatError || error instanceof SnapshotLoadError) {
      throw new SnapshotError(`${path}: ${error.message}`);
    }
    throw error;
  } finally {
    file.close();
  }
}

/** Backoff of `requestSnapshotWithRetry`. */
export interface RetryOptions {
  /** First delay in ms (default 250), doubled after each failure. */
  readonly retryDelay?: number;
  /** Largest delay in ms (default 5000). */
  readonly maxRetryDelay?: number;
  /** Called after each failure (metrics). */
  readonly onFailure?: (error: SnapshotError) => void;
  /** Milliseconds between reminders while the failures go on (default 10 000). */
  readonly remindEvery?: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * Requests and loads a snapshot until one succeeds, backing off while the node is unreachable or its files do
 * not load. Logs the first failure as a
 * warning, then a one-line reminder with the count every `remindEvery` ms (the rest at debug level), and the
 * recovery. Throws only when `signal` aborts.
 */
export async function requestSnapshotWithRetry(
  options: SnapshotClientOptions & RetryOptions,
  signal?: AbortSignal,
): Promise<Books> {
  let delay = options.retryDelay ?? 250;
  let failures = 0;
  let remindAt = 0;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const snapshot = await requestSnapshot(options, signal);
      if (failures > 0) log.info("snapshot received after {failures} failed attempts", { failures });
      return snapshot;
    } catch (error) {
      signal?.throwIfAborted();
      const failure = error instanceof SnapshotError ? error : new SnapshotError(String(error));
      options.onFailure?.(failure);
      failures++;
      const remindEvery = options.remindEvery ?? 10_000;
      if (failures === 1) {
        log.warn("snapshot failed, retrying with backoff: {error}{hint}", {
          error: failure.message,
          hint: failure.kind === "unreachable"
            ? " (is the node running with --serve-info? see --info-url)"
            : "",
        });
        remindAt = Date.now() + remindEvery;
      } else if (Date.now() >= remindAt) {
        log.warn("still no snapshot after {failures} tries, retrying: {error}", {
          failures,
          error: failure.message,
        });
        remindAt = Date.now() + remindEvery;
      } else log.debug("snapshot failed again: {error}", { error: failure.message });
      await sleep(delay, signal);
      delay = Math.min(delay * 2, options.maxRetryDelay ?? 5000);
    }
  }
}
