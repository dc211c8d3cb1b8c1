import assert from "node:assert/strict";
import type { BlockInput, BookDiffEvent, OrderStatusEvent, Trade } from "../../src/book/types.ts";
import { type AlignFault, BlockAligner, TradeAssembler } from "../../src/ingest/aligner.ts";
import {
  type Batch,
  type FillEvent,
  parseDiffLine,
  parseFillLine,
  parseStatusLine,
} from "../../src/node/mod.ts";
import { fixtureTest, readFixtureLines } from "../_support/fixtures.ts";

function batch<E>(blockNumber: number, events: E[] = []): Batch<E> {
  return { blockNumber, blockTime: blockNumber * 100, localTime: "", events };
}

function collect(mode: "by-block" | "streaming", skipFirstBlock = false, maxPending = 10) {
  const blocks: BlockInput[] = [];
  const faults: AlignFault[] = [];
  const aligner = new BlockAligner({
    mode,
    maxPending,
    skipFirstBlock,
    onBlock: (block) => blocks.push(block),
    onFault: (fault) => faults.push(fault),
  });
  return { aligner, blocks, faults, heights: () => blocks.map((block) => block.height) };
}

const S = (tag: string) => ({ tag }) as unknown as OrderStatusEvent;
const D = (tag: string) => ({ tag }) as unknown as BookDiffEvent;

Deno.test("the aligner pairs by-block statuses and diffs", async (t) => {
  await t.step("a block is emitted once both streams have it, in order", () => {
    const { aligner, blocks, heights } = collect("by-block");
    aligner.pushDiffs(batch(10, [D("d10")]));
    assert.equal(blocks.length, 0);
    aligner.pushStatuses(batch(10, [S("s10")]));
    aligner.pushStatuses(batch(11));
    aligner.pushStatuses(batch(12));
    aligner.pushDiffs(batch(11));
    aligner.pushDiffs(batch(12));
    assert.deepEqual(heights(), [10, 11, 12]);
    assert.deepEqual(blocks[0], { height: 10, time: 1000, statuses: [S("s10")], diffs: [D("d10")] });
  });
  await t.step("streams that start at different blocks begin at the first common one", () => {
    const { aligner, heights, faults } = collect("by-block");
    aligner.pushStatuses(batch(10));
    aligner.pushStatuses(batch(11));
    aligner.pushDiffs(batch(11));
    aligner.pushDiffs(batch(12));
    aligner.pushStatuses(batch(12));
    assert.deepEqual(heights(), [11, 12]);
    assert.equal(faults.length, 0);
  });
  await t.step("a gap is a fault and a new chain starts after it", () => {
    const { aligner, heights, faults } = collect("by-block");
    aligner.pushStatuses(batch(10));
    aligner.pushDiffs(batch(10));
    aligner.pushStatuses(batch(12));
    assert.equal(faults.length, 1);
    assert.equal(faults[0].kind, "gap");
    assert.equal(faults[0].stream, "statuses");
    assert.equal(faults[0].block, 12);
    aligner.pushDiffs(batch(11)); // stale: the other stream's old block is dropped
    aligner.pushDiffs(batch(12));
    assert.deepEqual(heights(), [10, 12]);
  });
  await t.step("a duplicate is a fault", () => {
    const { aligner, faults } = collect("by-block");
    aligner.pushStatuses(batch(10));
    aligner.pushStatuses(batch(10));
    assert.equal(faults[0]?.kind, "duplicate");
  });
  await t.step("one stream running too far ahead is a fault", () => {
    const { aligner, faults } = collect("by-block", false, 3);
    for (let n = 1; n <= 5; n++) aligner.pushStatuses(batch(n));
    assert.equal(faults[0]?.kind, "overflow");
  });
});

