/**
 * Fault-injection harness: a `Simulator` whose blocks are written by a writer the test controls
 * ({@link FaultyNode}), a fake node info server answering `fileSnapshot` from the simulator's truth or failing on
 * demand ({@link FakeInfo}), and the checks of hlbook (a `tests/_support/hlbook.ts` subprocess) against the
 * simulator's truth. Every wait has a timeout; `close()` methods kill and clean up.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Books, type Coin, type SnapshotFile } from "../../src/book/mod.ts";
import { l4SnapshotMessage } from "../../src/feed/messages.ts";
import type { Health, Hlbook } from "../_support/hlbook.ts";
import { referenceL2, referenceLevelsJson } from "../_support/l2_reference.ts";
import { sleep, waitFor } from "../_support/wait.ts";
import { WsClient } from "../_support/ws_client.ts";
import {
  blockLines,
  handleInfo,
  type SimBlock,
  type SimOptions,
  Simulator,
  toBlockInput,
} from "../../src/sim/mod.ts";

const encoder = new TextEncoder();

export const STREAM_NAMES = ["fills", "diffs", "statuses"] as const;
export type StreamName = typeof STREAM_NAMES[number];
const DIRS: Record<StreamName, string> = {
  fills: "node_fills_by_block",
  diffs: "node_raw_book_diffs_by_block",
  statuses: "node_order_statuses_by_block",
};

/** Per-write fault options of {@link FaultyNode.write}. */
export interface WriteOptions {
  /** Streams whose line is not written (a lost line). */
  readonly skip?: readonly StreamName[];
  /** Streams whose line goes to the next hourly file (rotation in the middle of a block). */
  readonly rotateBefore?: readonly StreamName[];
}

/**
 * A simulated node whose by-block files the test writes itself: `step()` advances the simulator, `write()`
 * appends a block's lines, `raw()` appends anything (bad lines), `rotate()` moves a stream to the next hour.
 * `truth` is the simulator's book as `Books`, kept block by block; `l2ByTime` the truth's default l2Book levels
 * of `watch` coins at each block time (to check what subscribers were sent).
 */
export class FaultyNode {
  readonly sim: Simulator;
  readonly truth: Books;
  readonly date = "20260505";
  readonly #hour: Record<StreamName, number> = { fills: 0, diffs: 0, statuses: 0 };
  readonly l2ByTime = new Map<string, string>();
  readonly watch: Coin[];

  constructor(readonly dataDir: string, options: SimOptions & { watch?: Coin[] } = {}) {
    this.sim = new Simulator({ coins: 4, ordersPerCoin: 120, ...options });
    this.truth = Books.fromSnapshot(this.sim.snapshot());
    this.watch = options.watch ?? [];
    this.#record();
  }

  get height(): number {
    return this.sim.height;
  }

  coins(): Coin[] {
    return this.sim.coins();
  }

