/**
 * Public-deployment limits, tried on the real `main.ts` as a subprocess: the per-address connection cap and
 * connection rate (429) while a second address is still served, per-address and global subscription budgets
 * (official error reply), one log line per address per minute, the auth token on `/ws` and `POST /info`, and
 * a request body that trickles in being closed. A second client address comes from `--trust-proxy X-Forwarded-For` (every loopback
 * connection has the source 127.0.0.1).
 */
import assert from "node:assert/strict";
import { FakeInfo, FaultyNode, waitLive } from "../reliability/_harness.ts";
import { Hlbook } from "../_support/hlbook.ts";
import { tempDirs } from "../_support/temp.ts";
import { type Message, WsClient } from "../_support/ws_client.ts";

const encoder = new TextEncoder();
const TOKEN = "t0ken-for-tests-0123456789abcdef";

/** Sends a WebSocket upgrade by hand and returns the HTTP status of the answer (101, 401, 429, …). */
async function upgradeStatus(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    await conn.write(encoder.encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    ));
    const buffer = new Uint8Array(1024);
    const n = await Promise.race([
      conn.read(buffer),
      new Promise<null>((_, reject) => setTimeout(() => reject(new Error("no upgrade answer in 5 s")), 5000)),
    ]);
    const head = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
    const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
    assert.ok(status, `not an HTTP answer: ${JSON.stringify(head)}`);
    return Number(status[1]);
  } finally {
    conn.close();
  }
}

const from = (address: string) => ({ "x-forwarded-for": address });
const isError = (m: Message) => m.channel === "error";
const isAck = (m: Message) => m.channel === "subscriptionResponse";

/** Starts a node, its info server and hlbook with `extra` flags; runs `body`; cleans up. */
async function withHlbook(extra: string[], body: (hlbook: Hlbook, node: FaultyNode) => Promise<void>) {
  const dirs = await tempDirs();
  const node = new FaultyNode(dirs.data, { seed: 18, coins: 4 });
  node.createDirs();
  const info = new FakeInfo(node);
  let hlbook: Hlbook | null = null;
  try {
    hlbook = await Hlbook.start({
      dataDir: dirs.data,
      infoUrl: info.url,
      snapshotPath: dirs.snapshot,
      extra,
    });
    await waitLive(hlbook, node);
    await body(hlbook, node);
  } finally {
    await hlbook?.close();
    await info.close();
    await dirs.remove();
  }
}

