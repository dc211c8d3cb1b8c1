/**
 * Replays recorded node files through the same parse → align → apply path as live ingestion, as fast as
 * possible (backtests, benchmarks). A data dir holds each stream either as the node lays it out
 * (`node_order_statuses_by_block/hourly/YYYYMMDD/H`) or as one recording (`node_order_statuses_by_block.jsonl`
 * or `.jsonl.gz`, the lines concatenated).
 *
 * @module
 */
import { Books, type SnapshotFile, type Trade } from "../book/mod.ts";
import type { BlockInput, BookDiffEvent, StatusEvent } from "../book/types.ts";
import {
  type Batch,
  type FillEvent,
  parseDiffLine,
  parseFillLine,
  type ParseResult,
  parseSnapshotFileAsync,
  parseStatusLine,
} from "../node/mod.ts";
import { BlockAligner, TradeAssembler } from "./aligner.ts";
import { streamDirs } from "./pipeline.ts";
import { listStreamFiles } from "./tail.ts";

/** What to replay. */
export interface ReplayOptions {
  /** Data dir holding `node_*_by_block/hourly/…` (or `node_*_streaming/…`), or `node_*.jsonl[.gz]` recordings. */
  readonly dataDir: string;
  /** The starting book's snapshot (its height decides which blocks apply). */
  readonly snapshot: SnapshotFile;
  readonly mode?: "by-block" | "streaming";
  /** Called after each applied block. */
  readonly onBlock?: (books: Books, block: BlockInput) => void;
  /** Called with each block's trades. */
  readonly onTrades?: (trades: readonly Trade[]) => void;
  /** Bytes per read buffer (default 16 MiB; tests use small ones to reuse buffers within a short file). */
  readonly bufferSize?: number;
}

/** What a replay did. */
export interface ReplayResult {
  readonly books: Books;
  readonly blocks: number;
  readonly events: number;
  readonly trades: number;
  /** Wall time of parse → align → apply, excluding the snapshot load. */
  readonly seconds: number;
}

/** A replay that cannot go on: malformed line, gap, or a block that does not apply. */
export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplayError";
  }
}

/** The files of one stream: a recording (`<dir>.jsonl.gz` / `<dir>.jsonl`) or the node's hourly files. */
async function streamFiles(dir: string): Promise<string[]> {
  for (const recording of [`${dir}.jsonl.gz`, `${dir}.jsonl`]) {
    try {
      if ((await Deno.stat(recording)).isFile) return [recording];
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return await listStreamFiles(dir);
}

/** Size of the read buffers: a read fills what the unfinished line carried to its front leaves free. */
const READ_SIZE = 16 * 1024 * 1024;

/**
 * The read buffers of one stream. Lines are views of the buffer they were read into, and a raw status keeps
 * a view of its line until it is decoded, so a buffer may be read into again only when nothing can still
 * reach a line of it: by default never (every read gets a fresh buffer); with `reuse`, a buffer goes back to
 * the pool once the reader is past all its lines, unless the consumer `keep`s one of them (a batch the aligner
 * still holds). A fresh 16 MiB buffer costs ~6 ms of zeroing and page faults.
 */
export class ReadBuffers {
  readonly size: number;
  readonly #reuse: boolean;
  readonly #free: Uint8Array[] = [];
  readonly #kept = new WeakSet<ArrayBufferLike>();

  constructor(size = READ_SIZE, reuse = false) {
    this.size = size;
    this.#reuse = reuse;
  }

  /** A buffer of `size` bytes to read into. */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.size);
  }

  /** Something may still reach `bytes` (a view of a read buffer): its buffer is never read into again. */
  keep(bytes: Uint8Array): void {
    this.#kept.add(bytes.buffer);
  }

  /** The reader is past every line of `buffer`. */
  done(buffer: Uint8Array): void {
    if (
      this.#reuse && buffer.length === this.size && !this.#kept.has(buffer.buffer) && this.#free.length < 2
    ) {
      this.#free.push(buffer);
    }
  }
}

/** A file's bytes: `fill` writes the next ones from the start of its target (fewer than it holds only at the end). */
interface Source {
  fill(target: Uint8Array): number | Promise<number>;
  close(): Promise<void>;
}

/**
 * A plain file, read synchronously (a copy out of the page cache, ~1.3 ms per 8 MiB into a warm buffer; an
 * async read costs as much again in event-loop turns and waits on a loaded machine); a `.gz` recording,
 * decompressed as it streams.
 */
