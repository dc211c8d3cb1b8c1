/**
 * The HTTP server: `/ws` (and `/`) WebSocket upgrades, `/health`, `/metrics`, `POST /info` and the static page.
 *
 * @module
 */
import { parseInfoRequest, type ServedFeed } from "../feed/mod.ts";
import { logger } from "../log.ts";
import type { Metrics, MetricSample } from "../metrics.ts";
import { listenError } from "./listen_error.ts";
import { serveSocket } from "./socket.ts";
import type { InfoProxy } from "./info_proxy.ts";
import { Guard, type GuardOptions, isLoopback, readBody, type Refusal } from "./limits.ts";

const log = logger("server");

/** Where the live page's files live (`deno compile --include src/web` embeds them). */
const WEB_ROOT = new URL("../web/", import.meta.url);

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  txt: "text/plain; charset=utf-8",
  map: "application/json; charset=utf-8",
  woff2: "font/woff2",
};

/** `/health`'s reason when the owner gives none. */
const PHASE_REASONS: Readonly<Record<string, string>> = {
  starting: "no book yet",
  ready: "no book yet",
  stale: "the node stopped writing",
  resyncing: "re-syncing",
};

/** What {@link startServer} needs. */
/**
 * The book's part of a `/health` answer (edges and `--role core` alike): ready only when a book is served,
 * the phase is `ready` and nothing else is wrong (`reason` null).
 */
export function healthFigures(
  status: { readonly phase: string; readonly live: boolean; readonly height: number; readonly time: number },
  reason: string | null,
) {
  return {
    ready: status.live && status.phase === "ready" && reason === null,
    stale: status.phase === "stale",
    phase: status.phase,
    reason,
    height: status.height,
    // A book loaded from a snapshot before any block was read has no known time: null, never 0.
    blockTime: status.time > 0 ? status.time : null,
    lagMs: status.time > 0 ? Date.now() - status.time : null,
  };
}

export interface ServerOptions {
  readonly address: string;
  /** 0 = any free port (see {@link Server.port}). */
  readonly port: number;
  readonly maxBuffered: number;
  readonly maxConnections: number;
  readonly maxSubscriptions: number;
  readonly maxMessageSize: number;
  readonly maxMessagesPerMinute: number;
  readonly metrics: Metrics;
  /** Extra fields for `/health`. */
  readonly health: () => object;
  /** Why the feed is not ready, beyond the feed's own phase (`/health` answers 503 with it); null = no reason. */
  readonly reason?: () => string | null;
  /** Answers info types the feed does not (built asset contexts, forwarding to the node); none = 400. */
  readonly infoProxy?: InfoProxy;
  /** Per-address limits and auth (src/server/limits.ts); absent = none (embedded use, tests). */
  readonly guard?: GuardOptions;
  /** Milliseconds a `POST /info` body may take to arrive (default 5000). */
  readonly handshakeTimeout?: number;
  /** Several servers of one process share the port (`--edges`; Linux `SO_REUSEPORT`, `--unstable-net`). */
  readonly reusePort?: boolean;
  /** Brings what `reason`, `health` and `otherMetrics` report up to date (a core in a worker is asked). */
  readonly refresh?: () => Promise<void>;
  /** The other threads' metrics (a core worker, other edges), rendered with this registry's in `/metrics`. */
  readonly otherMetrics?: () => readonly (readonly MetricSample[])[];
}

const NO_GUARD: GuardOptions = {
  maxConnectionsPerIp: 0,
  connectionRatePerIp: 0,
  maxSubscriptionsPerIp: 0,
  maxSubscriptionsTotal: 0,
  maxBufferedPerIp: 0,
  maxInfoRequestsPerIp: 0,
  trustProxy: "",
  authToken: "",
};

/** A running server. */
export interface Server {
  /** The port actually listened on. */
  readonly port: number;
  readonly hostname: string;
  /** Closes every WebSocket with 1001 and stops listening. */
  shutdown(): Promise<void>;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "access-control-allow-origin": "*" },
  });
}

function jsonText(text: string, status = 200): Response {
  return new Response(text, {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "access-control-allow-origin": "*" },
  });
}

