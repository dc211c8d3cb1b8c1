/**
 * The core lock and the edges' view leases against a real `nats-server -js` (no mocks): one core at a time, a
 * stand-by takes over when the holder releases or dies, a holder that cannot renew is told it lost the lock;
 * the core serves the union of live edges' views and forgets an edge that stops renewing.
 */
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type KV, Kvm } from "@nats-io/kv";
import { CoreLock, EdgeLease, LeaseTable } from "../../src/scaleout/mod.ts";
import { NatsServer, natsTestOptions } from "../_support/nats.ts";
import { waitFor } from "../_support/wait.ts";

const natsTest = (name: string, fn: (server: NatsServer, nc: NatsConnection) => Promise<void>) =>
  Deno.test({
    ...natsTestOptions(name),
    async fn() {
      const server = await NatsServer.start();
      const nc = await connect({ servers: server.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
      try {
        await fn(server, nc);
      } finally {
        await nc.close().catch(() => {});
        await server.stop();
      }
    },
  });

async function bucket(nc: NatsConnection, name: string, ttl: number): Promise<KV> {
  return await new Kvm(nc).create(name, { ttl, history: 1 });
}

natsTest(
  "one core holds the lock; a stand-by gets it after a release or after the holder's TTL",
  async (_s, nc) => {
    const kv = await bucket(nc, "hlbook_lock_a", 1000);
    const lost: string[] = [];
    const first = await CoreLock.acquire(kv, {
      id: "core-1",
      ttlMs: 1000,
      onLost: (r) => lost.push(`1 ${r}`),
    });
    assert.ok(first.ok);
    const second = await CoreLock.acquire(kv, {
      id: "core-2",
      ttlMs: 1000,
      onLost: (r) => lost.push(`2 ${r}`),
    });
    assert.equal(second.ok, false);
    if (!second.ok) assert.equal(second.holder?.id, "core-1", "the stand-by learns who holds the lock");
    // Renewals keep it held well past the TTL.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.ok(first.lock.held);
    assert.equal((await CoreLock.acquire(kv, { id: "core-2", ttlMs: 1000, onLost: () => {} })).ok, false);
    await first.lock.release();
    const third = await CoreLock.acquire(kv, {
      id: "core-2",
      ttlMs: 1000,
      onLost: (r) => lost.push(`2 ${r}`),
    });
    assert.ok(third.ok, "released: the stand-by takes it at once");
    assert.equal(lost.length, 0);
    await third.lock.release();

    // A holder whose connection dies (a crash, a partition) frees the lock within the TTL, and is told it lost it.
    const nc2 = await connect({ servers: nc.getServer(), reconnect: false });
    const dying = await CoreLock.acquire(await new Kvm(nc2).open("hlbook_lock_a"), {
      id: "core-3",
      ttlMs: 1000,
      onLost: (r) => lost.push(`3 ${r}`),
    });
    assert.ok(dying.ok);
    await nc2.close();
    const takeover = await waitFor(
      "the dead holder's lock to expire",
      async () => {
        const attempt = await CoreLock.acquire(kv, { id: "core-4", ttlMs: 1000, onLost: () => {} });
        return attempt.ok ? attempt.lock : null;
      },
      10_000,
      200,
    );
    await waitFor("the cut-off holder to hear it lost the lock", () => lost.length > 0, 5000);
    assert.match(lost[0], /^3 could not renew the lock for 1000 ms/);
    assert.equal(dying.lock.held, false);
    await takeover.release();
  },
);

natsTest(
  "the core serves the union of live edges' views and forgets an edge that stops renewing",
  async (_s, nc) => {
    const kv = await bucket(nc, "hlbook_leases_a", 1200);
    const table = new LeaseTable(1200);
    const abort = new AbortController();
    const following = table.follow(kv, abort.signal);
    const one = new EdgeLease(kv, "edge-1", 1200);
    const nc2 = await connect({ servers: nc.getServer(), reconnect: false });
    const two = new EdgeLease(await new Kvm(nc2).open("hlbook_leases_a"), "edge-2", 1200);
    try {
      await one.set(["trades\u0000BTC", "l4Book\u0000ETH"]);
      await two.set(["trades\u0000BTC", "allMids\u0000"]);
      await waitFor("both edges' leases", () => table.edges().length === 2, 5000);
      assert.deepEqual([...table.watched()].sort(), ["allMids\u0000", "l4Book\u0000ETH", "trades\u0000BTC"]);

      await one.set(["trades\u0000BTC"]);
      await waitFor("edge 1's smaller set", () => !table.watched().has("l4Book\u0000ETH"), 5000);

      // Edge 2 dies without a word: its views go after the TTL; edge 1, renewing, stays.
      await nc2.close();
      await waitFor("edge 2 to be forgotten", () => table.edges().join() === "edge-1", 5000);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepEqual(table.edges(), ["edge-1"], "renewals keep a live edge past the TTL");
      assert.deepEqual([...table.watched()], ["trades\u0000BTC"]);

      // A clean shutdown removes the lease at once.
      await one.close();
      await waitFor("edge 1's lease to go on close", () => table.edges().length === 0, 5000);
    } finally {
      await one.close();
      await two.close().catch(() => {});
      abort.abort();
      await following;
    }
  },
);

Deno.test("malformed lease entries are ignored, leases expire on the core's own clock", () => {
  let now = 1000;
  const table = new LeaseTable(100, () => now);
  const entry = (key: string, value: string, operation = "PUT") => ({ key, operation, string: () => value });
  table.apply(entry("edge.a", '{"keys":["x","y"]}'));
  table.apply(entry("edge.b", "not json"));
  table.apply(entry("edge.c", '{"keys":[1]}'));
  table.apply(entry("other", '{"keys":["z"]}'));
  assert.deepEqual(table.edges(), ["a"]);
  now += 60;
  table.apply(entry("edge.d", '{"keys":["z"]}'));
  now += 60;
  assert.deepEqual(table.edges(), ["d"], "a's lease is 120 ms old, past the 100 ms TTL");
  assert.deepEqual([...table.watched()], ["z"]);
  table.apply(entry("edge.d", "", "DEL"));
  assert.deepEqual(table.edges(), []);
});
