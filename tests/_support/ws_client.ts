/**
 * The WebSocket client of the tests. It keeps every message it receives (text, parsed, arrival time) and
 * reads them in order through a cursor: `next*` calls consume, `messages`/`texts` stay for checks after the
 * fact. Every wait is bounded and says what it waited for.
 *
 * @module
 */
import { withTimeout } from "./wait.ts";

/** A parsed server message. */
export interface Message {
  readonly channel: string;
  // deno-lint-ignore no-explicit-any
  readonly data?: any;
}

const PONG = '{"channel":"pong"}';

/** One connection to an hlbook (or any) WebSocket server. */
export class WsClient {
  /** Every text received, in order. */
  readonly texts: string[] = [];
  /** Every message received, parsed (`<unparsable>` channel for non-JSON text). */
  readonly messages: Message[] = [];
  /** `performance.now()` when each message arrived. */
  readonly times: number[] = [];
  closed: CloseEvent | null = null;
  #read = 0;
  readonly #waiters = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      const text = typeof event.data === "string" ? event.data : String(event.data);
      this.texts.push(text);
      this.times.push(performance.now());
      try {
        this.messages.push(JSON.parse(text));
      } catch {
        this.messages.push({ channel: "<unparsable>", data: text });
      }
      this.#wake();
    });
    socket.addEventListener("close", (event) => {
      this.closed = event;
      this.#wake();
    });
  }

  /**
   * Opens a connection; rejects when it fails or does not open within `timeoutMs`. `headers` go with the
   * upgrade request (Deno's WebSocket extension), e.g. a proxy's `X-Forwarded-For`.
   */
  static async open(url: string, timeoutMs = 5000, headers?: HeadersInit): Promise<WsClient> {
    const socket = headers === undefined ? new WebSocket(url) : new WebSocket(url, { headers });
    const client = new WsClient(socket);
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          socket.addEventListener("open", () => resolve(), { once: true });
          socket.addEventListener("error", () => reject(new Error(`could not connect to ${url}`)), {
            once: true,
          });
        }),
        timeoutMs,
        `WebSocket ${url} to open`,
      );
    } catch (error) {
      socket.close();
      throw error;
    }
    return client;
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Waits (bounded by `deadline`) until a message arrives or the socket closes. */
  #arrival(deadline: number, what: string): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.reject(new Error(`no ${what} within the timeout`));
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, left);
      this.#waiters.add(wake);
    });
  }

  /** Sends a string as a text frame and bytes as a binary frame, as they are; anything else as JSON text. */
  send(message: unknown): void {
    if (typeof message === "string" || message instanceof Uint8Array) this.socket.send(message);
    else this.socket.send(JSON.stringify(message));
  }

  /** The index of the next unread message matching `match`, consuming it and the unmatched ones before it. */
  async #nextIndex(match: (m: Message) => boolean, timeoutMs: number, what: string): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#read < this.messages.length) {
        const index = this.#read++;
        if (match(this.messages[index])) return index;
      }
      if (this.closed) {
        throw new Error(
          `socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`,
        );
      }
      await this.#arrival(deadline, what).catch(() => {
        throw new Error(`no ${what} within ${timeoutMs} ms`);
      });
    }
  }

  /** The next unread message's text. */
  async nextText(timeoutMs = 3000): Promise<string> {
    return this.texts[await this.#nextIndex(() => true, timeoutMs, "message")];
  }

  /** The next unread message. */
  async next(timeoutMs = 3000): Promise<Message> {
    return this.messages[await this.#nextIndex(() => true, timeoutMs, "message")];
  }

  /** The next unread message on `channel`; unread messages on other channels before it are skipped. */
  async nextOn(channel: string, timeoutMs = 3000): Promise<Message> {
    return this
      .messages[await this.#nextIndex((m) => m.channel === channel, timeoutMs, `${channel} message`)];
  }

  /** The next unread message matching `match`; unread non-matching ones before it are skipped. */
  async nextMatching(match: (m: Message) => boolean, timeoutMs = 10_000): Promise<Message> {
    return this.messages[await this.#nextIndex(match, timeoutMs, "matching message")];
  }

  /** Everything unread that the server sent before the answer to a fresh ping (consumed). */
  async collect(timeoutMs = 5000): Promise<string[]> {
    this.send({ method: "ping" });
    const out: string[] = [];
    for (;;) {
      const text = await this.nextText(timeoutMs);
      if (text === PONG) return out;
      out.push(text);
    }
  }

  /** Asserts that nothing unread arrived before the answer to a fresh ping. */
  async expectQuiet(timeoutMs = 3000): Promise<void> {
    const texts = await this.collect(timeoutMs);
    if (texts.length > 0) throw new Error(`expected nothing before pong, got ${texts[0]}`);
  }

  /**
   * Resolves once everything the server sent before now has arrived (a ping's pong follows it on the same
   * socket), without consuming anything: a readiness signal, not a sleep.
   */
  async settled(timeoutMs = 10_000): Promise<void> {
    const pongs = () => this.texts.reduce((n, text) => n + (text === PONG ? 1 : 0), 0);
    const before = pongs();
    const deadline = Date.now() + timeoutMs;
    this.send({ method: "ping" });
    while (pongs() === before) {
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason})`);
      await this.#arrival(deadline, "pong");
    }
  }

  /** Resolves with the close event when the socket closes (bounded). */
  async waitClosed(timeoutMs = 3000): Promise<CloseEvent> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) await this.#arrival(deadline, "close");
    return this.closed;
  }

  /** Closes the socket and waits (bounded) for the close to complete. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      this.socket.close();
    } catch {
      return; // never opened
    }
    await this.waitClosed().catch(() => {});
  }
}
