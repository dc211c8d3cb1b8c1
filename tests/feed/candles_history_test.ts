import assert from "node:assert/strict";
import { Feed, parseInfoRequest } from "../../src/feed/mod.ts";
import { backfillFills, TradeAssembler } from "../../src/ingest/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { parseFillLine } from "../../src/node/mod.ts";
import { hourlyPath, type SimBlock } from "../../src/sim/mod.ts";
import { activeUsers, SimFeed } from "./_user_harness.ts";

const MINUTE = 60_000;
const LENGTHS = { "1m": MINUTE, "5m": 5 * MINUTE, "1h": 60 * MINUTE } as const;
type Len = keyof typeof LENGTHS;

interface RefTrade {
  coin: string;
  px: string;
  sz: string;
  time: number;
}

/** Trades of a block from the simulator's fills: one per tid, buyer's fill. */
function tradesOf(block: SimBlock): RefTrade[] {
  return block.fills.filter(([, f]) => f.side === "B").map(([, f]) => f);
}

function units(s: string): bigint {
  const [i, f = ""] = s.split(".");
  return BigInt(i + f.padEnd(8, "0"));
}

function decimal(u: bigint): string {
  const s = u.toString().padStart(9, "0");
  const frac = s.slice(-8).replace(/0+$/, "");
  return `${s.slice(0, -8)}.${frac === "" ? "0" : frac}`;
}

/** Candles recomputed from trades, oldest first. */
function refCandles(trades: readonly RefTrade[], coin: string, interval: Len): unknown[] {
  const len = LENGTHS[interval];
  const out: {
    t: number;
    T: number;
    s: string;
    i: string;
    o: string;
    c: string;
    h: string;
    l: string;
    v: bigint;
    n: number;
  }[] = [];
  for (const tr of trades) {
    if (tr.coin !== coin) continue;
    const t = Math.floor(tr.time / len) * len;
    let c = out[out.length - 1];
    if (c === undefined || c.t !== t) {
      c = { t, T: t + len - 1, s: coin, i: interval, o: tr.px, c: tr.px, h: tr.px, l: tr.px, v: 0n, n: 0 };
      out.push(c);
    }
    c.c = tr.px;
    if (Number(tr.px) > Number(c.h)) c.h = tr.px;
    if (Number(tr.px) < Number(c.l)) c.l = tr.px;
    c.v += units(tr.sz);
    c.n++;
  }
  return out.map((c) => ({ ...c, v: decimal(c.v) }));
}

// One block every 4 s of simulated time: 500 blocks cross several 5m candles and an hour boundary.
const SIM = { seed: 21, load: 0.8, rate: 0.25 };

Deno.test("candles equal candles recomputed from the simulator's fills (1m, 5m, 1h)", async (t) => {
  const h = new SimFeed(SIM);
  const coins = ["BTC", "ETH"];
  const subs = coins.flatMap((coin) => (["1m", "5m", "1h"] as const).map((interval) => ({ coin, interval })));
  const { sink } = h.connect(...subs.map((s) => ({ type: "candle", ...s })));
  for (let i = 0; i < 500; i++) h.step();
  const blocks = h.blocks.map((b) => b.block);
  const trades = blocks.flatMap(tradesOf);
  assert.ok(blocks[blocks.length - 1].time - blocks[0].time > 60 * MINUTE / 2);

  await t.step("each block with trades of the coin sends the open candle as it is after that block", () => {
    for (const { coin, interval } of subs) {
      const got = sink.of("candle").map((m) => m.data).filter((c) => c.s === coin && c.i === interval);
      const withTrades = blocks.filter((b) => tradesOf(b).some((tr) => tr.coin === coin));
      assert.equal(got.length, withTrades.length, `${coin} ${interval} messages`);
      let upTo = 0;
      for (let k = 0; k < withTrades.length; k++) {
        while (upTo < blocks.length && blocks[upTo].height <= withTrades[k].height) upTo++;
        const ref = refCandles(blocks.slice(0, upTo).flatMap(tradesOf), coin, interval);
        assert.deepEqual(
          got[k],
          ref[ref.length - 1],
          `${coin} ${interval} after block ${withTrades[k].height}`,
        );
      }
    }
  });

  await t.step("candleSnapshot returns the same candles", () => {
    for (const { coin, interval } of subs) {
      const ref = refCandles(trades, coin, interval);
      assert.ok(
        ref.length >= (interval === "1m" ? 20 : interval === "5m" ? 4 : 2),
        `${coin} ${interval} candles`,
      );
      const got = h.info({
        type: "candleSnapshot",
        req: { coin, interval, startTime: 0, endTime: blocks[blocks.length - 1].time },
      });
      assert.deepEqual(got, ref);
      const mid = (ref[1] as { t: number }).t;
      assert.deepEqual(
        h.info({ type: "candleSnapshot", req: { coin, interval, startTime: mid } }),
        ref.slice(1),
      );
    }
  });

  await t.step("recentTrades returns the coin's latest trades with [buyer, seller]", () => {
    const btc = blocks.flatMap((b) =>
      b.fills.filter(([, f]) => f.coin === "BTC" && f.side === "B").map(([buyer, f]) => {
        const [seller, sf] = b.fills.find(([, g]) => g.tid === f.tid && g.side === "A") ?? ["", f];
        const taker = f.crossed ? "B" : sf.crossed ? "A" : "?";
        return {
          coin: "BTC",
          side: taker,
          px: f.px,
          sz: f.sz,
          time: f.time,
          hash: f.hash,
          tid: f.tid,
          users: [buyer, seller],
        };
      })
    );
    assert.ok(btc.length > 100);
    assert.deepEqual(h.info({ type: "recentTrades", coin: "BTC" }), btc.slice(-100));
  });
});

