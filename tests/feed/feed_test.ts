import assert from "node:assert/strict";
import { type Client, type ClientSink, Feed } from "../../src/feed/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { sampleBooks, trade } from "./_helpers.ts";
import { Books } from "../../src/book/mod.ts";
import { referenceLevelsJson } from "../_support/l2_reference.ts";
import { waitFor } from "../_support/wait.ts";

class FakeSink implements ClientSink {
  readonly sent: string[] = [];
  bufferedAmount = 0;
  closedWith: [number | undefined, string | undefined] | null = null;
  send(text: string): void {
    if (this.closedWith) throw new Error("closed");
    this.sent.push(text);
  }
  close(code?: number, reason?: string): void {
    this.closedWith = [code, reason];
  }
  channels(): string[] {
    return this.sent.map((text) => JSON.parse(text).channel);
  }
}

const LIMITS = { maxSubscriptions: 10, maxBuffered: 1024 * 1024 };

function setup() {
  const metrics = new Metrics();
  const feed = new Feed({ metrics });
  const { books, maker } = sampleBooks();
  feed.reset(books);
  feed.state({ phase: "ready", height: books.height, time: books.time });
  const connect = (...subscriptions: object[]): [Client, FakeSink] => {
    const sink = new FakeSink();
    const client = feed.attach(sink, LIMITS);
    for (const subscription of subscriptions) {
      feed.handle(client, JSON.stringify({ method: "subscribe", subscription }));
    }
    sink.sent.length = 0;
    return [client, sink];
  };
  return { metrics, feed, books, maker, connect };
}

Deno.test("a slow client's book views are conflated to the latest, its trades are not", async (t) => {
  const { metrics, feed, books, maker, connect } = setup();
  const [, slow] = connect({ type: "l2Book", coin: "BTC" }, { type: "bbo", coin: "BTC" }, {
    type: "trades",
    coin: "BTC",
  }, { type: "allMids" });
  const [, fast] = connect({ type: "l2Book", coin: "BTC" }, { type: "bbo", coin: "BTC" }, {
    type: "trades",
    coin: "BTC",
  }, { type: "allMids" });

  await t.step("over the soft threshold, l2Book, bbo and allMids wait while trades still go out", () => {
    slow.bufferedAmount = 300 * 1024;
    for (let i = 0; i < 3; i++) {
      maker.place("BTC", "B", `100.${i + 1}`, "1.0");
      feed.block(books, maker.apply());
      feed.trades([trade("BTC", i)]);
    }
    assert.deepEqual(slow.channels(), ["trades", "trades", "trades"]);
    assert.deepEqual(fast.channels(), [
      "l2Book",
      "bbo",
      "allMids",
      "trades",
      "l2Book",
      "bbo",
      "allMids",
      "trades",
      "l2Book",
      "bbo",
      "allMids",
      "trades",
    ]);
    // Each of the three views replaced its pending message twice.
    assert.equal(metrics.value("hlbook_conflated_total"), 6);
  });

  await t.step("when it drains it gets only the latest of each view, equal to what others got", () => {
    slow.sent.length = 0;
    slow.bufferedAmount = 0;
    maker.place("ETH", "B", "9.0", "1.0");
    feed.block(books, maker.apply());
    assert.deepEqual(slow.channels(), ["l2Book", "bbo", "allMids"]);
    const latest = (channel: string) =>
      fast.sent.filter((text) => JSON.parse(text).channel === channel).at(-1);
    assert.equal(slow.sent[0], latest("l2Book"));
    assert.equal(slow.sent[1], latest("bbo"));
    assert.equal(slow.sent[2], latest("allMids"));
    assert.equal(JSON.parse(slow.sent[2]).data.mids.BTC, "100.65");
  });

  await t.step("a fresh message after a drain is never followed by a stale one", () => {
    slow.sent.length = 0;
    maker.place("BTC", "B", "100.9", "1.0");
    feed.block(books, maker.apply());
    feed.block(books, maker.apply());
    assert.deepEqual(slow.channels(), ["l2Book", "bbo", "allMids"]);
  });

  await t.step("over maxBuffered the client is closed with 1008 and forgotten", () => {
    const before = feed.status().subscriptions;
    slow.bufferedAmount = LIMITS.maxBuffered + 1;
    feed.trades([trade("BTC", 99)]);
    assert.equal(slow.closedWith?.[0], 1008);
    assert.match(slow.closedWith?.[1] ?? "", /too slow/);
    assert.ok((slow.closedWith?.[1] ?? "").length <= 123);
    assert.equal(feed.status().subscriptions, before - 4);
    assert.equal(feed.status().clients, 1);
    assert.equal(metrics.value("hlbook_closed_slow_total"), 1);
    // Others are unaffected.
    assert.equal(fast.channels().at(-1), "trades");
  });
});

