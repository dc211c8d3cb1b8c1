/**
 * An edge fed over NATS (docs/scale-out.md): an {@link Edge} whose core is a NATS deployment's core, with the
 * face the WebSocket server talks to.
 *
 * - What the edge watches: a plain NATS subscription per watched view subject (the messages the stream stores,
 *   as the core publishes them), plus the edge's lease in the KV bucket so the core computes the view.
 * - Snapshots and info answers: requests on `hlbook.ctl.*` whose replies come to a callback subscription
 *   (`rpc.ts`), so a reply and the view messages reach the edge in the order the core sent them: the edge's
 *   own join of a snapshot and its updates (the link's contract) holds across machines.
 * - Freshness: the core's status comes once a second and a marker per block height. The edge reports
 *   `stale` (to `/health` and, as `hlbookStatus`, to every subscribed client) when the NATS connection drops or
 *   the core falls silent for {@link SILENCE_MS}; it re-syncs every view from fresh snapshots when it hears the
 *   core again, when the core is a new one (restart, take-over, fresh books), or when a block height was
 *   skipped. A gap is never served silently: clients get a `hlbookStatus` and fresh snapshots.
 *
 * @module
 */
import type { Msg, NatsConnection, Subscription as NatsSubscription } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import type { CoreToEdge, EdgeToCore, InfoResult } from "../link/mod.ts";
import { Edge, type Feed } from "../feed/mod.ts";
import type { Phase } from "../feed/mod.ts";
import type { Counter, Metrics } from "../metrics.ts";
import { logger } from "../log.ts";
import { EdgeLease } from "./leases.ts";
import { Requester } from "./rpc.ts";
import { viewSubject } from "./subjects.ts";
import {
  BLOCK_SUBJECT,
  HELLO_SUBJECT,
  INFO_SUBJECT,
  LEASE_BUCKET,
  readEntry,
  SNAPSHOT_SUBJECT,
  STATUS_SUBJECT,
  type WireStatus,
} from "./wire.ts";
import { LEASE_TTL_MS } from "./core_link.ts";

const log = logger("scaleout");

/** A core not heard from for this long (its status comes every second) is reported stale. */
export const SILENCE_MS = 3500;
const REQUEST_TIMEOUT_MS = 15_000;

/** The feed methods the WebSocket server calls (`src/server`), as an edge over NATS provides them. */
export type ServedFeed = Pick<
  Feed,
  | "attach"
  | "detach"
  | "handle"
  | "poll"
  | "sendError"
  | "setInfoFallback"
  | "coinCheck"
  | "unsentEstimate"
  | "l4SnapshotSize"
  | "status"
  | "closeAll"
  | "info"
>;

export interface NatsEdgeOptions {
  readonly nc: NatsConnection;
  readonly metrics: Metrics;
  /** This edge's id in the lease bucket: `[A-Za-z0-9_-]+`. */
  readonly id: string;
  readonly leaseTtlMs?: number;
}

/** An edge whose core is reached over NATS. */
export class NatsEdge implements ServedFeed {
  readonly #nc: NatsConnection;
  readonly #options: NatsEdgeOptions;
  readonly #edge: Edge;
  readonly #requester: Requester;
  #lease: EdgeLease | null = null;
  /** Watched view key → its NATS subscription. */
  readonly #views = new Map<string, NatsSubscription>();
  readonly #control: NatsSubscription[] = [];
  /** The core we follow and its own epoch; `#epoch` is what the edge is told (bumped on every re-sync). */
  #core: string | null = null;
  #coreEpoch = -1;
  #epoch = 0;
  #last: WireStatus | null = null;
  #phase: Phase = "starting";
  #stale = false;
  #resync = false;
  #heard = 0;
  #marker = -1;
  #timer: ReturnType<typeof setInterval> | null = null;
  #closed = false;
  readonly #received: Counter;
  readonly #gaps: Counter;
  readonly #staleCount: Counter;
  readonly #bad: Counter;

