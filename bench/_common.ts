/**
 * Shared helpers of the benchmark sections: result lines, percentiles, subprocesses, the cached simulated
 * node data (10× mainnet load over 200 coins).
 *
 * @module
 */
import process from "node:process";
import { join } from "node:path";
import {
  type BlockInput,
  type BookDiffEvent,
  Books,
  type NodeOrder,
  type OrderStatusEvent,
  type Side,
} from "../src/book/mod.ts";
import type { Feed } from "../src/feed/mod.ts";
import type { Metrics } from "../src/metrics.ts";
import { type Server, startServer } from "../src/server/mod.ts";
import { type CoinSpec, makeCoins, NodeFileWriter, Simulator } from "../src/sim/mod.ts";

/** One row of the results table. */
export interface Row {
  readonly section: string;
  readonly figure: string;
  readonly target: string;
  readonly measured: string;
  /** null: informational, no target. */
  readonly pass: boolean | null;
  /** Raw numbers behind the row. */
  readonly value?: number;
}

/** Prints the section's rows as the last stdout line, for `run.ts`. */
export function emit(rows: readonly Row[], extra: Record<string, unknown> = {}): void {
  // deno-lint-ignore no-console
  console.log(`RESULT ${JSON.stringify({ rows, extra })}`);
}

/** Progress on stderr (stdout is for the result line). */
export function note(text: string): void {
  // deno-lint-ignore no-console
  console.error(`  ${text}`);
}

/** The q-quantile (0..1) of sorted numbers (nearest rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

/** Epoch milliseconds with sub-millisecond resolution (comparable across processes on one machine). */
export function nowEpoch(): number {
  return performance.timeOrigin + performance.now();
}

export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A loopback port free at the time of asking. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * `deno run` arguments of hlbook's `main.ts` against a simulated node: loopback, no validation snapshots, a
 * long stall timeout, warnings only; `extra` flags go last, `denoFlags` before the script.
 */
