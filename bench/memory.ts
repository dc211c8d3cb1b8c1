/**
 * Section 4, memory and start-up (run with `--v8-flags=--expose-gc`):
 * - heap per resting order of a 1 M-order book (200 coins × 5,000 orders, 5,000 users, half with a cloid),
 *   built through `applyBlock` in chunks so no snapshot copy is alive when measured;
 * - loading its snapshot (1 M orders): `Books.loadSnapshot` driven with awaits (here), and the real client
 *   path (`requestSnapshot`: info request → the file read and loaded as it streams, `readSnapshot` →
 *   `Books.startLoad`) in a fresh process with `deno task start`'s environment (`memory_load.ts`), each with a
 *   1 ms `setInterval` ticker recording the longest event-loop block;
 * - that process's RSS right after the load, after idling, and over validation rounds as hlbook runs them by
 *   default (a fresh snapshot loaded beside the book every 10 s), beside its live heap and books (`heapUsed` +
 *   `external` after two GCs: the books' hash maps keep their keys in typed arrays, off the heap), with where
 *   the pages are (V8's committed spaces, `/proc/<pid>/smaps`). This process's own RSS (it built the book,
 *   a parsed copy and a 320 MB JSON string) says nothing about hlbook's and is only noted.
 *
 * - hlbook itself (`main.ts`, the start task's env) started on the same snapshot with an empty data dir: its
 *   RSS (the whole process: core worker and edge) once a second for 60 s with validation on (the default
 *   10 s), then for 40 s with `--validate-interval 0`.
 *
 * Knobs: `BENCH_MEMORY_IDLE_SECONDS` (20), `BENCH_MEMORY_VALIDATIONS` (3), `BENCH_MEMORY_V8_FLAGS` (V8 flags
 * of the loading process, comma-separated, to compare), `BENCH_MEMORY_HLBOOK_SECONDS` (60; 0 skips hlbook).
 *
 * @module
 */
import { join } from "node:path";
import { Books, type SnapshotFile } from "../src/book/mod.ts";
import {
  emit,
  fmt,
  freePort,
  heapMeter,
  hlbookArgs,
  kill,
  note,
  type ProcessMemory,
  type Row,
  sleep,
  startTaskEnv,
  syntheticBook,
  ticking,
} from "./_common.ts";

const heap = heapMeter();

const N = 1_000_000;
const m0 = heap();
const e0 = Deno.memoryUsage().external;
let books: Books | null = syntheticBook(N);
const m1 = heap();
const perOrder = (m1 - m0) / books.orderCount();
const externalPerOrder = (Deno.memoryUsage().external - e0) / books.orderCount();
note(
  `memory: ${fmt(books.orderCount(), 0)} orders, ${perOrder.toFixed(0)} B/order of heap, ${
    externalPerOrder.toFixed(0)
  } B/order in typed arrays off the heap`,
);

let snapshot: SnapshotFile | null = books.toSnapshot();
books = null;

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
const IDLE_SECONDS = Number(Deno.env.get("BENCH_MEMORY_IDLE_SECONDS") ?? 20);
const VALIDATIONS = Number(Deno.env.get("BENCH_MEMORY_VALIDATIONS") ?? 3);
/** V8 flags for the loading process beside `--expose-gc`, to compare (e.g. `--heap-growing-percent=20`). */
const V8_FLAGS = (Deno.env.get("BENCH_MEMORY_V8_FLAGS") ?? "").split(",").filter((flag) => flag !== "");
/** What `memory_load.ts` reports (RSS samples once a second, in bytes). */
interface LoadRun {
  readonly seconds: number;
  readonly maxGap: number;
  readonly cpu: number;
  readonly orders: number;
  readonly idleSeconds: number;
  readonly rounds: number;
  readonly started: ProcessMemory;
  readonly loadedRss: number;
  readonly idleRss: number[];
  readonly idle: ProcessMemory;
  readonly validatingRss: number[];
  readonly validated: ProcessMemory;
}
const HLBOOK_SECONDS = Number(Deno.env.get("BENCH_MEMORY_HLBOOK_SECONDS") ?? 60);
const env = startTaskEnv();
// the node's info server: the file is already written, answer 200 like the node does
let snapshotRequests = 0;
const info = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
  await request.text();
  snapshotRequests++;
  return new Response("null", { headers: { "content-type": "application/json" } });
});

/** hlbook itself: RSS (from /proc) and its count of snapshot requests over the run. */
interface HlbookRun {
  readonly validateInterval: string;
  readonly rss: number[];
  readonly requests: number;
}

