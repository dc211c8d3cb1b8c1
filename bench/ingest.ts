/**
 * Section 1, ingest: the cached 10×-load node files replayed with no clients, against bare `JSON.parse` of the
 * same lines in the same process:
 * - `replay()` from src/ingest as shipped (its file reader, parse → align → apply, fills → trades);
 * - the same parse → align → apply (`parseStatusLine`/`parseDiffLine` → `BlockAligner` → `Books.applyBlock`,
 *   plus `parseFillLine` → `TradeAssembler`) fed with each line's bytes (as the tailer hands them over) from
 *   whole-file reads, to separate the reader's cost.
 *
 * @module
 */
import { join } from "node:path";
import { Books, type SnapshotFile } from "../src/book/mod.ts";
import { BlockAligner, replay, TradeAssembler } from "../src/ingest/mod.ts";
import { decodeLine, parseDiffLine, parseFillLine, parseStatusLine } from "../src/node/mod.ts";
import { cpuSeconds, emit, fmt, generate, median, note, smallDataDir, walk } from "./_common.ts";

/** Blocks replayed (at 15 blocks/s: 2 s of chain, ≈ 370 k events). */
const BLOCKS = Number(Deno.env.get("BENCH_INGEST_BLOCKS") ?? 30);
/** Rounds of JSON.parse and parse → align → apply, and of replay() and JSON.parse (interleaved; medians). */
const ROUNDS = Number(Deno.env.get("BENCH_INGEST_ROUNDS") ?? 3);
/**
 * Unreported rounds first, the same for both sides (JSON.parse and the pipeline; JSON.parse and replay()): the
 * figure is the steady state of a long-running ingest, not the JIT's first pass over each function.
 */
const WARMUP = Number(Deno.env.get("BENCH_INGEST_WARMUP") ?? 1);

const { dir, meta } = await generate();
const dataDir = await smallDataDir(dir, BLOCKS);
const snapshot = JSON.parse(
  await Deno.readTextFile(join(dir, `snap-${meta.startHeight}.json`)),
) as SnapshotFile;
const chainSeconds = meta.blocks / 15;
const statusRate = meta.statuses / chainSeconds;
const diffRate = meta.diffs / chainSeconds;
note(
  `ingest: ${BLOCKS} blocks of ${fmt(statusRate, 0)} statuses/s + ${
    fmt(diffRate, 0)
  } diffs/s (chain time), ${meta.coins.length} coins`,
);

async function readLines(stream: string, each: (bytes: Uint8Array) => void): Promise<void> {
  for await (const file of walk(join(dataDir, `node_${stream}_by_block`))) {
    const bytes = await Deno.readFile(file);
    let start = 0;
    for (let end = bytes.indexOf(10); end >= 0; end = bytes.indexOf(10, start)) {
      each(bytes.subarray(start, end));
      start = end + 1;
    }
  }
}

/** Seconds (wall and CPU) spent in `JSON.parse` over every line of the three streams (reading and decoding not counted). */
async function parseOnly(): Promise<{ seconds: number; cpu: number }> {
  let spent = 0;
  let cpu = 0;
  for (const stream of ["fills", "raw_book_diffs", "order_statuses"]) {
    await readLines(stream, (bytes) => {
      const line = decodeLine(bytes) as string;
      const c0 = cpuSeconds();
      const t0 = performance.now();
      JSON.parse(line);
      spent += performance.now() - t0;
      cpu += cpuSeconds() - c0;
    });
  }
  return { seconds: spent / 1000, cpu };
}

