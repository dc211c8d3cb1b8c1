/**
 * Bench section `users`: the per-block cost of the per-user streams at 1× load (the simulator's default
 * markets, ≈ mainnet BTC flow), and the memory of the fills history.
 *
 * Blocks are generated and parsed up front (the node's line format through hlbook's own parsers), then fed
 * to a Feed as the pipeline does (fills line, its trades, the book update), timing only the feed's work:
 * - baseline: no per-user subscription (the history, candles and open-order index still run: every fill and
 *   trade is recorded whoever watches);
 * - 1,000 watched users (every address that trades or places orders in the simulation, the rest idle), each
 *   with `orderUpdates` + `userFills` + `userEvents`, one client each, then five clients each (the message is
 *   serialised once per user and block, so five clients should cost little more than one).
 * Memory: heap bytes per kept fill and per candle (after two GCs), with `--v8-flags=--expose-gc`.
 * A first, discarded pass with 1,000 users warms the code up; then the three configurations get each block in
 * turn (rotating which goes first), so they are measured under the same load.
 *
 * @module
 */
import { Books } from "../src/book/mod.ts";
import type { BlockInput, Trade } from "../src/book/types.ts";
import { type ClientSink, Feed } from "../src/feed/mod.ts";
import { FillHistory } from "../src/feed/history.ts";
import { Candles } from "../src/feed/candles.ts";
import { TradeAssembler } from "../src/ingest/mod.ts";
import { Metrics } from "../src/metrics.ts";
import { type FillEvent, parseDiffLine, parseFillLine, parseStatusLine } from "../src/node/mod.ts";
import { blockLines, Simulator } from "../src/sim/mod.ts";
import { emit, fmt, heapMeter, note, quantile, type Row } from "./_common.ts";

const SECTION = "8 user streams";
const BLOCKS = 600;
const WARMUP = 100;
const USERS = 1000;

interface Prepared {
  readonly height: number;
  readonly fills: readonly FillEvent[];
  readonly trades: readonly Trade[];
  readonly input: BlockInput;
}

class CountingSink implements ClientSink {
  bufferedAmount = 0;
  messages = 0;
  bytes = 0;
  send(text: string): void {
    this.messages++;
    this.bytes += text.length;
  }
  close(): void {}
}

function prepare(): { snapshot: ReturnType<Simulator["snapshot"]>; blocks: Prepared[]; users: string[] } {
  const sim = new Simulator({ seed: 3, load: 1 });
  const snapshot = sim.snapshot();
  const assembler = new TradeAssembler("by-block");
  const users = new Set<string>();
  const blocks: Prepared[] = [];
  for (let i = 0; i < BLOCKS; i++) {
    const lines = blockLines(sim.step());
    const fills = parseFillLine(lines.fills);
    const statuses = parseStatusLine(lines.statuses);
    const diffs = parseDiffLine(lines.diffs);
    if (!fills.ok || !statuses.ok || !diffs.ok) throw new Error("sim line did not parse");
    for (const [user] of fills.batch.events) users.add(user);
    for (const d of diffs.batch.events) users.add(d.user);
    blocks.push({
      height: fills.batch.blockNumber,
      fills: fills.batch.events,
      trades: assembler.push(fills.batch).trades,
      input: {
        height: statuses.batch.blockNumber,
        time: statuses.batch.blockTime,
        statuses: statuses.batch.events,
        diffs: diffs.batch.events,
      },
    });
  }
  const all = [...users];
  for (let i = all.length; i < USERS; i++) all.push(`0x${i.toString(16).padStart(40, "0")}`);
  return { snapshot, blocks, users: all.slice(0, USERS) };
}

interface Rig {
  readonly books: Books;
  readonly feed: Feed;
  readonly sinks: CountingSink[];
  readonly ms: number[];
  statuses: number;
}

