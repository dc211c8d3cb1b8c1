/**
 * Connects the node's files to a live `Books`: tail → parse → align → apply, bootstrapped from the node's L4
 * snapshot, validated against fresh snapshots, re-synced on any fault, reported stale when the node stalls.
 *
 * Blocks are kept in a bounded, contiguous cache (the last `blockCache` complete blocks) so that a snapshot that
 * lags the head can be brought forward; a snapshot ahead of the cache simply waits for the blocks after it.
 *
 * @module
 */
import { type BookDiff, type Books, compareBooks, insertsOrder, type Trade } from "../book/mod.ts";
import type { BlockInput } from "../book/types.ts";
import { logger } from "../log.ts";
import type { Counter, Gauge, Histogram, Metrics } from "../metrics.ts";
import { type FillEvent, parseDiffLine, parseFillLine, parseStatusLine } from "../node/mod.ts";
import { type AlignFault, BlockAligner, TradeAssembler } from "./aligner.ts";
import { requestSnapshot, requestSnapshotWithRetry, type SnapshotError } from "./snapshot_client.ts";
import { tail, type Tailer, type TailFault, type TailLine } from "./tail.ts";
import { type NodeFilesWatch, watchNodeFiles } from "./node_files.ts";
import { notReadyReason } from "./reason.ts";

const log = logger("ingest");

/** What `startIngest` needs. */
export interface IngestOptions {
  /** The node's data directory (holding `node_*_by_block/` or `node_*_streaming/`). */
  readonly dataDir: string;
  /** The node's info endpoint for snapshots. */
  readonly infoUrl: string;
  /** Where the node writes snapshots (must be readable here). */
  readonly snapshotPath: string;
  readonly mode: "by-block" | "streaming";
  /** Milliseconds between validation snapshots, 0 = off. */
  readonly validateInterval: number;
  /** Milliseconds without node output before the state is reported stale. */
  readonly stallTimeout: number;
  /** Complete blocks kept to bring a lagging snapshot forward. */
  readonly blockCache: number;
  readonly metrics: Metrics;
  /** Read existing files from their start (replay, tests) instead of following from their end. */
  readonly fromStart?: boolean;
  /** Tail poll period in ms (default 100). */
  readonly pollInterval?: number;
  /** First snapshot retry delay in ms (default 250, doubling up to 5000). */
  readonly retryDelay?: number;
  /**
   * Milliseconds to wait for the next block when a snapshot at the head has no known block time (default 1000;
   * tests that check books rather than times set 0).
   */
  readonly headTimeWait?: number;
  /** Snapshot request timeout in ms (default 60 000). */
  readonly snapshotTimeout?: number;
  /** Milliseconds between reminders while snapshots keep failing (default 10 000). */
  readonly remindEvery?: number;
}

/** The pipeline's phase and the height/time of the live book. */
export interface IngestState {
  readonly phase: "starting" | "ready" | "stale" | "resyncing";
  readonly height: number;
  readonly time: number;
}

/** What the pipeline tells its owner. */
export interface IngestEvents {
  /** A fresh book is live (bootstrap or re-sync): subscribers get fresh snapshots. */
  onReset(books: Books): void;
  /** After each applied block. */
  onBlock(books: Books, diff: BookDiff): void;
  /** One block's trades (all coins), in order. */
  onTrades(trades: readonly Trade[]): void;
  /** Each fills line as parsed (a block's fills, or one fill in streaming mode), before its trades. */
  onFills?(block: number, events: readonly FillEvent[]): void;
  /** On every phase change. */
  onState(state: IngestState): void;
}

/** A running pipeline. */
export interface Ingest {
  readonly state: IngestState;
  /** Why the feed is not ready (for `/health`), e.g. `node wrote nothing for 9 s`; null while all is well. */
  readonly reason: string | null;
  /** Stops tailing, timers and snapshot requests. */
  stop(): Promise<void>;
}

/** The three stream directories of a mode, relative to the data dir. */
export function streamDirs(
  mode: "by-block" | "streaming",
): { statuses: string; diffs: string; fills: string } {
  const suffix = mode === "by-block" ? "by_block" : "streaming";
  return {
    statuses: `node_order_statuses_${suffix}`,
    diffs: `node_raw_book_diffs_${suffix}`,
    fills: `node_fills_${suffix}`,
  };
}

