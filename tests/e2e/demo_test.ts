/**
 * End to end on the simulated node: the real `main.ts` follows the simulator's files and info server, and
 * what it serves over the WebSocket (l4Book snapshot + updates, l2Book, trades) must equal the simulator's
 * own book and fills at the same height, for every coin, perp and spot. A second test runs `demo.ts` itself.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { L4Order, Level, NodeOrder, SnapshotFile, Trade } from "../../src/book/types.ts";
import { type SimBlock, type Simulator, startSimNode } from "../../src/sim/mod.ts";
import { RefBooks } from "../sim/_replay.ts";
import { L4_ORDER_KEYS } from "../feed/_helpers.ts";
import { startDemo, Subprocess } from "../_support/process.ts";
import { waitFor } from "../_support/wait.ts";
import { WsClient } from "../_support/ws_client.ts";
import { l2Of, tradesOf } from "../_support/sim_truth.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** The permission flags of a deno.json task, so the tests catch a program that needs more than its task grants. */
async function taskPermissions(task: "start" | "demo"): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const flags = String(config.tasks[task]).split(/\s+/).filter((word) => word.startsWith("--allow-"));
  assert.ok(flags.length > 0, `deno task ${task} has permission flags`);
  return flags;
}

async function healthy(port: number): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  const health = await response.json();
  return health.ready === true;
}

/** Only the L4 fields (the node's order status carries more). */
function l4(order: L4Order | (NodeOrder & { user: string })): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of L4_ORDER_KEYS) out[key] = (order as unknown as Record<string, unknown>)[key];
  return out;
}

interface Truth {
  readonly height: number;
  readonly time: number;
  readonly books: Map<string, readonly [readonly L4Order[], readonly L4Order[]]>;
  readonly trades: Trade[];
}