  constructor(options: NatsEdgeOptions) {
    this.#nc = options.nc;
    this.#options = options;
    this.#edge = new Edge({ metrics: options.metrics, send: (message) => this.#send(message) });
    this.#requester = new Requester(options.nc);
    const m = options.metrics;
    this.#received = m.counter("hlbook_nats_received_total", "view messages received from NATS");
    this.#gaps = m.counter("hlbook_nats_gaps_total", "skipped block heights seen (each re-syncs every view)");
    this.#staleCount = m.counter(
      "hlbook_nats_stale_total",
      "times the edge lost the core (NATS or the core away)",
    );
    this.#bad = m.counter("hlbook_nats_bad_messages_total", "NATS messages ignored as malformed");
  }

  /** Opens the lease, follows the core's status and markers and the connection's state. */
  async start(): Promise<void> {
    const ttl = this.#options.leaseTtlMs ?? LEASE_TTL_MS;
    const kv = await new Kvm(this.#nc).create(LEASE_BUCKET, { ttl, history: 1 });
    this.#lease = new EdgeLease(kv, this.#options.id, ttl);
    this.#control.push(
      this.#nc.subscribe(STATUS_SUBJECT, { callback: (_e, msg) => this.#onStatus(msg.string()) }),
      this.#nc.subscribe(BLOCK_SUBJECT, { callback: (_e, msg) => this.#onMarker(msg) }),
    );
    this.#hello();
    this.#timer = setInterval(() => this.#checkSilence(), 500);
    void this.#followConnection();
  }

  // ---- the core's side --------------------------------------------------------------------------------

  #send(message: EdgeToCore): void {
    switch (message.kind) {
      case "watch": {
        if (this.#views.has(message.key)) return;
        const key = message.key;
        this.#views.set(
          key,
          this.#nc.subscribe(viewSubject(key), { callback: (_e, msg) => this.#onView(key, msg) }),
        );
        void this.#lease?.set(this.#views.keys());
        return;
      }
      case "unwatch": {
        const sub = this.#views.get(message.key);
        if (sub === undefined) return;
        this.#views.delete(message.key);
        try {
          sub.unsubscribe();
        } catch {
          // connection closed: the subscription is gone with it
        }
        void this.#lease?.set(this.#views.keys());
        return;
      }
      case "snapshot":
        this.#requester.request(SNAPSHOT_SUBJECT, JSON.stringify(message), REQUEST_TIMEOUT_MS, (result) => {
          const reply = result.ok ? this.#parse(result.text, "snapshotReply") : null;
          // No answer: the subscribers are told the phase; they get a snapshot at the next re-sync.
          this.#deliver(
            reply ?? {
              kind: "snapshotReply",
              id: message.id,
              key: message.key,
              height: this.#last?.height ?? 0,
              texts: null,
            },
          );
          if (reply === null) this.#resync = true;
        });
        return;
      case "info":
        this.#requester.request(INFO_SUBJECT, JSON.stringify(message), REQUEST_TIMEOUT_MS, (result) => {
          const reply = result.ok ? this.#parse(result.text, "infoReply") : null;
          this.#deliver(
            reply ?? {
              kind: "infoReply",
              id: message.id,
              result: { ok: false, status: 503, error: "the core did not answer" },
            },
          );
        });
        return;
    }
  }

  #parse(text: string, kind: CoreToEdge["kind"]): CoreToEdge | null {
    try {
      const message = JSON.parse(text) as CoreToEdge;
      if (message?.kind === kind) return message;
    } catch {
      // counted below
    }
    this.#bad.inc();
    return null;
  }

  #deliver(message: CoreToEdge): void {
    if (!this.#closed) this.#edge.receive(message);
  }

  #onView(key: string, msg: Msg): void {
    const entry = readEntry(msg.headers);
    if (entry === null) {
      this.#bad.inc();
      return;
    }
    this.#received.inc();
    const item = [[key, msg.string()] as const];
    this.#deliver({
      kind: "block",
      height: entry.height,
      time: entry.time,
      views: entry.kind === "v" ? item : [],
      l4: entry.kind === "l" ? item : [],
      queued: entry.kind === "q" ? item : [],
    });
  }

  #onStatus(text: string): void {
    let status: WireStatus;
    try {
      status = JSON.parse(text) as WireStatus;
      if (status?.kind !== "status" || typeof status.core !== "string") throw new Error("not a status");
    } catch {
      this.#bad.inc();
      return;
    }
    this.#heard = Date.now();
    let told = status.told;
    const newCore = status.core !== this.#core || status.epoch !== this.#coreEpoch;
    if (newCore) {
      if (this.#core !== null && status.core !== this.#core) {
        log.info("following core {id}", { id: status.core });
      }
      this.#core = status.core;
      this.#coreEpoch = status.epoch;
      this.#marker = -1;
    }
    if (newCore || this.#resync || this.#stale) {
      this.#epoch++;
      this.#resync = false;
      if (this.#stale) {
        log.info("the core is back at height {height}: re-syncing every view", { height: status.height });
        told ??= { height: status.height, time: status.time };
      }
      this.#stale = false;
    }
    this.#last = status;
    this.#phase = status.phase;
    this.#deliver({ ...status, epoch: this.#epoch, told });
  }

  #onMarker(msg: Msg): void {
    const height = Number(msg.string());
    if (!Number.isSafeInteger(height)) {
      this.#bad.inc();
      return;
    }
    const last = this.#marker;
    this.#marker = height;
    if (last < 0 || height === last + 1 || this.#core === null) return;
    // A height skipped (messages lost), or the core went back: fresh snapshots of every view.
    this.#gaps.inc();
    log.warn("block heights {from}..{to} not seen: re-syncing every view", {
      from: last + 1,
      to: height - 1,
    });
    this.#epoch++;
    const status = this.#last;
    if (status !== null) {
      this.#deliver({ ...status, epoch: this.#epoch, told: { height, time: status.time } });
    }
  }

  /** Asks the core for its status now (at start and after a reconnect) instead of waiting for its next one. */
  #hello(): void {
    this.#requester.request(HELLO_SUBJECT, "", 5000, (result) => {
      if (result.ok && result.text !== "null") this.#onStatus(result.text);
    });
  }

  #checkSilence(): void {
    if (this.#stale || this.#heard === 0) return;
    if (Date.now() - this.#heard > SILENCE_MS) this.#goStale("the core has been silent");
  }

  #goStale(why: string): void {
    if (this.#stale || this.#closed) return;
    this.#stale = true;
    this.#phase = "stale";
    this.#staleCount.inc();
    log.warn("serving stale data: {why}", { why });
    const last = this.#last;
    this.#deliver({
      kind: "status",
      phase: "stale",
      live: last?.live ?? false,
      height: last?.height ?? 0,
      time: last?.time ?? 0,
      epoch: this.#epoch,
      coins: null,
      told: { height: last?.height ?? 0, time: last?.time ?? 0 },
    });
  }

  async #followConnection(): Promise<void> {
    try {
      for await (const status of this.#nc.status()) {
        if (status.type === "disconnect") {
          this.#requester.failAll("NATS connection lost");
          this.#goStale("the NATS connection was lost");
        } else if (status.type === "reconnect") {
          log.info("NATS connection back ({server})", { server: status.server });
          this.#hello();
        }
      }
    } catch {
      // the connection closed
    }
  }

  // ---- the server's side ------------------------------------------------------------------------------

  attach: Feed["attach"] = (sink, limits) => this.#edge.attach(sink, limits);
  detach: Feed["detach"] = (client) => this.#edge.detach(client);
  handle: Feed["handle"] = (client, text) => this.#edge.handle(client, text);
  poll: Feed["poll"] = () => this.#edge.poll();
  sendError: Feed["sendError"] = (client, text) => this.#edge.sendError(client, text);
  setInfoFallback: Feed["setInfoFallback"] = (fallback) => this.#edge.setInfoFallback(fallback);
  coinCheck: Feed["coinCheck"] = () => this.#edge.coinCheck();
  unsentEstimate: Feed["unsentEstimate"] = (client) => this.#edge.unsentEstimate(client);
  l4SnapshotSize: Feed["l4SnapshotSize"] = (coin) => this.#edge.l4SnapshotSize(coin);
  closeAll: Feed["closeAll"] = (code, reason) => this.#edge.closeAll(code, reason);

  /** `POST /info` wants an answer at once; on an edge the books are a request away, so it points to `post`. */
  info(): InfoResult {
    return {
      ok: false,
      status: 501,
      error:
        'an hlbook edge answers l2Book and allMids info over the WebSocket ("method":"post"), not POST /info',
    };
  }

  status(): ReturnType<Feed["status"]> {
    const last = this.#last;
    return {
      phase: this.#phase,
      live: last?.live ?? false,
      height: Math.max(last?.height ?? 0, this.#marker),
      time: last?.time ?? 0,
      ...this.#edge.counts(),
    };
  }

  /** Drops the lease (the core stops computing this edge's views at once) and every subscription. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    for (const sub of [...this.#control, ...this.#views.values()]) {
      try {
        sub.unsubscribe();
      } catch {
        // connection closed
      }
    }
    this.#requester.close();
    await this.#lease?.close().catch(() => {});
  }
}