function rig(prepared: ReturnType<typeof prepare>, watched: number, clientsPerUser: number): Rig {
  const books = Books.fromSnapshot(prepared.snapshot);
  const feed = new Feed({ metrics: new Metrics() });
  feed.reset(books);
  feed.state({ phase: "ready", height: books.height, time: books.time });
  const sinks: CountingSink[] = [];
  for (const user of prepared.users.slice(0, watched)) {
    for (let c = 0; c < clientsPerUser; c++) {
      const sink = new CountingSink();
      sinks.push(sink);
      const client = feed.attach(sink, { maxSubscriptions: 10, maxBuffered: 1 << 30 });
      for (const type of ["orderUpdates", "userFills", "userEvents"]) {
        feed.handle(client, JSON.stringify({ method: "subscribe", subscription: { type, user } }));
      }
    }
  }
  for (const sink of sinks) sink.messages = sink.bytes = 0;
  return { books, feed, sinks, ms: [], statuses: 0 };
}

/**
 * Feeds every block to every rig in turn (the order rotating per block), so all configurations are measured
 * under the same machine load: their ratios are the reliable part on a shared machine.
 */
function runAll(prepared: ReturnType<typeof prepare>, rigs: readonly Rig[]): void {
  for (let i = 0; i < prepared.blocks.length; i++) {
    const b = prepared.blocks[i];
    for (let k = 0; k < rigs.length; k++) {
      const r = rigs[(i + k) % rigs.length];
      const result = r.books.applyBlock(b.input);
      if (!result.ok) throw new Error(result.error.message);
      const start = performance.now();
      r.feed.fills(b.height, b.fills);
      r.feed.trades(b.trades);
      r.feed.block(r.books, result.diff);
      if (i >= WARMUP) {
        r.ms.push(performance.now() - start);
        r.statuses += b.input.statuses.length;
      }
    }
  }
  for (const r of rigs) r.ms.sort((a, b) => a - b);
}

function memory(prepared: ReturnType<typeof prepare>): { perFill: number; perCandle: number } {
  const heap = heapMeter();
  const fills = prepared.blocks.flatMap((b) => b.fills.map((f) => [f[0], JSON.parse(JSON.stringify(f[1]))]));
  const limits = { historyMs: 1e12, fillsPerUser: 1e9, maxFills: 1e9, tradesPerCoin: 100 };
  const history = new FillHistory(limits);
  const base = heap();
  let n = 0;
  // Fresh copies so the strings are the history's own, as when parsed from the node's lines.
  for (let rep = 0; n < 100_000; rep++) {
    for (const [user, fill] of fills) {
      history.add(rep * 1000 + n, [[user as string, JSON.parse(JSON.stringify(fill))]]);
      n++;
    }
  }
  const perFill = (heap() - base) / n;
  if (history.size !== n || fills.length === 0) throw new Error("history lost fills");
  const candles = new Candles({ kept: 1e9 });
  const base2 = heap();
  let t = 0;
  const count = 100_000;
  for (let i = 0; i < count; i++) {
    t += 60_000;
    candles.addTrades([{
      coin: "BTC",
      side: "B",
      px: `${80000 + (i % 100)}.0`,
      sz: "0.001",
      hash: "0x",
      time: t,
      tid: i,
      users: ["a", "b"],
    }]);
  }
  // 14 intervals: the 1m series has `count` candles, the others fewer (≈ count × 1.55 in all).
  const total = [
    60_000,
    180_000,
    300_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    14_400_000,
    28_800_000,
    43_200_000,
    86_400_000,
    259_200_000,
    604_800_000,
    2_592_000_000,
  ]
    .reduce((a, len) => a + Math.ceil((count * 60_000) / len), 0);
  const perCandle = (heap() - base2) / total;
  if (candles.latest("BTC", "1m") === undefined || history.size !== n) throw new Error("candles lost");
  return { perFill, perCandle };
}

