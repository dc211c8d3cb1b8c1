/**
 * Node-side faults injected into a running hlbook (the real main.ts) fed by a simulated node whose files the
 * test writes: for each fault the server stays up, logs one clear line, counts it in /metrics, re-syncs, and
 * afterwards every book equals the simulator's.
 */
import assert from "node:assert/strict";
import { assertBooksEqual, FakeInfo, FaultyNode, waitCaughtUp, waitLive } from "./_harness.ts";
import { Hlbook } from "../_support/hlbook.ts";
import { tempDirs } from "../_support/temp.ts";
import { sleep, waitFor } from "../_support/wait.ts";

/** The one warning a block-order fault should produce (the re-sync line that follows names it again). */
const FAULT_LINE = /stream out of order|ingest: block gap:/;
const INVALID_UTF8 = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d, 0x0a]);

Deno.test("hlbook survives node file faults and re-syncs to the simulator's books after each", async (t) => {
  const dirs = await tempDirs();
  const node = new FaultyNode(dirs.data, { seed: 91 });
  const info = new FakeInfo(node);
  let hlbook: Hlbook | null = null;
  try {
    // The data dir does not exist when hlbook starts.
    hlbook = await Hlbook.start({
      dataDir: dirs.data,
      infoUrl: info.url,
      snapshotPath: dirs.snapshot,
      stallTimeout: 1,
      validateInterval: 0,
    });
    const server = hlbook;
    const metric = (name: string) => server.metric(name);
    /** Runs a fault: returns the log lines it produced and the metric deltas. */
    const fault = async (inject: () => Promise<void> | void, names: string[]) => {
      await waitCaughtUp(server, node);
      const from = server.lines.length;
      const before = new Map<string, number>();
      for (const name of names) before.set(name, await metric(name));
      await inject();
      await node.advance(5);
      // Block times are checked by the re-sync-at-the-head test below; here the books themselves.
      await assertBooksEqual(server, node, { checkTime: false });
      const delta = new Map<string, number>();
      for (const name of names) delta.set(name, (await metric(name)) - (before.get(name) ?? 0));
      const health = await server.health();
      assert.ok(
        server.alive && health.ready,
        `hlbook is up and ready after the fault: ${JSON.stringify(health)}`,
      );
      return { lines: server.lines.slice(from), delta };
    };
    const warnings = (lines: string[], pattern: RegExp) => lines.filter((line) => pattern.test(line));

    await t.step("a data dir missing at start: the book goes live once the node writes", async () => {
      await waitLive(server, node);
      assert.equal((await server.health()).phase, "ready");
      await node.advance(10);
      assert.ok((await assertBooksEqual(server, node)) > 0);
    });

    await t.step(
      "malformed, truncated and invalid-UTF-8 lines: one warning, counted, re-synced",
      async () => {
        const { lines, delta } = await fault(() => {
          const block = node.step();
          const good = JSON.stringify({ block_number: block.height });
          node.raw("statuses", "this is not json\n");
          node.raw("statuses", good.slice(0, Math.floor(good.length / 2)) + "\n");
          node.raw("statuses", INVALID_UTF8);
          node.write(block);
        }, ["hlbook_malformed_lines_total", "hlbook_resyncs_total"]);
        assert.equal(delta.get("hlbook_malformed_lines_total"), 3);
        assert.ok((delta.get("hlbook_resyncs_total") ?? 0) >= 1);
        assert.equal(warnings(lines, /malformed line at/).length, 1, lines.join("\n"));
      },
    );

    await t.step("a duplicated block: counted as a gap, re-synced", async () => {
      const { lines, delta } = await fault(async () => {
        const block = node.step();
        node.write(block);
        await sleep(150);
        node.write(block);
      }, ["hlbook_gaps_total", "hlbook_resyncs_total"]);
      assert.ok((delta.get("hlbook_gaps_total") ?? 0) >= 1, "gap counted");
      assert.ok((delta.get("hlbook_resyncs_total") ?? 0) >= 1, "re-synced");
      assert.equal(warnings(lines, FAULT_LINE).length, 1, lines.join("\n"));
      assert.ok(warnings(lines, /re-syncing/).length <= 2, lines.join("\n"));
    });

    await t.step("out-of-order blocks: counted, re-synced", async () => {
      const { lines, delta } = await fault(() => {
        const a = node.step();
        const b = node.step();
        node.write(b);
        node.write(a);
      }, ["hlbook_gaps_total", "hlbook_resyncs_total"]);
      assert.ok((delta.get("hlbook_gaps_total") ?? 0) >= 1);
      assert.ok((delta.get("hlbook_resyncs_total") ?? 0) >= 1);
      assert.equal(warnings(lines, FAULT_LINE).length, 1, lines.join("\n"));
    });

    await t.step("a missing block: counted as a gap, re-synced", async () => {
      const { lines, delta } = await fault(() => {
        node.step(); // produced by the chain, never written
      }, ["hlbook_gaps_total", "hlbook_resyncs_total"]);
      assert.ok((delta.get("hlbook_gaps_total") ?? 0) >= 1);
      assert.ok((delta.get("hlbook_resyncs_total") ?? 0) >= 1);
      assert.equal(warnings(lines, FAULT_LINE).length, 1, lines.join("\n"));
    });

    await t.step("a rotation in the middle of a block is no fault at all", async () => {
      const { lines, delta } = await fault(async () => {
        // block N: fills and diffs in hour H+1, statuses still in hour H; block N+1: statuses in H+1 too.
        node.write(node.step(), { rotateBefore: ["fills", "diffs"] });
        await sleep(150);
        node.write(node.step(), { rotateBefore: ["statuses"] });
      }, ["hlbook_gaps_total", "hlbook_resyncs_total", "hlbook_malformed_lines_total"]);
      for (const [name, value] of delta) assert.equal(value, 0, `${name} moved: ${lines.join("\n")}`);
      assert.equal(warnings(lines, /^(WARN|ERROR|FATAL) /).length, 0, lines.join("\n"));
    });

    await t.step("the current file deleted and recreated: one warning, re-synced", async () => {
      const { lines, delta } = await fault(async () => {
        await Deno.remove(node.path("statuses"));
        await sleep(300);
        await node.advance(3);
      }, ["hlbook_resyncs_total"]);
      assert.ok((delta.get("hlbook_resyncs_total") ?? 0) >= 1);
      assert.ok(warnings(lines, /deleted|recreated|replaced/).length >= 1, lines.join("\n"));
      assert.ok(warnings(lines, /re-syncing/).length <= 2, lines.join("\n"));
    });

    await t.step("a stall longer than the stall timeout: stale once, then live again", async () => {
      const { lines, delta } = await fault(async () => {
        await waitFor("hlbook to report stale", async () => (await server.health()).stale, 5000);
        assert.equal(await metric("hlbook_stale"), 1);
        const response = await fetch(`${server.base}/health`);
        assert.equal(response.status, 503, "/health is 503 while stale");
        assert.match((await response.json()).reason, /^node wrote nothing for \d+ s$/);
        await sleep(800);
      }, ["hlbook_resyncs_total"]);
      assert.equal(await metric("hlbook_stale"), 0);
      assert.equal(warnings(lines, /wrote nothing/).length, 1, lines.join("\n"));
      assert.equal(warnings(lines, /resumed/).length, 1, lines.join("\n"));
      assert.equal(delta.get("hlbook_resyncs_total"), 0, "a stall alone needs no re-sync");
    });

    await t.step("the process stayed up throughout and answers /health", async () => {
      assert.ok(server.alive);
      assert.equal((await server.health()).ready, true);
    });
  } finally {
    await hlbook?.close();
    await info.close();
    await dirs.remove();
  }
});

Deno.test({
  name: "a re-sync at the chain's head serves the block's time, not 0",
  fn: async () => {
    const dirs = await tempDirs();
    const node = new FaultyNode(dirs.data, { seed: 92 });
    node.createDirs();
    const info = new FakeInfo(node);
    let hlbook: Hlbook | null = null;
    try {
      hlbook = await Hlbook.start({ dataDir: dirs.data, infoUrl: info.url, snapshotPath: dirs.snapshot });
      const server = hlbook;
      await waitLive(server, node);
      await node.advance(5);
      await assertBooksEqual(server, node);
      for (let i = 0; i < 5; i++) node.step(); // blocks the node never writes
      node.write(node.step()); // the gap: re-sync from a snapshot at the head, no block after it
      await waitFor("the re-sync", async () => (await server.metric("hlbook_resyncs_total")) >= 1);
      await assertBooksEqual(server, node); // checks the l4Book snapshot's time too
      const health = await server.health();
      assert.equal(
        (health as unknown as { blockTime: number }).blockTime,
        node.sim.time,
        "/health blockTime",
      );
    } finally {
      await hlbook?.close();
      await info.close();
      await dirs.remove();
    }
  },
});
