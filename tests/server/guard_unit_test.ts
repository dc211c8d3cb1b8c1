/**
 * The parts of src/server/limits.ts no process-level test can reach on loopback: address grouping (IPv6 /64,
 * IPv4-mapped, ports), the loopback check behind the start-up warning, and the per-address l4Book snapshot
 * budget (which needs unsent bytes a real loopback socket would not keep).
 */
import assert from "node:assert/strict";
import { type ClientSink, Feed } from "../../src/feed/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { addressKey, isLoopback } from "../../src/server/mod.ts";
import { Guard, type GuardOptions, type Lease, resolveAuthToken } from "../../src/server/limits.ts";
import { sampleBooks } from "../feed/_helpers.ts";

Deno.test("client addresses are grouped as one attacker holds them", () => {
  assert.equal(addressKey("10.1.2.3"), "10.1.2.3");
  assert.equal(addressKey(" 10.1.2.3 "), "10.1.2.3");
  assert.equal(addressKey("10.1.2.3:4567"), "10.1.2.3");
  assert.equal(addressKey("::ffff:10.1.2.3"), "10.1.2.3");
  assert.equal(addressKey("[::ffff:a01:203]"), "10.1.2.3");
  assert.equal(addressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  assert.equal(addressKey("[2001:db8::1]:443"), "2001:db8:0:0::/64");
  assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(addressKey("::1"), "::1");
  assert.equal(addressKey("[0:0::1]:80"), "::1");
  for (
    const bad of ["", "unknown", "10.1.2.256", "1.2.3", "2001:db8::1::2", "1:2:3:4:5:6:7:8:9", "_gateway"]
  ) {
    assert.equal(addressKey(bad), null, bad);
  }
});

Deno.test("only loopback binds count as local", () => {
  for (const local of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "0:0:0:0:0:0:0:1"]) {
    assert.equal(isLoopback(local), true, local);
  }
  for (const open of ["0.0.0.0", "::", "10.0.0.5", "192.168.1.2", "example.com", "::2"]) {
    assert.equal(isLoopback(open), false, open);
  }
});

class Sink implements ClientSink {
  bufferedAmount = 0;
  readonly sent: string[] = [];
  send(text: string): void {
    this.sent.push(text);
    this.bufferedAmount += text.length;
  }
  close(): void {}
}

/** A live feed over the sample books and a guard over it (limits as given, the rest generous). */
function liveGuard(options: Partial<GuardOptions>) {
  const metrics = new Metrics();
  const feed = new Feed({ metrics });
  const { books } = sampleBooks();
  feed.reset(books);
  feed.state({ phase: "ready", height: books.height, time: books.time });
  const guard = new Guard(
    {
      maxConnectionsPerIp: 10,
      connectionRatePerIp: 0,
      maxSubscriptionsPerIp: 100,
      maxSubscriptionsTotal: 1000,
      maxBufferedPerIp: 1 << 20,
      trustProxy: "",
      authToken: "",
      ...options,
    },
    feed,
    metrics,
  );
  /** A connection of `address` whose sink counts what it is sent as unsent. */
  const open = (address: string) => {
    const lease = guard.connect(address) as Lease;
    const sink = new Sink();
    const client = feed.attach(sink, lease.limits(10, 1 << 20));
    return { sink, client, lease };
  };
  return { metrics, feed, guard, open };
}

