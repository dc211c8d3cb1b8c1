/**
 * One connection's send policy: conflation, backpressure, the 1008 close, and the wait for a chunked snapshot.
 *
 * This is the edge's half of the old fan-out. A client whose socket has more than a soft threshold unsent gets
 * its conflatable messages (`l2Book`, `bbo`, `allMids`, `activeAssetCtx`) conflated to the latest per view
 * (flushed when it drains, checked on every block and on a timer); `trades`, `l4Book` and replies are always
 * queued; above `maxBuffered` the client is closed with 1008. A large l4Book snapshot is allowed on top of
 * `maxBuffered` until the socket drains once, and the view's Updates wait behind it until it is sent.
 *
 * @module
 */
import type { Coin } from "../book/types.ts";
import type { Counter, Metrics } from "../metrics.ts";
import { logger } from "../log.ts";
import type { Subscription } from "./subscription.ts";

const log = logger("feed");

/** What the feed needs from a connection (a `WebSocket` fits). */
export interface ClientSink {
  send(text: string): void;
  readonly bufferedAmount: number;
  close(code?: number, reason?: string): void;
}

/** Per-connection limits. */
export interface ClientLimits {
  /** Subscriptions one connection may hold. */
  readonly maxSubscriptions: number;
  /** Unsent bytes above which the client is closed with 1008 (may change over time, e.g. a per-address share). */
  readonly maxBuffered: number;
  /** Budgets shared with other connections (per address, global); see {@link SubscriptionGate}. */
  readonly gate?: SubscriptionGate;
}

/**
 * A budget a subscription must fit in besides the connection's own `maxSubscriptions` (the server's per-address
 * and global budgets, src/server/limits.ts). Every admitted subscription is released exactly once.
 */
export interface SubscriptionGate {
  /** Asked before a subscription is added: null admits it, a text is why not (put in the error reply). */
  admit(client: Client, subscription: Subscription): string | null;
  /** An admitted subscription is gone (unsubscribed, or its connection closed). */
  release(client: Client, subscription: Subscription): void;
}

/** A client waiting for an l4Book snapshot: the request it waits for, the view's Updates queued meanwhile. */
export interface L4Wait {
  readonly coin: Coin;
  readonly id: number;
  readonly queued: { readonly height: number; readonly text: string }[];
}

/** Most snapshot bytes a client may have unsent on top of `maxBuffered` (a reader that never reads is closed). */
const L4_ALLOWANCE_CAP = 64 * 1024 * 1024;

/** One connected client as the feed sees it. Create with `Feed.attach`. */
export class Client {
  /** Subscription key → subscription held. */
  readonly views = new Map<string, Subscription>();
  /** Conflated messages waiting for the socket to drain, latest per view key. */
  pending: Map<string, string> | null = null;
  closed = false;
  /**
   * Bytes of large snapshots (l4Book) sent recently: they may sit in the buffer on top of `maxBuffered` until
   * the socket drains below the soft threshold once.
   */
  allowance = 0;
  /** l4Book view key → the snapshot this client waits for, with the Updates that came meanwhile. */
  l4Waiting: Map<string, L4Wait> | null = null;
  /** Other view key → the snapshot request this client waits for (the view's messages until then are older). */
  awaiting: Map<string, number> | null = null;
  constructor(readonly sink: ClientSink, readonly limits: ClientLimits) {}
  /**
   * Unsent bytes above which conflatable messages are conflated: an eighth of `maxBuffered` (at least 16 KiB, at
   * most half). Read each time: `limits.maxBuffered` may shrink while the client's address opens connections.
   */
  get softBuffered(): number {
    const max = this.limits.maxBuffered;
    return Math.min(Math.floor(max / 2), Math.max(16 * 1024, Math.floor(max / 8)));
  }
  /** Number of subscriptions held. */
  get subscriptionCount(): number {
    return this.views.size;
  }
}

/** The send policy of every client of one edge, and its counters. */
export class Delivery {
  readonly #backlogged = new Set<Client>();
  /** A client closed as too slow must be forgotten by its owner (registry, gauges). */
  readonly #onClosedSlow: (client: Client) => void;
  readonly #messages: Counter;
  readonly #bytes: Counter;
  readonly #conflated: Counter;
  readonly #dropped: Counter;
  readonly #closedSlow: Counter;