/**
 * Runs hlbook (`main.ts`, the start task's env) on the snapshot with an empty data dir for `seconds`,
 * recording its RSS every second: the whole process, core worker and edge included.
 */
async function hlbookRun(validateInterval: string, seconds: number): Promise<HlbookRun> {
  const dataDir = join(tmp, `data-${validateInterval}`);
  for (const stream of ["order_statuses", "raw_book_diffs", "fills"]) {
    await Deno.mkdir(join(dataDir, `node_${stream}_by_block`, "hourly"), { recursive: true });
  }
  const before = snapshotRequests;
  const child = new Deno.Command("deno", {
    args: hlbookArgs(
      { dataDir, infoPort: info.addr.port, snapshotPath: file, port: freePort() },
      { extra: ["--validate-interval", validateInterval] },
    ),
    env,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const rss: number[] = [];
  try {
    for (let second = 0; second < seconds; second++) {
      await sleep(1000);
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`).catch(() => "");
      rss.push(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) * 1024);
    }
  } finally {
    kill(child);
    await child.status.catch(() => {});
  }
  return { validateInterval, rss, requests: snapshotRequests - before };
}

let run: LoadRun;
let hlbook: HlbookRun[] = [];
try {
  const output = await new Deno.Command("deno", {
    args: [
      "run",
      "-A",
      `--v8-flags=${["--expose-gc", ...V8_FLAGS].join(",")}`,
      new URL("memory_load.ts", import.meta.url).pathname,
      `http://127.0.0.1:${info.addr.port}/info`,
      file,
      String(IDLE_SECONDS),
      String(VALIDATIONS),
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const line = new TextDecoder().decode(output.stdout).split("\n").find((l) => l.startsWith("RESULT "));
  if (!output.success || line === undefined) throw new Error(`memory_load.ts exited with ${output.code}`);
  run = JSON.parse(line.slice(7));
  if (HLBOOK_SECONDS > 0) {
    hlbook = [await hlbookRun("10", HLBOOK_SECONDS), await hlbookRun("0", Math.ceil(HLBOOK_SECONDS * 2 / 3))];
  }
} finally {
  await info.shutdown();
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
const load = Deno.loadavg()[0];
note(
  `  snapshot client path (${fmt(size / 1e6, 0)} MB file, own process, env ${Object.keys(env).join(" ")}${
    V8_FLAGS.length > 0 ? `, V8 flags ${V8_FLAGS.join(",")}` : ""
  }): ${run.seconds.toFixed(2)} s, longest block ${run.maxGap.toFixed(0)} ms, ${
    run.cpu.toFixed(2)
  } s CPU (load average ${load.toFixed(1)})`,
);
const own = Deno.memoryUsage();
note(
  `  this bench process after building, copying, stringifying and loading: RSS ${mib(own.rss)} MiB, heap ${
    mib(heap())
  } MiB (not hlbook's figure: its own history, without the task's allocator settings)`,
);

function mib(bytes: number): string {
  return fmt(bytes / 2 ** 20, 0);
}
/** RSS ÷ (live heap + the books' typed arrays). */
const ratio = (rss: number, m: ProcessMemory) => rss / (m.heapUsed + m.external);
const live = (m: ProcessMemory) =>
  `heap ${mib(m.heapUsed)} used / ${mib(m.heapTotal)} total, external ${mib(m.external)} MiB`;
const where = (m: ProcessMemory) => {
  const v8 = Object.values(m.v8Committed).reduce((a, b) => a + b, 0);
  const pages = m.map === null
    ? "no /proc"
    : `binary and libraries ${mib(m.map.file)}, malloc's [heap] ${mib(m.map.brk)}, other anonymous ${
      mib(m.map.anonymous)
    } (V8's pages among them)`;
  return `V8 committed after GC ${mib(v8)} MiB (new space ${mib(m.v8Committed.new ?? 0)}); ${pages} MiB`;
};
const peak = Math.max(...run.validatingRss);
const idleAt10 = run.idleRss[Math.min(run.idleRss.length, 10) - 1] ?? NaN;
note(`  RSS after the load ${mib(run.loadedRss)} MiB, idle: ${run.idleRss.map(mib).join(" ")}`);
note(`  idle ${run.idleSeconds} s: ${mib(run.idle.rss)} MiB RSS; ${live(run.idle)}; ${where(run.idle)}`);
note(`  ${run.rounds} validations 10 s apart: ${run.validatingRss.map(mib).join(" ")}`);
note(`  after them: ${mib(run.validated.rss)} MiB RSS; ${live(run.validated)}; ${where(run.validated)}`);

for (const h of hlbook) {
  note(
    `  hlbook, --validate-interval ${h.validateInterval} (${h.requests} snapshots): ${
      h.rss.map(mib).join(" ")
    }`,
  );
}
/** The book's live size, measured in `memory_load.ts`'s process (the same snapshot). */
const liveBytes = run.idle.heapUsed + run.idle.external;
const hlbookRows: Row[] = hlbook.map((h) => {
  const end = h.rss.at(-1) ?? NaN;
  const max = Math.max(...h.rss);
  const validating = h.validateInterval !== "0";
  return {
    section: "4 memory",
    figure: validating
      ? `hlbook itself (main.ts, the start task's env) on that snapshot, ${h.rss.length} s, validation every ${h.validateInterval} s (the default; ${h.requests} snapshots)`
      : `  the same with --validate-interval 0, ${h.rss.length} s`,
    target: "≤ 2 × (heap used + external)",
    measured: `${mib(end)} MiB at the end (${(end / liveBytes).toFixed(2)}×), max ${mib(max)} MiB (${
      (max / liveBytes).toFixed(2)
    }×)`,
    pass: (validating ? max : end) <= 2 * liveBytes,
    value: validating ? max : end,
  };
});

const rows: Row[] = [
  {
    section: "4 memory",
    figure: "heap per resting order, 1 M orders (200 coins, half with cloid)",
    target: "≤ 300 B",
    measured: `${perOrder.toFixed(0)} B (+ ${externalPerOrder.toFixed(0)} B of hash-map keys off the heap)`,
    pass: perOrder <= 300,
    value: perOrder,
  },
  {
    section: "4 memory",
    figure: `RSS after the client-path load (${
      fmt(run.orders, 0)
    } orders; own process, \`deno task start\`'s env) vs live heap + books`,
    target: "≤ 2 × (heap used + external)",
    measured: `${mib(run.loadedRss)} MiB (${ratio(run.loadedRss, run.idle).toFixed(2)}×); ${live(run.idle)}`,
    pass: ratio(run.loadedRss, run.idle) <= 2,
    value: run.loadedRss,
  },
  {
    section: "4 memory",
    figure: `  idle RSS, ${run.idleSeconds} s later (no validation)`,
    target: "≤ 2 × (heap used + external)",
    measured: `${mib(run.idle.rss)} MiB (${ratio(run.idle.rss, run.idle).toFixed(2)}×); ${
      mib(idleAt10)
    } MiB at 10 s`,
    pass: ratio(run.idle.rss, run.idle) <= 2,
    value: run.idle.rss,
  },
  {
    section: "4 memory",
    figure: "  where that idle RSS is",
    target: "—",
    measured: where(run.idle),
    pass: null,
  },
  {
    section: "4 memory",
    figure:
      `  idle RSS with validation on (the default: every 10 s a fresh snapshot loaded beside the book; ${run.rounds} rounds)`,
    target: "≤ 2 × (heap used + external)",
    measured: `${mib(run.validated.rss)} MiB at the end (${
      ratio(run.validated.rss, run.validated).toFixed(2)
    }×), peak ${mib(peak)} MiB (${ratio(peak, run.validated).toFixed(2)}×); ${live(run.validated)}`,
    pass: ratio(peak, run.validated) <= 2,
    value: peak,
  },
  ...hlbookRows,
  {
    section: "4 start-up",
    figure: `snapshot load, 1 M orders: request → ${
      fmt(size / 1e6, 0)
    } MB file streamed → loaded (client path, own process)`,
    target: "≤ 3 s",
    measured: `${run.seconds.toFixed(2)} s`,
    pass: run.seconds <= 3,
    value: run.seconds,
  },
  {
    section: "4 start-up",
    figure: "  longest event-loop block during it (1 ms ticker)",
    target: "≤ 50 ms",
    measured: `${run.maxGap.toFixed(0)} ms`,
    pass: run.maxGap <= 50,
    value: run.maxGap,
  },
  {
    section: "4 start-up",
    figure:
      "  CPU seconds of the process during it (all threads; on a busy machine wall time is mostly waiting)",
    target: "—",
    measured: `${run.cpu.toFixed(2)} s`,
    pass: null,
    value: run.cpu,
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
];
emit(rows, {
  perOrder,
  externalPerOrder,
  direct,
  size,
  load,
  env,
  v8Flags: V8_FLAGS,
  run,
  hlbook,
  benchProcessRss: own.rss,
});
