/**
 * Start-up backfill of fills: reads the node's own hourly fills files of the last `hours` hours from disk,
 * oldest first, and hands each line's fills and trades to a target (the feed's history), so `userFills`
 * snapshots, `userFillsByTime`, `recentTrades` and candles cover the past, not only what arrived since start.
 *
 * It runs beside the live tail and never races it: it stops at the first block the live stream delivered, and
 * before that is known it only takes lines whose block time is clearly older than its own start (the live tail
 * began at the end of the files then). Reading is streamed line by line and yields to the event loop regularly,
 * so memory stays bounded by the history's own limits and serving never stalls.
 *
 * @module
 */
import { logger } from "../log.ts";
import { type FillEvent, parseFillLine } from "../node/mod.ts";
import type { Trade } from "../book/types.ts";
import { TradeAssembler } from "./aligner.ts";

const log = logger("ingest");

/** Where the backfilled fills go (the feed's `backfill()` sink fits). */
export interface BackfillTarget {
  /** Block of the first fills line the live stream delivered, -1 while none. */
  liveFirstBlock(): number;
  fills(block: number, events: readonly FillEvent[]): void;
  trades(trades: readonly Trade[]): void;
  /** Called once at the end (also after an early stop): merge what was read. */
  done(): void;
}

/** What to backfill. */
export interface BackfillOptions {
  /** The node's data directory (holding `node_fills_by_block/` or `node_fills_streaming/`). */
  readonly dataDir: string;
  readonly mode: "by-block" | "streaming";
  /** Hours of files before the newest one's hour to read (0 = none). */
  readonly hours: number;
  readonly signal?: AbortSignal;
  /** Lines whose block time is newer than start − this (ms) wait until the live stream has begun (default 5000). */
  readonly liveMargin?: number;
  /** Longest wait for the live stream's first block before giving up on the newest lines (ms, default 30000). */
  readonly liveWait?: number;
}

/** What a backfill did. */
export interface BackfillResult {
  readonly files: number;
  readonly lines: number;
  readonly fills: number;
  readonly malformed: number;
  /** First block not taken because the live stream has it, or null when the files ended first. */
  readonly stoppedAt: number | null;
}

const HOUR = 3600_000;

/** The hourly files `<dir>/YYYYMMDD/H` with their hour's start, oldest first. */
async function hourlyFiles(dir: string): Promise<{ path: string; start: number }[]> {
  const files: { path: string; start: number }[] = [];
  try {
    for await (const date of Deno.readDir(dir)) {
      const m = /^(\d{4})(\d{2})(\d{2})$/.exec(date.name);
      if (!date.isDirectory || m === null) continue;
      for await (const hour of Deno.readDir(`${dir}/${date.name}`)) {
        if (!hour.isFile || !/^\d{1,2}$/.test(hour.name) || Number(hour.name) > 23) continue;
        files.push({
          path: `${dir}/${date.name}/${hour.name}`,
          start: Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(hour.name)),
        });
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return files.sort((a, b) => a.start - b.start);
}

/** Complete lines of a file as it is now (an unfinished last line is left to the live tail). */
async function* fileLines(path: string, signal?: AbortSignal): AsyncGenerator<string> {
  using file = await Deno.open(path, { read: true });
  const decoder = new TextDecoder();
  let rest = "";
  const buffer = new Uint8Array(1 << 20);
  for (;;) {
    if (signal?.aborted) return;
    const n = await file.read(buffer);
    if (n === null) return;
    rest += decoder.decode(buffer.subarray(0, n), { stream: true });
    let start = 0;
    for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n", start)) {
      yield rest.slice(start, nl);
      start = nl + 1;
    }
    rest = rest.slice(start);
  }
}

/** Reads the last `hours` hours of fills files into `target`; never throws for bad lines or missing files. */
export async function backfillFills(
  options: BackfillOptions,
  target: BackfillTarget,
): Promise<BackfillResult> {
  const started = Date.now();
  const margin = options.liveMargin ?? 5000;
  const liveWait = options.liveWait ?? 30_000;
  const suffix = options.mode === "by-block" ? "by_block" : "streaming";
  const assembler = new TradeAssembler(options.mode);
  let files = 0;
  let lines = 0;
  let fills = 0;
  let malformed = 0;
  let stoppedAt: number | null = null;
  try {
    if (options.hours <= 0) return { files, lines, fills, malformed, stoppedAt };
    const all = await hourlyFiles(`${options.dataDir}/node_fills_${suffix}/hourly`);
    if (all.length === 0) return { files, lines, fills, malformed, stoppedAt };
    const from = all[all.length - 1].start - options.hours * HOUR;
    outer: for (const { path, start } of all) {
      if (start < from) continue;
      files++;
      for await (const text of fileLines(path, options.signal)) {
        if (++lines % 2000 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
        if (options.signal?.aborted) break outer;
        const parsed = parseFillLine(text);
        if (!parsed.ok) {
          malformed++;
          continue;
        }
        const batch = parsed.batch;
        let live = target.liveFirstBlock();
        if (live < 0 && batch.blockTime > started - margin) {
          const deadline = Date.now() + liveWait;
          while (live < 0 && Date.now() < deadline && !options.signal?.aborted) {
            await new Promise((resolve) => setTimeout(resolve, 50));
            live = target.liveFirstBlock();
          }
          if (live < 0) {
            stoppedAt = batch.blockNumber;
            break outer;
          }
        }
        if (live >= 0 && batch.blockNumber >= live) {
          stoppedAt = batch.blockNumber;
          break outer;
        }
        target.fills(batch.blockNumber, batch.events);
        fills += batch.events.length;
        const { trades } = assembler.push(batch);
        if (trades.length > 0) target.trades(trades);
      }
    }
  } catch (error) {
    log.warn("fills backfill stopped: {error}", { error: String(error) });
  } finally {
    target.done();
  }
  log.info("backfilled {fills} fills from {files} hourly file(s) ({lines} lines, {malformed} malformed)", {
    fills,
    files,
    lines,
    malformed,
  });
  return { files, lines, fills, malformed, stoppedAt };
}
