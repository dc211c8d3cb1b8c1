/**
 * One core and the ports of its edges: every block's `BlockOutput` (and status, report) goes once to each
 * edge, replies only to the edge that asked. What the core emits in one turn (a block's output, its trades,
 * fills, replies) is posted as one batch per edge when the turn ends: one `postMessage` per block per edge,
 * in the order emitted (a snapshot reply must not overtake the outputs before it).
 *
 * Several edges watch the same views: the core is told to watch a view key when the first edge watches it and
 * to unwatch it when the last one lets go (or dies), and request ids, numbered by each edge, are renumbered
 * here so that replies find their edge.
 *
 * @module
 */
import { Core } from "../feed/mod.ts";
import type { StreamLimits } from "../feed/user_streams.ts";
import type { CoreBatch, CoreToEdge, EdgeToCore } from "../link/mod.ts";
import type { Histogram, Metrics } from "../metrics.ts";

interface EdgeLink {
  readonly port: MessagePort;
  /** View keys this edge watches. */
  readonly watched: Set<string>;
  /** Messages of this turn not yet posted. */
  batch: CoreToEdge[];
}

/** The edges' ports around one core: ref-counted watches, renumbered requests, outputs to every edge. */
export class CoreHub {
  readonly #edges = new Map<number, EdgeLink>();
  /** View key → how many edges watch it. */
  readonly #refs = new Map<string, number>();
  /** Renumbered request id → the edge and its own id. */
  readonly #pending = new Map<number, { edge: number; id: number }>();
  #nextId = 1;
  #flushing = false;
  /** When the batch being gathered got its first message. */
  #gathering = 0;
  readonly #hold: Histogram;
  readonly core: Core;

  readonly #report: (id: number | null) => CoreToEdge;

  /** `report`: the core's report (reason and metrics) for a request's id, or null for every edge. */
  constructor(
    options: { metrics: Metrics; streams?: StreamLimits; report: (id: number | null) => CoreToEdge },
  ) {
    this.core = new Core({
      metrics: options.metrics,
      streams: options.streams,
      emit: (message) => this.#emit(message),
    });
    this.#report = options.report;
    this.#hold = options.metrics.histogram(
      "hlbook_core_hold_ms",
      "core: from a turn's first message for the edges to its batch being posted (the rest of the turn, ms)",
    );
  }

  add(id: number, port: MessagePort): void {
    const link: EdgeLink = { port, watched: new Set(), batch: [] };
    this.#edges.set(id, link);
    port.onmessage = (event: MessageEvent<EdgeToCore>) => this.#receive(id, link, event.data);
  }

  drop(id: number): void {
    const link = this.#edges.get(id);
    if (link === undefined) return;
    this.#edges.delete(id);
    link.port.close();
    for (const key of link.watched) this.#release(key);
    for (const [gid, pending] of this.#pending) if (pending.edge === id) this.#pending.delete(gid);
  }

  /** To every edge. */
  broadcast(message: CoreToEdge): void {
    for (const link of this.#edges.values()) this.#queue(link, message);
  }

  #queue(link: EdgeLink, message: CoreToEdge): void {
    link.batch.push(message);
    if (this.#flushing) return;
    this.#flushing = true;
    this.#gathering = performance.now();
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushing = false;
    this.#hold.observe(performance.now() - this.#gathering);
    for (const link of this.#edges.values()) {
      if (link.batch.length === 0) continue;
      const batch: CoreBatch = { at: performance.timeOrigin + performance.now(), messages: link.batch };
      link.batch = [];
      link.port.postMessage(batch);
    }
  }

  #emit(message: CoreToEdge): void {
    if (
      message.kind === "snapshotReply" || message.kind === "infoReply" || message.kind === "assetCtxsReply"
    ) {
      const pending = this.#pending.get(message.id);
      if (pending === undefined) return;
      this.#pending.delete(message.id);
      const link = this.#edges.get(pending.edge);
      if (link !== undefined) this.#queue(link, { ...message, id: pending.id });
      return;
    }
    this.broadcast(message);
  }

  #receive(edge: number, link: EdgeLink, message: EdgeToCore): void {
    switch (message.kind) {
      case "watch": {
        if (link.watched.has(message.key)) return;
        link.watched.add(message.key);
        const refs = (this.#refs.get(message.key) ?? 0) + 1;
        this.#refs.set(message.key, refs);
        if (refs === 1) this.core.receive(message);
        return;
      }
      case "unwatch":
        if (!link.watched.delete(message.key)) return;
        this.#release(message.key);
        return;
      case "reportRequest":
        this.#queue(link, this.#report(message.id));
        return;
      default: {
        const id = this.#nextId++;
        this.#pending.set(id, { edge, id: message.id });
        this.core.receive({ ...message, id });
      }
    }
  }

  #release(key: string): void {
    const refs = (this.#refs.get(key) ?? 1) - 1;
    if (refs > 0) {
      this.#refs.set(key, refs);
      return;
    }
    this.#refs.delete(key);
    this.core.receive({ kind: "unwatch", key });
  }
}
