/**
 * Section 9, the serving thread while a snapshot loads: hlbook (`main.ts`, a subprocess) bootstraps from a
 * 1 M-order snapshot (200 coins) while a client that connected and subscribed before the load pings it every
 * millisecond — twice: as `deno task start` runs it (the core and the load in a worker, `--edges 1`: the
 * serving thread is the edge's) and with `--edges 0` (core and edge on one thread, as before issue 12). Measured from that client: the longest gap between pongs while the snapshot is requested,
 * streamed and loaded (the serving thread's longest stall, as a client sees it, within the 1 ms ticker's
 * resolution), and how many pongs came back meanwhile. The node's info server holds its answer until the
 * client is subscribed, so the whole load falls in the window; the window ends when the subscribed l2Book
 * view gets its snapshot (the book is live).
 *
 *   deno run -A bench/stall.ts            (BENCH_STALL_ORDERS: orders in the snapshot, default 1,000,000)
 *
 * @module
 */
import { join } from "node:path";
import { emit, fmt, freePort, hlbookArgs, kill, note, sleep, syntheticBook } from "./_common.ts";

const ORDERS = Number(Deno.env.get("BENCH_STALL_ORDERS") ?? 1_000_000);

const tmp = await Deno.makeTempDir({ prefix: "hlbook-bench-stall-" });
const snapshotFile = join(tmp, "prepared.json");
{
  const books = syntheticBook(ORDERS);
  await Deno.writeTextFile(snapshotFile, JSON.stringify(books.toSnapshot()));
}
const size = (await Deno.stat(snapshotFile)).size;
note(`stall: ${fmt(ORDERS, 0)}-order snapshot, ${fmt(size / 1e6, 0)} MB`);

interface Stall {
  readonly longest: number;
  readonly pongs: number;
  readonly seconds: number;
}

/** One load of the snapshot by a fresh hlbook started with `extra` flags, measured from a pinging client. */
async function measure(extra: readonly string[]): Promise<Stall> {
  const dataDir = join(tmp, `data-${extra.join("")}`);
  for (
    const stream of ["node_order_statuses_by_block", "node_raw_book_diffs_by_block", "node_fills_by_block"]
  ) {
    await Deno.mkdir(join(dataDir, stream, "hourly"), { recursive: true });
  }
  // The node's info server: answers the snapshot request (after copying the file where hlbook reads it) only
  // once the client is subscribed.
  const subscribed = Promise.withResolvers<void>();
  let requestedAt = 0;
  const info = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const body = await request.json();
    await subscribed.promise;
    requestedAt = performance.now();
    await Deno.copyFile(snapshotFile, body.outPath);
    return new Response("null", { headers: { "content-type": "application/json" } });
  });

  const port = freePort();
  const child = new Deno.Command("deno", {
    args: hlbookArgs(
      { dataDir, infoPort: info.addr.port, snapshotPath: join(tmp, "snapshot.json"), port },
      { extra: ["--max-messages-per-minute", "1000000", ...extra] },
    ),
    stdout: "null",
    stderr: "inherit",
  }).spawn();

  let socket: WebSocket | null = null;
  let pinger: ReturnType<typeof setInterval> | undefined;
  try {
    let up = false;
    for (let i = 0; i < 300 && !up; i++) {
      up = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.body?.cancel(), () => null) !== null;
      if (!up) await sleep(100);
    }
    if (!up) throw new Error("hlbook did not answer /health within 30 s");
    const pongs: number[] = [];
    const live = Promise.withResolvers<number>();
    const ws = socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    ws.onmessage = (event) => {
      const text = String(event.data);
      if (text === '{"channel":"pong"}') pongs.push(performance.now());
      else if (text.startsWith('{"channel":"l2Book"')) live.resolve(performance.now());
      else if (text.startsWith('{"channel":"subscriptionResponse"')) subscribed.resolve();
    };
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    pinger = setInterval(() => ws.send('{"method":"ping"}'), 1);
    ws.send(JSON.stringify({ method: "subscribe", subscription: { type: "l2Book", coin: "COIN0" } }));
    const liveAt = await Promise.race([live.promise, sleep(170_000).then(() => NaN)]);
    if (Number.isNaN(liveAt)) throw new Error("the book did not go live within 170 s");
    await sleep(200);
    clearInterval(pinger);
    const from = requestedAt;
    const during = pongs.filter((t) => t >= from && t <= liveAt + 200);
    let longest = 0;
    let last = from;
    for (const t of during) {
      longest = Math.max(longest, t - last);
      last = t;
    }
    longest = Math.max(longest, liveAt - last);
    const seconds = (liveAt - from) / 1000;
    note(
      `  ${extra.join(" ") || "default"}: loaded in ${seconds.toFixed(2)} s; ${
        fmt(during.length, 0)
      } pongs meanwhile, longest gap ${longest.toFixed(1)} ms`,
    );
    return { longest, pongs: during.length, seconds };
  } finally {
    clearInterval(pinger);
    socket?.close();
    kill(child);
    await child.status.catch(() => {});
    await info.shutdown();
  }
}

let rows;
try {
  const worker = await measure(["--edges", "1"]);
  const single = await measure(["--edges", "0"]);
  rows = [
    {
      section: "9 serving stall",
      figure: `longest gap between pongs (1 ms pings) while a ${
        fmt(ORDERS, 0)
      }-order snapshot loads (core in a worker, --edges 1)`,
      target: "≤ 20 ms",
      measured: `${worker.longest.toFixed(1)} ms`,
      pass: worker.longest <= 20,
      value: worker.longest,
    },
    {
      section: "9 serving stall",
      figure: "  pongs received during the load (request → book live)",
      target: "throughout",
      measured: `${fmt(worker.pongs, 0)} in ${worker.seconds.toFixed(2)} s`,
      pass: null,
      value: worker.pongs,
    },
    {
      section: "9 serving stall",
      figure: "  the same with --edges 0 (core and edge on one thread)",
      target: "—",
      measured: `${single.longest.toFixed(1)} ms; ${fmt(single.pongs, 0)} pongs in ${
        single.seconds.toFixed(2)
      } s`,
      pass: null,
      value: single.longest,
    },
  ];
} finally {
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
emit(rows);
Deno.exit(0);