  /** The current hourly file of a stream. */
  path(stream: StreamName): string {
    return join(this.dataDir, DIRS[stream], "hourly", this.date, String(this.#hour[stream]));
  }

  /** Produce the next block (not written). */
  step(): SimBlock {
    const block = this.sim.step();
    const result = this.truth.applyBlock(toBlockInput(block));
    assert.ok(result.ok, `the simulator's own block ${block.height} does not apply to the truth`);
    this.#record();
    return block;
  }

  #record(): void {
    for (const coin of this.watch) {
      this.l2ByTime.set(`${coin}@${this.truth.time}`, referenceLevelsJson(this.truth, coin, L2_DEFAULT));
    }
  }

  /** Append a block's lines (fills, diffs, statuses). */
  write(block: SimBlock, options: WriteOptions = {}): void {
    const lines = blockLines(block);
    for (const stream of STREAM_NAMES) {
      if (options.rotateBefore?.includes(stream)) this.rotate(stream);
      if (options.skip?.includes(stream)) continue;
      this.raw(stream, lines[stream] + "\n");
    }
  }

  /** Step and write `n` blocks, `delay` ms apart (0: all at once). */
  async advance(n: number, delay = 10): Promise<void> {
    for (let i = 0; i < n; i++) {
      this.write(this.step());
      if (delay > 0) await sleep(delay);
    }
  }

  /**
   * Creates the streams' (empty) folders, as a running node has them, so hlbook follows them from its start; a
   * data dir missing at start is a fault of its own (node_faults_test), rechecked only every 2 s.
   */
  createDirs(): void {
    for (const stream of STREAM_NAMES) Deno.mkdirSync(join(this.path(stream), ".."), { recursive: true });
  }

  /** Append raw text or bytes to a stream's current file (creating directories as needed). */
  raw(stream: StreamName, data: string | Uint8Array): void {
    const path = this.path(stream);
    Deno.mkdirSync(join(path, ".."), { recursive: true });
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    using file = Deno.openSync(path, { append: true, create: true });
    let off = 0;
    while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
  }

  /** Move a stream on to the next hourly file. */
  rotate(stream: StreamName): void {
    this.#hour[stream]++;
    assert.ok(this.#hour[stream] <= 23, "the harness rotates at most 23 times per run");
  }

  /** The simulator's snapshot file. */
  snapshot(): SnapshotFile {
    return this.sim.snapshot();
  }
}

/** What the fake info server does with the next requests. */
export type InfoBehaviour =
  | "ok"
  /** 500 with an error body */
  | "fail"
  /** waits `hangMs`, then answers 503 */
  | "hang"
  /** 200, but the file written is not JSON */
  | "garbage"
  /** 200, but the file is valid JSON of the wrong shape */
  | "wrong-shape"
  /** 200 and nothing written (the file may be stale or absent) */
  | "no-file"
  /** 200 with the simulator's snapshot, except the best bid of the first coin has a different size */
  | "lie";

/** A node info server on 127.0.0.1 (any free port) answering from a {@link FaultyNode}'s simulator. */
export class FakeInfo {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #queue: InfoBehaviour[] = [];
  readonly requests: InfoBehaviour[] = [];
  /** The size the "lie" put in place of the true one, with the order it changed. */
  lastLie: { coin: Coin; oid: number; trueSz: string; lieSz: string; height: number } | null = null;
  hangMs = 1500;
  readonly url: string;

  constructor(readonly node: FaultyNode) {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (r) => this.#handle(r));
    this.url = `http://127.0.0.1:${this.#server.addr.port}/info`;
  }

  /** Queue behaviours for the next requests; after them every request is answered "ok". */
  next(...behaviours: InfoBehaviour[]): void {
    this.#queue.push(...behaviours);
  }

  get pending(): number {
    return this.#queue.length;
  }

  async #handle(request: Request): Promise<Response> {
    const behaviour = this.#queue.shift() ?? "ok";
    this.requests.push(behaviour);
    // Read once and re-wrapped, not `request.clone()`: cloning a served request reads its `signal`, which makes
    // Deno warn about its legacy abort behaviour in the test output.
    const text = await request.text();
    const body = parseJson(text) as { outPath?: string } | null;
    const outPath = body?.outPath;
    const again = () =>
      new Request(request.url, { method: request.method, headers: request.headers, body: text });
    switch (behaviour) {
      case "ok":
        return handleInfo(again(), () => this.node.snapshot());
      case "fail":
        return new Response(JSON.stringify({ error: "injected failure" }), { status: 500 });
      case "hang":
        await sleep(this.hangMs);
        return new Response("injected timeout", { status: 503 });
      case "garbage":
        if (outPath) await Deno.writeTextFile(outPath, '[985148181, [["BTC", [[{"oops": tru');
        return new Response("null", { status: 200 });
      case "wrong-shape":
        if (outPath) await Deno.writeTextFile(outPath, '{"height": 5, "books": "none"}');
        return new Response("null", { status: 200 });
      case "no-file":
        if (outPath) await Deno.remove(outPath).catch(() => {});
        return new Response("null", { status: 200 });
      case "lie":
        return handleInfo(again(), () => this.#lie());
    }
  }

  #lie(): SnapshotFile {
    const [height, coins] = this.node.snapshot();
    const [coin, [bids, asks]] = coins[0];
    const [user, order] = bids[0];
    const lieSz = order.sz === "1.0" ? "2.0" : "1.0";
    this.lastLie = { coin, oid: order.oid, trueSz: order.sz, lieSz, height };
    const changed = [[user, { ...order, sz: lieSz }], ...bids.slice(1)] as typeof bids;
    return [height, [[coin, [changed, asks]], ...coins.slice(1)]] as SnapshotFile;
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}

/** The default l2Book view (full precision, 20 levels). */
export const L2_DEFAULT = { nSigFigs: null, mantissa: null, nLevels: 20 } as const;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Writes a block every 20 ms (as a live node does) until hlbook serves a live book. */
export async function waitLive(hlbook: Hlbook, node: FaultyNode, timeout = 30_000): Promise<void> {
  await waitFor(
    "hlbook to go live",
    async () => {
      if ((await hlbook.health()).ready) return true;
      await node.advance(1, 20);
      return false;
    },
    timeout,
    0,
  );
}

/** Waits until hlbook serves a live book at the node's height. */
export async function waitCaughtUp(hlbook: Hlbook, node: FaultyNode, timeout = 30_000): Promise<Health> {
  return await waitFor(`hlbook to reach height ${node.height}`, async () => {
    assert.ok(hlbook.alive, "hlbook exited");
    const health = await hlbook.health();
    const live = health.height === node.height && (health.phase === "ready" || health.phase === "stale");
    return live ? health : null;
  }, timeout);
}

/**
 * Waits until hlbook is at the node's height, then checks every coin's l2Book (`POST /info`, full precision
 * and one bucketed view) and l4Book (a fresh WebSocket subscription's snapshot) against the simulator's book.
 * The node must not write while this runs. Returns the number of books compared.
 */
export async function assertBooksEqual(
  hlbook: Hlbook,
  node: FaultyNode,
  options: { checkTime?: boolean } = {},
): Promise<number> {
  await waitCaughtUp(hlbook, node);
  let compared = 0;
  const truth = node.truth;
  const client = await WsClient.open(hlbook.wsUrl);
  try {
    for (const coin of node.coins()) {
      for (const params of [{ ...L2_DEFAULT, nLevels: 100 }, { nSigFigs: 3, mantissa: null, nLevels: 20 }]) {
        const { status, body } = await hlbook.info({ type: "l2Book", coin, ...params });
        assert.equal(status, 200, `POST /info l2Book ${coin}: ${JSON.stringify(body)}`);
        const levels = (body as { levels: unknown }).levels;
        assert.deepEqual(levels, referenceL2(truth, coin, params), `l2Book ${coin} differs`);
        compared++;
      }
      client.send({ method: "subscribe", subscription: { type: "l4Book", coin } });
      const message = await client.nextMatching((m) =>
        m.channel === "l4Book" && (m.data as { Snapshot?: { coin: string } }).Snapshot?.coin === coin
      );
      const expected = JSON.parse(l4SnapshotMessage(coin, truth.time, truth.height, truth.l4(coin)));
      const got = message.data as { Snapshot: { height: number; time: number; levels: unknown } };
      assert.equal(got.Snapshot.height, node.height, `l4Book ${coin} snapshot height`);
      if (options.checkTime !== false) {
        assert.equal(got.Snapshot.time, truth.time, `l4Book ${coin} snapshot time at height ${truth.height}`);
      }
      assert.deepEqual(got.Snapshot.levels, expected.data.Snapshot.levels, `l4Book ${coin} differs`);
      compared++;
    }
  } finally {
    await client.close();
  }
  return compared;
}

/**
 * Writes `node`'s blocks until one has a suitable `new` diff, and writes that one with that diff resting
 * `size(sz)` instead of the node's size: the block applies, but hlbook's book drifts from the node's.
 */
export function writeDriftingBlock(node: FaultyNode, size: (sz: string) => string): void {
  // The drifted order must not be touched again in its own block, or the block would not apply: the drift
  // must be one that only a validation snapshot can see.
  const drifting = (block: SimBlock) =>
    block.diffs.findIndex((d) =>
      typeof d.raw_book_diff === "object" && "new" in d.raw_book_diff &&
      block.diffs.filter((other) => other.oid === d.oid).length === 1
    );
  let block = node.step();
  while (drifting(block) < 0) {
    node.write(block);
    block = node.step();
  }
  const index = drifting(block);
  const diffs = block.diffs.map((d, i) => {
    if (i !== index || typeof d.raw_book_diff !== "object" || !("new" in d.raw_book_diff)) return d;
    return { ...d, raw_book_diff: { new: { ...d.raw_book_diff.new, sz: size(d.raw_book_diff.new.sz) } } };
  });
  node.write({ ...block, diffs });
}
