import assert from "node:assert/strict";
import { missingNodeFiles, nodeFilesHelp } from "../../src/ingest/node_files.ts";

Deno.test("a data dir without the node's folders is named with what is expected", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "hlbook-node-files-" });
  try {
    await t.step("missing, empty, or a file: each said in its own words", async () => {
      assert.equal(
        await missingNodeFiles(`${dir}/nope`, "by-block"),
        `--data-dir ${dir}/nope does not exist`,
      );
      assert.equal(
        await missingNodeFiles(dir, "by-block"),
        `--data-dir ${dir} holds no node_order_statuses_by_block or node_raw_book_diffs_by_block folder`,
      );
      await Deno.writeTextFile(`${dir}/file`, "");
      assert.equal(
        await missingNodeFiles(`${dir}/file`, "by-block"),
        `--data-dir ${dir}/file is not a directory`,
      );
    });
    await t.step("the other mode's folders: the --ingest to use", async () => {
      await Deno.mkdir(`${dir}/node_order_statuses_streaming`);
      await Deno.mkdir(`${dir}/node_raw_book_diffs_streaming`);
      assert.match(
        await missingNodeFiles(dir, "by-block") ?? "",
        /holds no .*; it holds node_\*_streaming folders: run hlbook with --ingest streaming$/,
      );
      assert.equal(await missingNodeFiles(dir, "streaming"), null);
    });
    await t.step("the help names the folders and the node flags of the mode", () => {
      const byBlock = nodeFilesHelp("--data-dir /x does not exist", "by-block");
      assert.match(byBlock, /^--data-dir \/x does not exist\. hlbook reads node_order_statuses_by_block\//);
      assert.match(byBlock, /--write-order-statuses --write-raw-book-diffs --write-fills --batch-by-block/);
      const streaming = nodeFilesHelp("x", "streaming");
      assert.match(streaming, /node_raw_book_diffs_streaming\//);
      assert.doesNotMatch(streaming, /--batch-by-block/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
