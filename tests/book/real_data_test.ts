import assert from "node:assert/strict";
import { Books, compareBooks, type L2Params, type SnapshotFile } from "../../src/book/mod.ts";
import { scanLevels } from "../../src/book/l2.ts";
import { fixtureTest, readFixtureBlocks, readFixtureSnapshot } from "../_support/fixtures.ts";

Deno.test({
  ...fixtureTest("the real BTC snapshot plus 51 real blocks apply with no inconsistency"),
  async fn(t) {
    const file = (await readFixtureSnapshot()) as SnapshotFile;
    const blocks = await readFixtureBlocks();
    const books = Books.fromSnapshot(file);

    await t.step("the snapshot loads every non-trigger order at its height", () => {
      assert.equal(books.height, 985148181);
      assert.equal(books.coins().join(), "BTC");
      assert.equal(books.orderCount("BTC"), 51_351);
    });

    await t.step("loadSnapshot yields between chunks and builds the same books", () => {
      const gen = Books.loadSnapshot(file);
      let yields = 0;
      let r = gen.next();
      while (!r.done) {
        yields++;
        r = gen.next();
      }
      assert.ok(yields >= 2, `expected at least 2 yields, got ${yields}`);
      assert.equal(compareBooks(books, r.value), null);
    });

    const views: L2Params[] = [];
    for (const nLevels of [1, 20, 100]) {
      for (
        const [nSigFigs, mantissa] of [[2, null], [3, null], [4, null], [5, null], [5, 2], [5, 5]] as const
      ) {
        views.push({ nSigFigs, mantissa, nLevels });
      }
    }
    for (const p of views) books.l2("BTC", p); // builds the maintained buckets before the blocks

    await t.step("all 51 blocks apply in order", () => {
      assert.equal(blocks.length, 51);
      let diffs = 0;
      for (const block of blocks) {
        const r = books.applyBlock(block);
        if (!r.ok) assert.fail(r.error.message);
        diffs += block.diffs.length;
        assert.equal(r.diff.height, block.height);
      }
      assert.equal(diffs, 1332);
      assert.equal(books.height, 985148232);
    });

    await t.step("the final book has 51,336 orders and the expected BBO", () => {
      assert.equal(books.orderCount(), 51_336);
      const [bid, ask] = books.bbo("BTC");
      assert.deepEqual(bid, { px: "81307.0", sz: "2.80623", n: 9 });
      assert.deepEqual(ask, { px: "81308.0", sz: "8.81056", n: 58 });
      assert.equal(books.mid("BTC"), "81307.5");
      const [bids, asks] = books.l2("BTC", { nSigFigs: null, mantissa: null, nLevels: 20 });
      assert.equal(bids.length, 20);
      assert.equal(asks.length, 20);
      assert.deepEqual(bids[0], bid);
      assert.deepEqual(asks[0], ask);
    });

    await t.step("maintained coarse views equal a fresh scan of the levels", () => {
      const book = books.book("BTC");
      assert.ok(book !== undefined);
      for (const p of views) {
        const [bids, asks] = books.l2("BTC", p);
        assert.equal(bids.length, p.nLevels);
        assert.deepEqual(bids, scanLevels(book.bids, p), JSON.stringify(p));
        assert.deepEqual(asks, scanLevels(book.asks, p), JSON.stringify(p));
      }
      const fresh = books.clone(); // no maintained buckets: built from the levels on first use
      for (const p of views) assert.deepEqual(fresh.l2("BTC", p), books.l2("BTC", p));
    });

    await t.step("toSnapshot round-trips through fromSnapshot", () => {
      const again = Books.fromSnapshot(books.toSnapshot());
      assert.equal(compareBooks(books, again), null);
      assert.equal(again.orderCount(), 51_336);
    });
  },
});
