/**
 * One WebSocket connection: inbound limits (size, rate, frame type), then hands text to the {@link Feed}.
 *
 * hlbook never closes a client for being idle (the official server closes after 60 s without sending; hlbook
 * keeps quiet subscribers): dead peers are found by Deno's own ping/pong (`Deno.upgradeWebSocket`'s
 * `idleTimeout`, 30 s by default), which browsers and SDK WebSocket clients answer automatically.
 *
 * @module
 */
import type { Client, ClientLimits, ServedFeed } from "../feed/mod.ts";
import { logger } from "../log.ts";

const log = logger("server");

/** Inbound limits of one connection. */
export interface SocketLimits {
  readonly maxBuffered: number;
  readonly maxSubscriptions: number;
  /** Largest accepted inbound message in bytes; 16× larger closes the connection with 1009. */
  readonly maxMessageSize: number;
  /** Inbound messages per minute; well past it the connection is closed with 1008. */
  readonly maxMessagesPerMinute: number;
}

const WINDOW_MS = 60_000;

/**
 * Inbound messages of one connection handled per event-loop turn: the rest wait for the next turn, so a client
 * pipelining thousands of requests cannot hold the loop (and every other client's updates) for seconds.
 */
export const MESSAGES_PER_TURN = 16;
const encoder = new TextEncoder();

function byteLength(text: string): number {
  // Code units ≤ bytes ≤ 3 × code units: only encode when it can matter.
  return text.length * 3 <= 1024 ? text.length * 3 : encoder.encode(text).length;
}

/** Wires a freshly upgraded socket to the feed; `onClosed` runs once when it is gone. */
export function serveSocket(
  socket: WebSocket,
  feed: ServedFeed,
  /** `clientLimits`: what the feed enforces (a per-address share and budgets); default from `limits`. */
  options: { limits: SocketLimits; onClosed: () => void; clientLimits?: ClientLimits },
): void {
  const limits = options.limits;
  let client: Client | null = null;
  let windowStart = 0;
  let count = 0;
  let done = false;
  /** Set once a limit closes the connection: later messages are ignored. */
  let closing = false;
  /** What to do for each inbound message, in arrival order, waiting for a turn. */
  let inbox: (() => void)[] = [];
  let head = 0;
  let scheduled = false;
  // Tolerate a short burst over the limit (answered with errors) before closing.
  const grace = Math.max(10, Math.floor(limits.maxMessagesPerMinute / 10));

  const run = () => {
    scheduled = false;
    if (done) return;
    const end = Math.min(inbox.length, head + MESSAGES_PER_TURN);
    while (head < end && !done) {
      try {
        inbox[head++]();
      } catch (error) {
        log.error("failed to handle a WebSocket message: {error}", { error });
      }
    }
    if (head >= inbox.length) {
      inbox = [];
      head = 0;
    } else if (!done) {
      scheduled = true;
      setTimeout(run, 0);
    }
  };
  /** Runs `action` now when nothing waits (no timer hop), else after the backlog, MESSAGES_PER_TURN a turn. */
  const enqueue = (action: () => void) => {
    if (!scheduled && head >= inbox.length) {
      inbox = [];
      head = 0;
      action();
      if (done) return;
      scheduled = true;
      setTimeout(run, 0);
      return;
    }
    inbox.push(action);
  };

  const finish = () => {
    if (done) return;
    done = true;
    inbox = [];
    head = 0;
    if (client !== null) feed.detach(client);
    options.onClosed();
  };
  const closeWith = (code: number, reason: string) => {
    closing = true;
    enqueue(() => {
      try {
        socket.close(code, reason);
      } catch {
        // already closing
      }
      finish();
    });
  };
  const sendError = (c: Client, text: string) => enqueue(() => feed.sendError(c, text));

  socket.addEventListener("open", () => {
    client = feed.attach(
      socket,
      options.clientLimits ?? { maxSubscriptions: limits.maxSubscriptions, maxBuffered: limits.maxBuffered },
    );
  });
  socket.addEventListener("close", finish);
  socket.addEventListener("error", finish);
  socket.addEventListener("message", (event: MessageEvent) => {
    try {
      const c = client;
      if (c === null || done || closing) return;
      const now = Date.now();
      if (now - windowStart >= WINDOW_MS) {
        windowStart = now;
        count = 0;
      }
      count++;
      if (count > limits.maxMessagesPerMinute) {
        if (count > limits.maxMessagesPerMinute + grace) {
          closeWith(1008, `too many messages: more than ${limits.maxMessagesPerMinute} per minute`);
          return;
        }
        sendError(
          c,
          `Too many messages: at most ${limits.maxMessagesPerMinute} per minute; further messages close the connection`,
        );
        return;
      }
      const data: unknown = event.data;
      if (typeof data !== "string") {
        sendError(c, "Binary frames are not supported: send JSON text frames");
        return;
      }
      if (data.length > limits.maxMessageSize || byteLength(data) > limits.maxMessageSize) {
        const size = encoder.encode(data).length;
        if (size > 16 * limits.maxMessageSize) {
          closeWith(1009, `message too big: ${size} bytes, limit ${limits.maxMessageSize}`);
          return;
        }
        sendError(
          c,
          `Message too large: ${size} bytes, at most ${limits.maxMessageSize} bytes accepted`,
        );
        return;
      }
      enqueue(() => feed.handle(c, data));
    } catch (error) {
      log.error("failed to handle a WebSocket message: {error}", { error });
    }
  });
}
