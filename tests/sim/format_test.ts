import assert from "node:assert/strict";
import { fixtureTest, readFixtureLines, readFixtureSnapshot } from "../_support/fixtures.ts";
import type { SnapshotFile } from "../../src/book/types.ts";
import { blockLines, Simulator } from "../../src/sim/mod.ts";
import { parseDiffLine, parseFillLine, parseSnapshotFile, parseStatusLine } from "../../src/node/mod.ts";
import { checkLine, type LineKind } from "./_node_schema.ts";
import { normalizeSnapshot, RefBooks } from "./_replay.ts";

const FILES: Record<LineKind, string> = {
  statuses: "node_order_statuses_by_block.jsonl.gz",
  diffs: "node_raw_book_diffs_by_block.jsonl.gz",
  fills: "node_fills_by_block.jsonl.gz",
};

Deno.test({
  ...fixtureTest(
    "the real mainnet fixture passes the strict node-line checker and replays with the reference book",
  ),
  async fn(t) {
    const lines: Record<LineKind, ReturnType<typeof checkLine>[]> = { statuses: [], diffs: [], fills: [] };
    await t.step("every by-block line of every stream passes", async () => {
      for (const kind of ["statuses", "diffs", "fills"] as const) {
        lines[kind] = (await readFixtureLines(FILES[kind])).map((text) => checkLine(kind, text));
        assert.equal(lines[kind].length, 51);
      }
    });
    await t.step("every streaming line passes (fills may be split across lines)", async () => {
      for (const kind of ["statuses", "diffs", "fills"] as const) {
        const name = FILES[kind].replace("by_block", "streaming");
        for (const text of await readFixtureLines(name)) checkLine(kind, text, false);
      }
    });
    await t.step("the reference book replays all 51 blocks on top of the snapshot", async () => {
      const books = new RefBooks(await readFixtureSnapshot() as SnapshotFile);
      for (let i = 0; i < 51; i++) {
        const s = lines.statuses[i];
        const d = lines.diffs[i];
        assert.equal(s.blockNumber, d.blockNumber);
        books.apply(s.blockNumber, Date.parse(s.blockTime.slice(0, 23) + "Z"), s.events, d.events);
      }
      assert.equal(books.height, 985148232);
    });
  },
});

Deno.test("simulated lines pass the same strict checker and replay to the simulator's own book", () => {
  const sim = new Simulator({ seed: 7, load: 0.3 });
  const books = new RefBooks(sim.snapshot());
  const seen = new Set<string>();
  let triggered = 0;
  let insertBefore = 0;
  let zeroUpdates = 0;
  let special = 0;
  for (let i = 0; i < 250; i++) {
    const block = sim.step();
    const lines = blockLines(block);
    const s = checkLine("statuses", lines.statuses);
    const d = checkLine("diffs", lines.diffs);
    const f = checkLine("fills", lines.fills);
    assert.equal(s.blockNumber, block.height);
    assert.equal(d.blockNumber, block.height);
    assert.equal(f.blockNumber, block.height);
    assert.ok(f.localTime < d.localTime && d.localTime < s.localTime, "fills, then diffs, then statuses");
    for (const e of s.events) {
      seen.add(e.status);
      if (e.status === "triggered") triggered++;
    }
    for (const e of d.events) {
      const raw = e.raw_book_diff;
      if (typeof raw === "object" && "new" in raw && raw.new.insertBefore !== undefined) insertBefore++;
      if (typeof raw === "object" && "update" in raw && raw.update.newSz === "0.0") zeroUpdates++;
      if (e.user.startsWith("0xffffffff") || e.user.startsWith("0xfefefefe")) special++;
    }
    books.apply(s.blockNumber, block.time, s.events, d.events);
    if (i % 10 === 9) {
      assert.deepEqual(
        books.toSnapshot(),
        normalizeSnapshot(sim.snapshot()),
        `book after block ${block.height}`,
      );
    }
  }
  for (
    const status of [
      "open",
      "canceled",
      "filled",
      "badAloPxRejected",
      "perpMarginRejected",
      "iocCancelRejected",
    ]
  ) {
    assert.ok(seen.has(status), `status ${status} appears`);
  }
  assert.ok(triggered > 0, "some trigger orders trigger");
  assert.ok(insertBefore > 0, "some ALO orders are queued with insertBefore");
  assert.ok(zeroUpdates > 0, "some full maker fills are written as update to 0.0");
  assert.ok(special > 0, "HIP-2 / Assistance Fund orders appear");
});

Deno.test("the simulator is deterministic for a seed", async (t) => {
  const run = (seed: number) => {
    const sim = new Simulator({ seed, load: 0.2, startTime: Date.UTC(2026, 0, 1) });
    let text = JSON.stringify(sim.snapshot());
    for (let i = 0; i < 60; i++) {
      const l = blockLines(sim.step());
      text += l.fills + l.diffs + l.statuses;
    }
    return text;
  };
  await t.step("the same seed gives byte-identical output", () => assert.equal(run(11), run(11)));
  await t.step("another seed gives other output", () => assert.notEqual(run(11), run(12)));
});

Deno.test("hlbook's own node parser accepts every simulated line and the simulator's snapshot", () => {
  const sim = new Simulator({ seed: 13, load: 0.3, coins: 12 });
  const snapshot = parseSnapshotFile(JSON.stringify(sim.snapshot()));
  assert.ok(snapshot.ok, snapshot.ok ? "" : snapshot.error);
  for (let i = 0; i < 60; i++) {
    const block = sim.step();
    const lines = blockLines(block);
    for (
      const [name, result] of [
        ["statuses", parseStatusLine(lines.statuses)],
        ["diffs", parseDiffLine(lines.diffs)],
        ["fills", parseFillLine(lines.fills)],
      ] as const
    ) {
      assert.ok(result.ok, result.ok ? "" : `${name} ${block.height}: ${result.error}`);
      assert.equal(result.batch.blockNumber, block.height);
      assert.equal(result.batch.blockTime, block.time);
    }
  }
});