/** Maps a URL path to a file under `src/web/`, or null when it is not a safe, plain file name. */
function webFile(pathname: string): URL | null {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (path === "/" || path === "") path = "/index.html";
  const segments = path.slice(1).split("/");
  for (const segment of segments) {
    // No empty, dot-leading (`..`, hidden files) or odd segments: nothing outside src/web can be named.
    if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(segment)) return null;
  }
  const url = new URL(segments.join("/"), WEB_ROOT);
  return url.href.startsWith(WEB_ROOT.href) ? url : null;
}

async function serveStatic(request: Request, pathname: string): Promise<Response> {
  const url = webFile(pathname);
  if (url === null) return new Response("not found\n", { status: 404 });
  const ext = url.pathname.slice(url.pathname.lastIndexOf(".") + 1).toLowerCase();
  try {
    const body = await Deno.readFile(url);
    return new Response(request.method === "HEAD" ? null : body, {
      headers: {
        "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream",
        "cache-control": "no-cache",
        "content-length": String(body.byteLength),
      },
    });
  } catch {
    return new Response("not found\n", { status: 404 });
  }
}

function refusal(refused: Refusal): Response {
  const response = json({ error: refused.error }, refused.status);
  for (const [name, value] of Object.entries(refused.headers ?? {})) response.headers.set(name, value);
  return response;
}

/**
 * A refused WebSocket upgrade: a short body built without a JSON round trip, and `Connection: close` asking the
 * client to go (Deno.serve 2.9.6 does not close the connection itself on it; a refused client that retries
 * must pay for a new upgrade either way).
 */
function refuseUpgrade(refused: Refusal): Response {
  const headers = new Headers(refused.headers);
  headers.set("content-type", "application/json; charset=utf-8");
  headers.set("connection", "close");
  return new Response(`{"error":${JSON.stringify(refused.error)}}`, { status: refused.status, headers });
}

async function readInfo(
  request: Request,
  feed: ServedFeed,
  maxSize: number,
  proxy: InfoProxy | undefined,
  timeoutMs: number,
  onSlow: () => void,
): Promise<Response> {
  let body: string;
  let bytes: Uint8Array;
  try {
    const read = await readBody(request, maxSize, timeoutMs);
    if (!read.ok && read.status === 413) return json({ error: `request body over ${maxSize} bytes` }, 413);
    if (!read.ok) {
      onSlow();
      const response = json({ error: `request body not complete within ${timeoutMs} ms` }, 408);
      response.headers.set("connection", "close");
      return response;
    }
    bytes = read.bytes;
    body = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return json({ error: "request body must be UTF-8 JSON" }, 400);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return json({ error: 'request body must be JSON, e.g. {"type":"l2Book","coin":"BTC"}' }, 400);
  }
  const parsed = parseInfoRequest(raw, feed.coinCheck());
  if (!parsed.ok && parsed.unsupported && proxy !== undefined) {
    return await proxy.http(raw as Record<string, unknown>, bytes);
  }
  if (!parsed.ok) return json({ error: parsed.error }, 400);
  const result = await feed.info(parsed.request);
  return result.ok ? jsonText(result.json) : json({ error: result.error }, result.status);
}

function listen(
  options: ServerOptions,
  handler: (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Promise<Response>,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: options.address,
    port: options.port,
    reusePort: options.reusePort ?? false,
    onListen: () => {},
    onError: (error) => {
      log.error("HTTP handler failed: {error}", { error });
      return json({ error: "internal error" }, 500);
    },
  }, handler);
}