/**
 * The part of a block that replaying it onto a snapshot needs: its diffs and the statuses that can insert an
 * order. Rejected statuses are ~95 % of a block; keeping them would make a 2,000-block cache gigabytes.
 */
function slim(block: BlockInput): BlockInput {
  const statuses = block.statuses.filter(insertsOrder);
  return statuses.length === block.statuses.length ? block : { ...block, statuses };
}

interface IngestMetrics {
  readonly blocks: Counter;
  readonly events: Counter;
  readonly malformed: Counter;
  readonly resyncs: Counter;
  readonly inconsistencies: Counter;
  readonly gaps: Counter;
  readonly oddFills: Counter;
  readonly snapshotFailures: Counter;
  readonly trades: Counter;
  readonly height: Gauge;
  readonly cachedBlocks: Gauge;
  readonly stale: Gauge;
  readonly apply: Histogram;
}

function ingestMetrics(metrics: Metrics): IngestMetrics {
  return {
    blocks: metrics.counter("hlbook_blocks_applied_total", "Blocks applied to the book"),
    events: metrics.counter("hlbook_events_total", "Order status and book diff events of complete blocks"),
    malformed: metrics.counter("hlbook_malformed_lines_total", "Node lines that failed to parse"),
    resyncs: metrics.counter("hlbook_resyncs_total", "Re-syncs from a fresh snapshot"),
    inconsistencies: metrics.counter(
      "hlbook_inconsistencies_total",
      "Validation snapshots that disagreed with the book",
    ),
    gaps: metrics.counter("hlbook_gaps_total", "Missing or duplicate blocks in the node's streams"),
    oddFills: metrics.counter("hlbook_odd_fills_total", "Fills that could not be paired into a trade"),
    snapshotFailures: metrics.counter("hlbook_snapshot_failures_total", "Failed snapshot requests"),
    trades: metrics.counter("hlbook_trades_total", "Trades built from fills"),
    height: metrics.gauge("hlbook_height", "Height of the live book"),
    cachedBlocks: metrics.gauge("hlbook_cached_blocks", "Blocks kept to replay on top of a snapshot"),
    stale: metrics.gauge("hlbook_stale", "1 while the node writes nothing for longer than the stall timeout"),
    apply: metrics.histogram("hlbook_ingest_apply_ms", "Time to apply one block to the book (ms)"),
  };
}

class Pipeline implements Ingest {
  readonly #options: IngestOptions;
  readonly #events: IngestEvents;
  readonly #metrics: IngestMetrics;
  readonly #aligner: BlockAligner;
  readonly #trades: TradeAssembler;
  readonly #tailers: Tailer[] = [];
  readonly #abort = new AbortController();
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  #phase: IngestState["phase"] = "starting";
  #books: Books | null = null;
  /** Contiguous chain of the latest complete blocks: height → block. */
  readonly #cache = new Map<number, BlockInput>();
  #cacheLo = 0;
  #cacheHi = -1;
  #resyncing: Promise<void> | null = null;
  #validating = false;
  /** Block time of the live book when it was loaded from a snapshot (which carries no time). */
  #loadedTime = 0;
  /** Time of the latest complete block seen. */
  #lastBlockTime = 0;
  /** Incremented whenever the live book is replaced: stale async work checks it. */
  #epoch = 0;
  #lastData = Date.now();
  #firstLine = { statuses: true, diffs: true };
  #malformedLogged = false;
  #stopped = false;
  #nodeFiles: NodeFilesWatch | null = null;
  /** Failed snapshot requests since the last good one, and the last failure. */
  #snapshotTries = 0;
  #snapshotError: SnapshotError | null = null;
  #resyncReason: string | null = null;

