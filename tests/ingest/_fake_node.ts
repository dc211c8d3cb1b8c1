/**
 * A fake Hyperliquid node for ingestion tests: writes the real fixture's lines into hourly files the way a node
 * does (line by line, pauses, split writes, rotation) and answers `fileSnapshot` requests from a local info
 * server with the book at the height it has written so far.
 */
import assert from "node:assert/strict";
import { Books, compareBooks, type SnapshotFile } from "../../src/book/mod.ts";
import type { BlockInput } from "../../src/book/types.ts";
import type { IngestEvents, IngestState } from "../../src/ingest/mod.ts";
import { parseDiffLine, parseSnapshotFile, parseStatusLine } from "../../src/node/mod.ts";
import { readFixtureLines, readFixtureText } from "../_support/fixtures.ts";
import { sleep, waitFor } from "../_support/wait.ts";

/** The fixture, parsed once per test module. */
export interface Fixture {
  readonly snapshotText: string;
  readonly snapshot: SnapshotFile;
  /** By-block lines per stream, index i = block 985148182 + i. */
  readonly lines: { readonly statuses: string[]; readonly diffs: string[]; readonly fills: string[] };
  /** Streaming lines per stream, with their block numbers. */
  readonly streaming: {
    readonly statuses: [number, string][];
    readonly diffs: [number, string][];
    readonly fills: [number, string][];
  };
  readonly blocks: BlockInput[];
  readonly first: number;
}

let cached: Promise<Fixture> | null = null;

/** Loads and parses the fixture (once). */
export function loadFixture(): Promise<Fixture> {
  cached ??= (async () => {
    const snapshotText = await readFixtureText("snapshot.json.gz");
    const parsed = parseSnapshotFile(snapshotText);
    assert.ok(parsed.ok);
    const lines = {
      statuses: await readFixtureLines("node_order_statuses_by_block.jsonl.gz"),
      diffs: await readFixtureLines("node_raw_book_diffs_by_block.jsonl.gz"),
      fills: await readFixtureLines("node_fills_by_block.jsonl.gz"),
    };
    const numbered = async (name: string) =>
      (await readFixtureLines(name)).map((line) =>
        [Number(/"block_number":(\d+)/.exec(line)?.[1]), line] as [number, string]
      );
    const streaming = {
      statuses: await numbered("node_order_statuses_streaming.jsonl.gz"),
      diffs: await numbered("node_raw_book_diffs_streaming.jsonl.gz"),
      fills: await numbered("node_fills_streaming.jsonl.gz"),
    };
    const blocks = lines.statuses.map((line, i) => {
      const s = parseStatusLine(line);
      const d = parseDiffLine(lines.diffs[i]);
      assert.ok(s.ok && d.ok);
      return {
        height: s.batch.blockNumber,
        time: s.batch.blockTime,
        statuses: s.batch.events,
        diffs: d.batch.events,
      };
    });
    return { snapshotText, snapshot: parsed.snapshot, lines, streaming, blocks, first: blocks[0].height };
  })();
  return cached;
}

/**
 * The fixture with its snapshot cut down to the orders its blocks touch, the best `best` of each side and the
 * deepest bid (one no block touches), in their original order; the lines and blocks are the real ones. For tests
 * whose faults are in the files and the snapshot requests, not in the book's size: each snapshot they take then
 * loads in a fraction of the time of all 51,351 orders. Checked: every fixture block applies to it.
 */
export function trimmedFixture(fixture: Fixture, best = 500): Fixture {
  let trimmed = trimmedFixtures.get(fixture);
  if (trimmed) return trimmed;
  const touched = new Set(fixture.blocks.flatMap((block) => block.diffs.map((diff) => diff.oid)));
  const [height, coins] = fixture.snapshot;
  const cut = <T extends readonly [string, { readonly oid: number }]>(
    orders: readonly T[],
    keepLast: boolean,
  ) =>
    orders.filter(([, order], i) =>
      i < best || touched.has(order.oid) || (keepLast && i === orders.length - 1)
    );
  const snapshot = [
    height,
    coins.map(([coin, [bids, asks]]) => [coin, [cut(bids, true), cut(asks, false)]]),
  ] as unknown as SnapshotFile;
  const books = Books.fromSnapshot(snapshot);
  for (const block of fixture.blocks) {
    const result = books.applyBlock(block);
    assert.ok(result.ok, !result.ok ? `trimmed snapshot: ${result.error.message}` : "");
  }
  trimmed = { ...fixture, snapshot, snapshotText: JSON.stringify(snapshot) };
  trimmedFixtures.set(fixture, trimmed);
  return trimmed;
}
const trimmedFixtures = new WeakMap<Fixture, Fixture>();

// The fixture's snapshot as Books, built once per module: every Reference starts from its own copy (a copy costs
// a fraction of a load of the 51,351 orders, and every test step makes a Reference).
const snapshotBooks = new WeakMap<Fixture, Books>();

