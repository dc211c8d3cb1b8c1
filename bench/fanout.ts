/**
 * Section 5, fan-out: hlbook's server and feed in this process, `clients.ts` in a subprocess holding 10 k
 * WebSocket connections on one l2Book view. Blocks that move the top of the book are applied and fanned out
 * (at most 3 blocks in flight); measured: messages/s delivered until every connection has every block, and
 * the server-side cost of `feed.block` per subscriber per block.
 *
 * @module
 */
import { Feed } from "../src/feed/mod.ts";
import { Metrics } from "../src/metrics.ts";
import { benchServer, emit, fmt, kill, lines, median, note, sleep, toggleMarket } from "./_common.ts";

const CONNECTIONS = Number(Deno.env.get("BENCH_FANOUT_CONNECTIONS") ?? 10_000);
const BLOCKS = 40;
const metrics = new Metrics();
const feed = new Feed({ metrics });
const { books, next } = toggleMarket(66);
feed.reset(books);
feed.state({ phase: "ready", height: books.height, time: books.time });
const server = benchServer(feed, metrics, CONNECTIONS + 100);
const here = new URL(".", import.meta.url).pathname;
const script = [
  `ulimit -n ${CONNECTIONS + 1000} 2>/dev/null || ulimit -n hard;`,
  `exec deno run --allow-net ${here}clients.ts --url ws://127.0.0.1:${server.port}/ws`,
  `--clients ${CONNECTIONS} --coins BTC --subs l2Book --progress --batch 250 --max-seconds 170`,
].join(" ");
const child = new Deno.Command("sh", {
  args: ["-c", script],
  stdin: "piped",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
let rows;
try {
  const output = lines(child.stdout);
  const t0 = performance.now();
  const ready = await Promise.race([output.next(), sleep(120_000).then(() => null)]);
  if (!ready || ready.done || !ready.value.startsWith("ready")) {
    throw new Error(`clients: ${JSON.stringify(ready)}`);
  }
  const info = JSON.parse(ready.value.slice(6));
  note(
    `fan-out: ${info.clients} connections open and subscribed in ${
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
    const result = books.applyBlock(next());
    if (!result.ok) throw new Error(result.error.message);
    const t1 = performance.now();
    feed.block(books, result.diff);
    perBlock.push(performance.now() - t1);
  }
  while (received < BLOCKS * connections && performance.now() < deadline) await sleep(2);
  const seconds = (performance.now() - start) / 1000;
  const rate = received / seconds;
  const costUs = (median(perBlock) * 1000) / connections;
  note(
    `  ${fmt(received, 0)} of ${fmt(BLOCKS * connections, 0)} messages in ${
      seconds.toFixed(2)
    } s; feed.block median ${median(perBlock).toFixed(1)} ms`,
  );
  rows = [
    {
      section: "5 fan-out",
      figure: `messages/s delivered to ${
        fmt(connections, 0)
      } connections on one l2Book view (clients in a subprocess)`,
      target: "—",
      measured: `${fmt(rate, 0)} msg/s (${fmt(rate / connections, 1)} blocks/s to all)`,
      pass: received >= BLOCKS * connections ? null : false,
      value: rate,
    },
    {
      section: "5 fan-out",
      figure: "server cost per subscriber per block (feed.block into real sockets)",
      target: "—",
      measured: `${fmt(costUs, 2)} µs (${fmt(median(perBlock), 1)} ms per block)`,
      pass: null,
      value: costUs,
    },
  ];
} finally {
  kill(child);
  await child.status.catch(() => {});
  await server.shutdown().catch(() => {});
}
emit(rows);
Deno.exit(0);