Deno.test("views nobody watches cost nothing and disappear with their last subscriber", () => {
  const { feed, books, maker, connect } = setup();
  const [client, sink] = connect({ type: "l2Book", coin: "ETH" });
  maker.place("BTC", "B", "100.0", "1.0");
  feed.block(books, maker.apply());
  assert.deepEqual(sink.sent, []);
  feed.handle(client, '{"method":"unsubscribe","subscription":{"type":"l2Book","coin":"ETH"}}');
  assert.equal(feed.status().subscriptions, 0);
  maker.place("ETH", "B", "10.0", "1.0");
  feed.block(books, maker.apply());
  assert.deepEqual(sink.channels(), ["subscriptionResponse"]);
});

Deno.test("messages still queued for a client the feed already closed subscribe nothing and get no reply", () => {
  const { feed, connect } = setup();
  const [client, sink] = connect({ type: "l2Book", coin: "ETH" });
  feed.detach(client); // as the feed does when it closes a slow client, before the socket's close event
  feed.handle(client, JSON.stringify({ method: "subscribe", subscription: { type: "l2Book", coin: "BTC" } }));
  feed.handle(client, '{"method":"ping"}');
  assert.equal(feed.status().subscriptions, 0);
  assert.equal(feed.status().clients, 0);
  assert.deepEqual(sink.sent, []);
});

