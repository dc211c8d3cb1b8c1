import assert from "node:assert/strict";
import { compareBooks } from "../../src/book/mod.ts";
import { replay } from "../../src/ingest/mod.ts";
import { ReadBuffers, streamLines } from "../../src/ingest/replay.ts";
import { FIXTURE_DIR, fixtureTest } from "../_support/fixtures.ts";
import { FakeNode, loadFixture, Reference } from "./_fake_node.ts";

/** `deno task replay --data-dir DIR --snapshot FILE` (default: the fixture's) as a subprocess. */
function replayCli(
  dataDir: string,
  snapshot = `${FIXTURE_DIR}snapshot.json.gz`,
): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      new URL("../../src/ingest/replay_cli.ts", import.meta.url).pathname,
      "--data-dir",
      dataDir,
      "--snapshot",
      snapshot,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test(fixtureTest("replay pushes recorded files through parse, align and apply"), async (t) => {
  const fixture = await loadFixture();
  const last = fixture.first + fixture.blocks.length - 1;

  await t.step("by-block files replay to the offline reference", async () => {
    const node = new FakeNode(fixture);
    try {
      await node.writeBlocks(fixture.first, fixture.first + 20, { pauseMs: 0 });
      node.hour++;
      await node.writeBlocks(fixture.first + 21, last, { pauseMs: 0 });
      const heights: number[] = [];
      const result = await replay({
        dataDir: node.dataDir,
        snapshot: fixture.snapshot,
        onBlock: (books) => heights.push(books.height),
      });
      assert.equal(result.blocks, 51);
      assert.equal(result.trades, 11);
      assert.equal(result.events, 41_592 + 1_332);
      assert.equal(heights[0], fixture.first);
      assert.equal(compareBooks(new Reference(fixture).at(last), result.books), null);
      // Without onBlock the status lines' buffers are read into again (~4 lines of ~250 KB a buffer here).
      for (const bufferSize of [1 << 20, 300_000]) {
        const reused = await replay({ dataDir: node.dataDir, snapshot: fixture.snapshot, bufferSize });
        assert.equal([reused.blocks, reused.events, reused.trades].join(), [51, 41_592 + 1_332, 11].join());
        assert.equal(compareBooks(new Reference(fixture).at(last), reused.books), null);
      }
    } finally {
      await node.close();
    }
  });

  await t.step("streaming files replay to the same book, last block included", async () => {
    const node = new FakeNode(fixture, "streaming");
    try {
      await node.writeStreaming(fixture.first, last);
      const result = await replay({ dataDir: node.dataDir, snapshot: fixture.snapshot, mode: "streaming" });
      assert.equal(result.books.height, last);
      assert.equal(result.blocks, 51);
      assert.equal(result.trades, 11);
      assert.equal(compareBooks(new Reference(fixture).at(last), result.books), null);
    } finally {
      await node.close();
    }
  });

  await t.step(
    "the fixture's .jsonl.gz recordings replay in both modes to the same last block and book",
    async () => {
      const byBlock = await replay({ dataDir: FIXTURE_DIR, snapshot: fixture.snapshot, mode: "by-block" });
      const streaming = await replay({ dataDir: FIXTURE_DIR, snapshot: fixture.snapshot, mode: "streaming" });
      assert.equal(byBlock.books.height, 985148232);
      assert.equal(streaming.books.height, 985148232);
      assert.equal(streaming.books.orderCount(), byBlock.books.orderCount());
      assert.equal([streaming.blocks, streaming.events, streaming.trades].join(), [51, 42_924, 11].join());
      assert.equal([byBlock.blocks, byBlock.events, byBlock.trades].join(), [51, 42_924, 11].join());
      assert.equal(compareBooks(byBlock.books, streaming.books), null);
      assert.equal(compareBooks(new Reference(fixture).at(last), streaming.books), null);
    },
  );

  await t.step("plain .jsonl recordings are read too", async () => {
    const dir = await Deno.makeTempDir({ prefix: "hlbook-replay-" });
    // The fixture's first 10 blocks: the .gz step above replays all 51 already.
    const blocks = 10;
    try {
      for (const stream of ["order_statuses", "raw_book_diffs", "fills"]) {
        const name = `node_${stream}_by_block.jsonl`;
        const file = await Deno.open(`${FIXTURE_DIR}${name}.gz`);
        const text = await new Response(file.readable.pipeThrough(new DecompressionStream("gzip"))).text();
        await Deno.writeTextFile(`${dir}/${name}`, text.split("\n").slice(0, blocks).join("\n") + "\n");
      }
      const result = await replay({ dataDir: dir, snapshot: fixture.snapshot });
      assert.equal(result.blocks, blocks);
      assert.equal(result.books.height, fixture.first + blocks - 1);
      assert.equal(compareBooks(new Reference(fixture).at(fixture.first + blocks - 1), result.books), null);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("the CLI prints blocks/s and events/s", async () => {
    const node = new FakeNode(fixture);
    try {
      await node.writeBlocks(fixture.first, last, { pauseMs: 0 });
      const output = await replayCli(node.dataDir);
      const stdout = new TextDecoder().decode(output.stdout);
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      assert.match(
        stdout,
        /^51 blocks, 42924 events, 11 trades in [\d.]+ s: \d+ blocks\/s, \d+ events\/s; height 985148232/,
      );
    } finally {
      await node.close();
    }
  });

  await t.step("a directory without node files is an error naming what was expected", async () => {
    const dir = await Deno.makeTempDir({ prefix: "hlbook-replay-" });
    try {
      await assert.rejects(
        replay({ dataDir: dir, snapshot: fixture.snapshot }),
        (error: Error) => {
          assert.equal(error.name, "ReplayError");
          assert.match(error.message, new RegExp(`^${dir} holds no node_order_statuses_by_block or `));
          assert.match(error.message, /node_order_statuses_by_block\/hourly\/YYYYMMDD\/H/);
          assert.match(error.message, /node_order_statuses_by_block\.jsonl\[\.gz\]/);
          return true;
        },
      );
      await assert.rejects(
        replay({ dataDir: `${dir}/nope`, snapshot: fixture.snapshot, mode: "streaming" }),
        /holds no node_order_statuses_streaming or node_raw_book_diffs_streaming files for --ingest streaming/,
      );
      // The CLI loads the snapshot before it looks at the data dir: a one-order one, not the fixture's 51,351.
      const [height, [[coin, [bids]]]] = fixture.snapshot;
      await Deno.writeTextFile(
        `${dir}.snapshot.json`,
        JSON.stringify([height, [[coin, [bids.slice(0, 1), []]]]]),
      );
      const output = await replayCli(dir, `${dir}.snapshot.json`);
      assert.equal(output.code, 1);
      assert.match(
        new TextDecoder().decode(output.stderr),
        /^replay: .* holds no node_order_statuses_by_block/,
      );
      assert.equal(new TextDecoder().decode(output.stdout), "");
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(`${dir}.snapshot.json`).catch(() => {});
    }
  });

  await t.step("the CLI explains missing flags", async () => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", new URL("../../src/ingest/replay_cli.ts", import.meta.url).pathname],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 2);
    assert.match(new TextDecoder().decode(output.stderr), /--data-dir and --snapshot are required/);
  });
});

Deno.test("the replay reader gives every line whole, whatever the buffer size", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "hlbook-lines-" });
  try {
    // Lines shorter and longer than a buffer, empty lines, CRs kept as bytes, and a last line without its
    // newline.
    const lines = ["a", "", "bc".repeat(40), "d\r", "", "\r", "e".repeat(7), "f".repeat(300), "g", "tail"];
    const files = [`${dir}/one`, `${dir}/two`];
    await Deno.writeTextFile(files[0], lines.join("\n"));
    await Deno.writeTextFile(files[1], lines.slice(2).join("\n") + "\n");
    const decoder = new TextDecoder();
    const want = [
      ...lines.map((text, i) => ({ file: files[0], line: i + 1, text })),
      ...lines.slice(2).map((text, i) => ({ file: files[1], line: i + 1, text })),
    ].filter((line) => line.text !== "");
    for (const size of [1, 2, 3, 7, 8, 64, 1 << 20]) {
      for (const reuse of [false, true]) {
        await t.step(`buffers of ${size} bytes${reuse ? ", reused" : ""}`, async () => {
          const got = [];
          for await (const { file, line, bytes } of streamLines(files, new ReadBuffers(size, reuse))) {
            got.push({ file, line, text: decoder.decode(bytes) });
          }
          assert.deepEqual(got, want);
        });
      }
    }
    await t.step("a line ends at every position of a buffer, and every kept line stays intact", async () => {
      // Lines of 0-40 bytes in every order a seeded generator gives, through buffers of 1-50 bytes: each
      // line end falls at every offset of a buffer, and lines carried to the next buffer come in every length.
      let seed = 7;
      const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
      const texts = Array.from(
        { length: 400 },
        (_, i) => String.fromCharCode(97 + i % 26).repeat(random(41)),
      );
      const file = `${dir}/many`;
      await Deno.writeTextFile(file, texts.join("\n") + (random(2) ? "\n" : ""));
      const expected = texts.map((text, i) => ({ line: i + 1, text })).filter((line) => line.text !== "");
      for (let size = 1; size <= 50; size++) {
        const buffers = new ReadBuffers(size, true);
        const kept: { line: number; bytes: Uint8Array }[] = [];
        const got = [];
        for await (const { line, bytes } of streamLines([file], buffers)) {
          got.push({ line, text: decoder.decode(bytes) });
          // Every third line is held past the next one, as the aligner holds a batch; the rest are not.
          if (line % 3 === 0) {
            buffers.keep(bytes);
            kept.push({ line, bytes });
          }
        }
        assert.deepEqual(got, expected, `buffers of ${size} bytes`);
        const byLine = new Map(expected.map(({ line, text }) => [line, text]));
        for (const { line, bytes } of kept) {
          assert.equal(decoder.decode(bytes), byLine.get(line), `line ${line}`);
        }
      }
    });
    await t.step("a reader stopped early leaves no read under way and no file open", async () => {
      // The test sanitizers fail the step on a pending read or an open file.
      for (const file of [files[0], `${FIXTURE_DIR}node_order_statuses_by_block.jsonl.gz`]) {
        for await (const { bytes } of streamLines([file], new ReadBuffers(5))) {
          assert.ok(bytes.length > 0);
          break;
        }
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