Deno.test("per-address caps: 429 over the connection cap while another address is served; subscription budgets", async () => {
  await withHlbook([
    "--trust-proxy=X-Forwarded-For",
    "--max-connections-per-ip=3",
    "--max-subscriptions-per-ip=4",
    "--max-subscriptions-total=6",
  ], async (hlbook, node) => {
    const clients: WsClient[] = [];
    try {
      const [coin] = node.coins();
      for (let i = 0; i < 3; i++) {
        clients.push(await WsClient.open(hlbook.wsUrl, 5000, from("10.0.0.1")));
      }
      const logStart = hlbook.lines.length;
      for (let i = 0; i < 4; i++) {
        assert.equal(await upgradeStatus(hlbook.port, "/ws", from("10.0.0.1")), 429);
      }
      // Only the proxy's (last) entry counts: a client cannot pick its own address.
      assert.equal(await upgradeStatus(hlbook.port, "/ws", from("10.0.0.2, 10.0.0.1")), 429);
      assert.equal(await hlbook.metric("hlbook_refused_connections_per_ip_total"), 5);
      assert.equal(
        hlbook.matching(/refused "?10\.0\.0\.1/, logStart).length,
        1,
        "one log line per address per minute",
      );

      // Another address is served: it connects and gets its book.
      const other = await WsClient.open(hlbook.wsUrl, 5000, from("10.0.0.2"));
      clients.push(other);
      other.send({ method: "subscribe", subscription: { type: "l2Book", coin } });
      await other.nextMatching(isAck);
      const book = await other.nextOn("l2Book");
      assert.equal((book.data as { coin: string }).coin, coin);

      // Per-address subscriptions: 4 for 10.0.0.1 over its connections, the fifth refused on either one.
      const [a, b] = clients;
      const subs = [
        { type: "l2Book", coin },
        { type: "bbo", coin },
        { type: "trades", coin },
        { type: "l2Book", coin, nSigFigs: 3 },
      ];
      for (const [i, subscription] of subs.entries()) {
        (i % 2 === 0 ? a : b).send({ method: "subscribe", subscription });
        await (i % 2 === 0 ? a : b).nextMatching(isAck);
      }
      b.send({ method: "subscribe", subscription: { type: "l2Book", coin, nSigFigs: 2 } });
      const refused = await b.nextMatching(isError);
      assert.match(
        String(refused.data),
        /^Invalid subscription \{.*too many subscriptions from your address: at most 4/,
      );
      // Unsubscribing frees budget for the address.
      a.send({ method: "unsubscribe", subscription: subs[0] });
      await a.nextMatching(isAck);
      b.send({ method: "subscribe", subscription: { type: "l2Book", coin, nSigFigs: 2 } });
      await b.nextMatching(isAck);

      // Global budget: 10.0.0.1 holds 4, 10.0.0.2 holds 1; one more fits, then the server is full.
      other.send({ method: "subscribe", subscription: { type: "bbo", coin } });
      await other.nextMatching(isAck);
      other.send({ method: "subscribe", subscription: { type: "trades", coin } });
      assert.match(
        String((await other.nextMatching(isError)).data),
        /the server holds its maximum of 6 subscriptions/,
      );
      assert.equal(await hlbook.metric("hlbook_refused_subscriptions_per_ip_total"), 1);
      assert.equal(await hlbook.metric("hlbook_refused_subscriptions_total_total"), 1);

      // A closed connection gives its slot (and subscriptions) back.
      a.close();
      await a.nextMatching(() => false, 5000).catch(() => {});
      let status = 0;
      for (let i = 0; i < 50 && status !== 101; i++) {
        status = await upgradeStatus(hlbook.port, "/ws", from("10.0.0.1"));
        if (status !== 101) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(status, 101, "a slot is free again after a connection closed");
      assert.ok(hlbook.alive);
    } finally {
      for (const client of clients) client.close();
    }
  });
});

Deno.test("--connection-rate-per-ip: a burst of upgrades from one address gets 429 while another address is served", async () => {
  await withHlbook(["--trust-proxy=X-Forwarded-For", "--connection-rate-per-ip=1"], async (hlbook, node) => {
    const [coin] = node.coins();
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 12 }, () => upgradeStatus(hlbook.port, "/ws", from("10.0.0.9"))),
    );
    const seconds = (Date.now() - started) / 1000;
    const accepted = statuses.filter((s) => s === 101).length;
    const refused = statuses.filter((s) => s === 429).length;
    assert.equal(accepted + refused, statuses.length, `only 101 or 429: ${statuses}`);
    // A bucket of 2 that refills at 1 a second: the burst, plus what refilled while the upgrades were made.
    assert.ok(accepted >= 2, `the burst is admitted: ${statuses}`);
    assert.ok(accepted <= 2 + Math.ceil(seconds), `${accepted} accepted in ${seconds} s`);
    assert.equal(await hlbook.metric("hlbook_refused_connection_rate_per_ip_total"), refused);
    assert.equal(await hlbook.metric("hlbook_refused_connections_per_ip_total"), 0);

    // Another address is served at once: it connects and gets its book.
    const other = await WsClient.open(hlbook.wsUrl, 5000, from("10.0.0.10"));
    try {
      other.send({ method: "subscribe", subscription: { type: "l2Book", coin } });
      await other.nextMatching(isAck);
      assert.equal(((await other.nextOn("l2Book")).data as { coin: string }).coin, coin);
    } finally {
      other.close();
    }
    // Loopback peers have no bucket (local tools, benchmarks): a burst without a forwarded address is served.
    const local = await Promise.all(Array.from({ length: 6 }, () => upgradeStatus(hlbook.port, "/ws")));
    assert.deepEqual(local, local.map(() => 101));
    assert.ok(hlbook.alive);
  });
});

