/**
 * Info-server faults injected into a running hlbook (the real main.ts): snapshot requests that fail, hang, or
 * answer garbage, and snapshots that disagree with the book. The server stays up, logs one clear line, counts
 * the fault in /metrics, re-syncs, ends with the simulator's books, and never sends a book known to be wrong.
 */
import assert from "node:assert/strict";
import { assertBooksEqual, FakeInfo, FaultyNode, waitCaughtUp, writeDriftingBlock } from "./_harness.ts";
import { Hlbook, type HlbookOptions } from "../_support/hlbook.ts";
import { tempDirs } from "../_support/temp.ts";
import { sleep, waitFor } from "../_support/wait.ts";
import { WsClient } from "../_support/ws_client.ts";

/** Starts a node, its info server and hlbook; runs `body`; cleans everything up. */
async function withServer(
  options: { seed: number; validateInterval: number; watch?: string[]; before?: (info: FakeInfo) => void },
  body: (hlbook: Hlbook, node: FaultyNode, info: FakeInfo) => Promise<void>,
): Promise<void> {
  const dirs = await tempDirs();
  const node = new FaultyNode(dirs.data, { seed: options.seed, watch: options.watch });
  node.createDirs();
  const info = new FakeInfo(node);
  options.before?.(info);
  let hlbook: Hlbook | null = null;
  try {
    const start: HlbookOptions = {
      dataDir: dirs.data,
      infoUrl: info.url,
      snapshotPath: dirs.snapshot,
      stallTimeout: 2,
      validateInterval: options.validateInterval,
    };
    hlbook = await Hlbook.start(start);
    await body(hlbook, node, info);
    assert.ok(hlbook.alive, "hlbook is still running");
  } finally {
    await hlbook?.close();
    await info.close();
    await dirs.remove();
  }
}

/** Writes blocks until `done()` (at most `max` blocks), like a live node. */
async function writeUntil(
  node: FaultyNode,
  done: () => boolean | Promise<boolean>,
  max = 400,
): Promise<void> {
  for (let i = 0; i < max && !(await done()); i++) await node.advance(1, 20);
}

Deno.test("snapshot requests that fail, hang or answer garbage are retried until a good one", async (t) => {
  await withServer(
    { seed: 7, validateInterval: 0, before: (info) => info.next("fail", "garbage") },
    async (hlbook, node, info) => {
      const failures = () => hlbook.metric("hlbook_snapshot_failures_total");

      await t.step("at bootstrap: a 500 then a garbage file, then the book goes live", async () => {
        await writeUntil(node, async () => (await hlbook.health()).ready);
        await node.advance(3);
        assert.ok((await assertBooksEqual(hlbook, node)) > 0);
        assert.deepEqual(info.requests.slice(0, 3), ["fail", "garbage", "ok"]);
        assert.ok((await failures()) >= 2, "both failures counted");
        assert.equal(hlbook.matching(/snapshot failed, retrying/).length, 1, hlbook.lines.join("\n"));
        assert.equal(hlbook.matching(/snapshot received after 2 failed attempts/).length, 1);
      });

      await t.step("during a re-sync: valid JSON of the wrong shape, then a missing file", async () => {
        const from = hlbook.lines.length;
        const before = await failures();
        info.next("wrong-shape", "no-file");
        node.step(); // a block the node never writes: a gap, so a re-sync
        await writeUntil(node, async () => info.pending === 0 && (await hlbook.health()).ready);
        await node.advance(3);
        await assertBooksEqual(hlbook, node);
        assert.ok((await failures()) - before >= 2, "both failures counted");
        assert.equal(hlbook.matching(/snapshot failed, retrying/, from).length, 1, hlbook.lines.join("\n"));
      });

      await t.step("during a re-sync: a request that hangs, then fails", async () => {
        const from = hlbook.lines.length;
        const before = await failures();
        info.hangMs = 1500;
        info.next("hang");
        node.step();
        await writeUntil(node, async () => info.pending === 0 && (await hlbook.health()).ready);
        await node.advance(3);
        await assertBooksEqual(hlbook, node);
        assert.ok((await failures()) - before >= 1);
        assert.equal(hlbook.matching(/snapshot failed, retrying/, from).length, 1, hlbook.lines.join("\n"));
      });
    },
  );
});

