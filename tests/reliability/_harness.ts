/**
 * Fault-injection harness: a `Simulator` whose blocks are written by a writer the test controls
 * ({@link FaultyNode}), a fake node info server answering `fileSnapshot` from the simulator's truth or failing on
 * demand ({@link FakeInfo}), the real `main.ts` as a subprocess ({@link Hlbook}) and WebSocket clients
 * ({@link WsClient}). Every wait has a timeout; `close()` methods kill and clean up.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Books, type Coin, type SnapshotFile } from "../../src/book/mod.ts";
import { l4SnapshotMessage } from "../../src/feed/messages.ts";
import { referenceL2, referenceLevelsJson } from "../_support/l2_reference.ts";
import {
  blockLines,
  handleInfo,
  type SimBlock,
  type SimOptions,
  Simulator,
  toBlockInput,
} from "../../src/sim/mod.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;
const encoder = new TextEncoder();

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a truthy value or `timeout` ms pass (then throws naming `what`). */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeout = 20_000,
  every = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown = null;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    }
    await sleep(every);
  }
}

/** The node's three streams, in the node's write order. */
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

/** `/health` as hlbook reports it. */
export interface Health {
  readonly ready: boolean;
  readonly stale: boolean;
  readonly phase: string;
  readonly height: number;
  readonly clients: number;
  readonly subscriptions: number;
}

/** A JSON log line as `LEVEL logger: message`; other output unchanged. */
function readable(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const record = JSON.parse(line) as { level?: string; logger?: string; message?: string };
    return `${record.level} ${record.logger}: ${record.message}`;
  } catch {
    return line;
  }
}

/** Options of {@link Hlbook.start}. */
export interface HlbookOptions {
  readonly dataDir: string;
  readonly infoUrl: string;
  readonly snapshotPath: string;
  /** Seconds. */
  readonly stallTimeout?: number;
  /** Seconds, 0 = off. */
  readonly validateInterval?: number;
  readonly extra?: readonly string[];
  /** V8 flags for the hlbook process, e.g. `--max-old-space-size=128` to turn a leak into a crash. */
  readonly v8Flags?: readonly string[];
}

/** The real `main.ts` as a subprocess on a free loopback port, with its output captured line by line. */
export class Hlbook {
  readonly lines: string[] = [];
  #done: Promise<Deno.CommandStatus>;
  #exited: Deno.CommandStatus | null = null;
  port = 0;

  private constructor(readonly child: Deno.ChildProcess) {
    this.#done = child.status.then((status) => (this.#exited = status));
    this.#collect(child.stdout);
    this.#collect(child.stderr);
  }

  static async start(options: HlbookOptions): Promise<Hlbook> {
    const args = [
      "run",
      "--allow-all",
      ...(options.v8Flags?.length ? [`--v8-flags=${options.v8Flags.join(",")}`] : []),
      join(ROOT, "main.ts"),
      "--port=0",
      `--data-dir=${options.dataDir}`,
      `--info-url=${options.infoUrl}`,
      `--snapshot-path=${options.snapshotPath}`,
      `--stall-timeout=${options.stallTimeout ?? 1}`,
      `--validate-interval=${options.validateInterval ?? 0}`,
      "--log-level=info",
      "--log-format=json",
      ...(options.extra ?? []),
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const hlbook = new Hlbook(child);
    try {
      const port = await waitFor("hlbook to listen", () => {
        if (hlbook.#exited) throw new Error(`hlbook exited: ${hlbook.lines.join("\n")}`);
        for (const line of hlbook.lines) {
          const match = /listening on http:\/\/\S*:(\d+)\//.exec(line);
          if (match) return Number(match[1]);
        }
        return 0;
      }, 30_000);
      hlbook.port = port;
    } catch (error) {
      await hlbook.close();
      throw error;
    }
    return hlbook;
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop() ?? "";
        for (const part of parts) this.lines.push(readable(part));
      }
    } catch {
      // the process went away
    }
    if (rest) this.lines.push(readable(rest));
  }

  get pid(): number {
    return this.child.pid;
  }

  /** True while the process runs. */
  get alive(): boolean {
    return this.#exited === null;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  async health(): Promise<Health> {
    const response = await fetch(`${this.base}/health`, { signal: AbortSignal.timeout(10_000) });
    return await response.json();
  }