export function hlbookArgs(
  node: {
    readonly dataDir: string;
    readonly infoPort: number;
    readonly snapshotPath: string;
    readonly port: number;
  },
  options: { readonly denoFlags?: readonly string[]; readonly extra?: readonly string[] } = {},
): string[] {
  return [
    "run",
    ...(options.denoFlags ?? []),
    "--allow-read",
    "--allow-net",
    "--allow-env",
    new URL("../main.ts", import.meta.url).pathname,
    "--data-dir",
    node.dataDir,
    "--info-url",
    `http://127.0.0.1:${node.infoPort}/info`,
    "--snapshot-path",
    node.snapshotPath,
    "--port",
    String(node.port),
    "--validate-interval",
    "0",
    "--stall-timeout",
    "120",
    "--log-level",
    "warning",
    ...(options.extra ?? []),
  ];
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * CPU seconds (user + system, all threads) a process has used so far: this process's to the microsecond
 * (`getrusage`), another's from `/proc/<pid>/stat` (to 10 ms; NaN where there is no `/proc`).
 */
export function cpuSeconds(pid: number = Deno.pid): number {
  if (pid === Deno.pid) {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1e6;
  }
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/**
 * Runs `work` with a 1 ms ticker on this thread; returns its value, its seconds, the longest gap between
 * ticks (ms: how long the event loop was blocked at most) and the process's CPU seconds meanwhile (all
 * threads: GC helpers included).
 */
export async function ticking<T>(
  work: () => Promise<T>,
): Promise<{ value: T; seconds: number; maxGap: number; cpu: number }> {
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  last = performance.now();
  maxGap = 0;
  const t0 = performance.now();
  const cpu0 = cpuSeconds();
  let value: T;
  try {
    value = await work();
  } finally {
    clearInterval(timer);
  }
  maxGap = Math.max(maxGap, performance.now() - last);
  return { value, seconds: (performance.now() - t0) / 1000, maxGap, cpu: cpuSeconds() - cpu0 };
}

/** A heap meter: used heap bytes after two full GCs. Throws at once unless run with `--v8-flags=--expose-gc`. */
export function heapMeter(): () => number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  return () => {
    gc();
    gc();
    return Deno.memoryUsage().heapUsed;
  };
}

/**
 * Resident memory of a process by kind of mapping, in bytes, from `/proc/<pid>/smaps` (empty where there is
 * none): `file` = pages of mapped files (the deno binary, libraries), `brk` = glibc's main heap (`[heap]`),
 * `anonymous` = every other private mapping (V8's heap pages, malloc's mmapped chunks and thread arenas,
 * thread stacks).
 */
export interface MemoryMap {
  readonly file: number;
  readonly brk: number;
  readonly anonymous: number;
}

export function memoryMap(pid: number | "self" = "self"): MemoryMap | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/smaps`);
  } catch {
    return null;
  }
  const kb = { file: 0, brk: 0, anonymous: 0 };
  let kind: keyof typeof kb = "anonymous";
  for (const line of text.split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head !== null) kind = head[1].startsWith("/") ? "file" : head[1] === "[heap]" ? "brk" : "anonymous";
    else if (line.startsWith("Rss:")) kb[kind] += parseInt(line.slice(4));
  }
  return { file: kb.file * 1024, brk: kb.brk * 1024, anonymous: kb.anonymous * 1024 };
}

/** A process's memory at one moment (bytes): `Deno.memoryUsage()` figures, V8's committed pages, smaps. */
export interface ProcessMemory {
  /** As the process sat, before any forced GC. */
  readonly rss: number;
  /** The rest after two full GCs. */
  readonly heapTotal: number;
  readonly heapUsed: number;
  /** Backing stores of `ArrayBuffer`s (typed arrays bigger than a few dozen bytes live there, off the heap). */
  readonly external: number;
  /** V8's committed (physical) bytes by space, e.g. `new`, `old`, `large_object`. */
  readonly v8Committed: Record<string, number>;
  readonly map: MemoryMap | null;
}

/**
 * The environment `deno task start` gives hlbook: the `NAME=value` words its task line in deno.json starts with
 * (glibc's allocator settings, see README "Deploying"), so a bench measures hlbook as it is run.
 */
export function startTaskEnv(): Record<string, string> {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  const env: Record<string, string> = {};
  for (const word of String(config.tasks.start).split(/\s+/)) {
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(word);
    if (assignment === null) break;
    env[assignment[1]] = assignment[2];
  }
  return env;
}

/** Lines of a child's stdout, as they come. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let i = rest.indexOf("\n");
    while (i >= 0) {
      yield rest.slice(0, i);
      rest = rest.slice(i + 1);
      i = rest.indexOf("\n");
    }
  }
  if (rest.length > 0) yield rest;
}

/** Kills a child if it still runs; never throws. */
export function kill(child: Deno.ChildProcess | null | undefined): void {
  if (!child) return;
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
}

// ---- synthetic books ------------------------------------------------------------------------------------

/** The status time every synthetic order carries (node style). */
export const STATUS_TIME = "2026-05-05T17:39:13.024084407";

/** A resting limit order as the node writes it: no trigger, no children, `origSz` = `sz`. */
export function limitOrder(
  coin: string,
  side: Side,
  limitPx: string,
  sz: string,
  oid: number,
  timestamp: number,
  tif: string,
  cloid: string | null,
): NodeOrder {
  return {
    coin,
    side,
    limitPx,
    sz,
    oid,
    timestamp,
    triggerCondition: "N/A",
    isTrigger: false,
    triggerPx: "0.0",
    children: [],
    isPositionTpsl: false,
    reduceOnly: false,
    orderType: "Limit",
    origSz: sz,
    tif,
    cloid,
  };
}

/**
 * Order `i` of a synthetic million-order book at `px`: size, oid, owner (`users[i % users.length]`),
 * timestamp, tif (every third Alo) and cloid (every other one) derived from `i`; its "open" status and its
 * `new` diff.
 */
export function syntheticOpen(
  i: number,
  coin: string,
  side: Side,
  px: string,
  users: readonly string[],
): { status: OrderStatusEvent; diff: BookDiffEvent } {
  const sz = `0.${String(1 + (i % 99_999)).padStart(5, "0")}`;
  const oid = 400_000_000_000 + i;
  const user = users[i % users.length];
  // A flat string, as parsing a node line makes it: a template literal here would be a cons string (the
  // "0x" and the padded digits as two strings behind a third), ~24 B more per cloid than any real order.
  const cloid = i % 2 === 0 ? JSON.parse(`"0x${i.toString(16).padStart(32, "0")}"`) as string : null;
  const order = limitOrder(coin, side, px, sz, oid, 1778002753024 + i, i % 3 === 0 ? "Alo" : "Gtc", cloid);
  return {
    status: { time: STATUS_TIME, user, status: "open", order },
    diff: { user, oid, coin, side, px, raw_book_diff: { new: { sz } } },
  };
}

/**
 * A book of `n` resting orders over 200 coins (`COIN0`…), 5,000 users, half with a cloid, built through
 * `applyBlock` in blocks of 10,000 so no snapshot copy is alive afterwards (sections 4 and 9).
 */
export function syntheticBook(n: number): Books {
  const coins = 200;
  const users = Array.from({ length: 5000 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, "0")}`);
  const books = new Books();
  let height = 1;
  const perCoin = Math.max(1, Math.floor(n / coins));
  for (let start = 0; start < n; start += 10_000) {
    const statuses: OrderStatusEvent[] = [];
    const diffs: BookDiffEvent[] = [];
    for (let i = start; i < Math.min(n, start + 10_000); i++) {
      const coin = `COIN${Math.min(coins - 1, Math.floor(i / perCoin))}`;
      const j = i % perCoin;
      const side = j % 2 === 0 ? "B" : "A";
      const ticks = (j * 7919) % 2_000;
      const px = side === "B" ? `${40_000 + ticks}.0` : `${42_001 + ticks}.0`;
      const { status, diff } = syntheticOpen(i, coin, side, px, users);
      statuses.push(status);
      diffs.push(diff);
    }
    const r = books.applyBlock({ height: height++, time: 1778002753024, statuses, diffs });
    if (!r.ok) throw new Error(r.error.message);
  }
  return books;
}

