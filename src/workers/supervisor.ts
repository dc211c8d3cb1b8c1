/**
 * The main thread's part when the core runs in a worker (`--edges N`, N ≥ 1): it starts the core worker and
 * the edge workers (edges 2…N; edge 1 is the main thread's own), joins each edge to the core by a
 * `MessageChannel`, and restarts what dies.
 *
 * - The core worker crashes: a log line, `hlbook_core_restarts_total`, every edge is told (its clients get
 *   `hlbookStatus` "resyncing", `/health` answers 503), and a new core starts after a backoff (0.5 s doubling
 *   to 30 s; back to 0.5 s once a core ran a minute). It re-bootstraps from a fresh snapshot; the edges ask it
 *   for every watched view again, so clients keep their connections and get fresh snapshots.
 * - An edge worker crashes: its connections are gone with it (clients reconnect to the other edges sharing the
 *   port), the core forgets its watches, and a new edge worker takes its place after the same backoff.
 *
 * Metrics: every edge worker sends its metrics a few times a second; each edge is handed the others' (the
 * main thread's included), so any edge's `/health` and `/metrics` show the whole process.
 *
 * @module
 */
import type { Config } from "../../config.ts";
import type { LinkedFeed, PeerMetrics, Phase } from "../feed/mod.ts";
import { logger } from "../log.ts";
import type { Counter, Gauge, Metrics, MetricSample } from "../metrics.ts";
import {
  EDGE_METRICS_MS,
  type EdgePort,
  type FromCore,
  type FromEdge,
  type ToCore,
  type ToEdge,
} from "./control.ts";

const log = logger("main");

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** A worker that ran this long before dying restarts after the first backoff again. */
const STEADY_MS = 60_000;