/** Offline reference: the fixture's snapshot with the fixture's blocks applied up to any height. */
export class Reference {
  #books: Books | null = null;
  constructor(readonly fixture: Fixture) {}
  /** The reference book at `height` (moving forward only is cheap). */
  at(height: number): Books {
    if (!this.#books || height < this.#books.height) {
      let start = snapshotBooks.get(this.fixture);
      if (!start) snapshotBooks.set(this.fixture, start = Books.fromSnapshot(this.fixture.snapshot));
      this.#books = start.clone();
    }
    while (this.#books.height < height) {
      const block = this.fixture.blocks[this.#books.height + 1 - this.fixture.first];
      assert.ok(block, `no fixture block ${this.#books.height + 1}`);
      const result = this.#books.applyBlock(block);
      assert.ok(result.ok, !result.ok ? result.error.message : "");
    }
    return this.#books;
  }
}

const STREAMS = {
  "by-block": {
    statuses: "node_order_statuses_by_block",
    diffs: "node_raw_book_diffs_by_block",
    fills: "node_fills_by_block",
  },
  streaming: {
    statuses: "node_order_statuses_streaming",
    diffs: "node_raw_book_diffs_streaming",
    fills: "node_fills_streaming",
  },
} as const;

type Stream = "statuses" | "diffs" | "fills";

/** How the info server answers: the true book at the written height, a given snapshot, or an error. */
export type SnapshotAnswer = SnapshotFile | "fail" | "truth" | "lie";

// The node's truth is the same for every test of a module: share it (and its snapshot texts) to save CPU.
const truths = new WeakMap<Fixture, { reference: Reference; texts: Map<number, string> }>();
function truthOf(fixture: Fixture): { reference: Reference; texts: Map<number, string> } {
  let truth = truths.get(fixture);
  if (!truth) truths.set(fixture, truth = { reference: new Reference(fixture), texts: new Map() });
  return truth;
}

/** Writes node files and serves snapshots. Dispose with `close()`. */
export class FakeNode {
  readonly root: string;
  readonly dataDir: string;
  readonly snapshotPath: string;
  readonly truth: Reference;
  readonly #truthTexts: Map<number, string>;
  /** Height of the last block written to every stream. */
  written: number;
  hour = 17;
  date = "20260505";
  /** Decides each snapshot answer; default: the truth at the written height. */
  answer: (request: number) => SnapshotAnswer | Promise<SnapshotAnswer> = () => "truth";
  requests = 0;
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;
  #port = 0;

  constructor(readonly fixture: Fixture, readonly mode: "by-block" | "streaming" = "by-block") {
    this.root = Deno.makeTempDirSync({ prefix: "hlbook-node-" });
    this.dataDir = `${this.root}/hl/data`;
    this.snapshotPath = `${this.root}/snapshot.json`;
    ({ reference: this.truth, texts: this.#truthTexts } = truthOf(fixture));
    this.written = fixture.first - 1;
  }

  get infoUrl(): string {
    return `http://127.0.0.1:${this.#port}/info`;
  }

  /** Reserves a port without serving (the info server is "down" until `serve()`). */
  reservePort(): void {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#port = (listener.addr as Deno.NetAddr).port;
    listener.close();
  }

  /** Starts the fake info server (on the reserved port, if any). */
  serve(): void {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: this.#port, onListen: () => {} },
      async (request) => {
        const body = await request.json();
        if (
          body?.type !== "fileSnapshot" || body.request?.type !== "l4Snapshots" || !body.includeHeightInOutput
        ) {
          return new Response("bad request", { status: 400 });
        }
        const answer = await this.answer(this.requests++);
        if (answer === "fail") return new Response("node busy", { status: 503 });
        const text = answer === "truth"
          ? this.#truthText(this.written)
          : answer === "lie"
          ? JSON.stringify(this.#lie(this.written))
          : JSON.stringify(answer);
        await Deno.writeTextFile(body.outPath, text);
        return Response.json({});
      },
    );
    this.#port = this.#server.addr.port;
  }

  /** The truth at `height` without its deepest bid (one that no fixture block touches). */
  #lie(height: number): SnapshotFile {
    const [h, [[coin, [bids, asks]]]] = this.truth.at(height).toSnapshot();
    return [h, [[coin, [bids.slice(0, -1), asks]]]];
  }

  /** The node's snapshot text at `height` (computed once per height). */
  #truthText(height: number): string {
    if (height === this.fixture.first - 1) return this.fixture.snapshotText;
    let text = this.#truthTexts.get(height);
    if (text === undefined) {
      text = JSON.stringify(this.truth.at(height).toSnapshot());
      this.#truthTexts.set(height, text);
    }
    return text;
  }

