import assert from "node:assert/strict";
import { startIngest } from "../../src/ingest/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { fixtureIgnore } from "../_fixtures.ts";
import { FakeNode, loadFixture, Observer } from "./_fake_node.ts";
import { ingestOptions, pause, waitFor } from "./_helpers.ts";

const ignore = fixtureIgnore();
const LAST = 985148232;

Deno.test("ingestion of real node output, written live", { ignore }, async (t) => {
  const fixture = await loadFixture();
  const first = fixture.first;

  await t.step(
    "by-block: the book equals the offline replay after every block, across a rotation",
    async () => {
      const node = new FakeNode(fixture);
      const metrics = new Metrics();
      const observer = new Observer(fixture);
      await node.createFiles();
      // The node's snapshot lags: it answers only once 10 blocks are written, at the height before them.
      const released = Promise.withResolvers<void>();
      node.answer = () => fixture.snapshot;
      node.serve();
      const slowAnswer = node.answer;
      node.answer = (n) => slowAnswer(n);
      const ingest = startIngest(ingestOptions(node, metrics), observer);
      try {
        await pause(150); // let the tailers position themselves at the (empty) files' ends
        await node.writeBlocks(first, first + 9);
        released.resolve();
        await observer.reaches(first + 9);
        await node.writeBlocks(first + 10, LAST, { rotateAt: first + 25 });
        await observer.reaches(LAST);
        assert.deepEqual(observer.mismatches, []);
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

  await t.step("streaming: the book ends equal to by-block mode", async () => {
    const node = new FakeNode(fixture, "streaming");
    const metrics = new Metrics();
    const observer = new Observer(fixture);
    await node.createFiles();
    node.serve();
    const ingest = startIngest(ingestOptions(node, metrics), observer);
    try {
      await waitFor("the snapshot", () => observer.phase === "ready");
      await pause(100);
      await node.writeStreaming(first, LAST, { rotateAt: first + 30 });
      // The last block completes only when a later block appears; the fixture ends there.
      await observer.reaches(LAST - 1);
      assert.deepEqual(observer.mismatches, []);
      assert.equal(observer.trades, 11);
      assert.equal(metrics.value("hlbook_resyncs_total"), 0);
    } finally {
      await ingest.stop();
      await node.close();
    }
  });
});
