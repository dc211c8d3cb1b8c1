/**
 * `--role core` and `--role edge` (docs/scale-out.md): the two halves of a NATS deployment as processes.
 *
 * - core: ingest, books and views from the node's files, published to NATS; no client sockets, only `/health`
 *   and `/metrics` on `--port` (ready while the book is served and this core holds the core lock).
 * - edge: the WebSocket server of `--role all` fed over NATS; no data dir, no node.
 *
 * Both connect with reconnects forever: an outage is logged, counted, reported by `/health`, and the process
 * carries on. Credentials come from the config and never reach a log line.
 *
 * @module
 */
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import {
  credsAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/transport-node";
import type { Config } from "../../config.ts";
import { VERSION } from "../../config.ts";
import { logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { Core } from "../feed/mod.ts";
import { healthFigures, ListenError, type Server } from "../server/mod.ts";
import { type RunningIngest, serveEdge, startFeedIngest, streamLimits } from "../workers/wiring.ts";
import { NatsCoreLink } from "./core_link.ts";
import { NatsEdge } from "./edge_link.ts";

const log = logger("scaleout");

/** What a role needs from main: its config, metrics, and a promise that resolves on SIGINT/SIGTERM. */
export interface RoleContext {
  readonly config: Config;
  readonly metrics: Metrics;
  readonly stopped: Promise<void>;
}

/** Connection options of a config: servers, reconnect forever, credentials (never logged). */
export async function natsOptions(config: Config, name: string): Promise<ConnectionOptions> {
  const authenticator = [];
  if (config.natsCreds !== "") authenticator.push(credsAuthenticator(await Deno.readFile(config.natsCreds)));
  if (config.natsUser !== "") {
    authenticator.push(usernamePasswordAuthenticator(config.natsUser, config.natsPassword));
  }
  if (config.natsToken !== "") authenticator.push(tokenAuthenticator(config.natsToken));
  return {
    servers: [...config.nats],
    name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    ...(authenticator.length > 0 ? { authenticator } : {}),
  };
}

/** The servers as logged: no user info, even if a URL carried some. */
function serversText(config: Config): string {
  return config.nats.map((url) => url.replace(/\/\/[^@/]*@/, "//")).join(",");
}

/** `text` with every configured credential replaced: an error message may echo what it was given. */
function redacted(config: Config, text: string): string {
  let out = text;
  for (const secret of [config.natsPassword, config.natsToken]) {
    if (secret !== "") out = out.replaceAll(secret, "***");
  }
  return out;
}

/**
 * Connects, retrying every 2 s while the servers refuse (bad credentials, say) until `stopped`; null when
 * stopped first. An unreachable server is retried by the client itself (`waitOnFirstConnect`).
 */
async function connectNats(
  config: Config,
  name: string,
  stopped: Promise<void>,
): Promise<NatsConnection | null> {
  const options = await natsOptions(config, name);
  const servers = serversText(config);
  let stop = false;
  void stopped.then(() => (stop = true));
  log.info("connecting to NATS {servers} as {name}", { servers, name });
  let told = false;
  while (!stop) {
    try {
      const nc = await connect(options);
      log.info("connected to NATS {servers} as {name}", { servers, name });
      void (async () => {
        for await (const status of nc.status()) {
          if (status.type === "disconnect") log.warn("NATS connection lost: reconnecting", {});
          else if (status.type === "reconnect") log.info("NATS connection back", {});
        }
      })().catch(() => {});
      return nc;
    } catch (error) {
      if (!told) {
        log.error("cannot connect to NATS {servers}: {error}; retrying every 2 s", {
          servers,
          error: redacted(config, String(error)),
        });
        told = true;
      }
      await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 2000))]);
    }
  }
  return null;
}

/**
 * The NATS client's Node socket can raise a reset (`ECONNRESET`, `EPIPE`) with no listener after a refused
 * or dropped connection, which would end the process; the client reconnects by itself, so such an error is
 * counted and logged once instead. Anything else still ends the process.
 */
function survivePeerResets(metrics: Metrics): void {
  const count = metrics.counter(
    "hlbook_nats_socket_resets_total",
    "NATS socket resets raised with no listener",
  );
  let told = false;
  globalThis.addEventListener("error", (event) => {
    const code = (event.error as { code?: unknown } | null)?.code;
    if (code !== "ECONNRESET" && code !== "EPIPE") return;
    event.preventDefault();
    count.inc();
    if (!told) log.warn("NATS socket reset ({code}): the client reconnects", { code: String(code) });
    told = true;
  });
}

