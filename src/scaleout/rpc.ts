/**
 * Request/reply between edges and the core, in order with the view messages (docs/scale-out.md).
 *
 * The edge's snapshot join relies on one property: every view message the core publishes after it answered a
 * request reaches the edge after the answer, and every one it published before, before. NATS keeps the order
 * of one connection's messages to one subscriber connection, but the client library's `request` resolves a
 * promise, which runs after view messages that arrived in the same read. So replies come to a callback
 * subscription on the edge's own inbox, dispatched in arrival order with the view subscriptions.
 *
 * Answers can be larger than the server's `max_payload` (an l4Book snapshot of a busy coin is megabytes), so
 * the core sends a reply in chunks: every chunk but the last carries `Hlbook-More: 1`.
 *
 * @module
 */
import {
  createInbox,
  headers,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";

const MORE_HEADER = "Hlbook-More";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends `text` as the reply to `request`, in chunks under the server's payload limit. */
export function respond(nc: NatsConnection, request: Msg, text: string): void {
  const reply = request.reply;
  if (reply === undefined || reply === "") return;
  const bytes = encoder.encode(text);
  // Room for headers and protocol overhead under the server's limit (1 MiB unless configured).
  const chunk = Math.max(1024, (nc.info?.max_payload ?? 1024 * 1024) - 4096);
  for (let at = 0; at < bytes.length || at === 0; at += chunk) {
    const end = Math.min(bytes.length, at + chunk);
    const last = end >= bytes.length;
    let h;
    if (!last) {
      h = headers();
      h.set(MORE_HEADER, "1");
    }
    nc.publish(reply, bytes.subarray(at, end), h === undefined ? undefined : { headers: h });
    if (last) break;
  }
}

/** Outcome of a request: the reply's text, or why there is none. */
export type RpcResult = { readonly ok: true; readonly text: string } | {
  readonly ok: false;
  readonly error: string;
};

interface Pending {
  readonly parts: Uint8Array[];
  readonly done: (result: RpcResult) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** The edge's side: requests whose replies are handled in arrival order with its other subscriptions. */
export class Requester {
  readonly #nc: NatsConnection;
  readonly #prefix = createInbox();
  readonly #pending = new Map<number, Pending>();
  readonly #sub: Subscription;
  #next = 1;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#sub = nc.subscribe(`${this.#prefix}.*`, { callback: (_error, msg) => this.#reply(msg) });
  }

  /**
   * Publishes `text` on `subject`; `done` is called once, synchronously in the subscription's dispatch when
   * the reply arrives (or with an error after `timeoutMs`, or at once when nobody answers).
   */
  request(subject: string, text: string, timeoutMs: number, done: (result: RpcResult) => void): void {
    const id = this.#next++;
    const timer = setTimeout(() => this.#finish(id, { ok: false, error: "no reply in time" }), timeoutMs);
    this.#pending.set(id, { parts: [], done, timer });
    try {
      this.#nc.publish(subject, text, { reply: `${this.#prefix}.${id}` });
    } catch (error) {
      this.#finish(id, { ok: false, error: String(error) });
    }
  }

  #reply(msg: Msg): void {
    const id = Number(msg.subject.slice(this.#prefix.length + 1));
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    // The server answers "no responders" with an empty 503 status message.
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      this.#finish(id, { ok: false, error: "no core answers (no responders)" });
      return;
    }
    pending.parts.push(msg.data);
    if (msg.headers?.get(MORE_HEADER) === "1") return;
    let size = 0;
    for (const part of pending.parts) size += part.length;
    const all = new Uint8Array(size);
    let at = 0;
    for (const part of pending.parts) {
      all.set(part, at);
      at += part.length;
    }
    this.#finish(id, { ok: true, text: decoder.decode(all) });
  }

  #finish(id: number, result: RpcResult): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.done(result);
  }

  /** Fails every request in flight (the connection went away: their replies will not come). */
  failAll(error: string): void {
    for (const id of [...this.#pending.keys()]) this.#finish(id, { ok: false, error });
  }

  close(): void {
    this.failAll("closed");
    try {
      this.#sub.unsubscribe();
    } catch {
      // connection already closed
    }
  }
}
