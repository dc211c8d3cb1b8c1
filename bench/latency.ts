/**
 * Section 2, latency: this process plays the node, writing the cached 10×-load blocks (fills, diffs, statuses
 * lines) at 15 blocks/s into a fresh data dir and recording the instant each block's last line was written;
 * 1,000 WebSocket clients in a subprocess (`clients.ts`, l2Book + trades + bbo for coin i mod 200) record
 * when each message arrives. Latency = receipt − write instant of the block whose time the message carries.
 * Run against hlbook (`main.ts` as a subprocess, snapshots from this process's info endpoint) and against
 * `baseline_server.ts` (the runtime's floor), with the same clients and blocks.
 *
 * @module
 */
import { join } from "node:path";
import { emit, fmt, freePort, generate, hlbookArgs, kill, median, note, type Row, sleep } from "./_common.ts";
import { type ClientRun, loadBlockLines, measure, NodeWriter, snapshotServer, summary } from "./_latency.ts";

const CLIENTS = Number(Deno.env.get("BENCH_CLIENTS") ?? 1000);
const MEASURE_BLOCKS = Number(Deno.env.get("BENCH_LATENCY_BLOCKS") ?? 150);
/** Longest wait for hlbook to apply the last written block before the clients stop. */
const DRAIN_SECONDS = Number(Deno.env.get("BENCH_DRAIN_SECONDS") ?? 30);
/** Simulator load (10 = the issue's 10× mainnet; `--load 1` for mainnet-like flow). */
const LOAD = Number(Deno.args[Deno.args.indexOf("--load") + 1] ?? 10) || 10;
/** Issue 12: hlbook p99 ÷ baseline p99 ≤ 1.15 at mainnet-like load, ≤ 1.3 at 10×. */
const RATIO_TARGET = LOAD >= 10 ? 1.3 : 1.15;
/** hlbook's `--edges` (unset: its default; `0`: core and edge on one thread, as before issue 12). */
const EDGES = Deno.env.get("BENCH_LATENCY_EDGES");

const { dir, meta } = await generate(LOAD);
const here = new URL(".", import.meta.url).pathname;

const blockLines = await loadBlockLines(dir);
note(
  `latency: ${meta.blocks} blocks loaded, ${CLIENTS} clients, ${MEASURE_BLOCKS} measured blocks per server`,
);

/** Median time to JSON.parse one block's diffs + statuses lines (what any reader must at least do). */
function parseCost(): number {
  const costs: number[] = [];
  const decoder = new TextDecoder();
  for (let i = 0; i < 9; i++) {
    const texts = [decoder.decode(blockLines[1][i].bytes), decoder.decode(blockLines[2][i].bytes)];
    const t0 = performance.now();
    for (const text of texts) JSON.parse(text);
    costs.push(performance.now() - t0);
  }
  return median(costs);
}

/** Means per block of hlbook's own histograms, read from its `/metrics` after the run. */
let inside = { fanoutMs: NaN, holdMs: NaN, linkMs: NaN, edgeOutputMs: NaN };

