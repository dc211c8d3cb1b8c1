/**
 * Section `abuse`: one address floods hlbook while 100 normal clients watch their latency.
 *
 * A simulated node (`src/sim/cli.ts`, 7 markets, load 1 ≈ mainnet BTC flow, 15 blocks/s) and hlbook (`main.ts`
 * with its default limits and `--trust-proxy X-Forwarded-For`, so each normal client has its own address) run
 * as subprocesses; 100 clients (`clients.ts`, l2Book + trades + bbo of coin i mod 7, addresses 10.0.1.x) record
 * every message. After a 60 s warm-up (hlbook's RSS settles), phases by the clients' receipt time:
 *
 * 1. quiet (20 s): no abuser — the normal run's p99 and RSS "before";
 * 2. flood (30 s): `abuser.ts` opens 5,000 WebSocket connections from 10.66.6.6; the accepted ones subscribe
 *    to BTC l2Book, trades and l4Book and never read;
 * 3. after (60 s): the abuser is gone; memory should be back near the quiet level by the end;
 * 4. slowloris (15 s): 2,000 connections from the abuser that never finish their request head.
 *
 * Latency = receipt − (block time + 370 ms): the simulator stamps each block 370 ms before it writes it, as the
 * chain's block time precedes a real node's write. hlbook's RSS is read from `/proc` every 250 ms, its heap
 * from `/metrics`.
 *
 * @module
 */
import { join } from "node:path";
import {
  cpuSeconds,
  emit,
  fmt,
  kill,
  lines,
  note,
  quantile,
  type Row,
  sleep,
  startTaskEnv,
} from "./_common.ts";

const here = new URL(".", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;
const NORMAL = 100;
const FLOOD = Number(Deno.env.get("BENCH_ABUSE_CONNECTIONS") ?? 5000);
const SLOWLORIS = 2000;
const WARM_UP_S = 60, QUIET_S = 20, FLOOD_S = 30, AFTER_S = 60, SLOW_S = 15;
/** The simulator's block time is this much before its write (src/sim/node.ts). */
const STAMP_OFFSET_MS = 370;
const SECTION = "7 abuse";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** `deno task start`'s environment (`startTaskEnv`); `BENCH_ABUSE_TASK_ENV=0` leaves it out, to compare. */
function hlbookTaskEnv(): Record<string, string> {
  return Deno.env.get("BENCH_ABUSE_TASK_ENV") === "0" ? {} : startTaskEnv();
}

function rssMiB(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
  } catch {
    return NaN;
  }
}

async function metricsOf(port: number): Promise<Map<string, number>> {
  const text =
    await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) }))
      .text();
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const i = line.lastIndexOf(" ");
    values.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return values;
}

/** A child whose stdout lines can be awaited one by one. */
function spawn(args: string[], stdin: "piped" | "null" = "piped") {
  const child = new Deno.Command(Deno.execPath(), { args, stdin, stdout: "piped", stderr: "inherit" })
    .spawn();
  const output = lines(child.stdout);
  return {
    child,
    async next(prefix: string, timeoutMs: number): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = deadline - Date.now();
        const line = await Promise.race([output.next(), sleep(Math.max(0, left)).then(() => null)]);
        if (line === null) throw new Error(`no "${prefix}" line within ${timeoutMs} ms`);
        if (line.done) throw new Error(`child ended before "${prefix}"`);
        if (line.value.startsWith(prefix)) return line.value.slice(prefix.length).trim();
      }
    },
    async send(text: string): Promise<void> {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(text + "\n"));
      writer.releaseLock();
    },
  };
}

