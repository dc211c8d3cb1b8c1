/**
 * Feed benchmarks (`deno bench --allow-all bench/feed_bench.ts`):
 * - cost of one block's fan-out with 1, 10, 100, 1000 subscribers of the same l2Book view (in-memory sinks):
 *   the difference between rows is the cost per additional subscriber per block;
 * - the same with every subscriber on its own view (nLevels 1..100), the worst case for view computation;
 * - one message to N real WebSocket clients on loopback, until every client has it.
 *
 * @module
 */
import { type ClientSink, Feed } from "../src/feed/mod.ts";
import { Metrics } from "../src/metrics.ts";
import { benchServer, toggleMarket } from "./_common.ts";

class NullSink implements ClientSink {
  bufferedAmount = 0;
  bytes = 0;
  send(text: string): void {
    this.bytes += text.length;
  }
  close(): void {}
}

function fanoutBench(subscribers: number, distinctViews: boolean): () => void {
  const { books, next } = toggleMarket(100);
  const feed = new Feed({ metrics: new Metrics() });
  feed.reset(books);
  for (let i = 0; i < subscribers; i++) {
    const client = feed.attach(new NullSink(), { maxSubscriptions: 10, maxBuffered: 1 << 30 });
    const nLevels = distinctViews ? 1 + (i % 100) : 20;
    feed.handle(
      client,
      JSON.stringify({ method: "subscribe", subscription: { type: "l2Book", coin: "BTC", nLevels } }),
    );
  }
  return () => {
    const result = books.applyBlock(next());
    if (!result.ok) throw new Error(result.error.message);
    feed.block(books, result.diff);
  };
}

for (const n of [1, 10, 100, 1000]) {
  Deno.bench(`block fan-out: ${n} subscribers of one l2Book view`, {
    group: "one view",
    baseline: n === 1,
  }, fanoutBench(n, false));
}
for (const n of [10, 100]) {
  Deno.bench(`block fan-out: ${n} subscribers on ${Math.min(n, 100)} distinct l2Book views`, {
    group: "distinct views",
  }, fanoutBench(n, true));
}

// ---- real sockets ------------------------------------------------------------------------------------

interface SocketRig {
  feed: Feed;
  received: () => number;
  shutdown: () => Promise<void>;
}

async function socketRig(clients: number): Promise<SocketRig> {
  const metrics = new Metrics();
  const feed = new Feed({ metrics });
  const server = benchServer(feed, metrics, clients + 10);
  let received = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < clients; i++) {
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    const subscribed = Promise.withResolvers<void>();
    socket.onmessage = () => subscribed.resolve();
    socket.send('{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}');
    await subscribed.promise;
    socket.onmessage = () => received++;
    sockets.push(socket);
  }
  return {
    feed,
    received: () => received,
    shutdown: async () => {
      for (const socket of sockets) socket.close();
      await server.shutdown();
    },
  };
}

const rigs = new Map<number, Promise<SocketRig>>();
globalThis.addEventListener("unload", () => {
  for (const rig of rigs.values()) rig.then((r) => r.shutdown());
});

const TRADE = {
  coin: "BTC",
  side: "B" as const,
  px: "50000.0",
  sz: "0.1",
  hash: "0x00",
  time: 1_700_000_000_000,
  tid: 1,
  users: ["0x01", "0x02"] as const,
};

for (const n of [10, 100]) {
  Deno.bench(`one trades message to ${n} WebSocket clients, until all received it`, {
    group: "sockets",
  }, async () => {
    if (!rigs.has(n)) rigs.set(n, socketRig(n));
    const rig = await (rigs.get(n) as Promise<SocketRig>);
    const target = rig.received() + n;
    rig.feed.trades([TRADE]);
    while (rig.received() < target) await new Promise((resolve) => setTimeout(resolve, 0));
  });
}