async function runHlbook(): Promise<ClientRun> {
  const tmp = await Deno.makeTempDir({ prefix: "hlbook-bench-lat-" });
  const dataDir = join(tmp, "data");
  await Deno.mkdir(dataDir);
  const writer = new NodeWriter(dataDir, blockLines, meta);
  const info = snapshotServer(dir, writer);
  const port = freePort();
  const profile = Deno.env.get("BENCH_HLBOOK_PROFILE"); // a dir: CPU profile of hlbook
  const args = hlbookArgs(
    { dataDir, infoPort: info.addr.port, snapshotPath: join(tmp, "snapshot.json"), port },
    {
      denoFlags: profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`, "--allow-write"] : [],
      extra: EDGES === undefined ? [] : ["--edges", EDGES],
    },
  );
  let child: Deno.ChildProcess | null = null;
  try {
    writer.write(); // the node is running before hlbook starts
    child = new Deno.Command("deno", { args, stdout: "null", stderr: "inherit" }).spawn();
    const health = async () => {
      try {
        return await (await fetch(`http://127.0.0.1:${port}/health`)).json();
      } catch {
        return null;
      }
    };
    for (let i = 0; i < 300 && (await health()) === null; i++) await sleep(100);
    await sleep(300);
    // A few blocks so hlbook has lines to align, then hold the node until the book is live (the snapshot of
    // the last written block is served), so the start-up does not eat into the measured blocks.
    await writer.run(9);
    let ready = false;
    for (let i = 0; i < 600 && !ready; i++) {
      ready = (await health())?.ready === true;
      if (!ready) await sleep(100);
    }
    if (!ready) throw new Error(`hlbook not ready after ${writer.next} blocks and 60 s`);
    note(`    hlbook ready at block ${writer.next}; connecting clients (node paused)`);
    const lastHeight = meta.startHeight + Math.min(meta.blocks, writer.next + MEASURE_BLOCKS);
    const caughtUp = async () => {
      // wait (bounded) until hlbook applied the last written block, so late messages are counted
      for (let i = 0; i < DRAIN_SECONDS * 10; i++) {
        const h = await health();
        if (h && h.height >= lastHeight) return;
        await sleep(100);
      }
    };
    const result = await measure(`ws://127.0.0.1:${port}/ws`, writer, {
      clients: CLIENTS,
      blocks: MEASURE_BLOCKS,
      tmp,
      drained: caughtUp,
    });
    // Where a block's time goes inside hlbook (whole-process figures: the core's and the edges').
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text().catch(() => "");
    const mean = (name: string) => {
      const sum = Number(new RegExp(`^${name}_sum (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
      const count = Number(new RegExp(`^${name}_count (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
      return sum / count;
    };
    inside = {
      fanoutMs: mean("hlbook_fanout_ms"),
      holdMs: mean("hlbook_core_hold_ms"),
      linkMs: mean("hlbook_link_ms"),
      edgeOutputMs: mean("hlbook_edge_output_ms"),
    };
    note(
      `    inside hlbook, means per block: views ${inside.fanoutMs.toFixed(2)} ms, held ${
        inside.holdMs.toFixed(2)
      } ms, core → edge ${inside.linkMs.toFixed(2)} ms, edge → sockets ${inside.edgeOutputMs.toFixed(2)} ms`,
    );
    return result;
  } finally {
    writer.close();
    if (child && profile) {
      // a graceful stop writes the profile
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      await Promise.race([child.status, sleep(15_000)]);
    }
    kill(child);
    await child?.status.catch(() => {});
    await info.shutdown();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

async function runBaseline(
  sizes: Record<string, number>,
  shares: Record<string, number>,
): Promise<ClientRun> {
  const tmp = await Deno.makeTempDir({ prefix: "hlbook-bench-base-" });
  const dataDir = join(tmp, "data");
  await Deno.mkdir(dataDir);
  const writer = new NodeWriter(dataDir, blockLines, meta);
  const port = freePort();
  const args = [
    "run",
    "--allow-net",
    "--allow-read",
    join(here, "baseline_server.ts"),
    "--port",
    String(port),
    "--data-dir",
    dataDir,
    "--sizes",
    JSON.stringify(sizes),
    "--shares",
    JSON.stringify(shares),
  ];
  let child: Deno.ChildProcess | null = null;
  try {
    child = new Deno.Command("deno", { args, stdout: "null", stderr: "inherit" }).spawn();
    for (let i = 0; i < 100; i++) {
      try {
        await (await fetch(`http://127.0.0.1:${port}/`)).text();
        break;
      } catch {
        await sleep(100);
      }
    }
    writer.next = Math.max(0, meta.blocks - MEASURE_BLOCKS - 1);
    writer.write();
    return await measure(`ws://127.0.0.1:${port}/ws`, writer, {
      clients: CLIENTS,
      blocks: MEASURE_BLOCKS,
      tmp,
      drained: () => sleep(0),
    });
  } finally {
    writer.close();
    kill(child);
    await child?.status.catch(() => {});
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

const parseMs = parseCost();
note(`  one block's diffs+statuses lines: bare JSON.parse ${parseMs.toFixed(1)} ms (median of 9)`);
note("  hlbook…");
const hl = await runHlbook();
const sizes: Record<string, number> = {};
const shares: Record<string, number> = {};
for (const [channel, total] of Object.entries(hl.stats.bytes)) {
  sizes[channel] = Math.round(total / hl.stats.messages[channel]);
  // subscriptions per channel = CLIENTS (one of each channel per client)
  shares[channel] = Math.min(1, hl.stats.messages[channel] / (hl.measured * CLIENTS));
}
const h = summary(hl);
note(
  `    ${hl.latencies.length} samples over ${hl.measured} blocks: p50 ${h.p50.toFixed(1)} p99 ${
    h.p99.toFixed(1)
  } max ${h.max.toFixed(1)} ms; ${JSON.stringify(hl.stats.messages)}`,
);
note(`  baseline (sizes ${JSON.stringify(sizes)}, shares ${JSON.stringify(shares)})…`);
const bl = await runBaseline(sizes, shares);
const b = summary(bl);
note(
  `    ${bl.latencies.length} samples over ${bl.measured} blocks: p50 ${b.p50.toFixed(1)} p99 ${
    b.p99.toFixed(1)
  } max ${b.max.toFixed(1)} ms; ${JSON.stringify(bl.stats.messages)}`,
);
const ratio = h.p99 / b.p99;
const ms = (x: number) => `${fmt(x, 1)} ms`;
const rows: Row[] = [
  {
    section: `2 latency ${LOAD}×`,
    figure: `hlbook p50, ${CLIENTS} clients (l2Book+trades+bbo), 15 blocks/s at ${LOAD}× load${
      EDGES === undefined ? "" : `, --edges ${EDGES}`
    }`,
    target: "≤ 5 ms",
    measured: ms(h.p50),
    pass: h.p50 <= 5,
    value: h.p50,
  },
  {
    section: `2 latency ${LOAD}×`,
    figure: "hlbook p99",
    target: "≤ 25 ms",
    measured: ms(h.p99),
    pass: h.p99 <= 25,
    value: h.p99,
  },
  {
    section: `2 latency ${LOAD}×`,
    figure: "hlbook max",
    target: "—",
    measured: ms(h.max),
    pass: null,
    value: h.max,
  },
  {
    section: `2 latency ${LOAD}×`,
    figure: "baseline server p50 / p99 / max (same clients, files, message count and sizes)",
    target: "—",
    measured: `${ms(b.p50)} / ${ms(b.p99)} / ${ms(b.max)}`,
    pass: null,
    value: b.p99,
  },
  {
    section: `2 latency ${LOAD}×`,
    figure: "hlbook p99 ÷ baseline p99",
    target: `≤ ${RATIO_TARGET}`,
    measured: fmt(ratio, 2),
    pass: ratio <= RATIO_TARGET,
    value: ratio,
  },
  {
    section: `2 latency ${LOAD}×`,
    figure: "reference: bare JSON.parse of one block's diffs+statuses lines",
    target: "—",
    measured: ms(parseMs),
    pass: null,
    value: parseMs,
  },
];
emit(rows, {
  hlbook: { ...h, samples: hl.latencies.length, blocks: hl.measured, stats: hl.stats },
  baseline: { ...b, samples: bl.latencies.length, blocks: bl.measured, stats: bl.stats },
  sizes,
  shares,
  parseMs,
  inside,
});
