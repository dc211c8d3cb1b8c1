import assert from "node:assert/strict";
import { type IngestOptions, startIngest } from "../../src/ingest/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { fixtureTest } from "../_support/fixtures.ts";
import { FakeNode, loadFixture, Observer, trimmedFixture } from "./_fake_node.ts";
import { ingestOptions } from "./_helpers.ts";
import { sleep, waitFor } from "../_support/wait.ts";

Deno.test(fixtureTest("ingestion recovers from faults"), async (t) => {
  // The real lines and blocks on a snapshot cut to the orders they touch and the best of each side: the faults
  // here are in the files and the snapshot requests, and these steps take some 20 snapshots between them
  // (pipeline_test loads the whole 51,351-order snapshot).
  const fixture = trimmedFixture(await loadFixture());
  const first = fixture.first;
  const END = first + 20;

  async function run(
    name: string,
    body: (node: FakeNode, observer: Observer, metrics: Metrics) => Promise<void>,
    extra: Partial<IngestOptions> = {},
    setup: (node: FakeNode) => Promise<void> = async (node) => {
      await node.createFiles();
      node.serve();
    },
  ) {
    await t.step(name, async () => {
      const node = new FakeNode(fixture);
      const metrics = new Metrics();
      // The live-like tests above check every block; here only the end state is checked (CI has 2 cores).
      const observer = new Observer(fixture, { check: false });
      await setup(node);
      const ingest = startIngest(ingestOptions(node, metrics, extra), observer);
      try {
        await body(node, observer, metrics);
        assert.deepEqual(observer.mismatches, []);
      } finally {
        await ingest.stop();
        await node.close();
      }
    });
  }

  await run("a malformed line re-syncs, then the book is correct", async (node, observer, metrics) => {
    await waitFor("the snapshot", () => observer.phase === "ready");
    await node.writeBlocks(first, first + 9);
    await node.append("statuses", '{"block_number":985148192,"events":[{"truncated\n');
    await node.writeBlocks(first + 10, END);
    await observer.reaches(END);
    assert.equal(metrics.value("hlbook_malformed_lines_total"), 1);
    assert.ok(metrics.value("hlbook_resyncs_total") >= 1);
    assert.ok(observer.states.some((state) => state.phase === "resyncing"));
    assert.equal(observer.phase, "ready");
  });

  await run("a missing block is detected and re-synced", async (node, observer, metrics) => {
    await waitFor("the snapshot", () => observer.phase === "ready");
    await node.writeBlocks(first, first + 9);
    await observer.reaches(first + 9);
    await node.writeBlock(first + 10, { skip: true });
    await node.writeBlocks(first + 11, END);
    await observer.reaches(END);
    assert.ok(metrics.value("hlbook_gaps_total") >= 1);
    assert.ok(metrics.value("hlbook_resyncs_total") >= 1);
  });

  await run("a re-sync at the chain's head knows the head block's time", async (node, observer, metrics) => {
    await waitFor("the snapshot", () => observer.phase === "ready");
    await node.writeBlocks(first, first + 5);
    await observer.reaches(first + 5);
    await node.writeBlock(first + 6, { skip: true });
    await node.writeBlock(first + 7);
    await waitFor(
      "the re-sync",
      () => metrics.value("hlbook_resyncs_total") >= 1 && observer.phase === "ready",
    );
    await observer.reaches(first + 7);
    assert.equal(observer.states.at(-1)?.time, fixture.blocks[7].time);
  });

  await run("a truncated file re-syncs, then the book is correct", async (node, observer, metrics) => {
    await waitFor("the snapshot", () => observer.phase === "ready");
    await node.writeBlocks(first, first + 9);
    await observer.reaches(first + 9);
    await Deno.truncate(`${node.dataDir}/node_order_statuses_by_block/hourly/20260505/17`, 0);
    await sleep(150);
    await node.writeBlocks(first + 10, END);
    await observer.reaches(END);
    assert.ok(metrics.value("hlbook_resyncs_total") >= 1);
  });

  await t.step("a disagreeing book is found by validation, counted and re-synced", async () => {
    const node = new FakeNode(fixture);
    const metrics = new Metrics();
    const observer = new Observer(fixture, { check: false });
    await node.createFiles();
    // The first snapshot misses one deep bid that no fixture block touches: the book starts wrong.
    const [height, [[coin, [bids, asks]]]] = fixture.snapshot;
    const wrong = [height, [[coin, [bids.slice(0, -1), asks]]]] as unknown as typeof fixture.snapshot;
    node.answer = (n) => n === 0 ? wrong : "truth";
    node.serve();
    const ingest = startIngest(ingestOptions(node, metrics, { validateInterval: 1000 }), observer);
    try {
      await waitFor("the snapshot", () => observer.phase === "ready");
      await node.writeBlocks(first, first + 5);
      await waitFor("an inconsistency", () => metrics.value("hlbook_inconsistencies_total") >= 1, 30_000);
      await node.writeBlocks(first + 6, first + 10);
      // The re-sync takes two snapshot loads: wait for it rather than race it with the blocks.
      await waitFor("the re-sync", () => observer.resets >= 2, 30_000);
      await observer.reaches(first + 10);
      assert.ok(metrics.value("hlbook_resyncs_total") >= 1);
      assert.ok(observer.resets >= 2);
    } finally {
      await ingest.stop();
      await node.close();
    }
  });

  await t.step("a validation snapshot that is itself wrong is not made the book", async () => {
    const node = new FakeNode(fixture);
    const metrics = new Metrics();
    const observer = new Observer(fixture); // checks the book after every block and every reset
    await node.createFiles();
    node.answer = (n) => n === 1 ? "lie" : "truth";
    node.serve();
    const ingest = startIngest(ingestOptions(node, metrics, { validateInterval: 500 }), observer);
    try {
      await waitFor("the snapshot", () => observer.phase === "ready");
      await node.writeBlocks(first, first + 5);
      await waitFor(
        "the lie to be noticed",
        () => metrics.value("hlbook_inconsistencies_total") >= 1,
        30_000,
      );
      await waitFor("a second opinion", () => node.requests >= 3, 30_000);
      await node.writeBlocks(first + 6, first + 10);
      await observer.reaches(first + 10);
      assert.deepEqual(observer.mismatches, []);
      assert.equal(observer.resets, 1);
      assert.equal(metrics.value("hlbook_resyncs_total"), 0);
    } finally {
      await ingest.stop();
      await node.close();
    }
  });

  await run(
    "a block that does not apply to the book re-syncs, then the book is correct",
    async (node, observer, metrics) => {
      await waitFor("the snapshot", () => observer.phase === "ready");
      await node.writeBlocks(first, END);
      await observer.reaches(END);
      assert.ok(metrics.value("hlbook_resyncs_total") >= 1);
    },
    {},
    async (node) => {
      // The first snapshot lacks an order that the first block removes: that block cannot apply.
      const [height, [[coin, [bids, asks]]]] = node.fixture.snapshot;
      const removed = node.fixture.blocks[0].diffs.find((diff) => diff.raw_book_diff === "remove");
      assert.ok(removed);
      const without = (side: typeof bids) => side.filter(([, order]) => order.oid !== removed.oid);
      assert.equal(without(bids).length + without(asks).length, bids.length + asks.length - 1);
      const wrong = [height, [[coin, [
        without(bids),
        without(asks),
      ]]]] as unknown as typeof node.fixture.snapshot;
      node.answer = (n) => n === 0 ? wrong : "truth";
      await node.createFiles();
      node.serve();
    },
  );

  await run(
    "started while the node runs, only new lines are read and the book starts at its snapshot",
    async (
      node,
      observer,
      metrics,
    ) => {
      await waitFor("the snapshot", () => observer.phase === "ready");
      assert.equal(observer.height, first + 7);
      await sleep(100);
      await node.writeBlocks(first + 8, END);
      await observer.reaches(END);
      assert.equal(metrics.value("hlbook_resyncs_total"), 0);
      assert.equal(metrics.value("hlbook_blocks_applied_total"), END - first - 7);
    },
    {},
    async (node) => {
      await node.writeBlocks(first, first + 7, { pauseMs: 0 });
      node.serve();
    },
  );

  await run("a stalled node is reported stale, then ready when it writes again", async (node, observer) => {
    await waitFor("the snapshot", () => observer.phase === "ready");
    await node.writeBlocks(first, first + 5);
    await observer.reaches(first + 5);
    await waitFor("stale", () => observer.phase === "stale");
    const stale = observer.states.length - 1;
    assert.equal(observer.states[stale].height, first + 5);
    await node.writeBlocks(first + 6, END);
    await observer.reaches(END);
    assert.ok(
      observer.states.slice(stale).some((state) => state.phase === "ready"),
      "ready again after stale",
    );
  }, { stallTimeout: 300 });

  await run(
    "an info server that is down at start is retried until it answers",
    async (node, observer, metrics) => {
      await waitFor("two failed attempts", () => metrics.value("hlbook_snapshot_failures_total") >= 2);
      assert.equal(observer.phase, "starting");
      node.serve();
      await waitFor("the snapshot", () => observer.phase === "ready");
      await node.writeBlocks(first, END);
      await observer.reaches(END);
    },
    {},
    async (node) => {
      await node.createFiles();
      node.reservePort();
    },
  );

  await run(
    "stream directories missing at start are waited for",
    async (node, observer) => {
      await waitFor("the snapshot", () => observer.phase === "ready");
      await sleep(120);
      await node.writeBlocks(first, END);
      await observer.reaches(END);
    },
    {},
    (node) => {
      node.serve();
      return Promise.resolve();
    },
  );
});
