/**
 * `deno task bench`: runs every benchmark section in its own subprocess (so heaps, sockets and flags do not
 * mix), prints one markdown table (figure, target, measured, pass/fail) and writes it to `bench/results.json`.
 * Method and the latest numbers: bench/README.md.
 *
 *   deno task bench [--only ingest,latency10,latency1,booksize,memory,fanout,assetctx,abuse,users,stall,scaleout]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { kill, lines, type Row } from "./_common.ts";

interface Section {
  readonly name: string;
  readonly title: string;
  readonly args: string[];
  readonly timeout: number;
  readonly env?: Record<string, string>;
  /** Section names its rows carry besides `title` (e.g. memory's "4 start-up" rows). */
  readonly alsoRows?: readonly string[];
}

const here = new URL(".", import.meta.url).pathname;
const SECTIONS: Section[] = [
  { name: "ingest", title: "1 ingest", args: ["-A", `${here}ingest.ts`], timeout: 300 },
  {
    name: "latency10",
    title: "2 latency 10×",
    args: ["-A", `${here}latency.ts`, "--load", "10"],
    timeout: 180,
    env: { BENCH_LATENCY_BLOCKS: "45", BENCH_DRAIN_SECONDS: "15" },
  },
  { name: "latency1", title: "2 latency 1×", args: ["-A", `${here}latency.ts`, "--load", "1"], timeout: 180 },
  { name: "booksize", title: "3 book size", args: ["-A", `${here}book_size.ts`], timeout: 120 },
  {
    name: "memory",
    title: "4 memory",
    args: ["-A", "--v8-flags=--expose-gc", `${here}memory.ts`],
    timeout: 300,
    alsoRows: ["4 start-up"],
  },
  { name: "fanout", title: "5 fan-out", args: ["-A", `${here}fanout.ts`], timeout: 360 },
  { name: "assetctx", title: "6 asset ctxs", args: ["-A", `${here}asset_ctx.ts`], timeout: 120 },
  { name: "abuse", title: "7 abuse", args: ["-A", `${here}abuse.ts`], timeout: 420 },
  {
    name: "users",
    title: "8 user streams",
    args: ["-A", "--v8-flags=--expose-gc", `${here}user_streams.ts`],
    timeout: 300,
  },
  { name: "stall", title: "9 serving stall", args: ["-A", `${here}stall.ts`], timeout: 240 },
  { name: "scaleout", title: "10 scale-out", args: ["-A", `${here}scaleout.ts`], timeout: 420 },
];

const { values } = parseArgs({ args: Deno.args, options: { only: { type: "string" } } });
const only = values.only?.split(",");
const say = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(text + "\n"));

async function runSection(section: Section): Promise<{ rows: Row[]; extra: unknown; seconds: number }> {
  const started = performance.now();
  const child = new Deno.Command("deno", {
    args: ["run", ...section.args],
    env: section.env,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<null>((resolve) => {
    timer = setTimeout(() => {
      kill(child);
      resolve(null);
    }, section.timeout * 1000);
  });
  try {
    let result: { rows: Row[]; extra: unknown } | null = null;
    const reading = (async () => {
      for await (const line of lines(child.stdout)) {
        if (line.startsWith("RESULT ")) result = JSON.parse(line.slice(7));
      }
      return (await child.status).code;
    })();
    const code = await Promise.race([reading, timedOut]);
    const seconds = (performance.now() - started) / 1000;
    if (result) return { ...(result as { rows: Row[]; extra: unknown }), seconds };
    const why = code === null ? `did not finish within ${section.timeout} s` : `exited with code ${code}`;
    return {
      rows: [{ section: section.title, figure: "section", target: "runs", measured: why, pass: false }],
      extra: null,
      seconds,
    };
  } finally {
    clearTimeout(timer);
    kill(child);
    await child.status.catch(() => {});
  }
}

const started = new Date();
const load0 = Deno.loadavg();
const rows: Row[] = [];
const extras: Record<string, unknown> = {};
const timings: Record<string, number> = {};
for (const section of SECTIONS) {
  if (only && !only.includes(section.name)) continue;
  say(`== ${section.title} (${section.name})`);
  const result = await runSection(section);
  rows.push(...result.rows);
  extras[section.name] = result.extra;
  timings[section.name] = Math.round(result.seconds);
  say(`   ${result.seconds.toFixed(0)} s`);
}

const machine = {
  cpus: navigator.hardwareConcurrency,
  loadavgBefore: load0,
  loadavgAfter: Deno.loadavg(),
  deno: Deno.version.deno,
};
// With --only, the sections not run keep what the previous results.json says of them (rows in section order,
// and each section's own start, machine load, seconds and raw figures), so one section can be re-measured
// without losing the others' figures or the conditions they were measured in.
interface SectionRun {
  readonly started: string;
  readonly machine: typeof machine;
  readonly seconds: number;
  readonly extra: unknown;
}
const resultsUrl = new URL("results.json", import.meta.url);
const ran = new Set(
  SECTIONS.filter((s) => !only || only.includes(s.name)).flatMap((s) => [s.title, ...(s.alsoRows ?? [])]),
);
let kept: Row[] = [];
let keptRuns: Record<string, SectionRun> = {};
if (only) {
  try {
    const previous = JSON.parse(await Deno.readTextFile(resultsUrl)) as {
      rows?: Row[];
      sections?: Record<string, SectionRun>;
    };
    kept = (previous.rows ?? []).filter((r) => !ran.has(r.section));
    keptRuns = previous.sections ?? {};
  } catch {
    kept = [];
  }
}
const sections: Record<string, SectionRun> = { ...keptRuns };
for (const name of Object.keys(timings)) {
  sections[name] = { started: started.toISOString(), machine, seconds: timings[name], extra: extras[name] };
}
const order = (r: Row) =>
  SECTIONS.findIndex((s) => s.title === r.section || (s.alsoRows ?? []).includes(r.section));
const allRows = [...kept, ...rows].sort((a, b) => order(a) - order(b));
const verdict = (pass: boolean | null) => (pass === null ? "info" : pass ? "pass" : "FAIL");
const table = [
  "| section | figure | target | measured | result |",
  "|---|---|---|---|---|",
  ...allRows.map((r) => `| ${r.section} | ${r.figure} | ${r.target} | ${r.measured} | ${verdict(r.pass)} |`),
].join("\n");
await Deno.writeTextFile(
  resultsUrl,
  JSON.stringify({ started: started.toISOString(), machine, rows: allRows, table, sections }, null, 2) + "\n",
);
// deno-lint-ignore no-console
console.log(table);
// deno-lint-ignore no-console
console.log(
  `\n${started.toISOString()}, ${machine.cpus} CPUs, load average ${load0[0].toFixed(1)} → ${
    machine.loadavgAfter[0].toFixed(1)
  }; sections ${JSON.stringify(timings)} s; written to bench/results.json`,
);
