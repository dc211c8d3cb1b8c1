/**
 * Garbage on the deployment's subjects never crashes a core link or an edge and never reaches a client: each
 * malformed message is counted and dropped, and the view a client watches keeps flowing. Against a real
 * `nats-server -js`, in this process (a core link with a stand-in core, an edge with one counting client).
 */
import assert from "node:assert/strict";
import { connect, headers } from "@nats-io/transport-node";
import { Metrics } from "../../src/metrics.ts";
import { NatsCoreLink } from "../../src/scaleout/core_link.ts";
import { NatsEdge } from "../../src/scaleout/edge_link.ts";
import { viewSubject } from "../../src/scaleout/subjects.ts";
import { BLOCK_SUBJECT, INFO_SUBJECT, SNAPSHOT_SUBJECT, STATUS_SUBJECT } from "../../src/scaleout/wire.ts";
import { NatsServer, natsTestOptions } from "../_support/nats.ts";
import { waitFor } from "../_support/wait.ts";

const KEY = "trades\u0000BTC";
const SUBSCRIBE = JSON.stringify({ method: "subscribe", subscription: { type: "trades", coin: "BTC" } });

Deno.test({
  ...natsTestOptions("malformed NATS messages are counted and dropped; the edge and the core carry on"),
  async fn() {
    const server = await NatsServer.start();
    const core = await connect({ servers: server.url });
    const edgeConnection = await connect({ servers: server.url });
    const rogue = await connect({ servers: server.url });
    const coreMetrics = new Metrics();
    const edgeMetrics = new Metrics();
    const link = new NatsCoreLink({
      nc: core,
      id: "core-test",
      metrics: coreMetrics,
      retention: { maxAgeMs: 60_000, maxBytes: 1 << 24 },
    });
    const edge = new NatsEdge({ nc: edgeConnection, metrics: edgeMetrics, id: "edge-test" });
    const sent: string[] = [];
    let snapshots = 0;
    try {
      await link.start({
        receive: (m) => {
          if (m.kind !== "snapshot") return;
          snapshots++;
          link.emit({ kind: "snapshotReply", id: m.id, key: m.key, height: 1, texts: [] });
        },
      });
      await waitFor("the lock", () => link.publishing, 10_000);
      await edge.start();
      const client = edge.attach(
        { send: (text) => sent.push(text), bufferedAmount: 0, close: () => {} },
        { maxSubscriptions: 10, maxBuffered: 1 << 20 },
      );
      edge.handle(client, SUBSCRIBE);
      await waitFor("the subscription response", () => sent.length >= 1, 5000);

      // Garbage everywhere: control subjects, the requests the core answers, the watched view's subject.
      const bad = [
        "",
        "not json",
        "{",
        "null",
        '{"kind":"status"}',
        '{"kind":"snapshot","id":"x"}',
        "\u0000".repeat(9),
      ];
      const publishGarbage = async () => {
        for (const text of bad) {
          for (
            const subject of [STATUS_SUBJECT, BLOCK_SUBJECT, SNAPSHOT_SUBJECT, INFO_SUBJECT, viewSubject(KEY)]
          ) {
            rogue.publish(subject, text);
          }
          const h = headers();
          h.set("Hlbook-Height", "not a number");
          rogue.publish(viewSubject(KEY), text, { headers: h });
        }
        await rogue.flush();
      };
      // The edge's subscriptions reach the server asynchronously (the view's only once the subscribe is
      // handled), and NATS drops what is published before: the garbage is sent in rounds until it is counted.
      await edgeConnection.flush();
      await waitFor(
        "the edge to count the bad messages",
        async () => {
          await publishGarbage();
          return edgeMetrics.value("hlbook_nats_bad_messages_total") >= 10;
        },
        15_000,
        200,
      );
      await waitFor(
        "the core to count the bad requests",
        () => coreMetrics.value("hlbook_nats_failures_total") >= 2,
        5000,
      );
      assert.ok(
        sent.every((text) => !text.includes("not json") && !text.includes("\u0000")),
        "nothing reached the client",
      );

      // The view still flows: a real block output reaches the client.
      const trade = '{"channel":"trades","data":[]}';
      await waitFor("the edge's snapshot answer", () => sent.length >= 1, 5000);
      link.emit({ kind: "block", height: 2, time: 2, views: [], l4: [], queued: [[KEY, trade]] });
      await waitFor("the trade", () => sent.includes(trade), 5000);

      // A skipped block height (here a marker from nowhere) re-syncs the view and tells the client.
      const status = {
        kind: "status",
        phase: "ready",
        live: true,
        height: 3,
        time: 3,
        epoch: 1,
        coins: ["BTC"],
        told: null,
      } as const;
      link.emit(status);
      await waitFor("the edge to follow the core", () => snapshots >= 2, 5000);
      link.emit({ kind: "block", height: 4, time: 4, views: [], l4: [], queued: [] });
      await waitFor("the marker of height 4", () => edge.status().height === 4, 5000);
      const before = { snapshots, sent: sent.length };
      rogue.publish(BLOCK_SUBJECT, "9");
      await waitFor("the gap to re-sync the view", () => snapshots > before.snapshots, 5000);
      assert.equal(edgeMetrics.value("hlbook_nats_gaps_total"), 1);
      await waitFor(
        "the client told",
        () => sent.slice(before.sent).some((t) => t.includes('"hlbookStatus"')),
        5000,
      );
    } finally {
      await edge.close();
      await link.close();
      for (const nc of [core, edgeConnection, rogue]) await nc.close().catch(() => {});
      await server.stop();
    }
  },
});