  constructor(metrics: Metrics, onClosedSlow: (client: Client) => void) {
    this.#onClosedSlow = onClosedSlow;
    this.#messages = metrics.counter("hlbook_messages_sent_total", "messages sent to WebSocket clients");
    this.#bytes = metrics.counter(
      "hlbook_bytes_sent_total",
      "bytes (UTF-16 code units) sent to WebSocket clients",
    );
    this.#conflated = metrics.counter(
      "hlbook_conflated_total",
      "l2Book/bbo/allMids messages replaced by a newer one for a slow client",
    );
    this.#dropped = metrics.counter(
      "hlbook_dropped_total",
      "messages discarded because their client was closed as too slow",
    );
    this.#closedSlow = metrics.counter(
      "hlbook_closed_slow_total",
      "clients closed with 1008 for exceeding --max-buffered",
    );
  }

  /** Sends or conflates one message; `key` is the view key for conflatable messages, null otherwise. */
  deliver(client: Client, text: string, key: string | null): void {
    if (client.closed) return;
    const buffered = client.sink.bufferedAmount;
    if (buffered > client.limits.maxBuffered + client.allowance) {
      this.#closeSlow(client, buffered);
      return;
    }
    if (buffered <= client.softBuffered) client.allowance = 0;
    if (key !== null) {
      const pending = client.pending;
      if (pending !== null) {
        if (pending.delete(key)) this.#conflated.inc();
        pending.set(key, text);
        return;
      }
      if (buffered > client.softBuffered) {
        client.pending = new Map([[key, text]]);
        this.#backlogged.add(client);
        return;
      }
    }
    this.#write(client, text);
  }

  /** An l4Book view's Updates of block `height`: sent, or queued behind the snapshot the client waits for. */
  deliverL4Update(client: Client, key: string, text: string, height: number): void {
    const wait = client.l4Waiting?.get(key);
    if (wait === undefined) this.deliver(client, text, null);
    else wait.queued.push({ height, text });
  }

  /** The client waits for the l4Book snapshot of request `id` (superseding one it waited for before). */
  waitL4(client: Client, key: string, coin: Coin, id: number): L4Wait {
    const wait: L4Wait = { coin, id, queued: [] };
    (client.l4Waiting ??= new Map()).set(key, wait);
    return wait;
  }

  /** Stops waiting for an l4Book snapshot (unsubscribed); its queued Updates are dropped with it. */
  stopWaitingL4(client: Client, key: string): void {
    client.l4Waiting?.delete(key);
  }

  /**
   * The l4Book snapshot of request `id` at `height` is ready (null: there is none): sent (with whatever else
   * comes before the Updates, e.g. a resume's replay), then the Updates queued behind it that are newer —
   * unless the client left, unsubscribed or waits for another one.
   */
  l4Ready(client: Client, key: string, id: number, texts: readonly string[] | null, height: number): void {
    const wait = client.l4Waiting?.get(key);
    if (client.closed || wait === undefined || wait.id !== id) return;
    client.l4Waiting?.delete(key);
    if (texts === null) return;
    for (const text of texts) this.deliverL4Snapshot(client, text);
    for (const update of wait.queued) if (update.height > height) this.deliver(client, update.text, null);
  }

  /** Delivers an l4Book snapshot; counts it as an allowance (a big snapshot is expected to fill the buffer). */
  deliverL4Snapshot(client: Client, text: string): void {
    this.deliver(client, text, null);
    if (text.length > client.softBuffered) {
      client.allowance = Math.min(client.allowance + text.length, L4_ALLOWANCE_CAP);
    }
  }

  /** Flushes the pending messages of clients whose socket drained below the soft threshold. */
  drain(): void {
    if (this.#backlogged.size === 0) return;
    for (const client of this.#backlogged) {
      if (client.closed) {
        this.#backlogged.delete(client);
        continue;
      }
      const buffered = client.sink.bufferedAmount;
      if (buffered > client.limits.maxBuffered + client.allowance) {
        this.#closeSlow(client, buffered);
        continue;
      }
      if (buffered > client.softBuffered) continue;
      client.allowance = 0;
      const pending = client.pending;
      client.pending = null;
      this.#backlogged.delete(client);
      if (pending !== null) { for (const text of pending.values()) this.#write(client, text); }
    }
  }

  /** The client is gone: nothing of it is kept. */
  forget(client: Client): void {
    client.closed = true;
    client.pending = null;
    this.#backlogged.delete(client);
  }

  #write(client: Client, text: string): void {
    try {
      client.sink.send(text);
    } catch {
      // The socket is closing: its close event detaches the client.
      client.closed = true;
      return;
    }
    this.#messages.inc();
    this.#bytes.inc(text.length);
  }

  #closeSlow(client: Client, buffered: number): void {
    this.#closedSlow.inc();
    this.#dropped.inc(1 + (client.pending?.size ?? 0));
    log.warn("closing a slow client: {buffered} bytes unsent, limit {limit}", {
      buffered,
      limit: client.limits.maxBuffered,
    });
    try {
      client.sink.close(1008, `too slow: over ${client.limits.maxBuffered} bytes unsent`);
    } catch {
      // already closing
    }
    this.#onClosedSlow(client);
  }
}
