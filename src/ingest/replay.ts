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

/** Bytes read at a time from a plain file, each time into a fresh buffer (lines are views of it). */
const READ_SIZE = 8 * 1024 * 1024;

/** Fills `buffer` from the file as far as it goes: the bytes read (fewer than its size only at the end). */
async function readFull(handle: Deno.FsFile, buffer: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const read = await handle.read(buffer.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return filled;
}

/**
 * A file's bytes in chunks the caller owns (never reused, so lines may be views of them): plain files are read
 * `readSize` bytes at a time, the next read under way while the caller parses the current chunk (the read
 * runs off the main thread: ~45 ms less wall time per bench replay of 160 MB); `.gz` recordings are
 * decompressed as they stream.
 */
async function* fileChunks(file: string, readSize: number): AsyncGenerator<Uint8Array> {
  const handle = await Deno.open(file);
  if (file.endsWith(".gz")) {
    for await (const chunk of handle.readable.pipeThrough(new DecompressionStream("gzip"))) {
      yield chunk.slice(); // the stream may reuse its buffer
    }
    return;
  }
  let buffer = new Uint8Array(readSize);
  let next: Promise<number> | null = readFull(handle, buffer);
  try {
    for (;;) {
      const filled = await next;
      next = null;
      const chunk = buffer.subarray(0, filled);
      if (filled === buffer.length) {
        buffer = new Uint8Array(readSize);
        next = readFull(handle, buffer);
      }
      if (filled > 0) yield chunk;
      if (next === null) return;
    }
  } finally {
    // A consumer that stops early leaves a read under way: let it end before the file is closed.
    if (next !== null) await next.catch(() => 0);
    handle.close();
  }
}

/**
 * The non-empty lines of the files, in order, as bytes (views of the read buffers, or one copy for a line cut
 * by a read), with their file and 1-based line number. `readSize`: bytes per read (tests use small ones).
 */
export async function* streamLines(
  files: readonly string[],
  readSize = READ_SIZE,
): AsyncGenerator<{ file: string; line: number; bytes: Uint8Array }> {
  for (const file of files) {
    // Newlines are looked for only in each new chunk, and a line's pieces are joined once: lines of several
    // MB may span chunks, and rescanning a growing buffer would be quadratic.
    let pieces: Uint8Array[] = [];
    let pending = 0;
    let line = 0;
    for await (const chunk of fileChunks(file, readSize)) {
      let start = 0;
      for (let index = chunk.indexOf(10); index >= 0; index = chunk.indexOf(10, start)) {
        line++;
        let bytes = chunk.subarray(start, index);
        if (pieces.length > 0) {
          bytes = join(pieces, pending, bytes);
          pieces = [];
          pending = 0;
        }
        if (bytes.length > 0) yield { file, line, bytes };
        start = index + 1;
      }
      if (start < chunk.length) {
        pieces.push(chunk.subarray(start));
        pending += chunk.length - start;
      }
    }
    if (pending > 0) {
      line++;
      yield { file, line, bytes: join(pieces, pending, new Uint8Array(0)) };
    }
  }
}

/** The pieces (of `size` bytes in all) followed by `last`, in one array. */
function join(pieces: readonly Uint8Array[], size: number, last: Uint8Array): Uint8Array {
  const out = new Uint8Array(size + last.length);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  out.set(last, at);
  return out;
}

async function* batches<E>(
  files: readonly string[],
  parse: (line: Uint8Array) => ParseResult<E>,
): AsyncGenerator<Batch<E>> {
  for await (const { file, line, bytes } of streamLines(files)) {
    const result = parse(bytes);
    if (!result.ok) throw new ReplayError(`${file} line ${line}: ${result.error}`);
    yield result.batch;
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
  const statuses = batches<StatusEvent>(files.statuses, parseStatusLine);
  const diffs = batches<BookDiffEvent>(files.diffs, parseDiffLine);
  let s = await statuses.next();
  let d = await diffs.next();
  let last = 0;
  // Feed the stream that is behind, as live tailing would.
  while ((!s.done || !d.done) && !failure) {
    if (d.done || (!s.done && s.value.blockNumber <= d.value.blockNumber)) {
      const batch = (s as IteratorYieldResult<Batch<StatusEvent>>).value;
      last = Math.max(last, batch.blockNumber);
      aligner.pushStatuses(batch);
      s = await statuses.next();
    } else {
      last = Math.max(last, d.value.blockNumber);
      aligner.pushDiffs(d.value);
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
  for await (const batch of batches<FillEvent>(files.fills, parseFillLine)) {
    const { trades } = assembler.push(batch);
    tradeCount += trades.length;
    if (trades.length > 0) options.onTrades?.(trades);
  }
  return { books, blocks, events, trades: tradeCount, seconds: (performance.now() - started) / 1000 };
}
