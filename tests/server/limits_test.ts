import { assert, assertEquals, assertMatch } from "../_support/assert.ts";
import { sampleBooks, trade, withServer } from "../feed/_helpers.ts";
import { WsClient } from "../_support/ws_client.ts";
import { waitFor, withTimeout } from "../_support/wait.ts";
import type { Trade } from "../../src/book/mod.ts";

const encoder = new TextEncoder();

/** A client frame (clients must mask). */
function maskedTextFrame(text: string): Uint8Array {
  const payload = encoder.encode(text);
  const header = payload.length < 126
    ? [0x81, 0x80 | payload.length]
    : [0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff];
  const mask = [1, 2, 3, 4];
  const frame = new Uint8Array(header.length + 4 + payload.length);
  frame.set(header, 0);
  frame.set(mask, header.length);
  for (let i = 0; i < payload.length; i++) frame[header.length + 4 + i] = payload[i] ^ mask[i % 4];
  return frame;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** Performs the upgrade handshake by hand; returns the connection and the response head. */
async function rawUpgrade(port: number): Promise<{ conn: Deno.TcpConn; head: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(
    conn,
    encoder.encode(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  const buffer = new Uint8Array(4096);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await withTimeout(conn.read(buffer), 3000, "upgrade response");
    if (n === null) break;
    head += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return { conn, head };
}

Deno.test("a client that never reads does not delay others and is closed at --max-buffered", async () => {
  const maxBuffered = 256 * 1024;
  await withServer(async ({ feed, url, server, metrics }) => {
    const { books } = sampleBooks();
    feed.reset(books);
    feed.state({ phase: "ready", height: books.height, time: books.time });
    const { conn, head } = await rawUpgrade(server.port);
    const fast = await WsClient.open(url);
    try {
      assertMatch(head, /^HTTP\/1\.1 101/);
      await writeAll(
        conn,
        maskedTextFrame('{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}'),
      );
      fast.send({ method: "subscribe", subscription: { type: "trades", coin: "BTC" } });
      await fast.nextOn("subscriptionResponse");
      await waitFor("both subscribed", () => feed.status().subscriptions === 2, 5000);
      // ~100 KB per message; the stalled reader's kernel buffers fill, then its unsent bytes grow.
      const batch: Trade[] = Array.from({ length: 400 }, (_, i) => trade("BTC", i));
      let sent = 0;
      while (feed.status().clients === 2) {
        if (sent > 1000) throw new Error("the stalled client was never closed");
        feed.trades(batch);
        sent++;
        // The healthy client gets every message promptly, whatever the stalled one does.
        const text = await fast.nextText(2000);
        assert(text.startsWith('{"channel":"trades"'));
      }
      assertEquals(metrics.value("hlbook_closed_slow_total"), 1);
      assert(metrics.value("hlbook_dropped_total") >= 1);
      // The healthy client is still served.
      feed.trades([trade("BTC", 1)]);
      assert((await fast.nextText()).includes('"tid":1,'));
    } finally {
      conn.close();
      await fast.close();
    }
  }, { maxBuffered });
});

Deno.test("connection, message size and message rate limits are answered clearly", async (t) => {
  await withServer(async ({ url, server }) => {
    await t.step("over --max-connections the upgrade is refused with 429", async () => {
      const a = await WsClient.open(url);
      const b = await WsClient.open(url);
      try {
        const { conn, head } = await rawUpgrade(server.port);
        try {
          assertMatch(head, /^HTTP\/1\.1 429/);
          assertMatch(head, /too many connections: at most 2/);
          // A refused upgrade asks the client to go (Deno.serve 2.9.6 itself keeps the connection open).
          assertMatch(head, /\r\nconnection: close\r\n/i);
        } finally {
          conn.close();
        }
      } finally {
        await a.close();
        await b.close();
      }
    });

    await t.step("a message over --max-message-size gets an error; a huge one closes with 1009", async () => {
      const c = await WsClient.open(url);
      try {
        c.send(`{"method":"ping","pad":"${"x".repeat(2000)}"}`);
        assertMatch((await c.next()).data, /^Message too large: 2\d{3} bytes, at most 1024 bytes accepted/);
        c.send({ method: "ping" });
        assertEquals(await c.nextText(), '{"channel":"pong"}');
        c.send("x".repeat(20_000));
        const closed = await c.waitClosed();
        assertEquals(closed.code, 1009);
      } finally {
        await c.close();
      }
    });

    await t.step(
      "over --max-messages-per-minute each message gets an error, then the socket is closed 1008",
      async () => {
        const c = await WsClient.open(url);
        try {
          for (let i = 0; i < 25; i++) c.send({ method: "ping" });
          for (let i = 0; i < 20; i++) assertEquals(await c.nextText(), '{"channel":"pong"}');
          for (let i = 0; i < 5; i++) {
            assertMatch((await c.next()).data, /^Too many messages: at most 20 per minute/);
          }
          // A grace of max(10, limit/10) messages over the limit, then the connection is closed.
          for (let i = 0; i < 6; i++) {
            c.send({ method: "ping" });
          }
          for (let i = 0; i < 5; i++) assertMatch((await c.next()).data, /^Too many messages/);
          const closed = await c.waitClosed();
          assertEquals(closed.code, 1008);
          assertMatch(closed.reason, /too many messages/);
        } finally {
          await c.close();
        }
      },
    );
  }, { maxConnections: 2, maxMessageSize: 1024, maxMessagesPerMinute: 20 });
});

Deno.test("a frame with invalid UTF-8 ends that connection and disturbs no one else", async () => {
  await withServer(async ({ url, server }) => {
    const { conn, head } = await rawUpgrade(server.port);
    const other = await WsClient.open(url);
    try {
      assertMatch(head, /^HTTP\/1\.1 101/);
      // A masked text frame whose payload is not UTF-8 (mask of zeros keeps the bytes as they are).
      await writeAll(conn, new Uint8Array([0x81, 0x84, 0, 0, 0, 0, 0xff, 0xfe, 0xc3, 0x28]));
      // RFC 6455 §8.1 fails such a connection. Deno's WebSocket layer drops the TCP connection without a
      // close frame (hlbook never sees the frame); a close frame, if one comes, must say 1007.
      const buffer = new Uint8Array(1024);
      const n = await withTimeout(conn.read(buffer), 3000, "the server to end the connection");
      if (n !== null) {
        assert(n >= 4 && buffer[0] === 0x88, `a close frame or the end of the connection, got ${n} bytes`);
        assertEquals((buffer[2] << 8) | buffer[3], 1007);
        assertEquals(await withTimeout(conn.read(buffer), 3000, "the end of the connection"), null);
      }
      other.send({ method: "ping" });
      assertEquals(await other.nextText(), '{"channel":"pong"}');
    } finally {
      conn.close();
      await other.close();
    }
  });
});
