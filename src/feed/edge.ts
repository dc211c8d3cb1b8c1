/**
 * An edge: the clients' side of the feed — connections, the registry of who watches what, each client's send
 * policy — with no book in it.
 *
 * It parses what clients send, answers pings and protocol errors itself, tells its core which view keys are
 * watched and asks it for snapshots and info answers, and hands each message of the core's outputs to the
 * view's subscribers. Everything it knows of the books comes in the core's messages (`src/link`): the phase,
 * height and coins in its status, serialised messages in its outputs and replies.
 *
 * Order: the messages of a view that reach the edge between a client's snapshot request and its reply predate
 * the snapshot, so they are not for that client (l4Book Updates newer than the snapshot wait behind it).
 *
 * @module
 */
import type { Coin } from "../book/types.ts";
import type {
  AssetCtxReply,
  BlockOutput,
  CoreReport,
  CoreStatus,
  CoreToEdge,
  EdgeToCore,
  InfoResult,
  SnapshotReply,
} from "../link/mod.ts";
import type { Counter, Gauge, Metrics } from "../metrics.ts";
import { Faults } from "./_faults.ts";
import { invalidSubscription } from "./official_types.ts";
import {
  errorMessage,
  type Phase,
  PONG,
  postErrorResponse,
  postInfoResponse,
  statusMessage,
  subscriptionResponse,
} from "./messages.ts";
import {
  type CoinCheck,
  type InfoRequest,
  parseClientMessage,
  type Subscription,
  type SubscriptionRequest,
} from "./subscription.ts";
import { Client, type ClientLimits, type ClientSink, Delivery } from "./client.ts";
import { Registry } from "./registry.ts";
import { isUserSubscription } from "./views.ts";
import type { InfoFallback } from "./info.ts";

/** What an info request gets when the core was lost before answering. */
const CORE_LOST: InfoResult = { ok: false, status: 503, error: "the feed's core restarted; try again" };

/** The clients' side of the feed. */
export class Edge {
  readonly #send: (message: EdgeToCore) => void;
  readonly #clients = new Set<Client>();
  readonly #registry = new Registry();
  readonly #delivery: Delivery;
  #phase: Phase = "starting";
  #live = false;
  #height = 0;
  #time = 0;
  #epoch = 0;
  #coins: ReadonlySet<Coin> | null = null;
  #nextId = 1;
  /** Info request id → who asked (the socket `post`'s id and type). */
  readonly #posts = new Map<number, { client: Client; id: number; type: string }>();
  /** Request id → who awaits the answer (`POST /info`, asset contexts). */
  readonly #asks = new Map<number, (reply: InfoResult | AssetCtxReply | CoreReport | null) => void>();
  #report: CoreReport | null = null;
  /** Coin → length of the last l4Book snapshot received for it (what a pending snapshot is estimated at). */
  readonly #l4Sizes = new Map<Coin, number>();
  #infoFallback: InfoFallback | null = null;
  readonly #clientsGauge: Gauge;
  readonly #subscriptionsGauge: Gauge;
  readonly #errors: Counter;
  readonly #faults: Faults;

  /** `send`: where messages for the core go. */
  constructor(options: { metrics: Metrics; send: (message: EdgeToCore) => void }) {
    this.#send = options.send;
    const m = options.metrics;
    this.#delivery = new Delivery(m, (client) => this.detach(client));
    this.#clientsGauge = m.gauge("hlbook_clients", "WebSocket clients connected");
    this.#subscriptionsGauge = m.gauge("hlbook_subscriptions", "subscriptions held by all clients");
    this.#errors = m.counter("hlbook_client_errors_total", "client requests answered with an error");
    this.#faults = new Faults(m);
  }

  // ---- the core's side --------------------------------------------------------------------------------

