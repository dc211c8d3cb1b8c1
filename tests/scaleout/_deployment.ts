/**
 * A whole NATS deployment for the scale-out tests: a real `nats-server -js`, the simulated node, one
 * `--role core` and edges (`--role edge`), all real processes of `main.ts`; and a checking client that
 * compares every l2Book, trades and l4Book message it gets with the simulator's state at the block it names.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Books } from "../../src/book/mod.ts";
import type { Trade } from "../../src/book/types.ts";
import { type SimNode, startSimNode } from "../../src/sim/mod.ts";
import { Hlbook } from "../_support/hlbook.ts";
import { NatsServer } from "../_support/nats.ts";
import { SimTruth } from "../_support/sim_truth.ts";
import { waitFor } from "../_support/wait.ts";
import { WsClient } from "../_support/ws_client.ts";
import { l4Canonical } from "../soak/_clients.ts";
import { applyL4Updates, booksOfL4Snapshot } from "../feed/_helpers.ts";

/** The coin whose l4Book the checks rebuild (its L4 book is recorded at every block). */
export const L4_COIN = "ETH";

/** The simulator and its truth, a nats-server, a core and edges. */
export class Deployment {
  readonly truth = new SimTruth();
  /** Height → canonical text of {@link L4_COIN}'s L4 book. */
  readonly l4 = new Map<number, string>();
  readonly edges: Hlbook[] = [];
  core: Hlbook | null = null;

  private constructor(readonly dir: string, readonly nats: NatsServer, readonly node: SimNode) {}

  static async start(edges: number): Promise<Deployment> {
    const dir = await Deno.makeTempDir({ prefix: "hlbook-scaleout-" });
    const nats = await NatsServer.start();
    let deployment: Deployment | null = null;
    const node = await startSimNode({
      dataDir: join(dir, "data"),
      infoPort: 0,
      rate: 15,
      load: 0.15,
      seed: 13,
      onBlock: (block, sim) => deployment?.record(sim, block.height, block.time, block),
    });
    deployment = new Deployment(dir, nats, node);
    deployment.record(node.sim, node.height, node.sim.time, null);
    try {
      await deployment.startCore();
      for (let i = 0; i < edges; i++) await deployment.startEdge();
    } catch (error) {
      await deployment.stop();
      throw error;
    }
    return deployment;
  }

  record(sim: SimNode["sim"], height: number, time: number, block: Parameters<SimTruth["record"]>[3]): void {
    this.truth.record(sim, height, time, block);
    this.l4.set(height, l4Canonical(L4_COIN, sim.l4(L4_COIN)));
  }

  /** Starts (or restarts) the core and waits until it is ready. */
  async startCore(): Promise<Hlbook> {
    const core = await this.spawnCore();
    this.core = core;
    await waitFor("the core ready", async () => (await core.health()).ready, 30_000, 100);
    return core;
  }

  /** Starts a core process without waiting for anything (a second one, say). */
  spawnCore(): Promise<Hlbook> {
    return Hlbook.start({
      dataDir: join(this.dir, "data"),
      infoUrl: this.node.infoUrl ?? "",
      snapshotPath: join(this.dir, "snapshot.json"),
      stallTimeout: 5,
      extra: ["--role=core", `--nats=${this.nats.url}`],
    });
  }

  /** Starts one more edge and waits until it follows the core. */
  async startEdge(): Promise<Hlbook> {
    const edge = await Hlbook.start({
      dataDir: join(this.dir, "nothing"),
      infoUrl: "http://127.0.0.1:9/info",
      snapshotPath: join(this.dir, "nothing.json"),
      extra: ["--role=edge", `--nats=${this.nats.url}`],
    });
    this.edges.push(edge);
    await waitFor("the edge ready", async () => (await edge.health()).ready, 30_000, 100);
    return edge;
  }

