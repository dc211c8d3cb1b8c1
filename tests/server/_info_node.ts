/**
 * A fake node info server for the forwarding tests: records every body it receives (as text), answers from a
 * table of canned bodies per type (byte-exact, odd whitespace included), and can be made slow, or huge.
 * Plus a hlbook server wired with the real forwarder and proxy against it.
 *
 * @module
 */
import { Feed } from "../../src/feed/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { InfoForwarder, InfoProxy, type Server, startServer } from "../../src/server/mod.ts";
import { TEST_SERVER } from "../feed/_helpers.ts";

/** A canned answer: status, content type and the exact body text. */
export interface Canned {
  readonly status?: number;
  readonly contentType?: string;
  readonly body: string;
}

/** The fake node. */
export interface FakeInfoNode {
  readonly url: string;
  /** Every body received, in order. */
  readonly received: string[];
  /** Answers by request type (else 422 with a deserialize error, as the node does). */
  readonly answers: Map<string, Canned>;
  /** Milliseconds to wait before answering. */
  delayMs: number;
  /** Bytes of padding to answer with instead of the canned body (0 = off). */
  hugeBytes: number;
  /** Count of received bodies of a type. */
  count(type: string): number;
  /** Requests the node is still sitting on (delayed, not yet answered). */
  pending(): number;
  stop(): Promise<void>;
}

/** Starts a fake node info server on a free loopback port. */
export function startFakeInfoNode(): FakeInfoNode {
  const received: string[] = [];
  const answers = new Map<string, Canned>();
  /** Waits in progress: stop() ends them so the server can shut down. */
  const waits = new Set<() => void>();
  const node: FakeInfoNode = {
    url: "",
    received,
    answers,
    delayMs: 0,
    hugeBytes: 0,
    count: (type) => received.filter((b) => JSON.parse(b).type === type).length,
    pending: () => waits.size,
    stop: async () => {
      for (const end of waits) end();
      await server.shutdown();
    },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const text = await request.text();
    received.push(text);
    if (node.delayMs > 0) {
      await new Promise<void>((resolve) => {
        const end = () => {
          clearTimeout(timer);
          waits.delete(end);
          resolve();
        };
        const timer = setTimeout(end, node.delayMs);
        waits.add(end);
      });
    }
    if (node.hugeBytes > 0) return new Response("[" + "0,".repeat(node.hugeBytes / 2) + "0]");
    let type = "";
    try {
      type = String(JSON.parse(text).type);
    } catch {
      // not JSON
    }
    const canned = answers.get(type);
    if (canned === undefined) {
      return new Response(
        `Failed to deserialize the JSON body into the target type: type: unknown variant \`${type}\``,
        { status: 422, headers: { "content-type": "text/plain; charset=utf-8" } },
      );
    }
    return new Response(canned.body, {
      status: canned.status ?? 200,
      headers: { "content-type": canned.contentType ?? "application/json" },
    });
  });
  (node as { url: string }).url = `http://127.0.0.1:${server.addr.port}/info`;
  return node;
}

/** A hlbook feed + server whose info proxy forwards to `infoUrl`. */
export interface ProxyHarness {
  readonly feed: Feed;
  readonly server: Server;
  readonly metrics: Metrics;
  readonly http: string;
  readonly ws: string;
}

/** Runs `fn` against a fresh feed + server forwarding to `infoUrl`, always shutting it down. */
export async function withProxyServer(
  infoUrl: string,
  fn: (h: ProxyHarness) => Promise<void>,
  limits: {
    timeoutMs?: number;
    maxConcurrent?: number;
    maxResponseBytes?: number;
    cacheMs?: number;
    ctxMaxAgeMs?: number;
  } = {},
): Promise<void> {
  const metrics = new Metrics();
  const feed = new Feed({ metrics });
  const proxy = new InfoProxy(
    new InfoForwarder({
      url: infoUrl,
      timeoutMs: limits.timeoutMs ?? 2000,
      maxConcurrent: limits.maxConcurrent ?? 8,
      maxResponseBytes: limits.maxResponseBytes ?? 1024 * 1024,
      cacheMs: limits.cacheMs ?? 60_000,
      metrics,
    }),
    feed,
    metrics,
    { ctxMaxAgeMs: limits.ctxMaxAgeMs ?? 0 },
  );
  feed.setInfoFallback((payload) => proxy.post(payload));
  const server = startServer({ ...TEST_SERVER, metrics, infoProxy: proxy }, feed);
  try {
    await fn({
      feed,
      server,
      metrics,
      http: `http://127.0.0.1:${server.port}`,
      ws: `ws://127.0.0.1:${server.port}/ws`,
    });
  } finally {
    await server.shutdown();
  }
}

/** POSTs `body` (sent as is) to `/info`: status, content type and the body text. */
export async function postInfo(
  http: string,
  body: string,
): Promise<{ status: number; contentType: string; text: string }> {
  const response = await fetch(`${http}/info`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  return {
    status: response.status,
    contentType: response.headers.get("content-type") ?? "",
    text: await response.text(),
  };
}