Deno.test({
  name:
    "hlbook on the simulated node serves the simulator's books and trades for every coin, block after block",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "hlbook-e2e-sim-" });
    const truth = new Map<number, Truth>();
    const byTime = new Map<number, number>();
    const record = (block: SimBlock, sim: Simulator) => {
      const books = new Map(sim.coins().map((c) => [c, sim.l4(c)] as const));
      truth.set(block.height, { height: block.height, time: block.time, books, trades: tradesOf(block) });
      byTime.set(block.time, block.height);
    };
    const live = await startSimNode({
      dataDir: join(dir, "data"),
      infoPort: 0,
      rate: 15,
      load: 0.15,
      seed: 99,
      stagger: true, // lines of one block at different moments, each in two parts, as a live node writes
      onBlock: record,
    });
    // the initial book (no block written yet) is the truth at the start height
    truth.set(live.height, {
      height: live.height,
      time: live.sim.time,
      books: new Map(live.sim.coins().map((c) => [c, live.sim.l4(c)] as const)),
      trades: [],
    });
    let server: Subprocess | null = null;
    let socket: WsClient | null = null;
    try {
      {
        server = new Subprocess([
          "run",
          ...await taskPermissions("start"),
          MAIN,
          `--data-dir=${join(dir, "data")}`,
          `--info-url=${live.infoUrl}`,
          `--snapshot-path=${join(dir, "snapshot.json")}`,
          "--port=0",
          "--address=127.0.0.1",
          "--log-level=info",
        ]);
        const port = await server.port(/listening on http:\/\//);
        await waitFor("hlbook /health ready", () => healthy(port), 30_000);

        socket = await WsClient.open(`ws://127.0.0.1:${port}/ws`);
        const ws = socket;
        const messages = ws.messages;
        const coins = live.sim.coins();
        for (const coin of coins) {
          for (
            const subscription of [{ type: "l4Book", coin }, { type: "l2Book", coin, nLevels: 100 }, {
              type: "trades",
              coin,
            }]
          ) {
            ws.send({ method: "subscribe", subscription });
          }
        }
        const subscribedAt = live.height;
        await waitFor("4 s of blocks", () => live.height >= subscribedAt + 60, 15_000);
        await live.stop();
        // The node stopped: once hlbook is at its last block and a ping has come back, every message about
        // the blocks it wrote has arrived.
        const last = live.height;
        await waitFor(`hlbook at the node's last block ${last}`, async () => {
          const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
          return health.height >= last;
        }, 15_000);
        await ws.settled();

        const errors = messages.filter((m) => m.channel === "error");
        assert.deepEqual(errors, [], "no error messages");

        await t.step(
          "l4Book snapshot + updates equal the simulator's book after every block, every coin",
          () => {
            let compared = 0;
            for (const coin of coins) {
              let books: RefBooks | null = null;
              for (const m of messages) {
                if (m.channel !== "l4Book") continue;
                // deno-lint-ignore no-explicit-any
                const data = m.data as any;
                if (data.Snapshot) {
                  if (data.Snapshot.coin !== coin) continue;
                  const [bids, asks] = data.Snapshot.levels as [L4Order[], L4Order[]];
                  const file = [data.Snapshot.height, [[coin, [
                    bids.map((o) => [o.user, o]),
                    asks.map((o) => [o.user, o]),
                  ]]]] as unknown as SnapshotFile;
                  books = new RefBooks(file);
                } else if (books) {
                  const u = data.Updates;
                  const statuses = u.order_statuses.filter((s: { order: { coin: string } }) =>
                    s.order.coin === coin
                  );
                  const diffs = u.book_diffs.filter((d: { coin: string }) => d.coin === coin);
                  if (
                    statuses.length + diffs.length === 0 && u.order_statuses.length + u.book_diffs.length > 0
                  ) {
                    continue; // another coin's update
                  }
                  books.height = u.height - 1;
                  books.apply(u.height, u.time, statuses, diffs);
                } else continue;
                const expected = truth.get((books as RefBooks).height);
                if (!expected) continue; // before recording began
                const [bids, asks] = expected.books.get(coin) ?? [[], []];
                const current: RefBooks = books;
                const snap: SnapshotFile[1][number] | undefined = current.toSnapshot()[1].find(([c]) =>
                  c === coin
                );
                const got: SnapshotFile[1][number][1] = snap ? snap[1] : [[], []];
                assert.deepEqual(
                  got.map((side) => side.map(([user, o]) => l4({ ...o, user }))),
                  [bids.map(l4), asks.map(l4)],
                  `${coin} at height ${current.height}`,
                );
                compared++;
              }
              assert.ok(books, `an l4Book snapshot for ${coin}`);
            }
            assert.ok(compared > coins.length * 10, `compared ${compared} coin-blocks`);
          },
        );

        await t.step(
          "l2Book equals the simulator's full-precision levels at the same block, every coin",
          () => {
            const seen = new Set<string>();
            for (const m of messages) {
              if (m.channel !== "l2Book") continue;
              const data = m.data as { coin: string; time: number; levels: Level[][] };
              const height = byTime.get(data.time) ??
                (data.time === truth.get(subscribedAt)?.time ? subscribedAt : -1);
              const expected = truth.get(height);
              if (!expected) continue;
              const sides = expected.books.get(data.coin) ?? [[], []];
              assert.deepEqual(
                data.levels,
                l2Of(live.sim, data.coin, sides, 100),
                `${data.coin} at ${height}`,
              );
              seen.add(data.coin);
            }
            assert.deepEqual([...seen].sort(), [...coins].sort(), "l2Book checked for every coin");
          },
        );

        await t.step("trades equal the simulator's fills, block by block", () => {
          const got = new Map<string, Trade[][]>();
          for (const m of messages) {
            if (m.channel !== "trades") continue;
            const list = m.data as Trade[];
            const coin = list[0].coin;
            got.set(coin, [...(got.get(coin) ?? []), list]);
          }
          let total = 0;
          for (const coin of coins) {
            const received = got.get(coin) ?? [];
            for (const list of received) {
              const height = byTime.get(list[0].time);
              assert.ok(height !== undefined, `trade time ${list[0].time} is a block time`);
              const expected = truth.get(height)?.trades.filter((tr) => tr.coin === coin) ?? [];
              assert.deepEqual(list, expected, `${coin} trades at ${height}`);
              total += list.length;
            }
            // nothing missing between the first and the last received block
            if (received.length > 0) {
              const first = byTime.get(received[0][0].time) ?? 0;
              const last = byTime.get(received.at(-1)?.[0].time ?? 0) ?? 0;
              let blocks = 0;
              for (let h = first; h <= last; h++) {
                if ((truth.get(h)?.trades ?? []).some((tr) => tr.coin === coin)) blocks++;
              }
              assert.equal(received.length, blocks, `${coin}: one trades message per block with trades`);
            }
          }
          assert.ok(total > 0, "some trades happened");
        });
      }
    } finally {
      await socket?.close();
      await server?.stop(10_000);
      await live.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "deno task demo starts both processes, serves a live book, and stops cleanly on SIGTERM",
  sanitizeResources: false,
  async fn() {
    // Port 8000 is busy (held here, or by someone else): the demo must say where it went instead.
    let held: Deno.Listener | null = null;
    try {
      held = Deno.listen({ hostname: "127.0.0.1", port: 8000 });
    } catch {
      // already taken: just as good
    }
    let demo: Subprocess | null = null;
    try {
      const started = await startDemo(["--load=0.05", "--seed=5"], {
        port: null,
        permissions: await taskPermissions("demo"),
      });
      demo = started.process;
      const { port } = started;
      const out = demo.output;
      const dataDir = /data dir: +(\S+)/.exec(out)?.[1] ?? "";
      assert.ok(port > 0 && dataDir.length > 0, out);
      assert.notEqual(port, 8000);
      assert.ok(out.includes(`demo: port 8000 is in use; serving on port ${port} instead`), out);
      assert.ok(await healthy(port));
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(page.status, 200);
      await page.body?.cancel();
      const ws = await WsClient.open(`ws://127.0.0.1:${port}/ws`);
      ws.send({ method: "subscribe", subscription: { type: "l2Book", coin: "BTC" } });
      const l2 = (await ws.nextOn("l2Book", 10_000)).data as { coin: string; levels: Level[][] };
      await ws.close();
      assert.equal(l2.coin, "BTC");
      assert.ok(l2.levels[0].length > 0 && l2.levels[1].length > 0, "both sides have levels");
      const status = await demo.stop(15_000);
      assert.equal(status.code, 0, "the demo stops cleanly on SIGTERM (not killed)");
      await assert.rejects(Deno.stat(dataDir), Deno.errors.NotFound, "the temp dir is removed");
    } finally {
      held?.close();
      await demo?.stop();
    }
  },
});