  /** Creates the (empty) current hourly file of every stream. */
  async createFiles(): Promise<void> {
    for (const stream of ["statuses", "diffs", "fills"] as const) {
      await Deno.mkdir(this.#dir(stream), { recursive: true });
      await Deno.writeFile(this.#file(stream), new Uint8Array(), { append: true });
    }
  }

  #dir(stream: Stream): string {
    return `${this.dataDir}/${STREAMS[this.mode][stream]}/hourly/${this.date}`;
  }
  #file(stream: Stream): string {
    return `${this.#dir(stream)}/${this.hour}`;
  }

  /** Appends text to a stream's current hourly file, optionally in two writes. */
  async append(stream: Stream, text: string, split = false): Promise<void> {
    await Deno.mkdir(this.#dir(stream), { recursive: true });
    const bytes = new TextEncoder().encode(text);
    if (!split) {
      await Deno.writeFile(this.#file(stream), bytes, { append: true });
      return;
    }
    const half = Math.floor(bytes.length / 2);
    await Deno.writeFile(this.#file(stream), bytes.subarray(0, half), { append: true });
    await sleep(3);
    await Deno.writeFile(this.#file(stream), bytes.subarray(half), { append: true });
  }

  /** Writes the by-block lines of one block (fills, diffs, statuses, as the node does). */
  async writeBlock(height: number, options: { split?: boolean; skip?: boolean } = {}): Promise<void> {
    const i = height - this.fixture.first;
    if (!options.skip) {
      await this.append("fills", this.fixture.lines.fills[i] + "\n");
      await this.append("diffs", this.fixture.lines.diffs[i] + "\n", options.split);
      await this.append("statuses", this.fixture.lines.statuses[i] + "\n", options.split);
    }
    this.written = height;
  }

  /** Writes by-block lines `from..to` with small pauses, splitting every 4th, rotating at `rotateAt`. */
  async writeBlocks(
    from: number,
    to: number,
    options: { rotateAt?: number; pauseMs?: number } = {},
  ): Promise<void> {
    for (let h = from; h <= to; h++) {
      if (h === options.rotateAt) this.hour++;
      await this.writeBlock(h, { split: h % 4 === 0 });
      await sleep(options.pauseMs ?? 4);
    }
  }

  /** Writes the streaming lines of blocks `from..to` (one event per line), several lines per write. */
  async writeStreaming(from: number, to: number, options: { rotateAt?: number } = {}): Promise<void> {
    for (let h = from; h <= to; h++) {
      if (h === options.rotateAt) this.hour++;
      for (const stream of ["fills", "diffs", "statuses"] as const) {
        const lines = this.fixture.streaming[stream].filter(([n]) => n === h).map(([, line]) => line + "\n");
        // A few writes per block, the middle one cut in two.
        const third = Math.ceil(lines.length / 3);
        for (let k = 0; k < lines.length; k += third) {
          await this.append(stream, lines.slice(k, k + third).join(""), k === third);
        }
      }
      this.written = h;
      await sleep(3);
    }
  }

  async close(): Promise<void> {
    await this.#server?.shutdown();
    Deno.removeSync(this.root, { recursive: true });
  }
}

/** Records what the pipeline reports and checks the book after every block against the offline replay. */
export class Observer implements IngestEvents {
  readonly states: IngestState[] = [];
  readonly mismatches: string[] = [];
  resets = 0;
  blocks = 0;
  trades = 0;
  books: Books | null = null;
  readonly #reference: Reference;
  readonly check: boolean;

  constructor(fixture: Fixture, options: { check?: boolean } = {}) {
    this.#reference = new Reference(fixture);
    this.check = options.check ?? true;
  }

  get phase(): IngestState["phase"] | undefined {
    return this.states.at(-1)?.phase;
  }
  get height(): number {
    return this.books?.height ?? 0;
  }

  #compare(books: Books): void {
    if (!this.check) return;
    const mismatch = compareBooks(this.#reference.at(books.height), books);
    if (mismatch) this.mismatches.push(`height ${books.height}: ${mismatch.message}`);
  }

  onReset(books: Books): void {
    this.resets++;
    this.books = books;
    this.#compare(books);
  }
  onBlock(books: Books): void {
    this.blocks++;
    this.books = books;
    this.#compare(books);
  }
  onTrades(trades: readonly unknown[]): void {
    this.trades += trades.length;
  }
  onState(state: IngestState): void {
    this.states.push(state);
  }

  /** Waits until the live book is at `height`, then checks it against the reference. */
  async reaches(height: number, timeout = 30_000): Promise<void> {
    await waitFor(`the book to reach ${height} (at ${this.height})`, () => this.height >= height, timeout);
    assert.equal(this.height, height);
    const mismatch = compareBooks(this.#reference.at(height), this.books as Books);
    assert.equal(mismatch, null);
  }
}