/** A short id for this process in locks and leases. */
function processId(role: string): string {
  return `${role}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Runs `--role core` or `--role edge` until SIGINT or SIGTERM; returns the exit code. Failing to reach NATS at
 * start is not fatal: the connection is retried until it succeeds or the process is stopped.
 */
export async function runRole(config: Config, metrics: Metrics, authToken: string): Promise<number> {
  const stopped = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      log.info("{signal} received: shutting down", { signal });
      stopped.resolve();
    });
  }
  const context = { config, metrics, stopped: stopped.promise };
  survivePeerResets(metrics);
  if (config.natsCreds !== "") {
    try {
      await Deno.stat(config.natsCreds);
    } catch (error) {
      // deno-lint-ignore no-console
      console.error(`hlbook: cannot read --nats-creds ${config.natsCreds}: ${(error as Error).message}`);
      return 2;
    }
  }
  return config.role === "core" ? await runCore(context) : await runEdge(context, authToken);
}

/** Runs `--role core` until `stopped`; returns the exit code. */
export async function runCore(context: RoleContext): Promise<number> {
  const { config, metrics } = context;
  const id = processId("core");
  const nc = await connectNats(config, id, context.stopped);
  if (nc === null) return 0;
  const link = new NatsCoreLink({
    nc,
    id,
    metrics,
    retention: { maxAgeMs: config.streamMaxAge, maxBytes: config.streamMaxBytes },
  });
  const core = new Core({ metrics, emit: link.emit, streams: streamLimits(config) });
  await link.start(core);

  let ingest: RunningIngest | null = null;
  let http: Deno.HttpServer<Deno.NetAddr>;
  try {
    http = serveHealth(config, metrics, () => {
      const status = core.status();
      const reason = !link.publishing
        ? "not publishing: another core holds the lock, or NATS is away"
        : ingest?.reason ?? null;
      return {
        ...healthFigures(status, reason),
        role: "core",
        publishing: link.publishing,
        clients: 0,
        subscriptions: 0,
        version: VERSION,
      };
    });
  } catch (error) {
    await link.close();
    await nc.close();
    if (!(error instanceof ListenError)) throw error;
    // deno-lint-ignore no-console
    console.error(`hlbook: ${error.message}`);
    return 2;
  }
  let exitCode = 0;
  const stall = Promise.withResolvers<void>();
  ingest = startFeedIngest(config, core, metrics, () => {
    exitCode = 1;
    stall.resolve();
  });
  await Promise.race([context.stopped, stall.promise]);
  await ingest.stop();
  await link.close();
  await nc.drain().catch(() => {});
  await http.shutdown();
  log.info("core stopped at height {height}", { height: core.status().height });
  return exitCode;
}

/** `/health` and `/metrics` of a core (it has no client sockets). */
function serveHealth(config: Config, metrics: Metrics, health: () => { ready: boolean }) {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: config.address,
      port: config.port,
      onListen: () => {},
    }, (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/health") {
        const body = health();
        return Response.json(body, { status: body.ready ? 200 : 503 });
      }
      if (path === "/metrics") {
        return new Response(metrics.render(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      }
      return Response.json({ error: "a core serves /health and /metrics only; clients connect to edges" }, {
        status: 404,
      });
    });
  } catch (error) {
    throw new ListenError(`cannot listen on ${config.address}:${config.port}: ${(error as Error).message}`);
  }
  const host = server.addr.hostname.includes(":") ? `[${server.addr.hostname}]` : server.addr.hostname;
  log.info("hlbook core listening on {url} (/health, /metrics)", {
    url: `http://${host}:${server.addr.port}/`,
  });
  return server;
}

/** Runs `--role edge` until `stopped`; returns the exit code. `authToken`: the resolved `--auth-token`. */
export async function runEdge(context: RoleContext, authToken: string): Promise<number> {
  const { config, metrics } = context;
  const id = processId("edge");
  const nc = await connectNats(config, id, context.stopped);
  if (nc === null) return 0;
  const edge = new NatsEdge({ nc, metrics, id });
  await edge.start();
  let server: Server;
  try {
    // Info types the core does not answer go to --info-url, as on one machine (a node's info server).
    server = serveEdge(config, authToken, edge, metrics, {
      port: config.port,
      reusePort: false,
      reason: () => edge.reason(),
      health: () => ({ role: "edge" }),
    });
  } catch (error) {
    await edge.close();
    await nc.close();
    if (!(error instanceof ListenError)) throw error;
    // deno-lint-ignore no-console
    console.error(`hlbook: ${error.message}`);
    return 2;
  }
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  log.info("hlbook edge listening on {url} (WebSocket at {ws})", {
    url: `http://${host}:${server.port}/`,
    ws: `ws://${host}:${server.port}/ws`,
  });
  await context.stopped;
  await server.shutdown();
  await edge.close();
  await nc.drain().catch(() => {});
  log.info("edge stopped", {});
  return 0;
}