  /** Handles one message of the core. Never throws. */
  receive(message: CoreToEdge): void {
    try {
      switch (message.kind) {
        case "block":
          this.#output(message);
          return;
        case "snapshotReply":
          this.#snapshotReply(message);
          return;
        case "infoReply": {
          const post = this.#posts.get(message.id);
          if (post === undefined) {
            this.#answer(message.id, message.result);
            return;
          }
          this.#posts.delete(message.id);
          const result = message.result;
          this.#reply(
            post.client,
            result.ok
              ? postInfoResponse(post.id, post.type, result.json)
              : postErrorResponse(post.id, result.error),
          );
          return;
        }
        case "assetCtxsReply":
          this.#answer(message.id, message);
          return;
        case "status":
          this.#status(message);
          return;
        case "report":
          this.#report = message;
          if (message.id !== null) this.#answer(message.id, message);
          return;
      }
    } catch (error) {
      this.#fault("core message", error);
    }
  }

  /** Asks the core for an info answer (`POST /info`); a core lost meanwhile answers 503. */
  ask(request: InfoRequest): Promise<InfoResult> {
    const id = this.#nextId++;
    const { promise, resolve } = Promise.withResolvers<InfoResult>();
    this.#asks.set(id, (reply) => resolve(reply !== null && "ok" in reply ? reply : CORE_LOST));
    this.#send({ kind: "info", id, request });
    return promise;
  }

  /** Asks the core for asset contexts (see `AssetCtxQuery`); null when the core was lost meanwhile. */
  assetCtxs(names: readonly string[], version: string | null): Promise<AssetCtxReply | null> {
    const id = this.#nextId++;
    const { promise, resolve } = Promise.withResolvers<AssetCtxReply | null>();
    this.#asks.set(id, (reply) => resolve(reply !== null && "ctxs" in reply ? reply : null));
    this.#send({ kind: "assetCtxs", id, names, version });
    return promise;
  }

  /**
   * Asks the core for a fresh report (it becomes {@link report}); resolves when it came, the core was lost, or
   * after `timeoutMs` (a busy core: the last report stays).
   */
  refreshReport(timeoutMs: number): Promise<void> {
    const id = this.#nextId++;
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      this.#asks.delete(id);
      resolve();
    }, timeoutMs);
    this.#asks.set(id, () => {
      clearTimeout(timer);
      resolve();
    });
    this.#send({ kind: "reportRequest", id });
    return promise;
  }

  /** The core's state as its last status and outputs told it. */
  status(): { phase: Phase; live: boolean; height: number; time: number } {
    return { phase: this.#phase, live: this.#live, height: this.#height, time: this.#time };
  }

  /** The core's last report (a core apart from its edges sends them), null when none came since it started. */
  get report(): CoreReport | null {
    return this.#report;
  }

  /**
   * The core is gone (its worker crashed): nothing in flight will be answered. Pending requests fail, every
   * subscriber is told the feed is re-syncing, and the book is not served until a new core says it is.
   */
  coreLost(): void {
    this.#report = null;
    const wasLive = this.#live;
    this.#live = false;
    this.#phase = "resyncing";
    this.#failPending();
    if (!wasLive) return;
    const text = statusMessage("resyncing", this.#height, this.#time);
    for (const client of this.#clients) {
      if (client.views.size > 0) this.#delivery.deliver(client, text, null);
    }
  }

  /**
   * A new core is linked (after {@link coreLost}): it is told every watched view and asked for every
   * subscriber's snapshot; the next fresh books it serves are new to this edge whatever their epoch.
   */
  relinked(): void {
    // What was asked while no core was linked went nowhere.
    this.#failPending();
    this.#epoch = 0;
    for (const view of this.#registry.views()) {
      const subscribers = [...view.subscribers];
      this.#requestSnapshot(subscribers, view.key, view.subscription, true);
    }
  }

  // ---- the clients' side ------------------------------------------------------------------------------

  /** Registers a new connection. */
  attach(sink: ClientSink, limits: ClientLimits): Client {
    const client = new Client(sink, limits);
    this.#clients.add(client);
    this.#clientsGauge.set(this.#clients.size);
    return client;
  }

  /** Forgets a connection and all its subscriptions (idempotent). */
  detach(client: Client): void {
    client.closed = true;
    if (!this.#clients.delete(client)) return;
    for (const key of [...client.views.keys()]) this.#removeSubscriber(client, key);
    this.#delivery.forget(client);
    this.#clientsGauge.set(this.#clients.size);
  }

  /** Handles one text message from a client; answers on the client's socket. Never throws. */
  handle(client: Client, text: string): void {
    // A client the feed closed (too slow) may still have messages queued before its socket's close event:
    // answering them would subscribe a connection nobody reads, and keep its views alive for good.
    if (client.closed) return;
    try {
      const parsed = parseClientMessage(text, this.coinCheck());
      if (!parsed.ok) {
        this.#errors.inc();
        if ("postId" in parsed) this.#reply(client, postErrorResponse(parsed.postId, parsed.error));
        else this.#reply(client, errorMessage(parsed.error));
        return;
      }
      const message = parsed.message;
      switch (message.method) {
        case "ping":
          this.#reply(client, PONG);
          return;
        case "subscribe":
          this.#subscribe(client, message.request);
          return;
        case "unsubscribe":
          this.#unsubscribe(client, message.request);
          return;
        case "forward":
          this.#forward(client, message.id, message.payload);
          return;
        case "post": {
          const id = this.#nextId++;
          this.#posts.set(id, { client, id: message.id, type: message.request.type });
          this.#send({ kind: "info", id, request: message.request });
          return;
        }
      }
    } catch (error) {
      this.#fault("client message", error);
      this.#reply(client, errorMessage(`internal error while handling the request: ${text.slice(0, 200)}`));
    }
  }

  /**
   * Flushes conflated messages of clients whose socket drained. Blocks do this too; the server also calls it
   * on a short timer so a slow client catches up even when no blocks arrive. Cheap when nobody is behind.
   */
  poll(): void {
    this.#delivery.drain();
  }

  /** Sends an error text to a client (used by the server for limit violations). */
  sendError(client: Client, text: string): void {
    this.#errors.inc();
    this.#reply(client, errorMessage(text));
  }

  /** Where `post` info requests of types hlbook does not answer itself go (else they get an error reply). */
  setInfoFallback(fallback: InfoFallback): void {
    this.#infoFallback = fallback;
  }

  /** Checks coin names against the served books' coins (null: none served yet, every name is accepted). */
  coinCheck(): CoinCheck {
    const coins = this.#coins;
    return this.#live && coins !== null ? (coin) => coins.has(coin) : null;
  }

  /**
   * Bytes a client has unsent plus the estimated size of the l4Book snapshots it still waits for (the last
   * size seen for the coin): what the server's per-address snapshot budget counts.
   */
  unsentEstimate(client: Client): number {
    let bytes = client.sink.bufferedAmount;
    if (client.l4Waiting !== null) {
      for (const wait of client.l4Waiting.values()) bytes += this.#l4Sizes.get(wait.coin) ?? 0;
    }
    return bytes;
  }

  /** Length of the last l4Book snapshot received for `coin`, 0 when none was yet. */
  l4SnapshotSize(coin: Coin): number {
    return this.#l4Sizes.get(coin) ?? 0;
  }

  /** Clients connected and subscriptions they hold. */
  counts(): { clients: number; subscriptions: number } {
    return { clients: this.#clients.size, subscriptions: this.#registry.subscriptions };
  }

  /** Closes every client (server shutdown). */
  closeAll(code: number, reason: string): void {
    for (const client of [...this.#clients]) {
      try {
        client.sink.close(code, reason);
      } catch {
        // already closed
      }
      this.detach(client);
    }
  }

  // ---- internals --------------------------------------------------------------------------------------

  /** Hands one output's messages to the subscribers of each view. */
  #output(output: BlockOutput): void {
    this.#height = output.height;
    this.#time = output.time;
    for (const [key, text] of output.views) {
      const view = this.#registry.get(key);
      if (view === undefined) continue;
      for (const client of view.subscribers) {
        if (client.awaiting?.has(key) !== true) this.#delivery.deliver(client, text, key);
      }
    }
    for (const [key, text] of output.l4) {
      const view = this.#registry.get(key);
      if (view === undefined) continue;
      for (const client of view.subscribers) this.#delivery.deliverL4Update(client, key, text, output.height);
    }
    for (const [key, text] of output.queued) {
      const view = this.#registry.get(key);
      if (view === undefined) continue;
      for (const client of view.subscribers) {
        if (client.awaiting?.has(key) !== true) this.#delivery.deliver(client, text, null);
      }
    }
  }

  #status(status: CoreStatus): void {
    this.#phase = status.phase;
    this.#live = status.live;
    this.#height = status.height;
    this.#time = status.time;
    if (status.coins !== null) this.#coins = new Set(status.coins);
    if (status.epoch !== this.#epoch) {
      this.#epoch = status.epoch;
      // Fresh books: every subscriber of every view (but the per-user streams, which carry on) starts over.
      if (status.live) {
        for (const view of this.#registry.views()) {
          if (isUserSubscription(view.subscription)) continue;
          this.#requestSnapshot([...view.subscribers], view.key, view.subscription);
        }
      }
    }
    if (status.told === null) return;
    const text = statusMessage(status.phase, status.told.height, status.told.time);
    for (const client of this.#clients) {
      if (client.views.size > 0) this.#delivery.deliver(client, text, null);
    }
  }

  /**
   * Asks the core for a view's first messages for these clients (after telling it to watch the view, when
   * `watch`); until the reply they skip the view's messages, which predate it.
   */
  #requestSnapshot(clients: readonly Client[], key: string, subscription: Subscription, watch = false): void {
    const id = this.#nextId++;
    for (const client of clients) {
      if (subscription.type === "l4Book") this.#delivery.waitL4(client, key, subscription.coin, id);
      else (client.awaiting ??= new Map()).set(key, id);
    }
    if (watch) this.#send({ kind: "watch", key, subscription });
    this.#send({ kind: "snapshot", id, key, subscription });
  }

  #snapshotReply(reply: SnapshotReply): void {
    const view = this.#registry.get(reply.key);
    if (view === undefined) return;
    const sub = view.subscription;
    if (sub.type === "l4Book") {
      const text = reply.texts?.[0] ?? null;
      if (text !== null) this.#l4Sizes.set(sub.coin, text.length);
      for (const client of view.subscribers) {
        const waiting = client.l4Waiting?.get(reply.key);
        if (waiting === undefined || waiting.id !== reply.id) continue;
        if (reply.texts === null) {
          this.#delivery.stopWaitingL4(client, reply.key);
          this.#delivery.deliver(client, statusMessage(this.#phase, this.#height, this.#time), null);
        } else {
          const texts = reply.resume ? reply.texts : text === null ? null : [text];
          this.#delivery.l4Ready(client, reply.key, reply.id, texts, reply.height);
        }
      }
      return;
    }
    const key = isUserSubscription(sub) || reply.resume ? null : reply.key;
    for (const client of view.subscribers) {
      if (client.awaiting?.get(reply.key) !== reply.id) continue;
      client.awaiting.delete(reply.key);
      if (reply.texts === null) {
        this.#delivery.deliver(client, statusMessage(this.#phase, this.#height, this.#time), null);
      } else for (const text of reply.texts) this.#delivery.deliver(client, text, key);
    }
  }

  #failPending(): void {
    for (const [id, post] of this.#posts) {
      this.#reply(post.client, postErrorResponse(post.id, "the feed's core restarted; try again"));
      this.#posts.delete(id);
    }
    const asks = [...this.#asks.values()];
    this.#asks.clear();
    for (const answer of asks) answer(null);
  }

  #answer(id: number, reply: InfoResult | AssetCtxReply | CoreReport): void {
    const answer = this.#asks.get(id);
    if (answer === undefined) return;
    this.#asks.delete(id);
    answer(reply);
  }

  #reply(client: Client, text: string): void {
    this.#delivery.deliver(client, text, null);
  }

  #subscribe(client: Client, request: SubscriptionRequest): void {
    const sub = request.subscription;
    if (client.views.has(request.key)) {
      this.#errors.inc();
      this.#reply(client, errorMessage(`Already subscribed: ${request.sent}`));
      return;
    }
    if (client.views.size >= client.limits.maxSubscriptions) {
      this.#errors.inc();
      this.#reply(
        client,
        errorMessage(
          `${
            invalidSubscription(request.sent)
          } (too many subscriptions: at most ${client.limits.maxSubscriptions} per connection)`,
        ),
      );
      return;
    }
    const refused = client.limits.gate?.admit(client, sub) ?? null;
    if (refused !== null) {
      this.#errors.inc();
      this.#reply(client, errorMessage(`${invalidSubscription(request.sent)} (${refused})`));
      return;
    }
    const { first } = this.#registry.add(client, request.key, sub);
    this.#subscriptionsGauge.set(this.#registry.subscriptions);
    this.#reply(client, subscriptionResponse("subscribe", request.echo));
    this.#requestSnapshot([client], request.key, sub, first);
  }

  #unsubscribe(client: Client, request: SubscriptionRequest): void {
    if (!client.views.has(request.key)) {
      this.#errors.inc();
      this.#reply(client, errorMessage(`Already unsubscribed: ${request.sent}`));
      return;
    }
    client.pending?.delete(request.key);
    this.#removeSubscriber(client, request.key);
    this.#reply(client, subscriptionResponse("unsubscribe", request.echo));
  }

  #removeSubscriber(client: Client, key: string): void {
    this.#delivery.stopWaitingL4(client, key);
    client.awaiting?.delete(key);
    const removed = this.#registry.remove(client, key);
    if (removed === undefined) return;
    client.limits.gate?.release(client, removed.view.subscription);
    this.#subscriptionsGauge.set(this.#registry.subscriptions);
    if (removed.last) this.#send({ kind: "unwatch", key });
  }

  /** Answers a `post` of a type hlbook does not answer itself through the fallback, when it resolves. */
  #forward(client: Client, id: number, payload: Readonly<Record<string, unknown>>): void {
    const fallback = this.#infoFallback;
    const type = String(payload.type);
    if (fallback === null) {
      this.#errors.inc();
      this.#reply(client, postErrorResponse(id, `unsupported info request type ${JSON.stringify(type)}`));
      return;
    }
    fallback(payload).then((result) => {
      if (!result.ok) this.#errors.inc();
      this.#reply(
        client,
        result.ok ? postInfoResponse(id, type, result.json) : postErrorResponse(id, result.error),
      );
    }).catch((error) => {
      this.#fault("info fallback", error);
      this.#reply(client, postErrorResponse(id, "internal error while answering the info request"));
    });
  }

  #fault(what: string, error: unknown): void {
    this.#faults.report(what, error);
  }
}
