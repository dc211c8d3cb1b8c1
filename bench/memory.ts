/**
 * Section 4, memory and start-up (run with `--v8-flags=--expose-gc`):
 * - heap per resting order of a 1 M-order book (200 coins × 5,000 orders, 5,000 users, half with a cloid),
 *   built through `applyBlock` in chunks so no snapshot copy is alive when measured;
 * - loading its snapshot (1 M orders): `Books.loadSnapshot` driven with awaits, and the real client path
 *   (`requestSnapshot`: info request → the file read and loaded as it streams, `readSnapshot` →
 *   `Books.startLoad`), each with a 1 ms `setInterval` ticker recording the longest event-loop block;
 * - the process's RSS after the client-path load, beside its live heap (`heapUsed` after two GCs).
 *
 * @module
 */
import { join } from "node:path";
import { Books, type SnapshotFile } from "../src/book/mod.ts";
import { requestSnapshot } from "../src/ingest/mod.ts";
import { cpuSeconds, emit, fmt, heapMeter, note, syntheticBook } from "./_common.ts";

const heap = heapMeter();

const N = 1_000_000;
const m0 = heap();
let books: Books | null = syntheticBook(N);
const m1 = heap();
const perOrder = (m1 - m0) / books.orderCount();
note(`memory: ${fmt(books.orderCount(), 0)} orders, ${perOrder.toFixed(0)} B/order`);

let snapshot: SnapshotFile | null = books.toSnapshot();
books = null;

/**
 * Runs `work` with a 1 ms ticker; returns its seconds, the longest gap between ticks (ms) and the process's CPU
 * seconds meanwhile (all threads: GC helpers included).
 */
async function ticking(
  work: () => Promise<unknown>,
): Promise<{ seconds: number; maxGap: number; cpu: number }> {
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  last = performance.now();
  maxGap = 0;
  const t0 = performance.now();
  const cpu0 = cpuSeconds();
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  maxGap = Math.max(maxGap, performance.now() - last);
  return { seconds: (performance.now() - t0) / 1000, maxGap, cpu: cpuSeconds() - cpu0 };
}

const direct = await ticking(async () => {
  const loading = Books.loadSnapshot(snapshot as SnapshotFile);
  for (;;) {
    const step = loading.next();
    if (step.done) return step.value;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
});
note(`  Books.loadSnapshot: ${direct.seconds.toFixed(2)} s, longest block ${direct.maxGap.toFixed(0)} ms`);

const tmp = await Deno.makeTempDir({ prefix: "hlbook-bench-snap-" });
const file = join(tmp, "snapshot.json");
await Deno.writeTextFile(file, JSON.stringify(snapshot));
const size = (await Deno.stat(file)).size;
snapshot = null;
heap();
// the node's info server: the file is already written, answer 200 like the node does
const info = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
  await request.text();
  return new Response("null", { headers: { "content-type": "application/json" } });
});
let client: { seconds: number; maxGap: number; cpu: number };
let loaded: Books | null = null;
try {
  client = await ticking(async () => {
    loaded = await requestSnapshot({
      infoUrl: `http://127.0.0.1:${info.addr.port}/info`,
      snapshotPath: file,
    });
  });
} finally {
  await info.shutdown();
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
note(
  `  snapshot client path (${fmt(size / 1e6, 0)} MB file): ${client.seconds.toFixed(2)} s, longest block ${
    client.maxGap.toFixed(0)
  } ms, ${client.cpu.toFixed(2)} s CPU (load average ${Deno.loadavg()[0].toFixed(1)})`,
);

const liveHeap = heap();
const rss = Deno.memoryUsage().rss;
const loadedOrders = (loaded as Books | null)?.orderCount() ?? 0;
note(
  `  after the client-path load: RSS ${fmt(rss / 2 ** 20, 0)} MiB, live heap ${
    fmt(liveHeap / 2 ** 20, 0)
  } MiB`,
);

emit([
  {
    section: "4 memory",
    figure: "heap per resting order, 1 M orders (200 coins, half with cloid)",
    target: "≤ 300 B",
    measured: `${perOrder.toFixed(0)} B`,
    pass: perOrder <= 300,
    value: perOrder,
  },
  {
    section: "4 memory",
    figure: `RSS after the client-path load (${fmt(loadedOrders, 0)} orders) vs live heap`,
    target: "≤ 2 × live heap",
    measured: `${fmt(rss / 2 ** 20, 0)} MiB RSS, ${fmt(liveHeap / 2 ** 20, 0)} MiB heap (${
      (rss / liveHeap).toFixed(2)
    }×)`,
    pass: rss <= 2 * liveHeap,
    value: rss,
  },
  {
    section: "4 start-up",
    figure: `snapshot load, 1 M orders: request → ${
      fmt(size / 1e6, 0)
    } MB file streamed → loaded (client path)`,
    target: "≤ 3 s",
    measured: `${direct.seconds > 0 ? client.seconds.toFixed(2) : "?"} s`,
    pass: client.seconds <= 3,
    value: client.seconds,
  },
  {
    section: "4 start-up",
    figure: "  longest event-loop block during it (1 ms ticker)",
    target: "≤ 50 ms",
    measured: `${client.maxGap.toFixed(0)} ms`,
    pass: client.maxGap <= 50,
    value: client.maxGap,
  },
  {
    section: "4 start-up",
    figure:
      "  CPU seconds of the process during it (all threads; on a busy machine wall time is mostly waiting)",
    target: "—",
    measured: `${client.cpu.toFixed(2)} s`,
    pass: null,
    value: client.cpu,
  },
  {
    section: "4 start-up",
    figure: "Books.loadSnapshot alone (parsed file in memory), with awaits",
    target: "≤ 3 s",
    measured: `${direct.seconds.toFixed(2)} s`,
    pass: direct.seconds <= 3,
    value: direct.seconds,
  },
  {
    section: "4 start-up",
    figure: "  longest event-loop block during it",
    target: "≤ 50 ms",
    measured: `${direct.maxGap.toFixed(0)} ms`,
    pass: direct.maxGap <= 50,
    value: direct.maxGap,
  },
], { perOrder, direct, client, size, rss, liveHeap });
