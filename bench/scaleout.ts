/**
 * Section 10, scale-out over NATS (issue 13), three figures in one run:
 *
 * 1. Block-to-client latency (`_latency.ts`: this process writes the 1×-load blocks at 15 blocks/s, 1,000
 *    clients of l2Book + trades + bbo) against `--role all` and then against `--role core` → a real
 *    `nats-server -js` → `--role edge`, same files, clients and blocks; target: NATS p99 ≤ 1.5 × `--role all`.
 * 2. The stream's bytes per block during the NATS leg (what the clients' 600 views cost JetStream).
 * 3. Messages per second one edge takes in, fed by NATS (a core link publishing, an edge subscribed, one
 *    client) and fed by the worker transport (a `LinkedFeed` on a `MessagePort`), both driven from this
 *    thread, which also pays the sending side: a comparison of the two transports, not an edge's ceiling.
 *
 * @module
 */
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { emit, fmt, freePort, generate, hlbookArgs, kill, note, type Row, sleep } from "./_common.ts";
import {
  type ClientRun,
  health,
  loadBlockLines,
  measure,
  NodeWriter,
  snapshotServer,
  summary,
} from "./_latency.ts";
import type { ClientSink } from "../src/feed/mod.ts";
import type { CoreBatch, CoreToEdge, EdgeToCore } from "../src/link/mod.ts";
import { LinkedFeed } from "../src/feed/mod.ts";
import { Metrics } from "../src/metrics.ts";
import { NatsCoreLink } from "../src/scaleout/core_link.ts";
import { NatsEdge } from "../src/scaleout/edge_link.ts";
import { STREAM } from "../src/scaleout/wire.ts";

const CLIENTS = Number(Deno.env.get("BENCH_CLIENTS") ?? 1000);
const BLOCKS = Number(Deno.env.get("BENCH_SCALEOUT_BLOCKS") ?? 150);
const MESSAGES = Number(Deno.env.get("BENCH_SCALEOUT_MESSAGES") ?? 20_000);
const LOAD = 1;
const SECTION = "10 scale-out";

const { dir, meta } = await generate(LOAD);
const blocks = await loadBlockLines(dir);
note(
  `scaleout: ${meta.blocks} blocks at ${LOAD}× load, ${CLIENTS} clients, ${BLOCKS} measured blocks per leg`,
);

