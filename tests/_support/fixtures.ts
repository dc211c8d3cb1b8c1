/**
 * The one way tests reach the real mainnet fixture in `../shared/fixtures/mainnet-btc-985148181`.
 * Without `../shared`, the tests that need it are skipped and say so in their names (`fixtureTest`); with
 * `CI` set they run and fail loudly instead, so a CI without the fixture can never pass by skipping.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseNodeTime } from "../../src/book/mod.ts";
import type { BlockInput, BookDiffEvent, OrderStatusEvent } from "../../src/book/mod.ts";

/** Directory of the real BTC fixture (snapshot + 51 blocks). */
export const FIXTURE_DIR = fileURLToPath(
  new URL("../../../shared/fixtures/mainnet-btc-985148181/", import.meta.url),
);

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when the fixture can be read. */
export const FIXTURE_AVAILABLE = exists(`${FIXTURE_DIR}snapshot.json.gz`);
const REQUIRED = Deno.env.get("CI") !== undefined;

/**
 * Options for a test that needs the fixture: without it the test is ignored and its name says why; with
 * `CI` set it runs (and fails on the first read, naming the missing directory).
 */
export function fixtureTest(name: string): { name: string; ignore: boolean } {
  const skip = !FIXTURE_AVAILABLE && !REQUIRED;
  return {
    name: skip ? `${name} [skipped: no ${FIXTURE_DIR}, needs ../shared beside the checkout]` : name,
    ignore: skip,
  };
}

function missing(): Error {
  return new Error(`the real fixture ${FIXTURE_DIR} is missing (CI is set, so tests that need it fail)`);
}

/** The decompressed text of a fixture file such as `snapshot.json.gz`. */
export async function readFixtureText(name: string): Promise<string> {
  if (!FIXTURE_AVAILABLE) throw missing();
  const file = await Deno.open(`${FIXTURE_DIR}${name}`);
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip")).pipeThrough(
    new TextDecoderStream(),
  );
  let text = "";
  for await (const chunk of stream) text += chunk;
  return text;
}

/** The non-empty lines of a decompressed `.jsonl.gz` fixture file. */
export async function readFixtureLines(name: string): Promise<string[]> {
  return (await readFixtureText(name)).split("\n").filter((line) => line.length > 0);
}

/** The fixture's L4 snapshot, parsed (`[height, [[coin, [bids, asks]]]]`). */
export async function readFixtureSnapshot(): Promise<unknown> {
  return JSON.parse(await readFixtureText("snapshot.json.gz"));
}

interface RawBatch<E> {
  block_time: string;
  block_number: number;
  events: E[];
}

/**
 * The fixture's 51 real blocks as `BlockInput`s, statuses and diffs paired by block number with plain
 * `JSON.parse` (independent of hlbook's node parser).
 */
export async function readFixtureBlocks(): Promise<BlockInput[]> {
  const statusLines = await readFixtureLines("node_order_statuses_by_block.jsonl.gz");
  const diffLines = await readFixtureLines("node_raw_book_diffs_by_block.jsonl.gz");
  const statuses = new Map<number, RawBatch<OrderStatusEvent>>();
  for (const line of statusLines) {
    const b = JSON.parse(line) as RawBatch<OrderStatusEvent>;
    statuses.set(b.block_number, b);
  }
  const blocks: BlockInput[] = [];
  for (const line of diffLines) {
    const d = JSON.parse(line) as RawBatch<BookDiffEvent>;
    const s = statuses.get(d.block_number);
    if (s === undefined) throw new Error(`no statuses for block ${d.block_number}`);
    blocks.push({
      height: d.block_number,
      time: parseNodeTime(d.block_time),
      statuses: s.events,
      diffs: d.events,
    });
  }
  blocks.sort((a, b) => a.height - b.height);
  return blocks;
}