/** parse → align → apply from whole-file reads: seconds, wall and CPU (reading not counted), and events applied. */
async function pipelineOnly(): Promise<{ seconds: number; cpu: number; events: number }> {
  const books = Books.fromSnapshot(snapshot);
  let events = 0;
  let failure: string | null = null;
  const aligner = new BlockAligner({
    mode: "by-block",
    maxPending: Number.MAX_SAFE_INTEGER,
    skipFirstBlock: false,
    onBlock: (block) => {
      if (block.height <= books.height) return;
      const result = books.applyBlock(block);
      if (!result.ok) failure ??= result.error.message;
      events += block.statuses.length + block.diffs.length;
    },
    onFault: (fault) => (failure ??= fault.message),
  });
  const statusLines: Uint8Array[] = [];
  const diffLines: Uint8Array[] = [];
  const fillLines: Uint8Array[] = [];
  await readLines("order_statuses", (b) => statusLines.push(b));
  await readLines("raw_book_diffs", (b) => diffLines.push(b));
  await readLines("fills", (b) => fillLines.push(b));
  const c0 = cpuSeconds();
  const t0 = performance.now();
  for (let i = 0; i < Math.max(statusLines.length, diffLines.length); i++) {
    // the node writes diffs before statuses
    if (i < diffLines.length) {
      const r = parseDiffLine(diffLines[i]);
      if (!r.ok) throw new Error(r.error);
      aligner.pushDiffs(r.batch);
    }
    if (i < statusLines.length) {
      const r = parseStatusLine(statusLines[i]);
      if (!r.ok) throw new Error(r.error);
      aligner.pushStatuses(r.batch);
    }
  }
  const trades = new TradeAssembler("by-block");
  for (const line of fillLines) {
    const r = parseFillLine(line);
    if (!r.ok) throw new Error(r.error);
    trades.push(r.batch);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - c0;
  if (failure) throw new Error(`pipeline: ${failure}`);
  return { seconds, cpu, events };
}

const replayRatios: number[] = [];
const pipeRatios: number[] = [];
const replayRates: number[] = [];
const pipeRates: number[] = [];
const parseRates: number[] = [];
/**
 * The same ratios from this process's CPU time (`cpuSeconds`: every thread, V8's GC and compiler helpers too):
 * info, steadier than the wall clock, which also counts the time other processes held the cores.
 */
const pipeCpuRatios: number[] = [];
const replayCpuRatios: number[] = [];
for (let round = -WARMUP; round < ROUNDS; round++) {
  const parse = await parseOnly();
  const pipe = await pipelineOnly();
  const ratio = parse.seconds / pipe.seconds;
  const cpuRatio = parse.cpu / pipe.cpu;
  note(
    `  ${round < 0 ? "warm-up" : `round ${round + 1}`}: ${fmt(pipe.events, 0)} events; JSON.parse alone ` +
      `${parse.seconds.toFixed(2)} s; parse→align→apply ${pipe.seconds.toFixed(2)} s (ratio ${
        ratio.toFixed(2)
      }; CPU ${parse.cpu.toFixed(2)} s vs ${pipe.cpu.toFixed(2)} s, ratio ${cpuRatio.toFixed(2)})`,
  );
  if (round < 0) continue;
  pipeRates.push(pipe.events / pipe.seconds);
  parseRates.push(pipe.events / parse.seconds);
  pipeRatios.push(ratio);
  pipeCpuRatios.push(cpuRatio);
}
for (let round = -WARMUP; round < ROUNDS; round++) {
  // replay() loads the snapshot first (not in its seconds): its CPU is measured alone and taken off.
  let c0 = cpuSeconds();
  Books.fromSnapshot(snapshot);
  const loadCpu = cpuSeconds() - c0;
  c0 = cpuSeconds();
  const result = await replay({ dataDir, snapshot });
  const replayCpu = cpuSeconds() - c0 - loadCpu;
  if (result.blocks !== BLOCKS) throw new Error(`replayed ${result.blocks} of ${BLOCKS} blocks`);
  const parse = await parseOnly();
  const ratio = parse.seconds / result.seconds;
  const cpuRatio = parse.cpu / replayCpu;
  note(
    `  ${round < 0 ? "warm-up" : `round ${round + 1}`}: replay() ${result.seconds.toFixed(2)} s, ` +
      `JSON.parse ${parse.seconds.toFixed(2)} s (ratio ${ratio.toFixed(2)}; CPU ${
        parse.cpu.toFixed(2)
      } s vs ` +
      `${replayCpu.toFixed(2)} s, ratio ${cpuRatio.toFixed(2)})`,
  );
  if (round < 0) continue;
  replayRates.push(result.events / result.seconds);
  replayRatios.push(ratio);
  replayCpuRatios.push(cpuRatio);
}
const needed = statusRate + diffRate;
const rowRate = (figure: string, rate: number) => ({
  section: "1 ingest",
  figure,
  target: `≥ ${fmt(needed / 1000, 0)} k/s (10× mainnet in real time)`,
  measured: `${fmt(rate / 1000, 0)} k events/s (${fmt(rate / needed, 1)}× real time)`,
  pass: rate >= needed,
  value: rate,
});
const rowRatio = (figure: string, ratio: number, target: number, note: string) => ({
  section: "1 ingest",
  figure,
  target: `≥ ${target}`,
  measured: `${ratio.toFixed(2)}${note}`,
  pass: ratio >= target,
  value: ratio,
});
emit([
  rowRate(
    `replay() events/s, no clients (${meta.coins.length} coins, ${BLOCKS} blocks)`,
    median(replayRates),
  ),
  rowRatio(
    "replay() ÷ bare JSON.parse of the same lines",
    median(replayRatios),
    1.2,
    ` (JSON.parse alone ${fmt(median(parseRates) / 1000, 0)} k events/s; CPU-time ratio ${
      median(replayCpuRatios).toFixed(2)
    })`,
  ),
  rowRatio(
    "parse → align → apply (whole-file reads) ÷ JSON.parse",
    median(pipeRatios),
    1.5,
    ` (${fmt(median(pipeRates) / 1000, 0)} k events/s; CPU-time ratio ${median(pipeCpuRatios).toFixed(2)})`,
  ),
], {
  replayRates,
  pipeRates,
  parseRates,
  replayRatios,
  pipeRatios,
  replayCpuRatios,
  pipeCpuRatios,
  blocks: BLOCKS,
  statusRate,
  diffRate,
});