const tmp = await Deno.makeTempDir({ prefix: "hlbook-bench-abuse-" });
const children: Deno.ChildProcess[] = [];
const load0 = Deno.loadavg();
try {
  const infoPort = freePort();
  const port = freePort();
  const sim = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(root, "src/sim/cli.ts"),
      `--data-dir=${join(tmp, "data")}`,
      `--info-port=${infoPort}`,
      "--coins=7",
      "--rate=15",
      "--load=1",
      "--seed=1",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  children.push(sim);
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: infoPort })).close();
      break;
    } catch {
      await sleep(100);
    }
  }
  const logLines: string[] = [];
  const hlbookEnv = hlbookTaskEnv();
  const profile = Deno.env.get("BENCH_HLBOOK_PROFILE"); // a dir: CPU profile of hlbook (written at SIGTERM)
  const hlbook = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`, "--allow-write"] : []),
      "--allow-read",
      "--allow-net",
      "--allow-env",
      join(root, "main.ts"),
      `--data-dir=${join(tmp, "data")}`,
      `--info-url=http://127.0.0.1:${infoPort}/info`,
      `--snapshot-path=${join(tmp, "snapshot.json")}`,
      `--port=${port}`,
      "--trust-proxy=X-Forwarded-For",
      // A small block cache fills in 10 s, so memory is at its steady level before the quiet phase.
      "--block-cache=150",
      "--log-level=warning",
      "--log-format=json",
      // Extra hlbook flags to compare limits within one run, e.g. "--max-buffered-per-ip=16MiB".
      ...(Deno.env.get("BENCH_ABUSE_HLBOOK_ARGS") ?? "").split(" ").filter((arg) => arg !== ""),
    ],
    env: hlbookEnv,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  children.push(hlbook);
  (async () => {
    for await (const line of lines(hlbook.stderr)) logLines.push(line);
  })();
  for (let i = 0;; i++) {
    if (i > 600) throw new Error("hlbook did not get ready in 60 s");
    try {
      const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
      if (health.ready) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  const out = join(tmp, "samples.bin");
  const clients = spawn([
    "run",
    "--allow-net",
    "--allow-write",
    join(here, "clients.ts"),
    "--url",
    `ws://127.0.0.1:${port}/ws`,
    "--clients",
    String(NORMAL),
    "--coins",
    "BTC,ETH,SOL,HYPE,MEME,@107,PURR/USDC",
    "--out",
    out,
    "--max-seconds",
    "600",
    "--forwarded-for",
    "10.0.1.",
  ]);
  children.push(clients.child);
  note(`abuse: clients ${await clients.next("ready", 60_000)}`);

  const rss: { t: number; mib: number }[] = [];
  const sampler = setInterval(() => rss.push({ t: Date.now(), mib: rssMiB(hlbook.pid) }), 250);
  const rssIn = (from: number, to: number) => rss.filter((s) => s.t >= from && s.t < to).map((s) => s.mib);
  const heap = async () => (await metricsOf(port)).get("hlbook_heap_used_bytes") ?? NaN;
  const marks: Record<string, number> = {};
  /** CPU seconds of each process at each mark, so a phase's CPU share per process can be told. */
  const cpu: Record<string, Record<string, number>> = {};
  const pids: Record<string, number> = { hlbook: hlbook.pid, sim: sim.pid, clients: clients.child.pid };
  const cpuAt = (mark: string) => {
    marks[mark] = Date.now();
    cpu[mark] = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  };
  const heaps: Record<string, number> = {};

  // hlbook's RSS grows for about a minute after the clients connect with no abuser at all (V8's young
  // generation growing to the allocation rate, ~50 MiB; bench/README), so "before" is taken after it.
  await sleep(WARM_UP_S * 1000);
  cpuAt("quietStart");
  await sleep(QUIET_S * 1000);
  cpuAt("quietEnd");
  heaps.before = await heap();

  cpuAt("floodStart");
  const abuser = spawn([
    "run",
    "--allow-net",
    join(here, "abuser.ts"),
    "--port",
    String(port),
    "--mode",
    "flood",
    "--connections",
    String(FLOOD),
  ]);
  children.push(abuser.child);
  pids.abuser = abuser.child.pid;
  const flood = JSON.parse(await abuser.next("opened", 120_000));
  cpuAt("opened");
  note(`abuse: flood ${JSON.stringify(flood)} in ${((Date.now() - marks.floodStart) / 1000).toFixed(1)} s`);
  const floodLeft = marks.floodStart + FLOOD_S * 1000 - Date.now();
  if (floodLeft > 0) await sleep(floodLeft);
  heaps.peak = await heap();
  const during = await metricsOf(port);
  cpuAt("floodHeld");
  await abuser.send("stop");
  await abuser.next("closed", 60_000);
  cpuAt("floodEnd");
  delete pids.abuser;
  await abuser.child.status;

  await sleep(AFTER_S * 1000);
  cpuAt("afterEnd");
  heaps.after = await heap();

  marks.slowStart = Date.now();
  const rssBeforeSlow = rssMiB(hlbook.pid);
  const loris = spawn([
    "run",
    "--allow-net",
    join(here, "abuser.ts"),
    "--port",
    String(port),
    "--mode",
    "slowloris",
    "--connections",
    String(SLOWLORIS),
  ]);
  children.push(loris.child);
  const slow = JSON.parse(await loris.next("opened", 120_000));
  await sleep(2000);
  const healthStart = performance.now();
  const healthOk = (await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(10_000) }))
    .ok;
  const healthMs = performance.now() - healthStart;
  const slowLeft = marks.slowStart + SLOW_S * 1000 - Date.now();
  if (slowLeft > 0) await sleep(slowLeft);
  const rssSlow = Math.max(...rssIn(marks.slowStart, Date.now() + 1));
  await loris.send("stop");
  await loris.next("closed", 60_000);
  marks.slowEnd = Date.now();
  await sleep(3000);
  const rssSlowAfter = rssMiB(hlbook.pid);
  clearInterval(sampler);
  if (profile) {
    hlbook.kill("SIGTERM"); // the profile is written on a normal exit
    await hlbook.status;
  }

  await clients.send("stop");
  const done = JSON.parse(await clients.next("done", 60_000));
  const raw = new Float64Array((await Deno.readFile(out)).buffer);
  const windows = {
    quiet: [marks.quietStart, marks.quietEnd],
    flood: [marks.floodStart, marks.floodEnd],
    after: [marks.floodEnd, marks.afterEnd],
    slowloris: [marks.slowStart, marks.slowEnd],
  } as const;
  const latency: Record<string, { n: number; p50: number; p99: number; max: number }> = {};
  for (const [name, [from, to]] of Object.entries(windows)) {
    const values: number[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const received = raw[i + 1];
      if (received >= from && received < to) values.push(received - raw[i] - STAMP_OFFSET_MS);
    }
    values.sort((a, b) => a - b);
    latency[name] = {
      n: values.length,
      p50: quantile(values, 0.5),
      p99: quantile(values, 0.99),
      max: values.at(-1) ?? NaN,
    };
  }
  const before = quantile(rssIn(marks.quietStart, marks.quietEnd).sort((a, b) => a - b), 0.5);
  const peak = Math.max(...rssIn(marks.floodStart, marks.afterEnd));
  const after = rssIn(marks.afterEnd - 3000, marks.afterEnd + 1).at(-1) ?? NaN;
  const abuserLines = logLines.filter((line) => line.includes("10.66.6.6")).length;
  const slowLines = logLines.filter((line) => line.includes("closing a slow client")).length;
  /** Per process, CPU seconds per wall second in each phase (2.0 = both cores). */
  const share = (from: string, to: string) =>
    Object.fromEntries(
      Object.keys(cpu[to]).map((name) => [
        name,
        Number(((cpu[to][name] - (cpu[from][name] ?? 0)) / ((marks[to] - marks[from]) / 1000)).toFixed(3)),
      ]),
    );
  const cpuShare = {
    quiet: share("quietStart", "quietEnd"),
    opening: share("floodStart", "opened"),
    held: share("opened", "floodHeld"),
    after: share("floodEnd", "afterEnd"),
  };
  /** The flood phase second by second: p99 and count of the normal clients' messages (where the slow ones fall). */
  const timeline: { s: number; n: number; p99: number }[] = [];
  for (let t = marks.floodStart; t < marks.floodEnd; t += 1000) {
    const values: number[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i + 1] >= t && raw[i + 1] < t + 1000) values.push(raw[i + 1] - raw[i] - STAMP_OFFSET_MS);
    }
    values.sort((a, b) => a - b);
    timeline.push({
      s: (t - marks.floodStart) / 1000,
      n: values.length,
      p99: Math.round(quantile(values, 0.99)),
    });
  }
  const minutes = (marks.slowEnd - marks.floodStart) / 60_000;
  const load1 = Deno.loadavg();

  const ms = (n: number) => `${fmt(n, 0)} ms`;
  const rows: Row[] = [
    {
      section: SECTION,
      figure: `normal clients' p99 latency, no abuser (${NORMAL} clients, ${QUIET_S} s)`,
      target: "—",
      measured: `${ms(latency.quiet.p99)} (p50 ${ms(latency.quiet.p50)}, ${latency.quiet.n} messages)`,
      pass: null,
      value: latency.quiet.p99,
    },
    {
      section: SECTION,
      figure: `normal clients' p99 while one address opens ${FLOOD} connections`,
      target: `≤ 2 × no-abuser p99 (${ms(2 * latency.quiet.p99)})`,
      measured: `${ms(latency.flood.p99)} (p50 ${ms(latency.flood.p50)}, max ${ms(latency.flood.max)})`,
      pass: latency.flood.p99 <= 2 * latency.quiet.p99,
      value: latency.flood.p99,
    },
    {
      section: SECTION,
      figure: `normal clients' p99 in the ${AFTER_S} s after the abuser left`,
      target: `≤ 2 × no-abuser p99`,
      measured: ms(latency.after.p99),
      pass: latency.after.p99 <= 2 * latency.quiet.p99,
      value: latency.after.p99,
    },
    {
      section: SECTION,
      figure: "abuser's connections: accepted / refused with 429 / other",
      target: "accepted ≤ --max-connections-per-ip (200)",
      measured: `${flood.accepted} / ${flood.refused429} / ${flood.otherStatus + flood.failed}`,
      pass: flood.accepted <= 200,
    },
    {
      section: SECTION,
      figure: "hlbook RSS: before / peak / 60 s after the abuser left",
      target: "after ≤ 1.25 × before",
      measured: `${fmt(before, 0)} / ${fmt(peak, 0)} / ${fmt(after, 0)} MiB (heap ${
        [heaps.before, heaps.peak, heaps.after].map((h) => fmt(h / 2 ** 20, 0)).join(" / ")
      } MiB)`,
      pass: after <= 1.25 * before,
      value: after,
    },
    {
      section: SECTION,
      figure: "log lines about the abuser's address",
      target: "≤ 1 per minute",
      measured: `${abuserLines} in ${fmt(minutes, 1)} min (and ${slowLines} "closing a slow client" lines)`,
      pass: abuserLines <= Math.ceil(minutes),
    },
    {
      section: SECTION,
      figure: `${slow.accepted} slowloris connections (unfinished request heads)`,
      target: "—",
      measured: `RSS +${fmt(rssSlow - rssBeforeSlow, 0)} MiB while held (+${
        fmt(((rssSlow - rssBeforeSlow) * 1024) / Math.max(1, slow.accepted), 1)
      } KiB each), ${fmt(rssSlowAfter - rssBeforeSlow, 0)} MiB 3 s after; /health ${
        healthOk ? "served" : "FAILED"
      } in ${ms(healthMs)}; normal p99 ${ms(latency.slowloris.p99)}`,
      pass: null,
    },
  ];
  note(`abuse: load average ${load0[0].toFixed(1)} → ${load1[0].toFixed(1)}`);
  emit(rows, {
    latency,
    flood,
    slowloris: slow,
    rssMiB: {
      before,
      peak,
      after,
      beforeSlowloris: rssBeforeSlow,
      slowloris: rssSlow,
      slowlorisAfter: rssSlowAfter,
    },
    heaps,
    refused: Object.fromEntries([...during].filter(([k]) => k.startsWith("hlbook_refused_"))),
    clients: done,
    loadavg: { before: load0, after: load1 },
    hlbookEnv,
    hlbookArgs: Deno.env.get("BENCH_ABUSE_HLBOOK_ARGS") ?? "",
    cpuShare,
    openedAfterS: (marks.opened - marks.floodStart) / 1000,
    floodTimeline: timeline,
  });
} finally {
  for (const child of children) kill(child);
  for (const child of children) await child.status.catch(() => {});
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