  constructor(options: IngestOptions, events: IngestEvents) {
    this.#options = options;
    this.#events = events;
    this.#metrics = ingestMetrics(options.metrics);
    this.#aligner = new BlockAligner({
      mode: options.mode,
      maxPending: Math.max(100, options.blockCache),
      skipFirstBlock: !options.fromStart,
      onBlock: (block) => this.#onBlock(block),
      onFault: (fault) => this.#onAlignFault(fault),
    });
    this.#trades = new TradeAssembler(options.mode);
  }

  get state(): IngestState {
    const books = this.#books;
    const time = books ? (books.time > 0 ? books.time : this.#loadedTime) : 0;
    return { phase: this.#phase, height: books?.height ?? 0, time };
  }

  get reason(): string | null {
    return notReadyReason({
      phase: this.#phase,
      nodeFiles: this.#nodeFiles?.problem ?? null,
      snapshotTries: this.#snapshotTries,
      snapshotError: this.#snapshotError,
      resyncReason: this.#resyncReason,
      silentMs: Date.now() - this.#lastData,
    });
  }

  start(): void {
    if (!this.#options.fromStart) {
      this.#nodeFiles = watchNodeFiles(this.#options.dataDir, { mode: this.#options.mode });
    }
    const dirs = streamDirs(this.#options.mode);
    const common = { fromStart: this.#options.fromStart, pollInterval: this.#options.pollInterval };
    const dir = (name: string) => `${this.#options.dataDir}/${name}`;
    this.#tailers.push(
      tail(dir(dirs.fills), {
        ...common,
        onLines: (lines) => this.#onFills(lines),
        onFault: (fault) => log.debug("fills stream: {kind} at {file}", { ...fault }),
      }),
      tail(dir(dirs.diffs), {
        ...common,
        onLines: (lines) => this.#onDiffs(lines),
        onFault: (fault) => this.#onTailFault(fault),
      }),
      tail(dir(dirs.statuses), {
        ...common,
        onLines: (lines) => this.#onStatuses(lines),
        onFault: (fault) => this.#onTailFault(fault),
      }),
    );
    const stallCheck = Math.max(10, Math.min(250, this.#options.stallTimeout / 4));
    this.#timers.push(setInterval(() => this.#checkStall(), stallCheck));
    if (this.#options.validateInterval > 0) {
      this.#timers.push(setInterval(() => this.#validate(), this.#options.validateInterval));
    }
    this.#emitState();
    this.#resync("bootstrap");
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#nodeFiles?.stop();
    this.#abort.abort();
    for (const timer of this.#timers) clearInterval(timer);
    await Promise.all(this.#tailers.map((tailer) => tailer.stop()));
    await this.#resyncing?.catch(() => {});
  }

  #setPhase(phase: IngestState["phase"]): void {
    if (this.#phase === phase) return;
    this.#phase = phase;
    this.#metrics.stale.set(phase === "stale" ? 1 : 0);
    this.#emitState();
  }

  #emitState(): void {
    try {
      this.#events.onState(this.state);
    } catch (error) {
      log.error("onState failed: {error}", { error: String(error) });
    }
  }

  // ---- lines ----

  #seen(): void {
    this.#lastData = Date.now();
    if (this.#phase === "stale") {
      log.info("node output resumed");
      this.#setPhase(this.#books ? "ready" : "resyncing");
    }
  }

  #malformed(line: TailLine, error: string): void {
    this.#metrics.malformed.inc();
    if (!this.#malformedLogged) {
      this.#malformedLogged = true;
      log.warn("malformed line at {file}:{offset}: {error}", { file: line.file, offset: line.offset, error });
    } else {log.debug("malformed line at {file}:{offset}: {error}", {
        file: line.file,
        offset: line.offset,
        error,
      });}
  }

  #onStatuses(lines: readonly TailLine[]): void {
    this.#seen();
    for (const line of lines) {
      if (this.#stopped) return;
      if (this.#firstLine.statuses) {
        this.#firstLine.statuses = false;
        if (line.offset === 0) this.#aligner.keepFirstBlock("statuses");
      }
      const result = parseStatusLine(line.bytes);
      if (!result.ok) {
        this.#malformed(line, result.error);
        this.#outOfSync(`malformed statuses line at ${line.file}:${line.offset}`);
        continue;
      }
      this.#aligner.pushStatuses(result.batch);
    }
  }

  #onDiffs(lines: readonly TailLine[]): void {
    this.#seen();
    for (const line of lines) {
      if (this.#stopped) return;
      if (this.#firstLine.diffs) {
        this.#firstLine.diffs = false;
        if (line.offset === 0) this.#aligner.keepFirstBlock("diffs");
      }
      const result = parseDiffLine(line.bytes);
      if (!result.ok) {
        this.#malformed(line, result.error);
        this.#outOfSync(`malformed diffs line at ${line.file}:${line.offset}`);
        continue;
      }
      this.#aligner.pushDiffs(result.batch);
    }
  }

  #onFills(lines: readonly TailLine[]): void {
    this.#seen();
    for (const line of lines) {
      if (this.#stopped) return;
      const result = parseFillLine(line.bytes);
      if (!result.ok) {
        // Fills never touch the book: a bad line loses its trades, nothing else.
        this.#malformed(line, result.error);
        continue;
      }
      if (this.#events.onFills !== undefined) {
        try {
          this.#events.onFills(result.batch.blockNumber, result.batch.events);
        } catch (error) {
          log.error("onFills failed: {error}", { error: String(error) });
        }
      }
      const { trades, odd } = this.#trades.push(result.batch);
      if (odd.length > 0) {
        this.#metrics.oddFills.inc(odd.length);
        log.warn("block {block}: {count} fill(s) could not be paired ({message})", {
          block: odd[0].block,
          count: odd.length,
          message: odd[0].message,
        });
      }
      if (trades.length > 0) {
        this.#metrics.trades.inc(trades.length);
        try {
          this.#events.onTrades(trades);
        } catch (error) {
          log.error("onTrades failed: {error}", { error: String(error) });
        }
      }
    }
  }

  #onTailFault(fault: TailFault): void {
    if (fault.kind === "deleted") return; // nothing lost yet: waiting for the file or the next one
    this.#outOfSync(`${fault.file}:${fault.offset}: ${fault.message}`);
  }

  #onAlignFault(fault: AlignFault): void {
    this.#metrics.gaps.inc();
    // Once a re-sync is under way, the disorder that caused it usually trips the other stream or the next
    // lines too: those are counted but logged only at debug level (each fault is logged once).
    if (this.#books && !this.#resyncing) {
      log.warn("{stream} stream out of order ({kind}): {message}", { ...fault });
    } else log.debug("{stream} stream out of order ({kind}): {message}", { ...fault });
    this.#startResync(`block ${fault.kind} at ${fault.block}`);
  }

  /** The streams lost data: forget partial blocks and re-sync. */
  #outOfSync(reason: string): void {
    this.#aligner.reset();
    this.#startResync(reason);
  }

  // ---- blocks ----

  #cacheBlock(block: BlockInput): void {
    if (block.height !== this.#cacheHi + 1) {
      this.#cache.clear();
      this.#cacheLo = block.height;
    }
    this.#cache.set(block.height, slim(block));
    this.#cacheHi = block.height;
    while (this.#cache.size > Math.max(1, this.#options.blockCache)) this.#cache.delete(this.#cacheLo++);
    this.#metrics.cachedBlocks.set(this.#cache.size);
  }

  #onBlock(block: BlockInput): void {
    this.#metrics.events.inc(block.statuses.length + block.diffs.length);
    this.#cacheBlock(block);
    this.#lastBlockTime = block.time;
    const books = this.#books;
    if (!books) return;
    if (block.height <= books.height) return; // the snapshot was ahead: wait for the blocks after it
    if (block.height !== books.height + 1) {
      this.#metrics.gaps.inc();
      log.warn("block gap: book at {height}, next block {block}", {
        height: books.height,
        block: block.height,
      });
      this.#startResync(`block gap ${books.height} → ${block.height}`);
      return;
    }
    this.#apply(books, block);
  }

  #apply(books: Books, block: BlockInput): void {
    const started = performance.now();
    const result = books.applyBlock(block);
    if (!result.ok) {
      const error = result.error;
      log.warn("block {block} does not apply ({kind}, coin {coin}, oid {oid}): {message}", {
        block: error.block,
        kind: error.kind,
        coin: error.coin ?? "-",
        oid: error.oid ?? "-",
        message: error.message,
      });
      this.#startResync(`block ${block.height} does not apply`);
      return;
    }
    this.#metrics.apply.observe(performance.now() - started);
    this.#metrics.blocks.inc();
    this.#metrics.height.set(books.height);
    try {
      this.#events.onBlock(books, result.diff);
    } catch (error) {
      log.error("onBlock failed: {error}", { error: String(error) });
    }
  }

  // ---- snapshots ----

  #startResync(reason: string): void {
    if (this.#stopped || this.#resyncing) return;
    this.#resync(reason);
  }

  #resync(reason: string): void {
    if (this.#books || this.#phase !== "starting") {
      this.#resyncReason = reason;
      this.#metrics.resyncs.inc();
      log.warn("re-syncing from a fresh snapshot: {reason}", { reason });
      this.#setPhase("resyncing");
    }
    this.#books = null;
    this.#epoch++;
    this.#resyncing = this.#bootstrap().catch((error) => {
      if (!this.#stopped) log.error("re-sync failed: {error}", { error: String(error) });
    }).finally(() => {
      this.#resyncing = null;
    });
  }

  #snapshotOptions() {
    return {
      infoUrl: this.#options.infoUrl,
      snapshotPath: this.#options.snapshotPath,
      timeout: this.#options.snapshotTimeout,
      retryDelay: this.#options.retryDelay,
      remindEvery: this.#options.remindEvery,
      onFailure: (error: SnapshotError) => {
        this.#metrics.snapshotFailures.inc();
        this.#snapshotTries++;
        this.#snapshotError = error;
      },
    };
  }

  async #bootstrap(): Promise<void> {
    const signal = this.#abort.signal;
    let tooOldLogged = false;
    // Each request makes the node write a full snapshot: back off while snapshots keep being unusable.
    let delay = this.#options.retryDelay ?? 250;
    while (!this.#stopped) {
      // Streamed: a file that does not load is a failed request, retried with backoff like the others.
      const books = await requestSnapshotWithRetry(this.#snapshotOptions(), signal);
      this.#snapshotTries = 0;
      this.#snapshotError = null;
      if (this.#stopped) return;
      let attached = await this.#bringForward(books);
      // A snapshot at the head whose block hlbook never read has no known block time: wait a little for the next
      // block (1/15 s on a live node) rather than serve messages stamped with time 0.
      const waitUntil = Date.now() + (this.#options.headTimeWait ?? 1000);
      while (
        attached === "ok" && !this.#stopped && books.time === 0 && this.#blockTimeAt(books.height) === 0 &&
        Date.now() < waitUntil
      ) {
        await this.#sleep(20);
        attached = await this.#bringForward(books);
      }
      if (this.#stopped) return;
      if (attached === "ok") {
        this.#goLive(books);
        this.#malformedLogged = false;
        this.#metrics.height.set(books.height);
        log.info("book live at height {height} ({orders} orders)", {
          height: books.height,
          orders: books.orderCount(),
        });
        this.#reset(books);
        this.#lastData = Math.max(this.#lastData, Date.now() - this.#options.stallTimeout / 2);
        this.#resyncReason = null;
        this.#setPhase("ready");
        return;
      }
      if (attached === "too old" && !tooOldLogged) {
        tooOldLogged = true;
        log.info("snapshot at {height} is older than the cached blocks ({lo}..{hi}); asking again", {
          height: books.height,
          lo: this.#cacheLo,
          hi: this.#cacheHi,
        });
      }
      await this.#sleep(delay);
      delay = Math.min(delay * 2, 5000);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.#abort.signal;
      signal.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
    });
  }

  /**
   * Replays cached blocks onto `books` until it reaches the cache's head. "ok" when it did (or when the
   * snapshot is at or ahead of the cache: the following blocks will apply), "too old" when the blocks after
   * the snapshot are no longer cached, "bad" when a cached block does not apply to it.
   */
  async #bringForward(books: Books): Promise<"ok" | "too old" | "bad"> {
    let replayed = 0;
    while (books.height < this.#cacheHi) {
      const block = this.#cache.get(books.height + 1);
      if (!block) return "too old";
      const result = books.applyBlock(block);
      if (!result.ok) {
        this.#metrics.snapshotFailures.inc();
        log.warn("cached block {block} does not apply to the snapshot: {message}", {
          block: block.height,
          message: result.error.message,
        });
        return "bad";
      }
      if (++replayed % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return "ok";
  }

  /** Tells the owner about a fresh live book. */
  #reset(books: Books): void {
    // A book loaded from a snapshot at the chain's head has no block time (the file carries none): the state
    // carries it, and goes out first so that the fresh snapshots sent to subscribers are stamped with it.
    if (books.time === 0 && this.#loadedTime > 0) this.#emitState();
    try {
      this.#events.onReset(books);
    } catch (error) {
      log.error("onReset failed: {error}", { error: String(error) });
    }
  }

  /** Makes `books` (from a snapshot, maybe brought forward) the live book, knowing its block time. */
  #goLive(books: Books): void {
    this.#books = books;
    this.#loadedTime = this.#blockTimeAt(books.height);
  }

  /** The block time of `height` if a block was read (0 when none is known). */
  #blockTimeAt(height: number): number {
    return this.#cache.get(height)?.time ?? this.#lastBlockTime;
  }

  /**
   * Every `validateInterval`: compares the book with a fresh snapshot brought to the same height. A snapshot can
   * be wrong too, so a disagreement is confirmed by a second snapshot before the book is replaced: if the second
   * agrees with the book, the first is ignored; otherwise the second one (at the live height) becomes the book.
   */
  async #validate(): Promise<void> {
    if (this.#validating || this.#resyncing || !this.#books || this.#stopped) return;
    this.#validating = true;
    const epoch = this.#epoch;
    try {
      const first = await this.#check(epoch);
      if (first.kind === "equal") {
        log.debug("validated at height {height}", { height: first.height });
        return;
      }
      if (first.kind === "skipped") return;
      this.#metrics.inconsistencies.inc();
      log.warn(
        "book differs from the node's snapshot at height {height}: {reason}; asking for a second one",
        {
          height: first.height,
          reason: first.reason,
        },
      );
      const second = await this.#check(epoch);
      if (second.kind === "equal") {
        log.warn(
          "a second snapshot agrees with the book at height {height}: the first was wrong, book kept",
          {
            height: second.height,
          },
        );
        return;
      }
      const books = this.#books;
      if (second.kind === "differs" && second.fresh && books && second.fresh.height === books.height) {
        log.warn("a second snapshot confirms it at height {height} ({reason}): re-synced from it", {
          height: second.height,
          reason: second.reason,
        });
        this.#metrics.resyncs.inc();
        this.#epoch++;
        this.#goLive(second.fresh);
        this.#metrics.height.set(second.fresh.height);
        this.#reset(second.fresh);
        return;
      }
      if (epoch === this.#epoch) this.#startResync("validation snapshots disagree with the book");
    } catch (error) {
      log.warn("validation failed: {error}", { error: String(error) });
    } finally {
      this.#validating = false;
    }
  }

  /**
   * Fetches a snapshot, brings it and the live book to the same height (replaying cached blocks onto the
   * snapshot, or waiting for the live book when the snapshot is ahead) and compares them.
   */
  async #check(epoch: number): Promise<
    | { readonly kind: "equal"; readonly height: number }
    | {
      readonly kind: "differs";
      readonly height: number;
      readonly reason: string;
      readonly fresh: Books | null;
    }
    | { readonly kind: "skipped" }
  > {
    let fresh: Books;
    try {
      fresh = await requestSnapshot(this.#snapshotOptions(), this.#abort.signal);
    } catch (error) {
      this.#metrics.snapshotFailures.inc();
      log.debug("validation snapshot failed: {error}", { error: String(error) });
      return { kind: "skipped" };
    }
    const deadline = Date.now() + Math.max(10_000, this.#options.stallTimeout);
    let replayed = 0;
    for (;;) {
      const books = this.#books;
      if (!books || epoch !== this.#epoch || this.#stopped) return { kind: "skipped" };
      if (fresh.height > books.height) {
        // The node's snapshot is ahead of the files we have read: wait for the book to get there.
        if (Date.now() > deadline) return { kind: "skipped" };
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      if (fresh.height === books.height) {
        const mismatch = compareBooks(fresh, books);
        if (!mismatch) return { kind: "equal", height: books.height };
        const order = mismatch.expected ?? mismatch.actual;
        const where = `coin ${mismatch.coin} side ${mismatch.side ?? "-"} #${mismatch.index} oid ${
          order?.oid ?? "-"
        }`;
        return { kind: "differs", height: books.height, reason: `${where}: ${mismatch.message}`, fresh };
      }
      const block = this.#cache.get(fresh.height + 1);
      if (!block) {
        log.debug("validation skipped: block {block} is no longer cached", { block: fresh.height + 1 });
        return { kind: "skipped" };
      }
      const result = fresh.applyBlock(block);
      if (!result.ok) {
        const reason = `block ${block.height} does not apply to the snapshot: ${result.error.message}`;
        return { kind: "differs", height: fresh.height, reason, fresh: null };
      }
      if (++replayed % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  // ---- stall ----

  #checkStall(): void {
    if (this.#stopped || this.#phase === "stale") return;
    if (this.#phase !== "ready") return;
    const silent = Date.now() - this.#lastData;
    if (silent > this.#options.stallTimeout) {
      log.warn("node wrote nothing for {ms} ms: stale", { ms: silent });
      this.#setPhase("stale");
    }
  }
}

/** Starts tailing the node's files and bootstrapping the book; see the module doc. */
export function startIngest(options: IngestOptions, events: IngestEvents): Ingest {
  const pipeline = new Pipeline(options, events);
  pipeline.start();
  return pipeline;
}