  /** `/metrics` as name (with labels, if any) → value. */
  async metrics(): Promise<Map<string, number>> {
    const response = await fetch(`${this.base}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    const values = new Map<string, number>();
    for (const line of text.split("\n")) {
      if (line.startsWith("#") || line.trim() === "") continue;
      const index = line.lastIndexOf(" ");
      values.set(line.slice(0, index), Number(line.slice(index + 1)));
    }
    return values;
  }

  async metric(name: string): Promise<number> {
    return (await this.metrics()).get(name) ?? 0;
  }

  /** Resident set size of the process in KiB (Linux `/proc`). */
  rssKiB(): number {
    const status = Deno.readTextFileSync(`/proc/${this.pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  }

  /** POST /info. */
  async info(payload: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.base}/info`, {
      method: "POST",
      body: JSON.stringify(payload),
      headers: { "content-type": "application/json" },
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Output lines from index `from` on that match `pattern`. */
  matching(pattern: RegExp, from = 0): string[] {
    return this.lines.slice(from).filter((line) => pattern.test(line));
  }

  /** Stops the process (SIGTERM, then SIGKILL after 3 s). */
  async close(): Promise<void> {
    if (this.#exited) return;
    try {
      this.child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 3000);
    await this.#done;
    clearTimeout(timer);
  }
}

/** Writes a block every 20 ms (as a live node does) until hlbook serves a live book. */
export async function waitLive(hlbook: Hlbook, node: FaultyNode, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await hlbook.health()).ready) {
    if (Date.now() > deadline) throw new Error(`hlbook did not go live within ${timeout} ms`);
    await node.advance(1, 20);
  }
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
      const message = await client.next(
        (m) => m.channel === "l4Book" && (m.data as { Snapshot?: { coin: string } }).Snapshot?.coin === coin,
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
    client.close();
  }
  return compared;
}

/** A parsed server message. */
export interface Message {
  readonly channel: string;
  readonly data?: unknown;
}

/** A WebSocket client that keeps every message it receives. */
export class WsClient {
  readonly messages: Message[] = [];
  /** `performance.now()` when each message arrived. */
  readonly times: number[] = [];
  readonly raw: string[] = [];
  #read = 0;
  closed: CloseEvent | null = null;
  readonly #waiters = new Set<() => void>();

  private constructor(readonly socket: WebSocket, readonly keepRaw: boolean) {
    socket.addEventListener("message", (event) => {
      const text = typeof event.data === "string" ? event.data : "";
      if (keepRaw) this.raw.push(text);
      this.times.push(performance.now());
      try {
        this.messages.push(JSON.parse(text));
      } catch {
        this.messages.push({ channel: "<unparsable>", data: text });
      }
      this.#wake();
    });
    socket.addEventListener("close", (event) => {
      this.closed = event;
      this.#wake();
    });
  }

  static async open(url: string, keepRaw = false, timeout = 5000): Promise<WsClient> {
    const socket = new WebSocket(url);
    const client = new WsClient(socket, keepRaw);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`WebSocket ${url} did not open`)), timeout);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
      socket.addEventListener("error", () => {
        clearTimeout(timer);
        reject(new Error(`WebSocket ${url} failed`));
      }, { once: true });
    });
    return client;
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  send(value: unknown): void {
    if (typeof value === "string" || value instanceof Uint8Array) this.socket.send(value);
    else this.socket.send(JSON.stringify(value));
  }

  /** The next unread message matching `match` (older non-matching ones are skipped). */
  async next(match: (m: Message) => boolean = () => true, timeout = 10_000): Promise<Message> {
    const deadline = Date.now() + timeout;
    for (;;) {
      while (this.#read < this.messages.length) {
        const message = this.messages[this.#read++];
        if (match(message)) return message;
      }
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a message");
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  /**
   * Resolves once everything the server sent before now has arrived: a ping's pong comes after it on the
   * same socket. A readiness signal, not a sleep.
   */
  async settled(timeout = 10_000): Promise<void> {
    const pongs = () => this.messages.reduce((n, m) => n + (m.channel === "pong" ? 1 : 0), 0);
    const before = pongs();
    this.send({ method: "ping" });
    await waitFor("a pong", () => pongs() > before || this.closed !== null, timeout);
    if (pongs() === before) throw new Error(`socket closed (${this.closed?.code} ${this.closed?.reason})`);
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Writes `node`'s blocks until one has a `new` diff, and writes that one with its first `new` diff resting
 * `size(sz)` instead of the node's size: the block applies, but hlbook's book drifts from the node's.
 */
export function writeDriftingBlock(node: FaultyNode, size: (sz: string) => string): void {
  let block = node.step();
  while (!block.diffs.some((d) => typeof d.raw_book_diff === "object" && "new" in d.raw_book_diff)) {
    node.write(block);
    block = node.step();
  }
  let changed = false;
  const diffs = block.diffs.map((d) => {
    if (changed || typeof d.raw_book_diff !== "object" || !("new" in d.raw_book_diff)) return d;
    changed = true;
    return { ...d, raw_book_diff: { new: { ...d.raw_book_diff.new, sz: size(d.raw_book_diff.new.sz) } } };
  });
  node.write({ ...block, diffs });
}

/** A fresh temp dir; `data` inside it does not exist yet. */
export async function tempDirs(): Promise<
  { root: string; data: string; snapshot: string; remove(): Promise<void> }
> {
  const root = await Deno.makeTempDir({ prefix: "hlbook-reliability-" });
  return {
    root,
    data: join(root, "data"),
    snapshot: join(root, "snapshot.json"),
    remove: () => Deno.remove(root, { recursive: true }).catch(() => {}),
  };
}
