/**
 * An edge whose core runs elsewhere (a worker of the process): the server's {@link ServedFeed} over a
 * `MessagePort` carrying the typed messages of `src/link` (batches of them from the core, one per turn).
 *
 * What the server asks at once of a feed in one thread comes from what the core sent: phase, height and coins
 * from its status messages, `/health`'s reason and the core's metrics from its reports. Info answers and asset
 * contexts are requests over the link, awaited. When the core is lost (its worker crashed) the edge keeps its
 * clients, tells them the feed re-syncs, and on the next link asks the new core for every view again.
 *
 * @module
 */
import type { Coin } from "../book/types.ts";
import type { CoreBatch, EdgeToCore, InfoResult } from "../link/mod.ts";
import type { Histogram, Metrics, MetricSample } from "../metrics.ts";
import type { Client, ClientLimits, ClientSink } from "./client.ts";
import { Edge } from "./edge.ts";
import type { AssetCtxs, FeedStatus, ServedFeed } from "./feed.ts";
import type { InfoFallback } from "./info.ts";
import type { CoinCheck, InfoRequest } from "./subscription.ts";

const CORE_DOWN: InfoResult = { ok: false, status: 503, error: "the feed's core is restarting; try again" };

/** Another edge's metrics, as the main thread hands them around. */
export interface PeerMetrics {
  /** The edge's number: 0 for the main thread's, 1… for the edge workers. */
  readonly edge: number;
  readonly samples: readonly MetricSample[];
}

/** A gauge's value in one registry's samples (0 when absent). */
function gauge(samples: readonly MetricSample[], name: string): number {
  for (const sample of samples) if (sample.name === name && sample.kind !== "histogram") return sample.value;
  return 0;
}

/** An edge linked to a core over a port. */
export class LinkedFeed implements ServedFeed {
  readonly #edge: Edge;
  #port: MessagePort | null = null;
  #linkedOnce = false;
  readonly #peers: () => readonly PeerMetrics[];
  readonly #number: number;
  readonly #linkMs: Histogram;
  readonly #outputMs: Histogram;

  /** `edge`: this edge's number; `peers`: the other edges' metrics (their clients count in `status()`). */
  constructor(options: { metrics: Metrics; edge?: number; peers?: () => readonly PeerMetrics[] }) {
    this.#peers = options.peers ?? (() => []);
    this.#number = options.edge ?? 0;
    this.#linkMs = options.metrics.histogram(
      "hlbook_link_ms",
      "core → edge: from the core posting a turn's messages to the edge starting on them (ms)",
    );
    this.#outputMs = options.metrics.histogram(
      "hlbook_edge_output_ms",
      "time an edge takes to hand a turn's messages from the core to its clients' sockets (ms)",
    );
    this.#edge = new Edge({
      metrics: options.metrics,
      send: (message: EdgeToCore) => this.#port?.postMessage(message),
    });
  }

  /** Links a core (the first, or a restarted one: every watched view is asked for again). */
  link(port: MessagePort): void {
    this.#port?.close();
    this.#port = port;
    // The core posts what it emitted in one turn as one batch (see `CoreHub`).
    port.onmessage = (event: MessageEvent<CoreBatch>) => {
      const start = performance.now();
      const { at, messages } = event.data;
      this.#linkMs.observe(performance.timeOrigin + start - at);
      // Slow clients that drained catch up first, as with a core in the same thread.
      if (messages.some((message) => message.kind === "block")) this.#edge.poll();
      for (const message of messages) this.#edge.receive(message);
      this.#outputMs.observe(performance.now() - start);
    };
    if (this.#linkedOnce) this.#edge.relinked();
    this.#linkedOnce = true;
  }

  /** The core is gone: see `Edge.coreLost`. */
  coreLost(): void {
    this.#port?.close();
    this.#port = null;
    this.#edge.coreLost();
  }

  /** Why the feed is not ready beyond its phase: the core's ingest reason, or that the core restarts. */
  reason(): string | null {
    if (this.#port === null) return "the feed's core is restarting";
    return this.#edge.report?.reason ?? null;
  }

  /** Asks the core for a fresh report (before `/health` and `/metrics`), waiting at most `timeoutMs`. */
  async refresh(timeoutMs = 250): Promise<void> {
    if (this.#port !== null) await this.#edge.refreshReport(timeoutMs);
  }

  /** The core's metrics (from its last report) and the other edges'. */
  otherMetrics(): readonly (readonly MetricSample[])[] {
    const peers = this.#peers().map((peer) => peer.samples);
    const core = this.#edge.report?.metrics;
    return core === undefined ? peers : [core, ...peers];
  }

  /** Clients connected to each edge, by edge number (for `/health`: how the kernel spread them). */
  edgeClients(): number[] {
    const out: number[] = [];
    out[this.#number] = this.#edge.counts().clients;
    for (const peer of this.#peers()) out[peer.edge] = gauge(peer.samples, "hlbook_clients");
    return Array.from(out, (n) => n ?? 0);
  }

  attach(sink: ClientSink, limits: ClientLimits): Client {
    return this.#edge.attach(sink, limits);
  }

  detach(client: Client): void {
    this.#edge.detach(client);
  }

  handle(client: Client, text: string): void {
    this.#edge.handle(client, text);
  }

  poll(): void {
    this.#edge.poll();
  }

  sendError(client: Client, text: string): void {
    this.#edge.sendError(client, text);
  }

  setInfoFallback(fallback: InfoFallback): void {
    this.#edge.setInfoFallback(fallback);
  }

  coinCheck(): CoinCheck {
    return this.#edge.coinCheck();
  }

  unsentEstimate(client: Client): number {
    return this.#edge.unsentEstimate(client);
  }

  l4SnapshotSize(coin: Coin): number {
    return this.#edge.l4SnapshotSize(coin);
  }

  /** The core's state as it told it, clients and subscriptions summed over every edge of the process. */
  status(): FeedStatus {
    let { clients, subscriptions } = this.#edge.counts();
    for (const peer of this.#peers()) {
      clients += gauge(peer.samples, "hlbook_clients");
      subscriptions += gauge(peer.samples, "hlbook_subscriptions");
    }
    return { ...this.#edge.status(), clients, subscriptions };
  }

  closeAll(code: number, reason: string): void {
    this.#edge.closeAll(code, reason);
  }

  info(request: InfoRequest): Promise<InfoResult> {
    if (this.#port === null) return Promise.resolve(CORE_DOWN);
    return this.#edge.ask(request);
  }

  assetCtxs(names: readonly string[], version: string | null): Promise<AssetCtxs | null> {
    if (this.#port === null) return Promise.resolve(null);
    return this.#edge.assetCtxs(names, version);
  }
}