Deno.test("--auth-token is required on /ws and POST /info; /health and /metrics stay open; the token is never logged", async () => {
  await withHlbook([`--auth-token=${TOKEN}`, "--handshake-timeout=1"], async (hlbook, node) => {
    const [coin] = node.coins();
    assert.equal(await upgradeStatus(hlbook.port, "/ws"), 401);
    assert.equal(await upgradeStatus(hlbook.port, "/ws?token=wrong-token-0123456789abcdef"), 401);
    assert.equal(await upgradeStatus(hlbook.port, `/ws?token=${TOKEN}x`), 401);
    assert.equal(await upgradeStatus(hlbook.port, "/", { authorization: "Bearer nope" }), 401);
    assert.equal(await hlbook.metric("hlbook_refused_auth_total"), 4);

    for (
      const client of [
        await WsClient.open(`${hlbook.wsUrl}?token=${TOKEN}`),
        await WsClient.open(hlbook.wsUrl, 5000, { authorization: `Bearer ${TOKEN}` }),
      ]
    ) {
      try {
        client.send({ method: "subscribe", subscription: { type: "l2Book", coin } });
        await client.nextMatching(isAck);
        await client.nextOn("l2Book");
      } finally {
        client.close();
      }
    }

    const post = (headers: Record<string, string>, query = "") =>
      fetch(`${hlbook.base}/info${query}`, {
        method: "POST",
        body: JSON.stringify({ type: "l2Book", coin }),
        headers: { "content-type": "application/json", ...headers },
        signal: AbortSignal.timeout(10_000),
      });
    const denied = await post({});
    assert.equal(denied.status, 401);
    assert.match((await denied.json()).error, /auth token is required/);
    assert.equal((await post({ authorization: "Bearer wrong" })).status, 401);
    const allowed = await post({ authorization: `Bearer ${TOKEN}` });
    assert.equal(allowed.status, 200);
    assert.equal((await allowed.json()).coin, coin);
    const byQuery = await post({}, `?token=${TOKEN}`);
    assert.equal(byQuery.status, 200);
    await byQuery.body?.cancel();

    assert.equal((await hlbook.health()).ready, true);
    assert.ok((await hlbook.metrics()).has("hlbook_refused_auth_total"));
    assert.deepEqual(hlbook.matching(new RegExp(TOKEN.slice(0, 12))), [], "the token appears in no log line");
  });
});

Deno.test("a POST /info body that trickles in is answered 408 after --handshake-timeout", async () => {
  await withHlbook(["--handshake-timeout=1"], async (hlbook) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: hlbook.port });
    try {
      const started = Date.now();
      await conn.write(encoder.encode(
        `POST /info HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"type":`,
      ));
      const buffer = new Uint8Array(4096);
      let answer = "";
      while (!answer.includes("\r\n\r\n")) {
        const n = await Promise.race([
          conn.read(buffer),
          new Promise<null>((_, reject) =>
            setTimeout(() => reject(new Error("no answer within 10 s")), 10_000)
          ),
        ]);
        if (n === null) break;
        answer += new TextDecoder().decode(buffer.subarray(0, n));
      }
      // Deno.serve keeps the TCP connection until the client goes (it offers no way to drop it, see README,
      // Deploying); the handler and the body read are gone, and the answer says the connection is done.
      assert.match(answer, /^HTTP\/1\.1 408/);
      assert.match(answer, /\r\nconnection: close\r\n/i);
      assert.ok(Date.now() - started >= 900, "not before the timeout");
      assert.equal(await hlbook.metric("hlbook_refused_slow_request_total"), 1);
      // A body over the size limit is refused from its Content-Length, before it is read.
      const big = await fetch(`${hlbook.base}/info`, {
        method: "POST",
        body: "x".repeat(100_000),
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(big.status, 413);
      await big.body?.cancel();
    } finally {
      conn.close();
    }
  });
});