/**
 * A BTC book with 200 one-lot levels a side (bids from 50000, asks from 50001, one user) and a block
 * generator that moves the top of book every block (a 0.5 bid at 50000 placed, then removed); blocks are
 * `blockMs` apart.
 */
export function toggleMarket(blockMs: number): { books: Books; next: () => BlockInput } {
  const user = "0x0000000000000000000000000000000000000001";
  const books = new Books();
  let height = 1000;
  let time = 1_700_000_000_000;
  let oid = 1;
  const statuses: OrderStatusEvent[] = [];
  const diffs: BookDiffEvent[] = [];
  const place = (side: Side, px: string, sz: string) => {
    const id = oid++;
    statuses.push({
      time: STATUS_TIME,
      user,
      status: "open",
      order: {
        coin: "BTC",
        side,
        limitPx: px,
        sz,
        oid: id,
        timestamp: time,
        triggerCondition: "N/A",
        isTrigger: false,
        triggerPx: "0.0",
        isPositionTpsl: false,
        reduceOnly: false,
        orderType: "Limit",
        tif: "Gtc",
        cloid: null,
      },
    });
    diffs.push({ user, oid: id, coin: "BTC", side, px, raw_book_diff: { new: { sz } } });
    return id;
  };
  const flush = (): BlockInput => ({
    height: ++height,
    time: time += blockMs,
    statuses: statuses.splice(0),
    diffs: diffs.splice(0),
  });
  for (let i = 0; i < 200; i++) {
    place("B", `${50000 - i}.0`, "1.0");
    place("A", `${50001 + i}.0`, "1.0");
  }
  const first = books.applyBlock(flush());
  if (!first.ok) throw new Error(first.error.message);
  let toggle: number | null = null;
  const next = () => {
    if (toggle === null) toggle = place("B", "50000.0", "0.5");
    else {
      diffs.push({ user, oid: toggle, coin: "BTC", side: "B", px: "50000.0", raw_book_diff: "remove" });
      toggle = null;
    }
    return flush();
  };
  return { books, next };
}

/**
 * hlbook's server for `feed` on a free loopback port, with limits out of a fan-out benchmark's way (64 MiB
 * buffers, no practical message rate limit); `maxConnections` as given.
 */
export function benchServer(feed: Feed, metrics: Metrics, maxConnections: number): Server {
  return startServer({
    address: "127.0.0.1",
    port: 0,
    maxBuffered: 64 << 20,
    maxConnections,
    maxSubscriptions: 10,
    maxMessageSize: 64 * 1024,
    maxMessagesPerMinute: 1_000_000,
    metrics,
    health: () => ({}),
  }, feed);
}

// ---- the simulated node data ----------------------------------------------------------------------------

/** Blocks generated (at 15 blocks/s: 12 s of chain). */
export const GEN_BLOCKS = 180;
/** Snapshots are kept for the start height and every `SNAP_EVERY` blocks up to `SNAP_UNTIL`. */
const SNAP_EVERY = 5;
const SNAP_UNTIL = 90;
export const COINS = 200;
/**
 * The simulator scales every flow but the rejected-ALO one with the sum of the market weights; 200 markets
 * of weight 0.1 would give ~3× mainnet's diff rate per unit of load. Scaling the weights by this factor puts
 * load 10 at ≈150 k statuses/s and ≈30 k diffs/s at 15 blocks/s (10× mainnet).
 */
const WEIGHT_SCALE = 0.33;

/** What `generate` left in the cache dir. */
export interface GenMeta {
  readonly startHeight: number;
  readonly blocks: number;
  readonly coins: string[];
  readonly statuses: number;
  readonly diffs: number;
  readonly fills: number;
  readonly bytes: number;
  /** Heights with a snapshot file `snap-<height>.json`. */
  readonly snapshots: number[];
  /** Block times (ms) by block index. */
  readonly times: number[];
  readonly seconds: number;
}