/** Starts listening; routes as described in the module doc. Throws {@link ListenError} when it cannot. */
export function startServer(options: ServerOptions, feed: ServedFeed): Server {
  const sockets = new Set<WebSocket>();
  const limits = {
    maxBuffered: options.maxBuffered,
    maxSubscriptions: options.maxSubscriptions,
    maxMessageSize: options.maxMessageSize,
    maxMessagesPerMinute: options.maxMessagesPerMinute,
  };
  const rejected = options.metrics.counter(
    "hlbook_connections_rejected_total",
    "WebSocket upgrades refused because --max-connections was reached",
  );

  const full: Refusal = {
    status: 429,
    error: `too many connections: at most ${options.maxConnections}`,
    headers: { "retry-after": "5" },
  };
  const guard = new Guard(options.guard ?? NO_GUARD, feed, options.metrics);
  const heapUsed = options.metrics.gauge("hlbook_heap_used_bytes", "V8 heap in use (at the last /metrics)");
  const rss = options.metrics.gauge("hlbook_rss_bytes", "resident set size (at the last /metrics)");
  const handshakeTimeout = options.handshakeTimeout ?? 5000;

  const handler = async (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname;
    const upgrade = request.headers.get("upgrade")?.toLowerCase() === "websocket";
    const address = guard.address(request, info.remoteAddr.hostname);
    if (upgrade && (path === "/ws" || path === "/")) {
      const unauthorized = guard.authorize(request, url, address);
      if (unauthorized !== null) return refuseUpgrade(unauthorized);
      if (sockets.size >= options.maxConnections) {
        rejected.inc();
        return refuseUpgrade(full);
      }
      const lease = guard.connect(address);
      if ("status" in lease) return refuseUpgrade(lease);
      let upgraded;
      try {
        upgraded = Deno.upgradeWebSocket(request);
      } catch (error) {
        lease.release();
        return json({ error: `bad WebSocket upgrade: ${(error as Error).message}` }, 400);
      }
      const socket = upgraded.socket;
      sockets.add(socket);
      serveSocket(socket, feed, {
        limits,
        clientLimits: lease.limits(options.maxSubscriptions, options.maxBuffered),
        onClosed: () => {
          sockets.delete(socket);
          lease.release();
        },
      });
      return upgraded.response;
    }
    if (path === "/ws") return json({ error: "/ws expects a WebSocket upgrade" }, 426);
    if (path === "/health" && (request.method === "GET" || request.method === "HEAD")) {
      await options.refresh?.();
      const status = feed.status();
      const live = status.live && status.phase === "ready";
      const figures = healthFigures(
        status,
        options.reason?.() ?? (live ? null : PHASE_REASONS[status.phase]),
      );
      // Load balancers and probes read the status code: 503 whenever the book is not current.
      return json({
        ...figures,
        clients: status.clients,
        subscriptions: status.subscriptions,
        ...options.health(),
      }, figures.ready ? 200 : 503);
    }
    if (path === "/metrics" && (request.method === "GET" || request.method === "HEAD")) {
      await options.refresh?.();
      const memory = Deno.memoryUsage();
      heapUsed.set(memory.heapUsed);
      rss.set(memory.rss);
      return new Response(options.metrics.render(options.otherMetrics?.() ?? []), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    if (path === "/info") {
      if (request.method === "OPTIONS") {
        return new Response(null, {
          status: 204,
          headers: {
            "access-control-allow-origin": "*",
            "access-control-allow-methods": "POST",
            "access-control-allow-headers": "content-type, authorization",
          },
        });
      }
      if (request.method !== "POST") return json({ error: "/info expects POST with a JSON body" }, 405);
      const unauthorized = guard.authorize(request, url, address);
      if (unauthorized !== null) return refusal(unauthorized);
      const slot = guard.infoRequest(address);
      if ("status" in slot) return refusal(slot);
      try {
        return await readInfo(
          request,
          feed,
          options.maxMessageSize,
          options.infoProxy,
          handshakeTimeout,
          () => guard.slowRequest(address, handshakeTimeout),
        );
      } finally {
        slot.release();
      }
    }
    if (request.method === "GET" || request.method === "HEAD") return await serveStatic(request, path);
    return json({ error: `no route for ${request.method} ${path}` }, 404);
  };

  let httpServer: Deno.HttpServer<Deno.NetAddr>;
  try {
    httpServer = listen(options, handler);
  } catch (error) {
    throw listenError(error, options.address, options.port);
  }
  const addr = httpServer.addr;
  if (!isLoopback(options.address) && !guard.authRequired) {
    log.warn(
      "listening on {address} without --auth-token: anyone who can reach port {port} can use the feed; set --auth-token, --auth-token-file or HLBOOK_AUTH_TOKEN (see README, Deploying), or bind 127.0.0.1",
      { address: options.address, port: addr.port },
    );
  }
  // Slow clients' conflated views are flushed on blocks; this catches them up when blocks pause.
  const poller = setInterval(() => feed.poll(), 250);

  return {
    port: addr.port,
    hostname: addr.hostname,
    async shutdown() {
      clearInterval(poller);
      for (const socket of sockets) {
        try {
          socket.close(1001, "server shutting down");
        } catch {
          // already closing
        }
      }
      feed.closeAll(1001, "server shutting down");
      await httpServer.shutdown();
    },
  };
}
