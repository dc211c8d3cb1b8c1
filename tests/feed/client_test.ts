import assert from "node:assert/strict";
import { Client, type ClientSink, Delivery } from "../../src/feed/mod.ts";
import { Metrics } from "../../src/metrics.ts";

class Sink implements ClientSink {
  readonly sent: string[] = [];
  bufferedAmount = 0;
  closedWith: number | null = null;
  send(text: string): void {
    this.sent.push(text);
  }
  close(code?: number): void {
    this.closedWith = code ?? null;
  }
}

/** maxBuffered 1 MiB: the soft threshold is 128 KiB. */
const LIMITS = { maxSubscriptions: 10, maxBuffered: 1024 * 1024 };

function setup() {
  const metrics = new Metrics();
  const closed: Client[] = [];
  const delivery = new Delivery(metrics, (client) => closed.push(client));
  const sink = new Sink();
  const client = new Client(sink, LIMITS);
  return { metrics, delivery, sink, client, closed };
}

Deno.test("a client over the soft threshold gets its views conflated to the latest per key, the rest queued", () => {
  const { metrics, delivery, sink, client } = setup();
  sink.bufferedAmount = 200 * 1024;
  delivery.deliver(client, "l2 a", "k1");
  delivery.deliver(client, "l2 b", "k1");
  delivery.deliver(client, "bbo", "k2");
  delivery.deliver(client, "trade", null);
  assert.deepEqual(sink.sent, ["trade"], "only the non-conflatable message went out");
  delivery.drain();
  assert.deepEqual(sink.sent, ["trade"], "still over the threshold: nothing flushed");
  sink.bufferedAmount = 0;
  delivery.drain();
  assert.deepEqual(sink.sent, ["trade", "l2 b", "bbo"], "drained: the latest of each view");
  assert.match(metrics.render(), /hlbook_conflated_total 1\b/);
  delivery.deliver(client, "l2 c", "k1");
  assert.equal(sink.sent.at(-1), "l2 c", "caught up: sent at once");
});

Deno.test("a client over maxBuffered is closed with 1008 and handed to its owner once", () => {
  const { metrics, delivery, sink, client, closed } = setup();
  sink.bufferedAmount = 2 * 1024 * 1024;
  delivery.deliver(client, "x", null);
  assert.equal(sink.closedWith, 1008);
  assert.deepEqual(closed, [client]);
  assert.deepEqual(sink.sent, []);
  assert.match(metrics.render(), /hlbook_closed_slow_total 1\b/);
});

Deno.test("l4Book Updates newer than the awaited snapshot wait behind it; older ones and a superseded wait deliver nothing", () => {
  const { delivery, sink, client } = setup();
  delivery.waitL4(client, "l4", "BTC", 1);
  delivery.deliverL4Update(client, "l4", "u10", 10);
  assert.deepEqual(sink.sent, [], "waiting: the update is queued");
  delivery.waitL4(client, "l4", "BTC", 2);
  delivery.deliverL4Update(client, "l4", "u11", 11);
  delivery.deliverL4Update(client, "l4", "u12", 12);
  delivery.l4Ready(client, "l4", 1, ["old snapshot"], 9);
  assert.deepEqual(sink.sent, [], "the first wait was superseded");
  delivery.l4Ready(client, "l4", 2, ["snapshot at 11"], 11);
  assert.deepEqual(sink.sent, ["snapshot at 11", "u12"], "u11 is in the snapshot already");
  delivery.deliverL4Update(client, "l4", "u13", 13);
  assert.deepEqual(sink.sent, ["snapshot at 11", "u12", "u13"], "no longer waiting");
});

Deno.test("a large snapshot may sit in the buffer on top of maxBuffered until the socket drains once", () => {
  const { delivery, sink, client, closed } = setup();
  delivery.deliverL4Snapshot(client, "x".repeat(3 * 1024 * 1024));
  sink.bufferedAmount = 3 * 1024 * 1024;
  delivery.deliver(client, "u", null);
  assert.deepEqual(closed, [], "within the allowance");
  sink.bufferedAmount = 0;
  delivery.deliver(client, "v", null);
  sink.bufferedAmount = 3 * 1024 * 1024;
  delivery.deliver(client, "w", null);
  assert.deepEqual(closed, [client], "drained once: the allowance is gone");
});
