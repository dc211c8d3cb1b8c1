/**
 * The client-path snapshot load of section 4 in a process of its own, started by `memory.ts` with the
 * environment `deno task start` gives hlbook (`startTaskEnv`: glibc's allocator settings): hlbook's start-up
 * code (`requestSnapshot`: info request → the file read and loaded as it streams) in a fresh process, so its
 * RSS is what hlbook's would be after the same load, not what the bench's own earlier work (building the
 * book, its parsed copy, a 320 MB JSON string) left mapped. Run with `--v8-flags=--expose-gc`.
 *
 *   deno run -A --v8-flags=--expose-gc bench/memory_load.ts INFO_URL SNAPSHOT_PATH IDLE_SECONDS ROUNDS
 *
 * No GC is forced until the end of a window: a forced GC puts the pages it frees in V8's pool, which its
 * memory reducer empties only after a GC of its own (~8 s after allocation stops) that forced GCs hold off,
 * so forcing them would show a process hlbook never is. Prints one `RESULT` line (`LoadRun` in memory.ts):
 * - the load's seconds, longest event-loop block (1 ms ticker) and CPU seconds;
 * - RSS right after the load, then each second of `IDLE_SECONDS` of idling, then the memory (`memoryAt`);
 * - `ROUNDS` validations as hlbook's default `--validate-interval 10` runs them (a fresh snapshot loaded
 *   beside the book, dropped; the next one 10 s after the last began), RSS each second, then `memoryAt`.
 *
 * @module
 */
import v8 from "node:v8";
import { requestSnapshot } from "../src/ingest/mod.ts";
import { heapMeter, memoryMap, type ProcessMemory, sleep, ticking } from "./_common.ts";

const [infoUrl, snapshotPath, idleArg, roundsArg] = Deno.args;
const idleSeconds = Number(idleArg ?? 20);
const rounds = Number(roundsArg ?? 3);
const VALIDATE_INTERVAL_MS = 10_000;
const heap = heapMeter();

/**
 * The process's memory as it sits (RSS and smaps read first), then its live heap after two full GCs and V8's
 * committed pages by space.
 */
function memoryAt(): ProcessMemory {
  const rss = Deno.memoryUsage().rss;
  const map = memoryMap();
  heap();
  const after = Deno.memoryUsage();
  const spaces: Record<string, number> = {};
  for (const space of v8.getHeapSpaceStatistics()) {
    if (space.physical_space_size > 0) {
      spaces[space.space_name.replace(/_space$/, "")] = space.physical_space_size;
    }
  }
  return {
    rss,
    heapTotal: after.heapTotal,
    heapUsed: after.heapUsed,
    external: after.external,
    v8Committed: spaces,
    map,
  };
}

/** RSS once a second until `until` (a `performance.now()` time), no GC forced. */
async function sampleUntil(until: number, into: number[]): Promise<void> {
  while (performance.now() < until) {
    await sleep(Math.max(0, Math.min(1000, until - performance.now())));
    into.push(Deno.memoryUsage().rss);
  }
}

const started = memoryAt();
const load = await ticking(() => requestSnapshot({ infoUrl, snapshotPath }));
const { value: books, seconds, maxGap, cpu } = load;
const loadedRss = Deno.memoryUsage().rss;
const idleRss: number[] = [];
await sampleUntil(performance.now() + idleSeconds * 1000, idleRss);
const idle = memoryAt();

const validatingRss: number[] = [];
let freshOrders = 0;
for (let round = 0; round < rounds; round++) {
  const begun = performance.now();
  freshOrders = (await requestSnapshot({ infoUrl, snapshotPath })).orderCount();
  await sampleUntil(begun + VALIDATE_INTERVAL_MS, validatingRss);
}
const validated = memoryAt();
// deno-lint-ignore no-console
console.log(
  `RESULT ${
    JSON.stringify({
      seconds,
      maxGap,
      cpu,
      orders: books.orderCount(),
      freshOrders,
      idleSeconds,
      rounds,
      started,
      loadedRss,
      idleRss,
      idle,
      validatingRss,
      validated,
    })
  }`,
);
