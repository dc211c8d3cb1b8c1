/**
 * What the scale-out design relies on, checked against a real `nats-server -js` with the official JavaScript
 * client under Deno: JetStream drops a re-published message id (a restarted core's re-publish is harmless),
 * a consumer replays from a stream sequence (resume by height), the stream survives a server restart, and KV
 * entries expire with their bucket's TTL (edge leases).
 */
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { NatsServer, natsTestOptions } from "../_support/nats.ts";
import { waitFor } from "../_support/wait.ts";

Deno.test({
  ...natsTestOptions(
    "the official NATS client under Deno: dedup by message id, replay from a sequence, restart, KV TTL",
  ),
  async fn(t) {
    const server = await NatsServer.start();
    let nc = await connect({
      servers: server.url,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({
        name: "BLOCKS",
        subjects: ["hlbook.test.>"],
        duplicate_window: 60_000_000_000,
      });
      const js = jetstream(nc);

      await t.step("a message id published twice is stored once", async () => {
        for (let height = 1; height <= 5; height++) {
          const first = await js.publish("hlbook.test.l2.BTC", `block ${height}`, { msgID: `${height}` });
          assert.equal(first.duplicate, false);
          const again = await js.publish("hlbook.test.l2.BTC", `block ${height}`, { msgID: `${height}` });
          assert.equal(again.duplicate, true);
          assert.equal(again.seq, first.seq);
        }
        assert.equal((await jsm.streams.info("BLOCKS")).state.messages, 5);
      });

      await t.step("a consumer replays every message after a sequence, in order", async () => {
        const name = "from3";
        await jsm.consumers.add("BLOCKS", {
          name,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: 3,
          ack_policy: AckPolicy.None,
        });
        const consumer = await js.consumers.get("BLOCKS", name);
        const got: string[] = [];
        const messages = await consumer.fetch({ max_messages: 3, expires: 5000 });
        for await (const m of messages) got.push(m.string());
        assert.deepEqual(got, ["block 3", "block 4", "block 5"]);
      });

      await t.step("the stream survives a restart of the server", async () => {
        await server.restart();
        await nc.close().catch(() => {});
        nc = await connect({ servers: server.url });
        const info = await (await jetstreamManager(nc)).streams.info("BLOCKS");
        assert.equal(info.state.messages, 5);
        assert.equal(info.state.last_seq, 5);
      });

      await t.step("a KV entry expires with its bucket's TTL", async () => {
        const kv = await new Kvm(nc).create("leases", { ttl: 1000 });
        await kv.put("edge-1", "l2.BTC");
        assert.equal((await kv.get("edge-1"))?.string(), "l2.BTC");
        await waitFor("the lease to expire", async () => (await kv.get("edge-1")) === null, 10_000, 100);
      });
    } finally {
      await nc.close().catch(() => {});
      await server.stop();
    }
  },
});
