/**
 * The core and its edges on their threads (`--edges`), end to end: the real `main.ts` over the simulated node,
 * clients that check every message against the simulator's own state at the block it names.
 *
 * - `--edges 0` (one thread), `1` (the core in a worker) and `2` (two edges sharing the port): every l2Book,
 *   trades and l4Book message equals the simulator at every block;
 * - with two edges, clients spread over both get identical payloads; a client that never reads on one edge
 *   does not hold back a client on the other;
 * - the core worker crashed mid-stream: clients keep their connections, are told, get fresh snapshots and end
 *   equal to the simulator; an edge worker crashed: its clients are closed (they reconnect), the other edge's
 *   carry on, and a new edge worker serves the port with the main thread.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { applyL4Updates, booksOfL4Snapshot } from "../feed/_helpers.ts";
import { RawSocket } from "../reliability/_fuzz.ts";
import { type Health, Hlbook } from "../_support/hlbook.ts";
import { l4SidesJson, type SimTruth, startRecordedNode } from "../_support/sim_truth.ts";
import { waitFor } from "../_support/wait.ts";
import { WsClient } from "../_support/ws_client.ts";
import type { Books } from "../../src/book/mod.ts";

const L2_COINS = ["BTC", "@107"];
const TRADES_COIN = "BTC";
const L4_COIN = "ETH";

/** One client watching l2Book of two coins, BTC trades and the ETH l4Book, checked against the truth. */
class Watcher {
  private constructor(readonly client: WsClient) {}

  static async open(url: string): Promise<Watcher> {
    const client = await WsClient.open(url, 10_000);
    for (const coin of L2_COINS) client.send({ method: "subscribe", subscription: { type: "l2Book", coin } });
    client.send({ method: "subscribe", subscription: { type: "trades", coin: TRADES_COIN } });
    client.send({ method: "subscribe", subscription: { type: "l4Book", coin: L4_COIN } });
    for (let i = 0; i < 4; i++) await client.nextOn("subscriptionResponse", 10_000);
    return new Watcher(client);
  }

  count(channel: string): number {
    return this.client.messages.filter((m) => m.channel === channel).length;
  }

  /** l4Book snapshots received. */
  snapshots(): number {
    return this.client.messages.filter((m) => m.channel === "l4Book" && m.data.Snapshot !== undefined).length;
  }

  /** l2Book text by `coin time`, trades text by first tid, l4Book Updates text by height. */
  payloads(): Map<string, string> {
    const out = new Map<string, string>();
    this.client.messages.forEach((m, i) => {
      const text = this.client.texts[i];
      if (m.channel === "l2Book") out.set(`l2 ${m.data.coin} ${m.data.time}`, text);
      else if (m.channel === "trades") out.set(`trades ${m.data[0].tid}`, text);
      else if (m.channel === "l4Book" && m.data.Updates) out.set(`l4 ${m.data.Updates.height}`, text);
    });
    return out;
  }

