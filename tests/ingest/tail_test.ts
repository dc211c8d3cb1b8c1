import assert from "node:assert/strict";
import { tail, type TailFault, type TailLine, type TailOptions } from "../../src/ingest/tail.ts";
import { decodeLine } from "../../src/node/mod.ts";
import { append } from "./_helpers.ts";
import { sleep, waitFor } from "../_support/wait.ts";
import { tempDir } from "../_support/temp.ts";

function follow(dir: string, options: Partial<TailOptions> = {}) {
  const lines: TailLine[] = [];
  const faults: TailFault[] = [];
  const tailer = tail(dir, {
    pollInterval: 50,
    ...options,
    onLines: (batch) => lines.push(...batch),
    onFault: (fault) => faults.push(fault),
  });
  const texts = () => lines.map((line) => decodeLine(line.bytes));
  // `await using` stops the tailer when the step ends, however it ends.
  return { lines, faults, texts, [Symbol.asyncDispose]: () => tailer.stop() };
}

Deno.test("the tailer follows a stream's hourly files", async (t) => {
  await t.step("it starts at the end of the newest file and reads only appended lines", async () => {
    using dir = tempDir();
    await append(`${dir.path}/hourly/20260505/16`, "older\n");
    await append(`${dir.path}/hourly/20260505/17`, "old1\nold2\npart");
    await using tailed = follow(dir.path);
    const { texts, lines } = tailed;
    await sleep(100);
    await append(`${dir.path}/hourly/20260505/17`, "ial\nnew\n");
    await waitFor("two lines", () => lines.length >= 2);
    assert.deepEqual(texts(), ["partial", "new"]);
    assert.equal(lines[0].offset, 10);
    assert.equal(lines[1].offset, 18);
    assert.equal(lines[0].file, `${dir.path}/hourly/20260505/17`);
  });

  await t.step("lines split across several writes are joined", async () => {
    using dir = tempDir();
    const file = `${dir.path}/hourly/20260505/17`;
    await append(file, "");
    await using tailed = follow(dir.path);
    const { texts, lines } = tailed;
    await sleep(60);
    await append(file, '{"a":');
    await sleep(80);
    assert.equal(lines.length, 0);
    await append(file, '1}\n{"b"');
    await sleep(80);
    await append(file, ":2}\nthird\n");
    await waitFor("three lines", () => lines.length >= 3);
    assert.deepEqual(texts(), ['{"a":1}', '{"b":2}', "third"]);
    assert.deepEqual(lines.map((line) => line.offset), [0, 8, 16]);
  });

  await t.step("rotation finishes the old file, then follows the next hour and the next date", async () => {
    using dir = tempDir();
    await append(`${dir.path}/hourly/20260505/22`, "");
    await using tailed = follow(dir.path);
    const { texts, lines } = tailed;
    await sleep(60);
    await append(`${dir.path}/hourly/20260505/22`, "a\n");
    await waitFor("a", () => lines.length >= 1);
    // The old file gets its last line at about the moment the new one appears.
    await append(`${dir.path}/hourly/20260505/22`, "b\n");
    await append(`${dir.path}/hourly/20260505/23`, "c\n");
    await waitFor("c", () => lines.length >= 3);
    await append(`${dir.path}/hourly/20260505/23`, "d\n");
    await append(`${dir.path}/hourly/20260506/0`, "e\n");
    await waitFor("e", () => lines.length >= 5);
    await append(`${dir.path}/hourly/20260506/0`, "f\n");
    await waitFor("f", () => lines.length >= 6);
    assert.deepEqual(texts(), ["a", "b", "c", "d", "e", "f"]);
    assert.equal(lines[5].file, `${dir.path}/hourly/20260506/0`);
  });

  await t.step("directories that do not exist yet are waited for and read from their start", async () => {
    using dir = tempDir();
    const stream = `${dir.path}/hl/data/node_fills_by_block`;
    await using tailed = follow(stream);
    const { texts, lines } = tailed;
    await sleep(120);
    await append(`${stream}/hourly/20260505/17`, "first\nsecond\n");
    await waitFor("two lines", () => lines.length >= 2);
    assert.deepEqual(texts(), ["first", "second"]);
  });

  await t.step("a deleted and recreated file is reported and read from its start", async () => {
    using dir = tempDir();
    const file = `${dir.path}/hourly/20260505/17`;
    await append(file, "");
    await using tailed = follow(dir.path);
    const { texts, lines, faults } = tailed;
    await sleep(60);
    await append(file, "one\n");
    await waitFor("one", () => lines.length >= 1);
    await Deno.remove(file);
    await waitFor("the deletion", () => faults.some((fault) => fault.kind === "deleted"));
    await append(file, "two\n");
    await waitFor("two", () => lines.length >= 2);
    assert.deepEqual(texts(), ["one", "two"]);
    assert.ok(faults.some((fault) => fault.kind === "replaced"));
  });

  await t.step("a truncated file is reported and read again from its start", async () => {
    using dir = tempDir();
    const file = `${dir.path}/hourly/20260505/17`;
    await append(file, "");
    await using tailed = follow(dir.path);
    const { texts, lines, faults } = tailed;
    await sleep(60);
    await append(file, "a long first line\n");
    await waitFor("first", () => lines.length >= 1);
    await Deno.truncate(file, 0);
    await waitFor("the truncation", () => faults.some((fault) => fault.kind === "truncated"));
    await append(file, "x\n");
    await waitFor("x", () => lines.length >= 2);
    assert.deepEqual(texts(), ["a long first line", "x"]);
    assert.equal(faults[0].offset, 18);
  });

  await t.step("fromStart reads every existing file from its beginning, in order", async () => {
    using dir = tempDir();
    await append(`${dir.path}/hourly/20260505/9`, "h9\n");
    await append(`${dir.path}/hourly/20260505/10`, "h10\n");
    await append(`${dir.path}/hourly/20260504/23`, "yesterday\n");
    await using tailed = follow(dir.path, { fromStart: true });
    const { texts, lines } = tailed;
    await waitFor("three lines", () => lines.length >= 3);
    assert.deepEqual(texts(), ["yesterday", "h9", "h10"]);
  });

  await t.step("a line that is not valid UTF-8 comes out as its bytes, undecoded", async () => {
    using dir = tempDir();
    const file = `${dir.path}/hourly/20260505/17`;
    await append(file, new Uint8Array([0x7b, 0xff, 0x7d, 0x0a, 0x6f, 0x6b, 0x0a]));
    await using tailed = follow(dir.path, { fromStart: true });
    const { texts, lines } = tailed;
    await waitFor("two lines", () => lines.length >= 2);
    assert.deepEqual(texts(), [null, "ok"]);
    assert.deepEqual([...lines[0].bytes], [0x7b, 0xff, 0x7d]);
  });

  await t.step("a burst of small writes loses and duplicates no line", async () => {
    using dir = tempDir();
    const file = `${dir.path}/hourly/20260505/17`;
    await append(file, "");
    await using tailed = follow(dir.path, { pollInterval: 20 });
    const { texts, lines } = tailed;
    // Many small writes in a burst: coalesced watch events must lose or duplicate nothing.
    await sleep(60);
    for (let i = 0; i < 200; i++) await append(file, `${i}\n`);
    await waitFor("200 lines", () => lines.length >= 200);
    await sleep(60);
    assert.deepEqual(texts(), Array.from({ length: 200 }, (_, i) => String(i)));
  });

  await t.step("the poll alone finds every appended line when there are no watch events", async () => {
    using dir = tempDir();
    const file = `${dir.path}/hourly/20260505/17`;
    await append(file, "");
    await using tailed = follow(dir.path, { pollInterval: 20, watch: false });
    const { texts, lines } = tailed;
    await sleep(60);
    await append(file, "a\nb");
    await sleep(30);
    await append(file, "\n");
    await append(`${dir.path}/hourly/20260505/18`, "c\n");
    await waitFor("three lines", () => lines.length >= 3);
    assert.deepEqual(texts(), ["a", "b", "c"]);
  });
});