Deno.test("userFills with aggregateByTime merges the partial fills of one crossing order", () => {
  const h = new SimFeed({ seed: 4, load: 1 });
  for (let i = 0; i < 300; i++) h.step();
  const blocks = h.blocks.map((b) => b.block);
  const users = activeUsers(blocks, 40);
  let merged = 0;
  for (const user of users) {
    const fills = blocks.flatMap((b) => b.fills.filter(([u]) => u === user).map(([, f]) => f));
    const runs: (typeof fills)[] = [];
    for (const f of fills) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[0].oid === f.oid && last[0].time === f.time) last.push(f);
      else runs.push([f]);
    }
    const got = h.info({ type: "userFills", user, aggregateByTime: true });
    assert.equal(got.length, runs.length, user);
    const newestFirst = [...runs].reverse();
    for (let i = 0; i < runs.length; i++) {
      const run = newestFirst[i];
      const sz = run.reduce((a, f) => a + units(f.sz), 0n);
      const ntl = run.reduce((a, f) => a + units(f.px) * units(f.sz), 0n);
      assert.equal(got[i].sz, decimal(sz));
      assert.equal(got[i].px, decimal((2n * ntl + sz) / (2n * sz)));
      assert.equal(got[i].oid, run[0].oid);
      assert.equal(got[i].tid, run[0].tid);
      if (run.length > 1) merged++;
    }
  }
  assert.ok(merged > 0, "no crossing order took several makers");
});

/** Writes the blocks' fills lines as the node lays them out (hourly files by local time). */
async function writeFills(
  dir: string,
  blocks: readonly SimBlock[],
  lines: (b: SimBlock) => string,
): Promise<void> {
  const files = new Map<string, string[]>();
  for (const b of blocks) {
    const path = `${dir}/node_fills_by_block/hourly/${hourlyPath(b.localTime.fills)}`;
    if (!files.has(path)) files.set(path, []);
    files.get(path)?.push(lines(b));
  }
  for (const [path, text] of files) {
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, text.join("\n") + "\n");
  }
}

function liveFills(feed: Feed, fillLines: readonly string[]): void {
  const assembler = new TradeAssembler("by-block");
  for (const line of fillLines) {
    const parsed = parseFillLine(line);
    if (!parsed.ok) throw new Error(parsed.error);
    feed.fills(parsed.batch.blockNumber, parsed.batch.events);
    feed.trades(assembler.push(parsed.batch).trades);
  }
}

function answer(feed: Feed, request: object): unknown {
  const parsed = parseInfoRequest(request, null);
  if (!parsed.ok) throw new Error(parsed.error);
  const result = feed.info(parsed.request);
  if (!result.ok) throw new Error(result.error);
  return JSON.parse(result.json);
}

