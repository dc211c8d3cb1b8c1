import assert from "node:assert/strict";
import { pruneHourlyFiles } from "../../src/sim/mod.ts";

Deno.test("the demo keeps only the last hourly files of each stream", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hlbook-prune-" });
  try {
    const hours = [["20260504", 22], ["20260504", 23], ["20260505", 0], ["20260505", 2], ["20260505", 10]];
    for (
      const stream of ["node_order_statuses_by_block", "node_raw_book_diffs_by_block", "node_fills_streaming"]
    ) {
      for (const [date, hour] of hours) {
        await Deno.mkdir(`${dir}/${stream}/hourly/${date}`, { recursive: true });
        await Deno.writeTextFile(`${dir}/${stream}/hourly/${date}/${hour}`, "{}\n");
      }
    }
    await Deno.writeTextFile(`${dir}/node_fills_streaming/hourly/20260505/notes.txt`, "not a node file");
    await Deno.mkdir(`${dir}/other/hourly/20260504`, { recursive: true });
    await Deno.writeTextFile(`${dir}/other/hourly/20260504/1`, "not a stream");

    const removed = await pruneHourlyFiles(dir, 2);
    assert.equal(removed.length, 9);
    for (
      const stream of ["node_order_statuses_by_block", "node_raw_book_diffs_by_block", "node_fills_streaming"]
    ) {
      const left: string[] = [];
      for await (const date of Deno.readDir(`${dir}/${stream}/hourly`)) {
        for await (const file of Deno.readDir(`${dir}/${stream}/hourly/${date.name}`)) {
          left.push(`${date.name}/${file.name}`);
        }
      }
      const expected = stream === "node_fills_streaming"
        ? ["20260505/10", "20260505/2", "20260505/notes.txt"]
        : ["20260505/10", "20260505/2"];
      assert.deepEqual(left.sort(), expected, stream);
    }
    await Deno.stat(`${dir}/other/hourly/20260504/1`); // untouched
    assert.deepEqual(await pruneHourlyFiles(dir, 2), [], "nothing more to prune");
    assert.deepEqual(await pruneHourlyFiles(`${dir}/missing`, 2), [], "a data dir not yet written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the demo rejects --keep-hours below 2", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("../../demo.ts", import.meta.url).pathname, "--keep-hours", "1"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 2);
  assert.match(new TextDecoder().decode(output.stderr), /^demo: --keep-hours: invalid value "1"/);
});