  /**
   * Checks every message so far against the truth; returns the trade ids received. `gapless`: every BTC trade
   * between the first and last received was received (false across a core restart, which re-bootstraps).
   */
  check(truth: SimTruth, gapless: boolean): Set<number> {
    const byTid = truth.tradeByTid();
    const tids = new Set<number>();
    let mirror: Books | null = null;
    let l2 = 0;
    this.client.messages.forEach((m, i) => {
      if (m.channel === "l2Book") {
        const expected = truth.bookAt(m.data.coin, m.data.time);
        assert.ok(
          expected !== undefined,
          `l2Book ${m.data.coin} at ${m.data.time}: a block of the simulator`,
        );
        assert.deepEqual(m.data.levels, expected, `l2Book ${m.data.coin} at ${m.data.time}`);
        l2++;
      } else if (m.channel === "trades") {
        for (const trade of m.data) {
          const expected = byTid.get(trade.tid);
          assert.ok(expected !== undefined, `trade ${trade.tid} is a simulated fill`);
          assert.deepEqual(trade, expected);
          assert.ok(!tids.has(trade.tid), `trade ${trade.tid} once`);
          tids.add(trade.tid);
        }
      } else if (m.channel === "l4Book") {
        let height: number;
        if (m.data.Snapshot !== undefined) {
          mirror = booksOfL4Snapshot(m.data.Snapshot);
          height = m.data.Snapshot.height;
        } else {
          assert.ok(mirror !== null, "l4Book Updates come after a snapshot");
          applyL4Updates(mirror, [this.client.texts[i]]);
          height = m.data.Updates.height;
        }
        const expected = truth.l4.get(height)?.get(L4_COIN);
        assert.ok(expected !== undefined, `l4Book at ${height}: a block of the simulator`);
        assert.equal(l4SidesJson((mirror as Books).l4(L4_COIN)), expected, `l4Book ${L4_COIN} at ${height}`);
      }
    });
    assert.ok(l2 > 0 && mirror !== null, "l2Book and l4Book messages were received");
    if (gapless && tids.size > 0) {
      const times = [...tids].map((tid) => (byTid.get(tid) as { time: number }).time);
      const [first, last] = [Math.min(...times), Math.max(...times)];
      const all = [...byTid.values()].filter((t) =>
        t.coin === TRADES_COIN && t.time >= first && t.time <= last
      );
      assert.deepEqual(all.map((t) => t.tid).sort(), [...tids].sort(), "every trade in between");
    }
    return tids;
  }
}

/** Two watchers' payloads agree on everything both received; returns how many they share. */
function assertSamePayloads(a: Watcher, b: Watcher): number {
  const theirs = b.payloads();
  let shared = 0;
  for (const [key, text] of a.payloads()) {
    const other = theirs.get(key);
    if (other === undefined) continue;
    assert.equal(other, text, key);
    shared++;
  }
  return shared;
}

interface Running {
  readonly hlbook: Hlbook;
  readonly truth: SimTruth;
  readonly coins: readonly string[];
}

