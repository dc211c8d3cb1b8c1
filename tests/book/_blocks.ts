/**
 * Test helper: the fixture's 51 real blocks as `BlockInput`s (statuses and diffs paired by block number).
 *
 * @module
 */
import { parseNodeTime } from "../../src/book/mod.ts";
import type { BlockInput, BookDiffEvent, OrderStatusEvent } from "../../src/book/mod.ts";
import { readFixtureLines } from "../_fixtures.ts";

interface Batch<E> {
  block_time: string;
  block_number: number;
  events: E[];
}

/** The real blocks in order. */
export async function readFixtureBlocks(): Promise<BlockInput[]> {
  const statusLines = await readFixtureLines("node_order_statuses_by_block.jsonl.gz");
  const diffLines = await readFixtureLines("node_raw_book_diffs_by_block.jsonl.gz");
  const statuses = new Map<number, Batch<OrderStatusEvent>>();
  for (const line of statusLines) {
    const b = JSON.parse(line) as Batch<OrderStatusEvent>;
    statuses.set(b.block_number, b);
  }
  const blocks: BlockInput[] = [];
  for (const line of diffLines) {
    const d = JSON.parse(line) as Batch<BookDiffEvent>;
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
