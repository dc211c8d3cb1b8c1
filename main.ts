/**
 * hlbook: wiring only — config → logging → components → serve, and a graceful shutdown.
 *
 * @module
 */
import { ConfigError, envNames, parseConfig, VERSION } from "./config.ts";
import { logger, setupLogging } from "./src/log.ts";
import { Metrics } from "./src/metrics.ts";
import { Feed } from "./src/feed/mod.ts";
import {
  InfoForwarder,
  InfoProxy,
  ListenError,
  resolveAuthToken,
  type Server,
  startServer,
} from "./src/server/mod.ts";
import { backfillFills, type Ingest, type IngestState, startIngest } from "./src/ingest/mod.ts";
import { runRole } from "./src/scaleout/roles.ts";

async function main(): Promise<number> {
  let result;
  try {
    // Only the variables hlbook uses are read, so `--allow-env=HLBOOK_*,HOME` is enough.
    const env = Object.fromEntries(envNames().map((name) => [name, Deno.env.get(name)]));
    result = parseConfig(Deno.args, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // deno-lint-ignore no-console
    console.error(`hlbook: ${error.message}`);
    return 2;
  }
  if (result.kind !== "run") {
    // deno-lint-ignore no-console
    console.log(result.text);
    return 0;
  }
  const config = result.config;
  const auth = await resolveAuthToken(config.authToken, config.authTokenFile);
  if (!auth.ok) {
    // deno-lint-ignore no-console
    console.error(`hlbook: ${auth.error}`);
    return 2;
  }
  await setupLogging(config.logLevel, config.logFormat);
  const log = logger("main");
  const metrics = new Metrics();
  if (config.role !== "all") return await runRole(config, metrics, auth.token);
  const feed = new Feed({
    metrics,
    streams: {
      historyMs: config.historyHours * 3600_000,
      fillsPerUser: config.fillsPerUser,
      maxFills: config.maxFills,
      tradesPerCoin: 100,
      candlesKept: config.candlesKept,
    },
  });
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

  let state: IngestState = { phase: "starting", height: 0, time: 0 };
  let exitCode = 0;
  let lastHeight = 0;
  const stopped = Promise.withResolvers<void>();

  let ingest: Ingest | null = null;
  let server: Server;
  try {
    server = startServer({
      address: config.address,
      port: config.port,
      maxBuffered: config.maxBuffered,
      maxConnections: config.maxConnections,
      maxSubscriptions: config.maxSubscriptions,
      maxMessageSize: config.maxMessageSize,
      maxMessagesPerMinute: config.maxMessagesPerMinute,
      metrics,
      health: () => ({ version: VERSION }),
      reason: () => ingest?.reason ?? null,
      infoProxy,
      guard: {
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        connectionRatePerIp: config.connectionRatePerIp,
        maxSubscriptionsPerIp: config.maxSubscriptionsPerIp,
        maxSubscriptionsTotal: config.maxSubscriptionsTotal,
        maxBufferedPerIp: config.maxBufferedPerIp,
        maxInfoRequestsPerIp: config.maxInfoRequestsPerIp,
        trustProxy: config.trustProxy,
        authToken: auth.token,
      },
      handshakeTimeout: config.handshakeTimeout,
    }, feed);
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    // deno-lint-ignore no-console
    console.error(`hlbook: ${error.message}`);
    return 2;
  }
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  log.info("hlbook listening on {url} (WebSocket at {ws})", {
    url: `http://${host}:${server.port}/`,
    ws: `ws://${host}:${server.port}/ws`,
  });

  ingest = startIngest({
    dataDir: config.dataDir,
    infoUrl: config.infoUrl,
    snapshotPath: config.snapshotPath,
    mode: config.ingest,
    validateInterval: config.validateInterval,
    stallTimeout: config.stallTimeout,
    blockCache: config.blockCache,
    metrics,
  }, {
    onReset: (books) => feed.reset(books),
    onBlock: (books, diff) => {
      lastHeight = books.height;
      feed.block(books, diff);
    },
    onTrades: (trades) => feed.trades(trades),
    onFills: (block, events) => feed.fills(block, events),
    onState: (next) => {
      state = next;
      lastHeight = Math.max(lastHeight, next.height);
      feed.state(next);
      if (next.phase === "stale" && config.exitOnStall) {
        log.error("node stalled for {ms} ms and --exit-on-stall is set: exiting", {
          ms: config.stallTimeout,
        });
        exitCode = 1;
        stopped.resolve();
      }
    },
  });

  const stopBackfill = new AbortController();
  const backfill = backfillFills({
    dataDir: config.dataDir,
    mode: config.ingest,
    hours: config.historyHours,
    signal: stopBackfill.signal,
  }, feed.backfill());

  const onSignal = (signal: Deno.Signal) => {
    log.info("{signal} received: shutting down", { signal });
    stopped.resolve();
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, () => onSignal(signal));

  await stopped.promise;
  stopBackfill.abort();
  await backfill;
  await ingest?.stop();
  await server.shutdown();
  log.info("stopped at height {height} ({phase})", { height: lastHeight, phase: state.phase });
  return exitCode;
}

if (import.meta.main) Deno.exit(await main());
