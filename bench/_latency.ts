/**
 * Block-to-client latency as `latency.ts` measures it, as pieces another section can use on other servers
 * (`scaleout.ts` runs them against `--role all` and against a core and an edge over NATS): this process
 * plays the node, writing the cached blocks at 15 blocks/s and recording the instant each block's last line
 * was written; `clients.ts` in a subprocess records when each message arrives. Latency = receipt − write
 * instant of the block whose time the message carries.
 *
 * @module
 */
import { join } from "node:path";
import { type GenMeta, kill, lines, nowEpoch, quantile, sleep, walk } from "./_common.ts";

const RATE = 15;
const STREAMS = ["fills", "raw_book_diffs", "order_statuses"] as const;
const here = new URL(".", import.meta.url).pathname;

/** Each stream's lines by block index, with the hourly file (relative) they belong in. */
export type BlockLines = { rel: string; bytes: Uint8Array }[][];

/** Reads the generated node files (`generate()`'s dir) into lines by block. */
export async function loadBlockLines(dir: string): Promise<BlockLines> {
  const out: BlockLines = STREAMS.map(() => []);
  for (const [s, stream] of STREAMS.entries()) {
    const base = join(dir, "node");
    for await (const file of walk(join(base, `node_${stream}_by_block`))) {
      const bytes = await Deno.readFile(file);
      const rel = file.slice(base.length + 1);
      let start = 0;
      for (let end = bytes.indexOf(10); end >= 0; end = bytes.indexOf(10, start)) {
        out[s].push({ rel, bytes: bytes.subarray(start, end + 1) });
        start = end + 1;
      }
    }
  }
  return out;
}

/** Writes the blocks into a data dir as a node would, recording each block's write instant. */
export class NodeWriter {
  readonly #files = new Map<string, Deno.FsFile>();
  /** Block time (ms) → write instant of its last line (epoch ms). */
  readonly written = new Map<number, number>();
  next = 0;

  constructor(readonly dataDir: string, readonly blocks: BlockLines, readonly meta: GenMeta) {}

  write(): void {
    const i = this.next++;
    for (const lines of this.blocks) {
      const { rel, bytes } = lines[i];
      let file = this.#files.get(rel);
      if (!file) {
        Deno.mkdirSync(join(this.dataDir, rel, ".."), { recursive: true });
        file = Deno.openSync(join(this.dataDir, rel), { append: true, create: true });
        this.#files.set(rel, file);
      }
      let off = 0;
      while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
    }
    this.written.set(this.meta.times[i], nowEpoch());
  }

  /** Writes `count` blocks at 15 per second (absolute schedule). */
  async run(count: number): Promise<void> {
    const t0 = performance.now();
    for (let k = 0; k < count && this.next < this.meta.blocks; k++) {
      const due = t0 + (k * 1000) / RATE - performance.now();
      if (due > 0) await sleep(due);
      this.write();
    }
  }

  close(): void {
    for (const file of this.#files.values()) file.close();
  }
}

/** The node's info server for hlbook's snapshot requests: the newest cached snapshot at or below the head. */
export function snapshotServer(dir: string, writer: NodeWriter): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const body = await request.json();
    const height = writer.meta.startHeight + writer.next;
    const at = writer.meta.snapshots.filter((h) => h <= height).at(-1) as number;
    await Deno.copyFile(join(dir, `snap-${at}.json`), body.outPath);
    return new Response("null", { headers: { "content-type": "application/json" } });
  });
}

/** `/health` of a server on a loopback port, null while it does not answer. */
export async function health(port: number): Promise<{ ready: boolean; height: number } | null> {
  try {
    return await (await fetch(`http://127.0.0.1:${port}/health`)).json();
  } catch {
    return null;
  }
}

/** What the clients saw over the measured blocks. */
export interface ClientRun {
  /** Sorted latencies, ms. */
  latencies: Float64Array;
  stats: Record<string, unknown> & { bytes: Record<string, number>; messages: Record<string, number> };
  measured: number;
}

/**
 * Starts `clients` clients on `url` (client i: l2Book + trades + bbo of coin i mod 200), waits until
 * subscribed, writes `blocks` blocks, waits for `drained`, collects latencies.
 */
export async function measure(
  url: string,
  writer: NodeWriter,
  options: { clients: number; blocks: number; tmp: string; drained: () => Promise<void> },
): Promise<ClientRun> {
  const out = join(options.tmp, `samples-${crypto.randomUUID()}.bin`);
  const args = [
    "run",
    "--allow-net",
    "--allow-write",
    join(here, "clients.ts"),
    "--url",
    url,
    "--clients",
    String(options.clients),
    "--coins",
    writer.meta.coins.join(","),
    "--out",
    out,
    "--max-seconds",
    "150",
  ];
  const child = new Deno.Command("deno", { args, stdin: "piped", stdout: "piped", stderr: "inherit" })
    .spawn();
  try {
    const output = lines(child.stdout);
    const readyLine = await Promise.race([output.next(), sleep(90_000).then(() => null)]);
    if (!readyLine || readyLine.done || !readyLine.value.startsWith("ready")) {
      throw new Error(`clients did not get ready: ${JSON.stringify(readyLine)}`);
    }
    const first = writer.next;
    await writer.run(options.blocks);
    const last = writer.next;
    await options.drained();
    await sleep(500);
    const stdin = child.stdin.getWriter();
    await stdin.write(new TextEncoder().encode("stop\n"));
    let done: IteratorResult<string> | null = null;
    for (;;) {
      done = await Promise.race([output.next(), sleep(30_000).then(() => null)]);
      if (!done || done.done || done.value.startsWith("done")) break;
    }
    if (!done || done.done) throw new Error("clients did not finish");
    const stats = JSON.parse(done.value.slice(5));
    const raw = new Float64Array((await Deno.readFile(out)).buffer);
    const measuredTimes = new Set(writer.meta.times.slice(first, last));
    const values: number[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      if (!measuredTimes.has(raw[i])) continue;
      values.push(raw[i + 1] - (writer.written.get(raw[i]) as number));
    }
    return { latencies: Float64Array.from(values).sort(), stats, measured: last - first };
  } finally {
    kill(child);
    await child.status.catch(() => {});
  }
}

/** p50, p99 and max of a run. */
export function summary(run: ClientRun): { p50: number; p99: number; max: number } {
  const l = run.latencies;
  return { p50: quantile(l, 0.5), p99: quantile(l, 0.99), max: l.length ? l[l.length - 1] : NaN };
}
