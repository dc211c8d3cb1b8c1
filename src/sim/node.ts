/**
 * A running simulated node: steps a `Simulator` on a timer at `rate` blocks per second, writes the node's
 * files into a data dir and answers the node's info-server `fileSnapshot`, `meta`, `spotMeta` and `perpDexs`
 * requests on a loopback port.
 *
 * @module
 */
import { isAbsolute } from "node:path";
import type { SnapshotFile } from "../book/types.ts";
import { logger } from "../log.ts";
import { type SimBlock, type SimOptions, Simulator } from "./engine.ts";
import { NodeFileWriter } from "./writer.ts";
import { type SimMeta, simMeta } from "./meta.ts";

const log = logger("sim");

/** Options of `startSimNode` (the simulator's own options apply too). */
export interface SimNodeOptions extends SimOptions {
  /** Where the node files go (created if missing). */
  readonly dataDir: string;
  /** Info-server port; 0 picks a free one; null runs no info server (default 3001). */
  readonly infoPort?: number | null;
  /** Info-server address (default 127.0.0.1). */
  readonly hostname?: string;
  /** Also write the streaming files (default false). */
  readonly streaming?: boolean;
  /** Stop after this many blocks (default: run until `stop()`). */
  readonly maxBlocks?: number;
  /** Called after each block is fully written (tests record the simulator's truth here). */
  readonly onBlock?: (block: SimBlock, sim: Simulator) => void;
  /** Step only when `advance()` is called, instead of on a timer (default false). */
  readonly manual?: boolean;
  /**
   * On the timer, write each block's three lines at different moments and each line in two parts, as a live
   * node does (default false). The info server then answers only between blocks.
   */
  readonly stagger?: boolean;
  /** Pause between the staggered writes in ms (default 1). */
  readonly staggerMs?: number;
  /**
   * The info server takes the snapshot when asked but writes it this many ms later while blocks go on, so
   * the snapshot lags the files' head, as a busy node's does (default 0).
   */
  readonly snapshotDelayMs?: number;
}

/** A running simulated node. */
export interface SimNode {
  readonly dataDir: string;
  /** `http://127.0.0.1:PORT/info`, or null without an info server. */
  readonly infoUrl: string | null;
  readonly infoPort: number | null;
  readonly sim: Simulator;
  /** Height of the last fully written block (the initial book's height before the first). */
  readonly height: number;
  /** Produce and write `n` blocks now (any mode). */
  advance(n?: number): void;
  /** Resolves when the node stopped (after `stop()` or `maxBlocks`). */
  readonly finished: Promise<void>;
  /** Stop the timer and the info server, close the files. Idempotent. */
  stop(): Promise<void>;
}

/** Start a simulated node. Live block times start at the current wall clock unless `startTime` is given. */
export async function startSimNode(options: SimNodeOptions): Promise<SimNode> {
  const rate = options.rate ?? 15;
  // Live block times follow the wall clock (the node writes ~370 ms after block time); a given start time
  // (tests forcing an hourly rotation) keeps the simulated schedule instead.
  const sim = new Simulator({
    ...options,
    startTime: options.startTime ?? Date.now() - 370,
    clock: options.startTime === undefined ? () => Date.now() - 370 : undefined,
  });
  await Deno.mkdir(options.dataDir, { recursive: true });
  const writer = new NodeFileWriter(options.dataDir, { streaming: options.streaming });
  let height = sim.height;
  let stopped = false;
  let written = 0;
  let resolveFinished = () => {};
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));

  const advance = (n = 1) => {
    for (let i = 0; i < n && !stopped; i++) {
      const block = sim.step();
      writer.write(block);
      height = block.height;
      written++;
      options.onBlock?.(block, sim);
      if (options.maxBlocks !== undefined && written >= options.maxBlocks) {
        void stop();
        return;
      }
    }
  };

  let snapshotReady = async () => {};
  let server: Deno.HttpServer<Deno.NetAddr> | null = null;
  let infoPort: number | null = null;
  const meta = simMeta(sim.specs);
  if (options.infoPort !== null) {
    server = Deno.serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.infoPort ?? 3001,
      onListen: () => {},
    }, (request) =>
      handleInfo(request, async () => {
        await snapshotReady();
        const snapshot = sim.snapshot();
        if (options.snapshotDelayMs) await new Promise((r) => setTimeout(r, options.snapshotDelayMs));
        return snapshot;
      }, meta));
    infoPort = server.addr.port;
  }

  // While a staggered block is being written, the info server waits for it (the snapshot is always at the
  // last fully written block, and the simulator's book is already one block ahead during the writes).
  let writing: Promise<void> | null = null;
  const staggerMs = options.staggerMs ?? 1;
  const pause = () => new Promise<void>((resolve) => setTimeout(resolve, staggerMs));
  const writeStaggered = async (n: number) => {
    for (let i = 0; i < n && !stopped; i++) {
      const block = sim.step();
      writing = writer.writeStaggered(block, pause);
      try {
        await writing;
      } finally {
        writing = null;
      }
      height = block.height;
      written++;
      options.onBlock?.(block, sim);
      if (options.maxBlocks !== undefined && written >= options.maxBlocks) {
        void stop();
        return;
      }
    }
  };
  snapshotReady = async () => {
    while (writing) await writing.catch(() => {});
  };

  let timer: ReturnType<typeof setInterval> | undefined;
  if (!options.manual) {
    const t0 = performance.now();
    const cap = Math.max(1, Math.ceil(rate / 4));
    let skipped = 0;
    let warned = false;
    let busy = false;
    timer = setInterval(() => {
      if (busy) return;
      const due = Math.floor(((performance.now() - t0) * rate) / 1000) - written - skipped;
      if (due > cap) {
        // Too slow for this load on this machine: the chain slows down instead of bursting to catch up.
        skipped += due - cap;
        if (!warned) {
          warned = true;
          log.warn("simulated node cannot keep {rate} blocks/s at this load: it runs slower", { rate });
        }
      }
      if (due <= 0) return;
      if (!options.stagger) {
        advance(Math.min(due, cap));
        return;
      }
      busy = true;
      writeStaggered(Math.min(due, cap)).catch((error) => {
        log.error("simulated node failed to write: {error}", { error });
        void stop();
      }).finally(() => (busy = false));
    }, Math.max(1, Math.floor(1000 / rate)));
  }

  async function stop(): Promise<void> {
    if (stopped) return finished;
    stopped = true;
    if (timer !== undefined) clearInterval(timer);
    while (writing) await writing.catch(() => {}); // finish the block being written: no half line left
    writer.close();
    if (server) await server.shutdown();
    log.info("simulated node stopped at block {height}", { height });
    resolveFinished();
  }

  log.info("simulated node writing to {dataDir}, info server on port {infoPort}", {
    dataDir: options.dataDir,
    infoPort,
  });
  return {
    dataDir: options.dataDir,
    infoUrl: infoPort === null ? null : `http://127.0.0.1:${infoPort}/info`,
    infoPort,
    sim,
    get height() {
      return height;
    },
    advance,
    finished,
    stop,
  };
}