Deno.test("l4Book snapshots are budgeted per address: a second one waits until the first is read", () => {
  const { metrics, feed, guard, open } = liveGuard({ maxBufferedPerIp: 1024 });
  const l4 = (coin: string) =>
    JSON.stringify({ method: "subscribe", subscription: { type: "l4Book", coin } });
  const a = open("10.0.0.1");
  const b = open("10.0.0.1");
  const other = open("10.0.0.2");
  // Nothing unsent: the snapshot goes out (the first always fits, whatever its size); then it sits unread.
  feed.handle(a.client, l4("BTC"));
  assert.match(a.sink.sent.at(-1) ?? "", /"Snapshot"/);
  a.sink.bufferedAmount = 2000;
  // While it sits unsent, the same address cannot start another (on any connection); another address can.
  feed.handle(b.client, l4("BTC"));
  assert.match(
    b.sink.sent.at(-1) ?? "",
    /^\{"channel":"error","data":"Invalid subscription \{.*bytes of snapshots unsent/,
  );
  feed.handle(other.client, l4("BTC"));
  assert.match(other.sink.sent.at(-1) ?? "", /"Snapshot"/);
  assert.equal(metrics.value("hlbook_refused_buffered_per_ip_total"), 1);
  // Once the client read it, the address may subscribe again.
  a.sink.bufferedAmount = 0;
  b.sink.bufferedAmount = 0;
  feed.handle(b.client, l4("BTC"));
  assert.match(b.sink.sent.at(-1) ?? "", /"Snapshot"/);
  assert.deepEqual(guard.usage("10.0.0.1"), { connections: 2, subscriptions: 2 });
  // Disconnects give everything back, and an idle address is forgotten.
  for (const { client, lease } of [a, b]) {
    feed.detach(client);
    lease.release();
  }
  assert.deepEqual(guard.usage("10.0.0.1"), { connections: 0, subscriptions: 0 });
  assert.equal(metrics.value("hlbook_client_addresses"), 1);
});

Deno.test("loopback peers are not limited per address; every other address is", () => {
  const metrics = new Metrics();
  const feed = new Feed({ metrics });
  const guard = new Guard(
    {
      maxConnectionsPerIp: 2,
      connectionRatePerIp: 0,
      maxSubscriptionsPerIp: 2,
      maxSubscriptionsTotal: 1000,
      maxBufferedPerIp: 1024,
      trustProxy: "x-forwarded-for",
      authToken: "",
    },
    feed,
    metrics,
  );
  for (const local of ["127.0.0.1", "::1"]) {
    for (let i = 0; i < 5; i++) assert.ok("gate" in guard.connect(local), local);
  }
  assert.ok("gate" in guard.connect("10.0.0.1"));
  assert.ok("gate" in guard.connect("10.0.0.1"));
  const refused = guard.connect("10.0.0.1");
  assert.ok("status" in refused && refused.status === 429);
  // The proxy header names the address only when trusted; a loopback peer without it stays unlimited.
  const request = (headers: Record<string, string>) => new Request("http://x/ws", { headers });
  assert.equal(
    guard.address(request({ "x-forwarded-for": "198.51.100.7, 10.0.0.1" }), "127.0.0.1"),
    "10.0.0.1",
  );
  assert.equal(guard.address(request({ "x-forwarded-for": "not an address" }), "127.0.0.1"), "127.0.0.1");
  assert.equal(guard.address(request({}), "127.0.0.1"), "127.0.0.1");
  const untrusting = new Guard(
    {
      maxConnectionsPerIp: 2,
      connectionRatePerIp: 0,
      maxSubscriptionsPerIp: 2,
      maxSubscriptionsTotal: 1000,
      maxBufferedPerIp: 1024,
      trustProxy: "",
      authToken: "",
    },
    feed,
    new Metrics(),
  );
  assert.equal(untrusting.address(request({ "x-forwarded-for": "10.0.0.1" }), "203.0.113.9"), "203.0.113.9");
});

Deno.test("--auth-token-file: the first line is the token; a short one is refused without echoing it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hlbook-token-" });
  try {
    await Deno.writeTextFile(`${dir}/good`, "0123456789abcdefXYZ\nsecond line\n");
    assert.deepEqual(await resolveAuthToken("", `${dir}/good`), { ok: true, token: "0123456789abcdefXYZ" });
    await Deno.writeTextFile(`${dir}/short`, "secret-ish\n");
    const short = await resolveAuthToken("", `${dir}/short`);
    assert.equal(short.ok, false);
    assert.ok(!short.ok && /got 10 characters$/.test(short.error) && !short.error.includes("secret-ish"));
    const missing = await resolveAuthToken("", `${dir}/missing`);
    assert.ok(!missing.ok && /cannot be read/.test(missing.error));
    assert.deepEqual(await resolveAuthToken("from-the-flag-0123", ""), {
      ok: true,
      token: "from-the-flag-0123",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one address's connections share --max-buffered-per-ip: many slow ones are closed sooner", () => {
  const metrics = new Metrics();
  const feed = new Feed({ metrics });
  const { books } = sampleBooks();
  feed.reset(books);
  feed.state({ phase: "ready", height: books.height, time: books.time });
  const guard = new Guard(
    {
      maxConnectionsPerIp: 100,
      connectionRatePerIp: 0,
      maxSubscriptionsPerIp: 1000,
      maxSubscriptionsTotal: 1000,
      maxBufferedPerIp: 4 << 20,
      trustProxy: "",
      authToken: "",
    },
    feed,
    metrics,
  );
  const lone = (guard.connect("10.0.0.9") as Lease).limits(10, 4 << 20);
  assert.equal(lone.maxBuffered, 4 << 20, "one connection has all of --max-buffered");
  const leases = Array.from({ length: 64 }, () => guard.connect("10.0.0.1") as Lease);
  const limits = leases.map((lease) => lease.limits(10, 4 << 20));
  assert.equal(limits[0].maxBuffered, 64 * 1024, "64 connections: 4 MiB / 64 each");
  // A client of that address with 100 KiB unsent is over its share and closed as too slow at the next message;
  // the lone client of another address with as much unsent is not.
  const slow = new Sink();
  const slowClient = feed.attach(slow, limits[0]);
  const fine = new Sink();
  const fineClient = feed.attach(fine, lone);
  for (const client of [slowClient, fineClient]) {
    feed.handle(
      client,
      JSON.stringify({ method: "subscribe", subscription: { type: "trades", coin: "BTC" } }),
    );
  }
  slow.bufferedAmount = fine.bufferedAmount = 100 * 1024;
  for (const client of [slowClient, fineClient]) feed.handle(client, '{"method":"ping"}');
  assert.equal(slowClient.closed, true);
  assert.equal(fineClient.closed, false);
  assert.equal(metrics.value("hlbook_closed_slow_total"), 1);
  // As the address's connections close, the others' shares grow back.
  for (const lease of leases.slice(1)) lease.release();
  assert.equal(limits[0].maxBuffered, 4 << 20);
});

Deno.test("l4Book snapshots an address starts are budgeted over time too, even when the kernel took them all", () => {
  const { feed, open } = liveGuard({ maxBufferedPerIp: 2000 });
  const l4 = JSON.stringify({ method: "subscribe", subscription: { type: "l4Book", coin: "BTC" } });
  const answers: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { sink, client } = open("10.0.0.1");
    feed.handle(client, l4);
    answers.push(sink.sent.at(-1) ?? "");
    sink.bufferedAmount = 0; // read at once (or taken by the kernel): nothing unsent
  }
  const size = feed.l4SnapshotSize("BTC");
  assert.ok(size > 1000 && size <= 2000, `sample snapshot size ${size}`);
  // The first (size not known yet) and the second fit; the third would pass 2,000 bytes within the window.
  assert.match(answers[0], /"Snapshot"/);
  assert.match(answers[1], /"Snapshot"/);
  assert.match(answers[2], /l4Book snapshots in the last 10 s: retry shortly/);
  const other = open("10.0.0.2");
  feed.handle(other.client, l4);
  assert.match(other.sink.sent.at(-1) ?? "", /"Snapshot"/);
});

