/**
 * Section 5, fan-out: `clients.ts` in a subprocess holds 10 k WebSocket connections on one l2Book view, first
 * against a bare broadcast server (the baseline: `Deno.serve` + `upgradeWebSocket`, each block one pre-built
 * string of the size of hlbook's message sent to every socket, as `baseline_server.ts` does), then against
 * hlbook's server and feed, both in this process and driven the same way: blocks that move the top of the
 * book, at most 3 blocks in flight. Measured per leg: messages/s delivered until every connection has every
 * block; for hlbook also the server-side cost of `feed.block` per subscriber per block and its rate as a
 * share of the baseline's. Then the same with the core on this thread and 1, then 2 edge workers sharing the
 * port (`src/workers/edge_worker.ts`, as `--edges N` runs them): each block's output posted once per edge.
 *
 * @module
 */
import { parseConfig } from "../config.ts";
import { Feed } from "../src/feed/mod.ts";
import { Metrics } from "../src/metrics.ts";
import { CoreHub } from "../src/workers/core_hub.ts";
import type { FromEdge, ToEdge } from "../src/workers/control.ts";
import {
  benchServer,
  emit,
  fmt,
  freePort,
  kill,
  lines,
  median,
  note,
  sleep,
  toggleMarket,
} from "./_common.ts";

const CONNECTIONS = Number(Deno.env.get("BENCH_FANOUT_CONNECTIONS") ?? 10_000);
const BLOCKS = 40;
const here = new URL(".", import.meta.url).pathname;

interface Leg {
  readonly connections: number;
  readonly received: number;
  readonly seconds: number;
  /** Milliseconds `block()` took on the server side, per block. */
  readonly perBlock: number[];
}