  async stop(): Promise<void> {
    for (const edge of this.edges) await edge.close().catch(() => {});
    await this.core?.close().catch(() => {});
    await this.node.stop();
    await this.nats.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** What a checking client saw. */
export interface Seen {
  l2: number;
  l4Updates: number;
  l4Snapshots: number;
  /** Trade tids received, in order (duplicates kept, so a test can find them). */
  tids: number[];
  trades: Trade[];
  statuses: string[];
}

/**
 * A client of one edge subscribed to l2Book of `coins`, trades of `tradeCoin` and l4Book of {@link L4_COIN};
 * every message is checked against the truth as it arrives (a failure is kept and rethrown by `check`).
 */
export class Checker {
  readonly seen: Seen = { l2: 0, l4Updates: 0, l4Snapshots: 0, tids: [], trades: [], statuses: [] };
  failure: Error | null = null;
  #mirror: Books | null = null;
  #count = 0;

  private constructor(readonly ws: WsClient, readonly deployment: Deployment) {}

  static async open(
    deployment: Deployment,
    url: string,
    options: {
      coins?: readonly string[];
      /** Subscribe with the resume extension from these heights, continuing from this rebuilt l4Book. */
      resume?: { trades: number; l4: number; mirror: Books | null };
    } = {},
  ): Promise<Checker> {
    const ws = await WsClient.open(url);
    const checker = new Checker(ws, deployment);
    checker.#mirror = options.resume?.mirror ?? null;
    ws.socket.addEventListener("message", (event) => checker.#check(String(event.data)));
    for (const coin of options.coins ?? ["BTC", "@107"]) {
      ws.send({ method: "subscribe", subscription: { type: "l2Book", coin } });
    }
    const from = (height: number | undefined) =>
      height === undefined ? {} : { hlbook: { fromHeight: height } };
    ws.send({
      method: "subscribe",
      subscription: { type: "trades", coin: "BTC" },
      ...from(options.resume?.trades),
    });
    ws.send({
      method: "subscribe",
      subscription: { type: "l4Book", coin: L4_COIN },
      ...from(options.resume?.l4),
    });
    return checker;
  }

  /** The rebuilt l4Book (null before its snapshot). */
  get mirror(): Books | null {
    return this.#mirror;
  }

  /** Height of the block of the last trade received (from the truth: trades carry no height), 0 if none. */
  get lastTradeHeight(): number {
    const last = this.seen.trades.at(-1);
    return last === undefined ? 0 : this.deployment.truth.byTime.get(last.time) ?? 0;
  }

  #check(text: string): void {
    try {
      const message = JSON.parse(text);
      const truth = this.deployment.truth;
      switch (message.channel) {
        case "l2Book": {
          const expected = truth.bookAt(message.data.coin, message.data.time);
          assert.ok(expected, `l2Book ${message.data.coin} at an unknown block time ${message.data.time}`);
          assert.deepEqual(
            message.data.levels,
            expected,
            `l2Book ${message.data.coin} at ${message.data.time}`,
          );
          this.seen.l2++;
          return;
        }
        case "trades": {
          const byTid = truth.tradeByTid();
          for (const trade of message.data as Trade[]) {
            assert.deepEqual(trade, byTid.get(trade.tid), `trade ${trade.tid}`);
            this.seen.tids.push(trade.tid);
            this.seen.trades.push(trade);
          }
          return;
        }
        case "l4Book":
          this.#l4(message.data, text);
          return;
        case "hlbookStatus":
          this.seen.statuses.push(
            message.data.gap ? `gap ${message.data.gap.fromHeight}` : message.data.phase,
          );
          return;
      }
    } catch (error) {
      this.failure ??= error as Error;
    }
  }

  // deno-lint-ignore no-explicit-any
  #l4(data: any, text: string): void {
    if (data.Snapshot) {
      this.#mirror = booksOfL4Snapshot(data.Snapshot);
      this.seen.l4Snapshots++;
      this.#compareL4(data.Snapshot.height);
      return;
    }
    const height = data.Updates.height;
    const mirror = this.#mirror;
    assert.ok(mirror, "l4Book Updates before a Snapshot");
    assert.ok(height > mirror.height, `l4Book Updates at ${height} after ${mirror.height}: a duplicate`);
    applyL4Updates(mirror, [text]);
    this.seen.l4Updates++;
    this.#compareL4(height);
  }

  #compareL4(height: number): void {
    const expected = this.deployment.l4.get(height);
    assert.ok(expected !== undefined, `l4Book at an unknown height ${height}`);
    assert.equal(l4Canonical(L4_COIN, this.#mirror!.l4(L4_COIN)), expected, `l4Book ${L4_COIN} at ${height}`);
    this.#count++;
  }

  /** Height of the rebuilt l4Book (0 before its snapshot). */
  get l4Height(): number {
    return this.#mirror?.height ?? 0;
  }

  /** Rethrows the first mismatch. */
  check(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** Waits until `done(seen)`, failing at once on a mismatch. */
  async until(what: string, done: (seen: Seen) => boolean, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      what,
      () => {
        this.check();
        return done(this.seen);
      },
      timeoutMs,
      20,
    );
    this.check();
  }

  /**
   * Every simulated `coin` trade between the first and last received was received, none twice (`before`: the
   * trades a previous connection of the same client received).
   */
  assertTradesComplete(coin = "BTC", before: readonly Trade[] = []): void {
    const tids = [...before.map((t) => t.tid), ...this.seen.tids];
    assert.equal(new Set(tids).size, tids.length, "no trade twice");
    if (tids.length === 0) return;
    const times = [...before, ...this.seen.trades].map((t) => t.time);
    const [first, last] = [Math.min(...times), Math.max(...times)];
    const expected = [...this.deployment.truth.tradeByTid().values()]
      .filter((t) => t.coin === coin && t.time >= first && t.time <= last).map((t) => t.tid).sort();
    assert.deepEqual([...tids].sort(), expected, "every trade between the first and the last received");
  }

  async close(): Promise<void> {
    await this.ws.close();
  }
}