Deno.test("the subscription limit per connection is answered with an error the SDK can match", () => {
  const { feed, connect } = setup();
  const [client, sink] = connect();
  for (let i = 1; i <= LIMITS.maxSubscriptions + 1; i++) {
    feed.handle(
      client,
      JSON.stringify({ method: "subscribe", subscription: { type: "l2Book", coin: "BTC", nLevels: i } }),
    );
  }
  const last = JSON.parse(sink.sent.at(-1) ?? "null");
  assert.equal(last.channel, "error");
  assert.match(
    last.data,
    /^Invalid subscription \{"type":"l2Book","coin":"BTC","nLevels":11\} \(too many subscriptions/,
  );
  assert.equal(feed.status().subscriptions, LIMITS.maxSubscriptions);
});

Deno.test("no client input throws: random bytes and shapes are answered with errors", () => {
  const { feed, connect } = setup();
  const [client, sink] = connect();
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const atoms = [
    "null",
    "1",
    '"x"',
    "[]",
    "{}",
    "true",
    '"subscribe"',
    '"l2Book"',
    '"BTC"',
    "5",
    "-1",
    "1e308",
    '{"type":"l2Book"}',
  ];
  const keys = [
    "method",
    "subscription",
    "type",
    "coin",
    "nSigFigs",
    "mantissa",
    "nLevels",
    "id",
    "request",
    "payload",
  ];
  const value = (depth: number): string => {
    if (depth > 2 || rand() < 0.5) return atoms[Math.floor(rand() * atoms.length)];
    const n = Math.floor(rand() * 4);
    const parts = [];
    for (let i = 0; i < n; i++) parts.push(`"${keys[Math.floor(rand() * keys.length)]}":${value(depth + 1)}`);
    return `{${parts.join(",")}}`;
  };
  for (let i = 0; i < 2000; i++) {
    const text = rand() < 0.1
      ? String.fromCharCode(...Array.from({ length: 20 }, () => Math.floor(rand() * 65536)))
      : value(0);
    feed.handle(client, text);
  }
  assert.equal(sink.sent.length, 2000);
  for (const text of sink.sent) JSON.parse(text);
});

Deno.test("a big l4Book snapshot does not count against maxBuffered until the socket drains once", () => {
  const { feed, books, maker } = setup();
  const sink = new FakeSink();
  const client = feed.attach(sink, { maxSubscriptions: 10, maxBuffered: 2048 });
  feed.handle(client, '{"method":"subscribe","subscription":{"type":"l4Book","coin":"BTC"}}');
  const snapshot = sink.sent.at(-1) ?? "";
  assert.ok(snapshot.length > 1024, "the snapshot is over the soft threshold");
  sink.bufferedAmount = 2048 + snapshot.length - 1;
  maker.place("BTC", "B", "95.0", "1.0");
  feed.block(books, maker.apply());
  assert.equal(sink.closedWith, null);
  assert.match(sink.sent.at(-1) ?? "", /"Updates"/);
  // Once drained, the allowance is gone: the same backlog now closes the client.
  sink.bufferedAmount = 0;
  maker.place("BTC", "B", "95.0", "1.0");
  feed.block(books, maker.apply());
  sink.bufferedAmount = 2048 + snapshot.length - 1;
  maker.place("BTC", "B", "95.0", "1.0");
  feed.block(books, maker.apply());
  assert.equal(sink.closedWith?.[0], 1008);
});

Deno.test("poll flushes a drained client's conflated views even when no block arrives", () => {
  const { feed, books, maker, connect } = setup();
  const [, sink] = connect({ type: "l2Book", coin: "BTC" });
  sink.bufferedAmount = 300 * 1024;
  maker.place("BTC", "B", "100.0", "1.0");
  feed.block(books, maker.apply());
  assert.deepEqual(sink.sent, []);
  feed.poll();
  assert.deepEqual(sink.sent, []);
  sink.bufferedAmount = 0;
  feed.poll();
  assert.deepEqual(sink.channels(), ["l2Book"]);
});

Deno.test("a large l4Book snapshot is built across event-loop turns; later blocks' Updates follow it in order", async () => {
  const metrics = new Metrics();
  const feed = new Feed({ metrics, l4Chunk: 2 });
  const { books, maker } = sampleBooks();
  feed.reset(books);
  const sink = new FakeSink();
  const client = feed.attach(sink, LIMITS);
  feed.handle(client, '{"method":"subscribe","subscription":{"type":"l4Book","coin":"BTC"}}');
  const height = books.height;
  // Blocks arrive before the snapshot is done: their Updates must wait behind it.
  for (let i = 0; i < 3; i++) {
    maker.place("BTC", "A", `10${3 + i}.0`, "1.0");
    feed.block(books, maker.apply());
  }
  assert.deepEqual(sink.channels(), ["subscriptionResponse"]);
  await waitFor("the chunked snapshot and the three Updates", () => sink.sent.length >= 5, 2000, 1);
  const messages = sink.sent.map((text) => JSON.parse(text));
  assert.equal(messages.length, 5);
  assert.equal(messages[1].data.Snapshot.height, height);
  assert.equal(messages[1].data.Snapshot.levels[0].length + messages[1].data.Snapshot.levels[1].length, 5);
  assert.deepEqual(messages.slice(2).map((m) => m.data.Updates.height), [height + 1, height + 2, height + 3]);
  // A second subscriber at the new height gets the new book, not the old snapshot.
  const sink2 = new FakeSink();
  feed.handle(
    feed.attach(sink2, LIMITS),
    '{"method":"subscribe","subscription":{"type":"l4Book","coin":"BTC"}}',
  );
  await waitFor("the second subscriber's snapshot", () => sink2.sent.length >= 2, 2000, 1);
  const snapshot = JSON.parse(sink2.sent[1]).data.Snapshot;
  assert.equal(snapshot.height, height + 3);
  assert.equal(snapshot.levels[1].length, 5);
});

Deno.test("after a reset every subscriber of a view gets the same fresh snapshot", () => {
  const { feed, books, maker, connect } = setup();
  const sinks = [1, 2, 3].map(() => connect({ type: "l2Book", coin: "BTC" }, { type: "allMids" })[1]);
  maker.place("BTC", "B", "100.5", "1.0");
  maker.apply(); // applied while the feed did not see it: only the reset tells clients
  feed.reset(books);
  for (const sink of sinks) assert.deepEqual(sink.channels(), ["l2Book", "allMids"]);
  assert.ok(sinks.every((sink) => sink.sent[0] === sinks[0].sent[0] && sink.sent[1] === sinks[0].sent[1]));
  assert.deepEqual(JSON.parse(sinks[0].sent[0]).data.levels[0][0], { px: "100.5", sz: "1.0", n: 1 });
  assert.deepEqual(JSON.parse(sinks[0].sent[1]).data.mids.BTC, "100.75");
});

Deno.test("l2Book views sharing bucketing are computed together and equal their own computation", () => {
  const { feed, books, maker, connect } = setup();
  const params = [
    { nSigFigs: null, mantissa: null, nLevels: 1 },
    { nSigFigs: null, mantissa: null, nLevels: 2 },
    { nSigFigs: null, mantissa: null, nLevels: 20 },
    { nSigFigs: 2, mantissa: null, nLevels: 1 },
    { nSigFigs: 3, mantissa: null, nLevels: 5 },
    { nSigFigs: 5, mantissa: null, nLevels: 5 },
    { nSigFigs: 5, mantissa: 2, nLevels: 5 },
    { nSigFigs: 5, mantissa: 5, nLevels: 3 },
  ];
  const sinks = params.map((p) => connect({ type: "l2Book", coin: "BTC", ...p })[1]);
  let seed = 3;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const counts = params.map(() => 0);
  const last = params.map((p) => referenceLevelsJson(books, "BTC", p));
  for (let b = 0; b < 60; b++) {
    const btc = [...maker.resting].filter(([, o]) => o.coin === "BTC");
    if (rand() < 0.6 || btc.length < 4) {
      const bid = rand() < 0.5;
      // Prices with cents so that 5 significant figures with mantissa 2 or 5 make buckets of their own.
      const cents = Math.floor(rand() * 600);
      const px = bid ? 9500 + cents : 10100 + cents;
      maker.place(
        "BTC",
        bid ? "B" : "A",
        `${Math.floor(px / 100)}.${String(px % 100).padStart(2, "0")}`,
        "1.0",
      );
    } else maker.cancel(btc[Math.floor(rand() * btc.length)][0]);
    feed.block(books, maker.apply());
    params.forEach((p, i) => {
      const expected = referenceLevelsJson(books, "BTC", p);
      const texts = sinks[i].sent.splice(0);
      if (texts.length > 0) counts[i]++;
      for (const text of texts) last[i] = JSON.stringify(JSON.parse(text).data.levels);
      // Every subscriber always holds exactly the current view: nothing missed, nothing extra.
      assert.equal(last[i], expected);
      assert.ok(texts.length <= 1);
    });
  }
  // The one-level view changes less often than the 20-level one.
  assert.ok(counts[0] < counts[2], `${counts}`);
});

Deno.test("a book re-loaded from a snapshot (no block time) is served with the last known block time", () => {
  const { feed, books, connect } = setup();
  const [, sink] = connect({ type: "l2Book", coin: "BTC" }, { type: "l4Book", coin: "BTC" });
  const reloaded = Books.fromSnapshot(books.toSnapshot());
  assert.equal(reloaded.time, 0);
  feed.reset(reloaded);
  const [l2, l4] = sink.sent.map((text) => JSON.parse(text));
  assert.equal(l2.data.time, books.time);
  assert.equal(l4.data.Snapshot.time, books.time);
  assert.equal(feed.status().time, books.time);
});

Deno.test("allMids is per dex: the main dex has no builder-dex coins, a builder dex only its own", () => {
  const { feed, books, maker, connect } = setup();
  const [, main] = connect({ type: "allMids" });
  const [, xyz] = connect({ type: "allMids", dex: "xyz" });
  const [, xy] = connect({ type: "allMids", dex: "xy" });
  maker.place("xyz:GOLD", "B", "2000.0", "1.0");
  maker.place("xyz:GOLD", "A", "2001.0", "1.0");
  maker.place("BTC", "B", "100.5", "1.0");
  feed.block(books, maker.apply());
  const mids = (sink: FakeSink) => JSON.parse(sink.sent.at(-1) ?? "{}").data?.mids;
  assert.deepEqual(mids(main), { BTC: "100.75", ETH: "10.5" });
  assert.deepEqual(mids(xyz), { "xyz:GOLD": "2000.5" });
  // "xy" is a prefix of "xyz" but not its dex: its view never had a mid, so it got no message for this block.
  assert.deepEqual(xy.channels(), []);
  const info = (dex: string) => {
    const result = feed.info({ type: "allMids", dex });
    assert.ok(result.ok);
    return JSON.parse(result.json);
  };
  assert.deepEqual(info(""), { BTC: "100.75", ETH: "10.5" });
  assert.deepEqual(info("xyz"), { "xyz:GOLD": "2000.5" });
  assert.deepEqual(info("xy"), {});
});