Deno.test("backfill from the node's files equals what a live run accumulated", async (t) => {
  const h = new SimFeed(SIM);
  for (let i = 0; i < 400; i++) h.step();
  const blocks = h.blocks.map((b) => b.block);
  const lineOf = new Map(h.blocks.map(({ block, lines }) => [block.height, lines.fills]));
  const users = activeUsers(blocks, 6);
  const dir = await Deno.makeTempDir({ prefix: "hlbook-backfill-" });
  try {
    await writeFills(dir, blocks, (b) => lineOf.get(b.height) ?? "");
    await Deno.writeTextFile(
      `${dir}/node_fills_by_block/hourly/${hourlyPath(blocks[0].localTime.fills)}`,
      "not json\n",
      {
        append: true,
      },
    );
    const requests = [
      ...users.map((user) => ({ type: "userFills", user })),
      ...users.map((user) => ({ type: "userFillsByTime", user, startTime: blocks[150].time })),
      ...["BTC", "SOL", "@107"].flatMap((coin) => [
        { type: "recentTrades", coin },
        ...["1m", "5m", "1h", "1d"].map((interval) => ({
          type: "candleSnapshot",
          req: { coin, interval, startTime: 0 },
        })),
      ]),
    ];
    const expected = requests.map((r) => answer(h.feed, r));

    await t.step("a fresh start reads every fill from disk", async () => {
      const feed = new Feed({ metrics: new Metrics() });
      const result = await backfillFills({ dataDir: dir, mode: "by-block", hours: 24 }, feed.backfill());
      assert.equal(result.malformed, 1);
      assert.equal(result.stoppedAt, null);
      assert.deepEqual(requests.map((r) => answer(feed, r)), expected);
      const since = blocks[200].time;
      const got = [...feed.history.history.fillsSince(since, "BTC")].map((e) => e.fill.tid);
      const want = blocks.flatMap((b) => b.fills).filter(([, f]) => f.time >= since && f.coin === "BTC")
        .map(([, f]) => f.tid);
      assert.deepEqual(got, want);
    });

    await t.step(
      "with the live stream already running, the backfill stops at its first block and merges",
      async () => {
        const feed = new Feed({ metrics: new Metrics() });
        const cut = 237;
        liveFills(feed, blocks.slice(cut).map((b) => lineOf.get(b.height) ?? ""));
        const result = await backfillFills({ dataDir: dir, mode: "by-block", hours: 24 }, feed.backfill());
        assert.equal(result.stoppedAt, blocks[cut].height);
        assert.deepEqual(requests.map((r) => answer(feed, r)), expected);
      },
    );

    await t.step("--history-hours 0 reads nothing; a missing directory is no error", async () => {
      const feed = new Feed({ metrics: new Metrics() });
      assert.equal(
        (await backfillFills({ dataDir: dir, mode: "by-block", hours: 0 }, feed.backfill())).lines,
        0,
      );
      const none = await backfillFills(
        { dataDir: `${dir}/nope`, mode: "streaming", hours: 24 },
        feed.backfill(),
      );
      assert.equal(none.files, 0);
      assert.deepEqual(answer(feed, { type: "userFills", user: users[0] }), []);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the history stays within its bounds", () => {
  const h = new SimFeed({ seed: 8, load: 0.5 }, {
    historyMs: 10_000,
    fillsPerUser: 5,
    maxFills: 300,
    tradesPerCoin: 7,
    candlesKept: 3,
  });
  for (let i = 0; i < 300; i++) h.step();
  const history = h.feed.history.history;
  assert.ok(history.size <= 300, `${history.size} fills kept`);
  const blocks = h.blocks.map((b) => b.block);
  const newest = blocks[blocks.length - 1].time;
  for (const e of history.fillsSince(0)) assert.ok(e.fill.time >= newest - 10_000);
  for (const user of activeUsers(blocks, 10)) {
    const fills = h.info({ type: "userFills", user });
    assert.ok(fills.length <= 5);
    const all = blocks.flatMap((b) => b.fills.filter(([u]) => u === user).map(([, f]) => f)).reverse();
    assert.deepEqual(fills, all.slice(0, fills.length));
  }
  assert.equal(h.info({ type: "recentTrades", coin: "BTC" }).length, 7);
  assert.ok(
    h.info({ type: "candleSnapshot", req: { coin: "BTC", interval: "1m", startTime: 0 } }).length <= 3,
  );
});