async function openSource(file: string): Promise<Source> {
  const handle = await Deno.open(file);
  if (!file.endsWith(".gz")) {
    return {
      fill(target) {
        let filled = 0;
        while (filled < target.length) {
          const read = handle.readSync(target.subarray(filled));
          if (read === null) break;
          filled += read;
        }
        return filled;
      },
      close: () => Promise.resolve(handle.close()),
    };
  }
  const reader = handle.readable.pipeThrough(new DecompressionStream("gzip")).getReader();
  let chunk = new Uint8Array(0);
  let at = 0;
  let ended = false;
  return {
    async fill(target) {
      let filled = 0;
      while (filled < target.length) {
        if (at === chunk.length) {
          const next = await reader.read();
          if (next.done) {
            ended = true;
            break;
          }
          chunk = next.value;
          at = 0;
        }
        const count = Math.min(target.length - filled, chunk.length - at);
        target.set(chunk.subarray(at, at + count), filled);
        filled += count;
        at += count;
      }
      return filled;
    },
    // Cancelling the stream closes the file; a stream read to its end has closed it.
    close: () => ended ? Promise.resolve() : reader.cancel(),
  };
}

/**
 * The non-empty lines of the files, in order, as bytes (views of the read buffers), with their file and
 * 1-based line number. A read fills a buffer; the line it cuts off is copied to the front of the next buffer
 * (a pooled one while it takes at most half of it, else a fresh one twice its size), so no line is joined
 * from pieces and each newline is searched for once. `buffers`: the buffer size (tests use small ones) and
 * whether buffers are read into again (see `ReadBuffers`: a consumer that keeps a line past asking for the
 * next one must `keep` it).
 */
export async function* streamLines(
  files: readonly string[],
  buffers: ReadBuffers = new ReadBuffers(),
): AsyncGenerator<{ file: string; line: number; bytes: Uint8Array }> {
  for (const file of files) {
    const source = await openSource(file);
    try {
      let line = 0;
      let buffer = buffers.take();
      let carried = 0; // bytes of an unfinished line at the front of `buffer`: no newline among them
      for (;;) {
        const filled = carried + await source.fill(buffer.subarray(carried));
        const bytes = buffer.subarray(0, filled);
        let start = 0;
        for (let index = bytes.indexOf(10, carried); index >= 0; index = bytes.indexOf(10, start)) {
          line++;
          if (index > start) yield { file, line, bytes: bytes.subarray(start, index) };
          start = index + 1;
        }
        if (filled < buffer.length) {
          // The end of the file, maybe a last line without its newline.
          if (start < filled) yield { file, line: line + 1, bytes: bytes.subarray(start) };
          buffers.done(buffer);
          break;
        }
        carried = filled - start;
        const next = carried * 2 <= buffers.size
          ? buffers.take()
          : new Uint8Array(Math.max(buffers.size, carried * 2));
        next.set(bytes.subarray(start), 0);
        buffers.done(buffer);
        buffer = next;
      }
    } finally {
      await source.close();
    }
  }
}

/** Each line's batch (a `ReplayError` for a malformed line) with the line's bytes (for `ReadBuffers.keep`). */
async function* batches<E>(
  files: readonly string[],
  parse: (line: Uint8Array) => ParseResult<E>,
  buffers?: ReadBuffers,
): AsyncGenerator<{ batch: Batch<E>; bytes: Uint8Array }> {
  for await (const { file, line, bytes } of streamLines(files, buffers)) {
    const result = parse(bytes);
    if (!result.ok) throw new ReplayError(`${file} line ${line}: ${result.error}`);
    yield { batch: result.batch, bytes };
  }
}

/** Reads and checks a snapshot file (`.gz` is decompressed); throws `ReplayError` saying what is wrong. */
export async function readSnapshotFile(path: string): Promise<SnapshotFile> {
  let bytes: Uint8Array;
  try {
    if (path.endsWith(".gz")) {
      const file = await Deno.open(path);
      const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    } else bytes = await Deno.readFile(path);
  } catch (error) {
    throw new ReplayError(`cannot read ${path}: ${error instanceof Error ? error.message : error}`);
  }
  const result = await parseSnapshotFileAsync(bytes);
  if (!result.ok) throw new ReplayError(`${path}: ${result.error}`);
  return result.snapshot;
}

/**
 * The files of the three streams of `mode` in `dataDir`; a `ReplayError` naming what was expected when the
 * statuses or diffs are not there (fills are optional: without them there are no trades).
 */
