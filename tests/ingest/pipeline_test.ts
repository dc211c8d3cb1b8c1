import assert from "node:assert/strict";
import { startIngest } from "../../src/ingest/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { fixtureTest } from "../_support/fixtures.ts";
import { FakeNode, loadFixture, Observer, trimmedFixture } from "./_fake_node.ts";
import { ingestOptions } from "./_helpers.ts";
import { sleep, waitFor } from "../_support/wait.ts";

const LAST = 985148232;

Deno.test(fixtureTest("ingestion of real node output, written live"), async (t) => {
  const fixture = await loadFixture();
  const first = fixture.first;

  await t.step(
    "by-block: the book equals the offline replay after every block, across a rotation",
    async () => {
      const node = new FakeNode(fixture);
      const metrics = new Metrics();
      const observer = new Observer(fixture);
      await node.createFiles();
      // The node's snapshot lags: it answers only once 10 blocks are written, at the height before them, so
      // the pipeline must replay the 10 cached blocks onto it before serving.
      const released = Promise.withResolvers<void>();
      node.answer = async () => {
        await released.promise;
        return fixture.snapshot;
      };
      node.serve();
      const ingest = startIngest(ingestOptions(node, metrics), observer);
      try {
        await sleep(150); // let the tailers position themselves at the (empty) files' ends
        await node.writeBlocks(first, first + 9);
        await waitFor("the tailers to read the 10 blocks", () => metrics.value("hlbook_cached_blocks") >= 10);
        assert.equal(observer.resets, 0, "nothing is served before the snapshot answers");
        released.resolve();
        await waitFor("the book to go live", () => observer.resets > 0);
        assert.equal(observer.height, first + 9, "the snapshot was brought forward by the cached blocks");
        await observer.reaches(first + 9);
        assert.equal(observer.resets, 1);
        assert.equal(node.requests, 1, "one snapshot, brought forward by the cached blocks");
        await node.writeBlocks(first + 10, LAST, { rotateAt: first + 25 });
        await observer.reaches(LAST);
        assert.deepEqual(observer.mismatches, []);
        // Fills are a stream of their own: their tailer may read the last block's fills a moment later.
        await waitFor("the fixture's 11 trades", () => observer.trades >= 11, 10_000);
        assert.equal(observer.trades, 11);
        assert.equal(ingest.state.phase, "ready");
        assert.equal(ingest.state.height, LAST);
        assert.equal(metrics.value("hlbook_height"), LAST);
        assert.equal(metrics.value("hlbook_resyncs_total"), 0);
        assert.equal(metrics.value("hlbook_malformed_lines_total"), 0);
        assert.equal(metrics.value("hlbook_odd_fills_total"), 0);
        assert.deepEqual(observer.states.map((state) => state.phase), ["starting", "ready"]);
      } finally {
        await ingest.stop();
        await node.close();
      }
    },
  );

  await t.step("a snapshot older than the cached blocks is not used: hlbook asks again", async () => {
    // About snapshot age, not book size: the trimmed snapshot (the real blocks apply to it) loads in a fraction
    // of the time, twice here.
    const trimmed = trimmedFixture(fixture);
    const node = new FakeNode(trimmed);
    const metrics = new Metrics();
    const observer = new Observer(trimmed);
    await node.createFiles();
    // The first answer is 10 blocks behind while only 5 are cached; the second is at the head.
    const released = Promise.withResolvers<void>();
    node.answer = async (n) => {
      if (n > 0) return "truth";
      await released.promise;
      return trimmed.snapshot;
    };
    node.serve();
    const ingest = startIngest(ingestOptions(node, metrics, { blockCache: 5 }), observer);
    try {
      await sleep(150);
      await node.writeBlocks(first, first + 9);
      await waitFor("the tailers to read the 10 blocks", () => metrics.value("hlbook_cached_blocks") >= 5);
      released.resolve();
      await waitFor("the book to go live", () => observer.resets > 0);
      assert.equal(observer.height, first + 9, "served from the second snapshot, at the head");
      assert.equal(node.requests, 2, "the too-old snapshot was not served");
      assert.equal(observer.resets, 1);
      await node.writeBlocks(first + 10, first + 20);
      await observer.reaches(first + 20);
      assert.deepEqual(observer.mismatches, []);
      assert.equal(metrics.value("hlbook_resyncs_total"), 0);
    } finally {
      await ingest.stop();
      await node.close();
    }
  });

  await t.step("streaming: the book ends equal to by-block mode", async () => {
    // The real streaming lines; the book is checked after every block, on the trimmed snapshot (the by-block
    // step above carries the whole one) so that each check compares a few thousand orders, not 51,351.
    const trimmed = trimmedFixture(fixture);
    const node = new FakeNode(trimmed, "streaming");
    const metrics = new Metrics();
    const observer = new Observer(trimmed);
    await node.createFiles();
    node.serve();
    const ingest = startIngest(ingestOptions(node, metrics), observer);
    try {
      await waitFor("the snapshot", () => observer.phase === "ready");
      await sleep(100);
      await node.writeStreaming(first, LAST, { rotateAt: first + 30 });
      // The last block completes only when a later block appears; the fixture ends there.
      await observer.reaches(LAST - 1);
      assert.deepEqual(observer.mismatches, []);
      // Fills are a stream of their own: their tailer may read the last block's fills a moment later.
      await waitFor("the fixture's 11 trades", () => observer.trades >= 11, 10_000);
      assert.equal(observer.trades, 11);
      assert.equal(metrics.value("hlbook_resyncs_total"), 0);
    } finally {
      await ingest.stop();
      await node.close();
    }
  });
});
