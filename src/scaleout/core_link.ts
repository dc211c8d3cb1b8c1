/**
 * The core's end of the NATS link (docs/scale-out.md): what a {@link Core} emits goes to NATS, what edges ask
 * comes from it.
 *
 * - Block outputs: each view message on its view's subject (stored by the stream), with height, time and kind
 *   in headers and a message id JetStream deduplicates; before the first message of each new height, a marker
 *   on `hlbook.ctl.block` so edges see every height and detect a gap.
 * - Status: on every change and once a second, with this core's id (a restarted core is a new one to edges).
 * - Which views the core computes: the union of the edges' leases (KV bucket, `leases.ts`) plus every view a
 *   snapshot was asked for within the lease TTL (its lease may still be on its way). A lease names view keys
 *   only; the subscription behind a key is learnt from the snapshot request every first watcher sends.
 * - Snapshot and info requests: answered in chunks on the requester's inbox (`rpc.ts`), ids mapped so the
 *   requests of many edges never collide.
 * - One core at a time: nothing is published or answered unless this core holds the core lock (`lock.ts`); a
 *   stand-by keeps trying and takes over when the holder's lock expires.
 *
 * NATS failures are logged once per kind, counted, and never thrown into the core.
 *
 * @module
 */
import type { NatsConnection, Subscription as NatsSubscription } from "@nats-io/transport-node";
import type { Msg } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { BlockOutput, CoreStatus, CoreToEdge, EdgeToCore, ViewMessage } from "../link/mod.ts";
import type { Subscription } from "../feed/mod.ts";
import type { Counter, Gauge, Metrics } from "../metrics.ts";
import { logger } from "../log.ts";
import { CoreLock } from "./lock.ts";
import { LeaseTable } from "./leases.ts";
import { respond } from "./rpc.ts";
import { viewSubject } from "./subjects.ts";
import {
  BLOCK_SUBJECT,
  entryHeaders,
  type EntryKind,
  HELLO_SUBJECT,
  INFO_SUBJECT,
  LEASE_BUCKET,
  LOCK_BUCKET,
  type Retention,
  SNAPSHOT_SUBJECT,
  STATUS_SUBJECT,
  streamConfig,
  type WireStatus,
} from "./wire.ts";

const log = logger("scaleout");

/** Default TTLs: a dead core's lock frees within 5 s, a dead edge's views within 10 s. */
export const LOCK_TTL_MS = 5000;
export const LEASE_TTL_MS = 10_000;

/** What a core link needs. */
export interface CoreLinkOptions {
  readonly nc: NatsConnection;
  /** This core's identity (host, pid, start time): in its status and its lock. */
  readonly id: string;
  readonly retention: Retention;
  readonly metrics: Metrics;
  readonly lockTtlMs?: number;
  readonly leaseTtlMs?: number;
}

/** The part of a {@link Core} the link drives. */
export interface CoreInput {
  receive(message: EdgeToCore): void;
}

/** A request being answered: who asked, and the id they gave it. */
interface Asked {
  readonly msg: Msg;
  readonly id: number;
}

/** The core's end of the NATS link. */
export class NatsCoreLink {
  readonly #nc: NatsConnection;
  readonly #options: CoreLinkOptions;
  readonly #lockTtl: number;
  readonly #leaseTtl: number;
  #core: CoreInput | null = null;
  #lock: CoreLock | null = null;
  #requests: NatsSubscription[] = [];
  readonly #leases: LeaseTable;
  /** View key → its subscription, learnt from snapshot requests. */
  readonly #subscriptions = new Map<string, Subscription>();
  /** View key → until when (ms) a snapshot request keeps it watched without a lease. */
  readonly #grace = new Map<string, number>();
  /** View keys the core computes now. */
  readonly #active = new Set<string>();
  /** Request ids given to the core → who asked. */
  readonly #asked = new Map<number, Asked>();
  #nextId = 1;
  #status: WireStatus | null = null;
  #coins: readonly string[] = [];
  #marked = -1;
  /** View key → height of its last published message (or where computing began): the `Hlbook-Prev` chain. */
  readonly #chain = new Map<string, number>();
  /** Height of the last output emitted. */
  #height = 0;
  /** Messages of the current height per view key (the `n` of their message ids). */
  readonly #counts = new Map<string, number>();
  #countsHeight = -1;
  readonly #abort = new AbortController();
  #timers: ReturnType<typeof setInterval>[] = [];
  #closed = false;
  readonly #published: Counter;
  readonly #publishedBytes: Counter;
  readonly #failures: Counter;
  readonly #holding: Gauge;
  readonly #views: Gauge;
  readonly #logged = new Set<string>();