/**
 * The node's info endpoint, as far as hlbook uses it: `POST /info` with a `fileSnapshot` request for
 * `l4Snapshots` writes the book at the last fully written block to `outPath` and answers 200; with `meta`
 * given, `meta`, `spotMeta`, `perpDexs` (see `meta.ts`) and `exchangeStatus` are answered too.
 */
export async function handleInfo(
  request: Request,
  snapshot: () => SnapshotFile | Promise<SnapshotFile>,
  meta?: SimMeta,
): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname !== "/info") return json(404, { error: `no route ${url.pathname}` });
  if (request.method !== "POST") return json(405, { error: "use POST" });
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return json(400, { error: "body is not JSON" });
  }
  const answer = meta === undefined ? null : metaAnswer(body, meta);
  if (answer !== null) return answer;
  const problem = checkSnapshotRequest(body);
  if (typeof problem === "string") return json(400, { error: problem });
  // The snapshot is taken and serialised in one synchronous run: no block is written in between.
  const [height, coins] = await snapshot();
  const books = problem.includeUsers ? coins : coins.map(([coin, [bids, asks]]) => [
    coin,
    [bids.map(([, o]) => o), asks.map(([, o]) => o)],
  ]);
  const text = JSON.stringify(problem.includeHeightInOutput ? [height, books] : books);
  try {
    await Deno.writeTextFile(problem.outPath, text);
  } catch (error) {
    return json(500, { error: `cannot write ${problem.outPath}: ${(error as Error).message}` });
  }
  return json(200, null);
}

/** The answer to a `meta` (main dex only), `spotMeta`, `perpDexs` or `exchangeStatus` request, else null. */
function metaAnswer(body: unknown, meta: SimMeta): Response | null {
  if (typeof body !== "object" || body === null) return null;
  const b = body as Record<string, unknown>;
  const text = (value: string) =>
    new Response(value, { status: 200, headers: { "content-type": "application/json" } });
  switch (b.type) {
    case "meta":
      if (b.dex !== undefined && b.dex !== null && b.dex !== "") {
        return json(422, {
          error: `unknown dex ${JSON.stringify(b.dex)}: the simulated node has only the main dex`,
        });
      }
      return text(meta.meta);
    case "spotMeta":
      return text(meta.spotMeta);
    case "perpDexs":
      return text(meta.perpDexs);
    case "exchangeStatus":
      return text(`{"specialStatuses":null,"time":${Date.now()}}`);
    default:
      return null;
  }
}

interface SnapshotRequest {
  readonly outPath: string;
  readonly includeUsers: boolean;
  readonly includeHeightInOutput: boolean;
}

function checkSnapshotRequest(body: unknown): SnapshotRequest | string {
  if (typeof body !== "object" || body === null) return "request must be a JSON object";
  const b = body as Record<string, unknown>;
  if (b.type !== "fileSnapshot") {
    return `unsupported request type ${JSON.stringify(b.type)} (only fileSnapshot)`;
  }
  const r = b.request as Record<string, unknown> | undefined;
  if (typeof r !== "object" || r === null || r.type !== "l4Snapshots") {
    return "request.type must be l4Snapshots";
  }
  if (typeof b.outPath !== "string" || !isAbsolute(b.outPath)) return "outPath must be an absolute path";
  return {
    outPath: b.outPath,
    includeUsers: r.includeUsers !== false,
    includeHeightInOutput: b.includeHeightInOutput === true,
  };
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
}
