/**
 * An edge worker's entry (`--edges N`, N ≥ 2: edges 2…N): a server of its own on the shared port
 * (`reusePort`: the kernel spreads new connections over the edges) and a {@link LinkedFeed} on its port to the
 * core. Its metrics go to the main thread a few times a second, which hands every edge the others' (so
 * `/health` and `/metrics` of any edge count the whole process).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { LinkedFeed, type PeerMetrics } from "../feed/mod.ts";
import { setupLogging } from "../log.ts";
import { Metrics } from "../metrics.ts";
import type { Server } from "../server/mod.ts";
import { EDGE_METRICS_MS, type FromEdge, type ToEdge } from "./control.ts";
import { serveEdge } from "./wiring.ts";

const metrics = new Metrics();
let peers: readonly PeerMetrics[] = [];
let feed = new LinkedFeed({ metrics });
let server: Server | null = null;
let ticker: ReturnType<typeof setInterval> | undefined;
const post = (message: FromEdge) => self.postMessage(message);

self.onmessage = async (event: MessageEvent<ToEdge>) => {
  const message = event.data;
  switch (message.kind) {
    case "start": {
      const config = message.config;
      await setupLogging(config.logLevel, config.logFormat);
      feed = new LinkedFeed({ metrics, edge: message.edge, peers: () => peers });
      try {
        server = serveEdge(config, message.authToken, feed, metrics, {
          port: message.port,
          reusePort: true,
          reason: () => feed.reason(),
          otherMetrics: () => feed.otherMetrics(),
          refresh: () => feed.refresh(),
          health: () => ({ edgeClients: feed.edgeClients() }),
        });
      } catch (error) {
        post({ kind: "failed", error: (error as Error).message });
        return;
      }
      ticker = setInterval(() => post({ kind: "metrics", samples: metrics.samples() }), EDGE_METRICS_MS);
      post({ kind: "listening" });
      return;
    }
    case "link":
      feed.link(message.port);
      return;
    case "coreLost":
      feed.coreLost();
      return;
    case "peers":
      peers = message.peers;
      return;
    case "stop":
      clearInterval(ticker);
      await server?.shutdown();
      post({ kind: "stopped" });
      return;
    case "crash":
      setTimeout(() => {
        throw new Error("edge worker crash requested (HLBOOK_DEBUG_CRASH)");
      }, 0);
      return;
  }
};