/** Restart delays of one worker: doubling, reset once it ran steadily. */
class Backoff {
  #next = FIRST_BACKOFF_MS;
  #started = 0;
  started(): void {
    this.#started = Date.now();
  }
  /** The delay before the next start. */
  next(): number {
    if (Date.now() - this.#started >= STEADY_MS) this.#next = FIRST_BACKOFF_MS;
    const delay = this.#next;
    this.#next = Math.min(this.#next * 2, MAX_BACKOFF_MS);
    return delay;
  }
}

/** One edge as the supervisor sees it: the main thread's own, or a worker. */
interface EdgeSlot {
  readonly id: number;
  /** Hands the edge its end of a new link to the core. */
  link(port: MessagePort): void;
  coreLost(): void;
  /** Ready to be linked (a worker: listening). */
  ready: boolean;
}

interface EdgeWorker extends EdgeSlot {
  worker: Worker;
  samples: readonly MetricSample[];
  readonly backoff: Backoff;
  stopped: PromiseWithResolvers<void> | null;
}

/** What {@link Supervisor} needs. */
export interface SupervisorOptions {
  readonly config: Config;
  readonly authToken: string;
  readonly metrics: Metrics;
  /** The main thread's edge. */
  readonly main: LinkedFeed;
  /** Edges in all (the main thread's included), ≥ 1. */
  readonly edges: number;
  /** The port the main thread's edge listens on (the edge workers share it). */
  readonly port: number;
  /** The core asks the process to exit (`--exit-on-stall`). */
  readonly onExit: (code: number) => void;
}

/** Starts, links and restarts the core worker and the edge workers. */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #slots = new Map<number, EdgeSlot>();
  readonly #workers = new Map<number, EdgeWorker>();
  #core: Worker | null = null;
  #coreUp = false;
  readonly #coreBackoff = new Backoff();
  #stopping = false;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #peersTicker: ReturnType<typeof setInterval> | undefined;
  #coreStopped: PromiseWithResolvers<{ height: number; phase: Phase }> | null = null;
  readonly #coreRestarts: Counter;
  readonly #edgeRestarts: Counter;
  readonly #coreGauge: Gauge;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    const m = options.metrics;
    this.#coreRestarts = m.counter("hlbook_core_restarts_total", "core worker crashes (each one restarted)");
    this.#edgeRestarts = m.counter("hlbook_edge_restarts_total", "edge worker crashes (each one restarted)");
    this.#coreGauge = m.gauge("hlbook_core_up", "1 while the core worker runs, 0 while it restarts");
    const main = options.main;
    this.#slots.set(0, {
      id: 0,
      link: (port) => main.link(port),
      coreLost: () => main.coreLost(),
      ready: true,
    });
  }

  /** Starts the core and the edge workers. */
  start(): void {
    this.#startCore();
    for (let id = 1; id < this.#options.edges; id++) this.#startEdge(id);
    this.#peersTicker = setInterval(() => this.#sendPeers(), EDGE_METRICS_MS);
  }

  /** The metrics of every edge but `id` (the main thread's is 0). */
  peers(id: number): PeerMetrics[] {
    const out: PeerMetrics[] = [];
    if (id !== 0) out.push({ edge: 0, samples: this.#options.metrics.samples() });
    for (const [edge, worker] of this.#workers) {
      if (edge !== id && worker.ready) out.push({ edge, samples: worker.samples });
    }
    return out;
  }

  /** Test hook (`HLBOOK_DEBUG_CRASH=1`, SIGUSR2): the core worker throws. */
  crashCore(): void {
    this.#core?.postMessage({ kind: "crash" } satisfies ToCore);
  }

  /** Test hook (`HLBOOK_DEBUG_CRASH=1`, SIGUSR1): the first edge worker throws. */
  crashEdge(): void {
    this.#workers.get(1)?.worker.postMessage({ kind: "crash" } satisfies ToEdge);
  }

  /** Stops the edge workers, then the core (ingest first); bounded. Returns where the core was. */
  async stop(): Promise<{ height: number; phase: Phase }> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    clearInterval(this.#peersTicker);
    const bounded = <T>(promise: Promise<T>, ms: number, fallback: T) =>
      Promise.race([promise, new Promise<T>((resolve) => setTimeout(() => resolve(fallback), ms))]);
    await Promise.all([...this.#workers.values()].map(async (edge) => {
      edge.stopped = Promise.withResolvers<void>();
      edge.worker.postMessage({ kind: "stop" } satisfies ToEdge);
      await bounded(edge.stopped.promise, 5000, undefined);
      edge.worker.terminate();
    }));
    let where = { height: 0, phase: "starting" as Phase };
    const core = this.#core;
    if (core !== null && this.#coreUp) {
      this.#coreStopped = Promise.withResolvers();
      core.postMessage({ kind: "stop" } satisfies ToCore);
      where = await bounded(this.#coreStopped.promise, 10_000, where);
    }
    core?.terminate();
    return where;
  }

  // ---- the core ---------------------------------------------------------------------------------------

  #startCore(): void {
    if (this.#stopping) return;
    const worker = new Worker(new URL("./core_worker.ts", import.meta.url), { type: "module" });
    this.#core = worker;
    this.#coreUp = true;
    this.#coreGauge.set(1);
    this.#coreBackoff.started();
    worker.onmessage = (event: MessageEvent<FromCore>) => {
      const message = event.data;
      if (message.kind === "exit") this.#options.onExit(message.code);
      else if (message.kind === "stopped") this.#coreStopped?.resolve(message);
    };
    worker.onerror = (event) => {
      // Handled here: an error left unhandled in a worker would end the whole process.
      event.preventDefault();
      this.#coreCrashed(worker, event.message);
    };
    worker.onmessageerror = () => this.#coreCrashed(worker, "a message could not be read");
    const edges: EdgePort[] = [];
    for (const slot of this.#slots.values()) {
      if (slot.ready) edges.push({ id: slot.id, port: this.#channel(slot) });
    }
    worker.postMessage(
      { kind: "start", config: this.#options.config, edges } satisfies ToCore,
      edges.map((edge) => edge.port),
    );
  }

  /** A new channel between the core and an edge: the edge gets one end now, the core's end is returned. */
  #channel(slot: EdgeSlot): MessagePort {
    const channel = new MessageChannel();
    slot.link(channel.port1);
    return channel.port2;
  }

  #coreCrashed(worker: Worker, error: string): void {
    if (this.#core !== worker || !this.#coreUp) return;
    this.#coreUp = false;
    this.#coreGauge.set(0);
    worker.terminate();
    this.#coreRestarts.inc();
    for (const slot of this.#slots.values()) if (slot.ready) slot.coreLost();
    if (this.#stopping) return;
    const delay = this.#coreBackoff.next();
    log.error("the core worker crashed ({error}): its clients are told, a new core starts in {ms} ms", {
      error,
      ms: delay,
    });
    this.#restartTimer = setTimeout(() => this.#startCore(), delay);
  }

  // ---- edge workers -----------------------------------------------------------------------------------

  #startEdge(id: number, backoff = new Backoff()): void {
    if (this.#stopping) return;
    const worker = new Worker(new URL("./edge_worker.ts", import.meta.url), { type: "module" });
    backoff.started();
    const edge: EdgeWorker = {
      id,
      worker,
      ready: false,
      samples: [],
      backoff,
      stopped: null,
      link: (port) => worker.postMessage({ kind: "link", port } satisfies ToEdge, [port]),
      coreLost: () => worker.postMessage({ kind: "coreLost" } satisfies ToEdge),
    };
    this.#workers.set(id, edge);
    this.#slots.set(id, edge);
    worker.onmessage = (event: MessageEvent<FromEdge>) => {
      const message = event.data;
      switch (message.kind) {
        case "listening":
          edge.ready = true;
          if (this.#coreUp && this.#core !== null) {
            const port = this.#channel(edge);
            this.#core.postMessage({ kind: "addEdge", edge: { id, port } } satisfies ToCore, [port]);
          }
          return;
        case "failed":
          this.#edgeCrashed(edge, message.error);
          return;
        case "metrics":
          edge.samples = message.samples;
          return;
        case "stopped":
          edge.stopped?.resolve();
          return;
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#edgeCrashed(edge, event.message);
    };
    const { config, authToken, port } = this.#options;
    worker.postMessage({ kind: "start", config, authToken, port, edge: id } satisfies ToEdge);
  }

  #edgeCrashed(edge: EdgeWorker, error: string): void {
    if (this.#workers.get(edge.id) !== edge) return;
    this.#workers.delete(edge.id);
    this.#slots.delete(edge.id);
    edge.worker.terminate();
    this.#edgeRestarts.inc();
    this.#core?.postMessage({ kind: "dropEdge", id: edge.id } satisfies ToCore);
    if (this.#stopping) return;
    const delay = edge.backoff.next();
    log.error("edge worker {id} crashed ({error}): its clients reconnect, a new edge starts in {ms} ms", {
      id: edge.id + 1,
      error,
      ms: delay,
    });
    setTimeout(() => this.#startEdge(edge.id, edge.backoff), delay);
  }

  #sendPeers(): void {
    for (const [id, edge] of this.#workers) {
      if (edge.ready) edge.worker.postMessage({ kind: "peers", peers: this.peers(id) } satisfies ToEdge);
    }
  }
}