Deno.test("the aligner assembles streaming blocks", async (t) => {
  await t.step("a block completes when both streams moved past it; empty blocks are filled in", () => {
    const { aligner, blocks, heights } = collect("streaming");
    aligner.pushStatuses(batch(10, [S("a")]));
    aligner.pushStatuses(batch(10, [S("b")]));
    aligner.pushDiffs(batch(10, [D("x")]));
    aligner.pushStatuses(batch(11, [S("c")]));
    assert.equal(blocks.length, 0);
    aligner.pushStatuses(batch(13, [S("d")]));
    aligner.pushDiffs(batch(12, [D("y")]));
    assert.deepEqual(heights(), [10, 11]);
    aligner.pushDiffs(batch(14, [D("z")]));
    assert.deepEqual(heights(), [10, 11, 12]);
    assert.deepEqual(blocks[0].statuses, [S("a"), S("b")]);
    assert.deepEqual(blocks[1], { height: 11, time: 1100, statuses: [S("c")], diffs: [] });
    assert.deepEqual(blocks[2], { height: 12, time: 1200, statuses: [], diffs: [D("y")] });
  });
  await t.step("the first, possibly partial, block of each stream is skipped when asked", () => {
    const { aligner, heights } = collect("streaming", true);
    aligner.pushStatuses(batch(10, [S("late half")]));
    aligner.pushDiffs(batch(10, [D("late half")]));
    aligner.pushStatuses(batch(11));
    aligner.pushDiffs(batch(11));
    aligner.pushStatuses(batch(12));
    aligner.pushDiffs(batch(12));
    assert.deepEqual(heights(), [11]);
  });
  await t.step("a stream running too far ahead of one that never started is a fault", () => {
    const { aligner, faults, blocks } = collect("streaming", false, 3);
    for (let n = 1; n <= 5; n++) aligner.pushStatuses(batch(n, [S(`s${n}`)]));
    assert.deepEqual(faults.map((f) => [f.kind, f.stream]), [["overflow", "statuses"]]);
    assert.equal(blocks.length, 0);
  });
  await t.step("a stream running too far ahead of the other is a fault", () => {
    const { aligner, faults, heights } = collect("streaming", false, 3);
    aligner.pushDiffs(batch(1));
    aligner.pushDiffs(batch(2));
    for (let n = 1; n <= 4; n++) aligner.pushStatuses(batch(n));
    assert.deepEqual(heights(), [1]);
    assert.equal(faults.length, 0, "three blocks ahead is within maxPending");
    for (let n = 5; n <= 7; n++) aligner.pushStatuses(batch(n));
    assert.equal(faults[0]?.kind, "overflow");
    assert.equal(faults[0]?.stream, "statuses");
  });
  await t.step("a block number going backwards is a fault", () => {
    const { aligner, faults } = collect("streaming");
    aligner.pushStatuses(batch(10));
    aligner.pushStatuses(batch(9));
    assert.equal(faults[0]?.kind, "duplicate");
  });
});

function fill(user: string, side: "B" | "A", tid: number, crossed: boolean): FillEvent {
  return [user, {
    coin: "BTC",
    px: "81308.0",
    sz: "0.5",
    side,
    time: 5,
    hash: `0x${tid}`,
    tid,
    crossed,
    oid: 1,
  }];
}