Deno.test("POST /info requests in flight are limited per address", () => {
  const { guard, metrics } = liveGuard({ maxInfoRequestsPerIp: 2 });
  const a = guard.infoRequest("10.0.0.1");
  const b = guard.infoRequest("10.0.0.1");
  assert.ok("release" in a && "release" in b);
  const refused = guard.infoRequest("10.0.0.1");
  assert.ok("status" in refused && refused.status === 429);
  assert.ok("release" in guard.infoRequest("10.0.0.2"), "another address has its own slots");
  assert.ok("release" in guard.infoRequest("127.0.0.1") && "release" in guard.infoRequest("127.0.0.1"));
  assert.ok("release" in guard.infoRequest("127.0.0.1"), "loopback is not limited");
  a.release();
  a.release(); // twice is once
  assert.ok("release" in guard.infoRequest("10.0.0.1"));
  assert.ok("status" in guard.infoRequest("10.0.0.1"));
  assert.equal(metrics.value("hlbook_refused_info_requests_per_ip_total"), 2);
});

Deno.test("new connections per address are rate-limited by a token bucket: bursts of twice the rate, then the rate", () => {
  const { metrics, guard } = liveGuard({ maxConnectionsPerIp: 100, connectionRatePerIp: 3 });
  const t0 = 1_000_000;
  const take = (address: string, at: number) => {
    const lease = guard.connect(address, at);
    if ("status" in lease) return lease;
    lease.release(); // the rate counts connections opened, not held
    return null;
  };
  // A full bucket: 6 at once, the seventh refused with a short retry.
  for (let i = 0; i < 6; i++) assert.equal(take("10.0.0.1", t0), null, `connection ${i}`);
  const refused = take("10.0.0.1", t0);
  assert.equal(refused?.status, 429);
  assert.equal(refused?.headers?.["retry-after"], "1");
  assert.match(refused?.error ?? "", /at most 3 a second/);
  // Another address has its own bucket; loopback peers have none.
  assert.equal(take("10.0.0.2", t0), null);
  for (let i = 0; i < 20; i++) assert.equal(take("127.0.0.1", t0), null);
  // It refills at the rate: one more after a third of a second, three after a second, never above the burst.
  assert.notEqual(take("10.0.0.1", t0 + 200), null);
  assert.equal(take("10.0.0.1", t0 + 340), null);
  assert.notEqual(take("10.0.0.1", t0 + 340), null);
  for (let i = 0; i < 3; i++) assert.equal(take("10.0.0.1", t0 + 1340), null);
  assert.notEqual(take("10.0.0.1", t0 + 1340), null);
  for (let i = 0; i < 6; i++) assert.equal(take("10.0.0.1", t0 + 60_000), null);
  assert.notEqual(take("10.0.0.1", t0 + 60_000), null);
  assert.equal(metrics.value("hlbook_refused_connection_rate_per_ip_total"), 5);
  // The bucket outlives the address's connections: it was refused while holding none.
  assert.deepEqual(guard.usage("10.0.0.1"), { connections: 0, subscriptions: 0 });
});