  constructor(options: CoreLinkOptions) {
    this.#nc = options.nc;
    this.#options = options;
    this.#lockTtl = options.lockTtlMs ?? LOCK_TTL_MS;
    this.#leaseTtl = options.leaseTtlMs ?? LEASE_TTL_MS;
    this.#leases = new LeaseTable(this.#leaseTtl);
    const m = options.metrics;
    this.#published = m.counter("hlbook_nats_published_total", "view messages published to NATS");
    this.#publishedBytes = m.counter("hlbook_nats_published_bytes_total", "bytes of view messages published");
    this.#failures = m.counter(
      "hlbook_nats_failures_total",
      "NATS operations that failed (logged once per kind)",
    );
    this.#holding = m.gauge(
      "hlbook_nats_core_lock_held",
      "1 while this core holds the core lock and publishes",
    );
    this.#views = m.gauge(
      "hlbook_nats_watched_views",
      "views the edges' leases and requests ask the core for",
    );
  }

  /** What the core emits: pass as its `emit`. Never throws. */
  readonly emit = (message: CoreToEdge): void => {
    try {
      switch (message.kind) {
        case "block":
          this.#publishOutput(message);
          return;
        case "status":
          this.#publishStatus(message);
          return;
        case "snapshotReply":
        case "infoReply":
        case "assetCtxsReply": {
          const asked = this.#asked.get(message.id);
          if (asked === undefined) return;
          this.#asked.delete(message.id);
          if (!this.#publishing) return;
          const prev = message.kind === "snapshotReply" ? this.#chain.get(message.key) ?? null : undefined;
          respond(this.#nc, asked.msg, JSON.stringify({ ...message, id: asked.id, prev }));
          return;
        }
      }
    } catch (error) {
      this.#fail("publish", error);
    }
  };

  /** Sets up the stream and buckets, then takes the lock (retried in the background) and follows leases. */
  async start(core: CoreInput): Promise<void> {
    this.#core = core;
    const jsm = await jetstreamManager(this.#nc);
    const config = streamConfig(this.#options.retention);
    try {
      await jsm.streams.info(config.name);
      await jsm.streams.update(config.name, config);
    } catch {
      await jsm.streams.add(config);
    }
    const kvm = new Kvm(this.#nc);
    const leases = await kvm.create(LEASE_BUCKET, { ttl: this.#leaseTtl, history: 1 });
    const locks = await kvm.create(LOCK_BUCKET, { ttl: this.#lockTtl, history: 1 });
    void this.#followLeases(leases);
    void this.#takeLock(locks);
    this.#timers.push(setInterval(() => this.#reconcile(), 1000));
    this.#timers.push(setInterval(() => this.#heartbeat(), 1000));
  }

  /** True while this core holds the lock: only then does it publish and answer. */
  get #publishing(): boolean {
    return this.#lock?.held === true && !this.#closed;
  }

  /** Whether this core publishes now (for `/health`). */
  get publishing(): boolean {
    return this.#publishing;
  }

  // ---- publishing -------------------------------------------------------------------------------------

  #publishOutput(output: BlockOutput): void {
    this.#height = output.height;
    if (!this.#publishing) return;
    const { height, time } = output;
    if (height > this.#marked) {
      this.#marked = height;
      this.#nc.publish(BLOCK_SUBJECT, `${height}`);
    }
    if (height !== this.#countsHeight) {
      this.#counts.clear();
      this.#countsHeight = height;
    }
    this.#publishList(output.views, "v", height, time);
    this.#publishList(output.l4, "l", height, time);
    this.#publishList(output.queued, "q", height, time);
  }

  #publishList(list: readonly ViewMessage[], kind: EntryKind, height: number, time: number): void {
    for (const [key, text] of list) {
      const n = (this.#counts.get(key) ?? 0) + 1;
      this.#counts.set(key, n);
      const id = `${height}:${key.replaceAll("\u0000", "/")}:${n}`;
      const prev = this.#chain.get(key) ?? null;
      this.#nc.publish(viewSubject(key), text, { headers: entryHeaders({ height, time, kind, id, prev }) });
      this.#chain.set(key, height);
      this.#published.inc();
      this.#publishedBytes.inc(text.length);
    }
  }

  #publishStatus(status: CoreStatus): void {
    if (status.coins !== null) this.#coins = status.coins;
    this.#status = { ...status, coins: this.#coins, core: this.#options.id };
    if (!this.#publishing) return;
    this.#nc.publish(STATUS_SUBJECT, JSON.stringify(this.#status));
  }

  /** The last status again, told nothing new: edges know the core is there, with its height and coins. */
  #heartbeat(): void {
    if (!this.#publishing || this.#status === null) return;
    try {
      this.#nc.publish(STATUS_SUBJECT, JSON.stringify({ ...this.#status, told: null }));
    } catch (error) {
      this.#fail("heartbeat", error);
    }
  }

  // ---- requests ---------------------------------------------------------------------------------------

  #serveRequests(): void {
    const on = (subject: string, handle: (msg: Msg) => void) =>
      this.#nc.subscribe(subject, {
        callback: (_error, msg) => {
          try {
            handle(msg);
          } catch (error) {
            this.#fail(`request on ${subject}`, error);
          }
        },
      });
    this.#requests = [
      on(SNAPSHOT_SUBJECT, (msg) => this.#snapshotRequest(msg)),
      on(INFO_SUBJECT, (msg) => this.#infoRequest(msg)),
      on(HELLO_SUBJECT, (msg) => {
        if (this.#status !== null) respond(this.#nc, msg, JSON.stringify({ ...this.#status, told: null }));
        else respond(this.#nc, msg, "null");
      }),
    ];
  }

  #stopRequests(): void {
    for (const sub of this.#requests) {
      try {
        sub.unsubscribe();
      } catch {
        // connection closed
      }
    }
    this.#requests = [];
  }

  #snapshotRequest(msg: Msg): void {
    const request = msg.json<EdgeToCore>();
    if (request?.kind !== "snapshot" || typeof request.key !== "string" || typeof request.id !== "number") {
      throw new Error("malformed snapshot request");
    }
    this.#subscriptions.set(request.key, request.subscription);
    this.#grace.set(request.key, Date.now() + this.#leaseTtl);
    this.#watch(request.key);
    const id = this.#nextId++;
    this.#asked.set(id, { msg, id: request.id });
    this.#core?.receive({ ...request, id });
  }

  /** An info or asset context query (`hlbook.ctl.info`). */
  #infoRequest(msg: Msg): void {
    const request = msg.json<EdgeToCore>();
    if ((request?.kind !== "info" && request?.kind !== "assetCtxs") || typeof request.id !== "number") {
      throw new Error("malformed info request");
    }
    const id = this.#nextId++;
    this.#asked.set(id, { msg, id: request.id });
    this.#core?.receive({ ...request, id });
  }

  // ---- which views ------------------------------------------------------------------------------------

  #watch(key: string): void {
    if (this.#active.has(key)) return;
    const subscription = this.#subscriptions.get(key);
    if (subscription === undefined) return; // no snapshot was asked for it yet: nobody needs its messages
    this.#active.add(key);
    this.#chain.set(key, this.#height);
    this.#views.set(this.#active.size);
    this.#core?.receive({ kind: "watch", key, subscription });
  }

  /** Watches what leases and recent requests name, unwatches the rest. */
  #reconcile(): void {
    try {
      const now = Date.now();
      const wanted = this.#leases.watched();
      for (const [key, until] of this.#grace) {
        if (until < now) this.#grace.delete(key);
        else wanted.add(key);
      }
      for (const key of [...this.#active]) {
        if (wanted.has(key)) continue;
        this.#active.delete(key);
        this.#chain.delete(key);
        this.#core?.receive({ kind: "unwatch", key });
      }
      for (const key of wanted) this.#watch(key);
      // A view nobody leases or asked for lately is forgotten (its next first watcher asks again).
      for (const key of this.#subscriptions.keys()) if (!wanted.has(key)) this.#subscriptions.delete(key);
      this.#views.set(this.#active.size);
    } catch (error) {
      this.#fail("lease reconcile", error);
    }
  }

  async #followLeases(kv: KV): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        await this.#leases.follow(kv, this.#abort.signal);
      } catch (error) {
        this.#fail("lease watch", error);
      }
      if (this.#abort.signal.aborted) return;
      await sleep(500, this.#abort.signal);
    }
  }

  async #takeLock(kv: KV): Promise<void> {
    let told = false;
    while (!this.#closed) {
      const attempt = await CoreLock.acquire(kv, {
        id: this.#options.id,
        ttlMs: this.#lockTtl,
        onLost: () => {
          this.#holding.set(0);
          this.#stopRequests();
          if (!this.#closed) void this.#takeLock(kv);
        },
      }).catch((error) => {
        this.#fail("core lock", error);
        return null;
      });
      if (attempt?.ok) {
        if (this.#closed) {
          await attempt.lock.release();
          return;
        }
        this.#lock = attempt.lock;
        this.#holding.set(1);
        // Nothing was published while the lock was not held: no view's chain goes on across that.
        this.#chain.clear();
        this.#marked = -1;
        this.#serveRequests();
        log.info("core {id} holds the core lock and publishes", { id: this.#options.id });
        if (this.#status !== null) this.#nc.publish(STATUS_SUBJECT, JSON.stringify(this.#status));
        return;
      }
      if (attempt !== null && !told) {
        told = true;
        log.warn("another core holds the core lock ({holder}): standing by, publishing nothing", {
          holder: attempt.holder?.id ?? "unknown",
        });
      }
      await sleep(Math.max(100, this.#lockTtl / 3), this.#abort.signal);
    }
  }

  #fail(what: string, error: unknown): void {
    this.#failures.inc();
    if (this.#logged.has(what)) return;
    this.#logged.add(what);
    log.warn("NATS {what} failed (logged once): {error}", { what, error: String(error) });
  }

  /** Stops publishing and answering, releases the lock (a stand-by takes over at once). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    for (const timer of this.#timers) clearInterval(timer);
    this.#stopRequests();
    await this.#lock?.release();
    this.#holding.set(0);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
