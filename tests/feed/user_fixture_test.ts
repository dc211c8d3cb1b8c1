import assert from "node:assert/strict";
import { Feed, parseInfoRequest } from "../../src/feed/mod.ts";
import { TradeAssembler } from "../../src/ingest/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { parseFillLine } from "../../src/node/mod.ts";
import { fixtureTest, readFixtureLines } from "../_support/fixtures.ts";
import { RecordingSink } from "./_user_harness.ts";

/** A maker that traded several times in the fixture's blocks. */
const USER = "0x5eaac7c475b1fad85701f02c4e9e796a53f94bd5";

function run(lines: readonly string[], mode: "by-block" | "streaming"): { feed: Feed; sink: RecordingSink } {
  const feed = new Feed({ metrics: new Metrics() });
  const sink = new RecordingSink();
  const client = feed.attach(sink, { maxSubscriptions: 10, maxBuffered: 1 << 30 });
  feed.handle(
    client,
    JSON.stringify({ method: "subscribe", subscription: { type: "userFills", user: USER } }),
  );
  const assembler = new TradeAssembler(mode);
  for (const line of lines) {
    const parsed = parseFillLine(line);
    if (!parsed.ok) throw new Error(parsed.error);
    feed.fills(parsed.batch.blockNumber, parsed.batch.events);
    feed.trades(assembler.push(parsed.batch).trades);
  }
  // The next block's fills line sends the last pending block.
  feed.fills(Number.MAX_SAFE_INTEGER, []);
  return { feed, sink };
}

Deno.test({
  ...fixtureTest("the real mainnet fills give the expected userFills for one of their users"),
  fn: async (t) => {
    const lines = await readFixtureLines("node_fills_by_block.jsonl.gz");
    // The user's fills exactly as the node wrote them, per block.
    const perBlock = lines.map((line) => JSON.parse(line)).map((b) => ({
      block: b.block_number as number,
      fills: (b.events as [string, unknown][]).filter(([u]) => u === USER).map(([, f]) => f),
    })).filter((b) => b.fills.length > 0);
    assert.ok(perBlock.length >= 3, "the fixture user trades in several blocks");

    await t.step("by-block files: a snapshot, then one message per block with the node's fills", () => {
      const { feed, sink } = run(lines, "by-block");
      const messages = sink.of("userFills");
      assert.deepEqual(messages[0].data, { isSnapshot: true, user: USER, fills: [] });
      assert.deepEqual(
        messages.slice(1).map((m) => m.data),
        perBlock.map((b) => ({ user: USER, fills: b.fills })),
      );
      const parsed = parseInfoRequest(
        { type: "userFills", user: USER.toUpperCase().replace("0X", "0x") },
        null,
      );
      assert.ok(parsed.ok);
      const answer = feed.info(parsed.request);
      assert.ok(answer.ok);
      assert.deepEqual(JSON.parse(answer.json), perBlock.flatMap((b) => b.fills).reverse());
      // Served as the node wrote them: same keys in the same order.
      const nodeText = lines.find((l) => l.includes(USER)) ?? "";
      const firstFill = JSON.stringify(JSON.parse(nodeText).events.find(([u]: [string]) => u === USER)[1]);
      assert.ok(answer.json.includes(firstFill));
    });

    await t.step("streaming files (one fill per line): still one message per block", async () => {
      const streaming = await readFixtureLines("node_fills_streaming.jsonl.gz");
      const { sink } = run(streaming, "streaming");
      assert.deepEqual(
        sink.of("userFills").slice(1).map((m) => m.data),
        perBlock.map((b) => ({ user: USER, fills: b.fills })),
      );
    });
  },
});