async function withHlbook(
  edges: number,
  options: { seed: number; env?: Record<string, string>; extra?: string[] },
  fn: (running: Running) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hlbook-edges-" });
  const { node, truth } = await startRecordedNode(join(dir, "data"), {
    seed: options.seed,
    l4Coins: [L4_COIN],
  });
  let hlbook: Hlbook | null = null;
  try {
    hlbook = await Hlbook.start({
      dataDir: join(dir, "data"),
      infoUrl: node.infoUrl ?? "",
      snapshotPath: join(dir, "snapshot.json"),
      stallTimeout: 5,
      extra: [`--edges=${edges}`, ...(options.extra ?? [])],
      env: options.env,
    });
    const server = hlbook;
    await waitFor("hlbook's book live", async () => (await server.health()).ready, 30_000);
    await fn({ hlbook, truth, coins: node.sim.specs.map((s) => s.name) });
  } finally {
    await hlbook?.close();
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens watchers until every edge has at least one (the kernel spreads connections); bounded. */
async function watchersOnEveryEdge(hlbook: Hlbook, edges: number): Promise<Watcher[]> {
  const watchers: Watcher[] = [];
  const already = (await hlbook.health()).clients;
  for (;;) {
    for (let i = 0; i < 2; i++) watchers.push(await Watcher.open(hlbook.wsUrl));
    const health = await waitFor(
      `/health counting ${already + watchers.length} clients`,
      async () => {
        const h = await hlbook.health();
        return h.clients === already + watchers.length ? h : null;
      },
      10_000,
    );
    const spread = health.edgeClients ?? [];
    if (spread.length === edges && spread.every((n) => n > 0)) return watchers;
    assert.ok(watchers.length < 40, `${watchers.length} connections all on some edges: ${spread}`);
  }
}

async function closeAll(watchers: readonly Watcher[]): Promise<void> {
  await Promise.all(watchers.map((w) => w.client.close()));
}

Deno.test({
  name: "--edges 0 and 1: every l2Book, trades and l4Book message equals the simulator at its block",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    for (const edges of [0, 1]) {
      await t.step(`--edges ${edges}`, async () => {
        await withHlbook(edges, { seed: 31 + edges }, async ({ hlbook, truth }) => {
          const watchers = [await Watcher.open(hlbook.wsUrl), await Watcher.open(hlbook.wsUrl)];
          try {
            await waitFor(
              "40 l2Book messages each",
              () => watchers.every((w) => w.count("l2Book") >= 40),
              30_000,
            );
            for (const w of watchers) w.check(truth, true);
            assert.ok(assertSamePayloads(watchers[0], watchers[1]) >= 30, "the two clients share payloads");
            const health = await hlbook.health();
            assert.equal(health.clients, 2);
            assert.equal(health.subscriptions, 8);
          } finally {
            await closeAll(watchers);
          }
        });
      });
    }
  },
});

Deno.test({
  name:
    "--edges 2: clients on both edges get the simulator's books and identical payloads, a slow client on one edge holds back none on the other, core and edge worker crashes are survived",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    // --max-buffered 1 MiB: the client that never reads is closed within seconds, while the reading clients stay
    // far below the 128 KiB at which their l2Book would be conflated.
    await withHlbook(
      2,
      { seed: 37, env: { HLBOOK_DEBUG_CRASH: "1" }, extra: ["--max-buffered=1MiB"] },
      async ({ hlbook, truth, coins }) => {
        const watchers = await watchersOnEveryEdge(hlbook, 2);
        try {
          await t.step("every message equals the simulator; both edges send the same payloads", async () => {
            await waitFor(
              "40 l2Book messages each",
              () => watchers.every((w) => w.count("l2Book") >= 40),
              30_000,
            );
            for (const w of watchers) w.check(truth, true);
            for (const w of watchers.slice(1)) {
              assert.ok(assertSamePayloads(watchers[0], w) >= 30, "clients share payloads");
            }
            const metrics = await hlbook.metrics();
            assert.equal(metrics.get("hlbook_clients"), watchers.length, "/metrics sums the edges' clients");
            assert.ok((metrics.get("hlbook_fanout_ms_count") ?? 0) > 0, "/metrics has the core's figures");
          });

          await t.step(
            "a client that never reads on one edge does not hold back a client on the other",
            async () => {
              const before = (await hlbook.health()).edgeClients ?? [];
              const slow = await RawSocket.open(hlbook.port);
              try {
                const after = await waitFor("the slow client counted", async () => {
                  const h = await hlbook.health();
                  return h.clients === watchers.length + 1 ? h.edgeClients ?? [] : null;
                }, 10_000);
                // Every coin's l4Book and many l2Book views: far more than it will ever read.
                for (const coin of coins) {
                  await slow.send(
                    1,
                    JSON.stringify({ method: "subscribe", subscription: { type: "l4Book", coin } }),
                  );
                  for (const nSigFigs of [2, 3, 4, 5]) {
                    await slow.send(
                      1,
                      JSON.stringify({
                        method: "subscribe",
                        subscription: { type: "l2Book", coin, nSigFigs },
                      }),
                    );
                  }
                }
                const slowEdge = after.findIndex((n, i) => n > (before[i] ?? 0));
                assert.ok(slowEdge >= 0, `the slow client's edge in ${before} → ${after}`);
                await waitFor(
                  "the slow client closed as too slow",
                  async () => (await hlbook.metric("hlbook_closed_slow_total")) >= 1,
                  30_000,
                );
                // Every other client (on either edge) kept getting every block's l2Book unconflated and right
                // meanwhile (conflation would skip blocks): their messages cover every block the book changed in.
                for (const w of watchers) w.check(truth, true);
                for (const w of watchers) {
                  const times = w.client.messages.filter((m) =>
                    m.channel === "l2Book" && m.data.coin === "BTC"
                  )
                    .map((m) => m.data.time as number);
                  const changed = changedTimes(truth, "BTC", times[0], times[times.length - 1]);
                  assert.deepEqual(
                    times.filter((x) => changed.has(x)).length,
                    changed.size,
                    "no block skipped",
                  );
                }
                assert.ok(watchers.every((w) => w.client.closed === null), "every other client is connected");
              } finally {
                slow.close();
              }
            },
          );

          await t.step(
            "the core worker crashes mid-stream: clients stay, are told, and end equal",
            async () => {
              const l2Before = watchers.map((w) => w.count("l2Book"));
              const snapshotsBefore = watchers.map((w) => w.snapshots());
              const unready: Health[] = [];
              let polling = true;
              const poller = (async () => {
                while (polling) {
                  const health = await hlbook.health().catch(() => null);
                  if (health !== null && !health.ready) unready.push(health);
                  await new Promise((resolve) => setTimeout(resolve, 25));
                }
              })();
              Deno.kill(hlbook.pid, "SIGUSR2");
              try {
                await waitFor(
                  "every client told the feed re-syncs",
                  () =>
                    watchers.every((w) =>
                      w.client.messages.some((m) =>
                        m.channel === "hlbookStatus" && m.data.phase === "resyncing"
                      )
                    ),
                  10_000,
                );
                await waitFor(
                  "a fresh l4Book snapshot each",
                  () => watchers.every((w, i) => w.snapshots() > snapshotsBefore[i]),
                  30_000,
                );
                await waitFor(
                  "40 more l2Book messages each",
                  () => watchers.every((w, i) => w.count("l2Book") >= l2Before[i] + 40),
                  30_000,
                );
              } finally {
                polling = false;
                await poller;
              }
              assert.ok(watchers.every((w) => w.client.closed === null), "every client kept its connection");
              for (const w of watchers) w.check(truth, false);
              assert.ok(unready.length > 0, "/health said not ready while the core restarted");
              assert.ok(
                unready.some((h) => h.reason === "the feed's core is restarting" || h.phase === "resyncing"),
                JSON.stringify(unready[0]),
              );
              assert.equal(await hlbook.metric("hlbook_core_restarts_total"), 1);
              assert.equal(hlbook.matching(/the core worker crashed/).length, 1, "one log line");
              assert.ok((await hlbook.health()).ready, "ready again");
            },
          );

          await t.step(
            "an edge worker crashes: its clients are closed, the other edge's carry on, a new one serves",
            async () => {
              const spread = (await hlbook.health()).edgeClients ?? [];
              assert.equal(spread.length, 2);
              const l2Before = watchers.map((w) => w.count("l2Book"));
              Deno.kill(hlbook.pid, "SIGUSR1");
              await waitFor(
                `the ${spread[1]} clients of edge 2 closed`,
                () => watchers.filter((w) => w.client.closed !== null).length === spread[1],
                10_000,
              );
              const open = watchers.filter((w) => w.client.closed === null);
              assert.equal(open.length, spread[0], "the main thread's clients are connected");
              await waitFor(
                "20 more l2Book messages on the other edge",
                () => open.every((w) => w.count("l2Book") >= l2Before[watchers.indexOf(w)] + 20),
                30_000,
              );
              for (const w of watchers) w.check(truth, false);
              assert.equal(await hlbook.metric("hlbook_edge_restarts_total"), 1);
              assert.equal(hlbook.matching(/edge worker 2 crashed/).length, 1, "one log line");
              const fresh = await watchersOnEveryEdge(hlbook, 2);
              watchers.push(...fresh);
              await waitFor(
                "20 l2Book messages each on the new edge too",
                () => fresh.every((w) => w.count("l2Book") >= 20),
                30_000,
              );
              for (const w of fresh) w.check(truth, true);
            },
          );
        } finally {
          await closeAll(watchers);
        }
      },
    );
  },
});

/** Block times in [from, to] at which `coin`'s top-20 levels differ from the block before. */
function changedTimes(truth: SimTruth, coin: string, from: number, to: number): Set<number> {
  const out = new Set<number>();
  const heights = [...truth.byTime.entries()].filter(([time]) => time >= from && time <= to)
    .sort((a, b) => a[1] - b[1]);
  for (const [time, height] of heights) {
    const now = truth.books.get(height)?.get(coin);
    const before = truth.books.get(height - 1)?.get(coin);
    if (before !== undefined && JSON.stringify(now) !== JSON.stringify(before)) out.add(time);
  }
  return out;
}