Deno.test("a book that drifted from the node is caught by the validation snapshot and re-synced", async () => {
  await withServer({ seed: 8, validateInterval: 0.3 }, async (hlbook, node) => {
    await writeUntil(node, async () => (await hlbook.health()).ready);
    await node.advance(5);
    await assertBooksEqual(hlbook, node);
    const from = hlbook.lines.length;
    const before = await hlbook.metric("hlbook_inconsistencies_total");
    const resyncs = await hlbook.metric("hlbook_resyncs_total");
    // A block whose first `new` diff rests a different size than the node's: it applies, but the book drifts.
    writeDriftingBlock(node, (sz) => (sz === "1.0" ? "2.0" : "1.0"));
    await waitFor(
      "the drift to be detected",
      async () => (await hlbook.metric("hlbook_resyncs_total")) > resyncs,
      30_000,
    ).catch((error) => {
      throw new Error(`${error.message}\n${hlbook.lines.slice(from).join("\n")}`);
    });
    await node.advance(3);
    await assertBooksEqual(hlbook, node);
    const inconsistencies = (await hlbook.metric("hlbook_inconsistencies_total")) - before;
    const lines = hlbook.lines.slice(from);
    // No block was written between the drift and the re-sync, so only validation could have seen it.
    assert.ok(inconsistencies >= 1, lines.join("\n"));
    assert.equal(lines.filter((line) => /does not apply/.test(line)).length, 0, lines.join("\n"));
    const warnings = lines.filter((line) => /^WARN .*differs from the node's snapshot/.test(line));
    assert.ok(warnings.length >= 1 && warnings.length <= 2, lines.join("\n"));
  });
});

Deno.test({
  name: "a snapshot that disagrees with the book is never sent to clients as the book",
  fn: async () => {
    const coin = new FaultyNode("/nonexistent", { seed: 9 }).coins()[0];
    await withServer({ seed: 9, validateInterval: 0.3, watch: [coin] }, async (hlbook, node, info) => {
      await writeUntil(node, async () => (await hlbook.health()).ready);
      await node.advance(3);
      await assertBooksEqual(hlbook, node);
      const subscriber = await WsClient.open(hlbook.wsUrl);
      try {
        subscriber.send({ method: "subscribe", subscription: { type: "l2Book", coin } });
        await subscriber.nextMatching((m) => m.channel === "l2Book");
        const before = await hlbook.metric("hlbook_inconsistencies_total");
        info.next("lie");
        await waitCaughtUp(hlbook, node);
        await waitFor("the lying snapshot to be served", () => info.pending === 0, 5000);
        await waitFor(
          "the disagreement to be counted",
          async () => (await hlbook.metric("hlbook_inconsistencies_total")) > before,
          5000,
        );
        await sleep(500);
        await node.advance(10, 30);
        await waitFor(
          "the books to equal the simulator's again",
          async () => {
            await assertBooksEqual(hlbook, node);
            return true;
          },
          10_000,
          200,
        );
        // Everything the subscriber got must equal the simulator's book at that block's time.
        const books = subscriber.messages.filter((m) => m.channel === "l2Book");
        assert.ok(books.length > 1);
        for (const message of books) {
          const data = message.data as { coin: string; time: number; levels: unknown };
          const truth = node.l2ByTime.get(`${data.coin}@${data.time}`);
          assert.ok(truth !== undefined, `no truth for ${data.coin} at ${data.time}`);
          assert.deepEqual(
            data.levels,
            JSON.parse(truth),
            `l2Book sent at ${data.time} differs from the simulator's (lie: ${JSON.stringify(info.lastLie)})`,
          );
        }
      } finally {
        subscriber.close();
      }
    });
  },
});
