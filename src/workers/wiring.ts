/**
 * The two halves of hlbook's wiring, shared by every way of running it: ingest feeding a core (on the main
 * thread with `--edges 0`, in the core worker otherwise), and the HTTP/WebSocket server of an edge (the main
 * thread's, and each edge worker's).
 *
 * @module
 */
import type { Config } from "../../config.ts";
import { VERSION } from "../../config.ts";
import type { Books } from "../book/mod.ts";
import type { BookDiff, Trade } from "../book/types.ts";
import type { ServedFeed } from "../feed/mod.ts";
import type { FillEvent } from "../feed/history.ts";
import type { BackfillSink, StreamLimits } from "../feed/user_streams.ts";
import { backfillFills, type Ingest, type IngestState, startIngest } from "../ingest/mod.ts";
import { logger } from "../log.ts";
import type { Metrics, MetricSample } from "../metrics.ts";
import { InfoForwarder, InfoProxy, type Server, startServer } from "../server/mod.ts";

/** The per-user history's bounds from the config. */
export function streamLimits(config: Config): StreamLimits {
  return {
    historyMs: config.historyHours * 3600_000,
    fillsPerUser: config.fillsPerUser,
    maxFills: config.maxFills,
    tradesPerCoin: 100,
    candlesKept: config.candlesKept,
  };
}

/** What ingest feeds: a `Core`, or a `Feed` (core and edge in one thread). */
export interface IngestTarget {
  reset(books: Books): void;
  block(books: Books, diff: BookDiff): void;
  trades(trades: readonly Trade[]): void;
  fills(block: number, events: readonly FillEvent[]): void;
  state(state: IngestState): void;
  backfill(): BackfillSink;
}

/** Ingest and the start-up backfill running into a target. */
export interface RunningIngest {
  readonly state: IngestState;
  readonly height: number;
  readonly reason: string | null;
  stop(): Promise<void>;
}

/** Starts ingest and the fills backfill; `onStall` runs when the node stalled and `--exit-on-stall` is set. */
export function startFeedIngest(
  config: Config,
  target: IngestTarget,
  metrics: Metrics,
  onStall: () => void,
): RunningIngest {
  const log = logger("main");
  let state: IngestState = { phase: "starting", height: 0, time: 0 };
  let height = 0;
  const ingest: Ingest = startIngest({
    dataDir: config.dataDir,
    infoUrl: config.infoUrl,
    snapshotPath: config.snapshotPath,
    mode: config.ingest,
    validateInterval: config.validateInterval,
    stallTimeout: config.stallTimeout,
    blockCache: config.blockCache,
    metrics,
  }, {
    onReset: (books) => target.reset(books),
    onBlock: (books, diff) => {
      height = books.height;
      target.block(books, diff);
    },
    onTrades: (trades) => target.trades(trades),
    onFills: (block, events) => target.fills(block, events),
    onState: (next) => {
      state = next;
      height = Math.max(height, next.height);
      target.state(next);
      if (next.phase === "stale" && config.exitOnStall) {
        log.error("node stalled for {ms} ms and --exit-on-stall is set: exiting", {
          ms: config.stallTimeout,
        });
        onStall();
      }
    },
  });
  const stopBackfill = new AbortController();
  const backfill = backfillFills({
    dataDir: config.dataDir,
    mode: config.ingest,
    hours: config.historyHours,
    signal: stopBackfill.signal,
  }, target.backfill());
  return {
    get state() {
      return state;
    },
    get height() {
      return height;
    },
    get reason() {
      return ingest.reason;
    },
    async stop() {
      stopBackfill.abort();
      await backfill;
      await ingest.stop();
    },
  };
}

/** How an edge's server differs between the ways of running. */
export interface EdgeServing {
  readonly port: number;
  readonly reusePort: boolean;
  /** Why the feed is not ready beyond its phase. */
  readonly reason: () => string | null;
  readonly otherMetrics?: () => readonly (readonly MetricSample[])[];
  readonly refresh?: () => Promise<void>;
  /** Extra fields for `/health`. */
  readonly health?: () => object;
}

/** Starts an edge's server (info forwarding and built asset contexts included). Throws `ListenError`. */
export function serveEdge(
  config: Config,
  authToken: string,
  feed: ServedFeed,
  metrics: Metrics,
  serving: EdgeServing,
): Server {
  const infoProxy = new InfoProxy(
    new InfoForwarder({
      url: config.infoUrl,
      timeoutMs: config.infoTimeout,
      maxConcurrent: config.infoConcurrency,
      maxResponseBytes: config.infoMaxResponse,
      cacheMs: config.infoCache,
      metrics,
    }),
    feed,
    metrics,
  );
  feed.setInfoFallback((payload) => infoProxy.post(payload));
  return startServer({
    address: config.address,
    port: serving.port,
    reusePort: serving.reusePort,
    maxBuffered: config.maxBuffered,
    maxConnections: config.maxConnections,
    maxSubscriptions: config.maxSubscriptions,
    maxMessageSize: config.maxMessageSize,
    maxMessagesPerMinute: config.maxMessagesPerMinute,
    metrics,
    health: () => ({ version: VERSION, ...serving.health?.() }),
    reason: serving.reason,
    otherMetrics: serving.otherMetrics,
    refresh: serving.refresh,
    infoProxy,
    guard: {
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      connectionRatePerIp: config.connectionRatePerIp,
      maxSubscriptionsPerIp: config.maxSubscriptionsPerIp,
      maxSubscriptionsTotal: config.maxSubscriptionsTotal,
      maxBufferedPerIp: config.maxBufferedPerIp,
      maxInfoRequestsPerIp: config.maxInfoRequestsPerIp,
      trustProxy: config.trustProxy,
      authToken,
    },
    handshakeTimeout: config.handshakeTimeout,
  }, feed);
}