async function nodeFiles(
  dataDir: string,
  mode: "by-block" | "streaming",
): Promise<{ statuses: string[]; diffs: string[]; fills: string[] }> {
  const dirs = streamDirs(mode);
  let found;
  try {
    found = {
      statuses: await streamFiles(`${dataDir}/${dirs.statuses}`),
      diffs: await streamFiles(`${dataDir}/${dirs.diffs}`),
      fills: await streamFiles(`${dataDir}/${dirs.fills}`),
    };
  } catch (error) {
    throw new ReplayError(`cannot read ${dataDir}: ${error instanceof Error ? error.message : error}`);
  }
  if (found.statuses.length > 0 && found.diffs.length > 0) return found;
  const missing = [dirs.statuses, dirs.diffs].filter((_, i) => [found.statuses, found.diffs][i].length === 0);
  const other = mode === "by-block" ? "streaming" : "by-block";
  const otherDirs = streamDirs(other);
  const hint = (await streamFiles(`${dataDir}/${otherDirs.statuses}`)).length > 0
    ? `; it holds ${other} files: use --ingest ${other}`
    : "";
  throw new ReplayError(
    `${dataDir} holds no ${missing.join(" or ")} files for --ingest ${mode}: expected the node's layout ` +
      `(${dirs.statuses}/hourly/YYYYMMDD/H, ${dirs.diffs}/hourly/…, ${dirs.fills}/hourly/…) or recordings ` +
      `(${dirs.statuses}.jsonl[.gz], ${dirs.diffs}.jsonl[.gz], ${dirs.fills}.jsonl[.gz])${hint}`,
  );
}

/** Replays `dataDir` onto the snapshot; blocks at or below its height are skipped. */
export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const mode = options.mode ?? "by-block";
  const books = Books.fromSnapshot(options.snapshot);
  const started = performance.now();
  let blocks = 0;
  let events = 0;
  let tradeCount = 0;
  let failure: ReplayError | null = null;
  const aligner = new BlockAligner({
    mode,
    maxPending: Number.MAX_SAFE_INTEGER,
    skipFirstBlock: false,
    onBlock: (block) => {
      if (failure || block.height <= books.height) return;
      if (books.height !== 0 && block.height !== books.height + 1) {
        failure = new ReplayError(`block gap: book at ${books.height}, next block ${block.height}`);
        return;
      }
      const result = books.applyBlock(block);
      if (!result.ok) {
        failure = new ReplayError(`block ${block.height} does not apply: ${result.error.message}`);
        return;
      }
      blocks++;
      events += block.statuses.length + block.diffs.length;
      options.onBlock?.(books, block);
    },
    onFault: (fault) => {
      failure ??= new ReplayError(`${fault.stream}: ${fault.message}`);
    },
  });
  const files = await nodeFiles(options.dataDir, mode);
  // Raw statuses are views of their line's read buffer. By-block, with no onBlock to keep a block, a status
  // line is unreachable once its block is applied, which happens as it is pushed (its diffs go first): its
  // buffer is read into again unless the aligner still holds the batch (then it is kept). Diff and fill lines
  // are parsed into objects, but they are few (~6 % of the bytes): fresh buffers.
  const statusBuffers = new ReadBuffers(
    options.bufferSize ?? READ_SIZE,
    mode === "by-block" && options.onBlock === undefined,
  );
  const statuses = batches<StatusEvent>(files.statuses, parseStatusLine, statusBuffers);
  const diffs = batches<BookDiffEvent>(files.diffs, parseDiffLine);
  let s = await statuses.next();
  let d = await diffs.next();
  let last = 0;
  // Feed the stream that is behind, as live tailing would; a block's diffs before its statuses.
  while ((!s.done || !d.done) && !failure) {
    if (d.done || (!s.done && s.value.batch.blockNumber < d.value.batch.blockNumber)) {
      const { batch, bytes } = (s as IteratorYieldResult<{ batch: Batch<StatusEvent>; bytes: Uint8Array }>)
        .value;
      last = Math.max(last, batch.blockNumber);
      aligner.pushStatuses(batch);
      const applied = aligner.lastEmitted;
      if (applied === null || applied < batch.blockNumber) statusBuffers.keep(bytes);
      s = await statuses.next();
    } else {
      last = Math.max(last, d.value.batch.blockNumber);
      aligner.pushDiffs(d.value.batch);
      d = await diffs.next();
    }
  }
  if (mode === "streaming" && last > 0 && !failure) {
    // A streaming block is complete when a later block number appears, which the recording's last block never
    // sees: the end of the recording completes it (and every block before it) in both streams.
    const end = { blockNumber: last + 1, blockTime: 0, localTime: "", events: [] };
    aligner.pushStatuses(end);
    aligner.pushDiffs(end);
  }
  if (failure) throw failure;
  const assembler = new TradeAssembler(mode);
  for await (const { batch } of batches<FillEvent>(files.fills, parseFillLine)) {
    const { trades } = assembler.push(batch);
    tradeCount += trades.length;
    if (trades.length > 0) options.onTrades?.(trades);
  }
  return { books, blocks, events, trades: tradeCount, seconds: (performance.now() - started) / 1000 };
}