/** Runs the clients against `port` and calls `block()` for each block, at most 3 in flight. */
async function leg(name: string, port: number, block: () => void): Promise<Leg> {
  const script = [
    `ulimit -n ${CONNECTIONS + 1000} 2>/dev/null || ulimit -n hard;`,
    `exec deno run --allow-net ${here}clients.ts --url ws://127.0.0.1:${port}/ws`,
    `--clients ${CONNECTIONS} --coins BTC --subs l2Book --progress --batch 250 --max-seconds 170`,
  ].join(" ");
  const child = new Deno.Command("sh", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const output = lines(child.stdout);
    const t0 = performance.now();
    const ready = await Promise.race([output.next(), sleep(120_000).then(() => null)]);
    if (!ready || ready.done || !ready.value.startsWith("ready")) {
      throw new Error(`clients: ${JSON.stringify(ready)}`);
    }
    const info = JSON.parse(ready.value.slice(6));
    note(
      `${name}: ${info.clients} connections open and subscribed in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
    );
    const connections = info.clients - info.errors;
    let received = 0;
    void (async () => {
      for await (const line of output) if (line.startsWith("count ")) received = Number(line.slice(6));
    })();
    const perBlock: number[] = [];
    const start = performance.now();
    const deadline = start + 60_000;
    for (let k = 0; k < BLOCKS && performance.now() < deadline; k++) {
      while (received < (k - 3) * connections && performance.now() < deadline) await sleep(1);
      const t1 = performance.now();
      block();
      perBlock.push(performance.now() - t1);
    }
    while (received < BLOCKS * connections && performance.now() < deadline) await sleep(2);
    const seconds = (performance.now() - start) / 1000;
    note(
      `  ${fmt(received, 0)} of ${fmt(BLOCKS * connections, 0)} messages in ${
        seconds.toFixed(2)
      } s; block() median ${median(perBlock).toFixed(1)} ms`,
    );
    return { connections, received, seconds, perBlock };
  } finally {
    kill(child);
    await child.status.catch(() => {});
  }
}

const metrics = new Metrics();
const feed = new Feed({ metrics });
const { books, next } = toggleMarket(66);
feed.reset(books);
feed.state({ phase: "ready", height: books.height, time: books.time });

// The baseline's message has the size of hlbook's l2Book message for this book.
let size = 0;
const probe = feed.attach({
  send: (text) => size = Math.max(size, text.length),
  bufferedAmount: 0,
  close() {},
}, {
  maxSubscriptions: 1,
  maxBuffered: 1 << 30,
});
feed.handle(probe, JSON.stringify({ method: "subscribe", subscription: { type: "l2Book", coin: "BTC" } }));
feed.detach(probe);

const sockets = new Set<WebSocket>();
const baseline = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
  if (request.headers.get("upgrade") !== "websocket") return new Response("baseline");
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data as string);
    if (message.method !== "subscribe") return;
    sockets.add(socket);
    socket.send(JSON.stringify({ channel: "subscriptionResponse", data: message }));
  };
  socket.onclose = () => sockets.delete(socket);
  return response;
});
const head = `{"channel":"l2Book","data":{"coin":"BTC","time":`;
let bare: Leg;
try {
  bare = await leg("baseline", baseline.addr.port, () => {
    const text = `${head}${Date.now()},"pad":"${"x".repeat(Math.max(0, size - head.length - 24))}"}}`;
    for (const socket of sockets) if (socket.readyState === WebSocket.OPEN) socket.send(text);
  });
} finally {
  for (const socket of sockets) socket.close();
  await baseline.shutdown().catch(() => {});
}

const server = benchServer(feed, metrics, CONNECTIONS + 100);
let hlbook: Leg;
try {
  hlbook = await leg("hlbook", server.port, () => {
    const result = books.applyBlock(next());
    if (!result.ok) throw new Error(result.error.message);
    feed.block(books, result.diff);
  });
} finally {
  await server.shutdown().catch(() => {});
}

/** The core on this thread, `edges` edge workers sharing one port; blocks of a fresh market of its own. */
async function edgesLeg(edges: number): Promise<Leg> {
  const port = freePort();
  const flags = [
    ["port", port],
    ["max-connections", CONNECTIONS + 100],
    ["max-subscriptions", 10],
    ["max-buffered", 64 << 20],
    ["max-messages-per-minute", 1_000_000],
    ["max-connections-per-ip", CONNECTIONS + 100],
    ["connection-rate-per-ip", 1_000_000],
    ["max-subscriptions-per-ip", 1_000_000],
    ["max-subscriptions-total", 1_000_000],
    ["max-buffered-per-ip", "64GiB"],
    ["log-level", "warning"],
  ].map(([name, value]) => `--${name}=${value}`);
  const parsed = parseConfig(flags, {});
  if (parsed.kind !== "run") throw new Error("bench config");
  const market = toggleMarket(66);
  const hub = new CoreHub({
    metrics: new Metrics(),
    report: (id) => ({ kind: "report", id, reason: null, metrics: [] }),
  });
  hub.core.reset(market.books);
  hub.core.state({ phase: "ready", height: market.books.height, time: market.books.time });
  const workers: Worker[] = [];
  try {
    for (let edge = 1; edge <= edges; edge++) {
      const worker = new Worker(new URL("../src/workers/edge_worker.ts", import.meta.url), {
        type: "module",
      });
      workers.push(worker);
      const listening = Promise.withResolvers<void>();
      worker.onmessage = (event: MessageEvent<FromEdge>) => {
        if (event.data.kind === "listening") listening.resolve();
        else if (event.data.kind === "failed") listening.reject(new Error(event.data.error));
      };
      worker.postMessage(
        { kind: "start", config: parsed.config, authToken: "", port, edge } satisfies ToEdge,
      );
      await listening.promise;
      const channel = new MessageChannel();
      hub.add(edge, channel.port2);
      worker.postMessage({ kind: "link", port: channel.port1 } satisfies ToEdge, [channel.port1]);
    }
    return await leg(`${edges} edge worker(s)`, port, () => {
      const result = market.books.applyBlock(market.next());
      if (!result.ok) throw new Error(result.error.message);
      hub.core.block(market.books, result.diff);
    });
  } finally {
    for (const worker of workers) worker.terminate();
  }
}

const oneEdge = await edgesLeg(1);
const twoEdges = await edgesLeg(2);

const rate = (l: Leg) => l.received / l.seconds;
const costUs = (median(hlbook.perBlock) * 1000) / hlbook.connections;
const ratio = rate(hlbook) / rate(bare);
const complete = (l: Leg) => l.received >= BLOCKS * l.connections;
emit([
  {
    section: "5 fan-out",
    figure: `messages/s delivered to ${
      fmt(hlbook.connections, 0)
    } connections on one l2Book view (clients in a subprocess)`,
    target: "—",
    measured: `${fmt(rate(hlbook), 0)} msg/s (${fmt(rate(hlbook) / hlbook.connections, 1)} blocks/s to all)`,
    pass: complete(hlbook) ? null : false,
    value: rate(hlbook),
  },
  {
    section: "5 fan-out",
    figure: `  baseline (bare broadcast of a ${size}-character message), same clients`,
    target: "—",
    measured: `${fmt(rate(bare), 0)} msg/s (${fmt(rate(bare) / bare.connections, 1)} blocks/s to all)`,
    pass: complete(bare) ? null : false,
    value: rate(bare),
  },
  {
    section: "5 fan-out",
    figure: "  hlbook ÷ baseline, delivered blocks/s",
    target: "≥ 0.9",
    measured: `${ratio.toFixed(2)}`,
    pass: ratio >= 0.9,
    value: ratio,
  },
  {
    section: "5 fan-out",
    figure: "server cost per subscriber per block (feed.block into real sockets)",
    target: "—",
    measured: `${fmt(costUs, 2)} µs (${fmt(median(hlbook.perBlock), 1)} ms per block)`,
    pass: null,
    value: costUs,
  },
  {
    section: "5 fan-out",
    figure: "  core on its thread, 1 edge worker (as --edges 1)",
    target: "—",
    measured: `${fmt(rate(oneEdge), 0)} msg/s (${
      fmt(rate(oneEdge) / oneEdge.connections, 1)
    } blocks/s to all)`,
    pass: complete(oneEdge) ? null : false,
    value: rate(oneEdge),
  },
  {
    section: "5 fan-out",
    figure:
      `  core on its thread, 2 edge workers sharing the port (as --edges 2), ${navigator.hardwareConcurrency} cores`,
    target: "—",
    measured: `${fmt(rate(twoEdges), 0)} msg/s (${
      fmt(rate(twoEdges) / twoEdges.connections, 1)
    } blocks/s to all)`,
    pass: complete(twoEdges) ? null : false,
    value: rate(twoEdges),
  },
  {
    section: "5 fan-out",
    figure: "  2 edges ÷ 1 edge, delivered messages/s (needs cores for both edges and the clients)",
    target: "≥ 1.5 with the cores",
    measured: `${(rate(twoEdges) / rate(oneEdge)).toFixed(2)}`,
    pass: navigator.hardwareConcurrency >= 4 ? rate(twoEdges) / rate(oneEdge) >= 1.5 : null,
    value: rate(twoEdges) / rate(oneEdge),
  },
], {
  size,
  baseline: { ...bare, perBlock: median(bare.perBlock) },
  hlbook: { ...hlbook, perBlock: median(hlbook.perBlock) },
  oneEdge: { ...oneEdge, perBlock: median(oneEdge.perBlock) },
  twoEdges: { ...twoEdges, perBlock: median(twoEdges.perBlock) },
});
Deno.exit(0);
