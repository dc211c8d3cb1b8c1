import { assert, assertEquals } from "../_support/assert.ts";
import { Books, compareBooks, parseNodeTime } from "../../src/book/mod.ts";
import type {
  BlockInput,
  BookDiffEvent,
  NodeOrder,
  OrderStatusEvent,
  SnapshotFile,
} from "../../src/book/mod.ts";
import { fixtureTest, readFixtureLines, readFixtureSnapshot } from "../_support/fixtures.ts";
import { applyL4Updates, withServer } from "../feed/_helpers.ts";
import { WsClient } from "../_support/ws_client.ts";

interface Batch<E> {
  block_time: string;
  block_number: number;
  events: E[];
}

async function realBlocks(): Promise<BlockInput[]> {
  const statuses = new Map<number, Batch<OrderStatusEvent>>();
  for (const line of await readFixtureLines("node_order_statuses_by_block.jsonl.gz")) {
    const batch = JSON.parse(line) as Batch<OrderStatusEvent>;
    statuses.set(batch.block_number, batch);
  }
  const blocks: BlockInput[] = [];
  for (const line of await readFixtureLines("node_raw_book_diffs_by_block.jsonl.gz")) {
    const d = JSON.parse(line) as Batch<BookDiffEvent>;
    blocks.push({
      height: d.block_number,
      time: parseNodeTime(d.block_time),
      statuses: statuses.get(d.block_number)?.events ?? [],
      diffs: d.events,
    });
  }
  return blocks.sort((a, b) => a.height - b.height);
}

Deno.test({
  ...fixtureTest(
    "on real mainnet blocks an l4Book client rebuilds the server's BTC book and l2Book matches /info",
  ),
  fn: async () => {
    const snapshot = (await readFixtureSnapshot()) as SnapshotFile;
    const books = Books.fromSnapshot(snapshot);
    const blocks = (await realBlocks()).filter((b) => b.height > books.height);
    assert(blocks.length > 10);
    await withServer(async ({ feed, url, http }) => {
      feed.reset(books);
      feed.state({ phase: "ready", height: books.height, time: books.time });
      const l4 = await WsClient.open(url);
      const l2 = await WsClient.open(url);
      try {
        l4.send({ method: "subscribe", subscription: { type: "l4Book", coin: "BTC" } });
        await l4.nextOn("subscriptionResponse");
        const snap = (await l4.next(20_000)).data.Snapshot;
        assertEquals(snap.height, books.height);
        l2.send({ method: "subscribe", subscription: { type: "l2Book", coin: "BTC", nSigFigs: 5 } });
        await l2.nextOn("subscriptionResponse");
        await l2.nextOn("l2Book");

        for (const block of blocks) {
          const result = books.applyBlock(block);
          assert(result.ok, result.ok ? "" : result.error.message);
          feed.block(books, result.diff);
          // Real blocks come ~15 a second: let the sockets drain between them as they would.
          await new Promise((resolve) => setTimeout(resolve, 5));
        }

        const side = (orders: { user: string }[]) =>
          orders.map(({ user, ...order }) => [user, order as unknown as NodeOrder] as const);
        const mirror = Books.fromSnapshot([snap.height, [[snap.coin, [
          side(snap.levels[0]),
          side(snap.levels[1]),
        ]]]]);
        applyL4Updates(mirror, await l4.collect(20_000));
        assertEquals(mirror.height, books.height);
        assertEquals(compareBooks(books, mirror), null);

        const updates = (await l2.collect()).map((text) => JSON.parse(text));
        assert(updates.length > 0);
        const info = await fetch(`${http}/info`, {
          method: "POST",
          body: '{"type":"l2Book","coin":"BTC","nSigFigs":5}',
        });
        assertEquals(await info.json(), updates[updates.length - 1].data);
      } finally {
        await l4.close();
        await l2.close();
      }
    });
  },
});