Deno.test("fills become trades", async (t) => {
  await t.step("the taker's side is the trade's side and users are [buyer, seller]", () => {
    const trades = new TradeAssembler("by-block");
    const result = trades.push(
      batch(1, [
        fill("0xs", "A", 7, true),
        fill("0xb", "B", 7, false),
        fill("0xb2", "B", 8, true),
        fill("0xs2", "A", 8, false),
      ]),
    );
    assert.deepEqual(result.odd, []);
    assert.deepEqual(
      result.trades,
      [
        {
          coin: "BTC",
          side: "A",
          px: "81308.0",
          sz: "0.5",
          hash: "0x7",
          time: 5,
          tid: 7,
          users: ["0xb", "0xs"],
        },
        {
          coin: "BTC",
          side: "B",
          px: "81308.0",
          sz: "0.5",
          hash: "0x8",
          time: 5,
          tid: 8,
          users: ["0xb2", "0xs2"],
        },
      ] satisfies Trade[],
    );
  });
  await t.step("a lone fill is reported as odd, not fatal", () => {
    const trades = new TradeAssembler("by-block");
    const result = trades.push(batch(1, [fill("0xs", "A", 7, true)]));
    assert.equal(result.trades.length, 0);
    assert.equal(result.odd.length, 1);
    assert.equal(result.odd[0].tid, 7);
  });
  await t.step("two fills on the same side are odd", () => {
    const result = new TradeAssembler("by-block").push(
      batch(1, [fill("a", "A", 7, true), fill("b", "A", 7, false)]),
    );
    assert.equal(result.trades.length, 0);
    assert.equal(result.odd.length, 1);
  });
  await t.step("streaming fills pair across lines; a fill alone when the next block starts is odd", () => {
    const trades = new TradeAssembler("streaming");
    assert.equal(trades.push(batch(1, [fill("0xs", "A", 7, true)])).trades.length, 0);
    assert.equal(trades.push(batch(1, [fill("0xb", "B", 7, false)])).trades.length, 1);
    assert.equal(trades.push(batch(2, [fill("0xb", "B", 9, false)])).trades.length, 0);
    const result = trades.push(batch(3, []));
    assert.equal(result.odd.length, 1);
  });
});

async function fixtureBatches<E>(
  name: string,
  parse: (line: string) => { ok: boolean },
): Promise<Batch<E>[]> {
  return (await readFixtureLines(name)).map((line) => {
    const result = parse(line) as { ok: true; batch: Batch<E> };
    assert.ok(result.ok);
    return result.batch;
  });
}

Deno.test(
  fixtureTest("real streaming output aligns to the same blocks and trades as by-block output"),
  async () => {
    const run = async (mode: "by-block" | "streaming") => {
      const suffix = mode === "by-block" ? "by_block" : "streaming";
      const statuses = await fixtureBatches<OrderStatusEvent>(
        `node_order_statuses_${suffix}.jsonl.gz`,
        parseStatusLine,
      );
      const diffs = await fixtureBatches<BookDiffEvent>(
        `node_raw_book_diffs_${suffix}.jsonl.gz`,
        parseDiffLine,
      );
      const fills = await fixtureBatches<FillEvent>(`node_fills_${suffix}.jsonl.gz`, parseFillLine);
      const { aligner, blocks, faults } = collect(mode, false, 100_000);
      // Interleave by block number, as live tailing would.
      let i = 0;
      let j = 0;
      while (i < statuses.length || j < diffs.length) {
        if (j >= diffs.length || (i < statuses.length && statuses[i].blockNumber <= diffs[j].blockNumber)) {
          aligner.pushStatuses(statuses[i++]);
        } else aligner.pushDiffs(diffs[j++]);
      }
      const assembler = new TradeAssembler(mode);
      const trades = fills.flatMap((line) => {
        const result = assembler.push(line);
        assert.deepEqual(result.odd, []);
        return result.trades;
      });
      assert.deepEqual(faults, []);
      return { blocks, trades };
    };
    const byBlock = await run("by-block");
    const streaming = await run("streaming");
    assert.equal(byBlock.blocks.length, 51);
    assert.equal(byBlock.blocks[0].height, 985148182);
    assert.equal(byBlock.trades.length, 11);
    // The streaming files end with the last block still open: it is complete only when a later one appears.
    assert.equal(streaming.blocks.length, 50);
    // Blocks without any event have no streaming line, so their time is not known: the previous one is used.
    const withoutEmptyTimes = (blocks: BlockInput[]) =>
      blocks.map((block) => block.statuses.length + block.diffs.length === 0 ? { ...block, time: 0 } : block);
    assert.deepEqual(withoutEmptyTimes(streaming.blocks), withoutEmptyTimes(byBlock.blocks.slice(0, 50)));
    assert.deepEqual(streaming.trades, byBlock.trades);
  },
);
