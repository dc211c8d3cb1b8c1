/**
 * hlbook: wiring only — config → logging → components → serve, and a graceful shutdown. With `--edges 0` the
 * feed runs on this thread; otherwise the core (ingest, books, views) runs in a worker and this thread is the
 * first edge and the supervisor of the others (`src/workers/`).
 *
 * @module
 */
import { ConfigError, envNames, parseConfig } from "./config.ts";
import { logger, setupLogging } from "./src/log.ts";
import { Metrics } from "./src/metrics.ts";
import { Feed, LinkedFeed } from "./src/feed/mod.ts";
import { ListenError, resolveAuthToken, type Server } from "./src/server/mod.ts";
import { type RunningIngest, serveEdge, startFeedIngest, streamLimits } from "./src/workers/wiring.ts";
import { Supervisor } from "./src/workers/supervisor.ts";
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
  let exitCode = 0;
  const stopped = Promise.withResolvers<void>();
  const exit = (code: number) => {
    exitCode = code;
    stopped.resolve();
  };

  // --edges 0: core and edge on this thread; otherwise the core in a worker, the first edge here.
  const single = config.edges === 0 ? new Feed({ metrics, streams: streamLimits(config) }) : null;
  const linked = single === null
    ? new LinkedFeed({ metrics, peers: () => supervisor?.peers(0) ?? [] })
    : null;
  let supervisor: Supervisor | null = null;
  let ingest: RunningIngest | null = null;
  let server: Server;
  try {
    server = single !== null
      ? serveEdge(config, auth.token, single, metrics, {
        port: config.port,
        reusePort: false,
        reason: () => ingest?.reason ?? null,
      })
      : serveEdge(config, auth.token, linked as LinkedFeed, metrics, {
        port: config.port,
        reusePort: config.edges > 1,
        reason: () => (linked as LinkedFeed).reason(),
        otherMetrics: () => (linked as LinkedFeed).otherMetrics(),
        refresh: () => (linked as LinkedFeed).refresh(),
        health: () => ({ edgeClients: (linked as LinkedFeed).edgeClients() }),
      });
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

  if (single !== null) ingest = startFeedIngest(config, single, metrics, () => exit(1));
  else {
    supervisor = new Supervisor({
      config,
      authToken: auth.token,
      metrics,
      main: linked as LinkedFeed,
      edges: config.edges,
      port: server.port,
      onExit: exit,
    });
    supervisor.start();
    if (Deno.env.get("HLBOOK_DEBUG_CRASH") === "1") {
      const target = supervisor;
      Deno.addSignalListener("SIGUSR2", () => target.crashCore());
      Deno.addSignalListener("SIGUSR1", () => target.crashEdge());
    }
  }

  const onSignal = (signal: Deno.Signal) => {
    log.info("{signal} received: shutting down", { signal });
    stopped.resolve();
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, () => onSignal(signal));

  await stopped.promise;
  let where: { height: number; phase: string };
  if (ingest !== null) {
    await ingest.stop();
    where = { height: ingest.height, phase: ingest.state.phase };
  } else where = await (supervisor as Supervisor).stop();
  await server.shutdown();
  log.info("stopped at height {height} ({phase})", where);
  return exitCode;
}

if (import.meta.main) Deno.exit(await main());