note(`generating ${BLOCKS} blocks at 1× load …`);
const prepared = prepare();
const statusesPerBlock = prepared.blocks.reduce((a, b) => a + b.input.statuses.length, 0) / BLOCKS;
const fillsPerBlock = prepared.blocks.reduce((a, b) => a + b.fills.length, 0) / BLOCKS;
note(
  `${fmt(statusesPerBlock, 0)} statuses and ${
    fmt(fillsPerBlock, 1)
  } fills per block; ${prepared.users.length} users`,
);
const runs = [
  { name: "no per-user subscription", watched: 0, clients: 1 },
  { name: `${USERS} watched users, 1 client each`, watched: USERS, clients: 1 },
  { name: `${USERS} watched users, 5 clients each`, watched: USERS, clients: 5 },
];
// One discarded pass first, so every measured run starts with the code compiled.
runAll(prepared, [rig(prepared, USERS, 1)]);
const rigs = runs.map((r) => rig(prepared, r.watched, r.clients));
runAll(prepared, rigs);
const results = runs.map((r, i) => {
  const out = rigs[i];
  const messages = out.sinks.reduce((a, s) => a + s.messages, 0);
  const bytes = out.sinks.reduce((a, s) => a + s.bytes, 0);
  note(
    `${r.name}: median ${fmt(quantile(out.ms, 0.5), 3)} ms, p99 ${
      fmt(quantile(out.ms, 0.99), 3)
    } ms per block; ` +
      `${fmt(messages / out.ms.length, 1)} messages per block`,
  );
  return { ...r, ms: out.ms, messages, bytes, statuses: out.statuses };
});
const mem = memory(prepared);
note(`history: ${fmt(mem.perFill, 0)} B per kept fill; candles: ${fmt(mem.perCandle, 0)} B per candle`);

const base = quantile(results[0].ms, 0.5);
const one = quantile(results[1].ms, 0.5);
const five = quantile(results[2].ms, 0.5);
const load = Deno.loadavg()[0].toFixed(1);
const rows: Row[] = [
  {
    section: SECTION,
    figure: "feed work per block, no per-user subscription (history + candles + order index)",
    target: "info",
    measured: `median ${fmt(base, 3)} ms, p99 ${fmt(quantile(results[0].ms, 0.99), 3)} ms (load ${load})`,
    pass: null,
    value: base,
  },
  {
    section: SECTION,
    figure: `added cost per block of ${USERS} watched users (orderUpdates + userFills + userEvents) at 1×`,
    target: "≤ 5 ms (7 % of a 67 ms block)",
    measured:
      `${fmt(one - base, 3)} ms (median ${fmt(one, 3)} ms, p99 ${
        fmt(quantile(results[1].ms, 0.99), 3)
      } ms; ` +
      `${fmt(results[1].messages / results[1].ms.length, 1)} messages per block)`,
    pass: one - base <= 5,
    value: one - base,
  },
  {
    section: SECTION,
    figure: "cost per status of a watched user (every status of the block is watched: the worst case)",
    target: "info",
    measured: `${fmt(((one - base) * 1000 * results[1].ms.length) / Math.max(1, results[1].statuses), 2)} µs`,
    pass: null,
  },
  {
    section: SECTION,
    figure: "5 clients per watched user instead of 1 (serialised once per user and block)",
    target: "≤ 2× the 1-client cost",
    measured: `median ${fmt(five, 3)} ms vs ${fmt(one, 3)} ms (${fmt(five / one, 2)}×)`,
    pass: five <= 2 * one,
    value: five / one,
  },
  {
    section: SECTION,
    figure: "memory of the history",
    target: "info",
    measured: `${fmt(mem.perFill, 0)} B per kept fill, ${fmt(mem.perCandle, 0)} B per candle`,
    pass: null,
    value: mem.perFill,
  },
];
emit(rows, {
  statusesPerBlock,
  fillsPerBlock,
  runs: results.map((r) => ({
    name: r.name,
    median: quantile(r.ms, 0.5),
    p99: quantile(r.ms, 0.99),
    messagesPerBlock: r.messages / r.ms.length,
    bytesPerBlock: r.bytes / r.ms.length,
  })),
  memory: mem,
});