/** A `nats-server -js` on a free loopback port with a temporary store. */
async function startNats(store: string): Promise<{ child: Deno.ChildProcess; url: string }> {
  const port = freePort();
  const child = new Deno.Command("nats-server", {
    args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `nats://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { child, url };
    } catch {
      await sleep(100);
    }
  }
  kill(child);
  throw new Error("nats-server did not start");
}

async function waitReady(port: number, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await health(port))?.ready === true) return;
    await sleep(100);
  }
  throw new Error(`${what} not ready after 60 s`);
}

/** One latency leg: `--role all`, or a core and an edge over NATS (`nats`). */
async function latencyLeg(nats: boolean): Promise<{ run: ClientRun; streamBytes: number | null }> {
  const tmp = await Deno.makeTempDir({ prefix: "hlbook-bench-scaleout-" });
  const dataDir = join(tmp, "data");
  await Deno.mkdir(dataDir);
  const writer = new NodeWriter(dataDir, blocks, meta);
  const info = snapshotServer(dir, writer);
  const children: Deno.ChildProcess[] = [];
  const held: { nc: NatsConnection | null } = { nc: null };
  try {
    const node = { dataDir, infoPort: info.addr.port, snapshotPath: join(tmp, "snapshot.json") };
    const corePort = freePort();
    let servePort = corePort;
    let url = "";
    if (nats) {
      const server = await startNats(join(tmp, "nats"));
      children.push(server.child);
      url = server.url;
      servePort = freePort();
    }
    writer.write(); // the node is running before hlbook starts
    const spawn = (port: number, extra: string[]) =>
      children.push(
        new Deno.Command("deno", {
          args: hlbookArgs({ ...node, port }, { extra }),
          stdout: "null",
          stderr: "inherit",
        }).spawn(),
      );
    spawn(corePort, nats ? ["--role", "core", "--nats", url] : []);
    if (nats) spawn(servePort, ["--role", "edge", "--nats", url]);
    for (let i = 0; i < 300 && (await health(servePort)) === null; i++) await sleep(100);
    await writer.run(9);
    await waitReady(corePort, nats ? "the core" : "hlbook");
    if (nats) await waitReady(servePort, "the edge");
    note(`    ${nats ? "core + edge over NATS" : "--role all"} ready at block ${writer.next}`);
    const lastHeight = meta.startHeight + Math.min(meta.blocks, writer.next + BLOCKS);
    const stored = async () => {
      held.nc ??= await connect({ servers: url });
      return (await (await jetstreamManager(held.nc)).streams.info(STREAM)).state.bytes;
    };
    const run = await measure(`ws://127.0.0.1:${servePort}/ws`, writer, {
      clients: CLIENTS,
      blocks: BLOCKS,
      tmp,
      drained: async () => {
        for (let i = 0; i < 300; i++) {
          if (((await health(servePort))?.height ?? 0) >= lastHeight) return;
          await sleep(100);
        }
      },
    });
    // The views are watched from the clients' subscribes on, just before the measured blocks: what the stream
    // holds is theirs (and the few blocks while the clients stopped).
    return { run, streamBytes: nats ? await stored() : null };
  } finally {
    writer.close();
    await held.nc?.close();
    for (const child of children.reverse()) {
      kill(child);
      await child.status.catch(() => {});
    }
    await info.shutdown();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** An l2Book-sized message (~1.5 kB) of the view the throughput legs feed. */
const KEY = "l2Book\u0000BTC\u0000null\u0000null\u000020";
const TEXT = `{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[${
  Array.from({ length: 2 }, () =>
    `[${
      Array.from({ length: 20 }, (_, i) =>
        `{"px":"${100000 + i}.5","sz":"0.${i}1234","n":${i}}`).join(",")
    }]`)
    .join(",")
}]}}`;
const SUBSCRIBE = JSON.stringify({ method: "subscribe", subscription: { type: "l2Book", coin: "BTC" } });

/** A client that counts what it is sent; resolves `done` at `count` messages. */
function countingSink(count: number): { sink: ClientSink; done: Promise<number>; got: () => number } {
  let got = 0;
  const done = Promise.withResolvers<number>();
  const sink: ClientSink = {
    send: () => {
      if (++got === count) done.resolve(performance.now());
    },
    bufferedAmount: 0,
    close: () => {},
  };
  return { sink, done: done.promise, got: () => got };
}

const LIMITS = { maxSubscriptions: 10, maxBuffered: 1 << 30 };

/** Messages per second one edge took in from the worker transport (a `MessagePort`). */
async function portThroughput(): Promise<number> {
  const channel = new MessageChannel();
  const feed = new LinkedFeed({ metrics: new Metrics() });
  feed.link(channel.port2);
  // The core's end: answers the snapshot request with one message.
  channel.port1.onmessage = (event: MessageEvent<EdgeToCore>) => {
    const m = event.data;
    if (m.kind === "snapshot") {
      const reply: CoreBatch = {
        at: performance.timeOrigin + performance.now(),
        messages: [{ kind: "snapshotReply", id: m.id, key: m.key, height: 0, texts: [TEXT] }],
      };
      channel.port1.postMessage(reply);
    }
  };
  // subscription response + snapshot + the messages
  const counter = countingSink(MESSAGES + 2);
  const client = feed.attach(counter.sink, LIMITS);
  feed.handle(client, SUBSCRIBE);
  while (counter.got() < 2) await sleep(5);
  const t0 = performance.now();
  for (let h = 1; h <= MESSAGES; h++) {
    const output: CoreToEdge = {
      kind: "block",
      height: h,
      time: h,
      views: [[KEY, TEXT]],
      l4: [],
      queued: [],
    };
    const batch: CoreBatch = { at: performance.timeOrigin + performance.now(), messages: [output] };
    channel.port1.postMessage(batch);
  }
  const t1 = await counter.done;
  channel.port1.close();
  channel.port2.close();
  return MESSAGES / ((t1 - t0) / 1000);
}

/** Messages per second one edge took in over NATS (a core link publishing, the edge subscribed). */
async function natsThroughput(): Promise<number> {
  const store = await Deno.makeTempDir({ prefix: "hlbook-bench-nats-" });
  const server = await startNats(store);
  const publisher = await connect({ servers: server.url });
  const subscriber = await connect({ servers: server.url });
  const metrics = new Metrics();
  const link = new NatsCoreLink({
    nc: publisher,
    id: "bench-core",
    metrics,
    retention: { maxAgeMs: 600_000, maxBytes: 1 << 30 },
  });
  const edge = new NatsEdge({ nc: subscriber, metrics, id: "bench-edge" });
  try {
    await link.start({
      receive: (m) => {
        if (m.kind === "snapshot") {
          link.emit({ kind: "snapshotReply", id: m.id, key: m.key, height: 0, texts: [TEXT] });
        }
      },
    });
    while (!link.publishing) await sleep(10);
    await edge.start();
    const counter = countingSink(MESSAGES + 2);
    const client = edge.attach(counter.sink, LIMITS);
    edge.handle(client, SUBSCRIBE);
    while (counter.got() < 2) await sleep(5);
    const t0 = performance.now();
    for (let h = 1; h <= MESSAGES; h++) {
      link.emit({ kind: "block", height: h, time: h, views: [[KEY, TEXT]], l4: [], queued: [] });
      // Let the edge's reads in now and then: both ends share this thread.
      if (h % 500 === 0) await sleep(0);
    }
    const t1 = await Promise.race([counter.done, sleep(60_000).then(() => NaN)]);
    return MESSAGES / ((t1 - t0) / 1000);
  } finally {
    await edge.close();
    await link.close();
    await publisher.close();
    await subscriber.close();
    kill(server.child);
    await server.child.status.catch(() => {});
    await Deno.remove(store, { recursive: true }).catch(() => {});
  }
}

note("  --role all…");
const all = await latencyLeg(false);
const a = summary(all.run);
note(`    p50 ${fmt(a.p50, 1)} p99 ${fmt(a.p99, 1)} max ${fmt(a.max, 1)} ms over ${all.run.measured} blocks`);
note("  core → nats-server → edge…");
const viaNats = await latencyLeg(true);
const n = summary(viaNats.run);
note(
  `    p50 ${fmt(n.p50, 1)} p99 ${fmt(n.p99, 1)} max ${fmt(n.max, 1)} ms over ${viaNats.run.measured} blocks`,
);
const bytesPerBlock = (viaNats.streamBytes ?? 0) / viaNats.run.measured;
note("  one edge's intake: worker transport, then NATS…");
const port = await portThroughput();
const natsRate = await natsThroughput();
note(`    ${fmt(port, 0)} vs ${fmt(natsRate, 0)} messages/s`);

const ratio = n.p99 / a.p99;
const ms = (x: number) => `${fmt(x, 1)} ms`;
const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
const rows: Row[] = [
  {
    section: SECTION,
    figure: `core → nats-server → edge → client p50 / p99, ${CLIENTS} clients, 15 blocks/s at ${LOAD}× load`,
    target: "—",
    measured: `${ms(n.p50)} / ${ms(n.p99)}`,
    pass: null,
    value: n.p99,
  },
  {
    section: SECTION,
    figure: "--role all p50 / p99 (same clients, files, blocks)",
    target: "—",
    measured: `${ms(a.p50)} / ${ms(a.p99)}`,
    pass: null,
    value: a.p99,
  },
  {
    section: SECTION,
    figure: "NATS p99 ÷ --role all p99",
    target: "≤ 1.5",
    measured: fmt(ratio, 2),
    pass: ratio <= 1.5,
    value: ratio,
  },
  {
    section: SECTION,
    figure: `stream bytes per block at ${LOAD}× load (${CLIENTS} clients' views)`,
    target: "—",
    measured: `${fmt(bytesPerBlock / 1024, 1)} KiB`,
    pass: null,
    value: bytesPerBlock,
  },
  {
    section: SECTION,
    figure: "one edge's intake, messages/s: NATS vs worker transport (1.5 kB, sender on the same thread)",
    target: "—",
    measured: `${fmt(natsRate, 0)} vs ${fmt(port, 0)}`,
    pass: null,
    value: natsRate,
  },
];
emit(rows, {
  all: { ...a, samples: all.run.latencies.length, blocks: all.run.measured, stats: all.run.stats },
  nats: {
    ...n,
    samples: viaNats.run.latencies.length,
    blocks: viaNats.run.measured,
    stats: viaNats.run.stats,
  },
  streamBytes: viaNats.streamBytes,
  intake: { nats: natsRate, port },
  loadavg: load,
});
