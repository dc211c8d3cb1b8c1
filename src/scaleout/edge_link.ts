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
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { CoreToEdge, EdgeToCore, InfoResult, SnapshotRequest } from "../link/mod.ts";
import { Edge, type Feed, type ServedFeed } from "../feed/mod.ts";
import type { AssetCtxs, FeedStatus, InfoRequest, Phase } from "../feed/mod.ts";
import type { Counter, Metrics } from "../metrics.ts";
import { logger } from "../log.ts";
import { EdgeLease } from "./leases.ts";
import { Requester } from "./rpc.ts";
import { viewSubject } from "./subjects.ts";
import {
  BLOCK_SUBJECT,
  type Entry,
  HELLO_SUBJECT,
  INFO_SUBJECT,
  LEASE_BUCKET,
  readEntry,
  SNAPSHOT_SUBJECT,
  STATUS_SUBJECT,
  STREAM,
  type WireSnapshotReply,
  type WireStatus,
} from "./wire.ts";
import { LEASE_TTL_MS } from "./core_link.ts";

const log = logger("scaleout");

/** A core not heard from for this long (its status comes every second) is reported stale. */
export const SILENCE_MS = 3500;
const REQUEST_TIMEOUT_MS = 15_000;
/** A resume's replay from the stream gives up (and falls back to a fresh snapshot) after this long. */
const REPLAY_TIMEOUT_MS = 10_000;

/** One view message as the edge received it (live or replayed). */
interface Received {
  readonly entry: Entry;
  readonly text: string;
}

/** A client's subscribe with `fromHeight`, until its replay and the core's answer are both in. */
interface Resume {
  readonly request: SnapshotRequest;
  readonly fromHeight: number;
  /** The view's live messages since the resume began, in arrival order. */
  readonly live: Received[];
  /** The core's answer (null: none came) and how many live messages preceded it; undefined until then. */
  reply?: { readonly message: WireSnapshotReply | null; readonly at: number };
  /** The replayed messages after `fromHeight` (null: the replay failed); undefined until done. */
  replayed?: Received[] | null;
}

/**
 * The `fromHeight` of a `subscribe` to trades or l4Book carrying the hlbook resume extension
 * (`"hlbook":{"fromHeight":H}`), or null for every other message (which the edge handles as the official API).
 */
export function resumeHeight(text: string): number | null {
  if (!text.includes('"hlbook"')) return null;
  try {
    const raw = JSON.parse(text);
    const type = raw?.subscription?.type;
    const height = raw?.hlbook?.fromHeight;
    if (raw?.method !== "subscribe" || (type !== "trades" && type !== "l4Book")) return null;
    return Number.isSafeInteger(height) && height >= 0 ? height : null;
  } catch {
    return null;
  }
}

/** The order of one view's messages: by height, then by the count in their message id. */
function order(a: Received, b: Received): number {
  return a.entry.height - b.entry.height || idCount(a.entry.id) - idCount(b.entry.id);
}