export function coinSpecs(): CoinSpec[] {
  return makeCoins(COINS, 1).map((spec) => ({ ...spec, weight: spec.weight * WEIGHT_SCALE }));
}

async function cacheKey(): Promise<string> {
  // Keyed by the parameters only (the simulator's sources change often; delete the dir to regenerate).
  const parts = [`v1/${GEN_BLOCKS}/${COINS}/${WEIGHT_SCALE}/${SNAP_EVERY}/${SNAP_UNTIL}`];
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return [...new Uint8Array(digest)].slice(0, 8).map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Simulated node files for the benchmarks, generated once (not timed) and cached under the temp dir keyed
 * by the parameters (delete the dir after a simulator change): `<dir>/node/node_*_by_block/…`, `<dir>/snap-<height>.json`, `<dir>/meta.json`.
 */
export async function generate(load = 10): Promise<{ dir: string; meta: GenMeta }> {
  const root = join(Deno.env.get("TMPDIR") ?? "/tmp", "hlbook-bench");
  const dir = join(root, `gen-load${load}-${await cacheKey()}`);
  try {
    const meta = JSON.parse(await Deno.readTextFile(join(dir, "meta.json"))) as GenMeta;
    return { dir, meta };
  } catch {
    // not cached yet
  }
  await Deno.remove(`${dir}.tmp`, { recursive: true }).catch(() => {});
  const tmp = `${dir}.tmp`;
  await Deno.mkdir(tmp, { recursive: true });
  note(
    `generating ${GEN_BLOCKS} blocks at load ${load} over ${COINS} coins into ${dir} (cached, not timed)…`,
  );
  const started = performance.now();
  const sim = new Simulator({ coins: coinSpecs(), load, seed: 1 });
  const startHeight = sim.height;
  const writer = new NodeFileWriter(join(tmp, "node"));
  const snapshots: number[] = [];
  const saveSnapshot = async () => {
    await Deno.writeTextFile(join(tmp, `snap-${sim.height}.json`), JSON.stringify(sim.snapshot()));
    snapshots.push(sim.height);
  };
  await saveSnapshot();
  let statuses = 0, diffs = 0, fills = 0, bytes = 0;
  const times: number[] = [];
  for (let i = 1; i <= GEN_BLOCKS; i++) {
    const block = sim.step();
    writer.write(block);
    statuses += block.statuses.length;
    diffs += block.diffs.length;
    fills += block.fills.length;
    times.push(block.time);
    if (i % SNAP_EVERY === 0 && i <= SNAP_UNTIL) await saveSnapshot();
    if (i % 30 === 0) {
      note(`  ${i}/${GEN_BLOCKS} blocks, ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
  }
  writer.close();
  for (const stream of ["fills", "raw_book_diffs", "order_statuses"]) {
    for await (const f of walk(join(tmp, "node", `node_${stream}_by_block`))) {
      bytes += (await Deno.stat(f)).size;
    }
  }
  const meta: GenMeta = {
    startHeight,
    blocks: GEN_BLOCKS,
    coins: sim.coins(),
    statuses,
    diffs,
    fills,
    bytes,
    snapshots,
    times,
    seconds: (performance.now() - started) / 1000,
  };
  await Deno.writeTextFile(join(tmp, "meta.json"), JSON.stringify(meta));
  await Deno.rename(tmp, dir);
  note(`generated in ${meta.seconds.toFixed(0)} s`);
  return { dir, meta };
}

/** Every file under `dir`, in (date, hour) order for hourly dirs. */
export async function* walk(dir: string): AsyncGenerator<string> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  const key = (name: string) => (/^\d+$/.test(name) ? Number(name) : name);
  entries.sort((a, b) => {
    const x = key(a.name), y = key(b.name);
    return typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
  });
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}

/** A data dir holding only the first `blocks` blocks of the generated one (made once, next to it). */
export async function smallDataDir(dir: string, blocks: number): Promise<string> {
  const out = join(dir, `node-${blocks}`);
  try {
    await Deno.stat(join(out, "done"));
    return out;
  } catch {
    // not made yet
  }
  for (const stream of ["fills", "raw_book_diffs", "order_statuses"]) {
    const base = join(dir, "node", `node_${stream}_by_block`);
    let left = blocks;
    for await (const file of walk(base)) {
      if (left === 0) break;
      const bytes = await Deno.readFile(file);
      let end = -1;
      while (left > 0) {
        const next = bytes.indexOf(10, end + 1);
        if (next < 0) break;
        end = next;
        left--;
      }
      const target = join(out, file.slice(join(dir, "node").length + 1));
      await Deno.mkdir(join(target, ".."), { recursive: true });
      await Deno.writeFile(target, bytes.subarray(0, end + 1));
    }
  }
  await Deno.writeTextFile(join(out, "done"), "");
  return out;
}