function idCount(id: string): number {
  return Number(id.slice(id.lastIndexOf(":") + 1));
}

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
  /** Set while a resuming subscribe is handled: its snapshot request becomes a resume. */
  #resuming: number | null = null;
  /** View key → resumes in progress on it. */
  readonly #resumes = new Map<string, Set<Resume>>();
  readonly #received: Counter;
  readonly #gaps: Counter;
  readonly #staleCount: Counter;
  readonly #bad: Counter;
  readonly #resumed: Counter;
  readonly #resumeGaps: Counter;

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
    this.#resumed = m.counter("hlbook_resumes_total", "subscribes with fromHeight served from the stream");
    this.#resumeGaps = m.counter(
      "hlbook_resume_gaps_total",
      "subscribes with fromHeight the stream could not serve without a gap (fresh snapshot and a notice)",
    );
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
        if (this.#resuming !== null) {
          this.#resume(message, this.#resuming);
          return;
        }
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
      case "assetCtxs": {
        const kind = message.kind === "info" ? "infoReply" : "assetCtxsReply";
        this.#requester.request(INFO_SUBJECT, JSON.stringify(message), REQUEST_TIMEOUT_MS, (result) => {
          // No answer: an info error, which the edge also takes as "none" for an asset context query.
          this.#deliver(
            (result.ok ? this.#parse(result.text, kind) : null) ?? {
              kind: "infoReply",
              id: message.id,
              result: { ok: false, status: 503, error: "the core did not answer; try again" },
            },
          );
        });
        return;
      }
      case "reportRequest":
        // A core of a NATS deployment serves its own /health and /metrics; the edge does not wait for it.
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
    // After an outage what trickles in may follow a hole (what the server lost); the re-sync replaces it.
    if (this.#stale) return;
    const text = msg.string();
    const resumes = this.#resumes.get(key);
    if (resumes !== undefined) { for (const resume of resumes) resume.live.push({ entry, text }); }
    const item = [[key, text] as const];
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
    const text = msg.string();
    const height = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
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

  // ---- resume by height ------------------------------------------------------------------------------

  /**
   * Serves a subscribe with `fromHeight` (docs/scale-out.md): the view's messages after it, from the stream
   * and the live subscription merged, when they form an unbroken chain up to the core's answer; otherwise the
   * core's fresh snapshot (nothing for trades) after an `hlbookStatus` gap notice. The core is asked in any
   * case: it must compute the view from now on, and its answer marks where the live messages take over.
   */
  #resume(request: SnapshotRequest, fromHeight: number): void {
    const resume: Resume = { request, fromHeight, live: [] };
    let set = this.#resumes.get(request.key);
    if (set === undefined) this.#resumes.set(request.key, set = new Set());
    set.add(resume);
    this.#requester.request(SNAPSHOT_SUBJECT, JSON.stringify(request), REQUEST_TIMEOUT_MS, (result) => {
      const message = result.ok
        ? this.#parse(result.text, "snapshotReply") as WireSnapshotReply | null
        : null;
      resume.reply = { message, at: resume.live.length };
      this.#finishResume(resume);
    });
    void this.#replay(request.key, fromHeight).then((replayed) => {
      resume.replayed = replayed;
      this.#finishResume(resume);
    });
  }

  /** The view's stored messages after `fromHeight`, oldest first; null when the stream cannot say. */
  async #replay(key: string, fromHeight: number): Promise<Received[] | null> {
    // The stream is searched from a time before `fromHeight`'s block, assuming at least a block a second
    // (Hyperliquid makes about ten): a start too late shows as a broken chain and the whole subject is read.
    const head = Math.max(this.#marker, this.#last?.height ?? 0);
    const estimate = Date.now() - Math.max(0, head - fromHeight) * 1000 - 10_000;
    const timeout = AbortSignal.timeout(REPLAY_TIMEOUT_MS);
    try {
      let got = await this.#read(viewSubject(key), fromHeight, estimate, timeout);
      if (got.length > 0 && !(got[0].entry.prev !== null && got[0].entry.prev <= fromHeight)) {
        got = await this.#read(viewSubject(key), fromHeight, null, timeout);
      }
      return got;
    } catch (error) {
      log.debug("replay of {key} failed: {error}", { key, error: String(error) });
      return null;
    }
  }

  async #read(
    subject: string,
    after: number,
    fromMs: number | null,
    signal: AbortSignal,
  ): Promise<Received[]> {
    const consumer = await jetstream(this.#nc).consumers.get(STREAM, {
      filter_subjects: subject,
      ...(fromMs === null
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(fromMs).toISOString() }),
    });
    const out: Received[] = [];
    try {
      let pending = (await consumer.info()).num_pending;
      while (pending > 0 && !signal.aborted) {
        const batch = await consumer.fetch({ max_messages: Math.min(pending, 1000), expires: 2000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          pending = m.info.pending;
          const entry = readEntry(m.headers);
          if (entry !== null && entry.height > after) out.push({ entry, text: m.string() });
          if (pending === 0) break;
        }
        if (got === 0) break;
      }
      if (signal.aborted) throw new Error("replay timed out");
      return out;
    } finally {
      await consumer.delete().catch(() => {});
    }
  }

  #finishResume(resume: Resume): void {
    const reply = resume.reply;
    if (reply === undefined || resume.replayed === undefined || this.#closed) return;
    const { request, fromHeight } = resume;
    const set = this.#resumes.get(request.key);
    set?.delete(resume);
    if (set?.size === 0) this.#resumes.delete(request.key);
    if (reply.message === null) {
      this.#resync = true;
      this.#deliver({ kind: "snapshotReply", id: request.id, key: request.key, height: 0, texts: null });
      return;
    }
    const chain = this.#chain(resume, reply.message);
    if (chain !== null) {
      this.#resumed.inc();
      const last = chain.at(-1)?.entry.height ?? fromHeight;
      this.#deliver({
        kind: "snapshotReply",
        id: request.id,
        key: request.key,
        height: last,
        texts: chain.map((r) => r.text),
        resume: true,
      });
      return;
    }
    // Not served without a gap: say so, then a fresh start as for a new subscriber.
    this.#resumeGaps.inc();
    const status = this.#last;
    const notice = `{"channel":"hlbookStatus","data":{"phase":"${this.#phase}","height":${
      status?.height ?? 0
    },"time":${status?.time ?? 0},"gap":{"subscription":${
      JSON.stringify(request.subscription)
    },"fromHeight":${fromHeight}}}}`;
    const after = request.subscription.type === "l4Book"
      ? []
      : resume.live.slice(reply.at).map((r) => r.text);
    this.#deliver({
      kind: "snapshotReply",
      id: request.id,
      key: request.key,
      height: reply.message.height,
      texts: reply.message.texts === null ? null : [notice, ...reply.message.texts, ...after],
      resume: true,
    });
  }

  /**
   * Every message of the view after `fromHeight` up to now, replayed and live merged, when they link: the first
   * one's previous height is at most `fromHeight`, each next one's is the one before's, and the last one
   * published before the core's answer is the one the answer names. Null when they do not.
   */
  #chain(resume: Resume, reply: WireSnapshotReply): Received[] | null {
    const replayed = resume.replayed;
    if (replayed === null || replayed === undefined) return null;
    const byId = new Map<string, Received>();
    for (const r of replayed) byId.set(r.entry.id, r);
    for (const r of resume.live) if (r.entry.height > resume.fromHeight) byId.set(r.entry.id, r);
    const all = [...byId.values()].sort(order);
    let prev = resume.fromHeight;
    for (const [i, r] of all.entries()) {
      const linked = r.entry.prev !== null && (i === 0 ? r.entry.prev <= prev : r.entry.prev === prev);
      if (!linked) return null;
      prev = r.entry.height;
    }
    // What the core had published on the view when it answered must be here too.
    const before = resume.reply === undefined ? [] : resume.live.slice(0, resume.reply.at);
    const lastBefore = before.at(-1)?.entry.height ?? null;
    const published = reply.prev;
    if (published === null) return null;
    if (published > resume.fromHeight && !all.some((r) => r.entry.height === published)) return null;
    if (lastBefore !== null && lastBefore > published) return null;
    return all;
  }

  // ---- the server's side ------------------------------------------------------------------------------

  attach: Feed["attach"] = (sink, limits) => this.#edge.attach(sink, limits);
  detach: Feed["detach"] = (client) => this.#edge.detach(client);
  handle: Feed["handle"] = (client, text) => {
    const fromHeight = resumeHeight(text);
    if (fromHeight === null) return this.#edge.handle(client, text);
    // The edge subscribes the client as usual (it ignores the extension); its snapshot request is the resume.
    this.#resuming = fromHeight;
    try {
      this.#edge.handle(client, text);
    } finally {
      this.#resuming = null;
    }
  };
  poll: Feed["poll"] = () => this.#edge.poll();
  sendError: Feed["sendError"] = (client, text) => this.#edge.sendError(client, text);
  setInfoFallback: Feed["setInfoFallback"] = (fallback) => this.#edge.setInfoFallback(fallback);
  coinCheck: Feed["coinCheck"] = () => this.#edge.coinCheck();
  unsentEstimate: Feed["unsentEstimate"] = (client) => this.#edge.unsentEstimate(client);
  l4SnapshotSize: Feed["l4SnapshotSize"] = (coin) => this.#edge.l4SnapshotSize(coin);
  closeAll: Feed["closeAll"] = (code, reason) => this.#edge.closeAll(code, reason);

  info(request: InfoRequest): Promise<InfoResult> {
    return this.#edge.ask(request);
  }

  async assetCtxs(names: readonly string[], version: string | null): Promise<AssetCtxs | null> {
    const reply = await this.#edge.assetCtxs(names, version);
    return reply === null ? null : { version: reply.version, ctxs: reply.ctxs };
  }

  /** Why the edge is not ready beyond the core's phase (`/health`). */
  reason(): string | null {
    if (this.#stale) return "lost NATS or the core: serving the last data until they are back";
    return this.#core === null ? "no core heard from yet" : null;
  }

  status(): FeedStatus {
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
